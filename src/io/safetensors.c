/* safetensors: validation as strict as the format's reference implementation,
 * zero-copy reading from the mapping, and an atomic writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>

#define Q(s) hwa__io_quote((s), strlen(s), q, sizeof q)

static int cmp_span(const void *a, const void *b) {
    const hwa_file_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static hwa_status parse_meta(hwa_model_file *f, json_t *meta) {
    char q[HWA__QUOTE_CAP];
    if (!json_is_object(meta)) return hwa__err(NULL, HWA_E_FORMAT, "%s: __metadata__: not a JSON object", f->label);
    size_t n = json_object_size(meta);
    f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
    f->meta_vals = calloc(n ? n : 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", f->label);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: __metadata__: value of '%s' is not a string", f->label, Q(k));
        f->meta_keys[f->n_meta] = hwa__io_strndup(k, strlen(k));
        f->meta_vals[f->n_meta] = hwa__io_strndup(json_string_value(v), json_string_length(v));
        if (!f->meta_keys[f->n_meta] || !f->meta_vals[f->n_meta]) {
            f->n_meta++;
            return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", f->label);
        }
        f->n_meta++;
    }
    return HWA_OK;
}

/* Validates one tensor entry; data_size is the data section's length. */
static hwa_status parse_tensor(hwa_model_file *f, const char *name, json_t *v, size_t data_start,
                               size_t data_size, hwa_file_tensor *t) {
    char q[HWA__QUOTE_CAP];
    const char *L = f->label;
    if (!json_is_object(v)) return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': not a JSON object", L, Q(name));
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
            char q2[HWA__QUOTE_CAP];
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': unexpected field '%s'", L, Q(name),
                            hwa__io_quote(k, strlen(k), q2, sizeof q2));
        }
    }
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': dtype missing or not a string", L, Q(name));
    if (!json_is_array(shape)) return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': shape missing or not an array", L, Q(name));
    if (!json_is_array(offs) || json_array_size(offs) != 2)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': data_offsets is not an array of two integers", L, Q(name));
    if (!hwa__st_dtype_from_name(json_string_value(dt), &t->file_dtype)) {
        char q2[HWA__QUOTE_CAP];
        const char *d = json_string_value(dt);
        return hwa__err(NULL, HWA_E_DTYPE, "%s: tensor '%s': unsupported dtype '%s'", L, Q(name),
                        hwa__io_quote(d, strlen(d), q2, sizeof q2));
    }
    size_t nd = json_array_size(shape);
    if (nd > HWA_IO_MAX_DIMS)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: tensor '%s': shape has %zu dimensions, more than %d", L,
                        Q(name), nd, HWA_IO_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t nel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *e = json_array_get(shape, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", L, Q(name), i);
        t->shape[i] = (int64_t)json_integer_value(e);
        if (!hwa__mul_i64(nel, t->shape[i], &nel))
            return hwa__err(NULL, HWA_E_OVERFLOW, "%s: tensor '%s': shape's element count overflows 64 bits", L, Q(name));
    }
    t->nelements = nel;
    size_t nbytes;
    if ((uint64_t)nel > SIZE_MAX || !hwa__mul_size((size_t)nel, hwa__fdt_size(t->file_dtype), &nbytes))
        return hwa__err(NULL, HWA_E_OVERFLOW, "%s: tensor '%s': shape x dtype size overflows", L, Q(name));
    json_int_t b[2];
    for (int i = 0; i < 2; i++) {
        json_t *e = json_array_get(offs, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': data_offsets[%d] is not a non-negative integer", L,
                            Q(name), i);
        b[i] = json_integer_value(e);
    }
    if (b[1] < b[0])
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] are reversed", L, Q(name),
                        (long long)b[0], (long long)b[1]);
    if ((uint64_t)b[1] > data_size)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': ends at byte %lld but the data section has %zu", L,
                        Q(name), (long long)b[1], data_size);
    if ((uint64_t)(b[1] - b[0]) != nbytes)
        return hwa__err(NULL, HWA_E_FORMAT,
                        "%s: tensor '%s': data_offsets span %lld bytes but shape x dtype size is %zu", L, Q(name),
                        (long long)(b[1] - b[0]), nbytes);
    t->nbytes = nbytes;
    t->offset = data_start + (uint64_t)b[0];
    t->name = hwa__io_strndup(name, strlen(name));
    if (!t->name) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", L);
    return HWA_OK;
}

