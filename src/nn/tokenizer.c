/* SentencePiece-style BPE as llama2.c tokenizer files and GGUF "llama"
 * vocabularies use it: text is split into UTF-8 characters (a leading space
 * added), characters without a token fall back to byte tokens <0xNN>, and
 * adjacent pieces are merged, best score first, while their concatenation is
 * a token. GGUF "gpt2" vocabularies (byte-level BPE) go to tokenizer_bpe.c
 * behind the same functions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/internal.h"
#include "hwadapt/nn.h"
#include "nn/tokenizer_bpe.h"

enum { KIND_NORMAL = HWA__TOK_NORMAL, KIND_UNKNOWN = HWA__TOK_UNKNOWN, KIND_CONTROL = HWA__TOK_CONTROL,
       KIND_USER = HWA__TOK_USER, KIND_UNUSED = HWA__TOK_UNUSED, KIND_BYTE = HWA__TOK_BYTE };

struct hwa_tokenizer {
    int32_t n;
    char *pool;          /* every token's bytes, each followed by a NUL */
    size_t *off, *len;   /* [n] */
    float *score;        /* [n] */
    uint8_t *kind;       /* [n] */
    int32_t byte_id[256];/* the token of each byte, -1 when none */
    char bytes[256];     /* byte b's text for byte tokens */
    int32_t bos, eos, unk;
    bool add_space;      /* prepend a space to non-empty text (SentencePiece's dummy prefix) */
    bool add_bos;        /* the vocabulary wants BOS at the start of text */
    hwa__bpe *bpe;       /* a byte-level vocabulary: everything above but n, bos, eos, add_bos unused */
    int32_t *table;      /* open addressing over mergeable tokens: ids, -1 empty */
    size_t table_mask;
};

static const char *tok_text(const hwa_tokenizer *t, int32_t id) { return t->pool + t->off[id]; }

/* ---- lookup of a byte string (given as two parts) ------------------------ */

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

static int32_t lookup2(const hwa_tokenizer *t, const char *a, size_t na, const char *b, size_t nb) {
    uint64_t h = hash_bytes(hash_bytes(0xcbf29ce484222325ull, a, na), b, nb);
    for (size_t i = (size_t)h & t->table_mask;; i = (i + 1) & t->table_mask) {
        const int32_t id = t->table[i];
        if (id < 0) return -1;
        const char *s = tok_text(t, id);
        if (t->len[id] == na + nb && !memcmp(s, a, na) && !memcmp(s + na, b, nb)) return id;
    }
}

/* Tokens that text can be made of: normal and user-defined ones. The first
 * of equal strings wins. */
static hwa_status build_table(hwa_tokenizer *t) {
    size_t cap = 16;
    while (cap < 2 * (size_t)t->n) cap *= 2;
    t->table = malloc(cap * sizeof *t->table);
    if (!t->table) return hwa__err(NULL, HWA_E_NOMEM, "tokenizer: out of memory");
    memset(t->table, 0xff, cap * sizeof *t->table);
    t->table_mask = cap - 1;
    for (int32_t id = 0; id < t->n; id++) {
        if ((t->kind[id] != KIND_NORMAL && t->kind[id] != KIND_USER) || t->len[id] == 0) continue;
        if (lookup2(t, tok_text(t, id), t->len[id], "", 0) >= 0) continue;
        uint64_t h = hash_bytes(0xcbf29ce484222325ull, tok_text(t, id), t->len[id]);
        size_t i = (size_t)h & t->table_mask;
        while (t->table[i] >= 0) i = (i + 1) & t->table_mask;
        t->table[i] = id;
    }
    return HWA_OK;
}

/* ---- construction --------------------------------------------------------- */

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte a "<0xNN>" token stands for, or -1. */
static int byte_token_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Copies the vocabulary; SentencePiece's word-boundary mark U+2581 becomes
 * a space, so that both file kinds hold plain text. kinds (may be NULL) are
 * GGUF token types; without them, bos/eos/unk are control and unknown tokens
 * and <0xNN> tokens are bytes. */
