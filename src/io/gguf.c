/* GGUF v2/v3 reader: every count, length and offset checked against the bytes
 * that remain, with overflow-checked arithmetic; typed metadata getters. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

#define KEY_CAP 65535u
#define DEFAULT_ALIGNMENT 32u

static const char *const type_names[HWA_GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};
static const uint8_t type_sizes[HWA_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *hwa_gguf_type_name(hwa_gguf_type t) {
    return (unsigned)t < HWA_GGUF_TYPE_COUNT ? type_names[t] : "?";
}

/* The ggml tensor types this reader accepts. */
static bool ggml_type_to_fdt(uint32_t t, hwa_file_dtype *out) {
    switch (t) {
    case 0: *out = HWA_FDT_F32; return true;
    case 1: *out = HWA_FDT_F16; return true;
    case 2: *out = HWA_FDT_Q4_0; return true;
    case 3: *out = HWA_FDT_Q4_1; return true;
    case 8: *out = HWA_FDT_Q8_0; return true;
    case 12: *out = HWA_FDT_Q4_K; return true;
    case 14: *out = HWA_FDT_Q6_K; return true;
    case 30: *out = HWA_FDT_BF16; return true;
    default: return false;
    }
}

typedef struct parser {
    hwa_model_file *f;
    hwa__reader r;
    char what[HWA__QUOTE_CAP + 32]; /* the field being read, for messages */
} parser;

static hwa_status truncated(parser *p, const char *field) {
    return hwa__err(NULL, HWA_E_FORMAT, "%s: %s%s: truncated (the file ends at byte %zu)", p->f->label, p->what,
                    field, p->r.size);
}

static hwa_status read_u32(parser *p, const char *field, uint32_t *v) {
    *v = 0;
    return hwa__rd_u32(&p->r, v) ? HWA_OK : truncated(p, field);
}
static hwa_status read_u64(parser *p, const char *field, uint64_t *v) {
    *v = 0;
    return hwa__rd_u64(&p->r, v) ? HWA_OK : truncated(p, field);
}

/* A length-prefixed string of at most cap bytes. */
static hwa_status read_str(parser *p, const char *field, uint64_t cap, const uint8_t **s, size_t *len) {
    uint64_t n;
    *s = NULL;
    *len = 0;
    hwa_status st = read_u64(p, field, &n);
    if (st != HWA_OK) return st;
    if (n > cap)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s%s: string length %" PRIu64 " exceeds the cap of %" PRIu64,
                        p->f->label, p->what, field, n, cap);
    if (n > hwa__rd_left(&p->r))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s%s: string length %" PRIu64 " runs past the end (%zu bytes remain)",
                        p->f->label, p->what, field, n, hwa__rd_left(&p->r));
    *len = (size_t)n;
    hwa__rd_bytes(&p->r, (size_t)n, s);
    return HWA_OK;
}

/* Validates one value of type t and moves past it. */
static hwa_status skip_value(parser *p, uint32_t t, int depth) {
    const char *L = p->f->label;
    if (t >= HWA_GGUF_TYPE_COUNT)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %stype: unknown value type %u", L, p->what, t);
    if (t == HWA_GGUF_STRING) {
        const uint8_t *s;
        size_t n;
        return read_str(p, "value", UINT64_MAX, &s, &n);
    }
    if (t != HWA_GGUF_ARRAY) {
        const uint8_t *b;
        if (!hwa__rd_bytes(&p->r, type_sizes[t], &b)) return truncated(p, "value");
        if (t == HWA_GGUF_BOOL && b[0] > 1)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %svalue: bool byte is %u, not 0 or 1", L, p->what, b[0]);
        return HWA_OK;
    }
    if (depth + 1 > HWA_GGUF_MAX_DEPTH)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %svalue: arrays nested deeper than %d", L, p->what, HWA_GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t count;
    hwa_status s = read_u32(p, "array element type", &et);
    if (s == HWA_OK) s = read_u64(p, "array count", &count);
    if (s != HWA_OK) return s;
    if (et >= HWA_GGUF_TYPE_COUNT)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %sarray element type: unknown value type %u", L, p->what, et);
    size_t left = hwa__rd_left(&p->r);
    /* The least bytes one element can take: its size, a string's length
     * field, a nested array's type and count. */
    size_t min_elem = et == HWA_GGUF_STRING ? 8 : et == HWA_GGUF_ARRAY ? 12 : type_sizes[et];
    if (count > left / min_elem)
        return hwa__err(NULL, HWA_E_FORMAT,
                        "%s: %sarray count: %" PRIu64 " elements of type %s cannot fit in the %zu bytes that remain",
                        L, p->what, count, type_names[et], left);
    if (et != HWA_GGUF_STRING && et != HWA_GGUF_ARRAY && et != HWA_GGUF_BOOL) {
        hwa__rd_bytes(&p->r, (size_t)count * min_elem, NULL);
        return HWA_OK;
    }
    for (uint64_t i = 0; i < count; i++)
        if ((s = skip_value(p, et, depth + 1)) != HWA_OK) return s;
    return HWA_OK;
}