static hwa_status parse_root(hwa_model_file *f, json_t *root, size_t data_start) {
    char q[HWA__QUOTE_CAP];
    size_t data_size = f->size - data_start;
    size_t n = json_object_size(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu tensors", f->label, n);
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        hwa_status s;
        if (!strcmp(k, "__metadata__")) s = parse_meta(f, v);
        else {
            s = parse_tensor(f, k, v, data_start, data_size, &f->tensors[f->n_tensors]);
            if (f->tensors[f->n_tensors].name) f->n_tensors++;
        }
        if (s != HWA_OK) return s;
    }
    /* The tensors must tile the data section: sorted by span, each begins where
     * the previous one ends, and the last ends at the end of the file. */
    qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_span);
    uint64_t at = data_start;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const hwa_file_tensor *t = &f->tensors[i];
        if (t->offset < at)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': data_offsets begin %llu overlaps the previous tensor "
                            "(which ends at %llu)", f->label, Q(t->name),
                            (unsigned long long)(t->offset - data_start), (unsigned long long)(at - data_start));
        if (t->offset > at)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': data_offsets begin %llu leaves a gap after byte %llu",
                            f->label, Q(t->name), (unsigned long long)(t->offset - data_start),
                            (unsigned long long)(at - data_start));
        at = t->offset + t->nbytes;
    }
    if (at != f->size)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: data section: tensors cover %llu bytes but it has %zu (trailing bytes)",
                        f->label, (unsigned long long)(at - data_start), data_size);
    return HWA_OK;
}

hwa_status hwa__st_parse(hwa_model_file *f) {
    const char *L = f->label;
    if (f->size < 8)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: header length: the file has %zu bytes, fewer than the 8 of the field", L,
                        f->size);
    uint64_t hl = hwa__le(f->data, 8);
    if (hl > HWA_ST_MAX_HEADER)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: header length: %llu exceeds the cap of %u bytes", L,
                        (unsigned long long)hl, HWA_ST_MAX_HEADER);
    if (hl > f->size - 8)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: header length: %llu runs past the end of the file (%zu bytes follow)",
                        L, (unsigned long long)hl, f->size - 8);
    const char *hdr = (const char *)f->data + 8;
    if (hl == 0 || hdr[0] != '{')
        return hwa__err(NULL, HWA_E_FORMAT, "%s: header: does not start with '{'", L);
    json_error_t je;
    json_t *root = json_loadb(hdr, (size_t)hl, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &je);
    if (!root) {
        char q[HWA__QUOTE_CAP];
        return hwa__err(NULL, HWA_E_FORMAT, "%s: header: invalid JSON at byte %d: %s", L, je.position,
                        hwa__io_quote(je.text, strlen(je.text), q, sizeof q));
    }
    hwa_status s = HWA_OK;
    if (!json_is_object(root)) s = hwa__err(NULL, HWA_E_FORMAT, "%s: header: not a JSON object", L);
    for (size_t i = (size_t)je.position; s == HWA_OK && i < hl; i++)
        if (hdr[i] != ' ')
            s = hwa__err(NULL, HWA_E_FORMAT, "%s: header: byte %zu after the JSON is 0x%02x; only spaces may pad it", L,
                         i, (unsigned char)hdr[i]);
    if (s == HWA_OK) s = parse_root(f, root, 8 + (size_t)hl);
    json_decref(root);
    return s;
}

/* ---- writer ---------------------------------------------------------------------- */

typedef struct st_entry {
    char *name;
    hwa_file_dtype dtype;
    int ndim;
    int64_t shape[HWA_IO_MAX_DIMS];
    const void *data;
    size_t nbytes;
} st_entry;

struct hwa_st_writer {
    st_entry *e;
    size_t n, cap;
    json_t *meta;
    char *header;   /* during write */
    size_t header_len, padded_len;
};

hwa_st_writer *hwa_st_writer_new(void) {
    hwa_st_writer *w = calloc(1, sizeof *w);
    if (w) w->meta = json_object();
    if (!w || !w->meta) {
        free(w);
        hwa__err(NULL, HWA_E_NOMEM, "safetensors writer: out of memory");
        return NULL;
    }
    return w;
}

void hwa_st_writer_free(hwa_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    json_decref(w->meta);
    free(w);
}

hwa_status hwa_st_writer_add(hwa_st_writer *w, const char *name, hwa_file_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, size_t nbytes) {
    if (!w || !name || (ndim > 0 && !shape) || (nbytes && !data))
        return hwa__err(NULL, HWA_E_MISUSE, "safetensors writer: NULL argument");
    if (!name[0] || !strcmp(name, "__metadata__"))
        return hwa__err(NULL, HWA_E_INVALID, "safetensors writer: invalid tensor name '%s'", name);
    if ((unsigned)dtype > HWA_FDT_BOOL)
        return hwa__err(NULL, HWA_E_DTYPE, "safetensors writer: tensor '%s': unsupported dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > HWA_IO_MAX_DIMS)
        return hwa__err(NULL, HWA_E_INVALID, "safetensors writer: tensor '%s': %d dimensions", name, ndim);
    int64_t nel = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || !hwa__mul_i64(nel, shape[i], &nel))
            return hwa__err(NULL, HWA_E_INVALID, "safetensors writer: tensor '%s': bad shape[%d]", name, i);
    size_t want;
    if (!hwa__mul_size((size_t)nel, hwa__fdt_size(dtype), &want) || want != nbytes)
        return hwa__err(NULL, HWA_E_INVALID, "safetensors writer: tensor '%s': %zu bytes given, shape needs %zu", name,
                        nbytes, want);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name))
            return hwa__err(NULL, HWA_E_INVALID, "safetensors writer: duplicate tensor name '%s'", name);
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        st_entry *ne = realloc(w->e, nc * sizeof *ne);
        if (!ne) return hwa__err(NULL, HWA_E_NOMEM, "safetensors writer: out of memory");
        w->e = ne;
        w->cap = nc;
    }
    st_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = hwa__io_strndup(name, strlen(name));
    if (!e->name) return hwa__err(NULL, HWA_E_NOMEM, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return HWA_OK;
}

