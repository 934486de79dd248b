/* hwadapt — model and data files: safetensors, GGUF, llama2.c checkpoints and
 * tokenizers, IDX.
 *
 * Files from outside are hostile until validated. Every opener checks the
 * whole file structure (magic, version, every count, length and offset against
 * the bytes that remain, with overflow-checked arithmetic) before it returns a
 * handle; on failure it returns an error status and records one line,
 * "<file>: <field>: <why>", readable with hwa_last_error(). Nothing here
 * aborts or exits on bad input.
 *
 * Model files are mapped read-only (mmap) and never read in full at open:
 * tensor data pointers point into the mapping and stay valid until the handle
 * is freed. Data is not necessarily aligned for its type; use memcpy or the
 * conversion functions of tensor.h.
 *
 * Threading: a handle may be read from several threads at once (every getter
 * is const); opening and freeing are the caller's to serialise per handle.
 * Writers are used by one thread at a time.
 */
#ifndef HWADAPT_IO_H
#define HWADAPT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most dimensions a tensor in a file may have (GGUF allows 4). */
#define HWA_IO_MAX_DIMS 8
/* Safetensors header cap, as in the format's reference implementation. */
#define HWA_ST_MAX_HEADER 100000000u
/* Longest GGUF tensor name (ggml's limit: 64 bytes with the terminator). */
#define HWA_GGUF_MAX_NAME 63
/* Deepest nesting of GGUF arrays (an array of arrays is depth 2). */
#define HWA_GGUF_MAX_DEPTH 8

typedef enum hwa_file_format {
    HWA_FORMAT_UNKNOWN = 0,
    HWA_FORMAT_SAFETENSORS,
    HWA_FORMAT_GGUF,
    HWA_FORMAT_LLAMA2C,       /* llama2.c checkpoint (legacy version 0) */
    HWA_FORMAT_LLAMA2C_VOCAB, /* llama2.c tokenizer file */
    HWA_FORMAT_IDX,           /* raw or gzipped */
    HWA_FORMAT_COUNT
} hwa_file_format;

/* "safetensors", "gguf", "llama2c", "llama2c-tokenizer", "idx", "unknown".
 * Static; thread-safe. */
const char *hwa_file_format_name(hwa_file_format f);
/* The format named `name` (as above); HWA_E_NOTFOUND otherwise. */
hwa_status hwa_file_format_from_name(const char *name, hwa_file_format *out);

/* Guesses the format of n bytes from their content alone (never a file name):
 * the safetensors header shape, the GGUF magic, the gzip or IDX magic, then a
 * llama2.c checkpoint whose config implies exactly n bytes, then a llama2.c
 * tokenizer that parses to the last byte. HWA_FORMAT_UNKNOWN when nothing
 * fits. Reads at most the headers; thread-safe. */
hwa_file_format hwa_file_detect(const void *data, size_t n);
/* The same for the file at path (mapped, not read in full). Errors:
 * HWA_E_MISUSE, HWA_E_NOTFOUND, HWA_E_IO. */
hwa_status hwa_file_detect_path(const char *path, hwa_file_format *out);

/* Element types as files name them. hwa_dtype (tensor.h) covers the ones the
 * engine computes with; the rest (f64, i64, i16, u8, bool) can be read and
 * written but not computed with. */
typedef enum hwa_file_dtype {
    HWA_FDT_F64 = 0,
    HWA_FDT_F32,
    HWA_FDT_F16,
    HWA_FDT_BF16,
    HWA_FDT_I64,
    HWA_FDT_I32,
    HWA_FDT_I16,
    HWA_FDT_I8,
    HWA_FDT_U8,
    HWA_FDT_BOOL,
    HWA_FDT_Q8_0,
    HWA_FDT_Q4_0,
    HWA_FDT_Q4_1,
    HWA_FDT_Q4_K,
    HWA_FDT_Q6_K,
    HWA_FDT_COUNT
} hwa_file_dtype;

