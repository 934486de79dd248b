/* Fast paths of the elementwise ops for ONNX models (see cpu_eltops.c). */
#ifndef HWADAPT_CPU_ELTOPS_H
#define HWADAPT_CPU_ELTOPS_H

#include "backends/cpu/cpu_fast.h"

/* Computes dst (MAP, MAP_BACK, BINARY or WHERE) on nthreads threads when it
 * and its sources are contiguous f32 (BINARY's b of a's size or one value);
 * returns false, having done nothing, otherwise. */
bool hwa__cpu_eltops_run(hwa_tensor *dst, int nthreads);

#endif
