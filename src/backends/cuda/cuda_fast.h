/* The CUDA backend's CUDA-only fast paths: matrix products through cuBLASLt
 * (cuda_blas.c) and warp-level kernels for row ops and attention
 * (cuda_fast.cu). The backend's fast slot (hwa__gpu_dev.fast) calls
 * hwa__cu_fast_run before the portable kernel runs a node; a node no fast
 * path takes runs on the portable kernel. Not thread-safe: one state per
 * backend, used by the thread that computes on it. Not a published API. */
#ifndef HWADAPT_BACKENDS_CUDA_FAST_H
#define HWADAPT_BACKENDS_CUDA_FAST_H

#include "backends/gpu/gpu_run.h"

typedef struct hwa__cu_fast hwa__cu_fast;
/* The fast paths' state for one backend on the current CUDA device (cudaSetDevice done by the caller),
 * queuing every call on stream (a cudaStream_t). HWA_E_DEVICE/NOMEM with the device (spec) named when
 * cuBLASLt cannot start. */
hwa_status hwa__cu_fast_new(hwa_ctx *ctx, const char *spec, void *stream, hwa__cu_fast **out);
void hwa__cu_fast_free(hwa__cu_fast *f); /* NULL: no-op */
/* Runs node t (v[0] its view, v[1..] its sources', m[] device pointers of their buffers; view offsets are in
 * elements of the view's dtype) when a fast path takes it, setting *name (static string, e.g.
 * "cuda:cublaslt:bf16", "cuda:warp_rows", "cuda:flash_attention", "cuda:attention_splitk"); *name NULL
 * means none took it (the portable kernel runs). prec is the backend's hwa_matmul_precision. A launch error
 * is HWA_E_DEVICE naming spec and the kernel; out of memory HWA_E_NOMEM naming spec and the size. */
hwa_status hwa__cu_fast_run(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                            const hwa__gpu_view *v, const hwa__gpu_mem *m, hwa_matmul_precision prec,
                            const char **name);

/* The product t with a bias row added in cuBLASLt's epilogue, then a ReLU
 * when relu: v[0] is the view of the node that gets the result (the ADD,
 * or the RELU after it), v[1] and v[2] the product's sources; bias (in
 * bias_m) holds one value per column, contiguous, in the result's dtype.
 * *name as hwa__cu_fast_run ("cuda:cublaslt:f32+bias+relu"); NULL when it
 * does not take them: a column-major result (the epilogue adds along
 * cuBLASLt's rows, the result's columns only when it is row-major), a
 * batch that does not fold into one product, a bias of another dtype or
 * layout, what hwa__cu_fast_run declines. */
hwa_status hwa__cu_fast_fused(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                              const hwa__gpu_view *v, const hwa__gpu_mem *m, const hwa__gpu_view *bias,
                              hwa__gpu_mem bias_m, bool relu, hwa_matmul_precision prec, const char **name);

#endif
