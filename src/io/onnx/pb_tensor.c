/* TensorProto -> hwa_onnx_array: shape and element count with overflow
 * checks, then the data from exactly one place (raw_data, the typed field
 * the type calls for, or an external file), which must hold exactly the
 * shape's bytes. */
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"
#include "io/onnx/pb_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX reader hands out raw_data as is: little-endian hosts only"
#endif

/* The typed field ONNX stores a type's values in when raw_data is absent. */
typedef enum typed_field { F_NONE, F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64 } typed_field;

static typed_field field_for(int type) {
    switch (type) {
    case HWA_ONNX_FLOAT: return F_FLOAT;
    case HWA_ONNX_INT32: case HWA_ONNX_INT16: case HWA_ONNX_INT8: case HWA_ONNX_UINT16: case HWA_ONNX_UINT8:
    case HWA_ONNX_BOOL: case HWA_ONNX_FLOAT16: case HWA_ONNX_BFLOAT16: return F_INT32;
    case HWA_ONNX_INT64: return F_INT64;
    case HWA_ONNX_DOUBLE: return F_DOUBLE;
    case HWA_ONNX_UINT32: case HWA_ONNX_UINT64: return F_UINT64;
    default: return F_NONE;
    }
}

static const char *const field_names[] = {"", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"};

static size_t field_count(const Onnx__TensorProto *t, typed_field f) {
    switch (f) {
    case F_FLOAT: return t->n_float_data;
    case F_INT32: return t->n_int32_data;
    case F_INT64: return t->n_int64_data;
    case F_DOUBLE: return t->n_double_data;
    case F_UINT64: return t->n_uint64_data;
    default: return 0;
    }
}

/* The range an int32_data (or uint64_data) entry must lie in for type. */
static void int_range(int type, int64_t *lo, uint64_t *hi) {
    switch (type) {
    case HWA_ONNX_INT8: *lo = -128; *hi = 127; break;
    case HWA_ONNX_UINT8: *lo = 0; *hi = 255; break;
    case HWA_ONNX_INT16: *lo = -32768; *hi = 32767; break;
    case HWA_ONNX_UINT16: case HWA_ONNX_FLOAT16: case HWA_ONNX_BFLOAT16: *lo = 0; *hi = 65535; break;
    case HWA_ONNX_BOOL: *lo = 0; *hi = 1; break;
    case HWA_ONNX_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    case HWA_ONNX_UINT64: *lo = 0; *hi = UINT64_MAX; break;
    default: *lo = INT32_MIN; *hi = INT32_MAX; break;
    }
}

/* Packs the typed field's n values into es-byte elements. */
static hwa_status pack_typed(hwa_onnx *m, const Onnx__TensorProto *t, const char *what, typed_field f, size_t n,
                             size_t es, const void **out) {
    void *d = hwa__onnx_alloc_n(&m->arena, n, es);
    if (!d) return hwa__err(NULL, HWA_E_NOMEM, "%s: %s: out of memory", m->label, what);
    int64_t lo;
    uint64_t hi;
    int_range(t->data_type, &lo, &hi);
    switch (f) {
    case F_FLOAT: memcpy(d, t->float_data, n * es); break;
    case F_INT64: memcpy(d, t->int64_data, n * es); break;
    case F_DOUBLE: memcpy(d, t->double_data, n * es); break;
    case F_INT32:
        for (size_t i = 0; i < n; i++) {
            int32_t v = t->int32_data[i];
            if (v < lo || (v >= 0 && (uint64_t)v > hi))
                return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: int32_data[%zu] = %d is out of range for %s", m->label,
                                what, i, (int)v, hwa_onnx_type_name(t->data_type));
            if (es == 1) ((uint8_t *)d)[i] = (uint8_t)v;
            else if (es == 2) ((uint16_t *)d)[i] = (uint16_t)v;
            else ((int32_t *)d)[i] = v;
        }
        break;
    case F_UINT64:
        for (size_t i = 0; i < n; i++) {
            uint64_t v = t->uint64_data[i];
            if (v > hi)
                return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: uint64_data[%zu] = %llu is out of range for %s",
                                m->label, what, i, (unsigned long long)v, hwa_onnx_type_name(t->data_type));
            if (es == 4) ((uint32_t *)d)[i] = (uint32_t)v;
            else ((uint64_t *)d)[i] = v;
        }
        break;
    default: break;
    }
    *out = d;
    return HWA_OK;
}