static hwa_status parse_kv(parser *p, uint64_t i, hwa__gguf_kv *kv) {
    char q[HWA__QUOTE_CAP];
    const uint8_t *k;
    size_t klen;
    snprintf(p->what, sizeof p->what, "key-value %" PRIu64 ": ", i);
    hwa_status s = read_str(p, "key", KEY_CAP, &k, &klen);
    if (s != HWA_OK) return s;
    if (klen == 0) return hwa__err(NULL, HWA_E_FORMAT, "%s: %skey: empty", p->f->label, p->what);
    if (memchr(k, 0, klen))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %skey: contains a NUL byte", p->f->label, p->what);
    kv->key = hwa__io_strndup((const char *)k, klen);
    if (!kv->key) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", p->f->label);
    snprintf(p->what, sizeof p->what, "key '%s': ", hwa__io_quote(k, klen, q, sizeof q));
    uint32_t t;
    if ((s = read_u32(p, "type", &t)) != HWA_OK) return s;
    size_t at = p->r.pos;
    if ((s = skip_value(p, t, 0)) != HWA_OK) return s;
    const uint8_t *b = p->r.p + at;
    kv->type = (hwa_gguf_type)t;
    switch (kv->type) {
    case HWA_GGUF_U8: case HWA_GGUF_BOOL: kv->v.u = b[0]; break;
    case HWA_GGUF_I8: kv->v.i = (int8_t)b[0]; break;
    case HWA_GGUF_U16: kv->v.u = hwa__le(b, 2); break;
    case HWA_GGUF_I16: kv->v.i = (int16_t)hwa__le(b, 2); break;
    case HWA_GGUF_U32: kv->v.u = hwa__le(b, 4); break;
    case HWA_GGUF_I32: kv->v.i = (int32_t)hwa__le(b, 4); break;
    case HWA_GGUF_U64: kv->v.u = hwa__le(b, 8); break;
    case HWA_GGUF_I64: kv->v.i = (int64_t)hwa__le(b, 8); break;
    case HWA_GGUF_F32: { uint32_t u = (uint32_t)hwa__le(b, 4); float x; memcpy(&x, &u, 4); kv->v.f = x; break; }
    case HWA_GGUF_F64: { uint64_t u = hwa__le(b, 8); memcpy(&kv->v.f, &u, 8); break; }
    case HWA_GGUF_STRING:
        kv->str_len = (size_t)hwa__le(b, 8);
        kv->str = hwa__io_strndup((const char *)b + 8, kv->str_len);
        if (!kv->str) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", p->f->label);
        break;
    case HWA_GGUF_ARRAY:
        kv->elem_type = (hwa_gguf_type)hwa__le(b, 4);
        kv->count = hwa__le(b + 4, 8);
        kv->elems_at = at + 12;
        break;
    default: break;
    }
    return HWA_OK;
}

