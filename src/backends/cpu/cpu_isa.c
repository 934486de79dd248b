/* ISA detection and the level override (see cpu_isa.h). */
#include "backends/cpu/cpu_isa.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

static hwa__cpu_caps caps;
static hwa__isa host_isa = HWA_ISA_SCALAR;
static int env_isa = -1;
static int override_isa = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

/* Linux: a process must ask before it may use the AMX tile data state. */
static bool request_amx(void) {
#if defined(SYS_arch_prctl)
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    unsigned long bits = 0;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return false;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) != 0) return false;
    return (bits >> XFEATURE_XTILEDATA) & 1u;
#else
    return false;
#endif
}

static void detect_x86(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    caps.fma = (c >> 12) & 1;
    caps.f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    const unsigned long long xcr0 = xgetbv0();
    const bool ymm_os = (xcr0 & 0x6) == 0x6;                /* SSE + AVX state */
    const bool zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0;    /* opmask + ZMM state */
    const bool tile_os = (xcr0 & 0x60000) == 0x60000;       /* XTILECFG + XTILEDATA */
    if (!ymm_os || __get_cpuid_max(0, NULL) < 7) return;
    unsigned int b7, c7, d7, a71 = 0, b71, c71, d71;
    __cpuid_count(7, 0, a, b7, c7, d7);
    __cpuid_count(7, 1, a71, b71, c71, d71);
    caps.avx2 = ((b7 >> 5) & 1) && caps.fma && caps.f16c;
    caps.avx512 = zmm_os && ((b7 >> 16) & 1) && ((b7 >> 17) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1);
    caps.avx512_vnni = caps.avx512 && ((c7 >> 11) & 1);
    caps.avx512_bf16 = caps.avx512 && ((a71 >> 5) & 1);
    caps.amx_bf16 = tile_os && ((d7 >> 22) & 1);
    caps.amx_tile = tile_os && ((d7 >> 24) & 1);
    caps.amx_int8 = tile_os && ((d7 >> 25) & 1);
    if (caps.amx_tile) caps.amx_permitted = request_amx();
}
#endif

static void detect(void) {
#if defined(__x86_64__)
    detect_x86();
#endif
    if (caps.avx2) host_isa = HWA_ISA_AVX2;
    if (caps.avx512) host_isa = HWA_ISA_AVX512;
    if (caps.avx512 && caps.amx_tile && caps.amx_permitted) host_isa = HWA_ISA_AMX;
    const char *e = getenv("HWA_ISA");
    if (e && *e) {
        env_isa = hwa__isa_from_name(e);
        if (env_isa < 0) fprintf(stderr, "hwadapt: HWA_ISA=%s is not one of scalar, avx2, avx512, amx; ignored\n", e);
    }
}

const hwa__cpu_caps *hwa__cpu_caps_get(void) {
    pthread_once(&once, detect);
    return &caps;
}

hwa__isa hwa__isa_host(void) {
    pthread_once(&once, detect);
    return host_isa;
}

bool hwa__isa_libraries_allowed(void) {
    return hwa__isa_active() > HWA_ISA_SCALAR || hwa__isa_host() == HWA_ISA_SCALAR;
}

int hwa__isa_env(void) {
    pthread_once(&once, detect);
    return env_isa >= 0 && env_isa < (int)host_isa ? env_isa : -1;
}

hwa__isa hwa__isa_active(void) {
    pthread_once(&once, detect);
    int want = override_isa >= 0 ? override_isa : env_isa >= 0 ? env_isa : (int)host_isa;
    return want < (int)host_isa ? (hwa__isa)want : host_isa;
}

void hwa__isa_set_override(int level) {
    pthread_once(&once, detect);
    override_isa = level >= 0 && level < HWA_ISA_COUNT ? level : -1;
}

static const char *const isa_names[HWA_ISA_COUNT] = {"scalar", "avx2", "avx512", "amx"};

const char *hwa__isa_name(hwa__isa isa) { return (unsigned)isa < HWA_ISA_COUNT ? isa_names[isa] : "?"; }

int hwa__isa_from_name(const char *s) {
    for (int i = 0; i < HWA_ISA_COUNT; i++)
        if (strcasecmp(s, isa_names[i]) == 0) return i;
    return -1;
}

/* cgroup v2 "cpu.max": "max 100000" (no quota) or "QUOTA PERIOD". */
static int cgroup_cpu_limit(void) {
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f) return 0;
    char q[32] = "";
    long long period = 0;
    int n = fscanf(f, "%31s %lld", q, &period);
    fclose(f);
    if (n != 2 || strcmp(q, "max") == 0 || period <= 0) return 0;
    long long quota = atoll(q);
    if (quota <= 0) return 0;
    long long cpus = (quota + period - 1) / period;
    return cpus > 4096 ? 4096 : (int)cpus;
}

int hwa__cpu_usable_count(void) {
    int n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = 1;
    int lim = cgroup_cpu_limit();
    if (lim > 0 && lim < n) n = lim;
    return n;
}
