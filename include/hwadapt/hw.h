/* hwadapt — the hardware passport, calibration and power meters.
 *
 * The passport answers "what is in this machine and what can each part
 * actually do?": the CPU (ISA features with OS support checked, cores,
 * caches, memory, the limits of the container the process runs in), the
 * accelerators that the OpenCL ICD loader and the NVIDIA driver report (both
 * loaded with dlopen at run time: an absent library means "none found",
 * never an error), the power meters that can be read, and calibrated peaks
 * (GFLOP/s per dtype, memory bandwidth) cached per hardware fingerprint.
 *
 * Every file the probe reads (/proc, /sys) is read below a root path, so
 * tests and users can point it at a fixture tree (hwa_probe_opts.sysroot or
 * the environment variable HWA_SYSROOT). With a non-empty root the CPU's
 * identity and features come from <root>/proc/cpuinfo instead of the cpuid
 * instruction, which describes the real machine and not the fixture.
 *
 * Threading: a passport is immutable once probed; reading one from several
 * threads is safe. Probing is thread-safe but runs calibration kernels on
 * all the CPUs the process may use, so run one probe at a time.
 */
#ifndef HWADAPT_HW_H
#define HWADAPT_HW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the probe treats calibration. */
typedef enum hwa_calibrate_mode {
    HWA_CALIBRATE_CACHED = 0, /* reuse the cached result for this fingerprint, measure when there is none */
    HWA_CALIBRATE_FORCE,      /* measure again and replace the cache (hwadapt probe --recalibrate) */
    HWA_CALIBRATE_NONE        /* measure nothing, read no cache (hwadapt probe --no-calibrate) */
} hwa_calibrate_mode;

/* A matmul benchmark that calibration calls for the CPU's peak GFLOP/s per
 * dtype (f32, bf16, i8), so the peak is measured through the kernels hwadapt
 * runs. It runs for about budget_s seconds and stores the best rate in
 * *gflops (GOP/s for integer dtypes). HWA_E_UNSUPPORTED for a dtype it does
 * not implement (that dtype then has no peak); any other error becomes a
 * passport warning and leaves that dtype without a peak. */
typedef hwa_status (*hwa_matmul_bench_fn)(void *ud, hwa_dtype dtype, double budget_s, double *gflops);

/* The same for another device, named by its passport id ("opencl:0"), so
 * that its peak is measured through the backend that runs it there
 * (libhwadapt's is hwa_bench_device_matmul_peak in bench.h). */
typedef hwa_status (*hwa_device_matmul_bench_fn)(void *ud, const char *device, hwa_dtype dtype, double budget_s,
                                                 double *gflops);

/* Options of hwa_passport_probe. A zeroed struct (or NULL) is the default:
 * the real machine, the standard library names, the cache in
 * $XDG_CACHE_HOME/hwadapt (or ~/.cache/hwadapt), calibration cached. */
typedef struct hwa_probe_opts {
    const char *sysroot;    /* NULL: $HWA_SYSROOT, else "" (the real /) */
    const char *opencl_lib; /* NULL: $HWA_OPENCL_LIB, else "libOpenCL.so.1" */
    const char *cuda_lib;   /* NULL: $HWA_CUDA_LIB, else "libcuda.so.1" */
    const char *nvml_lib;   /* NULL: $HWA_NVML_LIB, else "libnvidia-ml.so.1" */
    /* A library override that names a directory means that directory's copy
     * of the standard name; a path that cannot be loaded means "none found". */
    const char *cache_dir;  /* NULL: $XDG_CACHE_HOME/hwadapt, else $HOME/.cache/hwadapt */
    hwa_calibrate_mode calibrate;
    /* NULL: the peaks come from hwadapt's FMA / dot-product throughput loops
     * (method "fma-loop"); set: from this benchmark (method "matmul"; libhwadapt's
     * is hwa_bench_matmul_peak in bench.h), and the loops still give
     * fma_peak_gflops. The method is part of the calibration cache's key. */
    hwa_matmul_bench_fn matmul_bench;
    void *matmul_bench_ud;
    /* NULL: an OpenCL device's peaks are its FMA loops' (method "fma-loop");
     * set: its f32 and f16 peaks come from this benchmark (method "matmul";
     * a dtype it does not run has none), and the loops still give
     * fma_peak_gflops. */
    hwa_device_matmul_bench_fn device_matmul_bench;
    void *device_matmul_bench_ud;
    /* NULL, or called before each measurement of a calibration (not when
     * the cache has the device) with what is measured now ("cpu: bf16
     * peak"), so that a command can show progress; from the probing
     * thread. */
    void (*progress)(void *ud, const char *what);
    void *progress_ud;
    /* NULL: $HWA_PJRT_PLUGIN, else the first PJRT plugin found in the known
     * places (docs/pjrt.md); a path that is not a plugin means "none found" */
    const char *pjrt_plugin;
} hwa_probe_opts;

