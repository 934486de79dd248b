/* Importance matrices (llama.cpp's imatrix): per weight matrix, the sum over
 * the calibration tokens of each input column's squared activation, and
 * the number of activation rows summed. Read from llama.cpp's GGUF form
 * (<weight>.in_sum2 and <weight>.counts tensors, imatrix.* keys) and its
 * legacy .dat form; written in the GGUF form. Files are hostile input: the
 * GGUF goes through the GGUF reader, the .dat through a bounds-checked
 * reader, and every entry is checked (finite, non-negative, one count per
 * matrix) before it is used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

typedef struct imx_entry {
    char *name;
    int64_t n;      /* columns */
    float *sum2;    /* [n] */
    float count;    /* activation rows summed (f32, as llama.cpp stores it) */
} imx_entry;

struct hwa_imatrix {
    imx_entry *e;
    size_t n, cap;
    char **datasets;
    size_t n_datasets;
    int64_t chunk_count, chunk_size;
};

hwa_imatrix *hwa_imatrix_new(void) {
    hwa_imatrix *im = calloc(1, sizeof *im);
    if (!im) hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
    return im;
}

void hwa_imatrix_free(hwa_imatrix *im) {
    if (!im) return;
    for (size_t i = 0; i < im->n; i++) free(im->e[i].name), free(im->e[i].sum2);
    for (size_t i = 0; i < im->n_datasets; i++) free(im->datasets[i]);
    free(im->datasets);
    free(im->e);
    free(im);
}

static imx_entry *find(const hwa_imatrix *im, const char *name) {
    for (size_t i = 0; i < im->n; i++)
        if (!strcmp(im->e[i].name, name)) return &im->e[i];
    return NULL;
}