static hwa_status parse_kvs(parser *p, uint64_t n_kv) {
    hwa_model_file *f = p->f;
    f->kvs = calloc(n_kv ? (size_t)n_kv : 1, sizeof *f->kvs);
    f->kv_by_key = calloc(n_kv ? (size_t)n_kv : 1, sizeof *f->kv_by_key);
    const char **keys = calloc(n_kv ? (size_t)n_kv : 1, sizeof *keys);
    hwa_status s = HWA_OK;
    if (!f->kvs || !f->kv_by_key || !keys) s = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", f->label);
    for (uint64_t i = 0; s == HWA_OK && i < n_kv; i++) {
        s = parse_kv(p, i, &f->kvs[i]);
        f->n_kv = (size_t)i + 1;
        keys[i] = f->kvs[i].key;
    }
    if (s == HWA_OK) {
        size_t dup = hwa__io_sort_names(f->kv_by_key, f->n_kv, keys);
        if (dup < f->n_kv) {
            char q[HWA__QUOTE_CAP];
            const char *k = f->kvs[f->kv_by_key[dup]].key;
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: key '%s': duplicate key", f->label, hwa__io_quote(k, strlen(k), q, sizeof q));
        }
    }
    free(keys);
    if (s != HWA_OK) return s;
    f->gguf_alignment = DEFAULT_ALIGNMENT;
    int64_t ai = hwa_gguf_find_key(f, "general.alignment");
    if (ai >= 0) {
        const hwa__gguf_kv *kv = &f->kvs[ai];
        if (kv->type != HWA_GGUF_U32)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: general.alignment: type %s, expected u32", f->label,
                            type_names[kv->type]);
        if (kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: general.alignment: %" PRIu64 " is not a non-zero power of two",
                            f->label, kv->v.u);
        f->gguf_alignment = (size_t)kv->v.u;
    }
    return HWA_OK;
}

static hwa_status parse_tensor_info(parser *p, uint64_t i, hwa_file_tensor *t, uint32_t *ggml_type) {
    char q[HWA__QUOTE_CAP];
    const char *L = p->f->label;
    const uint8_t *nm;
    size_t nlen;
    snprintf(p->what, sizeof p->what, "tensor %" PRIu64 ": ", i);
    hwa_status s = read_str(p, "name", HWA_GGUF_MAX_NAME, &nm, &nlen);
    if (s != HWA_OK) return s;
    if (nlen == 0 || memchr(nm, 0, nlen))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %sname: empty or contains a NUL byte", L, p->what);
    t->name = hwa__io_strndup((const char *)nm, nlen);
    if (!t->name) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    const char *qn = hwa__io_quote(nm, nlen, q, sizeof q);
    snprintf(p->what, sizeof p->what, "tensor '%s': ", qn);
    uint32_t nd;
    if ((s = read_u32(p, "n_dims", &nd)) != HWA_OK) return s;
    if (nd < 1 || nd > 4)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %sn_dims: %u dimensions (1 to 4 allowed)", L, p->what, nd);
    t->ndim = (int)nd;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t e;
        if ((s = read_u64(p, "dims", &e)) != HWA_OK) return s;
        if (e == 0 || e > (uint64_t)INT64_MAX)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %sdims[%u]: %" PRIu64 " is not a positive 64-bit extent", L,
                            p->what, d, e);
        t->shape[nd - 1 - d] = (int64_t)e; /* GGUF lists the fastest dimension first */
    }
    if ((s = read_u32(p, "type", ggml_type)) != HWA_OK) return s;
    if (!ggml_type_to_fdt(*ggml_type, &t->file_dtype))
        return hwa__err(NULL, HWA_E_DTYPE, "%s: %stype: unsupported tensor type %u (%s)", L, p->what, *ggml_type, qn);
    return read_u64(p, "offset", &t->offset);
}