hwa_status hwa_st_writer_set_meta(hwa_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return hwa__err(NULL, HWA_E_MISUSE, "safetensors writer: NULL argument");
    json_t *s = json_string(value);
    if (!s || json_object_set_new(w->meta, key, s) != 0)
        return hwa__err(NULL, HWA_E_INVALID, "safetensors writer: metadata '%s' is not valid UTF-8", key);
    return HWA_OK;
}

static hwa_status write_body(void *ud, void *file) {
    hwa_st_writer *w = ud;
    FILE *fp = file;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(w->padded_len >> (8 * i));
    if (fwrite(len, 1, 8, fp) != 8 || fwrite(w->header, 1, w->header_len, fp) != w->header_len)
        return hwa__err(NULL, HWA_E_IO, "safetensors writer: write failed");
    for (size_t i = w->header_len; i < w->padded_len; i++)
        if (fputc(' ', fp) == EOF) return hwa__err(NULL, HWA_E_IO, "safetensors writer: write failed");
    for (size_t i = 0; i < w->n; i++)
        if (w->e[i].nbytes && fwrite(w->e[i].data, 1, w->e[i].nbytes, fp) != w->e[i].nbytes)
            return hwa__err(NULL, HWA_E_IO, "safetensors writer: write failed");
    return HWA_OK;
}

hwa_status hwa_st_writer_write(hwa_st_writer *w, const char *path) {
    if (!w || !path) return hwa__err(NULL, HWA_E_MISUSE, "safetensors writer: NULL argument");
    json_t *root = json_object();
    if (!root) return hwa__err(NULL, HWA_E_NOMEM, "safetensors writer: out of memory");
    int bad = 0;
    if (json_object_size(w->meta)) bad |= json_object_set(root, "__metadata__", w->meta);
    size_t off = 0;
    for (size_t i = 0; i < w->n && !bad; i++) {
        const st_entry *e = &w->e[i];
        json_t *t = json_object(), *shape = json_array(), *offs = json_array();
        bad |= !t || !shape || !offs;
        for (int d = 0; d < e->ndim && !bad; d++) bad |= json_array_append_new(shape, json_integer(e->shape[d]));
        size_t end;
        bad |= !hwa__add_size(off, e->nbytes, &end) || end > (size_t)INT64_MAX;
        if (!bad) {
            bad |= json_array_append_new(offs, json_integer((json_int_t)off));
            bad |= json_array_append_new(offs, json_integer((json_int_t)end));
            bad |= json_object_set_new(t, "dtype", json_string(hwa_file_dtype_name(e->dtype)));
            bad |= json_object_set_new(t, "shape", shape);
            bad |= json_object_set_new(t, "data_offsets", offs);
            shape = offs = NULL;
            bad |= json_object_set_new(root, e->name, t);
            t = NULL;
        }
        json_decref(t);
        json_decref(shape);
        json_decref(offs);
        off = end;
    }
    char *hdr = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!hdr) return hwa__err(NULL, HWA_E_NOMEM, "safetensors writer: cannot build the header (out of memory or bad name)");
    w->header = hdr;
    w->header_len = strlen(hdr);
    hwa_status s = HWA_OK;
    if (!hwa__align_up(w->header_len, 8, &w->padded_len) || w->padded_len > HWA_ST_MAX_HEADER)
        s = hwa__err(NULL, HWA_E_RANGE, "safetensors writer: header of %zu bytes exceeds the cap", w->header_len);
    if (s == HWA_OK) s = hwa__atomic_write(path, write_body, w);
    free(hdr);
    w->header = NULL;
    return s;
}

#else /* no jansson */

hwa_status hwa__st_parse(hwa_model_file *f) {
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: safetensors needs jansson, which this build lacks", f->label);
}
hwa_st_writer *hwa_st_writer_new(void) {
    hwa__err(NULL, HWA_E_UNSUPPORTED, "safetensors writer: this build lacks jansson");
    return NULL;
}
void hwa_st_writer_free(hwa_st_writer *w) { (void)w; }
hwa_status hwa_st_writer_add(hwa_st_writer *w, const char *name, hwa_file_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, size_t nbytes) {
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "safetensors writer: this build lacks jansson");
}
hwa_status hwa_st_writer_set_meta(hwa_st_writer *w, const char *key, const char *value) {
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "safetensors writer: this build lacks jansson");
}
hwa_status hwa_st_writer_write(hwa_st_writer *w, const char *path) {
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "safetensors writer: this build lacks jansson");
}
#endif
