/* Internal declarations of the hardware passport (src/hw/). Not a published API. */
#ifndef HWADAPT_HW_INTERNAL_H
#define HWADAPT_HW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "hwadapt/hw.h"

struct hwa_passport {
    hwa_cpu_info cpu;
    char **features;          /* owned strings; cpu.features points here */
    int cap_features;
    hwa_device_info *devices;
    int n_devices, cap_devices;
    hwa_runtime_info runtimes[8];
    int n_runtimes;
    hwa_meter_info *meters;
    int n_meters, cap_meters;
    char **warnings;
    int n_warnings, cap_warnings;
    char fingerprint[17];
};

/* ---- passport building (passport.c) ---------------------------------------- */

/* Adds a feature name (deduplicated). HWA_E_NOMEM. */
hwa_status hwa__passport_add_feature(hwa_passport *p, const char *name);
/* Removes a feature name if present. */
void hwa__passport_drop_feature(hwa_passport *p, const char *name);
/* A new zeroed device appended to p (NULL and HWA_E_NOMEM on failure). */
hwa_device_info *hwa__passport_add_device(hwa_passport *p);
hwa_status hwa__passport_add_meter(hwa_passport *p, const hwa_meter_info *m);
/* Records a warning; out of memory drops it silently (warnings are advisory). */
void hwa__passport_warn(hwa_passport *p, const char *fmt, ...) HWA_PRINTF(2, 3);

/* Copies src into dst[cap], truncating; always NUL-terminates. */
void hwa__strlcpy(char *dst, const char *src, size_t cap);
/* Removes leading and trailing white space in place; returns s. */
char *hwa__strtrim(char *s);

/* ---- files below the sysroot (sysfs.c) -------------------------------------- */

/* The effective root: opts->sysroot, else $HWA_SYSROOT, else "". */
const char *hwa__sysroot(const hwa_probe_opts *opts);
/* root + rel ("/proc/meminfo") into buf. HWA_E_INVALID when too long. */
hwa_status hwa__hw_path(const char *root, const char *rel, char *buf, size_t cap);
/* Reads a small text file below root into buf (NUL-terminated, trailing
 * white space removed). HWA_E_NOTFOUND when missing, HWA_E_IO otherwise,
 * HWA_E_RANGE when it does not fit. Records no message for HWA_E_NOTFOUND
 * beyond the path. */
hwa_status hwa__read_text(const char *root, const char *rel, char *buf, size_t cap);
/* A whole file below root, malloc'd and NUL-terminated; caller frees. */
hwa_status hwa__read_file_alloc(const char *root, const char *rel, char **out, size_t *n);
/* Parses a decimal integer (optionally followed only by white space) in
 * [lo, hi]. HWA_E_FORMAT / HWA_E_RANGE with `what` in the message. */
hwa_status hwa__parse_i64(const char *s, int64_t lo, int64_t hi, const char *what, int64_t *out);
hwa_status hwa__read_i64(const char *root, const char *rel, int64_t lo, int64_t hi, int64_t *out);
/* Parses a Linux CPU list ("0-3,8,10-11"); sets *count and, when bits is
 * non-NULL, bits[cpu / 64] |= 1 << cpu % 64 for cpus below nbits * 64.
 * HWA_E_FORMAT on anything else. An empty string is an empty list. */
hwa_status hwa__parse_cpulist(const char *s, int *count, uint64_t *bits, int nbits);
/* Formats a bitmap of CPUs as a Linux CPU list. */
void hwa__format_cpulist(const uint64_t *bits, int nbits, char *buf, size_t cap);

/* Topology, caches, NUMA nodes, memory (sysfs.c). */
hwa_status hwa__probe_topology(const char *root, hwa_cpu_info *cpu);
hwa_status hwa__probe_memory(const char *root, hwa_cpu_info *cpu);
/* cgroup limits and the affinity mask (cgroup.c). */
hwa_status hwa__probe_cgroup(const char *root, hwa_cpu_info *cpu);
/* Called by hwa__cgroup_foreach once for each place where one hierarchy of
 * the process's cgroups may be mounted: controller is NULL for the unified
 * (v2) hierarchy, else one v1 controller's name ("cpu"); mount is the
 * hierarchy's root ("/sys/fs/cgroup/cpu,cpuacct") and dir the process's
 * cgroup in it, both relative to the sysroot. dir is mount itself when the
 * path /proc/self/cgroup gives is not visible there (a cgroup namespace), and
 * neither need exist. A status other than HWA_OK stops the walk. */