/* "F64", "F32", ..., "BOOL", "Q8_0", "Q4_0" (safetensors spelling); "?" if invalid. */
const char *hwa_file_dtype_name(hwa_file_dtype t);
/* The hwa_dtype for a file dtype; HWA_E_DTYPE when the engine has none. */
hwa_status hwa_file_dtype_to_dtype(hwa_file_dtype t, hwa_dtype *out);
/* The file dtype for an hwa_dtype; HWA_E_DTYPE for an invalid value. */
hwa_status hwa_file_dtype_from_dtype(hwa_dtype t, hwa_file_dtype *out);

/* One tensor of an open file. Plain data; every pointer belongs to the file
 * handle and lives as long as it. */
typedef struct hwa_file_tensor {
    const char *name;         /* NUL-terminated */
    hwa_file_dtype file_dtype;
    bool has_dtype;           /* dtype below is meaningful */
    hwa_dtype dtype;          /* the engine's dtype when has_dtype */
    int ndim;                 /* 0 (a scalar) .. HWA_IO_MAX_DIMS */
    int64_t shape[HWA_IO_MAX_DIMS]; /* outermost first, like PyTorch (GGUF's
                                       dims are reversed to this order) */
    int64_t nelements;
    uint64_t offset;          /* of the first byte, from the start of the file */
    size_t nbytes;
    const void *data;         /* into the mapping; NULL when nbytes is 0 */
} hwa_file_tensor;

/* FNV-1a 64 of a tensor's bytes (reads them all), for listings and tests. */
uint64_t hwa_file_tensor_checksum(const hwa_file_tensor *t);
/* The same over any bytes. Thread-safe. */
uint64_t hwa_checksum64(const void *data, size_t n);

/* ---- model files: open, iterate, look up ---------------------------------- */

typedef struct hwa_model_file hwa_model_file;

/* Maps the file at path and validates it completely. format selects the
 * parser; HWA_FORMAT_UNKNOWN detects it from the content. IDX files are not
 * model files (see hwa_idx_load); llama2.c tokenizer files open here with
 * their entries exposed through hwa_vocab_from_file and no tensors.
 * On success *out is a new handle the caller frees with hwa_model_file_free;
 * on failure *out is NULL. Errors: HWA_E_MISUSE (NULL path/out),
 * HWA_E_NOTFOUND/HWA_E_IO (the file), HWA_E_FORMAT (malformed; the message
 * names the file, the field and why), HWA_E_OVERFLOW, HWA_E_DTYPE
 * (unsupported element type), HWA_E_UNSUPPORTED (a version or feature this
 * reader does not handle), HWA_E_NOMEM. */
hwa_status hwa_model_file_open(const char *path, hwa_file_format format, hwa_model_file **out);
/* The same on n bytes in memory, which must outlive the handle (nothing is
 * copied). label names the data in messages (NULL: "<memory>"). */
hwa_status hwa_model_file_open_mem(const void *data, size_t n, const char *label,
                                   hwa_file_format format, hwa_model_file **out);
/* Unmaps and frees; NULL is a no-op. */
void hwa_model_file_free(hwa_model_file *f);

hwa_file_format hwa_model_file_format(const hwa_model_file *f);
/* The path or label given at open. */
const char *hwa_model_file_label(const hwa_model_file *f);
/* The whole file's bytes and size. */
const void *hwa_model_file_bytes(const hwa_model_file *f, size_t *size);
size_t hwa_model_file_n_tensors(const hwa_model_file *f);
/* Tensor i in file order (safetensors: by data offset; GGUF: tensor-info
 * order; llama2.c: the checkpoint order). NULL when i is out of range. */
const hwa_file_tensor *hwa_model_file_tensor(const hwa_model_file *f, size_t i);
/* The tensor called name, or NULL (no error recorded). O(log n). */
const hwa_file_tensor *hwa_model_file_find(const hwa_model_file *f, const char *name);

/* String metadata: safetensors' "__metadata__" map (in header order). For
 * other formats there is none (0). Strings belong to the handle. */
size_t hwa_model_file_n_meta(const hwa_model_file *f);
hwa_status hwa_model_file_meta(const hwa_model_file *f, size_t i, const char **key, const char **value);
/* The value of key, or NULL. */
const char *hwa_model_file_meta_get(const hwa_model_file *f, const char *key);

/* ---- GGUF metadata ----------------------------------------------------------- */

