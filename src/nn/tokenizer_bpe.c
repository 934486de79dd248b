/* Byte-level BPE as GPT-2 made it and GGUF "gpt2" vocabularies store it:
 * tokens are byte strings written in GPT-2's byte-to-character map (each of
 * the 256 bytes is one printable character), merges are ranked pairs of
 * tokens. Text is cut at special tokens written in it (matched whole, as
 * Hugging Face tokenizers matches added tokens), each stretch is split into
 * pieces by the vocabulary's pre-tokenizer (a fixed regex per
 * tokenizer.ggml.pre, hand-written here over Unicode tables), and each
 * piece's bytes are merged, lowest rank first, leftmost among equals. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/internal.h"
#include "io/io_internal.h"
#include "nn/tokenizer_bpe.h"
#include "nn/unicode_tables.h"

/* ---- Unicode classes and the pre-tokenizers --------------------------------- */

enum { CL_OTHER, CL_LETTER, CL_NUMBER, CL_SPACE };

static bool in_ranges(const hwa__cp_range *r, size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int cp_class(uint32_t cp) {
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CL_LETTER;
        if (cp >= '0' && cp <= '9') return CL_NUMBER;
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) ? CL_SPACE : CL_OTHER;
    }
    if (in_ranges(hwa__unicode_letter, N_OF(hwa__unicode_letter), cp)) return CL_LETTER;
    if (in_ranges(hwa__unicode_number, N_OF(hwa__unicode_number), cp)) return CL_NUMBER;
    if (in_ranges(hwa__unicode_space, N_OF(hwa__unicode_space), cp)) return CL_SPACE;
    return CL_OTHER;
}

/* The character at s[p] (p < len): its class, and its byte length in *n. A
 * byte that does not start a well-formed UTF-8 sequence is one character of
 * class other. */
static int char_at(const char *str, size_t len, size_t p, size_t *n) {
    const unsigned char *s = (const unsigned char *)str + p;
    const size_t left = len - p;
    *n = 1;
    if (s[0] < 0x80) return cp_class(s[0]);
    size_t k;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0) k = 2, cp = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0) k = 3, cp = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0) k = 4, cp = s[0] & 0x07, min = 0x10000;
    else return CL_OTHER;
    if (k > left) return CL_OTHER;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) return CL_OTHER;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return CL_OTHER;
    *n = k;
    return cp_class(cp);
}

static int class_at(const char *s, size_t len, size_t p) {
    size_t n;
    return p < len ? char_at(s, len, p, &n) : -1;
}

/* The end of the run of characters of class cl from p (at most max of them). */
static size_t run_end(const char *s, size_t len, size_t p, int cl, size_t max) {
    size_t n;
    for (size_t count = 0; p < len && count < max && char_at(s, len, p, &n) == cl; count++) p += n;
    return p;
}

