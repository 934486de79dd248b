/* NumPy .npy files: a magic, a version, a header that is a Python dict
 * literal ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }),
 * then the packed data. The header comes from outside: it is parsed by a
 * small grammar that accepts exactly that literal and nothing else. */
#include <stdio.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/onnx/onnx_internal.h"

static const struct {
    char code[3];
    int type;
} npy_types[] = {
    {"f2", HWA_ONNX_FLOAT16}, {"f4", HWA_ONNX_FLOAT}, {"f8", HWA_ONNX_DOUBLE}, {"i1", HWA_ONNX_INT8},
    {"u1", HWA_ONNX_UINT8},   {"i2", HWA_ONNX_INT16}, {"u2", HWA_ONNX_UINT16}, {"i4", HWA_ONNX_INT32},
    {"u4", HWA_ONNX_UINT32},  {"i8", HWA_ONNX_INT64}, {"u8", HWA_ONNX_UINT64}, {"b1", HWA_ONNX_BOOL},
};

typedef struct npy_parser {
    const char *p, *end;
} npy_parser;

static void skip_ws(npy_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static bool take(npy_parser *ps, char c) {
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes into buf (cap bytes, terminated). */
static bool take_string(npy_parser *ps, char *buf, size_t cap) {
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) return false;
    char q = *ps->p++;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || n + 1 >= cap) return false;
        buf[n++] = *ps->p++;
    }
    if (ps->p >= ps->end) return false;
    ps->p++;
    buf[n] = '\0';
    return true;
}

static bool take_word(npy_parser *ps, const char *w) {
    skip_ws(ps);
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n)) return false;
    ps->p += n;
    return true;
}

static bool take_int(npy_parser *ps, int64_t *out) {
    skip_ws(ps);
    int64_t v = 0;
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        if (!hwa__mul_i64(v, 10, &v) || !hwa__add_i64(v, *ps->p - '0', &v)) return false;
        ps->p++;
    }
    if (ps->p < ps->end && *ps->p == 'L') ps->p++; /* Python 2 longs */
    *out = v;
    return ps->p > start;
}

/* (d0, d1, ...) with an optional trailing comma; "()" is a scalar. */
static hwa_status take_shape(npy_parser *ps, const char *label, int *ndim, int64_t *dims) {
    if (!take(ps, '(')) return hwa__err(NULL, HWA_E_FORMAT, "%s: header: shape is not a tuple", label);
    *ndim = 0;
    if (take(ps, ')')) return HWA_OK;
    for (;;) {
        int64_t d;
        if (!take_int(ps, &d)) return hwa__err(NULL, HWA_E_FORMAT, "%s: header: a shape entry is not a count", label);
        if (*ndim == HWA_ONNX_MAX_DIMS)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: more than %d dimensions", label, HWA_ONNX_MAX_DIMS);
        dims[(*ndim)++] = d;
        bool comma = take(ps, ',');
        if (take(ps, ')')) return HWA_OK;
        if (!comma) return hwa__err(NULL, HWA_E_FORMAT, "%s: header: shape tuple is malformed", label);
    }
}

static hwa_status parse_header(const char *h, size_t n, const char *label, int *type, int *ndim, int64_t *dims) {
    npy_parser ps = {h, h + n};
    bool have_descr = false, have_order = false, have_shape = false;
    if (!take(&ps, '{')) return hwa__err(NULL, HWA_E_FORMAT, "%s: header is not a dict", label);
    while (!take(&ps, '}')) {
        char key[32], descr[16];
        if (!take_string(&ps, key, sizeof key) || !take(&ps, ':'))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: header: malformed key", label);
        if (!strcmp(key, "descr") && !have_descr) {
            if (!take_string(&ps, descr, sizeof descr))
                return hwa__err(NULL, HWA_E_FORMAT, "%s: header: descr is not a string", label);
            char q[HWA__QUOTE_CAP];
            hwa__io_quote(descr, strlen(descr), q, sizeof q);
            *type = HWA_ONNX_UNDEFINED;
            for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0] && strlen(descr) == 3; i++)
                if (!strcmp(descr + 1, npy_types[i].code)) *type = npy_types[i].type;
            if (*type == HWA_ONNX_UNDEFINED || !strchr("<>|=", descr[0]))
                return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: dtype '%s' is not read", label, q);
            if (descr[0] == '>' && hwa_onnx_type_size(*type) > 1)
                return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: dtype '%s' is big-endian", label, q);
            have_descr = true;
        } else if (!strcmp(key, "fortran_order") && !have_order) {
            if (take_word(&ps, "True"))
                return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: Fortran-order arrays are not read", label);
            if (!take_word(&ps, "False"))
                return hwa__err(NULL, HWA_E_FORMAT, "%s: header: fortran_order is not True or False", label);
            have_order = true;
        } else if (!strcmp(key, "shape") && !have_shape) {
            hwa_status s = take_shape(&ps, label, ndim, dims);
            if (s != HWA_OK) return s;
            have_shape = true;
        } else {
            char q[HWA__QUOTE_CAP];
            return hwa__err(NULL, HWA_E_FORMAT, "%s: header: unexpected or repeated key '%s'", label,
                            hwa__io_quote(key, strlen(key), q, sizeof q));
        }
        if (!take(&ps, ',')) {
            if (!take(&ps, '}')) return hwa__err(NULL, HWA_E_FORMAT, "%s: header: malformed dict", label);
            break;
        }
    }
    skip_ws(&ps);
    if (ps.p != ps.end) return hwa__err(NULL, HWA_E_FORMAT, "%s: header: text after the dict", label);
    if (!have_descr || !have_order || !have_shape)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: header lacks %s", label,
                        !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return HWA_OK;
}