typedef enum hwa_gguf_type {
    HWA_GGUF_U8 = 0, HWA_GGUF_I8 = 1, HWA_GGUF_U16 = 2, HWA_GGUF_I16 = 3,
    HWA_GGUF_U32 = 4, HWA_GGUF_I32 = 5, HWA_GGUF_F32 = 6, HWA_GGUF_BOOL = 7,
    HWA_GGUF_STRING = 8, HWA_GGUF_ARRAY = 9, HWA_GGUF_U64 = 10, HWA_GGUF_I64 = 11,
    HWA_GGUF_F64 = 12,
    HWA_GGUF_TYPE_COUNT
} hwa_gguf_type;

/* "u8", ..., "string", "array", "f64"; "?" if invalid. */
const char *hwa_gguf_type_name(hwa_gguf_type t);

/* Every getter below takes a GGUF handle (HWA_E_MISUSE otherwise), records
 * nothing on success, HWA_E_NOTFOUND for a missing key and HWA_E_DTYPE when
 * the value's type does not fit the getter. */
uint32_t hwa_gguf_version(const hwa_model_file *f);   /* 0 for non-GGUF */
size_t hwa_gguf_alignment(const hwa_model_file *f);   /* 0 for non-GGUF */
size_t hwa_gguf_n_kv(const hwa_model_file *f);
/* Key and type of key-value i (file order); NULL / HWA_GGUF_TYPE_COUNT out of range. */
const char *hwa_gguf_kv_key(const hwa_model_file *f, size_t i);
hwa_gguf_type hwa_gguf_kv_type(const hwa_model_file *f, size_t i);
/* Index of key, or -1. */
int64_t hwa_gguf_find_key(const hwa_model_file *f, const char *key);
/* A one-line rendering of value i for display ("512", "\"llama\"",
 * "[string x 32000]"), truncated to cap; returns buf. */
char *hwa_gguf_kv_format(const hwa_model_file *f, size_t i, char *buf, size_t cap);

/* Any integer type (and bool); HWA_E_RANGE for a u64 above INT64_MAX. */
hwa_status hwa_gguf_get_int(const hwa_model_file *f, const char *key, int64_t *out);
/* u64 values in full. */
hwa_status hwa_gguf_get_u64(const hwa_model_file *f, const char *key, uint64_t *out);
/* f32 or f64. */
hwa_status hwa_gguf_get_float(const hwa_model_file *f, const char *key, double *out);
hwa_status hwa_gguf_get_bool(const hwa_model_file *f, const char *key, bool *out);
/* A NUL-terminated copy owned by the handle; *len (may be NULL) gets the
 * length, which counts embedded NULs. */
hwa_status hwa_gguf_get_str(const hwa_model_file *f, const char *key, const char **out, size_t *len);
/* Element type and count of an array value. */
hwa_status hwa_gguf_get_arr_info(const hwa_model_file *f, const char *key,
                                 hwa_gguf_type *elem_type, uint64_t *count);
/* Copies the n elements of a numeric or bool array whose element type is
 * `want` into dst (n must equal the count: HWA_E_RANGE otherwise). */
hwa_status hwa_gguf_get_arr(const hwa_model_file *f, const char *key, hwa_gguf_type want,
                            void *dst, size_t n);
/* Points ptrs[i]/lens[i] at the n strings of a string array (n must equal the
 * count). The strings point into the mapping and are NOT NUL-terminated. */
hwa_status hwa_gguf_get_arr_strs(const hwa_model_file *f, const char *key,
                                 const char **ptrs, size_t *lens, size_t n);

/* ---- llama2.c ---------------------------------------------------------------- */

typedef struct hwa_llama2c_config {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads;
    int32_t vocab_size;       /* always positive here */
    int32_t seq_len;
    bool shared_classifier;   /* the file's vocab_size was positive: wcls = token embedding */
} hwa_llama2c_config;

/* Checks a config for consistency (positive sizes, heads divide dim, kv heads
 * divide heads, even head size) and computes the file size it implies.
 * HWA_E_FORMAT / HWA_E_OVERFLOW with a message naming the field. */