static hwa_status tokenizer_init(hwa_tokenizer *t, const hwa_vocab *v, const int32_t *kinds) {
    static const char mark[] = "\xe2\x96\x81";
    const size_t n = hwa_vocab_size(v);
    t->n = (int32_t)n;
    size_t pool = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        hwa_vocab_token(v, i, &len);
        pool += len + 1; /* the vocabulary's own pool held as much */
    }
    t->pool = malloc(pool ? pool : 1);
    t->off = malloc(n * sizeof *t->off);
    t->len = malloc(n * sizeof *t->len);
    t->score = malloc(n * sizeof *t->score);
    t->kind = malloc(n);
    if (!t->pool || !t->off || !t->len || !t->score || !t->kind)
        return hwa__err(NULL, HWA_E_NOMEM, "tokenizer: out of memory for %zu tokens", n);
    for (int b = 0; b < 256; b++) {
        t->byte_id[b] = -1;
        t->bytes[b] = (char)b;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = hwa_vocab_token(v, i, &len);
        t->off[i] = at;
        for (size_t j = 0; j < len; j++) {
            if (j + 3 <= len && !memcmp(s + j, mark, 3)) {
                t->pool[at++] = ' ';
                j += 2;
            } else {
                t->pool[at++] = s[j];
            }
        }
        t->len[i] = at - t->off[i];
        t->pool[at++] = '\0';
        t->score[i] = hwa_vocab_score(v, i);
        const int byte = byte_token_value(s, len);
        int32_t kind = kinds ? kinds[i] : KIND_NORMAL;
        if (!kinds && byte >= 0) kind = KIND_BYTE;
        if (!kinds && ((int32_t)i == t->bos || (int32_t)i == t->eos)) kind = KIND_CONTROL;
        if (!kinds && (int32_t)i == t->unk) kind = KIND_UNKNOWN;
        if (kind < KIND_NORMAL || kind > KIND_BYTE) kind = KIND_NORMAL;
        t->kind[i] = (uint8_t)kind;
        if (kind == KIND_BYTE && byte >= 0 && t->byte_id[byte] < 0) t->byte_id[byte] = (int32_t)i;
    }
    return build_table(t);
}

static hwa_tokenizer *tokenizer_new(void) {
    hwa_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        hwa__err(NULL, HWA_E_NOMEM, "tokenizer: out of memory");
        return NULL;
    }
    t->bos = 1;
    t->eos = 2;
    t->unk = 0;
    t->add_space = true;
    t->add_bos = true;
    return t;
}

void hwa_tokenizer_free(hwa_tokenizer *t) {
    if (!t) return;
    free(t->pool);
    free(t->off);
    free(t->len);
    free(t->score);
    free(t->kind);
    free(t->table);
    hwa__bpe_free(t->bpe);
    free(t);
}

static hwa_status gguf_token_id(const hwa_model_file *f, const char *key, int32_t n, int32_t *id) {
    int64_t v;
    hwa_status st = hwa_gguf_get_int(f, key, &v);
    if (st == HWA_E_NOTFOUND) return HWA_OK; /* keep the default */
    if (st != HWA_OK) return hwa__err(NULL, st, "%s: %s: not an integer", hwa_model_file_label(f), key);
    if (v < 0 || v >= n)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %lld is outside the vocabulary of %d", hwa_model_file_label(f), key,
                        (long long)v, n);
    *id = (int32_t)v;
    return HWA_OK;
}

/* Byte-level BPE: no dummy prefix, no BOS unless the file asks for one, no
 * special ids unless the file names them. */
static hwa_status bpe_from_file(const hwa_model_file *f, hwa_tokenizer **out) {
    hwa_tokenizer *t = tokenizer_new();
    if (!t) return HWA_E_NOMEM;
    t->add_space = false;
    t->add_bos = false;
    t->bos = t->eos = t->unk = -1;
    hwa_status st = hwa__bpe_from_file(f, &t->bpe);
    if (st == HWA_OK) {
        t->n = hwa__bpe_size(t->bpe);
        bool add = false;
        if (hwa_gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &add) == HWA_OK) t->add_bos = add;
        if (!(st = gguf_token_id(f, "tokenizer.ggml.bos_token_id", t->n, &t->bos)))
            st = gguf_token_id(f, "tokenizer.ggml.eos_token_id", t->n, &t->eos);
    }
    if (st != HWA_OK) {
        hwa_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HWA_OK;
}

