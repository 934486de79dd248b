/* What the CPU this process runs on can execute, and which level of our fast
 * kernels to use. Detection needs both the CPU's feature bits and the OS's
 * consent (XGETBV for the AVX/AVX-512 register state, the arch_prctl
 * permission for AMX tiles). Not x86-only in shape: other architectures
 * report HWA_ISA_SCALAR until their kernels exist. */
#ifndef HWADAPT_CPU_ISA_H
#define HWADAPT_CPU_ISA_H

#include <stdbool.h>

typedef enum hwa__isa {
    HWA_ISA_SCALAR = 0, /* reference kernels only; the native matmul in plain C */
    HWA_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    HWA_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ */
    HWA_ISA_AMX = 3,    /* AVX-512 + AMX tiles (bf16, int8) */
    HWA_ISA_COUNT
} hwa__isa;

typedef struct hwa__cpu_caps {
    bool avx2, fma, f16c;
    bool avx512;        /* F, BW, VL, DQ, with OS-enabled ZMM state */
    bool avx512_vnni, avx512_bf16;
    bool amx_tile, amx_bf16, amx_int8;
    bool amx_permitted; /* the kernel granted XTILEDATA to this process */
} hwa__cpu_caps;

/* The host's capabilities, detected once (thread-safe after the first call). */
const hwa__cpu_caps *hwa__cpu_caps_get(void);
/* The best level the host supports. */
hwa__isa hwa__isa_host(void);
/* The level kernels use now: the test override if set, else HWA_ISA from the
 * environment (capped at the host's level), else the host's level. */
hwa__isa hwa__isa_active(void);
/* Whether the matrix-product libraries (oneDNN, OpenBLAS) may run: not when
 * the scalar level is forced (HWA_ISA or a test) on a host above it, so that
 * it means our reference and plain-C kernels alone; a host below AVX2 keeps
 * them, with their own code for its CPU. */
bool hwa__isa_libraries_allowed(void);
/* The level HWA_ISA asks for when it is below the host's; -1 otherwise. */
int hwa__isa_env(void);
/* Forces a level for tests (capped at the host's); -1 clears the override.
 * Not thread-safe against concurrent compute. */
void hwa__isa_set_override(int level);
const char *hwa__isa_name(hwa__isa isa); /* "scalar", "avx2", "avx512", "amx" */
/* Parses a level name; -1 when unknown. */
int hwa__isa_from_name(const char *s);

/* The CPUs this process may use: the affinity mask, capped by a cgroup v2
 * cpu.max quota when one is set; at least 1. */
int hwa__cpu_usable_count(void);

#endif
