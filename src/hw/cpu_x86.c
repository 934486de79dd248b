/* x86 CPU identity and ISA features from the cpuid instruction, with the
 * operating system's support checked: XGETBV says which register states the
 * OS saves (AVX needs SSE+AVX state, AVX-512 also opmask and ZMM state, AMX
 * tile config and data), and Linux hands out AMX tile data only to a process
 * that asks for it (arch_prctl ARCH_REQ_XCOMP_PERM). Names are Linux's
 * /proc/cpuinfo flag names. */
#include <string.h>

#include "hw/hw_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

enum { R_EAX, R_EBX, R_ECX, R_EDX };

/* What a feature needs beyond its cpuid bit. */
enum { OS_NONE = 0, OS_AVX = 1, OS_AVX512 = 2, OS_AMX = 3 };

typedef struct x86_feature {
    const char *name; /* as /proc/cpuinfo prints it */
    uint32_t leaf, subleaf;
    int reg, bit;
    int os;
} x86_feature;

static const x86_feature x86_features[] = {
    {"sse", 1, 0, R_EDX, 25, OS_NONE},
    {"sse2", 1, 0, R_EDX, 26, OS_NONE},
    {"pni", 1, 0, R_ECX, 0, OS_NONE}, /* SSE3 */
    {"pclmulqdq", 1, 0, R_ECX, 1, OS_NONE},
    {"ssse3", 1, 0, R_ECX, 9, OS_NONE},
    {"fma", 1, 0, R_ECX, 12, OS_AVX},
    {"sse4_1", 1, 0, R_ECX, 19, OS_NONE},
    {"sse4_2", 1, 0, R_ECX, 20, OS_NONE},
    {"movbe", 1, 0, R_ECX, 22, OS_NONE},
    {"popcnt", 1, 0, R_ECX, 23, OS_NONE},
    {"aes", 1, 0, R_ECX, 25, OS_NONE},
    {"avx", 1, 0, R_ECX, 28, OS_AVX},
    {"f16c", 1, 0, R_ECX, 29, OS_AVX},
    {"bmi1", 7, 0, R_EBX, 3, OS_NONE},
    {"avx2", 7, 0, R_EBX, 5, OS_AVX},
    {"bmi2", 7, 0, R_EBX, 8, OS_NONE},
    {"avx512f", 7, 0, R_EBX, 16, OS_AVX512},
    {"avx512dq", 7, 0, R_EBX, 17, OS_AVX512},
    {"avx512ifma", 7, 0, R_EBX, 21, OS_AVX512},
    {"avx512cd", 7, 0, R_EBX, 28, OS_AVX512},
    {"sha_ni", 7, 0, R_EBX, 29, OS_NONE},
    {"avx512bw", 7, 0, R_EBX, 30, OS_AVX512},
    {"avx512vl", 7, 0, R_EBX, 31, OS_AVX512},
    {"avx512vbmi", 7, 0, R_ECX, 1, OS_AVX512},
    {"avx512_vbmi2", 7, 0, R_ECX, 6, OS_AVX512},
    {"gfni", 7, 0, R_ECX, 8, OS_NONE},
    {"vaes", 7, 0, R_ECX, 9, OS_AVX},
    {"vpclmulqdq", 7, 0, R_ECX, 10, OS_AVX},
    {"avx512_vnni", 7, 0, R_ECX, 11, OS_AVX512},
    {"avx512_bitalg", 7, 0, R_ECX, 12, OS_AVX512},
    {"avx512_vpopcntdq", 7, 0, R_ECX, 14, OS_AVX512},
    {"avx512_vp2intersect", 7, 0, R_EDX, 8, OS_AVX512},
    {"amx_bf16", 7, 0, R_EDX, 22, OS_AMX},
    {"avx512_fp16", 7, 0, R_EDX, 23, OS_AVX512},
    {"amx_tile", 7, 0, R_EDX, 24, OS_AMX},
    {"amx_int8", 7, 0, R_EDX, 25, OS_AMX},
    {"avx_vnni", 7, 1, R_EAX, 4, OS_AVX},
    {"avx512_bf16", 7, 1, R_EAX, 5, OS_AVX512},
};

#define N_X86_FEATURES (sizeof x86_features / sizeof x86_features[0])

bool hwa__x86_feature_known(const char *name) {
    for (size_t i = 0; i < N_X86_FEATURES; i++)
        if (!strcmp(x86_features[i].name, name)) return true;
    return false;
}

#if defined(__x86_64__) || defined(__i386__)

/* XCR0 bits: x87 0, SSE 1, AVX 2, opmask 5, ZMM_Hi256 6, Hi16_ZMM 7,
 * XTILECFG 17, XTILEDATA 18. */
#define XCR0_AVX (UINT64_C(1) << 1 | UINT64_C(1) << 2)
#define XCR0_AVX512 (XCR0_AVX | UINT64_C(7) << 5)
#define XCR0_AMX (UINT64_C(3) << 17)

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

