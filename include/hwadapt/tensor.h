/* hwadapt — data types, contexts, tensors and views.
 *
 * A context (hwa_ctx) owns tensor metadata, graphs and the per-context error
 * message; everything it hands out is freed with it. Tensor data lives in
 * backend buffers (backend.h): a tensor has no data until it is allocated on a
 * backend, either alone (hwa_tensor_alloc), together with every other leaf of
 * its context (hwa_ctx_alloc_leaves), or by a graph's memory plan
 * (hwa_graph_alloc, graph.h).
 *
 * Shapes are written outermost first, as in PyTorch and NumPy: a batch of 64
 * rows of 1000 features is [64, 1000]; the last dimension varies fastest.
 * Strides are in elements. At most HWA_MAX_DIMS dimensions.
 *
 * Threading: a context and everything in it is used by one thread at a time.
 * Distinct contexts are independent.
 */
#ifndef HWADAPT_TENSOR_H
#define HWADAPT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HWA_MAX_DIMS 4
#define HWA_MAX_NAME 64

typedef enum hwa_dtype {
    HWA_F32 = 0,
    HWA_F16,
    HWA_BF16,
    HWA_I8,
    HWA_I32,
    HWA_Q8_0,   /* blocks of 32: {f16 scale; int8 q[32]}; value = q * scale */
    HWA_Q4_0,   /* blocks of 32: {f16 scale; u8 q[16]}; low nibbles are elements 0..15,
                   high nibbles 16..31; value = (q - 8) * scale */
    HWA_Q4_1,   /* blocks of 32: {f16 d; f16 m; u8 q[16]} nibbles as Q4_0; value = q * d + m */
    HWA_Q4_K,   /* blocks of 256: {f16 d; f16 dmin; u8 scales[12]; u8 q[128]}: eight 32-value
                   sub-blocks with 6-bit scales and mins; value = d * sc * q - dmin * m (GGUF's) */
    HWA_Q6_K,   /* blocks of 256: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: 6-bit values in
                   sixteen 16-value sub-blocks; value = d * scale * (q - 32) (GGUF's) */
    HWA_DTYPE_COUNT
} hwa_dtype;

/* Short lower-case name ("f32", "bf16", "q4_0"); "?" for an invalid value. */
const char *hwa_dtype_name(hwa_dtype t);
/* The dtype whose name is `name` (case-insensitive); HWA_E_NOTFOUND otherwise. */
hwa_status hwa_dtype_from_name(const char *name, hwa_dtype *out);
/* Elements per block: 1 for plain types, 32 for Q8_0/Q4_0/Q4_1, 256 for Q4_K/Q6_K. 0 if invalid. */
int64_t hwa_dtype_block_size(hwa_dtype t);
/* Bytes per block (per element for plain types). 0 if invalid. */
size_t hwa_dtype_block_bytes(hwa_dtype t);
bool hwa_dtype_is_float(hwa_dtype t);     /* f32, f16, bf16 */
bool hwa_dtype_is_quantized(hwa_dtype t); /* block types */
/* The type a matrix with rows of `row` values takes when `want` is asked
 * for: want itself when its blocks fit the rows, else, as llama.cpp's
 * quantizer falls back, q8_0 for a K-quant whose rows are whole 32-value
 * blocks, and f16 otherwise. */
hwa_dtype hwa_dtype_for_rows(hwa_dtype want, int64_t row);

/* Bytes that n elements of dtype t occupy; HWA_E_RANGE when n is negative or
 * not a multiple of the block size, HWA_E_OVERFLOW when it does not fit. */
hwa_status hwa_dtype_row_bytes(hwa_dtype t, int64_t n, size_t *out);

/* Conversions. Round to nearest, ties to even; NaN stays NaN, overflow goes
 * to infinity. Thread-safe, no allocation. */
uint16_t hwa_f32_to_f16(float f);
float    hwa_f16_to_f32(uint16_t h);
uint16_t hwa_f32_to_bf16(float f);
float    hwa_bf16_to_f32(uint16_t h);

/* Convert n elements between f32 and any dtype (quantized types: n must be a
 * multiple of 32; integers: round to nearest and saturate). */
hwa_status hwa_convert_from_f32(hwa_dtype dst_type, void *dst, const float *src, int64_t n);
hwa_status hwa_convert_to_f32(hwa_dtype src_type, const void *src, float *dst, int64_t n);
/* hwa_convert_from_f32 into a block type for rows of `row` values (n a
 * multiple of row, row of whole blocks) guided by an importance matrix:
 * imp[0..row) weighs each column (the mean square of the activations that
 * meet it). Each block takes the scales (and mins) of a weighted fit where
 * sum imp * (x - decoded)^2 comes out below the reference encoder's block,
 * and the reference block otherwise. imp NULL: hwa_convert_from_f32 exactly.
 * HWA_E_MISUSE for a type that is not a block type, HWA_E_RANGE for rows
 * that are not whole blocks. */
hwa_status hwa_convert_from_f32_weighted(hwa_dtype dst_type, void *dst, const float *src, int64_t n, int64_t row,
                                         const float *imp);

/* ---- contexts ---------------------------------------------------------- */

/* The allocator a context and its backends use for everything they allocate.
 * alloc returns NULL on failure (the library turns that into HWA_E_NOMEM);
 * align is a power of two. free(ud, NULL) must be harmless. */
typedef struct hwa_allocator {
    void *(*alloc)(void *ud, size_t size, size_t align);
    void (*free)(void *ud, void *ptr);
    void *ud;
} hwa_allocator;

typedef struct hwa_ctx_params {
    const hwa_allocator *allocator; /* NULL: the C library's aligned_alloc/free */
    uint64_t seed;                  /* for hwa_tensor_fill_random; 0 is a valid seed */
} hwa_ctx_params;

