/* The compressed-model file (docs/formats.md, "Compressed model"): encoded
 * for size, decoded with every count checked against the bytes that remain
 * and every index against its range. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"
#include "core/file.h"

#define CM_MAGIC "HWAC"
#define CM_VERSION 1u
#define CM_FLAG_HUFFMAN 1u
#define CM_FORM_SPARSE 1u
#define CM_VAL_F32 0u
#define CM_VAL_SHARED 1u
#define CM_VAL_INT8 2u
/* Sparse gaps under Huffman: symbols 0..254 are the gap itself, 255 an
 * escape followed by gap - 255 in esc_width(in) bits. */
#define CM_GAP_SYMS 256
#define CM_GAP_ESC 255
#define CM_GAP_WIDTH_BITS 5 /* the plain gaps' width field */
#define CM_LEN_BITS 4       /* a Huffman code length in a table */

uint32_t hwa__crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static int esc_width(int64_t in) { return in > CM_GAP_ESC + 1 ? hwa__bit_width((uint64_t)(in - CM_GAP_ESC - 1)) : 0; }
static int count_width(int64_t in) { return hwa__bit_width((uint64_t)in); }

static unsigned values_kind(const hwa_cm_layer *L) {
    return L->bits ? CM_VAL_SHARED : L->q ? CM_VAL_INT8 : CM_VAL_F32;
}

/* ---- encoding --------------------------------------------------------------- */

/* The file's bytes are written through a bit writer kept on byte boundaries. */
typedef hwa__bitw bytes;
static void put(bytes *b, const void *src, size_t n) { hwa__bitw_bytes(b, src, n); }
static void put_u8(bytes *b, unsigned v) {
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
static void put_u16(bytes *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}
static void put_u32(bytes *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}
static void put_f32s(bytes *b, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(b, u);
    }
}

/* A Huffman table for counts over n symbols, written as n 4-bit lengths. */
static hwa_status put_table(hwa__bitw *w, hwa__huff *h, const uint64_t *counts, int n) {
    uint8_t len[HWA_HUFF_MAX_SYMS];
    hwa_status st = hwa__huff_lengths(counts, n, HWA_HUFF_MAX_LEN, len);
    if (st == HWA_OK) st = hwa__huff_build(h, len, n);
    for (int s = 0; st == HWA_OK && s < n; s++) hwa__bitw_put(w, len[s], CM_LEN_BITS);
    return st;
}

static int64_t gap_at(const hwa_cm_layer *L, int64_t r, int64_t k) {
    return L->col[k] - (k > L->row_ptr[r] ? L->col[k - 1] + 1 : 0);
}

static hwa_status put_positions(hwa__bitw *w, const hwa_cm_layer *L, bool huffman) {
    for (int64_t r = 0; r < L->out; r++) hwa__bitw_put(w, (uint32_t)(L->row_ptr[r + 1] - L->row_ptr[r]), count_width(L->in));
    if (!huffman) {
        int64_t max_gap = 0;
        for (int64_t r = 0; r < L->out; r++)
            for (int64_t k = L->row_ptr[r]; k < L->row_ptr[r + 1]; k++)
                if (gap_at(L, r, k) > max_gap) max_gap = gap_at(L, r, k);
        int width = hwa__bit_width((uint64_t)max_gap);
        hwa__bitw_put(w, (uint32_t)width, CM_GAP_WIDTH_BITS);
        for (int64_t r = 0; r < L->out; r++)
            for (int64_t k = L->row_ptr[r]; k < L->row_ptr[r + 1]; k++) hwa__bitw_put(w, (uint32_t)gap_at(L, r, k), width);
        return HWA_OK;
    }
    uint64_t counts[CM_GAP_SYMS] = {0};
    for (int64_t r = 0; r < L->out; r++)
        for (int64_t k = L->row_ptr[r]; k < L->row_ptr[r + 1]; k++) {
            int64_t g = gap_at(L, r, k);
            counts[g < CM_GAP_ESC ? g : CM_GAP_ESC]++;
        }
    hwa__huff h;
    hwa_status st = put_table(w, &h, counts, CM_GAP_SYMS);
    for (int64_t r = 0; st == HWA_OK && r < L->out; r++)
        for (int64_t k = L->row_ptr[r]; k < L->row_ptr[r + 1]; k++) {
            int64_t g = gap_at(L, r, k);
            hwa__huff_put(w, &h, g < CM_GAP_ESC ? (int)g : CM_GAP_ESC);
            if (g >= CM_GAP_ESC) hwa__bitw_put(w, (uint32_t)(g - CM_GAP_ESC), esc_width(L->in));
        }
    return st;
}