/* ---- plain data ---------------------------------------------------------- */

#define HWA_HW_MAX_CACHES 8

typedef struct hwa_cache_level {
    int level;           /* 1, 2, 3, ... */
    char type[16];       /* "data", "instruction", "unified" */
    int64_t size_bytes;  /* of one instance */
    int instances;       /* how many of it the online CPUs have */
    int shared_by;       /* logical CPUs sharing one instance */
} hwa_cache_level;

typedef struct hwa_cpu_info {
    char arch[16];        /* "x86_64", "aarch64", or what uname reports */
    char vendor[64];      /* "GenuineIntel", "AuthenticAMD", "ARM", ... */
    char model_name[128];
    int family, model, stepping; /* -1 when unknown (ARM: implementer, part, revision) */
    /* ISA features usable by this process, named as Linux's /proc/cpuinfo
     * names them ("avx512_vnni", "amx_int8", "asimddp", "sve"). */
    int n_features;
    const char *const *features;
    int sockets, physical_cores, logical_cpus, numa_nodes; /* 0 when unknown */
    int n_caches;
    hwa_cache_level caches[HWA_HW_MAX_CACHES];
    int64_t mem_total_bytes, mem_available_bytes;   /* /proc/meminfo; -1 unknown */
    int cgroup_version;             /* 2, 1, or 0 when no cgroup controller was found */
    int64_t cgroup_memory_max_bytes; /* -1: no limit */
    double cgroup_cpu_limit;        /* CPUs the cgroup's quota allows (1.5); 0: no limit */
    int affinity_cpus;              /* CPUs in the affinity mask; 0 unknown */
    char affinity_list[256];        /* "0-3,8" */
    bool amx_permitted;             /* x86: the kernel granted AMX tile data (arch_prctl) */
} hwa_cpu_info;

/* What runs a device. */
typedef enum hwa_hw_kind {
    HWA_HW_CPU = 0,
    HWA_HW_OPENCL,
    HWA_HW_CUDA,
    HWA_HW_PJRT
} hwa_hw_kind;

/* "cpu", "opencl", "cuda", "pjrt"; "?" for an invalid value. Static; thread-safe. */
const char *hwa_hw_kind_name(hwa_hw_kind k);

typedef struct hwa_bandwidth {
    double read_gbs, copy_gbs, triad_gbs; /* 1e9 bytes/s, STREAM's byte counts */
    int64_t array_bytes;                  /* size of each array measured */
} hwa_bandwidth;

