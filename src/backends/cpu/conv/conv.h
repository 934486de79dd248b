/* The CPU backend's fast 2-D convolutions (CONV2D, CONV2D_BACK_DATA,
 * CONV2D_BACK_WEIGHT): oneDNN's convolution primitives where the build has
 * oneDNN; elsewhere the reference kernels (backends/cpu/ref/ref_conv.c) run. */
#ifndef HWADAPT_CPU_CONV_H
#define HWADAPT_CPU_CONV_H

#include "core/internal.h"

typedef struct hwa__conv hwa__conv;

/* A backend's convolution state (primitives and weights in oneDNN's layouts,
 * kept between computes). *out NULL without oneDNN or when its engine cannot
 * be made: hwa__conv_run then declines. HWA_E_NOMEM. */
hwa_status hwa__conv_new(hwa_ctx *ctx, hwa__conv **out);
void hwa__conv_free(hwa__conv *c);

/* Computes dst (one of the three conv ops) on nthreads threads, writing the
 * kernel's name into name. HWA_E_UNSUPPORTED, having done nothing, where it
 * has no fast path (no oneDNN, a level below the libraries' (HWA_ISA),
 * strided tensors, mixed dtypes, a case oneDNN declines); HWA_E_NOMEM;
 * HWA_E_DEVICE when oneDNN fails to run a primitive it made. Not
 * thread-safe (one backend, one compute at a time). */
hwa_status hwa__conv_run(hwa__conv *c, hwa_tensor *dst, int nthreads, char *name, size_t name_cap);

/* CONV2D dst with the nodes after it taken over: a bias [O] (any shape of
 * O elements: the graph's [O, 1, 1]) added per output channel, or NULL,
 * then a ReLU when relu, the result written to out (dst's shape and dtype:
 * the last node taken over) instead of dst; the caller makes sure out does
 * not overlap dst's inputs or the bias (the planner may have put a fused
 * node's result in a dead input's storage). The same errors as
 * hwa__conv_run. */
hwa_status hwa__conv_run_fused(hwa__conv *c, hwa_tensor *dst, const hwa_tensor *bias, bool relu, hwa_tensor *out,
                               int nthreads, char *name, size_t name_cap);

/* The bytes c keeps beside the graph's tensors for dst (weights in oneDNN's
 * layout, the buffers of the reorders), for the memory plan; 0 when none. */
int64_t hwa__conv_kept_bytes(hwa__conv *c, const hwa_tensor *dst, int nthreads);

#endif