typedef hwa_status (*hwa__cgroup_fn)(void *ud, const char *controller, const char *mount, const char *dir);
/* Reads <root>/proc/self/cgroup and calls fn for each hierarchy: v2 at
 * /sys/fs/cgroup and (hybrid hosts) /sys/fs/cgroup/unified; each v1
 * controller at /sys/fs/cgroup/<controller> and, when it shares a hierarchy,
 * at /sys/fs/cgroup/<controller-list> too. HWA_E_NOTFOUND when the file is
 * missing, HWA_E_FORMAT for a malformed line, else what fn returned. */
hwa_status hwa__cgroup_foreach(const char *root, hwa__cgroup_fn fn, void *ud);
/* The CPUs this process may run on: sched_getaffinity for the real system,
 * <root>/proc/self/status's Cpus_allowed_list under a sysroot. Sets bits
 * (nbits words, zeroed first) and *count; *count is 0 when unknown (no
 * status file). HWA_E_FORMAT for a malformed list. */
hwa_status hwa__affinity(const char *root, uint64_t *bits, int nbits, int *count);

/* ---- CPU identity --------------------------------------------------------- */

/* From <root>/proc/cpuinfo (cpuinfo.c): x86 "flags" or ARM "Features". */
hwa_status hwa__cpu_from_cpuinfo(hwa_passport *p, const char *root);
/* From the cpuid instruction, with OS support (cpu_x86.c). HWA_E_UNSUPPORTED
 * when not built for x86. */
hwa_status hwa__cpu_from_cpuid(hwa_passport *p);
/* Whether name is one of the x86 ISA features the passport reports. */
bool hwa__x86_feature_known(const char *name);
/* ARM: implementer code to vendor name; getauxval features (cpu_arm.c). */
const char *hwa__arm_implementer_name(unsigned code);
const char *hwa__arm_part_name(unsigned implementer, unsigned part);
hwa_status hwa__cpu_arm_auxv(hwa_passport *p);

/* ---- accelerators ----------------------------------------------------------- */

/* The library path to dlopen: the override (a file, or a directory holding
 * soname), else soname. */
void hwa__lib_path(const char *override_opt, const char *env, const char *soname, char *buf, size_t cap);
hwa_status hwa__probe_opencl(hwa_passport *p, const hwa_probe_opts *opts);
hwa_status hwa__probe_cuda(hwa_passport *p, const hwa_probe_opts *opts);
/* PJRT plugins (pjrt.c): HWA_PJRT_PLUGIN or the first plugin found. */
hwa_status hwa__probe_pjrt(hwa_passport *p, const hwa_probe_opts *opts);

/* NVML energy of GPU index (cuda.c), in millijoules, for the meter. */
typedef struct hwa__nvml hwa__nvml;
hwa__nvml *hwa__nvml_open(const hwa_probe_opts *opts);
/* The same for a library path; NULL with the reason in note when unusable. */
hwa__nvml *hwa__nvml_open_path(const char *path, char *note, size_t note_cap);
int hwa__nvml_count(hwa__nvml *n);
hwa_status hwa__nvml_energy_mj(hwa__nvml *n, int index, uint64_t *mj);
/* NVML's index (the N of meter "nvml:N") of the GPU at pci_bus_id, the
 * CUDA driver's cuDeviceGetPCIBusId text: CUDA and NVML number GPUs in
 * different orders, and the bus id is what both agree on. HWA_E_NOTFOUND
 * when NVML has no GPU there (or pci_bus_id is ""), HWA_E_UNSUPPORTED when
 * the library lacks the entry points, HWA_E_MISUSE for NULL. */
hwa_status hwa__nvml_index_of_pci(hwa__nvml *n, const char *pci_bus_id, int *index);
void hwa__nvml_close(hwa__nvml *n);

