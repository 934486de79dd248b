/* Fast paths of the CPU backend for the vision ops (POOL2D, POOL2D_BACK, the
 * batch normalization ops, DROPOUT) on contiguous f32 tensors: the reference
 * kernels' arithmetic in the same order, spread over planes, channels or
 * chunks of elements with OpenMP, so the bits equal the reference's at every
 * thread count. */
#ifndef HWADAPT_CPU_VISION_H
#define HWADAPT_CPU_VISION_H

#include "backends/cpu/cpu_fast.h"
#include "core/internal.h"

/* Computes dst on up to nthreads threads when it has a fast path; returns
 * false, having done nothing, when it has not (another op, another dtype, a
 * strided input): the reference then runs, unless scratch->failure is set
 * (out of memory for the batch normalization's per-channel table). */
bool hwa__cpu_vision_run(hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch);

#endif
