/* Fast paths of the CPU backend for the non-matmul ops (see cpu_fast.c). */
#ifndef HWADAPT_CPU_FAST_H
#define HWADAPT_CPU_FAST_H

#include "backends/cpu/simd/simd.h"
#include "core/internal.h"

/* Computes dst with the vector kernels k on nthreads threads when its case
 * has a fast path (contiguous f32, or f16/bf16 <-> f32 conversion);
 * returns false, having done nothing, when it has not. */
bool hwa__cpu_fast_run(const hwa__simd *k, hwa_tensor *dst, int nthreads);

#endif