/* NVML's power reading of GPU index, in watts (power sampling where the GPU
 * keeps no energy counter). HWA_E_UNSUPPORTED without the entry point,
 * HWA_E_NOTFOUND for no such GPU, HWA_E_IO when it cannot be read. */
hwa_status hwa__nvml_power_w(hwa__nvml *n, int index, double *watts);

/* ---- power (power.c, power_sampled.c) ---------------------------------------- */

/* Energy integrated from sampled power (power_sampled.c): a thread calls
 * read(ud, &watts) every period_s (1 ms..10 s) and integrates by the
 * trapezoid rule; read must be callable from that thread. Start takes the
 * first sample itself and returns NULL with the error recorded when it
 * fails (or HWA_E_MISUSE, HWA_E_NOMEM). Joules counts from the start, the
 * last sample's power carried to the instant of the read; after a failed
 * sample every read returns that error. Stop (NULL: no-op) joins the thread
 * and frees. One reader thread at a time. */
typedef hwa_status (*hwa__power_sensor)(void *ud, double *watts);
typedef struct hwa__sampler hwa__sampler;
hwa__sampler *hwa__sampler_start(hwa__power_sensor read, void *ud, double period_s);
hwa_status hwa__sampler_joules(hwa__sampler *s, double *joules);
void hwa__sampler_stop(hwa__sampler *s);

hwa_status hwa__probe_meters(hwa_passport *p, const hwa_probe_opts *opts);

/* ---- calibration (calibrate.c, cache.c) ------------------------------------- */

/* The calibration cache's format version and file name (in the cache
 * directory) from the fingerprint, the peak method and the version. */
#define HWA__CALIBRATION_VERSION 2
#define HWA__CALIBRATION_FILE_FMT "calibration-%s-%s-v%d.json"

/* Tells opts->progress (when set) what a calibration measures now. */
void hwa__calibrate_say(const hwa_probe_opts *opts, const char *what);
/* Calibrates devices[0] (the CPU) as opts says, through the cache. */
hwa_status hwa__calibrate_cpu(hwa_passport *p, const hwa_probe_opts *opts);
/* Calibrates every OpenCL device as opts says, through the cache
 * (opencl_calibrate.c); a device that fails becomes a warning. */
hwa_status hwa__calibrate_opencl(hwa_passport *p, const hwa_probe_opts *opts);
/* The cached calibration of device d for fingerprint fp (p->fingerprint for
 * the CPU, the device's own for others) and method (cache.c): HWA_OK when
 * found and valid; HWA_E_NOTFOUND when there is none; a corrupt file adds a
 * warning and gives HWA_E_FORMAT. */
hwa_status hwa__calibrate_load(hwa_passport *p, const hwa_probe_opts *opts, const char *fp, const char *method,
                               hwa_device_info *d);
/* Writes it atomically; a failure becomes a warning. */
void hwa__calibrate_save(hwa_passport *p, const hwa_probe_opts *opts, const char *fp, const char *method,
                         const hwa_device_info *d);
/* Computes p->fingerprint from the CPU part. */
void hwa__passport_fingerprint(hwa_passport *p);

/* ISA loops: operations per call = returned count; n_iter iterations of the
 * inner loop. Each returns a value that depends on all the work. */
double hwa__fma_loop_f32_avx512(int64_t n_iter, double *ops);
double hwa__fma_loop_bf16_avx512(int64_t n_iter, double *ops);
double hwa__fma_loop_i8_avx512(int64_t n_iter, double *ops);
double hwa__fma_loop_f32_avx2(int64_t n_iter, double *ops);
double hwa__fma_loop_f32_scalar(int64_t n_iter, double *ops);
/* AMX tile products (TDPBF16PS, TDPBSSD) with their operands in tile
 * registers; only where hwa__amx_usable says so. */
double hwa__fma_loop_bf16_amx(int64_t n_iter, double *ops);
double hwa__fma_loop_i8_amx(int64_t n_iter, double *ops);
/* Whether the CPU has AMX tiles with bf16 (or, with int8, int8) products,
 * the OS saves their state and grants this process their use (asked for
 * here if not yet). */
bool hwa__amx_usable(bool int8);

#endif