/* Asks Linux for permission to use AMX tile data (granted per process, once). */
static bool amx_permission(void) {
#ifdef SYS_arch_prctl
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return false;
    unsigned long bitmask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bitmask) != 0) return false;
    return (bitmask >> XFEATURE_XTILEDATA) & 1;
#else
    return false;
#endif
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/* Whether this process may use AMX tiles: the CPU has them (cpuid 7 EDX
 * bit 24), the OS saves their state (xcr0) and Linux grants them. */
static bool amx_tiles_granted(uint32_t leaf7_edx, uint64_t xcr0) {
    return ((leaf7_edx >> 24) & 1) && (xcr0 & XCR0_AMX) == XCR0_AMX && amx_permission();
}

bool hwa__amx_usable(bool int8) {
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 7) return false;
    cpuid(1, 0, r);
    const uint64_t xcr0 = (r[R_ECX] >> 27) & 1 ? xgetbv0() : 0; /* OSXSAVE */
    cpuid(7, 0, r);
    return ((r[R_EDX] >> (int8 ? 25 : 22)) & 1) && amx_tiles_granted(r[R_EDX], xcr0);
}

hwa_status hwa__cpu_from_cpuid(hwa_passport *p) {
    hwa_cpu_info *cpu = &p->cpu;
    uint32_t r[4], max_leaf, max_sub7 = 0;
    cpuid(0, 0, r);
    max_leaf = r[0];
    memcpy(cpu->vendor, &r[1], 4);
    memcpy(cpu->vendor + 4, &r[3], 4);
    memcpy(cpu->vendor + 8, &r[2], 4);
    cpu->vendor[12] = '\0';
#if defined(__x86_64__)
    hwa__strlcpy(cpu->arch, "x86_64", sizeof cpu->arch);
#else
    hwa__strlcpy(cpu->arch, "i686", sizeof cpu->arch);
#endif

    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000004u) {
        char brand[49];
        for (uint32_t i = 0; i < 3; i++) {
            cpuid(0x80000002u + i, 0, r);
            memcpy(brand + 16 * i, r, 16);
        }
        brand[48] = '\0';
        hwa__strlcpy(cpu->model_name, hwa__strtrim(brand), sizeof cpu->model_name);
    }

    uint32_t regs[2][2][4] = {{{0}}}; /* [leaf 1 or 7][subleaf][reg] */
    if (max_leaf >= 1) {
        cpuid(1, 0, regs[0][0]);
        uint32_t eax = regs[0][0][R_EAX];
        uint32_t fam = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;
        if (fam == 0xf) fam += (eax >> 20) & 0xff;
        if (fam == 0x6 || fam >= 0xf) model |= ((eax >> 16) & 0xf) << 4;
        cpu->family = (int)fam;
        cpu->model = (int)model;
        cpu->stepping = (int)(eax & 0xf);
    }
    if (max_leaf >= 7) {
        cpuid(7, 0, regs[1][0]);
        max_sub7 = regs[1][0][R_EAX];
        if (max_sub7 >= 1) cpuid(7, 1, regs[1][1]);
    }

    bool osxsave = (regs[0][0][R_ECX] >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    bool os_avx = (xcr0 & XCR0_AVX) == XCR0_AVX;
    bool os_avx512 = (xcr0 & XCR0_AVX512) == XCR0_AVX512;
    bool os_amx = (xcr0 & XCR0_AMX) == XCR0_AMX;
    bool cpu_amx = (regs[1][0][R_EDX] >> 24) & 1;
    cpu->amx_permitted = amx_tiles_granted(regs[1][0][R_EDX], xcr0);
    if (cpu_amx && os_amx && !cpu->amx_permitted)
        hwa__passport_warn(p, "the CPU has AMX but Linux refused this process permission to use it "
                              "(arch_prctl ARCH_REQ_XCOMP_PERM); AMX features are not listed");

    for (size_t i = 0; i < N_X86_FEATURES; i++) {
        const x86_feature *f = &x86_features[i];
        uint32_t *rr = f->leaf == 1 ? regs[0][0] : regs[1][f->subleaf];
        if (!((rr[f->reg] >> f->bit) & 1)) continue;
        bool ok = f->os == OS_NONE || (f->os == OS_AVX && os_avx) || (f->os == OS_AVX512 && os_avx512) ||
                  (f->os == OS_AMX && cpu->amx_permitted);
        if (!ok) continue;
        hwa_status st = hwa__passport_add_feature(p, f->name);
        if (st != HWA_OK) return st;
    }
    return HWA_OK;
}

#else

hwa_status hwa__cpu_from_cpuid(hwa_passport *p) {
    (void)p;
    return HWA_E_UNSUPPORTED;
}

bool hwa__amx_usable(bool int8) {
    (void)int8;
    return false;
}

#endif
