/* Model files: format detection, the open/free life cycle and the accessors
 * every format shares. The parsers live in safetensors.c, gguf.c, llama2c.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

static const char *const format_names[HWA_FORMAT_COUNT] = {
    "unknown", "safetensors", "gguf", "llama2c", "llama2c-tokenizer", "idx",
};

const char *hwa_file_format_name(hwa_file_format f) {
    return (unsigned)f < HWA_FORMAT_COUNT ? format_names[f] : "unknown";
}

hwa_status hwa_file_format_from_name(const char *name, hwa_file_format *out) {
    if (!name || !out) return hwa__err(NULL, HWA_E_MISUSE, "file format: NULL argument");
    for (int i = 0; i < HWA_FORMAT_COUNT; i++)
        if (!strcmp(name, format_names[i])) {
            *out = (hwa_file_format)i;
            return HWA_OK;
        }
    return hwa__err(NULL, HWA_E_NOTFOUND, "unknown file format '%s'", name);
}

static const struct { const char *name; size_t size; int dtype; } fdt_table[HWA_FDT_COUNT] = {
    [HWA_FDT_F64] = {"F64", 8, -1},        [HWA_FDT_F32] = {"F32", 4, HWA_F32},
    [HWA_FDT_F16] = {"F16", 2, HWA_F16},   [HWA_FDT_BF16] = {"BF16", 2, HWA_BF16},
    [HWA_FDT_I64] = {"I64", 8, -1},        [HWA_FDT_I32] = {"I32", 4, HWA_I32},
    [HWA_FDT_I16] = {"I16", 2, -1},        [HWA_FDT_I8] = {"I8", 1, HWA_I8},
    [HWA_FDT_U8] = {"U8", 1, -1},          [HWA_FDT_BOOL] = {"BOOL", 1, -1},
    [HWA_FDT_Q8_0] = {"Q8_0", 34, HWA_Q8_0}, [HWA_FDT_Q4_0] = {"Q4_0", 18, HWA_Q4_0},
    [HWA_FDT_Q4_1] = {"Q4_1", 20, HWA_Q4_1}, [HWA_FDT_Q4_K] = {"Q4_K", 144, HWA_Q4_K},
    [HWA_FDT_Q6_K] = {"Q6_K", 210, HWA_Q6_K},
};

const char *hwa_file_dtype_name(hwa_file_dtype t) {
    return (unsigned)t < HWA_FDT_COUNT ? fdt_table[t].name : "?";
}

size_t hwa__fdt_size(hwa_file_dtype t) { return (unsigned)t < HWA_FDT_COUNT ? fdt_table[t].size : 0; }

bool hwa__st_dtype_from_name(const char *s, hwa_file_dtype *out) {
    for (int i = 0; i <= HWA_FDT_BOOL; i++)
        if (!strcmp(s, fdt_table[i].name)) {
            *out = (hwa_file_dtype)i;
            return true;
        }
    return false;
}

hwa_status hwa_file_dtype_to_dtype(hwa_file_dtype t, hwa_dtype *out) {
    if ((unsigned)t >= HWA_FDT_COUNT || fdt_table[t].dtype < 0)
        return hwa__err(NULL, HWA_E_DTYPE, "file dtype %s has no engine dtype", hwa_file_dtype_name(t));
    if (out) *out = (hwa_dtype)fdt_table[t].dtype;
    return HWA_OK;
}

hwa_status hwa_file_dtype_from_dtype(hwa_dtype t, hwa_file_dtype *out) {
    for (int i = 0; i < HWA_FDT_COUNT; i++)
        if (fdt_table[i].dtype == (int)t) {
            if (out) *out = (hwa_file_dtype)i;
            return HWA_OK;
        }
    return hwa__err(NULL, HWA_E_DTYPE, "dtype %d has no file dtype", (int)t);
}

/* ---- helpers ------------------------------------------------------------- */

const char *hwa__io_quote(const void *s, size_t n, char *buf, size_t cap) {
    const unsigned char *p = s;
    size_t o = 0, lim = n > 48 ? 48 : n;
    if (cap < 8) {
        if (cap) buf[0] = '\0';
        return buf;
    }
    for (size_t i = 0; i < lim && o + 8 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\') buf[o++] = (char)p[i];
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", p[i]);
    }
    if (lim < n && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

char *hwa__io_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static _Thread_local const char *const *tls_sort_names;
static int cmp_idx_name(const void *a, const void *b) {
    return strcmp(tls_sort_names[*(const size_t *)a], tls_sort_names[*(const size_t *)b]);
}

size_t hwa__io_sort_names(size_t *idx, size_t n, const char *const *names) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    tls_sort_names = names;
    if (n > 1) qsort(idx, n, sizeof *idx, cmp_idx_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[idx[i - 1]], names[idx[i]])) return i;
    return n;
}

