/* A llama2.c checkpoint or a Hugging Face llama-layout safetensors file seen
 * as a GGUF "llama" model, for hwadapt quantize: each tensor under its GGUF
 * name and layout, and the metadata a GGUF llama model carries (the
 * hyperparameters, and a SentencePiece vocabulary from a llama2.c tokenizer
 * file when one is given). llama2.c's rotary embedding pairs adjacent
 * dimensions, as GGUF's llama does, so its matrices go over as they are;
 * Hugging Face's pairs dimension i with i + head_size/2, so the rows of
 * q_proj and k_proj are permuted within each head (GGUF row 2i + j of a
 * head is HF row j * head_size/2 + i), as llama.cpp's converter does, and
 * the GGUF computes what the safetensors model computes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HWA_HAVE_JANSSON
#include <jansson.h>
#endif

#include "io/convert.h"

void hwa__llama_src_free(hwa__llama_src *s) {
    if (!s) return;
    for (size_t i = 0; s->owned && i < s->n; i++) free(s->owned[i]);
    free(s->owned);
    free(s->names);
    free(s->t);
    hwa_vocab_free(s->vocab);
    memset(s, 0, sizeof *s);
}

/* Appends `name` over [rows, cols] (cols 0: [rows]) of dtype dt at data;
 * owned (may be NULL) is the buffer data lies in, freed with s. */
static hwa_status push(hwa__llama_src *s, const char *name, hwa_dtype dt, int64_t rows, int64_t cols, const void *data,
                       void *owned) {
    if (s->n == s->cap) {
        const size_t cap = s->cap ? 2 * s->cap : 64;
        hwa_file_tensor *t = realloc(s->t, cap * sizeof *t);
        if (t) s->t = t;
        char (*nm)[64] = t ? realloc(s->names, cap * sizeof *nm) : NULL;
        if (nm) s->names = nm;
        void **o = nm ? realloc(s->owned, cap * sizeof *o) : NULL;
        if (o) s->owned = o;
        if (!o) {
            free(owned);
            return hwa__err(NULL, HWA_E_NOMEM, "convert: out of memory");
        }
        s->cap = cap;
        for (size_t i = 0; i < s->n; i++) s->t[i].name = s->names[i]; /* the pool moved */
    }
    hwa_file_tensor *t = &s->t[s->n];
    memset(t, 0, sizeof *t);
    snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
    t->name = s->names[s->n];
    s->owned[s->n] = owned;
    t->has_dtype = true;
    t->dtype = dt;
    t->ndim = cols > 0 ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->nelements = cols > 0 ? rows * cols : rows;
    t->nbytes = (size_t)t->nelements * hwa_dtype_block_bytes(dt);
    t->data = data;
    s->n++;
    return HWA_OK;
}

/* ---- llama2.c ------------------------------------------------------------------- */

static hwa_status from_llama2c(const hwa_model_file *f, hwa__llama_src *s) {
    hwa_llama2c_config c;
    hwa_status st = hwa_llama2c_get_config(f, &c);
    if (st) return st;
    s->dim = c.dim, s->hidden = c.hidden_dim, s->n_layers = c.n_layers, s->n_heads = c.n_heads;
    s->n_kv_heads = c.n_kv_heads, s->ctx = c.seq_len, s->eps = 1e-5f, s->theta = 10000.0f;
    const int64_t dim = c.dim, hid = c.hidden_dim, kv = (int64_t)c.dim / c.n_heads * c.n_kv_heads;
    /* the checkpoint's stacked tensors (shapes checked by its reader), per layer */
    static const struct { const char *l2c, *gguf; int rows, cols; } per_layer[] = {
        {"rms_att_weight", "attn_norm", 'd', 0}, {"wq", "attn_q", 'd', 'd'}, {"wk", "attn_k", 'k', 'd'},
        {"wv", "attn_v", 'k', 'd'}, {"wo", "attn_output", 'd', 'd'}, {"rms_ffn_weight", "ffn_norm", 'd', 0},
        {"w1", "ffn_gate", 'h', 'd'}, {"w2", "ffn_down", 'd', 'h'}, {"w3", "ffn_up", 'h', 'd'},
    };
#define EXTENT(ch) ((ch) == 'd' ? dim : (ch) == 'k' ? kv : (ch) == 'h' ? hid : 0)
    const hwa_file_tensor *emb = hwa_model_file_find(f, "token_embedding_table");
    const hwa_file_tensor *fin = hwa_model_file_find(f, "rms_final_weight");
    if (!emb || !fin) return hwa__err(NULL, HWA_E_INTERNAL, "convert: the llama2.c reader gave no embedding");
    if ((st = push(s, "token_embd.weight", HWA_F32, c.vocab_size, dim, emb->data, NULL))) return st;
    for (int l = 0; l < c.n_layers; l++)
        for (size_t k = 0; k < sizeof per_layer / sizeof per_layer[0]; k++) {
            const hwa_file_tensor *t = hwa_model_file_find(f, per_layer[k].l2c);
            const int64_t rows = EXTENT(per_layer[k].rows), cols = EXTENT(per_layer[k].cols);
            const int64_t per = rows * (cols ? cols : 1);
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, per_layer[k].gguf);
            if (!t) return hwa__err(NULL, HWA_E_INTERNAL, "convert: the llama2.c reader gave no '%s'", per_layer[k].l2c);
            if ((st = push(s, name, HWA_F32, rows, cols, (const float *)t->data + (size_t)l * (size_t)per, NULL)))
                return st;
        }
