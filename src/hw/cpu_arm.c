/* ARM CPU details: implementer names, and the features the kernel reports
 * through the auxiliary vector (getauxval AT_HWCAP / AT_HWCAP2), which exist
 * even where /proc/cpuinfo is hidden or trimmed. Names follow /proc/cpuinfo. */
#include <string.h>

#include "hw/hw_internal.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

const char *hwa__arm_implementer_name(unsigned code) {
    switch (code) {
    case 0x41: return "ARM";
    case 0x42: return "Broadcom";
    case 0x43: return "Cavium";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x53: return "Samsung";
    case 0x61: return "Apple";
    case 0x6d: return "Microsoft";
    case 0xc0: return "Ampere";
    default: return NULL;
    }
}

/* A few common Arm Ltd. (0x41) cores; NULL otherwise. */
const char *hwa__arm_part_name(unsigned implementer, unsigned part) {
    if (implementer != 0x41) return NULL;
    switch (part) {
    case 0xd08: return "Cortex-A72";
    case 0xd0b: return "Cortex-A76";
    case 0xd0c: return "Neoverse-N1";
    case 0xd40: return "Neoverse-V1";
    case 0xd49: return "Neoverse-N2";
    case 0xd4f: return "Neoverse-V2";
    default: return NULL;
    }
}

#if defined(__aarch64__)

typedef struct arm_cap {
    const char *name;
    int hwcap2; /* 0: AT_HWCAP, 1: AT_HWCAP2 */
    int bit;
} arm_cap;

/* Bit numbers from the Linux arm64 uapi (asm/hwcap.h). */
static const arm_cap arm_caps[] = {
    {"fp", 0, 0},       {"asimd", 0, 1},  {"aes", 0, 3},      {"crc32", 0, 7},
    {"atomics", 0, 8},  {"fphp", 0, 9},   {"asimdhp", 0, 10}, {"asimdrdm", 0, 12},
    {"asimddp", 0, 20}, {"asimdfhm", 0, 23}, {"sve", 0, 22},
    {"sve2", 1, 1},     {"i8mm", 1, 13},  {"bf16", 1, 14},    {"sme", 1, 23},
};

hwa_status hwa__cpu_arm_auxv(hwa_passport *p) {
    unsigned long caps[2] = {getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
    for (size_t i = 0; i < sizeof arm_caps / sizeof arm_caps[0]; i++) {
        if (!((caps[arm_caps[i].hwcap2] >> arm_caps[i].bit) & 1)) continue;
        hwa_status st = hwa__passport_add_feature(p, arm_caps[i].name);
        if (st != HWA_OK) return st;
    }
    return HWA_OK;
}

#else

hwa_status hwa__cpu_arm_auxv(hwa_passport *p) {
    (void)p;
    return HWA_E_UNSUPPORTED;
}

#endif