static hwa_status put_codes(hwa__bitw *w, const hwa_cm_layer *L, bool huffman) {
    if (!huffman) {
        for (int64_t k = 0; k < L->nnz; k++) hwa__bitw_put(w, L->codes[k], L->bits);
        return HWA_OK;
    }
    uint64_t counts[HWA_HUFF_MAX_SYMS] = {0};
    for (int64_t k = 0; k < L->nnz; k++) counts[L->codes[k]]++;
    hwa__huff h;
    hwa_status st = put_table(w, &h, counts, L->n_codes);
    for (int64_t k = 0; st == HWA_OK && k < L->nnz; k++) hwa__huff_put(w, &h, L->codes[k]);
    return st;
}

/* Layer l's record (validated model). */
static hwa_status put_layer(bytes *b, const hwa_cmodel *m, int l) {
    const hwa_cm_layer *L = &m->layer[l];
    const unsigned kind = values_kind(L);
    put_u32(b, (uint32_t)L->out);
    put_u32(b, (uint32_t)L->in);
    put_u8(b, (L->sparse ? CM_FORM_SPARSE : 0u) | kind << 1);
    put_u8(b, (unsigned)L->bits);
    put_u16(b, (unsigned)L->n_codes);
    put_u32(b, (uint32_t)L->nnz);
    put_f32s(b, L->bias, L->out);
    if (kind == CM_VAL_INT8) {
        put_u8(b, (unsigned)L->act);
        put_u8(b, (unsigned)L->act_zero);
        put_f32s(b, &L->act_scale, 1);
        put_f32s(b, L->q_scale, L->out);
        put(b, L->q, (size_t)L->nnz);
    } else if (kind == CM_VAL_SHARED) {
        put_f32s(b, L->codebook, L->n_codes);
    } else {
        put_f32s(b, L->values, L->nnz);
    }
    if (!L->sparse && kind != CM_VAL_SHARED) return HWA_OK;
    hwa__bitw w = {0};
    hwa_status st = L->sparse ? put_positions(&w, L, m->huffman) : HWA_OK;
    if (st == HWA_OK && kind == CM_VAL_SHARED) st = put_codes(&w, L, m->huffman);
    if (st == HWA_OK) st = hwa__bitw_finish(&w);
    if (st == HWA_OK && w.bytes > UINT32_MAX)
        st = hwa__err(NULL, HWA_E_RANGE, "compressed model: layer %d: its bit stream exceeds 4 GiB", l);
    if (st == HWA_OK) {
        put_u32(b, (uint32_t)w.bytes);
        put(b, w.buf, w.bytes);
    }
    hwa__bitw_free(&w);
    return st;
}

static hwa_status encode(const hwa_cmodel *m, int only_layer, bytes *b) {
    hwa_status st = hwa_cmodel_validate(m);
    if (st) return st;
    if (only_layer < 0) {
        put(b, CM_MAGIC, 4);
        put_u32(b, CM_VERSION);
        put_u8(b, m->huffman ? CM_FLAG_HUFFMAN : 0u);
        put_u8(b, (unsigned)m->n_layers);
        put_u8(b, (unsigned)m->activation);
        put_u8(b, 0);
    }
    for (int l = 0; st == HWA_OK && l < m->n_layers; l++)
        if (only_layer < 0 || l == only_layer) st = put_layer(b, m, l);
    if (st == HWA_OK && only_layer < 0 && !b->nomem) put_u32(b, hwa__crc32(b->buf, b->bytes));
    if (st == HWA_OK && b->nomem) st = hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory encoding");
    return st;
}

