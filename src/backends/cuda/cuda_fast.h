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

#endif