/* A new entry of n zero columns. */
static hwa_status add_entry(hwa_imatrix *im, const char *name, int64_t n, imx_entry **out) {
    if (im->n == im->cap) {
        const size_t cap = im->cap ? 2 * im->cap : 16;
        imx_entry *e = realloc(im->e, cap * sizeof *e);
        if (!e) return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
        im->e = e, im->cap = cap;
    }
    imx_entry *e = &im->e[im->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->sum2 = calloc((size_t)n, sizeof *e->sum2);
    if (!e->name || !e->sum2) {
        free(e->name), free(e->sum2);
        return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory for '%s' (%lld columns)", name, (long long)n);
    }
    e->n = n;
    im->n++;
    *out = e;
    return HWA_OK;
}

hwa_status hwa_imatrix_add(hwa_imatrix *im, const char *name, const float *sum2, int64_t n, double rows) {
    if (!im || !name || !sum2 || n <= 0 || n > (INT64_C(1) << 32) || !(rows >= 0))
        return hwa__err(NULL, HWA_E_MISUSE, "imatrix add: NULL argument, %lld columns or %g rows", (long long)n, rows);
    imx_entry *e = find(im, name);
    hwa_status st;
    if (!e && (st = add_entry(im, name, n, &e))) return st;
    if (e->n != n)
        return hwa__err(NULL, HWA_E_SHAPE, "imatrix: '%s' has %lld columns, not %lld", name, (long long)e->n,
                        (long long)n);
    for (int64_t i = 0; i < n; i++) e->sum2[i] += sum2[i];
    e->count += (float)rows;
    return HWA_OK;
}

hwa_status hwa_imatrix_set_info(hwa_imatrix *im, const char *dataset, int64_t chunk_count, int64_t chunk_size) {
    if (!im || chunk_count < 0 || chunk_size < 0 || chunk_count > UINT32_MAX || chunk_size > UINT32_MAX)
        return hwa__err(NULL, HWA_E_MISUSE, "imatrix: NULL matrix or chunk figures out of range");
    im->chunk_count = chunk_count, im->chunk_size = chunk_size;
    if (!dataset) return HWA_OK;
    char **d = realloc(im->datasets, (im->n_datasets + 1) * sizeof *d);
    if (!d) return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
    im->datasets = d;
    if (!(d[im->n_datasets] = strdup(dataset))) return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
    im->n_datasets++;
    return HWA_OK;
}

size_t hwa_imatrix_n_entries(const hwa_imatrix *im) { return im ? im->n : 0; }

const char *hwa_imatrix_entry(const hwa_imatrix *im, size_t i, int64_t *n, const float **sum2, double *count) {
    if (!im || i >= im->n) return NULL;
    if (n) *n = im->e[i].n;
    if (sum2) *sum2 = im->e[i].sum2;
    if (count) *count = im->e[i].count;
    return im->e[i].name;
}

size_t hwa_imatrix_n_datasets(const hwa_imatrix *im) { return im ? im->n_datasets : 0; }
const char *hwa_imatrix_dataset(const hwa_imatrix *im, size_t i) {
    return im && i < im->n_datasets ? im->datasets[i] : NULL;
}
int64_t hwa_imatrix_chunk_count(const hwa_imatrix *im) { return im ? im->chunk_count : 0; }
int64_t hwa_imatrix_chunk_size(const hwa_imatrix *im) { return im ? im->chunk_size : 0; }

hwa_status hwa_imatrix_importance(const hwa_imatrix *im, const char *name, int64_t n, float *out) {
    if (!im || !name || !out) return hwa__err(NULL, HWA_E_MISUSE, "imatrix: NULL argument");
    const imx_entry *e = find(im, name);
    if (!e) return hwa__err(NULL, HWA_E_NOTFOUND, "imatrix: no entry for '%s'", name);
    if (e->n != n)
        return hwa__err(NULL, HWA_E_SHAPE, "imatrix: the entry for '%s' has %lld columns, the tensor's rows %lld", name,
                        (long long)e->n, (long long)n);
    /* a matrix that never saw an activation weighs every column alike, as llama.cpp does */
    for (int64_t i = 0; i < n; i++) out[i] = e->count > 0 ? e->sum2[i] / e->count : 1.0f;
    return HWA_OK;
}

/* ---- GGUF form -------------------------------------------------------------- */

hwa_status hwa_imatrix_save(const hwa_imatrix *im, const char *path) {
    if (!im || !path) return hwa__err(NULL, HWA_E_MISUSE, "imatrix save: NULL argument");
    if (!im->n) return hwa__err(NULL, HWA_E_INVALID, "imatrix save: no entries to write");
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
    if (!w) return hwa__err(NULL, HWA_E_NOMEM, "imatrix save: out of memory");
    const uint32_t cc = (uint32_t)im->chunk_count, cs = (uint32_t)im->chunk_size;
    hwa_status st = hwa_gguf_writer_add_str(w, "general.type", "imatrix");
    if (!st) st = hwa_gguf_writer_add_arr_strs(w, "imatrix.datasets", (const char *const *)im->datasets, im->n_datasets);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "imatrix.chunk_count", HWA_GGUF_U32, &cc);
    if (!st) st = hwa_gguf_writer_add_scalar(w, "imatrix.chunk_size", HWA_GGUF_U32, &cs);
    for (size_t i = 0; !st && i < im->n; i++) {
        const imx_entry *e = &im->e[i];
        char name[96];
        if (strlen(e->name) + 8 > 63) {
            st = hwa__err(NULL, HWA_E_INVALID, "imatrix save: '%s' is too long for a GGUF tensor name", e->name);
            break;
        }
        const int64_t sshape[2] = {1, e->n}, cshape[2] = {1, 1};
        snprintf(name, sizeof name, "%s.in_sum2", e->name);
        st = hwa_gguf_writer_add_tensor(w, name, HWA_F32, 2, sshape, e->sum2, (size_t)e->n * sizeof(float));
        snprintf(name, sizeof name, "%s.counts", e->name);
        if (!st) st = hwa_gguf_writer_add_tensor(w, name, HWA_F32, 2, cshape, &e->count, sizeof e->count);
    }
    if (!st) st = hwa_gguf_writer_write(w, path);
    hwa_gguf_writer_free(w);
    return st;
}

/* Every value finite and non-negative. */
static hwa_status check_values(const char *L, const char *name, const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(v[i] >= 0.0f) || !isfinite(v[i]))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: '%s': value %lld is %g (sums of squares are finite and >= 0)", L,
                            name, (long long)i, (double)v[i]);
    return HWA_OK;
}