/* A decimal entry of external_data ("offset", "length"). */
static bool parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!s || !*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || !hwa__mul_u64(v, 10, &v) || !hwa__add_u64(v, (uint64_t)(*s - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

static hwa_status external_data(hwa_onnx *m, const Onnx__TensorProto *t, const char *what, size_t bytes, size_t es,
                                const void **out) {
    const char *loc = NULL;
    uint64_t offset = 0, length = 0;
    bool has_length = false;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const char *k = HWA__PB_STR(t->external_data[i]->key), *v = HWA__PB_STR(t->external_data[i]->value);
        if (!strcmp(k, "location")) loc = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            uint64_t x;
            if (!parse_u64(v, &x))
                return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data %s '%.32s' is not a decimal number",
                                m->label, what, k, v);
            if (k[0] == 'o') offset = x;
            else {
                length = x;
                has_length = true;
            }
        }
    }
    if (!loc) return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data without a location", m->label, what);
    if (has_length && length != bytes)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data length %llu, but the shape needs %zu bytes",
                        m->label, what, (unsigned long long)length, bytes);
    const hwa__mapped_file *f;
    hwa_status s = hwa__onnx_external_map(m, what, loc, &f);
    if (s != HWA_OK) return s;
    uint64_t end;
    if (!hwa__add_u64(offset, bytes, &end) || end > f->size)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: external data at offset %llu + %zu bytes runs past its file's end (%zu bytes)",
                        m->label, what, (unsigned long long)offset, bytes, f->size);
    if (!bytes) {
        *out = NULL;
        return HWA_OK;
    }
    const uint8_t *p = (const uint8_t *)f->data + offset;
    if ((uintptr_t)p % es) {
        /* readers load whole elements: a misaligned offset gets a copy */
        void *d = hwa__onnx_alloc(&m->arena, bytes);
        if (!d) return hwa__err(NULL, HWA_E_NOMEM, "%s: %s: out of memory", m->label, what);
        memcpy(d, p, bytes);
        p = d;
    }
    *out = p;
    return HWA_OK;
}

hwa_status hwa__onnx_tensor_convert(hwa_onnx *m, const Onnx__TensorProto *t, const char *what, hwa_onnx_array *out) {
    memset(out, 0, sizeof *out);
    out->name = HWA__PB_STR(t->name);
    if (!t->has_data_type || t->data_type == HWA_ONNX_UNDEFINED)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: no element type", m->label, what);
    int type = t->data_type;
    size_t es = hwa_onnx_type_size(type);
    if (!es)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: %s: element type %d (%s) is not read", m->label, what, type,
                        hwa_onnx_type_name(type));
    if (t->segment) return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: %s: segmented tensors are not read", m->label, what);
    if (t->n_dims > HWA_ONNX_MAX_DIMS)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: %s: %zu dimensions (at most %d)", m->label, what, t->n_dims,
                        HWA_ONNX_MAX_DIMS);
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: dimension %zu is %lld", m->label, what, i,
                            (long long)t->dims[i]);
        if (!hwa__mul_i64(n, t->dims[i], &n))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: the element count overflows", m->label, what);
        out->dims[i] = t->dims[i];
    }
    size_t bytes;
    if ((uint64_t)n > SIZE_MAX || !hwa__mul_size((size_t)n, es, &bytes))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %lld elements overflow the address space", m->label, what,
                        (long long)n);
    out->type = type;
    out->ndim = (int)t->n_dims;
    out->n = n;

    typed_field f = field_for(type);
    /* values may sit in one place only */
    int places = 0;
    for (typed_field g = F_FLOAT; g <= F_UINT64; g++) {
        if (!field_count(t, g)) continue;
        if (g != f)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: a %s tensor with values in %s", m->label, what,
                            hwa_onnx_type_name(type), field_names[g]);
        places++;
    }
    if (t->n_string_data)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: a %s tensor with values in string_data", m->label, what,
                        hwa_onnx_type_name(type));
    bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (t->has_data_location && !external && t->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: data_location %d", m->label, what, (int)t->data_location);
    places += t->has_raw_data + external;
    if (places > 1)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: values in more than one of raw_data, %s and external data",
                        m->label, what, field_names[f]);

    const void *data = NULL;
    if (external) {
        hwa_status s = external_data(m, t, what, bytes, es, &data);
        if (s != HWA_OK) return s;
    } else if (t->has_raw_data) {
        if (t->raw_data.len != bytes)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: raw_data holds %zu bytes, the shape needs %zu", m->label,
                            what, t->raw_data.len, bytes);
        data = bytes ? t->raw_data.data : NULL;
    } else {
        size_t have = field_count(t, f);
        if (have != (size_t)n)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: %s holds %zu values, the shape needs %lld", m->label, what,
                            field_names[f], have, (long long)n);
        if (n) {
            hwa_status s = pack_typed(m, t, what, f, (size_t)n, es, &data);
            if (s != HWA_OK) return s;
        }
    }
    if (type == HWA_ONNX_BOOL && data) {
        const uint8_t *b = data;
        for (size_t i = 0; i < bytes; i++)
            if (b[i] > 1)
                return hwa__err(NULL, HWA_E_FORMAT, "%s: %s: bool element %zu is %u (0 or 1)", m->label, what, i,
                                b[i]);
    }
    out->data = data;
    return HWA_OK;
}