/* 's 't 're 've 'm 'll 'd at the start of s: its length, or 0. */
static size_t contraction(const char *s, size_t len, bool any_case) {
    if (len < 2 || s[0] != '\'') return 0;
    char a = s[1], b = len > 2 ? s[2] : 0;
    if (any_case) {
        if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
        if (b >= 'A' && b <= 'Z') b = (char)(b + 32);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at s[0], a space: the run, less its last character when a
 * non-space follows and the run has more than one. With digit_ends, a
 * number after the run ends the text (it is a piece of its own). */
static size_t space_run(const char *s, size_t len, bool digit_ends) {
    size_t p = 0, last = 0, n;
    int cl = -1;
    while (p < len && (cl = char_at(s, len, p, &n)) == CL_SPACE) last = p, p += n;
    const bool at_end = p == len || (digit_ends && cl == CL_NUMBER);
    return !at_end && last > 0 ? last : p;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * With digits_alone (SmolLM's digit split first), every number character
 * is a piece of its own, and the text on either side of it is split as if
 * it ended or began there. */
static size_t split_gpt2(const char *s, size_t len, bool digits_alone) {
    size_t n = contraction(s, len, false), n0;
    if (n) return n;
    const int c0 = char_at(s, len, 0, &n0);
    if (digits_alone && c0 == CL_NUMBER) return n0;
    const int c1 = s[0] == ' ' ? class_at(s, len, 1) : -1;
    const size_t q = c1 >= 0 && c1 != CL_SPACE && !(digits_alone && c1 == CL_NUMBER) ? 1 : 0;
    const int cl = q ? c1 : c0;
    if (cl != CL_SPACE) return run_end(s, len, q, cl, digits_alone && cl == CL_NUMBER ? 1 : SIZE_MAX);
    return space_run(s, len, digits_alone);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t split_llama3(const char *s, size_t len, size_t max_digits) {
    size_t n = contraction(s, len, true);
    if (n) return n;
    size_t n0;
    const int c0 = char_at(s, len, 0, &n0);
    if (c0 == CL_LETTER) return run_end(s, len, 0, CL_LETTER, SIZE_MAX);
    if (c0 != CL_NUMBER && s[0] != '\r' && s[0] != '\n' && class_at(s, len, n0) == CL_LETTER)
        return run_end(s, len, n0, CL_LETTER, SIZE_MAX);
    if (c0 == CL_NUMBER) return run_end(s, len, 0, CL_NUMBER, max_digits);
    const size_t q = s[0] == ' ' && class_at(s, len, 1) == CL_OTHER ? 1 : 0;
    if (class_at(s, len, q) == CL_OTHER) {
        size_t e = run_end(s, len, q, CL_OTHER, SIZE_MAX);
        while (e < len && (s[e] == '\r' || s[e] == '\n')) e++;
        return e;
    }
    /* a space: through its last \r or \n, else as GPT-2 */
    size_t p = 0, after_nl = 0;
    while (p < len && char_at(s, len, p, &n) == CL_SPACE) {
        p += n;
        if (s[p - 1] == '\r' || s[p - 1] == '\n') after_nl = p;
    }
    return after_nl ? after_nl : space_run(s, len, false);
}

size_t hwa__bpe_split(hwa__bpe_pre pre, const char *s, size_t len) {
    switch (pre) {
    case HWA__PRE_LLAMA3:
        return split_llama3(s, len, 3);
    case HWA__PRE_QWEN2:
        return split_llama3(s, len, 1);
    case HWA__PRE_SMOLLM:
        return split_gpt2(s, len, true);
    case HWA__PRE_GPT2:
    default:
        return split_gpt2(s, len, false);
    }
}

static const struct {
    const char *name;
    hwa__bpe_pre pre;
} pre_names[] = {
    {"default", HWA__PRE_GPT2}, {"gpt2", HWA__PRE_GPT2},           {"gpt-2", HWA__PRE_GPT2},
    {"llama3", HWA__PRE_LLAMA3}, {"llama-v3", HWA__PRE_LLAMA3},     {"llama-bpe", HWA__PRE_LLAMA3},
    {"qwen2", HWA__PRE_QWEN2},   {"smollm", HWA__PRE_SMOLLM},
};

hwa_status hwa__bpe_pre_from_name(const char *name, const char *label, hwa__bpe_pre *out) {
    for (size_t i = 0; i < N_OF(pre_names); i++)
        if (!strcmp(name, pre_names[i].name)) {
            *out = pre_names[i].pre;
            return HWA_OK;
        }
    return hwa__err(NULL, HWA_E_UNSUPPORTED,
                    "%s: tokenizer.ggml.pre '%.40s' is not supported (known: default, gpt2, gpt-2, llama3, llama-v3, "
                    "llama-bpe, qwen2, smollm)",
                    label, name);
}

/* ---- GPT-2's byte-to-character map ------------------------------------------ */

/* Bytes that stand for themselves: printable Latin-1 other than the space
 * and the soft hyphen. The other 68 map, in byte order, to U+0100.. */
static bool byte_is_printable(unsigned b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

static uint32_t byte_to_cp(unsigned b) {
    if (byte_is_printable(b)) return b;
    uint32_t k = 0;
    for (unsigned i = 0; i < b; i++) k += !byte_is_printable(i);
    return 256 + k;
}

/* The byte a character of the map stands for, or -1. */
static int cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t k = 0;
    for (unsigned b = 0; b < 256; b++)
        if (!byte_is_printable(b) && k++ == cp - 256) return (int)b;
    return -1;
}

/* Decodes byte-level text s[0..n) into out (room for n bytes); the byte
 * count, or -1 when s is not byte-level text. */
static ptrdiff_t byte_level_decode(const char *str, size_t n, char *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t at = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        if (s[i] < 0x80) cp = s[i++];
        else if ((s[i] & 0xe0) == 0xc0 && i + 1 < n && (s[i + 1] & 0xc0) == 0x80)
            cp = (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f), i += 2;
        else return -1; /* the map's characters are all below U+0800 */
        const int b = cp_to_byte(cp);
        if (b < 0) return -1;
        out[at++] = (char)b;
    }
    return (ptrdiff_t)at;
}

/* ---- the vocabulary ------------------------------------------------------------ */

typedef struct merge_slot {
    int32_t a, b;    /* the pair; a < 0: empty */
    int32_t rank, id;
} merge_slot;

struct hwa__bpe {
    int32_t n;
    hwa__bpe_pre pre;
    char *text;            /* the file's token texts, each followed by a NUL */
    char *bytes;           /* what each token stands for */
    size_t *text_off, *text_len, *bytes_off, *bytes_len; /* [n] */
    uint8_t *kind;         /* [n] */
    int32_t *table;        /* open addressing over the file's texts: ids, -1 empty */
    size_t table_mask;
    merge_slot *merges;
    size_t merge_mask;
    int32_t byte_id[256];  /* the token of each byte alone, -1 when none */
    int32_t *special;      /* control and user-defined tokens, longest first */
    int32_t n_special;
    bool special_first[256]; /* bytes a special token starts with */
};

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

/* The id of the token whose file text is a followed by c, or -1. */
static int32_t find_text(const hwa__bpe *b, const char *a, size_t na, const char *c, size_t nc) {
    const uint64_t h = fnv(fnv(0xcbf29ce484222325ull, a, na), c, nc);
    for (size_t i = (size_t)h & b->table_mask;; i = (i + 1) & b->table_mask) {
        const int32_t id = b->table[i];
        if (id < 0) return -1;
        const char *s = b->text + b->text_off[id];
        if (b->text_len[id] == na + nc && !memcmp(s, a, na) && !memcmp(s + na, c, nc)) return id;
    }
}

static size_t pair_slot(const hwa__bpe *b, int32_t x, int32_t y) {
    const uint64_t h = ((uint64_t)(uint32_t)x * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(uint32_t)y * 0xc2b2ae3d27d4eb4full);
    size_t i = (size_t)(h ^ h >> 29) & b->merge_mask;
    while (b->merges[i].a >= 0 && (b->merges[i].a != x || b->merges[i].b != y)) i = (i + 1) & b->merge_mask;
    return i;
}

void hwa__bpe_free(hwa__bpe *b) {
    if (!b) return;
    free(b->text);
    free(b->bytes);
    free(b->text_off);
    free(b->text_len);
    free(b->bytes_off);
    free(b->bytes_len);
    free(b->kind);
    free(b->table);
    free(b->merges);
    free(b->special);
    free(b);
}

int32_t hwa__bpe_size(const hwa__bpe *b) { return b ? b->n : 0; }

static size_t table_cap(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    return cap;
}

/* Copies the tokens, decodes the byte-level ones and indexes them. */
static hwa_status load_tokens(hwa__bpe *b, const char *L, const char **ptrs, const size_t *lens, const int32_t *kinds) {
    const size_t n = (size_t)b->n;
    size_t pool = 0;
    for (size_t i = 0; i < n; i++)
        if (!hwa__add_size(pool, lens[i] + 1, &pool))
            return hwa__err(NULL, HWA_E_OVERFLOW, "%s: tokenizer.ggml.tokens: too long", L);
    b->text = malloc(pool ? pool : 1);
    b->bytes = malloc(pool ? pool : 1);
    b->text_off = malloc(n * sizeof *b->text_off);
    b->text_len = malloc(n * sizeof *b->text_len);
    b->bytes_off = malloc(n * sizeof *b->bytes_off);
    b->bytes_len = malloc(n * sizeof *b->bytes_len);
    b->kind = malloc(n);
    const size_t cap = table_cap(n);
    b->table = malloc(cap * sizeof *b->table);
    b->special = malloc(n * sizeof *b->special);
    if (!b->text || !b->bytes || !b->text_off || !b->text_len || !b->bytes_off || !b->bytes_len || !b->kind ||
        !b->table || !b->special)
        return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu tokens", L, n);
    memset(b->table, 0xff, cap * sizeof *b->table);
    b->table_mask = cap - 1;
    size_t at = 0, bat = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t kind = kinds ? kinds[i] : HWA__TOK_NORMAL;
        if (kind < HWA__TOK_NORMAL || kind > HWA__TOK_BYTE) kind = HWA__TOK_NORMAL;
        b->kind[i] = (uint8_t)kind;
        b->text_off[i] = at;
        b->text_len[i] = lens[i];
        memcpy(b->text + at, ptrs[i], lens[i]);
        b->text[at + lens[i]] = '\0';
        at += lens[i] + 1;
        b->bytes_off[i] = bat;
        if (kind == HWA__TOK_CONTROL || kind == HWA__TOK_USER) {
            /* written as they are: matched whole in text, decoded as themselves */
            memcpy(b->bytes + bat, ptrs[i], lens[i]);
            b->bytes_len[i] = lens[i];
            if (lens[i] > 0) { /* kept longest first, by id among equals */
                int32_t j = b->n_special++;
                for (; j > 0 && b->text_len[b->special[j - 1]] < lens[i]; j--) b->special[j] = b->special[j - 1];
                b->special[j] = (int32_t)i;
                b->special_first[(uint8_t)ptrs[i][0]] = true;
            }
        } else {
            const ptrdiff_t got = byte_level_decode(ptrs[i], lens[i], b->bytes + bat);
            char q[200];
            if (got < 0)
                return hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.tokens[%zu] '%s' is not byte-level BPE text", L,
                                i, hwa__io_quote(ptrs[i], lens[i], q, sizeof q));
            b->bytes_len[i] = (size_t)got;
        }
        bat += b->bytes_len[i];
        /* the first of equal texts wins */
        if (lens[i] == 0 || find_text(b, ptrs[i], lens[i], "", 0) >= 0) continue;
        size_t k = (size_t)fnv(0xcbf29ce484222325ull, ptrs[i], lens[i]) & b->table_mask;
        while (b->table[k] >= 0) k = (k + 1) & b->table_mask;
        b->table[k] = (int32_t)i;
    }
    for (int byte = 0; byte < 256; byte++) {
        char s[2];
        const uint32_t cp = byte_to_cp((unsigned)byte);
        const size_t ns = cp < 0x80 ? 1 : 2;
        if (ns == 1) s[0] = (char)cp;
        else s[0] = (char)(0xc0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3f));
        const int32_t id = find_text(b, s, ns, "", 0);
        b->byte_id[byte] = id >= 0 && b->kind[id] == HWA__TOK_NORMAL ? id : -1;
    }
    return HWA_OK;
}

static hwa_status load_merges(hwa__bpe *b, const char *L, const char **ptrs, const size_t *lens, size_t n) {
    const size_t cap = table_cap(n);
    b->merges = malloc(cap * sizeof *b->merges);
    if (!b->merges) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu merges", L, n);
    for (size_t i = 0; i < cap; i++) b->merges[i].a = -1;
    b->merge_mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        const char *s = ptrs[i], *sp = memchr(s, ' ', lens[i]);
        char q[200], qpart[200];
        if (!sp || sp == s || sp == s + lens[i] - 1 || memchr(sp + 1, ' ', lens[i] - (size_t)(sp + 1 - s)))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.merges[%zu] '%s' is not two tokens and a space", L,
                            i, hwa__io_quote(s, lens[i], q, sizeof q));
        const size_t na = (size_t)(sp - s), nc = lens[i] - na - 1;
        const int32_t x = find_text(b, s, na, "", 0), y = find_text(b, sp + 1, nc, "", 0),
                      id = find_text(b, s, na, sp + 1, nc);
        if (x < 0 || y < 0)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.merges[%zu] '%s': '%s' is not a token", L, i,
                            hwa__io_quote(s, lens[i], q, sizeof q),
                            x < 0 ? hwa__io_quote(s, na, qpart, sizeof qpart) : hwa__io_quote(sp + 1, nc, qpart, sizeof qpart));
        if (id < 0)
            return hwa__err(NULL, HWA_E_FORMAT,
                            "%s: tokenizer.ggml.merges[%zu] '%s': the two tokens joined are not a token", L, i,
                            hwa__io_quote(s, lens[i], q, sizeof q));
        /* a pair listed twice takes its later rank, as Hugging Face's does */
        merge_slot *m = &b->merges[pair_slot(b, x, y)];
        *m = (merge_slot){x, y, (int32_t)i, id};
    }
    return HWA_OK;
}