hwa_status hwa__io_finish_tensors(hwa_model_file *f) {
    size_t n = f->n_tensors;
    if (n == 0) return HWA_OK;
    f->by_name = malloc(n * sizeof *f->by_name);
    const char **names = malloc(n * sizeof *names);
    if (!f->by_name || !names) {
        free(names);
        return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu tensor names", f->label, n);
    }
    for (size_t i = 0; i < n; i++) names[i] = f->tensors[i].name;
    size_t dup = hwa__io_sort_names(f->by_name, n, names);
    free(names);
    if (dup < n) {
        char q[HWA__QUOTE_CAP];
        const char *nm = f->tensors[f->by_name[dup]].name;
        return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': duplicate tensor name", f->label,
                        hwa__io_quote(nm, strlen(nm), q, sizeof q));
    }
    for (size_t i = 0; i < n; i++) {
        hwa_file_tensor *t = &f->tensors[i];
        t->has_dtype = hwa_file_dtype_to_dtype(t->file_dtype, &t->dtype) == HWA_OK;
        t->data = t->nbytes ? f->data + t->offset : NULL;
    }
    hwa_clear_error();
    return HWA_OK;
}

/* ---- detection ------------------------------------------------------------- */

hwa_file_format hwa_file_detect(const void *data, size_t n) {
    const uint8_t *b = data;
    if (!b) return HWA_FORMAT_UNKNOWN;
    if (n >= 4 && !memcmp(b, "GGUF", 4)) return HWA_FORMAT_GGUF;
    if (n >= 9) {
        uint64_t hl = hwa__le(b, 8);
        if (hl >= 2 && hl <= n - 8 && b[8] == '{') return HWA_FORMAT_SAFETENSORS;
    }
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return HWA_FORMAT_IDX;
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] >= 0x08 && b[2] <= 0x0e && b[3] >= 1 && b[3] <= 4)
        return HWA_FORMAT_IDX;
    if (n >= 28) {
        int32_t w[7];
        for (int i = 0; i < 7; i++) w[i] = (int32_t)(uint32_t)hwa__le(b + 4 * i, 4);
        hwa_llama2c_config c = {w[0], w[1], w[2], w[3], w[4], w[5] < 0 && w[5] != INT32_MIN ? -w[5] : w[5],
                                w[6], w[5] > 0};
        uint64_t want;
        hwa_status saved_ok = hwa_llama2c_config_check(&c, "", &want);
        hwa_clear_error();
        if (saved_ok == HWA_OK && want == n) return HWA_FORMAT_LLAMA2C;
    }
    if (n >= 4) {
        hwa_vocab *v = NULL;
        if (hwa__vocab_parse(b, n, "", 0, &v) == HWA_OK) {
            hwa_vocab_free(v);
            return HWA_FORMAT_LLAMA2C_VOCAB;
        }
        hwa_clear_error();
    }
    return HWA_FORMAT_UNKNOWN;
}

hwa_status hwa_file_detect_path(const char *path, hwa_file_format *out) {
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "file detect: NULL argument");
    hwa__mapped_file m;
    hwa_status s = hwa__map_file(path, &m);
    if (s != HWA_OK) return s;
    *out = hwa_file_detect(m.data, m.size);
    hwa__unmap_file(&m);
    return HWA_OK;
}

/* ---- open / free ------------------------------------------------------------- */

static hwa_status parse_as(hwa_model_file *f, hwa_file_format format) {
    if (format == HWA_FORMAT_UNKNOWN) {
        format = hwa_file_detect(f->data, f->size);
        if (format == HWA_FORMAT_UNKNOWN) {
            /* Not recognisable: the most useful complaint is the llama2.c one
             * (that format has no magic), when the file is large enough. */
            if (f->size >= 28) {
                hwa_status s = hwa__l2c_parse(f);
                if (s != HWA_OK) {
                    char why[512];
                    snprintf(why, sizeof why, "%s", hwa_last_error());
                    return hwa__err(NULL, s, "%s (no safetensors, GGUF or IDX header, so read as a llama2.c "
                                    "checkpoint)", why);
                }
            }
            return hwa__err(NULL, HWA_E_FORMAT,
                            "%s: content: not safetensors, GGUF, a llama2.c checkpoint or tokenizer, or IDX "
                            "(%zu bytes)", f->label, f->size);
        }
    }
    f->format = format;
    switch (format) {
    case HWA_FORMAT_SAFETENSORS: return hwa__st_parse(f);
    case HWA_FORMAT_GGUF: return hwa__gguf_parse(f);
    case HWA_FORMAT_LLAMA2C: return hwa__l2c_parse(f);
    case HWA_FORMAT_LLAMA2C_VOCAB: return hwa__vocab_parse(f->data, f->size, f->label, 0, &f->vocab);
    case HWA_FORMAT_IDX:
        return hwa__err(NULL, HWA_E_MISUSE, "%s: an IDX data file, not a model file (use hwa_idx_load)", f->label);
    default: return hwa__err(NULL, HWA_E_MISUSE, "%s: invalid format %d", f->label, (int)format);
    }
}

