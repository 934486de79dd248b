/* GGUF v2/v3 writer: key-values serialised as they are added, tensors laid out
 * in order at aligned offsets, the file replaced atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

typedef struct gw_tensor {
    char *name;
    uint32_t ggml_type;
    int ndim;
    uint64_t dims[4]; /* fastest first, as GGUF stores them */
    const void *data;
    size_t nbytes;
} gw_tensor;

struct hwa_gguf_writer {
    uint32_t version, alignment;
    uint8_t *kv;     /* serialised key-values */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    char **keys;
    size_t n_keys;
    gw_tensor *t;
    size_t n_t;
};

static bool put(hwa_gguf_writer *w, const void *p, size_t n) {
    size_t need;
    if (!hwa__add_size(w->kv_len, n, &need)) return false;
    if (need > w->kv_cap) {
        size_t nc = w->kv_cap ? w->kv_cap : 256;
        while (nc < need)
            if (!hwa__mul_size(nc, 2, &nc)) return false;
        uint8_t *nb = realloc(w->kv, nc);
        if (!nb) return false;
        w->kv = nb;
        w->kv_cap = nc;
    }
    if (n) memcpy(w->kv + w->kv_len, p, n);
    w->kv_len = need;
    return true;
}
static bool put_le(hwa_gguf_writer *w, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    return put(w, b, (size_t)n);
}
static bool put_str(hwa_gguf_writer *w, const char *s, size_t n) { return put_le(w, n, 8) && put(w, s, n); }

static const uint8_t elem_size[HWA_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

hwa_gguf_writer *hwa_gguf_writer_new(uint32_t version, uint32_t alignment) {
    if (version != 2 && version != 3) {
        hwa__err(NULL, HWA_E_INVALID, "gguf writer: version %u (2 or 3)", version);
        return NULL;
    }
    if (alignment == 0) alignment = 32;
    if (alignment & (alignment - 1)) {
        hwa__err(NULL, HWA_E_INVALID, "gguf writer: alignment %u is not a power of two", alignment);
        return NULL;
    }
    hwa_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) {
        hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
        return NULL;
    }
    w->version = version;
    w->alignment = alignment;
    if (alignment != 32 && hwa_gguf_writer_add_scalar(w, "general.alignment", HWA_GGUF_U32, &alignment) != HWA_OK) {
        hwa_gguf_writer_free(w);
        return NULL;
    }
    return w;
}

void hwa_gguf_writer_free(hwa_gguf_writer *w) {
    if (!w) return;
    free(w->kv);
    for (size_t i = 0; i < w->n_keys; i++) free(w->keys[i]);
    free(w->keys);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->t);
    free(w);
}

/* Records key (unique) and writes it with its type; the value follows. */
static hwa_status begin_kv(hwa_gguf_writer *w, const char *key, hwa_gguf_type t) {
    if (!w || !key || !key[0]) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: NULL or empty key");
    for (size_t i = 0; i < w->n_keys; i++)
        if (!strcmp(w->keys[i], key)) return hwa__err(NULL, HWA_E_INVALID, "gguf writer: duplicate key '%s'", key);
    char **nk = realloc(w->keys, (w->n_keys + 1) * sizeof *nk);
    if (!nk) return hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    w->keys = nk;
    if (!(w->keys[w->n_keys] = hwa__io_strndup(key, strlen(key))))
        return hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    w->n_keys++;
    w->n_kv++;
    if (!put_str(w, key, strlen(key)) || !put_le(w, (uint64_t)t, 4))
        return hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    return HWA_OK;
}

static bool put_elems(hwa_gguf_writer *w, hwa_gguf_type t, const void *elems, size_t n) {
    const uint8_t *p = elems;
    size_t es = elem_size[t];
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (t == HWA_GGUF_BOOL) v = ((const bool *)elems)[i] ? 1 : 0;
        else memcpy(&v, p + i * es, es); /* little-endian host */
        if (!put_le(w, v, (int)es)) return false;
    }
    return true;
}

static bool numeric(hwa_gguf_type t) {
    return (unsigned)t < HWA_GGUF_TYPE_COUNT && t != HWA_GGUF_STRING && t != HWA_GGUF_ARRAY;
}

hwa_status hwa_gguf_writer_add_scalar(hwa_gguf_writer *w, const char *key, hwa_gguf_type t, const void *value) {
    if (!numeric(t) || !value) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: '%s': not a scalar type", key ? key : "");
    hwa_status s = begin_kv(w, key, t);
    if (s == HWA_OK && !put_elems(w, t, value, 1)) s = hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    return s;
}

hwa_status hwa_gguf_writer_add_str(hwa_gguf_writer *w, const char *key, const char *str) {
    if (!str) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: NULL string");
    hwa_status s = begin_kv(w, key, HWA_GGUF_STRING);
    if (s == HWA_OK && !put_str(w, str, strlen(str))) s = hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    return s;
}

hwa_status hwa_gguf_writer_add_arr(hwa_gguf_writer *w, const char *key, hwa_gguf_type t, const void *elems,
                                   size_t n) {
    if (!numeric(t) || (n && !elems)) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: bad array arguments");
    hwa_status s = begin_kv(w, key, HWA_GGUF_ARRAY);
    if (s == HWA_OK && !(put_le(w, (uint64_t)t, 4) && put_le(w, n, 8) && put_elems(w, t, elems, n)))
        s = hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    return s;
}