typedef struct span { uint64_t begin; size_t n; size_t idx; } span;
static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Sizes, alignment and bounds of every tensor once the data section is known. */
static hwa_status check_tensor_spans(parser *p, size_t data_start) {
    hwa_model_file *f = p->f;
    size_t data_size = f->size - data_start;
    char q[HWA__QUOTE_CAP];
    for (size_t i = 0; i < f->n_tensors; i++) {
        hwa_file_tensor *t = &f->tensors[i];
        const char *qn = hwa__io_quote(t->name, strlen(t->name), q, sizeof q);
        hwa_dtype dt;
        hwa_file_dtype_to_dtype(t->file_dtype, &dt);
        int64_t row = t->shape[t->ndim - 1], nel = row;
        size_t nbytes;
        if (row % hwa_dtype_block_size(dt))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': dims[0]: %" PRId64
                            " elements is not a multiple of the block size %" PRId64 " of %s",
                            f->label, qn, row, hwa_dtype_block_size(dt), hwa_dtype_name(dt));
        if (hwa_dtype_row_bytes(dt, row, &nbytes) != HWA_OK)
            return hwa__err(NULL, HWA_E_OVERFLOW, "%s: tensor '%s': row size overflows", f->label, qn);
        for (int d = 0; d < t->ndim - 1; d++)
            if (!hwa__mul_size(nbytes, (size_t)t->shape[d], &nbytes) || !hwa__mul_i64(nel, t->shape[d], &nel))
                return hwa__err(NULL, HWA_E_OVERFLOW, "%s: tensor '%s': dims: the byte size overflows", f->label, qn);
        t->nbytes = nbytes;
        t->nelements = nel;
        uint64_t end;
        if (t->offset % f->gguf_alignment)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': offset %" PRIu64 " is not a multiple of the alignment %zu",
                            f->label, qn, t->offset, f->gguf_alignment);
        if (!hwa__add_u64(t->offset, nbytes, &end))
            return hwa__err(NULL, HWA_E_OVERFLOW, "%s: tensor '%s': offset %" PRIu64 " + %zu bytes wraps around",
                            f->label, qn, t->offset, nbytes);
        if (end > data_size)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': ends at byte %" PRIu64 " but the data section has %zu",
                            f->label, qn, end, data_size);
        t->offset += data_start;
    }
    /* No two tensors may share bytes. */
    span *sp = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *sp);
    if (!sp) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", f->label);
    for (size_t i = 0; i < f->n_tensors; i++) sp[i] = (span){f->tensors[i].offset, f->tensors[i].nbytes, i};
    qsort(sp, f->n_tensors, sizeof *sp, cmp_span);
    hwa_status s = HWA_OK;
    for (size_t i = 1; i < f->n_tensors && s == HWA_OK; i++)
        if (sp[i].begin < sp[i - 1].begin + sp[i - 1].n) {
            const char *nm = f->tensors[sp[i].idx].name;
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': offset %llu overlaps the tensor before it", f->label,
                         hwa__io_quote(nm, strlen(nm), q, sizeof q), (unsigned long long)(sp[i].begin - data_start));
        }
    free(sp);
    return s;
}

hwa_status hwa__gguf_parse(hwa_model_file *f) {
    parser p = {.f = f, .r = {f->data, 0, f->size}};
    const char *L = f->label;
    const uint8_t *magic;
    if (!hwa__rd_bytes(&p.r, 4, &magic) || memcmp(magic, "GGUF", 4))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: magic: not 'GGUF'", L);
    uint32_t v;
    uint64_t n_tensors, n_kv;
    hwa_status s = read_u32(&p, "version", &v);
    if (s != HWA_OK) return s;
    uint32_t swapped = __builtin_bswap32(v);
    if (v != 2 && v != 3) {
        if (swapped == 2 || swapped == 3)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: version: 0x%08x is byte-swapped (a big-endian file); only "
                            "little-endian GGUF is supported", L, v);
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: version: %u is not supported (only 2 and 3)", L, v);
    }
    f->gguf_version = v;
    if ((s = read_u64(&p, "tensor count", &n_tensors)) != HWA_OK) return s;
    if ((s = read_u64(&p, "key-value count", &n_kv)) != HWA_OK) return s;
    /* A key-value takes at least 13 bytes, a tensor info at least 32. */
    if (n_kv > hwa__rd_left(&p.r) / 13)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: key-value count: %" PRIu64 " cannot fit in the %zu bytes that remain",
                        L, n_kv, hwa__rd_left(&p.r));
    if (n_tensors > hwa__rd_left(&p.r) / 32)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor count: %" PRIu64 " cannot fit in the %zu bytes that remain", L,
                        n_tensors, hwa__rd_left(&p.r));
    if ((s = parse_kvs(&p, n_kv)) != HWA_OK) return s;
    f->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *f->tensors);
    if (!f->tensors) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    for (uint64_t i = 0; i < n_tensors; i++) {
        uint32_t gt;
        s = parse_tensor_info(&p, i, &f->tensors[i], &gt);
        if (f->tensors[i].name) f->n_tensors = (size_t)i + 1;
        if (s != HWA_OK) return s;
    }
    if (n_tensors == 0) return HWA_OK;
    size_t data_start;
    if (!hwa__align_up(p.r.pos, f->gguf_alignment, &data_start) || data_start > f->size)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: data section: starts past the end of the file (%zu bytes)", L, f->size);
    return check_tensor_spans(&p, data_start);
}