static hwa_status open_common(hwa_model_file *f, hwa_file_format format, hwa_model_file **out) {
    hwa_status s = parse_as(f, format);
    if (s == HWA_OK) s = hwa__io_finish_tensors(f);
    if (s != HWA_OK) {
        hwa_model_file_free(f);
        return s;
    }
    *out = f;
    return HWA_OK;
}

hwa_status hwa_model_file_open_mem(const void *data, size_t n, const char *label,
                                   hwa_file_format format, hwa_model_file **out) {
    if (out) *out = NULL;
    if (!out || (!data && n)) return hwa__err(NULL, HWA_E_MISUSE, "model file: NULL argument");
    hwa_model_file *f = calloc(1, sizeof *f);
    if (f) f->label = hwa__io_strndup(label ? label : "<memory>", strlen(label ? label : "<memory>"));
    if (!f || !f->label) {
        free(f);
        return hwa__err(NULL, HWA_E_NOMEM, "model file: out of memory");
    }
    f->data = data;
    f->size = n;
    return open_common(f, format, out);
}

hwa_status hwa_model_file_open(const char *path, hwa_file_format format, hwa_model_file **out) {
    if (out) *out = NULL;
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "model file: NULL argument");
    hwa_model_file *f = calloc(1, sizeof *f);
    if (f) f->label = hwa__io_strndup(path, strlen(path));
    if (!f || !f->label) {
        free(f);
        return hwa__err(NULL, HWA_E_NOMEM, "model file: out of memory");
    }
    hwa_status s = hwa__map_file(path, &f->map);
    if (s != HWA_OK) {
        hwa_model_file_free(f);
        return s;
    }
    f->data = f->map.data;
    f->size = f->map.size;
    return open_common(f, format, out);
}

void hwa_model_file_free(hwa_model_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    free(f->by_name);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    for (size_t i = 0; i < f->n_kv; i++) {
        free(f->kvs[i].key);
        free(f->kvs[i].str);
    }
    free(f->kvs);
    free(f->kv_by_key);
    hwa_vocab_free(f->vocab);
    hwa__unmap_file(&f->map);
    free(f->label);
    free(f);
}

/* ---- accessors ----------------------------------------------------------------- */

hwa_file_format hwa_model_file_format(const hwa_model_file *f) { return f ? f->format : HWA_FORMAT_UNKNOWN; }
const char *hwa_model_file_label(const hwa_model_file *f) { return f ? f->label : ""; }
const void *hwa_model_file_bytes(const hwa_model_file *f, size_t *size) {
    if (size) *size = f ? f->size : 0;
    return f ? f->data : NULL;
}
size_t hwa_model_file_n_tensors(const hwa_model_file *f) { return f ? f->n_tensors : 0; }

const hwa_file_tensor *hwa_model_file_tensor(const hwa_model_file *f, size_t i) {
    return f && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const hwa_file_tensor *hwa_model_file_find(const hwa_model_file *f, const char *name) {
    if (!f || !name || !f->by_name) return NULL;
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[f->by_name[mid]].name, name);
        if (c == 0) return &f->tensors[f->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t hwa_model_file_n_meta(const hwa_model_file *f) { return f ? f->n_meta : 0; }

hwa_status hwa_model_file_meta(const hwa_model_file *f, size_t i, const char **key, const char **value) {
    if (!f || i >= f->n_meta) return hwa__err(NULL, HWA_E_RANGE, "model file: metadata index out of range");
    if (key) *key = f->meta_keys[i];
    if (value) *value = f->meta_vals[i];
    return HWA_OK;
}

const char *hwa_model_file_meta_get(const hwa_model_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

uint64_t hwa_checksum64(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

uint64_t hwa_file_tensor_checksum(const hwa_file_tensor *t) {
    return t ? hwa_checksum64(t->data, t->data ? t->nbytes : 0) : 0;
}