typedef struct hwa_ctx hwa_ctx;
typedef struct hwa_tensor hwa_tensor;

/* A new context. params may be NULL (defaults). Returns NULL when out of
 * memory, with hwa_last_error() saying so. */
hwa_ctx *hwa_ctx_new(const hwa_ctx_params *params);
/* Frees the context, its tensors, graphs and the buffers it allocated.
 * NULL is a no-op. Backends created on it must be freed first. */
void hwa_ctx_free(hwa_ctx *ctx);
/* Marks: everything created on ctx after hwa_ctx_mark (tensors, graphs,
 * buffers) is freed by hwa_ctx_release(ctx, mark), leaving what came before
 * intact. For per-step graphs (a decode step of a language model) on top of
 * long-lived weights. Tensors created before the mark must not refer to
 * tensors released (they cannot: inputs always come before results). */
typedef struct hwa_ctx_mark { void *t, *g, *b; } hwa_ctx_mark;
hwa_ctx_mark hwa_ctx_mark_get(const hwa_ctx *ctx);
void hwa_ctx_release(hwa_ctx *ctx, hwa_ctx_mark mark);

/* The detailed message of the last error recorded on this context, or "". */
const char *hwa_ctx_last_error(const hwa_ctx *ctx);
/* The status of that last error, HWA_OK when none. */
hwa_status hwa_ctx_last_status(const hwa_ctx *ctx);

/* ---- tensors ----------------------------------------------------------- */

/* A new leaf tensor with no data. ndim in 1..HWA_MAX_DIMS, every extent >= 1,
 * the last extent a multiple of the dtype's block size. NULL on error (the
 * message names the bad dimension). */
hwa_tensor *hwa_tensor_new(hwa_ctx *ctx, hwa_dtype t, int ndim, const int64_t *shape);
hwa_tensor *hwa_tensor_new_1d(hwa_ctx *ctx, hwa_dtype t, int64_t n0);
hwa_tensor *hwa_tensor_new_2d(hwa_ctx *ctx, hwa_dtype t, int64_t n0, int64_t n1);
hwa_tensor *hwa_tensor_new_3d(hwa_ctx *ctx, hwa_dtype t, int64_t n0, int64_t n1, int64_t n2);
hwa_tensor *hwa_tensor_new_4d(hwa_ctx *ctx, hwa_dtype t, int64_t n0, int64_t n1, int64_t n2, int64_t n3);

hwa_dtype hwa_tensor_dtype(const hwa_tensor *t);
int hwa_tensor_ndim(const hwa_tensor *t);
/* Extent of dimension d; negative d counts from the end. 1 beyond ndim. */
int64_t hwa_tensor_dim(const hwa_tensor *t, int d);
/* Stride of dimension d in elements (same indexing as hwa_tensor_dim). */
int64_t hwa_tensor_stride(const hwa_tensor *t, int d);
int64_t hwa_tensor_nelements(const hwa_tensor *t);
/* Bytes the tensor's elements occupy when contiguous. */
size_t hwa_tensor_nbytes(const hwa_tensor *t);
bool hwa_tensor_is_contiguous(const hwa_tensor *t);
/* Writes "[64,1000]" (truncated to cap, always terminated); returns buf. */
char *hwa_tensor_shape_str(const hwa_tensor *t, char *buf, size_t cap);

hwa_tensor *hwa_tensor_set_name(hwa_tensor *t, const char *name); /* truncated to HWA_MAX_NAME-1 */
const char *hwa_tensor_name(const hwa_tensor *t);

/* Marks a leaf as a trainable parameter: hwa_graph_build_backward (graph.h)
 * gives it a gradient tensor. HWA_E_MISUSE on a non-leaf, HWA_E_DTYPE on a
 * leaf that is not float. */
hwa_status hwa_tensor_set_param(hwa_tensor *t);
bool hwa_tensor_is_param(const hwa_tensor *t);
/* The gradient of a parameter once a backward graph exists, else NULL. */
hwa_tensor *hwa_tensor_grad(const hwa_tensor *t);

/* Host pointer to the first element, or NULL if the tensor has no data yet or
 * lives on a device that the host cannot address. Honours view offsets. */
void *hwa_tensor_data(const hwa_tensor *t);
/* Tells the library that t's data was changed through the pointer above
 * (the setters below and graph computes say so themselves), so that
 * backends rebuild what they derived from it: the CPU backend packs the
 * weights of a matrix product once per version of a tensor that is not a
 * trainable parameter, so after writing such a tensor's data directly,
 * call this before the next compute. NULL is a no-op. */
void hwa_tensor_mark_modified(hwa_tensor *t);
/* Copy nbytes from/to the tensor's storage; the tensor must be contiguous and
 * allocated, nbytes must equal hwa_tensor_nbytes. Works on any backend. */
hwa_status hwa_tensor_set_bytes(hwa_tensor *t, const void *src, size_t nbytes);
hwa_status hwa_tensor_get_bytes(const hwa_tensor *t, void *dst, size_t nbytes);
/* The same through f32: n must equal the element count; converts to and from
 * the tensor's dtype. Non-contiguous views are read/written element by element. */
hwa_status hwa_tensor_set_f32(hwa_tensor *t, const float *src, int64_t n);
hwa_status hwa_tensor_get_f32(const hwa_tensor *t, float *dst, int64_t n);
/* Fill with one value / with uniform values in [lo, hi) from the context's
 * seeded generator (deterministic for a given seed and call order). */
hwa_status hwa_tensor_fill(hwa_tensor *t, float value);
hwa_status hwa_tensor_fill_uniform(hwa_tensor *t, float lo, float hi);

#ifdef __cplusplus
}
#endif
#endif