/* ---- getters --------------------------------------------------------------- */

uint32_t hwa_gguf_version(const hwa_model_file *f) { return f ? f->gguf_version : 0; }
size_t hwa_gguf_alignment(const hwa_model_file *f) { return f ? f->gguf_alignment : 0; }
size_t hwa_gguf_n_kv(const hwa_model_file *f) { return f ? f->n_kv : 0; }
const char *hwa_gguf_kv_key(const hwa_model_file *f, size_t i) { return f && i < f->n_kv ? f->kvs[i].key : NULL; }
hwa_gguf_type hwa_gguf_kv_type(const hwa_model_file *f, size_t i) {
    return f && i < f->n_kv ? f->kvs[i].type : HWA_GGUF_TYPE_COUNT;
}

int64_t hwa_gguf_find_key(const hwa_model_file *f, const char *key) {
    if (!f || !key || !f->kv_by_key) return -1;
    size_t lo = 0, hi = f->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->kvs[f->kv_by_key[mid]].key, key);
        if (c == 0) return (int64_t)f->kv_by_key[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static hwa_status get_kv(const hwa_model_file *f, const char *key, const hwa__gguf_kv **out) {
    *out = NULL;
    if (!f || !key || f->format != HWA_FORMAT_GGUF)
        return hwa__err(NULL, HWA_E_MISUSE, "gguf: not a GGUF file handle");
    *out = NULL;
    int64_t i = hwa_gguf_find_key(f, key);
    if (i < 0) return hwa__err(NULL, HWA_E_NOTFOUND, "%s: no key '%s'", f->label, key);
    *out = &f->kvs[i];
    return HWA_OK;
}

static hwa_status wrong_type(const hwa_model_file *f, const hwa__gguf_kv *kv, const char *want) {
    return hwa__err(NULL, HWA_E_DTYPE, "%s: key '%s' has type %s, not %s", f->label, kv->key, type_names[kv->type], want);
}

static bool is_signed(hwa_gguf_type t) {
    return t == HWA_GGUF_I8 || t == HWA_GGUF_I16 || t == HWA_GGUF_I32 || t == HWA_GGUF_I64;
}
static bool is_unsigned(hwa_gguf_type t) {
    return t == HWA_GGUF_U8 || t == HWA_GGUF_U16 || t == HWA_GGUF_U32 || t == HWA_GGUF_U64 || t == HWA_GGUF_BOOL;
}

hwa_status hwa_gguf_get_int(const hwa_model_file *f, const char *key, int64_t *out) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_kv(f, key, &kv);
    if (s != HWA_OK) return s;
    if (is_signed(kv->type)) *out = kv->v.i;
    else if (is_unsigned(kv->type)) {
        if (kv->v.u > (uint64_t)INT64_MAX)
            return hwa__err(NULL, HWA_E_RANGE, "%s: key '%s': %" PRIu64 " exceeds INT64_MAX", f->label, key, kv->v.u);
        *out = (int64_t)kv->v.u;
    } else return wrong_type(f, kv, "an integer");
    return HWA_OK;
}

hwa_status hwa_gguf_get_u64(const hwa_model_file *f, const char *key, uint64_t *out) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_kv(f, key, &kv);
    if (s != HWA_OK) return s;
    if (is_unsigned(kv->type)) *out = kv->v.u;
    else if (is_signed(kv->type) && kv->v.i >= 0) *out = (uint64_t)kv->v.i;
    else return wrong_type(f, kv, "an unsigned integer");
    return HWA_OK;
}

hwa_status hwa_gguf_get_float(const hwa_model_file *f, const char *key, double *out) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_kv(f, key, &kv);
    if (s != HWA_OK) return s;
    if (kv->type != HWA_GGUF_F32 && kv->type != HWA_GGUF_F64) return wrong_type(f, kv, "f32 or f64");
    *out = kv->v.f;
    return HWA_OK;
}

hwa_status hwa_gguf_get_bool(const hwa_model_file *f, const char *key, bool *out) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_kv(f, key, &kv);
    if (s != HWA_OK) return s;
    if (kv->type != HWA_GGUF_BOOL) return wrong_type(f, kv, "bool");
    *out = kv->v.u != 0;
    return HWA_OK;
}