/* The strings of array key: ptrs/lens into the mapping, *n their count. */
static hwa_status read_strings(const hwa_model_file *f, const char *key, const char ***ptrs, size_t **lens, size_t *n) {
    const char *L = hwa_model_file_label(f);
    hwa_gguf_type et;
    uint64_t count;
    hwa_status st = hwa_gguf_get_arr_info(f, key, &et, &count);
    if (st == HWA_E_NOTFOUND) return hwa__err(NULL, HWA_E_FORMAT, "%s: %s is missing", L, key);
    if (st != HWA_OK || et != HWA_GGUF_STRING)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: not an array of strings", L, key);
    if (count > INT32_MAX)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %llu entries (at most %d)", L, key, (unsigned long long)count,
                        INT32_MAX);
    *n = (size_t)count;
    *ptrs = malloc((*n ? *n : 1) * sizeof **ptrs);
    *lens = malloc((*n ? *n : 1) * sizeof **lens);
    if (!*ptrs || !*lens) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %s", L, key);
    if (hwa_gguf_get_arr_strs(f, key, *ptrs, *lens, *n) != HWA_OK)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: unreadable", L, key);
    return HWA_OK;
}

hwa_status hwa__bpe_from_file(const hwa_model_file *f, hwa__bpe **out) {
    *out = NULL;
    const char *L = hwa_model_file_label(f), *pre = NULL;
    hwa__bpe *b = calloc(1, sizeof *b);
    if (!b) return hwa__err(NULL, HWA_E_NOMEM, "tokenizer: out of memory");
    const char **tp = NULL, **mp = NULL;
    size_t *tl = NULL, *ml = NULL, nt = 0, nm = 0;
    int32_t *kinds = NULL;
    hwa_status st = HWA_OK;
    if (hwa_gguf_get_str(f, "tokenizer.ggml.pre", &pre, NULL) == HWA_OK)
        st = hwa__bpe_pre_from_name(pre, L, &b->pre);
    if (st == HWA_OK) st = read_strings(f, "tokenizer.ggml.tokens", &tp, &tl, &nt);
    if (st == HWA_OK && nt == 0) st = hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.tokens is empty", L);
    if (st == HWA_OK) b->n = (int32_t)nt;
    if (st == HWA_OK && hwa_gguf_find_key(f, "tokenizer.ggml.token_type") >= 0) {
        if (!(kinds = malloc(nt * sizeof *kinds))) st = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
        else if (hwa_gguf_get_arr(f, "tokenizer.ggml.token_type", HWA_GGUF_I32, kinds, nt) != HWA_OK)
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: tokenizer.ggml.token_type: not %zu i32 values", L, nt);
    }
    if (st == HWA_OK) st = load_tokens(b, L, tp, tl, kinds);
    if (st == HWA_OK) st = read_strings(f, "tokenizer.ggml.merges", &mp, &ml, &nm);
    if (st == HWA_OK) st = load_merges(b, L, mp, ml, nm);
    free(tp);
    free(tl);
    free(mp);
    free(ml);
    free(kinds);
    if (st != HWA_OK) {
        hwa__bpe_free(b);
        return st;
    }
    *out = b;
    return HWA_OK;
}

