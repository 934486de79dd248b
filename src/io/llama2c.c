/* llama2.c checkpoints (legacy version 0: seven int32 config words, then f32
 * weights in a fixed order) and tokenizer files; vocabularies, also from GGUF. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

hwa_status hwa_llama2c_config_check(const hwa_llama2c_config *c, const char *label, uint64_t *file_bytes) {
    if (!c) return hwa__err(NULL, HWA_E_MISUSE, "llama2c: NULL config");
    if (!label) label = "<config>";
    const struct { const char *name; int32_t v; } f[] = {
        {"dim", c->dim}, {"hidden_dim", c->hidden_dim}, {"n_layers", c->n_layers}, {"n_heads", c->n_heads},
        {"n_kv_heads", c->n_kv_heads}, {"vocab_size", c->vocab_size}, {"seq_len", c->seq_len},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0) return hwa__err(NULL, HWA_E_FORMAT, "%s: config %s: %d is not positive", label, f[i].name, f[i].v);
    if (c->dim % c->n_heads)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: config n_heads: %d does not divide dim %d", label, c->n_heads, c->dim);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: config n_kv_heads: %d does not divide n_heads %d", label, c->n_kv_heads,
                        c->n_heads);
    uint64_t hs = (uint64_t)(c->dim / c->n_heads);
    if (hs % 2) return hwa__err(NULL, HWA_E_FORMAT, "%s: config: head size %" PRIu64 " is odd (RoPE needs pairs)", label, hs);
    uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, L = (uint64_t)c->n_layers,
             V = (uint64_t)c->vocab_size, S = (uint64_t)c->seq_len, kv = hs * (uint64_t)c->n_kv_heads;
    /* Products of three int32 fit in 64 bits only up to 2^93: check each. */
    uint64_t dd, dk, dh, per, n, t;
    bool ok = hwa__mul_u64(dim, dim, &dd) && hwa__mul_u64(dim, kv, &dk) && hwa__mul_u64(dim, hid, &dh) &&
              hwa__mul_u64(dd, 2, &per) && hwa__mul_u64(dk, 2, &t) && hwa__add_u64(per, t, &per) &&
              hwa__mul_u64(dh, 3, &t) && hwa__add_u64(per, t, &per) && hwa__mul_u64(dim, 2, &t) &&
              hwa__add_u64(per, t, &per) && hwa__mul_u64(per, L, &n) && hwa__mul_u64(V, dim, &t) &&
              hwa__add_u64(n, t, &n) && hwa__add_u64(n, dim, &n) && hwa__mul_u64(S, hs, &t) && hwa__add_u64(n, t, &n);
    if (ok && !c->shared_classifier) ok = hwa__mul_u64(V, dim, &t) && hwa__add_u64(n, t, &n);
    if (ok) ok = hwa__mul_u64(n, 4, &n) && hwa__add_u64(n, 28, &n);
    if (!ok) return hwa__err(NULL, HWA_E_OVERFLOW, "%s: config: the implied file size overflows 64 bits", label);
    if (file_bytes) *file_bytes = n;
    return HWA_OK;
}

hwa_status hwa__l2c_parse(hwa_model_file *f) {
    const char *L = f->label;
    if (f->size < 28)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: config: truncated (%zu bytes, the config needs 28)", L, f->size);
    int32_t w[7];
    for (int i = 0; i < 7; i++) w[i] = (int32_t)(uint32_t)hwa__le(f->data + 4 * i, 4);
    if (w[5] == INT32_MIN) return hwa__err(NULL, HWA_E_FORMAT, "%s: config vocab_size: %d is out of range", L, w[5]);
    hwa_llama2c_config c = {w[0], w[1], w[2], w[3], w[4], w[5] < 0 ? -w[5] : w[5], w[6], w[5] > 0};
    uint64_t want;
    hwa_status s = hwa_llama2c_config_check(&c, L, &want);
    if (s != HWA_OK) return s;
    if (want != f->size)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: file size: %zu bytes but the config implies %" PRIu64 "%s", L, f->size,
                        want, want > f->size ? " (truncated)" : " (trailing bytes)");
    f->format = HWA_FORMAT_LLAMA2C;
    f->l2c = c;
    int64_t dim = c.dim, hid = c.hidden_dim, nl = c.n_layers, V = c.vocab_size, S = c.seq_len,
            hs = c.dim / c.n_heads, kv = hs * c.n_kv_heads;
    const struct { const char *name; int ndim; int64_t s[3]; } spec[] = {
        {"token_embedding_table", 2, {V, dim}}, {"rms_att_weight", 2, {nl, dim}},
        {"wq", 3, {nl, dim, dim}},              {"wk", 3, {nl, kv, dim}},
        {"wv", 3, {nl, kv, dim}},               {"wo", 3, {nl, dim, dim}},
        {"rms_ffn_weight", 2, {nl, dim}},       {"w1", 3, {nl, hid, dim}},
        {"w2", 3, {nl, dim, hid}},              {"w3", 3, {nl, hid, dim}},
        {"rms_final_weight", 1, {dim}},         {"freq_cis_real", 2, {S, hs / 2}},
        {"freq_cis_imag", 2, {S, hs / 2}},      {"wcls", 2, {V, dim}},
    };
    size_t n = c.shared_classifier ? 13 : 14;
    f->tensors = calloc(n, sizeof *f->tensors);
    if (!f->tensors) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    uint64_t off = 28; /* sizes were bounded by the check above */
    for (size_t i = 0; i < n; i++) {
        hwa_file_tensor *t = &f->tensors[i];
        if (!(t->name = hwa__io_strndup(spec[i].name, strlen(spec[i].name))))
            return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
        f->n_tensors++;
        t->file_dtype = HWA_FDT_F32;
        t->ndim = spec[i].ndim;
        t->nelements = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = spec[i].s[d];
            t->nelements *= spec[i].s[d];
        }
        t->nbytes = (size_t)t->nelements * 4;
        t->offset = off;
        off += t->nbytes;
    }
    return HWA_OK;
}