hwa_status hwa_gguf_writer_add_arr_strs(hwa_gguf_writer *w, const char *key, const char *const *strs, size_t n) {
    if (n && !strs) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: NULL strings");
    hwa_status s = begin_kv(w, key, HWA_GGUF_ARRAY);
    bool ok = s == HWA_OK && put_le(w, HWA_GGUF_STRING, 4) && put_le(w, n, 8);
    for (size_t i = 0; ok && i < n; i++) ok = strs[i] && put_str(w, strs[i], strlen(strs[i]));
    if (s == HWA_OK && !ok) s = hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory or NULL string");
    return s;
}

hwa_status hwa_gguf_writer_add_tensor(hwa_gguf_writer *w, const char *name, hwa_dtype dtype, int ndim,
                                      const int64_t *shape, const void *data, size_t nbytes) {
    if (!w || !name || !shape || (nbytes && !data)) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: NULL argument");
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > HWA_GGUF_MAX_NAME)
        return hwa__err(NULL, HWA_E_INVALID, "gguf writer: tensor name '%s' is empty or longer than %d", name,
                        HWA_GGUF_MAX_NAME);
    uint32_t gt;
    switch (dtype) {
    case HWA_F32: gt = 0; break;
    case HWA_F16: gt = 1; break;
    case HWA_Q4_0: gt = 2; break;
    case HWA_Q4_1: gt = 3; break;
    case HWA_Q8_0: gt = 8; break;
    case HWA_Q4_K: gt = 12; break;
    case HWA_Q6_K: gt = 14; break;
    case HWA_BF16: gt = 30; break;
    default: return hwa__err(NULL, HWA_E_DTYPE, "gguf writer: tensor '%s': dtype %s not writable", name, hwa_dtype_name(dtype));
    }
    if (ndim < 1 || ndim > 4) return hwa__err(NULL, HWA_E_INVALID, "gguf writer: tensor '%s': %d dimensions", name, ndim);
    size_t want;
    hwa_status s = hwa_dtype_row_bytes(dtype, shape[ndim - 1], &want);
    if (s != HWA_OK) return hwa__err(NULL, s, "gguf writer: tensor '%s': bad last dimension", name);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1 || (d < ndim - 1 && !hwa__mul_size(want, (size_t)shape[d], &want)))
            return hwa__err(NULL, HWA_E_INVALID, "gguf writer: tensor '%s': bad shape[%d]", name, d);
    if (want != nbytes)
        return hwa__err(NULL, HWA_E_INVALID, "gguf writer: tensor '%s': %zu bytes given, shape needs %zu", name, nbytes, want);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) return hwa__err(NULL, HWA_E_INVALID, "gguf writer: duplicate tensor '%s'", name);
    gw_tensor *nt = realloc(w->t, (w->n_t + 1) * sizeof *nt);
    if (!nt) return hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    w->t = nt;
    gw_tensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = hwa__io_strndup(name, nlen))) return hwa__err(NULL, HWA_E_NOMEM, "gguf writer: out of memory");
    t->ggml_type = gt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->dims[d] = (uint64_t)shape[ndim - 1 - d];
    t->data = data;
    t->nbytes = nbytes;
    w->n_t++;
    return HWA_OK;
}

static bool fput_le(FILE *fp, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    return fwrite(b, 1, (size_t)n, fp) == (size_t)n;
}
static bool fpad(FILE *fp, size_t *pos, size_t align) {
    while (*pos % align) {
        if (fputc(0, fp) == EOF) return false;
        (*pos)++;
    }
    return true;
}

static hwa_status write_body(void *ud, void *file) {
    hwa_gguf_writer *w = ud;
    FILE *fp = file;
    bool ok = fwrite("GGUF", 1, 4, fp) == 4 && fput_le(fp, w->version, 4) && fput_le(fp, w->n_t, 8) &&
              fput_le(fp, w->n_kv, 8) && (w->kv_len == 0 || fwrite(w->kv, 1, w->kv_len, fp) == w->kv_len);
    size_t pos = 24 + w->kv_len, off = 0;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const gw_tensor *t = &w->t[i];
        size_t nlen = strlen(t->name);
        ok = fput_le(fp, nlen, 8) && fwrite(t->name, 1, nlen, fp) == nlen && fput_le(fp, (uint64_t)t->ndim, 4);
        for (int d = 0; ok && d < t->ndim; d++) ok = fput_le(fp, t->dims[d], 8);
        ok = ok && fput_le(fp, t->ggml_type, 4) && fput_le(fp, off, 8);
        pos += 8 + nlen + 4 + 8 * (size_t)t->ndim + 4 + 8;
        ok = ok && hwa__add_size(off, t->nbytes, &off) && hwa__align_up(off, w->alignment, &off);
    }
    if (w->n_t) ok = ok && fpad(fp, &pos, w->alignment);
    size_t dpos = 0;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        ok = fpad(fp, &dpos, w->alignment) && fwrite(w->t[i].data, 1, w->t[i].nbytes, fp) == w->t[i].nbytes;
        dpos += w->t[i].nbytes;
    }
    return ok ? HWA_OK : hwa__err(NULL, HWA_E_IO, "gguf writer: write failed");
}

hwa_status hwa_gguf_writer_write(hwa_gguf_writer *w, const char *path) {
    if (!w || !path) return hwa__err(NULL, HWA_E_MISUSE, "gguf writer: NULL argument");
    return hwa__atomic_write(path, write_body, w);
}