hwa_status hwa__npy_parse(const uint8_t *b, size_t size, const char *label, hwa_onnx_array **out) {
    *out = NULL;
    if (size < 10 || memcmp(b, "\x93NUMPY", 6))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", label);
    uint8_t major = b[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)hwa__le(b + 8, 2);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return hwa__err(NULL, HWA_E_FORMAT, "%s: truncated header", label);
        hlen = (size_t)hwa__le(b + 8, 4);
        start = 12;
    } else {
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: .npy version %u is not read (1-3)", label, major);
    }
    if (hlen > size - start) return hwa__err(NULL, HWA_E_FORMAT, "%s: truncated header", label);
    int type = HWA_ONNX_UNDEFINED, ndim = 0;
    int64_t dims[HWA_ONNX_MAX_DIMS];
    hwa_status s = parse_header((const char *)b + start, hlen, label, &type, &ndim, dims);
    if (s != HWA_OK) return s;
    size_t es = hwa_onnx_type_size(type), bytes = es;
    for (int i = 0; i < ndim; i++) {
        if ((uint64_t)dims[i] > SIZE_MAX || !hwa__mul_size(bytes, (size_t)dims[i], &bytes))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: the shape's size overflows", label);
    }
    size_t have = size - start - hlen;
    if (have != bytes)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: data holds %zu bytes, the shape needs %zu", label, have, bytes);
    const uint8_t *data = b + start + hlen;
    if (type == HWA_ONNX_BOOL)
        for (size_t i = 0; i < bytes; i++)
            if (data[i] > 1) return hwa__err(NULL, HWA_E_FORMAT, "%s: bool element %zu is %u (0 or 1)", label, i, data[i]);
    return hwa_onnx_array_new("", type, ndim, dims, bytes ? data : NULL, out);
}

hwa_status hwa_npy_load(const char *path, hwa_onnx_array **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_npy_load: out is NULL");
    *out = NULL;
    if (!path) return hwa__err(NULL, HWA_E_MISUSE, "hwa_npy_load: path is NULL");
    hwa__mapped_file f;
    if (hwa__map_file(path, &f) != HWA_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", hwa_last_error());
        return hwa__err(NULL, HWA_E_IO, "%s", why);
    }
    hwa_status s = hwa__npy_parse(f.data, f.size, path, out);
    hwa__unmap_file(&f);
    if (s == HWA_OK) hwa_clear_error();
    return s;
}

typedef struct npy_write {
    const hwa_onnx_array *a;
    char header[512];
    size_t header_len;
} npy_write;

static hwa_status npy_write_fn(void *ud, void *file) {
    npy_write *w = ud;
    FILE *fp = file;
    size_t bytes = (size_t)w->a->n * hwa_onnx_type_size(w->a->type);
    if (fwrite(w->header, 1, w->header_len, fp) != w->header_len ||
        (bytes && fwrite(w->a->data, 1, bytes, fp) != bytes))
        return hwa__err(NULL, HWA_E_IO, "npy: write failed");
    return HWA_OK;
}

hwa_status hwa_npy_save(const char *path, const hwa_onnx_array *a) {
    if (!path || !a) return hwa__err(NULL, HWA_E_MISUSE, "hwa_npy_save: NULL argument");
    const char *code = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].type == a->type) code = npy_types[i].code;
    if (!code)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: NumPy has no dtype for %s", path, hwa_onnx_type_name(a->type));
    if (a->ndim < 0 || a->ndim > HWA_ONNX_MAX_DIMS || (a->n && !a->data))
        return hwa__err(NULL, HWA_E_INVALID, "%s: an array with %d dimensions and %s data", path, a->ndim,
                        a->data ? "some" : "no");
    npy_write w = {.a = a};
    char shape[HWA_ONNX_MAX_DIMS * 24 + 4];
    size_t o = 0;
    shape[o++] = '(';
    for (int i = 0; i < a->ndim; i++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld%s", (long long)a->dims[i],
                              a->ndim == 1 ? "," : i + 1 < a->ndim ? ", " : "");
    snprintf(shape + o, sizeof shape - o, ")");
    /* magic (6) + version (2) + length (2) + dict, padded with spaces to a
     * multiple of 64 and ended by a newline, as NumPy writes it */
    int dict = snprintf(w.header + 10, sizeof w.header - 10, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
                        hwa_onnx_type_size(a->type) == 1 ? '|' : '<', code, shape);
    size_t total = 10 + (size_t)dict + 1;
    total = (total + 63) / 64 * 64;
    memcpy(w.header, "\x93NUMPY\x01\x00", 8);
    size_t hlen = total - 10;
    w.header[8] = (char)(hlen & 0xff);
    w.header[9] = (char)(hlen >> 8);
    memset(w.header + 10 + dict, ' ', total - 10 - (size_t)dict - 1);
    w.header[total - 1] = '\n';
    w.header_len = total;
    return hwa__atomic_write(path, npy_write_fn, &w);
}