hwa_status hwa_llama2c_get_config(const hwa_model_file *f, hwa_llama2c_config *out) {
    if (!f || !out || f->format != HWA_FORMAT_LLAMA2C)
        return hwa__err(NULL, HWA_E_MISUSE, "llama2c: not a llama2.c checkpoint handle");
    *out = f->l2c;
    return HWA_OK;
}

/* ---- vocabularies ---------------------------------------------------------------- */

struct hwa_vocab {
    size_t n;
    int32_t max_len;
    char *pool;       /* every token, each NUL-terminated */
    size_t *off, *len;
    float *scores;    /* NULL when the source has none */
};

void hwa_vocab_free(hwa_vocab *v) {
    if (!v) return;
    free(v->pool);
    free(v->off);
    free(v->len);
    free(v->scores);
    free(v);
}

static hwa_vocab *vocab_alloc(size_t n, size_t pool_bytes, bool scores) {
    hwa_vocab *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->n = n;
    v->pool = malloc(pool_bytes ? pool_bytes : 1);
    v->off = malloc((n ? n : 1) * sizeof *v->off);
    v->len = malloc((n ? n : 1) * sizeof *v->len);
    v->scores = scores ? malloc((n ? n : 1) * sizeof *v->scores) : NULL;
    if (!v->pool || !v->off || !v->len || (scores && !v->scores)) {
        hwa_vocab_free(v);
        return NULL;
    }
    return v;
}

/* Two passes over the file: validate and measure, then copy. */
hwa_status hwa__vocab_parse(const uint8_t *data, size_t n, const char *L, int32_t n_tokens, hwa_vocab **out) {
    *out = NULL;
    hwa__reader r = {data, 0, n};
    uint32_t u;
    if (n_tokens < 0) return hwa__err(NULL, HWA_E_INVALID, "%s: token count %d is negative", L, n_tokens);
    if (!hwa__rd_u32(&r, &u)) return hwa__err(NULL, HWA_E_FORMAT, "%s: max_token_length: truncated", L);
    int32_t max_len = (int32_t)u;
    if (max_len <= 0)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: max_token_length: %d is not positive", L, max_len);
    size_t count = 0, pool = 0;
    while ((n_tokens == 0 && hwa__rd_left(&r) > 0) || count < (size_t)n_tokens) {
        uint32_t score, len;
        if (!hwa__rd_u32(&r, &score) || !hwa__rd_u32(&r, &len))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: token %zu: truncated header (the file ends at byte %zu)", L, count, n);
        if ((int32_t)len < 0 || (int32_t)len > max_len)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: token %zu: length %d is outside 0..max_token_length %d", L, count,
                            (int32_t)len, max_len);
        if (!hwa__rd_bytes(&r, len, NULL))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: token %zu: %u bytes run past the end of the file", L, count, len);
        pool += (size_t)len + 1;
        count++;
    }
    if (count == 0) return hwa__err(NULL, HWA_E_FORMAT, "%s: no tokens", L);
    if (hwa__rd_left(&r))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %zu trailing bytes after %zu tokens", L, hwa__rd_left(&r), count);
    hwa_vocab *v = vocab_alloc(count, pool, true);
    if (!v) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu tokens", L, count);
    v->max_len = max_len;
    r.pos = 4;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t score = 0, len = 0;
        const uint8_t *b = NULL;
        hwa__rd_u32(&r, &score);
        hwa__rd_u32(&r, &len);
        hwa__rd_bytes(&r, len, &b);
        memcpy(&v->scores[i], &score, 4);
        v->off[i] = at;
        v->len[i] = len;
        if (len) memcpy(v->pool + at, b, len);
        v->pool[at + len] = '\0';
        at += (size_t)len + 1;
    }
    *out = v;
    return HWA_OK;
}

hwa_status hwa_vocab_load_llama2c_mem(const void *data, size_t n, const char *label, int32_t n_tokens,
                                      hwa_vocab **out) {
    if (out) *out = NULL;
    if (!out || (!data && n)) return hwa__err(NULL, HWA_E_MISUSE, "vocab: NULL argument");
    return hwa__vocab_parse(data, n, label ? label : "<memory>", n_tokens, out);
}

