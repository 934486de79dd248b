/* Fast paths of the CPU backend for the training ops: ADAM_UPDATE,
 * SGD_UPDATE, SUM_SQ on contiguous f32, and UNARY_BACK of RELU. Results are
 * bitwise those of the reference kernels, whatever the thread count, except
 * that the updates flush subnormal numbers to zero (cpu_train_fast.c). */
#ifndef HWADAPT_CPU_TRAIN_FAST_H
#define HWADAPT_CPU_TRAIN_FAST_H

#include "backends/cpu/cpu_fast.h"
#include "backends/cpu/simd/train_simd.h"
#include "core/internal.h"

/* Computes dst with the vector kernels k on up to nthreads threads when its
 * case has a fast path; returns false, having done nothing, when it has not
 * (k NULL included: the reference then runs and reports any bad input). */
bool hwa__cpu_train_fast_run(const hwa__train_simd *k, hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch);

#endif