#undef EXTENT
    if ((st = push(s, "output_norm.weight", HWA_F32, dim, 0, fin->data, NULL))) return st;
    if (!c.shared_classifier) {
        const hwa_file_tensor *cls = hwa_model_file_find(f, "wcls");
        if (!cls) return hwa__err(NULL, HWA_E_INTERNAL, "convert: the llama2.c reader gave no 'wcls'");
        if ((st = push(s, "output.weight", HWA_F32, c.vocab_size, dim, cls->data, NULL))) return st;
    }
    return HWA_OK;
}

/* ---- Hugging Face safetensors ---------------------------------------------------- */

#ifdef HWA_HAVE_JANSSON
/* config.json's integer `key` (def when absent and def > 0) into *out, 1..INT32_MAX. */
static hwa_status cfg_int(const json_t *cfg, const char *L, const char *key, int64_t def, int32_t *out) {
    const json_t *v = json_object_get(cfg, key);
    if (!v && def > 0) {
        *out = (int32_t)def;
        return HWA_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT32_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %s (expected an integer in 1..%d)", L, key,
                        v ? "out of range or not an integer" : "missing", INT32_MAX);
    *out = (int32_t)json_integer_value(v);
    return HWA_OK;
}

static hwa_status cfg_num(const json_t *cfg, const char *L, const char *key, double def, float *out) {
    const json_t *v = json_object_get(cfg, key);
    const double x = v ? json_number_value(v) : def;
    if ((v && !json_is_number(v)) || !(x > 0) || x > 1e30)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: expected a positive number", L, key);
    *out = (float)x;
    return HWA_OK;
}

/* Checks that `name` is a float [rows, cols] ([rows] when cols is 0) tensor of f; *out it. */
static hwa_status hf_tensor(const hwa_model_file *f, const char *name, int64_t rows, int64_t cols,
                            const hwa_file_tensor **out) {
    const char *L = hwa_model_file_label(f);
    const hwa_file_tensor *t = hwa_model_file_find(f, name);
    if (!t) return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is missing", L, name);
    if (t->ndim != (cols ? 2 : 1) || t->shape[0] != rows || (cols && t->shape[1] != cols))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' has %d dims [%lld, ...], config.json needs [%lld%s%lld]", L,
                        name, t->ndim, (long long)(t->ndim ? t->shape[0] : 0), (long long)rows, cols ? ", " : "",
                        (long long)cols);
    if (!t->has_dtype || !hwa_dtype_is_float(t->dtype))
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, F16 and BF16 are converted)", L,
                        name, hwa_file_dtype_name(t->file_dtype));
    *out = t;
    return HWA_OK;
}

/* q_proj / k_proj rows in GGUF's rotary order: a copy. */
static hwa_status push_permuted(hwa__llama_src *s, const char *name, const hwa_file_tensor *t, int64_t heads) {
    const int64_t rows = t->shape[0], hs = rows / heads, half = hs / 2;
    const size_t row_bytes = (size_t)t->shape[1] * hwa_dtype_block_bytes(t->dtype);
    uint8_t *buf = malloc(t->nbytes ? t->nbytes : 1);
    if (!buf) return hwa__err(NULL, HWA_E_NOMEM, "convert: out of memory for '%s'", name);
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t j = 0; j < 2; j++)
                memcpy(buf + (size_t)(h * hs + 2 * i + j) * row_bytes,
                       (const uint8_t *)t->data + (size_t)(h * hs + j * half + i) * row_bytes, row_bytes);
    return push(s, name, t->dtype, rows, t->shape[1], buf, buf);
}