typedef struct hwa_device_info {
    char id[32];          /* "cpu", "opencl:0", "cuda:0", "pjrt:0" */
    hwa_hw_kind kind;
    char type[16];        /* "cpu", "gpu", "accelerator", "other" */
    char name[256];
    char vendor[128];
    char platform[128];   /* OpenCL platform name; "" otherwise */
    char driver[64];      /* driver version string; "" unknown */
    int compute_units;    /* CUs, SMs, or cores; 0 unknown */
    int clock_mhz;        /* maximum; 0 unknown */
    int64_t memory_bytes;     /* global memory; -1 unknown */
    int64_t max_alloc_bytes;  /* largest single allocation; -1 unknown */
    bool fp16, fp64;
    int cc_major, cc_minor;   /* CUDA compute capability; 0 otherwise */
    char pci_bus_id[32];      /* "0000:3b:00.0"; "" unknown */
    /* NVML telemetry at probe time; negative when unavailable. */
    double power_w, power_limit_w, temperature_c, energy_j;
    int sm_clock_mhz, mem_clock_mhz;
    int64_t free_memory_bytes;
    /* Calibration: 0 where not measured; GOP/s for integers. peak_gflops is
     * the roofline: with method "matmul" the best rate of hwadapt's own
     * matrix-product kernels (hwa_probe_opts.matmul_bench), with "fma-loop"
     * the FMA loops' rate. fma_peak_gflops is always the FMA / dot-product
     * loops' rate (hwa_calibrate_fma_peak): the instructions' limit, which a
     * matmul kernel approaches but does not pass with the same instructions. */
    double peak_gflops[HWA_DTYPE_COUNT];
    char peak_method[16];     /* "fma-loop", "matmul", or "" */
    double fma_peak_gflops[HWA_DTYPE_COUNT];
    hwa_bandwidth bandwidth;
    bool calibration_cached;  /* read from the cache rather than measured now */
    /* OpenCL devices' calibration, 0 where not measured: blocking transfers
     * of one bandwidth array between host memory and the device (1e9
     * bytes/s), and the median time from enqueueing an empty kernel to
     * clFinish's return, in microseconds. */
    double h2d_gbs, d2h_gbs;
    double launch_us;
    /* PJRT devices: the plugin's device id and its attributes
     * ("name=value, ..."; "" when it reports none). */
    int pjrt_id;
    char pjrt_attributes[256];
} hwa_device_info;

/* An accelerator runtime the probe tried. */
typedef struct hwa_runtime_info {
    char name[16];       /* "opencl", "cuda", "nvml", "pjrt" */
    char library[512];   /* the path or name passed to dlopen */
    bool loaded;         /* dlopen succeeded and the entry points resolved */
    int n_devices;
    char note[256];      /* why none were found ("libcuda.so.1: cannot open ...") or "" */
} hwa_runtime_info;

typedef struct hwa_meter_info {
    char name[64];       /* "rapl:package-0", "rapl:package-0/dram", "nvml:0" */
    char kind[16];       /* "rapl", "nvml" */
    char domain[32];     /* "package", "core", "uncore", "dram", "psys", "gpu" */
} hwa_meter_info;

/* ---- the passport --------------------------------------------------------- */

typedef struct hwa_passport hwa_passport;

/* Probes the machine. opts may be NULL (defaults). Returns a passport the
 * caller frees with hwa_passport_free, or NULL with the error recorded
 * (hwa_last_error): HWA_E_NOMEM, or HWA_E_IO / HWA_E_FORMAT when a file the
 * passport cannot do without (<root>/proc/cpuinfo under a sysroot) is
 * missing or malformed. Everything optional that is missing is reported as
 * unknown or "none found"; problems worth telling the user about (a corrupt
 * cache, AMX permission refused) become warnings. */
hwa_passport *hwa_passport_probe(const hwa_probe_opts *opts);
void hwa_passport_free(hwa_passport *p); /* NULL is a no-op */

/* Accessors. Pointers stay valid until hwa_passport_free. NULL p or an index
 * out of range gives NULL (or 0 for counts). */
const hwa_cpu_info *hwa_passport_cpu(const hwa_passport *p);
int hwa_passport_device_count(const hwa_passport *p);           /* devices[0] is the CPU */
const hwa_device_info *hwa_passport_device(const hwa_passport *p, int i);
int hwa_passport_runtime_count(const hwa_passport *p);
const hwa_runtime_info *hwa_passport_runtime(const hwa_passport *p, int i);
int hwa_passport_meter_count(const hwa_passport *p);
const hwa_meter_info *hwa_passport_meter(const hwa_passport *p, int i);
int hwa_passport_warning_count(const hwa_passport *p);
const char *hwa_passport_warning(const hwa_passport *p, int i);
/* Whether the CPU has the feature named as /proc/cpuinfo names it. */
bool hwa_passport_has_feature(const hwa_passport *p, const char *flag);
/* 16 hex digits identifying the hardware the calibration depends on. */
const char *hwa_passport_fingerprint(const hwa_passport *p);