/* ---- encode and decode ----------------------------------------------------- */

/* The rank of the merge of x and y (and in *id its token), or INT32_MAX
 * (*id untouched) when there is none. */
static int32_t pair_rank(const hwa__bpe *b, int32_t x, int32_t y, int32_t *id) {
    const merge_slot *m = &b->merges[pair_slot(b, x, y)];
    if (m->a < 0) return INT32_MAX;
    *id = m->id;
    return m->rank;
}

/* Scratch for merging a piece of n tokens: prev and next links and a heap of
 * candidate pairs (at most n - 1 at first and two more per merge). */
typedef struct pair_ent {
    int32_t rank, pos; /* the pair's rank; the position of its left token */
} pair_ent;

typedef struct merge_scratch {
    int32_t *prev, *next;
    pair_ent *heap;
    size_t cap, n_heap;
} merge_scratch;

static bool scratch_fit(merge_scratch *sc, size_t n) {
    if (n <= sc->cap) return true;
    size_t cap = sc->cap ? sc->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *links = realloc(sc->prev, cap * (2 * sizeof(int32_t) + 3 * sizeof(pair_ent)));
    if (!links) return false;
    sc->prev = links;
    sc->next = links + cap;
    sc->heap = (pair_ent *)(links + 2 * cap);
    sc->cap = cap;
    return true;
}