hwa_status hwa_tokenizer_from_file(const hwa_model_file *f, hwa_tokenizer **out) {
    if (out) *out = NULL;
    if (!f || !out) return hwa__err(NULL, HWA_E_MISUSE, "tokenizer: NULL file or out");
    const char *L = hwa_model_file_label(f), *model = NULL;
    if (hwa_model_file_format(f) != HWA_FORMAT_GGUF)
        return hwa__err(NULL, HWA_E_MISUSE, "%s: not a GGUF file (llama2.c tokenizers load with hwa_tokenizer_load)", L);
    if (hwa_gguf_get_str(f, "tokenizer.ggml.model", &model, NULL) != HWA_OK)
        return hwa__err(NULL, HWA_E_NOTFOUND, "%s: no tokenizer (tokenizer.ggml.model is missing)", L);
    if (!strcmp(model, "gpt2")) return bpe_from_file(f, out);
    if (strcmp(model, "llama") != 0)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: tokenizer model '%.40s' is not supported (only 'llama' and 'gpt2')",
                        L, model);
    hwa_vocab *v = NULL;
    int32_t *kinds = NULL;
    hwa_tokenizer *t = tokenizer_new();
    hwa_status st = t ? hwa_vocab_from_file(f, &v) : HWA_E_NOMEM;
    const int32_t n = v ? (int32_t)hwa_vocab_size(v) : 0;
    if (st == HWA_OK && hwa_gguf_find_key(f, "tokenizer.ggml.token_type") >= 0) {
        if (!(kinds = malloc((size_t)n * sizeof *kinds))) st = hwa__err(NULL, HWA_E_NOMEM, "tokenizer: out of memory");
        if (st == HWA_OK && hwa_gguf_get_arr(f, "tokenizer.ggml.token_type", HWA_GGUF_I32, kinds, (size_t)n) != HWA_OK)
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.token_type: not %d i32 values", L, n);
    }
    if (st == HWA_OK) {
        bool add = true;
        if (hwa_gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &add) == HWA_OK) t->add_space = add;
        if (hwa_gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &add) == HWA_OK) t->add_bos = add;
        if (t->bos >= n) t->bos = -1;
        if (t->eos >= n) t->eos = -1;
        if (t->unk >= n) t->unk = -1;
        if (!(st = gguf_token_id(f, "tokenizer.ggml.bos_token_id", n, &t->bos)) &&
            !(st = gguf_token_id(f, "tokenizer.ggml.eos_token_id", n, &t->eos)))
            st = gguf_token_id(f, "tokenizer.ggml.unknown_token_id", n, &t->unk);
    }
    if (st == HWA_OK) st = tokenizer_init(t, v, kinds);
    free(kinds);
    hwa_vocab_free(v);
    if (st != HWA_OK) {
        hwa_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HWA_OK;
}

hwa_status hwa_tokenizer_load(const char *path, int32_t n_tokens, hwa_tokenizer **out) {
    if (out) *out = NULL;
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "tokenizer: NULL path or out");
    if (n_tokens < 0) return hwa__err(NULL, HWA_E_RANGE, "tokenizer: token count %d is negative", n_tokens);
    hwa_file_format fmt = HWA_FORMAT_UNKNOWN;
    hwa_status st = hwa_file_detect_path(path, &fmt);
    if (st != HWA_OK) return st;
    hwa_tokenizer *t = NULL;
    if (fmt == HWA_FORMAT_GGUF) {
        hwa_model_file *f = NULL;
        st = hwa_model_file_open(path, HWA_FORMAT_GGUF, &f);
        if (st == HWA_OK) st = hwa_tokenizer_from_file(f, &t);
        hwa_model_file_free(f);
    } else {
        hwa_vocab *v = NULL;
        st = hwa_vocab_load_llama2c(path, 0, &v);
        if (st == HWA_OK && !(t = tokenizer_new())) st = HWA_E_NOMEM;
        if (st == HWA_OK) {
            const int32_t n = (int32_t)hwa_vocab_size(v);
            if (t->bos >= n) t->bos = -1;
            if (t->eos >= n) t->eos = -1;
            if (t->unk >= n) t->unk = -1;
            st = tokenizer_init(t, v, NULL);
        }
        hwa_vocab_free(v);
    }
    if (st == HWA_OK && n_tokens > 0 && t->n != n_tokens)
        st = hwa__err(NULL, HWA_E_RANGE, "%s: the tokenizer has %d tokens but the model's vocabulary has %d", path, t->n,
                      n_tokens);
    if (st != HWA_OK) {
        hwa_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HWA_OK;
}