/* The passport as JSON (docs/passport.schema.json describes it). *out is a
 * NUL-terminated string the caller frees with free(). HWA_E_UNSUPPORTED in a
 * build without jansson; HWA_E_MISUSE for NULL arguments. */
hwa_status hwa_passport_to_json(const hwa_passport *p, char **out);

/* Writes the readable passport (one block per device, with its roofline) to
 * f. HWA_E_IO when writing fails. */
hwa_status hwa_passport_print(const hwa_passport *p, FILE *f);

/* ---- calibration ---------------------------------------------------------- */

/* Memory bandwidth with OpenMP threads: read (sum), copy (c = a) and triad
 * (a = b + s*c) over arrays of array_bytes each, best of reps. array_bytes 0
 * picks a size well beyond the last-level cache (capped by available
 * memory). HWA_E_NOMEM when the arrays cannot be allocated, HWA_E_INVALID
 * for a negative size or reps < 1. */
hwa_status hwa_calibrate_bandwidth(int64_t array_bytes, int reps, hwa_bandwidth *out);

/* The CPU's peak rate for dtype with all OpenMP threads, from a loop of
 * independent fused multiply-adds (f32: vfmadd; bf16: vdpbf16ps; i8:
 * vpdpbusd) in the widest ISA this process may use; about seconds long.
 * HWA_E_UNSUPPORTED when the CPU has no instruction for dtype. */
hwa_status hwa_calibrate_fma_peak(hwa_dtype dtype, double seconds, double *gflops);

/* ---- power meters --------------------------------------------------------- */

typedef struct hwa_meter hwa_meter;

/* Opens the meter called name (as hwa_passport_meter lists it) below opts's
 * sysroot and with its NVML library. Returns NULL with HWA_E_NOTFOUND when
 * there is no such meter, HWA_E_IO when it cannot be read. One thread at a
 * time per meter. */
hwa_meter *hwa_meter_open(const char *name, const hwa_probe_opts *opts);

/* An "nvml:N" meter of a GPU that keeps no energy counter (before Volta)
 * samples its power draw every 20 ms on a thread of its own and integrates
 * it; such a GPU is not in hwa_passport_meter's list, but opens by name.
 * Energy in joules used since hwa_meter_open. Counter wrap-around is handled
 * as long as reads come at least once per wrap period (RAPL wraps after
 * max_energy_range_uj, minutes at full power). HWA_E_IO when the counter
 * cannot be read, HWA_E_FORMAT when it reads as garbage. */
hwa_status hwa_meter_read_joules(hwa_meter *m, double *joules);
void hwa_meter_close(hwa_meter *m); /* NULL is a no-op */

/* ---- load: who else uses the CPUs -------------------------------------- */

/* A benchmark row is only as good as the CPUs it had. These two functions
 * tell how much CPU time this process got during an interval and how much
 * other processes (and a hypervisor, and the cgroup's quota) took from the
 * CPUs it may use: take a sample before the row and one after, then compute
 * the delta. docs/load.md says what each figure means and where it is blind
 * (jiffy resolution, containers whose /proc/stat shows the host).
 *
 * Both structs are plain data the caller owns; copy them freely. A figure
 * that could not be read is "unknown": NAN for a double, -1 for a count,
 * false for a have_* flag. */