static hwa_status load_gguf(hwa_imatrix *im, const void *data, size_t size, const char *L) {
    hwa_model_file *f = NULL;
    hwa_status st = hwa_model_file_open_mem(data, size, L, HWA_FORMAT_GGUF, &f);
    if (st) return st;
    int64_t cc = 0, cs = 0;
    hwa_gguf_type et;
    uint64_t nd = 0;
    if (hwa_gguf_get_int(f, "imatrix.chunk_count", &cc) || hwa_gguf_get_int(f, "imatrix.chunk_size", &cs) || cc < 0 ||
        cs < 0 || cc > UINT32_MAX || cs > UINT32_MAX)
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: imatrix.chunk_count and imatrix.chunk_size must be integers in 0..2^32-1",
                      L);
    else if (hwa_gguf_get_arr_info(f, "imatrix.datasets", &et, &nd) || et != HWA_GGUF_STRING)
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: imatrix.datasets: missing or not an array of strings", L);
    if (!st) st = hwa_imatrix_set_info(im, NULL, cc, cs);
    const char **ptrs = NULL;
    size_t *lens = NULL;
    if (!st) {
        ptrs = calloc(nd ? nd : 1, sizeof *ptrs), lens = calloc(nd ? nd : 1, sizeof *lens);
        st = ptrs && lens ? hwa_gguf_get_arr_strs(f, "imatrix.datasets", ptrs, lens, nd)
                          : hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
    }
    for (uint64_t k = 0; !st && k < nd; k++) {
        char *s = malloc(lens[k] + 1);
        if (!s) {
            st = hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
            break;
        }
        memcpy(s, ptrs[k], lens[k]);
        s[lens[k]] = '\0';
        st = hwa_imatrix_set_info(im, s, cc, cs);
        free(s);
    }
    free(ptrs), free(lens);
    static const char sfx_sum[] = ".in_sum2", sfx_cnt[] = ".counts";
    for (size_t i = 0; !st && i < hwa_model_file_n_tensors(f); i++) {
        const hwa_file_tensor *t = hwa_model_file_tensor(f, i);
        const size_t len = strlen(t->name), ls = sizeof sfx_sum - 1, lc = sizeof sfx_cnt - 1;
        const bool is_sum = len > ls && !strcmp(t->name + len - ls, sfx_sum);
        const bool is_cnt = len > lc && !strcmp(t->name + len - lc, sfx_cnt);
        if (!is_sum && !is_cnt) continue; /* other tensors: ignored, as llama.cpp does */
        char base[80], other[96];
        snprintf(base, sizeof base, "%.*s", (int)(len - (is_sum ? ls : lc)), t->name);
        snprintf(other, sizeof other, "%s%s", base, is_sum ? sfx_cnt : sfx_sum);
        const hwa_file_tensor *o = hwa_model_file_find(f, other);
        if (!o) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' has no matching '%s'", L, t->name, other);
            break;
        }
        if (!is_sum) continue; /* the pair is read from its sums */
        if (t->dtype != HWA_F32 || o->dtype != HWA_F32 || !t->has_dtype || !o->has_dtype) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' and '%s' must be f32", L, t->name, other);
            break;
        }
        /* [n_mat, n] sums and [n_mat, 1] counts, outermost first; only dense
         * matrices (one per tensor) are used here */
        if (t->ndim < 1 || t->ndim > 2) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' has %d dims (1 or 2: [n_mat, n])", L, t->name, t->ndim);
            break;
        }
        const int64_t nmat = t->ndim == 2 ? t->shape[0] : 1, n = t->shape[t->ndim - 1];
        if (o->nelements != nmat) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' has %lld values for %lld matrices (one count per matrix)", L,
                          other, (long long)o->nelements, (long long)nmat);
            break;
        }
        if (nmat != 1) {
            st = hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: '%s' holds %lld matrices (experts); only one per weight is "
                          "supported", L, t->name, (long long)nmat);
            break;
        }
        if (find(im, base)) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' appears twice", L, base);
            break;
        }
        float cnt;
        memcpy(&cnt, o->data, sizeof cnt);
        imx_entry *e;
        if (!(cnt == 0.0f || cnt >= 1.0f) || !isfinite(cnt)) {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' is %g (a count of rows: 0, or finite and >= 1)", L, other,
                          (double)cnt);
            break;
        }
        if (!(st = add_entry(im, base, n, &e))) {
            memcpy(e->sum2, t->data, (size_t)n * sizeof(float));
            e->count = cnt;
            st = check_values(L, t->name, e->sum2, n);
        }
    }
    if (!st && !im->n) st = hwa__err(NULL, HWA_E_FORMAT, "%s: no importance entries (<weight>.in_sum2 tensors)", L);
    hwa_model_file_free(f);
    return st;
}