hwa_status hwa_vocab_load_llama2c(const char *path, int32_t n_tokens, hwa_vocab **out) {
    if (out) *out = NULL;
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "vocab: NULL argument");
    hwa__mapped_file m;
    hwa_status s = hwa__map_file(path, &m);
    if (s != HWA_OK) return s;
    s = hwa__vocab_parse(m.data, m.size, path, n_tokens, out);
    hwa__unmap_file(&m);
    return s;
}

static hwa_status vocab_from_gguf(const hwa_model_file *f, hwa_vocab **out) {
    const char *L = f->label;
    uint64_t n;
    hwa_gguf_type et;
    if (hwa_gguf_find_key(f, "tokenizer.ggml.tokens") < 0)
        return hwa__err(NULL, HWA_E_NOTFOUND, "%s: no tokenizer.ggml.tokens", L);
    hwa_status s = hwa_gguf_get_arr_info(f, "tokenizer.ggml.tokens", &et, &n);
    if (s != HWA_OK) return s;
    if (et != HWA_GGUF_STRING) return hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.tokens: not an array of strings", L);
    if (n == 0 || n > INT32_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.tokens: %" PRIu64 " tokens (1 to 2^31-1 allowed)", L, n);
    bool has_scores = hwa_gguf_find_key(f, "tokenizer.ggml.scores") >= 0;
    if (has_scores) {
        uint64_t ns;
        if ((s = hwa_gguf_get_arr_info(f, "tokenizer.ggml.scores", &et, &ns)) != HWA_OK) return s;
        if (et != HWA_GGUF_F32 || ns != n)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.scores: %" PRIu64 " %s values for %" PRIu64 " tokens",
                            L, ns, hwa_gguf_type_name(et), n);
    }
    const char **p = malloc((size_t)n * sizeof *p);
    size_t *len = malloc((size_t)n * sizeof *len);
    hwa_vocab *v = NULL;
    if (!p || !len) s = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    if (s == HWA_OK) s = hwa_gguf_get_arr_strs(f, "tokenizer.ggml.tokens", p, len, (size_t)n);
    size_t pool = 0, maxl = 0;
    for (size_t i = 0; s == HWA_OK && i < n; i++) {
        if (len[i] == 0 || memchr(p[i], 0, len[i]))
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.tokens[%zu]: empty or contains a NUL byte", L, i);
        pool += len[i] + 1; /* cannot overflow: the strings are inside the file */
        if (len[i] > maxl) maxl = len[i];
    }
    if (s == HWA_OK && maxl > INT32_MAX)
        s = hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.tokens: a token of %zu bytes", L, maxl);
    if (s == HWA_OK && !(v = vocab_alloc((size_t)n, pool, has_scores)))
        s = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    if (s == HWA_OK && has_scores) s = hwa_gguf_get_arr(f, "tokenizer.ggml.scores", HWA_GGUF_F32, v->scores, (size_t)n);
    if (s == HWA_OK) {
        v->max_len = (int32_t)maxl;
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            v->off[i] = at;
            v->len[i] = len[i];
            memcpy(v->pool + at, p[i], len[i]);
            v->pool[at + len[i]] = '\0';
            at += len[i] + 1;
        }
        *out = v;
        v = NULL;
    }
    hwa_vocab_free(v);
    free(p);
    free(len);
    return s;
}

hwa_status hwa_vocab_from_file(const hwa_model_file *f, hwa_vocab **out) {
    if (out) *out = NULL;
    if (!f || !out) return hwa__err(NULL, HWA_E_MISUSE, "vocab: NULL argument");
    if (f->format == HWA_FORMAT_GGUF) return vocab_from_gguf(f, out);
    if (f->format == HWA_FORMAT_LLAMA2C_VOCAB && f->vocab) {
        const hwa_vocab *src = f->vocab;
        size_t pool = src->n ? src->off[src->n - 1] + src->len[src->n - 1] + 1 : 0;
        hwa_vocab *v = vocab_alloc(src->n, pool, true);
        if (!v) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", f->label);
        v->max_len = src->max_len;
        memcpy(v->pool, src->pool, pool);
        memcpy(v->off, src->off, src->n * sizeof *v->off);
        memcpy(v->len, src->len, src->n * sizeof *v->len);
        memcpy(v->scores, src->scores, src->n * sizeof *v->scores);
        *out = v;
        return HWA_OK;
    }
    return hwa__err(NULL, HWA_E_NOTFOUND, "%s: a %s file has no vocabulary", f->label, hwa_file_format_name(f->format));
}

size_t hwa_vocab_size(const hwa_vocab *v) { return v ? v->n : 0; }
int32_t hwa_vocab_max_token_length(const hwa_vocab *v) { return v ? v->max_len : 0; }
const char *hwa_vocab_token(const hwa_vocab *v, size_t i, size_t *len) {
    if (!v || i >= v->n) return NULL;
    if (len) *len = v->len[i];
    return v->pool + v->off[i];
}
float hwa_vocab_score(const hwa_vocab *v, size_t i) { return v && v->scores && i < v->n ? v->scores[i] : 0.0f; }