static hwa_status from_safetensors(const char *path, const hwa_model_file *f, hwa__llama_src *s) {
    const char *L = hwa_model_file_label(f);
    char cpath[4096];
    const char *slash = strrchr(path, '/');
    snprintf(cpath, sizeof cpath, "%.*sconfig.json", slash ? (int)(slash - path + 1) : 0, path);
    json_error_t je;
    json_t *cfg = json_load_file(cpath, JSON_REJECT_DUPLICATES, &je);
    if (!cfg)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: a safetensors model needs its config.json beside it: %s: %s", L, cpath,
                        je.text);
    hwa_status st = HWA_OK;
    const json_t *mt = json_object_get(cfg, "model_type");
    if (!json_is_object(cfg) || !json_is_string(mt) || strcmp(json_string_value(mt), "llama"))
        st = hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: model_type is not \"llama\" (only the llama layout converts)", cpath);
    int32_t vocab = 0;
    if (!st && !(st = cfg_int(cfg, cpath, "hidden_size", 0, &s->dim)) &&
        !(st = cfg_int(cfg, cpath, "intermediate_size", 0, &s->hidden)) &&
        !(st = cfg_int(cfg, cpath, "num_hidden_layers", 0, &s->n_layers)) &&
        !(st = cfg_int(cfg, cpath, "num_attention_heads", 0, &s->n_heads)) &&
        !(st = cfg_int(cfg, cpath, "num_key_value_heads", s->n_heads, &s->n_kv_heads)) &&
        !(st = cfg_int(cfg, cpath, "max_position_embeddings", 0, &s->ctx)) &&
        !(st = cfg_int(cfg, cpath, "vocab_size", 0, &vocab)) && !(st = cfg_num(cfg, cpath, "rms_norm_eps", 1e-6, &s->eps)))
        st = cfg_num(cfg, cpath, "rope_theta", 10000.0, &s->theta);
    const hwa_llama2c_config check = {s->dim, s->hidden, s->n_layers, s->n_heads, s->n_kv_heads, vocab, s->ctx, true};
    if (!st) st = hwa_llama2c_config_check(&check, cpath, NULL); /* heads divide, even head size, sizes fit */
    json_decref(cfg);
    if (st) return st;
    const int64_t dim = s->dim, hid = s->hidden, kv = (int64_t)s->dim / s->n_heads * s->n_kv_heads;
    const hwa_file_tensor *t;
    if ((st = hf_tensor(f, "model.embed_tokens.weight", vocab, dim, &t)) ||
        (st = push(s, "token_embd.weight", t->dtype, vocab, dim, t->data, NULL)))
        return st;
    static const struct { const char *hf, *gguf; int rows, cols; } per_layer[] = {
        {"input_layernorm", "attn_norm", 'd', 0}, {"self_attn.q_proj", "attn_q", 'd', 'd'},
        {"self_attn.k_proj", "attn_k", 'k', 'd'}, {"self_attn.v_proj", "attn_v", 'k', 'd'},
        {"self_attn.o_proj", "attn_output", 'd', 'd'}, {"post_attention_layernorm", "ffn_norm", 'd', 0},
        {"mlp.gate_proj", "ffn_gate", 'h', 'd'}, {"mlp.down_proj", "ffn_down", 'd', 'h'}, {"mlp.up_proj", "ffn_up", 'h', 'd'},
    };
#define EXTENT(ch) ((ch) == 'd' ? dim : (ch) == 'k' ? kv : (ch) == 'h' ? hid : 0)
    for (int l = 0; l < s->n_layers; l++)
        for (size_t k = 0; k < sizeof per_layer / sizeof per_layer[0]; k++) {
            char hf[96], name[64];
            snprintf(hf, sizeof hf, "model.layers.%d.%s.weight", l, per_layer[k].hf);
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, per_layer[k].gguf);
            const int64_t rows = EXTENT(per_layer[k].rows), cols = EXTENT(per_layer[k].cols);
            if ((st = hf_tensor(f, hf, rows, cols, &t))) return st;
            if (k == 1 || k == 2) st = push_permuted(s, name, t, k == 1 ? s->n_heads : s->n_kv_heads);
            else st = push(s, name, t->dtype, rows, cols, t->data, NULL);
            if (st) return st;
        }
#undef EXTENT
    if ((st = hf_tensor(f, "model.norm.weight", dim, 0, &t)) || (st = push(s, "output_norm.weight", t->dtype, dim, 0, t->data, NULL)))
        return st;
    if (hwa_model_file_find(f, "lm_head.weight")) /* absent when tied to the embedding */
        if ((st = hf_tensor(f, "lm_head.weight", vocab, dim, &t)) ||
            (st = push(s, "output.weight", t->dtype, vocab, dim, t->data, NULL)))
            return st;
    return HWA_OK;
}
#endif