int32_t hwa_tokenizer_size(const hwa_tokenizer *t) { return t ? t->n : 0; }
int32_t hwa_tokenizer_bos(const hwa_tokenizer *t) { return t ? t->bos : -1; }
int32_t hwa_tokenizer_eos(const hwa_tokenizer *t) { return t ? t->eos : -1; }
bool hwa_tokenizer_add_bos(const hwa_tokenizer *t) { return t && t->add_bos && t->bos >= 0; }
const char *hwa_tokenizer_model(const hwa_tokenizer *t) { return !t ? "" : t->bpe ? "gpt2" : "llama"; }

/* ---- encode --------------------------------------------------------------- */

/* Bytes in the UTF-8 sequence that starts with lead byte c, 1 for a byte that
 * cannot start one (it then stands alone and falls back to a byte token). */
static size_t utf8_len(const unsigned char *s, size_t left) {
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 1;
    if (n > left) return 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 1;
    return n;
}

/* Appends the tokens of one character: its own token, else its bytes. */
static hwa_status push_char(const hwa_tokenizer *t, const char *s, size_t n, int32_t *ids, size_t *k) {
    int32_t id = lookup2(t, s, n, "", 0);
    if (id >= 0) {
        ids[(*k)++] = id;
        return HWA_OK;
    }
    for (size_t i = 0; i < n; i++) {
        id = t->byte_id[(uint8_t)s[i]];
        if (id < 0) id = t->unk;
        if (id < 0)
            return hwa__err(NULL, HWA_E_NOTFOUND, "tokenizer: byte 0x%02x has no token and there is no unknown token",
                            (uint8_t)s[i]);
        ids[(*k)++] = id;
    }
    return HWA_OK;
}

static bool mergeable(const hwa_tokenizer *t, int32_t id) {
    return t->kind[id] == KIND_NORMAL || t->kind[id] == KIND_USER;
}

/* Merges the best-scoring adjacent pair until no pair forms a token. Ties
 * go to the leftmost pair. */
static size_t merge_pairs(const hwa_tokenizer *t, int32_t *ids, size_t k, size_t from) {
    for (;;) {
        int32_t best_id = -1;
        size_t best_at = 0;
        float best = 0.0f;
        for (size_t i = from; i + 1 < k; i++) {
            if (!mergeable(t, ids[i]) || !mergeable(t, ids[i + 1])) continue;
            const int32_t id = lookup2(t, tok_text(t, ids[i]), t->len[ids[i]], tok_text(t, ids[i + 1]), t->len[ids[i + 1]]);
            if (id >= 0 && (best_id < 0 || t->score[id] > best)) {
                best_id = id;
                best = t->score[id];
                best_at = i;
            }
        }
        if (best_id < 0) return k;
        ids[best_at] = best_id;
        memmove(ids + best_at + 1, ids + best_at + 2, (k - best_at - 2) * sizeof *ids);
        k--;
    }
}