hwa_status hwa_llama2c_config_check(const hwa_llama2c_config *c, const char *label, uint64_t *file_bytes);
/* The config of an open llama2.c checkpoint; HWA_E_MISUSE for other formats.
 * The tensors are, in file order: token_embedding_table [vocab, dim],
 * rms_att_weight [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim],
 * wv [L, kv_dim, dim], wo [L, dim, dim], rms_ffn_weight [L, dim],
 * w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim],
 * rms_final_weight [dim], freq_cis_real [seq_len, head_size/2],
 * freq_cis_imag [seq_len, head_size/2], then wcls [vocab, dim] only when the
 * classifier is not shared. Matrices are [out, in], row-major, f32. */
hwa_status hwa_llama2c_get_config(const hwa_model_file *f, hwa_llama2c_config *out);

/* A tokenizer vocabulary: tokens (byte strings) with scores. */
typedef struct hwa_vocab hwa_vocab;

/* Reads a llama2.c tokenizer file: int32 max_token_length, then per token
 * f32 score, int32 length, bytes. n_tokens > 0 reads exactly that many (the
 * checkpoint's vocab_size; trailing bytes are an error), 0 reads to the end of
 * the file. Each length must be in 0..max_token_length and inside the file.
 * *out: new, freed with hwa_vocab_free; NULL on error. */
hwa_status hwa_vocab_load_llama2c(const char *path, int32_t n_tokens, hwa_vocab **out);
hwa_status hwa_vocab_load_llama2c_mem(const void *data, size_t n, const char *label,
                                      int32_t n_tokens, hwa_vocab **out);
/* The vocabulary of a GGUF file (tokenizer.ggml.tokens, with
 * tokenizer.ggml.scores when present, which must have the same count), or of
 * an open llama2.c tokenizer file. HWA_E_NOTFOUND when the file has none. */
hwa_status hwa_vocab_from_file(const hwa_model_file *f, hwa_vocab **out);
void hwa_vocab_free(hwa_vocab *v);            /* NULL is a no-op */
size_t hwa_vocab_size(const hwa_vocab *v);
int32_t hwa_vocab_max_token_length(const hwa_vocab *v);
/* Token i, NUL-terminated (owned by v); *len (may be NULL) gets its length.
 * NULL when i is out of range. */
const char *hwa_vocab_token(const hwa_vocab *v, size_t i, size_t *len);
float hwa_vocab_score(const hwa_vocab *v, size_t i);   /* 0 when out of range or absent */

/* ---- writers ----------------------------------------------------------------- */

/* Safetensors: tensors are written in the order they are added, packed with
 * no gaps; the JSON header is padded with spaces to a multiple of 8 bytes.
 * The writer borrows data pointers until hwa_st_writer_write returns.
 * The file is replaced atomically (temporary file, fsync, rename). */
typedef struct hwa_st_writer hwa_st_writer;
hwa_st_writer *hwa_st_writer_new(void);  /* NULL + HWA_E_NOMEM */
void hwa_st_writer_free(hwa_st_writer *w);
/* dtype: HWA_FDT_F64 .. HWA_FDT_BOOL; ndim 0..HWA_IO_MAX_DIMS, extents >= 0;
 * nbytes must equal the shape's size. Names must be unique, non-empty and
 * not "__metadata__". Errors: HWA_E_INVALID, HWA_E_DTYPE, HWA_E_OVERFLOW, HWA_E_NOMEM. */
hwa_status hwa_st_writer_add(hwa_st_writer *w, const char *name, hwa_file_dtype dtype, int ndim,
                             const int64_t *shape, const void *data, size_t nbytes);
/* Adds or replaces a __metadata__ entry (both strings are copied). */
hwa_status hwa_st_writer_set_meta(hwa_st_writer *w, const char *key, const char *value);
hwa_status hwa_st_writer_write(hwa_st_writer *w, const char *path);

/* GGUF: version 2 or 3; alignment a power of two (0: 32), recorded as
 * general.alignment when not 32. Tensors of type F32, F16, BF16, Q8_0, Q4_0,
 * Q4_1, Q4_K, Q6_K with shape outermost first (written reversed, as GGUF wants). Borrowed data
 * as above; atomic replacement. */