hwa_status hwa__llama_src_open(const char *path, const hwa_model_file *f, const char *tokenizer, hwa__llama_src *s) {
    memset(s, 0, sizeof *s);
    hwa_status st;
    switch (hwa_model_file_format(f)) {
    case HWA_FORMAT_LLAMA2C: st = from_llama2c(f, s); break;
    case HWA_FORMAT_SAFETENSORS:
#ifdef HWA_HAVE_JANSSON
        st = from_safetensors(path, f, s);
#else
        st = hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: reading config.json needs jansson, which this build lacks", path);
#endif
        break;
    default:
        st = hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: a %s file is not a model quantize reads (GGUF, llama2.c, "
                      "safetensors in the Hugging Face llama layout)", path, hwa_file_format_name(hwa_model_file_format(f)));
    }
    if (!st && tokenizer) st = hwa_vocab_load_llama2c(tokenizer, (int32_t)s->t[0].shape[0], &s->vocab);
    if (st) hwa__llama_src_free(s);
    return st;
}

/* The vocabulary as a GGUF SentencePiece one: "<s>" and "</s>" for ids 1
 * and 2 (llama2.c writes them with newlines around), spaces as U+2581,
 * token types as llama.cpp's llama2.c converter gives them (0 unknown, 1
 * and 2 control, <0xNN> byte, the rest normal). */
static hwa_status vocab_meta(const hwa_vocab *v, hwa_gguf_writer *w) {
    const size_t n = hwa_vocab_size(v);
    char **toks = calloc(n, sizeof *toks);
    float *scores = malloc(n * sizeof *scores);
    int32_t *types = malloc(n * sizeof *types);
    hwa_status st = toks && scores && types ? HWA_OK : hwa__err(NULL, HWA_E_NOMEM, "convert: out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        size_t len;
        const char *t = hwa_vocab_token(v, i, &len);
        if (memchr(t, 0, len)) {
            st = hwa__err(NULL, HWA_E_UNSUPPORTED, "tokenizer: token %zu holds a NUL byte", i);
            break;
        }
        if (i == 1 || i == 2) t = i == 1 ? "<s>" : "</s>", len = strlen(t);
        if (!(toks[i] = malloc(3 * len + 1))) {
            st = hwa__err(NULL, HWA_E_NOMEM, "convert: out of memory");
            break;
        }
        char *o = toks[i];
        for (size_t k = 0; k < len; k++)
            if (t[k] == ' ') memcpy(o, "\xe2\x96\x81", 3), o += 3;
            else *o++ = t[k];
        *o = '\0';
        scores[i] = hwa_vocab_score(v, i);
        unsigned byte;
        char tail;
        types[i] = i == 0 ? 2 : i <= 2 ? 3 : (len == 6 && sscanf(t, "<0x%2X%c", &byte, &tail) == 2 && tail == '>') ? 6 : 1;
    }
    const uint32_t ids[3] = {0, 1, 2};
    if (!st) st = hwa_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama");
    if (!st) st = hwa_gguf_writer_add_arr_strs(w, "tokenizer.ggml.tokens", (const char *const *)toks, n);
    if (!st) st = hwa_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HWA_GGUF_F32, scores, n);
    if (!st) st = hwa_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HWA_GGUF_I32, types, n);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "tokenizer.ggml.unknown_token_id", HWA_GGUF_U32, &ids[0]);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "tokenizer.ggml.bos_token_id", HWA_GGUF_U32, &ids[1]);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "tokenizer.ggml.eos_token_id", HWA_GGUF_U32, &ids[2]);
    for (size_t i = 0; toks && i < n; i++) free(toks[i]);
    free(toks), free(scores), free(types);
    return st;
}

hwa_status hwa__llama_src_meta(const hwa__llama_src *s, hwa_gguf_writer *w) {
    const uint32_t u[] = {(uint32_t)s->ctx, (uint32_t)s->dim, (uint32_t)s->hidden, (uint32_t)s->n_heads,
                          (uint32_t)s->n_kv_heads, (uint32_t)s->n_layers, (uint32_t)(s->dim / s->n_heads)};
    static const char *const keys[] = {"llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
                                       "llama.attention.head_count", "llama.attention.head_count_kv",
                                       "llama.block_count", "llama.rope.dimension_count"};
    hwa_status st = hwa_gguf_writer_add_str(w, "general.architecture", "llama");
    if (!st) st = hwa_gguf_writer_add_str(w, "general.name", "llama");
    for (size_t k = 0; !st && k < sizeof keys / sizeof keys[0]; k++) st = hwa_gguf_writer_add_scalar(w, keys[k], HWA_GGUF_U32, &u[k]);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "llama.attention.layer_norm_rms_epsilon", HWA_GGUF_F32, &s->eps);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "llama.rope.freq_base", HWA_GGUF_F32, &s->theta);
    if (!st && s->vocab) st = vocab_meta(s->vocab, w);
    return st;
}