hwa_status hwa_tokenizer_encode(const hwa_tokenizer *t, const char *text, bool bos, bool eos, int32_t *ids,
                                int32_t cap, int32_t *n) {
    if (n) *n = 0;
    if (!t || !text || !n || (!ids && cap > 0) || cap < 0)
        return hwa__err(NULL, HWA_E_MISUSE, "tokenizer encode: NULL argument or negative capacity");
    if ((bos && t->bos < 0) || (eos && t->eos < 0))
        return hwa__err(NULL, HWA_E_NOTFOUND, "tokenizer encode: the vocabulary has no %s token", bos && t->bos < 0 ? "BOS" : "EOS");
    const size_t len = strlen(text);
    /* Each byte gives at most one token, plus BOS, the dummy prefix and EOS. */
    const size_t max = len + 3;
    if (len > SIZE_MAX / sizeof(int32_t) - 3)
        return hwa__err(NULL, HWA_E_OVERFLOW, "tokenizer encode: text too long");
    int32_t *tmp = malloc(max * sizeof *tmp);
    if (!tmp) return hwa__err(NULL, HWA_E_NOMEM, "tokenizer encode: out of memory for %zu bytes of text", len);
    size_t k = 0;
    hwa_status st = HWA_OK;
    if (bos) tmp[k++] = t->bos;
    const size_t start = k;
    if (t->bpe) st = hwa__bpe_encode(t->bpe, text, len, tmp, &k);
    else if (len > 0 && t->add_space) st = push_char(t, " ", 1, tmp, &k);
    for (size_t i = 0; i < len && st == HWA_OK && !t->bpe;) {
        const size_t cl = utf8_len((const unsigned char *)text + i, len - i);
        st = push_char(t, text + i, cl, tmp, &k);
        i += cl;
    }
    if (st == HWA_OK) {
        if (!t->bpe) k = merge_pairs(t, tmp, k, start);
        if (eos) tmp[k++] = t->eos;
        if (k > INT32_MAX) st = hwa__err(NULL, HWA_E_RANGE, "tokenizer encode: %zu tokens", k);
    }
    if (st == HWA_OK) {
        *n = (int32_t)k;
        if (k > (size_t)cap)
            st = hwa__err(NULL, HWA_E_RANGE, "tokenizer encode: %zu tokens do not fit in %d", k, cap);
        else if (k)
            memcpy(ids, tmp, k * sizeof *ids);
    }
    free(tmp);
    return st;
}

/* ---- decode --------------------------------------------------------------- */

const char *hwa_tokenizer_piece(const hwa_tokenizer *t, int32_t prev, int32_t id, size_t *len) {
    if (len) *len = 0;
    if (!t || id < 0 || id >= t->n) return NULL;
    if (t->bpe) {
        size_t n;
        const char *p = hwa__bpe_piece(t->bpe, id, &n);
        if (len) *len = n;
        return p;
    }
    const char *s = tok_text(t, id);
    size_t n = t->len[id];
    switch (t->kind[id]) {
    case KIND_CONTROL:
    case KIND_UNUSED:
        return "";
    case KIND_BYTE: {
        const int b = byte_token_value(s, n);
        if (b >= 0) {
            if (len) *len = 1;
            return &t->bytes[b];
        }
        break;
    }
    default:
        break;
    }
    /* The dummy prefix: the first word's leading space is not in the text. */
    if (t->add_space && (prev < 0 || prev == t->bos) && n > 0 && s[0] == ' ') {
        s++;
        n--;
    }
    if (len) *len = n;
    return s;
}

hwa_status hwa_tokenizer_decode(const hwa_tokenizer *t, const int32_t *ids, int32_t n, char *buf, size_t cap,
                                size_t *len) {
    if (len) *len = 0;
    if (!t || (!ids && n > 0) || n < 0 || (!buf && cap > 0) || !len)
        return hwa__err(NULL, HWA_E_MISUSE, "tokenizer decode: NULL argument or negative count");
    size_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t pl;
        const char *p = hwa_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], &pl);
        if (!p) return hwa__err(NULL, HWA_E_RANGE, "tokenizer decode: id %d at index %d is outside 0..%d", ids[i], i, t->n - 1);
        if (at + pl < cap) memcpy(buf + at, p, pl);
        at += pl;
    }
    *len = at;
    if (at >= cap) {
        if (cap) buf[0] = '\0';
        return hwa__err(NULL, HWA_E_RANGE, "tokenizer decode: %zu bytes do not fit in %zu", at + 1, cap);
    }
    buf[at] = '\0';
    return HWA_OK;
}