typedef struct hwa_gguf_writer hwa_gguf_writer;
hwa_gguf_writer *hwa_gguf_writer_new(uint32_t version, uint32_t alignment);
void hwa_gguf_writer_free(hwa_gguf_writer *w);
/* A scalar of type t (not STRING/ARRAY) read from *value (a uint8_t, ...,
 * double, or bool for HWA_GGUF_BOOL). Keys must be unique. */
hwa_status hwa_gguf_writer_add_scalar(hwa_gguf_writer *w, const char *key, hwa_gguf_type t, const void *value);
hwa_status hwa_gguf_writer_add_str(hwa_gguf_writer *w, const char *key, const char *s);
/* An array of n elements of numeric/bool type t, copied from elems. */
hwa_status hwa_gguf_writer_add_arr(hwa_gguf_writer *w, const char *key, hwa_gguf_type t,
                                   const void *elems, size_t n);
hwa_status hwa_gguf_writer_add_arr_strs(hwa_gguf_writer *w, const char *key,
                                        const char *const *strs, size_t n);
hwa_status hwa_gguf_writer_add_tensor(hwa_gguf_writer *w, const char *name, hwa_dtype dtype, int ndim,
                                      const int64_t *shape, const void *data, size_t nbytes);
hwa_status hwa_gguf_writer_write(hwa_gguf_writer *w, const char *path);

/* ---- importance matrices (llama.cpp's imatrix) -------------------------------- */

/* Per weight matrix (by its GGUF tensor name): the sum over calibration
 * tokens of each input column's squared activation, and the number of
 * activation rows summed; plus the datasets' names and the chunk figures.
 * Files: llama.cpp's GGUF form (read and written; docs/formats.md) and its
 * legacy .dat form (read). Not thread-safe per handle. */
typedef struct hwa_imatrix hwa_imatrix;
hwa_imatrix *hwa_imatrix_new(void);             /* NULL + HWA_E_NOMEM */
void hwa_imatrix_free(hwa_imatrix *im);         /* NULL is a no-op */
/* Adds sum2[0..n) into the entry `name` (created with n columns; HWA_E_SHAPE
 * when it has another count) and `rows` to its count. */
hwa_status hwa_imatrix_add(hwa_imatrix *im, const char *name, const float *sum2, int64_t n, double rows);
/* Records a dataset name (copied; NULL records none) and the chunk figures. */
hwa_status hwa_imatrix_set_info(hwa_imatrix *im, const char *dataset, int64_t chunk_count, int64_t chunk_size);
size_t hwa_imatrix_n_entries(const hwa_imatrix *im);
/* Entry i's name (owned by im; NULL out of range), columns, sums and count. */
const char *hwa_imatrix_entry(const hwa_imatrix *im, size_t i, int64_t *n, const float **sum2, double *count);
size_t hwa_imatrix_n_datasets(const hwa_imatrix *im);
const char *hwa_imatrix_dataset(const hwa_imatrix *im, size_t i);
int64_t hwa_imatrix_chunk_count(const hwa_imatrix *im);
int64_t hwa_imatrix_chunk_size(const hwa_imatrix *im);
/* The importance of `name`'s n columns into out: sum / count (all 1 when the
 * count is 0, as llama.cpp does). HWA_E_NOTFOUND when there is no entry,
 * HWA_E_SHAPE when it has another number of columns. */
hwa_status hwa_imatrix_importance(const hwa_imatrix *im, const char *name, int64_t n, float *out);
/* Reads either form (GGUF by its magic, else legacy), validating every
 * count, length and value (finite, >= 0); *out new, or NULL on error.
 * Errors: HWA_E_FORMAT (names the file and the field), HWA_E_UNSUPPORTED
 * (entries of several matrices: mixture-of-experts), the file's, HWA_E_NOMEM. */
hwa_status hwa_imatrix_load(const char *path, hwa_imatrix **out);
hwa_status hwa_imatrix_load_mem(const void *data, size_t size, const char *label, hwa_imatrix **out);
/* Writes the GGUF form atomically: general.type "imatrix", imatrix.datasets,
 * imatrix.chunk_count, imatrix.chunk_size; per entry <name>.in_sum2 (f32,
 * [1, n]) and <name>.counts (f32, [1, 1]). HWA_E_INVALID with no entries. */