hwa_status hwa_cmodel_encode(const hwa_cmodel *m, uint8_t **buf, size_t *n) {
    if (!buf || !n) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_encode: NULL argument");
    *buf = NULL;
    *n = 0;
    bytes b = {0};
    hwa_status st = encode(m, -1, &b);
    if (st) {
        hwa__bitw_free(&b);
        return st;
    }
    *buf = b.buf;
    *n = b.bytes;
    return HWA_OK;
}

hwa_status hwa_cmodel_size(const hwa_cmodel *m, int64_t *size) {
    if (!size) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_size: NULL argument");
    bytes b = {0};
    hwa_status st = encode(m, -1, &b);
    *size = st ? 0 : (int64_t)b.bytes;
    hwa__bitw_free(&b);
    return st;
}

hwa_status hwa_cmodel_layer_size(const hwa_cmodel *m, int l, int64_t *size) {
    if (!m || !size || l < 0 || l >= m->n_layers)
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_layer_size: NULL argument or layer %d out of range", l);
    bytes b = {0};
    hwa_status st = encode(m, l, &b);
    *size = st ? 0 : (int64_t)b.bytes;
    hwa__bitw_free(&b);
    return st;
}

hwa_status hwa_cmodel_write(const hwa_cmodel *m, const char *path) {
    if (!path) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_write: NULL path");
    uint8_t *buf;
    size_t n;
    hwa_status st = hwa_cmodel_encode(m, &buf, &n);
    if (st) return st;
    st = hwa__atomic_write_bytes(path, buf, n);
    free(buf);
    return st;
}

/* ---- decoding ------------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
    const char *name;
    int layer; /* -1: the header */
} rd;

static hwa_status fail(const rd *r, size_t at, const char *field, const char *fmt, ...) HWA_PRINTF(4, 5);
static hwa_status fail(const rd *r, size_t at, const char *field, const char *fmt, ...) {
    char why[512], where[32] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (r->layer >= 0) snprintf(where, sizeof where, "layer %d: ", r->layer);
    return hwa__err(NULL, HWA_E_FORMAT, "%s: %s%s at byte %zu: %s", r->name, where, field, at, why);
}

/* The next n bytes, or a truncation error naming field. */
static hwa_status take(rd *r, size_t n, const char *field, const uint8_t **out) {
    if (r->n - r->off < n)
        return fail(r, r->off, field, "truncated: needs %zu bytes, the file has %zu left", n, r->n - r->off);
    *out = r->p + r->off;
    r->off += n;
    return HWA_OK;
}
static uint32_t le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static hwa_status get_u32(rd *r, const char *field, uint32_t *v) {
    const uint8_t *p = NULL;
    hwa_status st = take(r, 4, field, &p);
    if (st == HWA_OK) *v = le32(p);
    return st;
}
/* n f32 values into a new array (*out malloc'd, at least 1 byte). */
static hwa_status get_f32s(rd *r, int64_t n, const char *field, float **out) {
    size_t nb;
    const uint8_t *p = NULL;
    if (!hwa__mul_size((size_t)n, 4, &nb)) return fail(r, r->off, field, "%lld values overflow", (long long)n);
    hwa_status st = take(r, nb, field, &p);
    if (st) return st;
    *out = malloc(nb ? nb : 1);
    if (!*out) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", r->name);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = le32(p + 4 * i);
        memcpy(&(*out)[i], &u, 4);
    }
    return HWA_OK;
}
static void *alloc_n(int64_t n, size_t size) {
    size_t nb = (size_t)n * size; /* n is bounded by the file's size */
    return malloc(nb ? nb : 1);
}

/* The layer's bit stream, with the offset of its first byte for messages. */
typedef struct stream {
    hwa__bitr br;
    size_t start;
} stream;

