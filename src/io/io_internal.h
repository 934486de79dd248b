/* Shared internals of the file readers and writers. Not a published API. */
#ifndef HWADAPT_IO_INTERNAL_H
#define HWADAPT_IO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/internal.h"
#include "core/file.h"

/* One GGUF key-value. Scalars keep their value; strings a NUL-terminated
 * copy; arrays the position of their first element in the mapping. */
typedef struct hwa__gguf_kv {
    char *key;
    hwa_gguf_type type;
    union { uint64_t u; int64_t i; double f; } v;
    char *str;             /* STRING */
    size_t str_len;
    hwa_gguf_type elem_type; /* ARRAY */
    uint64_t count;
    size_t elems_at;       /* file offset of the first element */
} hwa__gguf_kv;

struct hwa_model_file {
    hwa_file_format format;
    char *label;
    hwa__mapped_file map;  /* zero when opened from memory */
    const uint8_t *data;
    size_t size;

    hwa_file_tensor *tensors;
    size_t n_tensors;
    size_t *by_name;       /* tensor indices sorted by name */

    char **meta_keys, **meta_vals;   /* safetensors __metadata__ */
    size_t n_meta;

    uint32_t gguf_version;
    size_t gguf_alignment;
    hwa__gguf_kv *kvs;
    size_t n_kv;
    size_t *kv_by_key;     /* kv indices sorted by key */

    hwa_llama2c_config l2c;
    hwa_vocab *vocab;      /* llama2.c tokenizer files */
};

/* A bounds-checked little-endian reader over a byte range. Every take
 * fails (false) without moving when fewer bytes remain than it needs. */
typedef struct hwa__reader {
    const uint8_t *p;
    size_t pos, size;
} hwa__reader;

static inline size_t hwa__rd_left(const hwa__reader *r) { return r->size - r->pos; }
static inline bool hwa__rd_bytes(hwa__reader *r, size_t n, const uint8_t **out) {
    if (n > hwa__rd_left(r)) return false;
    if (out) *out = r->p + r->pos;
    r->pos += n;
    return true;
}
static inline uint64_t hwa__le(const uint8_t *b, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}
static inline bool hwa__rd_u32(hwa__reader *r, uint32_t *out) {
    const uint8_t *b;
    if (!hwa__rd_bytes(r, 4, &b)) return false;
    *out = (uint32_t)hwa__le(b, 4);
    return true;
}
static inline bool hwa__rd_u64(hwa__reader *r, uint64_t *out) {
    const uint8_t *b;
    if (!hwa__rd_bytes(r, 8, &b)) return false;
    *out = hwa__le(b, 8);
    return true;
}

/* Writes a printable, quoted-safe rendering of n bytes of s (non-printable
 * bytes as \xNN, truncated with "..." past 48 bytes) into buf. Messages
 * quote names from files through this so an error stays one line. */
const char *hwa__io_quote(const void *s, size_t n, char *buf, size_t cap);
#define HWA__QUOTE_CAP 208

/* strdup/strndup that return NULL on failure. */
char *hwa__io_strndup(const char *s, size_t n);

/* Sorts idx[0..n) by names[idx[i]]; returns the position of the first
 * duplicate pair's second element, or n when there is none. */
size_t hwa__io_sort_names(size_t *idx, size_t n, const char *const *names);

/* Fills tensor bookkeeping common to all formats and sorts by_name; rejects
 * duplicate names ("duplicate tensor name 'x'"). */
hwa_status hwa__io_finish_tensors(hwa_model_file *f);

/* Per-format parsers: fill f (already holding data, size, label) or record
 * an error naming f->label. The caller frees f on failure. */
hwa_status hwa__st_parse(hwa_model_file *f);
hwa_status hwa__gguf_parse(hwa_model_file *f);
hwa_status hwa__l2c_parse(hwa_model_file *f);
hwa_status hwa__vocab_parse(const uint8_t *data, size_t n, const char *label, int32_t n_tokens,
                            hwa_vocab **out);

/* Safetensors dtype names and sizes. */
size_t hwa__fdt_size(hwa_file_dtype t); /* bytes per element; Q types: per block */
bool hwa__st_dtype_from_name(const char *s, hwa_file_dtype *out);

#endif
