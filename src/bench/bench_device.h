/* What the benchmark needs to know about devices, in one place: the list of
 * devices, the precisions and thread counts each offers, which kernel ran,
 * the calibrated peaks, power meters and the machine summary. Every answer is
 * honest: unknown is NAN / "n/a" / no meter, never a guess. Devices, peaks,
 * meters and the machine come from the hardware passport (NULL passport: the
 * CPU alone, nothing calibrated, no meter); precisions, threads and kernel
 * names from the backends. */
#ifndef HWADAPT_BENCH_DEVICE_H
#define HWADAPT_BENCH_DEVICE_H

#include "core/internal.h"

/* Devices the benchmark can run on ("cpu", ...); i in [0, count). */
int hwa__bdev_count(const hwa_passport *p);
const char *hwa__bdev_spec(const hwa_passport *p, int i);
/* HWA_OK when spec names a device; HWA_E_NOTFOUND with the list otherwise. */
hwa_status hwa__bdev_check(const hwa_passport *p, const char *spec);
/* Whether the device can run graphs in dtype t; the list as "f32, f16, bf16". */
bool hwa__bdev_supports_dtype(const char *spec, hwa_dtype t);
void hwa__bdev_dtypes(const char *spec, char *buf, size_t cap);
/* Whether the device's backend has a thread setting (the CPU's does;
 * OpenCL's driver spreads its own work, and its rows show threads as "-").
 * Asks a throw-away backend. */
bool hwa__bdev_has_threads(const char *spec);
/* Threads the device's backend runs with by default, and the most it offers
 * (1 and 1 without a thread setting). */
int hwa__bdev_default_threads(const char *spec);
int hwa__bdev_max_threads(const char *spec);
/* Sets be's thread count (1..max). */
hwa_status hwa__bdev_set_threads(hwa_backend *be, int n);
/* The name of the kernel that computed node in be's last compute. */
void hwa__bdev_kernel(const hwa_backend *be, const hwa_tensor *node, char *buf, size_t cap);
/* The device's calibrated peak GFLOP/s for dtype t and memory GB/s; NAN when
 * not calibrated. */
double hwa__bdev_peak_gflops(const hwa_passport *p, const char *spec, hwa_dtype t);
double hwa__bdev_mem_gbps(const hwa_passport *p, const char *spec);
/* How the peaks were measured: "matmul", "fma-loop", or "n/a". */
const char *hwa__bdev_peak_method(const hwa_passport *p, const char *spec);

/* A power meter for the device, or NULL when it has none: RAPL's package
 * domain for the CPU, NVML's energy counter of the same GPU (matched by PCI
 * bus id; its sampled power where it has no counter) for cuda:N. When a CUDA device has none, or a meter cannot be
 * opened, why (may be NULL; cap why_cap) says why; otherwise it is "". */
typedef struct hwa__bdev_meter hwa__bdev_meter;
hwa__bdev_meter *hwa__bdev_meter_open(const hwa_passport *p, const char *spec, char *why, size_t why_cap);
/* Energy counter in joules since an arbitrary origin. */
hwa_status hwa__bdev_meter_joules(hwa__bdev_meter *m, double *joules);
void hwa__bdev_meter_close(hwa__bdev_meter *m);

/* The machine summary for reports. */
void hwa__bdev_machine(const hwa_passport *p, hwa_bench_machine *m);

#endif