static hwa_status sfail(const rd *r, const stream *s, const char *field, const char *why) {
    return fail(r, s->start + (size_t)(s->br.pos / 8), field, "%s", why);
}
static hwa_status sget(const rd *r, stream *s, int width, const char *field, uint32_t *v) {
    return hwa__bitr_get(&s->br, width, v) ? HWA_OK : sfail(r, s, field, "the bit stream ends early");
}
/* A Huffman table of n 4-bit lengths. */
static hwa_status get_table(const rd *r, stream *s, int n, const char *field, hwa__huff *h) {
    uint8_t len[HWA_HUFF_MAX_SYMS];
    for (int i = 0; i < n; i++) {
        uint32_t v;
        hwa_status st = sget(r, s, CM_LEN_BITS, field, &v);
        if (st) return st;
        len[i] = (uint8_t)v;
    }
    if (hwa__huff_build(h, len, n) == HWA_OK) return HWA_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", hwa_last_error());
    return sfail(r, s, field, why);
}
static hwa_status get_sym(const rd *r, stream *s, const hwa__huff *h, const char *field, int *sym) {
    size_t at = s->start + (size_t)(s->br.pos / 8);
    if (hwa__huff_get(&s->br, h, sym) == HWA_OK) return HWA_OK;
    char why[256];
    snprintf(why, sizeof why, "%s", hwa_last_error());
    return fail(r, at, field, "%s", why);
}

static hwa_status get_positions(const rd *r, stream *s, hwa_cm_layer *L, bool huffman) {
    L->row_ptr = alloc_n(L->out + 1, sizeof(int32_t));
    L->col = alloc_n(L->nnz, sizeof(int32_t));
    if (!L->row_ptr || !L->col) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", r->name);
    hwa_status st;
    L->row_ptr[0] = 0;
    for (int64_t i = 0; i < L->out; i++) {
        uint32_t c;
        if ((st = sget(r, s, count_width(L->in), "row count", &c))) return st;
        if (c > L->in || c > L->nnz - L->row_ptr[i]) {
            char why[160];
            snprintf(why, sizeof why, "row %lld keeps %u weights: past its %lld columns or nnz %lld", (long long)i, c,
                     (long long)L->in, (long long)L->nnz);
            return sfail(r, s, "row count", why);
        }
        L->row_ptr[i + 1] = L->row_ptr[i] + (int32_t)c;
    }
    if (L->row_ptr[L->out] != L->nnz) return sfail(r, s, "row count", "the row counts do not add up to nnz");
    hwa__huff h;
    uint32_t width = 0;
    if (huffman) st = get_table(r, s, CM_GAP_SYMS, "gap Huffman table", &h);
    else st = sget(r, s, CM_GAP_WIDTH_BITS, "gap width", &width);
    for (int64_t i = 0; st == HWA_OK && i < L->out; i++) {
        int64_t next = 0; /* the first column the next kept weight may have */
        for (int64_t k = L->row_ptr[i]; k < L->row_ptr[i + 1]; k++) {
            uint32_t g = 0, extra = 0;
            int sym;
            if (huffman) {
                if ((st = get_sym(r, s, &h, "column gap", &sym))) return st;
                g = (uint32_t)sym;
                if (sym == CM_GAP_ESC && (st = sget(r, s, esc_width(L->in), "column gap escape", &extra))) return st;
            } else if ((st = sget(r, s, (int)width, "column gap", &g))) {
                return st;
            }
            int64_t col = next + (int64_t)g + (int64_t)extra;
            if (col >= L->in) {
                char why[160];
                snprintf(why, sizeof why, "row %lld: column %lld is past the row's end (%lld columns)", (long long)i,
                         (long long)col, (long long)L->in);
                return sfail(r, s, "column gap", why);
            }
            L->col[k] = (int32_t)col;
            next = col + 1;
        }
    }
    return st;
}

static hwa_status get_codes(const rd *r, stream *s, hwa_cm_layer *L, bool huffman) {
    L->codes = alloc_n(L->nnz, 1);
    if (!L->codes) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", r->name);
    hwa__huff h;
    hwa_status st = huffman ? get_table(r, s, L->n_codes, "code Huffman table", &h) : HWA_OK;
    for (int64_t k = 0; st == HWA_OK && k < L->nnz; k++) {
        uint32_t c;
        int sym;
        if (huffman) {
            st = get_sym(r, s, &h, "shared code", &sym);
            c = (uint32_t)sym;
        } else {
            st = sget(r, s, L->bits, "shared code", &c);
        }
        if (st == HWA_OK && c >= (uint32_t)L->n_codes) {
            char why[128];
            snprintf(why, sizeof why, "code %u of weight %lld is past the codebook's %d entries", c, (long long)k,
                     L->n_codes);
            return sfail(r, s, "shared code", why);
        }
        if (st == HWA_OK) L->codes[k] = (uint8_t)c;
    }
    return st;
}