static bool pair_before(pair_ent a, pair_ent b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(merge_scratch *sc, int32_t rank, int32_t pos) {
    if (rank == INT32_MAX) return; /* no merge for this pair */
    size_t i = sc->n_heap++;
    const pair_ent e = {rank, pos};
    for (; i > 0 && pair_before(e, sc->heap[(i - 1) / 2]); i = (i - 1) / 2) sc->heap[i] = sc->heap[(i - 1) / 2];
    sc->heap[i] = e;
}

static pair_ent heap_pop(merge_scratch *sc) {
    const pair_ent top = sc->heap[0], last = sc->heap[--sc->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= sc->n_heap) break;
        if (c + 1 < sc->n_heap && pair_before(sc->heap[c + 1], sc->heap[c])) c++;
        if (!pair_before(sc->heap[c], last)) break;
        sc->heap[i] = sc->heap[c];
        i = c;
    }
    if (sc->n_heap) sc->heap[i] = last;
    return top;
}

/* Merges the n tokens at ids (one per byte of a piece) in place, the pair
 * of lowest rank first and the leftmost of equals (a heap of candidate
 * pairs; one whose tokens have changed since is skipped when it comes up);
 * their new count. */
static size_t merge_piece(const hwa__bpe *b, int32_t *ids, size_t n, merge_scratch *sc) {
    if (n < 2) return n;
    int32_t id = -1;
    sc->n_heap = 0;
    for (size_t i = 0; i < n; i++) {
        sc->prev[i] = (int32_t)i - 1;
        sc->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        if (i + 1 < n) heap_push(sc, pair_rank(b, ids[i], ids[i + 1], &id), (int32_t)i);
    }
    while (sc->n_heap) {
        const pair_ent e = heap_pop(sc);
        const int32_t l = e.pos, r = sc->next[l];
        if (ids[l] < 0 || r < 0 || pair_rank(b, ids[l], ids[r], &id) != e.rank) continue;
        ids[l] = id;
        ids[r] = -1;
        sc->next[l] = sc->next[r];
        if (sc->next[r] >= 0) sc->prev[sc->next[r]] = l;
        if (sc->prev[l] >= 0) heap_push(sc, pair_rank(b, ids[sc->prev[l]], ids[l], &id), sc->prev[l]);
        if (sc->next[l] >= 0) heap_push(sc, pair_rank(b, ids[l], ids[sc->next[l]], &id), l);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0) ids[k++] = ids[i];
    return k;
}

