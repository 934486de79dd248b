/* The CPU backend's fast 2-D pooling (POOL2D, POOL2D_BACK) through oneDNN's
 * pooling primitives where the build has oneDNN; elsewhere, and for the
 * cases declined here, the OpenMP kernels of cpu_vision.c run. */
#ifndef HWADAPT_CPU_POOL_DNN_H
#define HWADAPT_CPU_POOL_DNN_H

#include "core/internal.h"

typedef struct hwa__dnnpool hwa__dnnpool;

/* A backend's pooling state (primitives and the buffers of max pooling's
 * backward, kept between computes). *out NULL without oneDNN or when its
 * engine cannot be made: hwa__dnnpool_run then declines. HWA_E_NOMEM. */
hwa_status hwa__dnnpool_new(hwa_ctx *ctx, hwa__dnnpool **out);
void hwa__dnnpool_free(hwa__dnnpool *p);

/* Computes dst (POOL2D or POOL2D_BACK) on nthreads threads, writing
 * "onednn:pool:<impl>" into name. HWA_E_UNSUPPORTED, having done nothing,
 * where it has no fast path (no oneDNN, a level below the libraries'
 * (HWA_ISA), not contiguous f32, average pooling counting pads whose last
 * window reaches past the pads (ceil_mode), a case oneDNN declines or has
 * only its reference kernel for);
 * HWA_E_NOMEM; HWA_E_DEVICE when oneDNN fails to run a primitive it made.
 * Not thread-safe (one backend, one compute at a time). */
hwa_status hwa__dnnpool_run(hwa__dnnpool *p, hwa_tensor *dst, int nthreads, char *name, size_t name_cap);

/* The bytes p keeps beside the graph's tensors for dst (max pooling's
 * backward keeps a forward result and its workspace); 0 when none. */
int64_t hwa__dnnpool_kept_bytes(hwa__dnnpool *p, const hwa_tensor *dst, int nthreads);

#endif