/* ---- the legacy .dat form ------------------------------------------------------ */

/* i32 entry count; per entry i32 name length, the name, i32 calls, i32 value
 * count, f32 values (each the mean square times the calls); optionally an
 * i32 chunk count, an i32 dataset-name length and the name. Little-endian. */
static hwa_status load_dat(hwa_imatrix *im, const void *data, size_t size, const char *L) {
    hwa__reader r = {data, 0, size};
    uint32_t u;
    if (!hwa__rd_u32(&r, &u) || (int32_t)u < 1)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: not an imatrix file (no GGUF magic, and no legacy entry count >= 1)",
                        L);
    const int32_t n_entries = (int32_t)u;
    for (int32_t k = 0; k < n_entries; k++) {
        uint32_t len = 0, ncall = 0, nval = 0;
        const uint8_t *name, *vals;
        if (!hwa__rd_u32(&r, &len) || len < 1 || len > 1024 || !hwa__rd_bytes(&r, len, &name))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: entry %d: name length %u is outside 1..1024 or past the end "
                            "(byte %zu of %zu)", L, k, len, r.pos, size);
        if (memchr(name, 0, len))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: entry %d: the name holds a NUL byte", L, k);
        char nm[1025];
        memcpy(nm, name, len);
        nm[len] = '\0';
        if (!hwa__rd_u32(&r, &ncall) || !hwa__rd_u32(&r, &nval) || (int32_t)ncall < 0 || (int32_t)nval < 1)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: '%s': calls and value count missing, negative or zero", L, nm);
        size_t nb;
        if (!hwa__mul_size(nval, sizeof(float), &nb) || !hwa__rd_bytes(&r, nb, &vals))
            return hwa__err(NULL, HWA_E_FORMAT, "%s: '%s': %u values run past the end of the file (%zu bytes left)", L,
                            nm, nval, size - r.pos);
        if (find(im, nm)) return hwa__err(NULL, HWA_E_FORMAT, "%s: '%s' appears twice", L, nm);
        imx_entry *e;
        hwa_status st = add_entry(im, nm, nval, &e);
        if (st) return st;
        for (uint32_t i = 0; i < nval; i++) {
            const uint32_t b = (uint32_t)hwa__le(vals + 4 * (size_t)i, 4);
            memcpy(&e->sum2[i], &b, 4);
        }
        e->count = (float)ncall; /* sum / count: the mean square, as llama.cpp reads it */
        if ((st = check_values(L, nm, e->sum2, nval))) return st;
    }
    if (!hwa__rd_left(&r)) return HWA_OK;
    uint32_t last = 0, dlen = 0;
    const uint8_t *ds;
    if (!hwa__rd_u32(&r, &last) || !hwa__rd_u32(&r, &dlen) || (int32_t)last < 0 || !hwa__rd_bytes(&r, dlen, &ds) ||
        hwa__rd_left(&r) || memchr(ds, 0, dlen))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: after the entries: expected a chunk count and a dataset name that "
                        "end the file (%zu bytes)", L, size);
    char *name = malloc((size_t)dlen + 1);
    if (!name) return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
    memcpy(name, ds, dlen);
    name[dlen] = '\0';
    hwa_status st = hwa_imatrix_set_info(im, name, last, 0);
    free(name);
    return st;
}

hwa_status hwa_imatrix_load_mem(const void *data, size_t size, const char *label, hwa_imatrix **out) {
    if (out) *out = NULL;
    if ((!data && size) || !out) return hwa__err(NULL, HWA_E_MISUSE, "imatrix load: NULL argument");
    const char *L = label ? label : "<memory>";
    hwa_imatrix *im = hwa_imatrix_new();
    if (!im) return HWA_E_NOMEM;
    const hwa_status st = size >= 4 && !memcmp(data, "GGUF", 4) ? load_gguf(im, data, size, L)
                                                                 : load_dat(im, data, size, L);
    if (st) {
        hwa_imatrix_free(im);
        return st;
    }
    *out = im;
    return HWA_OK;
}

hwa_status hwa_imatrix_load(const char *path, hwa_imatrix **out) {
    if (out) *out = NULL;
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "imatrix load: NULL argument");
    hwa__mapped_file m;
    hwa_status st = hwa__map_file(path, &m);
    if (st) return st;
    st = hwa_imatrix_load_mem(m.data, m.size, path, out);
    hwa__unmap_file(&m);
    return st;
}