hwa_status hwa_gguf_get_str(const hwa_model_file *f, const char *key, const char **out, size_t *len) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_kv(f, key, &kv);
    if (s != HWA_OK) return s;
    if (kv->type != HWA_GGUF_STRING) return wrong_type(f, kv, "string");
    *out = kv->str;
    if (len) *len = kv->str_len;
    return HWA_OK;
}

hwa_status hwa_gguf_get_arr_info(const hwa_model_file *f, const char *key, hwa_gguf_type *elem_type,
                                 uint64_t *count) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_kv(f, key, &kv);
    if (s != HWA_OK) return s;
    if (kv->type != HWA_GGUF_ARRAY) return wrong_type(f, kv, "array");
    if (elem_type) *elem_type = kv->elem_type;
    if (count) *count = kv->count;
    return HWA_OK;
}

static hwa_status get_arr(const hwa_model_file *f, const char *key, hwa_gguf_type want, size_t n,
                          const hwa__gguf_kv **out) {
    hwa_status s = get_kv(f, key, out);
    if (s != HWA_OK) return s;
    const hwa__gguf_kv *kv = *out;
    if (kv->type != HWA_GGUF_ARRAY || kv->elem_type != want)
        return hwa__err(NULL, HWA_E_DTYPE, "%s: key '%s' is not an array of %s", f->label, key, type_names[want]);
    if (kv->count != n)
        return hwa__err(NULL, HWA_E_RANGE, "%s: key '%s' has %" PRIu64 " elements, not %zu", f->label, key, kv->count, n);
    return HWA_OK;
}

hwa_status hwa_gguf_get_arr(const hwa_model_file *f, const char *key, hwa_gguf_type want, void *dst, size_t n) {
    const hwa__gguf_kv *kv;
    if ((unsigned)want >= HWA_GGUF_TYPE_COUNT || want == HWA_GGUF_STRING || want == HWA_GGUF_ARRAY)
        return hwa__err(NULL, HWA_E_MISUSE, "gguf: hwa_gguf_get_arr wants a numeric element type");
    hwa_status s = get_arr(f, key, want, n, &kv);
    if (s != HWA_OK) return s;
    size_t es = type_sizes[want];
    const uint8_t *src = f->data + kv->elems_at;
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) { /* files are little-endian; so is every host we build for */
        uint64_t x = hwa__le(src + i * es, (int)es);
        memcpy(d + i * es, &x, es);
    }
    return HWA_OK;
}

hwa_status hwa_gguf_get_arr_strs(const hwa_model_file *f, const char *key, const char **ptrs, size_t *lens,
                                 size_t n) {
    const hwa__gguf_kv *kv;
    hwa_status s = get_arr(f, key, HWA_GGUF_STRING, n, &kv);
    if (s != HWA_OK) return s;
    size_t at = kv->elems_at; /* validated at open: every length is inside the file */
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)hwa__le(f->data + at, 8);
        ptrs[i] = (const char *)f->data + at + 8;
        lens[i] = len;
        at += 8 + len;
    }
    return HWA_OK;
}

char *hwa_gguf_kv_format(const hwa_model_file *f, size_t i, char *buf, size_t cap) {
    if (!buf || !cap) return buf;
    buf[0] = '\0';
    if (!f || i >= f->n_kv) return buf;
    const hwa__gguf_kv *kv = &f->kvs[i];
    char q[HWA__QUOTE_CAP];
    switch (kv->type) {
    case HWA_GGUF_I8: case HWA_GGUF_I16: case HWA_GGUF_I32: case HWA_GGUF_I64:
        snprintf(buf, cap, "%" PRId64, kv->v.i);
        break;
    case HWA_GGUF_BOOL: snprintf(buf, cap, "%s", kv->v.u ? "true" : "false"); break;
    case HWA_GGUF_F32: case HWA_GGUF_F64: snprintf(buf, cap, "%.9g", kv->v.f); break;
    case HWA_GGUF_STRING: snprintf(buf, cap, "\"%s\"", hwa__io_quote(kv->str, kv->str_len, q, sizeof q)); break;
    case HWA_GGUF_ARRAY: snprintf(buf, cap, "[%s x %" PRIu64 "]", type_names[kv->elem_type], kv->count); break;
    default: snprintf(buf, cap, "%" PRIu64, kv->v.u); break;
    }
    return buf;
}