/* The special token at s[0..len) (the longest that matches), or -1. */
static int32_t special_at(const hwa__bpe *b, const char *s, size_t len) {
    if (!b->special_first[(uint8_t)s[0]]) return -1;
    for (int32_t j = 0; j < b->n_special; j++) {
        const int32_t id = b->special[j];
        if (b->text_len[id] <= len && !memcmp(s, b->text + b->text_off[id], b->text_len[id])) return id;
    }
    return -1;
}

/* Splits and merges text without special tokens. */
static hwa_status encode_plain(const hwa__bpe *b, const char *s, size_t len, int32_t *ids, size_t *k,
                               merge_scratch *sc) {
    for (size_t p = 0; p < len;) {
        const size_t n = hwa__bpe_split(b->pre, s + p, len - p);
        if (!scratch_fit(sc, n))
            return hwa__err(NULL, HWA_E_NOMEM, "tokenizer encode: out of memory for a piece of %zu bytes", n);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const int32_t id = b->byte_id[(uint8_t)s[p + i]];
            if (id >= 0) ids[*k + m++] = id; /* a byte without a token is left out, as Hugging Face's BPE does */
        }
        *k += merge_piece(b, ids + *k, m, sc);
        p += n;
    }
    return HWA_OK;
}

hwa_status hwa__bpe_encode(const hwa__bpe *b, const char *text, size_t len, int32_t *ids, size_t *k) {
    merge_scratch sc = {0};
    hwa_status st = HWA_OK;
    size_t from = 0;
    for (size_t p = 0; p < len && st == HWA_OK; p++) {
        const int32_t id = special_at(b, text + p, len - p);
        if (id < 0) continue;
        st = encode_plain(b, text + from, p - from, ids, k, &sc);
        ids[(*k)++] = id;
        p += b->text_len[id] - 1;
        from = p + 1;
    }
    if (st == HWA_OK) st = encode_plain(b, text + from, len - from, ids, k, &sc);
    free(sc.prev);
    return st;
}
const char *hwa__bpe_piece(const hwa__bpe *b, int32_t id, size_t *len) {
    *len = b->bytes_len[id];
    return b->bytes + b->bytes_off[id];
}