/* The bit stream of a sparse or shared layer. */
static hwa_status get_stream(rd *r, hwa_cm_layer *L, unsigned kind, bool huffman) {
    uint32_t nb;
    const uint8_t *p = NULL;
    hwa_status st = get_u32(r, "stream length", &nb);
    if (st == HWA_OK) st = take(r, nb, "bit stream", &p);
    if (st) return st;
    stream s = {.br = {.buf = p, .nbits = (uint64_t)nb * 8, .pos = 0}, .start = r->off - nb};
    /* every code takes a bit at least: bounds the arrays by the file */
    if (kind == CM_VAL_SHARED && (uint64_t)L->nnz > s.br.nbits)
        return fail(r, s.start, "bit stream", "%u bytes cannot hold %lld codes", nb, (long long)L->nnz);
    if (L->sparse && (st = get_positions(r, &s, L, huffman))) return st;
    if (kind == CM_VAL_SHARED && (st = get_codes(r, &s, L, huffman))) return st;
    uint32_t pad;
    uint64_t left = s.br.nbits - s.br.pos;
    if (left >= 8) return fail(r, s.start + (size_t)(s.br.pos / 8), "bit stream", "%llu bits past its end", (unsigned long long)left);
    if (!hwa__bitr_get(&s.br, (int)left, &pad) || pad != 0)
        return fail(r, r->off - 1, "bit stream", "the padding bits are not zero");
    return HWA_OK;
}

static hwa_status get_layer(rd *r, hwa_cmodel *m, int l, bool huffman) {
    hwa_cm_layer *L = &m->layer[l];
    r->layer = l;
    const uint8_t *h = NULL;
    size_t at = r->off;
    hwa_status st = take(r, 16, "layer header", &h);
    if (st) return st;
    uint32_t out = le32(h), in = le32(h + 4), nnz = le32(h + 12);
    unsigned form = h[8], kind = form >> 1, bits = h[9], n_codes = h[10] | (unsigned)h[11] << 8;
    if (out < 1 || in < 1 || out > INT32_MAX || in > INT32_MAX)
        return fail(r, at, "shape", "[%u, %u]: each must be in [1, 2^31)", out, in);
    if (l > 0 && in != m->layer[l - 1].out)
        return fail(r, at + 4, "in", "%u, but layer %d has %lld outputs", in, l - 1, (long long)m->layer[l - 1].out);
    if (kind > CM_VAL_INT8 || (kind == CM_VAL_INT8 && (form & CM_FORM_SPARSE)))
        return fail(r, at + 8, "form", "0x%02x is not a known form", form);
    if ((kind == CM_VAL_SHARED) != (bits != 0) || bits > HWA_CMODEL_MAX_BITS ||
        (kind == CM_VAL_SHARED ? (n_codes < 1 || n_codes > (1u << bits)) : n_codes != 0))
        return fail(r, at + 9, "bits/n_codes", "%u bits, %u codes do not fit the form 0x%02x", bits, n_codes, form);
    L->out = out;
    L->in = in;
    L->sparse = form & CM_FORM_SPARSE;
    L->bits = (int)bits;
    L->n_codes = (int)n_codes;
    L->nnz = nnz;
    if (L->sparse ? (L->nnz > L->out * L->in || nnz > INT32_MAX) : L->nnz != L->out * L->in)
        return fail(r, at + 12, "nnz", "%u weights in a %s [%u, %u] layer", nnz, L->sparse ? "sparse" : "dense", out, in);
    if ((st = get_f32s(r, L->out, "bias", &L->bias))) return st;
    if (kind == CM_VAL_INT8) {
        const uint8_t *a = NULL, *q = NULL;
        at = r->off;
        if ((st = take(r, 2, "activation quantization", &a))) return st;
        if (a[0] > HWA_CM_ACT_STATIC) return fail(r, at, "activation quantization", "mode %u is neither 0 nor 1", a[0]);
        L->act = (hwa_cm_act)a[0];
        L->act_zero = a[1];
        float *scale;
        if ((st = get_f32s(r, 1, "act_scale", &scale))) return st;
        L->act_scale = *scale;
        free(scale);
        if ((st = get_f32s(r, L->out, "q_scale", &L->q_scale))) return st;
        if ((st = take(r, (size_t)L->nnz, "q", &q))) return st;
        if (!(L->q = alloc_n(L->nnz, 1))) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", r->name);
        memcpy(L->q, q, (size_t)L->nnz);
    } else if (kind == CM_VAL_SHARED) {
        if ((st = get_f32s(r, L->n_codes, "codebook", &L->codebook))) return st;
    } else if ((st = get_f32s(r, L->nnz, "values", &L->values))) {
        return st;
    }
    if (L->sparse || kind == CM_VAL_SHARED) st = get_stream(r, L, kind, huffman);
    return st;
}