typedef struct hwa_load_sample {
    double wall_s;            /* CLOCK_MONOTONIC; under a root, <root>/proc/uptime's first field when the fixture has one */
    double self_cpu_s;        /* this process's user+system CPU time (getrusage RUSAGE_SELF, or /proc/self/stat under a root); NAN unknown */
    bool have_stat;           /* /proc/stat was read */
    double busy_s, total_s;   /* /proc/stat's cpuN lines (the "cpu" line's columns): busy = user+nice+system+irq+softirq+steal, total = busy + idle + iowait; in seconds (USER_HZ from sysconf(_SC_CLK_TCK)) summed over the CPUs counted; NAN unknown */
    double steal_s;           /* the steal column alone (a hypervisor taking our vCPUs); NAN unknown */
    int cpus_counted;         /* how many cpuN lines were summed (the CPUs in this process's affinity mask, when they can be told apart; else all); 0 unknown */
    bool have_cgroup;         /* cgroup v2 cpu.stat (or v1 cpuacct.usage + cpu.stat) was read */
    double cgroup_usage_s;    /* usage_usec of the process's cgroup; NAN unknown */
    double cgroup_throttled_s;/* throttled_usec; NAN unknown (the root cgroup has none) */
    int64_t cgroup_nr_throttled; /* -1 unknown */
    double loadavg1;          /* /proc/loadavg first field; NAN unknown */
    int64_t procs_running;    /* /proc/stat procs_running (or loadavg's 4th field numerator); -1 unknown */
    int cgroup_version;       /* 2: usage from cgroup v2's cpu.stat; 1: from v1 (cpuacct.usage, cpu.stat); 0: none read */
} hwa_load_sample;

/* Takes a sample into *out (overwritten whole). root: NULL or "" for the
 * real system; otherwise every /proc and /sys/fs/cgroup file is read below
 * it (tests use fixtures), self_cpu_s comes from <root>/proc/self/stat, and
 * the CPUs counted are those of <root>/proc/self/status's Cpus_allowed_list
 * when it has one, else every cpuN line of <root>/proc/stat. USER_HZ is the
 * running system's either way. A file that is missing or cannot be read
 * leaves its fields unknown rather than failing. HWA_E_FORMAT, with the
 * file named in hwa_last_error(), when a file exists but cannot be parsed;
 * HWA_E_INVALID for a NULL out or a root too long for a path; HWA_E_RANGE
 * for a cgroup path longer than 1,000 bytes; HWA_E_NOMEM.
 * Thread-safe (it reads files and clocks; no shared state). */
hwa_status hwa_load_sample_take(const char *root, hwa_load_sample *out);

typedef struct hwa_load_delta {
    double wall_s;
    double self_cpu_s;        /* CPU time this process got in the interval; NAN unknown */
    double self_share;        /* self_cpu_s / (wall_s * threads): 1.0 means every thread ran all the time; NAN when threads < 1 or wall 0 */
    double others_cpus;       /* average number of CPUs busy with other processes: (busy delta - self delta) / wall, clamped >= 0; NAN unknown, or when wall_s < 0.05 (too short for jiffies) */
    double others_share;      /* others_cpus / the CPUs this process may use (cpus argument), clamped to [0, 1]; NAN unknown */
    double steal_share;       /* steal delta / (wall * cpus), clamped to [0, 1]: hypervisor steal; NAN as others_cpus */
    double throttled_s;       /* cgroup throttled time in the interval; NAN unknown */
    double loadavg1;          /* of the later sample */
    bool contended;           /* others_share > threshold, or throttled_s > 5% of wall, or steal_share > threshold */
    char why[160];            /* "" or sentences joined by "; ": "other processes took 48% of the 2 CPUs", "the cgroup's quota throttled 12% of the time", "the hypervisor stole 20%" */
} hwa_load_delta;

/* The interval from a to b (b taken after a) for a run on `threads` threads
 * of a process that may use `cpus` CPUs; contended uses `threshold` (a share,
 * e.g. 0.10). Writes *out whole. The /proc/stat figures are unknown when
 * either sample lacks them or the two counted a different number of CPUs;
 * a counter that went backwards (iowait does on some kernels) counts as no
 * change. The shares over cpus are NAN when cpus < 1. HWA_E_INVALID for a
 * NULL argument, b before a, or a threshold that is negative or NAN. Pure:
 * no I/O; thread-safe. */
hwa_status hwa_load_delta_compute(const hwa_load_sample *a, const hwa_load_sample *b, int threads, int cpus,
                                  double threshold, hwa_load_delta *out);

#ifdef __cplusplus
}
#endif
#endif
