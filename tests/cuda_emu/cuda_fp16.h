/* The part of CUDA's cuda_fp16.h the kernel dialect (hwa_gpu.h) uses, on the
 * host, for tests/test_cuda_fast_emu.cpp: __half as storage, converted with
 * the compiler's _Float16 (round to nearest even, as __float2half_rn). */
#ifndef HWA_CUDA_EMU_FP16_H
#define HWA_CUDA_EMU_FP16_H

struct __half {
    _Float16 x;
};
static inline float __half2float(__half h) { return (float)h.x; }
static inline __half __float2half_rn(float f) { return __half{(_Float16)f}; }

#endif
