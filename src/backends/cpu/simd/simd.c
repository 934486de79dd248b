/* Picks the vector kernel table for the active ISA level. */
#include <stddef.h>

#include "backends/cpu/simd/simd.h"

#include "backends/cpu/cpu_isa.h"

const hwa__simd *hwa__simd_active(void) {
#if defined(__x86_64__)
    switch (hwa__isa_active()) {
    case HWA_ISA_AMX:
    case HWA_ISA_AVX512: return &hwa__simd_avx512;
    case HWA_ISA_AVX2: return &hwa__simd_avx2;
    default: return NULL;
    }
#else
    return NULL;
#endif
}