static hwa_status decode(rd *r, hwa_cmodel *m) {
    const uint8_t *h = NULL;
    hwa_status st = take(r, 12, "header", &h);
    if (st) return st;
    if (memcmp(h, CM_MAGIC, 4)) return fail(r, 0, "magic", "not '" CM_MAGIC "' (not a compressed model)");
    uint32_t version = le32(h + 4);
    if (version != CM_VERSION)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: version at byte 4: %u is not supported (this reader: %u)",
                        r->name, version, CM_VERSION);
    if (h[8] & ~CM_FLAG_HUFFMAN) return fail(r, 8, "flags", "0x%02x has unknown bits", h[8]);
    if (h[9] < 1 || h[9] > HWA_CMODEL_MAX_LAYERS)
        return fail(r, 9, "layer count", "%u is not in [1, %d]", h[9], HWA_CMODEL_MAX_LAYERS);
    if (h[10] >= HWA_ACT_COUNT) return fail(r, 10, "activation", "%u is not a known activation", h[10]);
    if (h[11]) return fail(r, 11, "reserved", "%u, not 0", h[11]);
    m->huffman = h[8] & CM_FLAG_HUFFMAN;
    m->n_layers = h[9];
    m->activation = (hwa_activation)h[10];
    for (int l = 0; l < m->n_layers; l++)
        if ((st = get_layer(r, m, l, m->huffman))) return st;
    r->layer = -1;
    size_t at = r->off;
    uint32_t crc;
    if ((st = get_u32(r, "checksum", &crc))) return st;
    if (r->off != r->n) return fail(r, r->off, "end", "%zu trailing bytes after the checksum", r->n - r->off);
    uint32_t want = hwa__crc32(r->p, at);
    if (crc != want)
        return fail(r, at, "checksum", "CRC-32 0x%08x, but the bytes before it give 0x%08x (a damaged file)", crc, want);
    return HWA_OK;
}

hwa_status hwa_cmodel_decode(const uint8_t *buf, size_t n, const char *name, hwa_cmodel **out) {
    if (!out || (!buf && n)) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_decode: NULL argument");
    *out = NULL;
    rd r = {.p = buf, .n = n, .off = 0, .name = name ? name : "<memory>", .layer = -1};
    hwa_cmodel *m = calloc(1, sizeof *m);
    if (!m) return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    hwa_status st = decode(&r, m);
    if (st == HWA_OK && (st = hwa_cmodel_validate(m))) {
        char why[512];
        snprintf(why, sizeof why, "%s", hwa_last_error());
        st = hwa__err(NULL, st, "%s: %s", r.name, why);
    }
    if (st) {
        hwa_cmodel_free(m);
        return st;
    }
    *out = m;
    return HWA_OK;
}

hwa_status hwa_cmodel_read(const char *path, hwa_cmodel **out) {
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_read: NULL argument");
    *out = NULL;
    hwa__mapped_file f;
    hwa_status st = hwa__map_file(path, &f);
    if (st) return st;
    st = hwa_cmodel_decode(f.data, f.size, path, out);
    hwa__unmap_file(&f);
    return st;
}

bool hwa_cmodel_is_file(const char *path) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return false;
    char magic[4];
    bool ok = fread(magic, 1, 4, f) == 4 && !memcmp(magic, CM_MAGIC, 4);
    fclose(f);
    return ok;
}