hwa_status hwa_imatrix_save(const hwa_imatrix *im, const char *path);

/* ---- quantizing a GGUF model ------------------------------------------------ */

typedef struct hwa_quantize_opts {
    hwa_dtype type;            /* the matrices' type: f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k */
    bool keep_output_f16;      /* output.weight (the classifier) in f16 */
    /* "TENSOR=TYPE": that tensor in that type (exact names); rows that are
     * not whole blocks of it fall back as for the others */
    const char *const *overrides;
    int n_overrides;
    /* importance per column for the block types (NULL: none, the reference
     * encoders' bytes; hwa_convert_from_f32_weighted). A matrix with no
     * entry (the token embedding, which no product reads) is encoded
     * without one and counted in n_unweighted; an entry whose column count
     * differs from the tensor's rows is HWA_E_SHAPE, and an imatrix that
     * matches no tensor at all HWA_E_NOTFOUND: both mean another model's. */
    const hwa_imatrix *imatrix;
    /* a llama2.c tokenizer file written into the GGUF as its SentencePiece
     * vocabulary, for llama2.c and safetensors input (NULL: none; with a
     * GGUF input, which has its own, HWA_E_INVALID) */
    const char *tokenizer;
} hwa_quantize_opts;

typedef struct hwa_quantize_stats {
    int n_tensors;             /* written */
    int n_quantized;           /* re-encoded into a block type */
    int n_fallback;            /* whose rows were not whole blocks of the type asked: q8_0 or f16 instead */
    int n_kept;                /* copied as they were (norms, and tensors already in their type) */
    int n_weighted;            /* encoded with their importance-matrix entry */
    int n_unweighted;          /* in a block type with an imatrix given but no entry for them */
    uint64_t bytes_in, bytes_out; /* tensor data */
} hwa_quantize_stats;

/* Writes model file `in` to `out` (atomically) as GGUF with every 2-D tensor in
 * o->type (hwa_dtype_for_rows where its rows are not whole blocks of it)
 * and the others as they are, through f32, encoded as ggml's reference
 * quantizers do; every metadata key-value copied, general.file_type set to
 * llama.cpp's code for the type. stats may be NULL. `in` may also be a
 * llama2.c checkpoint or a safetensors model in the Hugging Face llama
 * layout with its config.json beside it: written as the GGUF llama model
 * that computes the same (GGUF names, q/k rows in GGUF's rotary order, the
 * llama.* metadata). Errors: the file's, HWA_E_UNSUPPORTED for another
 * kind of file, metadata it cannot copy
 * (arrays of arrays, strings with NUL bytes), HWA_E_INVALID for a bad type
 * or override, HWA_E_NOTFOUND for an override naming no tensor,
 * HWA_E_NOMEM, HWA_E_IO. */
hwa_status hwa_gguf_quantize(const char *in, const char *out, const hwa_quantize_opts *o, hwa_quantize_stats *stats);

/* ---- IDX (MNIST, Fashion-MNIST) -------------------------------------------- */

/* An IDX file of unsigned bytes (type 0x08), 1 to 4 dimensions, read in full
 * into memory: raw, or gzipped (detected by content). The header's size must
 * match the data exactly (no trailing bytes), and a gzipped file may not claim
 * more data than its stream can inflate to. *out: new, hwa_idx_free. */
typedef struct hwa_idx hwa_idx;
hwa_status hwa_idx_load(const char *path, hwa_idx **out);
hwa_status hwa_idx_load_mem(const void *data, size_t n, const char *label, hwa_idx **out);
void hwa_idx_free(hwa_idx *x);
int hwa_idx_ndim(const hwa_idx *x);
int64_t hwa_idx_dim(const hwa_idx *x, int d);   /* outermost first; 0 out of range */
const uint8_t *hwa_idx_data(const hwa_idx *x);  /* row-major, owned by x */
size_t hwa_idx_nbytes(const hwa_idx *x);

#ifdef __cplusplus
}
#endif
#endif
