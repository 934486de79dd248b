/* hwadapt — placement across devices.
 *
 * A schedule places every node of one graph on one of a list of backends
 * (devices), by measured cost: each node's time on each device is the
 * roofline estimate from the device's calibrated figures (the larger of
 * FLOPs / peak and bytes / bandwidth, plus a launch latency) until that node
 * shape has been timed there (hwa_placement_profile); after that it is the
 * measured time, kept in a profile cache beside the calibration cache.
 * Copies between devices cost what the measured host link costs. The memory
 * each device needs comes from the memory planner's dry run of the nodes
 * placed there, and is checked against what the device has, less a margin,
 * before anything is allocated.
 *
 * Execution is sequential: the graph runs as segments (maximal runs of
 * consecutive nodes on one device) in execution order; before a segment runs,
 * every tensor it reads from another device is copied into a shadow buffer on
 * its device (once, while the source's data has not changed since: weights
 * are copied once, activations every run). A node that writes a tensor in
 * place (a gradient accumulation, a KV-cache write) runs where that tensor
 * lives.
 *
 * Threading: a schedule is used by one thread at a time, as its backends.
 */
#ifndef HWADAPT_SCHED_H
#define HWADAPT_SCHED_H

#include <stdio.h>

#include "backend.h"
#include "hw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HWA_PLACE_MAX_DEVICES 8

/* What the cost model knows about one device. Plain data; 0 (or -1 for
 * sizes) where unknown, and a node whose figures are unknown on a device
 * costs INFINITY there until it has been timed. */
typedef struct hwa_place_device {
    char id[32];             /* the backend's spec: "cpu:0", "opencl:0" */
    char name[128];          /* the device's name, part of the profile cache's key */
    double peak_gflops[HWA_DTYPE_COUNT]; /* matrix products per dtype, 1e9 FLOP/s */
    double mem_gbs;          /* memory bandwidth its kernels see (STREAM triad), 1e9 B/s */
    double h2d_gbs, d2h_gbs; /* copies from and to host memory; unused when host_memory */
    double launch_us;        /* the fixed cost of one node */
    int64_t mem_bytes;       /* memory it may use: its capacity (the CPU: what is available), capped by
                                HWA_MEM_LIMIT; -1 unknown (no check) */
    bool mem_capped;         /* mem_bytes is HWA_MEM_LIMIT's cap */
    bool host_memory;        /* the host addresses its memory: no copy between two such devices */
    int threads;             /* the CPU's thread count (part of the profile key); 0 otherwise */
} hwa_place_device;

/* Fills d for backend be from passport p's entry for the same device
 * ("cpu:N" is the passport's "cpu"): its calibrated peaks, triad bandwidth,
 * transfer rates and launch latency, and its memory (the cap HWA_MEM_LIMIT
 * sets for be, when smaller). A core set ("cpu:A-B") gets the CPU's peaks
 * and bandwidth times its share of the CPUs this process may use, an
 * estimate until its nodes are timed, and the host's memory (every core set
 * counts all of it). p NULL: nothing known but the cap (every node
 * costs INFINITY, so only SINGLE and LAYERS with a split say where).
 * HWA_E_NOTFOUND when p has no such device. */
hwa_status hwa_place_device_describe(const hwa_passport *p, const hwa_backend *be, hwa_place_device *d);

/* Every device of passport p that this build has a backend for, as a
 * comma list in buf ("cpu,opencl:0"); "cpu" when p is NULL or names none. */
void hwa_place_device_list(const hwa_passport *p, char *buf, size_t cap);

/* Splits a comma list of device specs ("cpu,opencl:0") into specs[0..*n-1],
 * each normalised ("cpu" -> "cpu:0"). HWA_E_INVALID for an empty list or
 * entry, a device named twice, or more than max. */
hwa_status hwa_place_devices_parse(const char *list, char (*specs)[32], int max, int *n);

/* The backends and cost figures of a comma list of device specs
 * ("cpu,opencl:0"; "cpu" is "cpu:0"; NULL or "": hwa_place_device_list(p)),
 * ready for hwa_placement_new in ctx. The spec of `reuse` (a backend of ctx,
 * or NULL) gets reuse itself; every other is a new backend (a CPU one with
 * reuse's thread count), made[k] true, which the caller frees with
 * hwa_backend_free after every placement over it. devs[k] is
 * hwa_place_device_describe(p, bes[k]); *n gets the count. bes, devs and
 * made hold HWA_PLACE_MAX_DEVICES entries. Errors: HWA_E_INVALID for an
 * empty entry, a device named twice or more than HWA_PLACE_MAX_DEVICES; a
 * backend's error (HWA_E_NOTFOUND for a device that is not there); describe's
 * HWA_E_NOTFOUND. On error no backend it made is left open and *n is 0. */
hwa_status hwa_place_devices_open(hwa_ctx *ctx, const char *list, const hwa_passport *p, hwa_backend *reuse,
                                  hwa_backend **bes, hwa_place_device *devs, bool *made, int *n);

typedef enum hwa_place_mode {
    HWA_PLACE_AUTO = 0, /* the lowest estimate among every candidate below that fits */
    HWA_PLACE_SINGLE,   /* the whole graph on devices[opts.device] (what it lacks, elsewhere) */
    HWA_PLACE_LAYERS,   /* two stages in execution order: the first on devices[0], the rest on devices[1] */
    HWA_PLACE_GIVEN     /* opts.assign: the caller's device per node (a candidate to measure, say);
                           the constraints still apply (in-place writes, unsupported ops) */
} hwa_place_mode;

/* Copies of leaves that do not change (weights), kept across placements of
 * graphs that read the same leaves -- a language model places each step's
 * graph anew, and without a cache would copy its weights to the other
 * device at every step. Made on a context; holds its buffers (counted
 * against each device's memory cap) until freed, which must happen before
 * the backends and the leaves it copied are freed. */
typedef struct hwa_place_cache hwa_place_cache;
hwa_place_cache *hwa_place_cache_new(hwa_ctx *ctx); /* NULL and HWA_E_NOMEM recorded on failure */
void hwa_place_cache_free(hwa_place_cache *c);      /* NULL is a no-op */

typedef struct hwa_place_opts {
    hwa_place_mode mode;
    int device;          /* SINGLE: the device's index */
    double split;        /* LAYERS: share of the compute nodes in the first stage, in (0, 1);
                            0: the cut with the lowest estimate that fits */
    double mem_margin;   /* share of each device's memory kept free; 0: 0.10 */
    /* The profile cache file: NULL for the default (<cache dir>/sched-profile-v1.tsv,
     * the calibration cache's directory), "" for none. */
    const char *profile_path;
    /* GIVEN: one device index per node of the graph (views ignored); not
     * kept after hwa_placement_new returns. */
    const signed char *assign;
    hwa_place_cache *cache;  /* NULL: copies of weights live and die with the placement */
} hwa_place_opts;

/* Options from a user's words: "auto", "layers" (the balanced cut),
 * "layers:F" (share F of the nodes in the first stage), "single:DEV" (DEV
 * one of the comma list devices, "cpu" meaning "cpu:0"). o is reset first.
 * HWA_E_INVALID with a message naming what is wrong. */
hwa_status hwa_place_opts_parse(const char *mode, const char *devices, hwa_place_opts *o);

typedef struct hwa_placement hwa_placement;

/* Places g's nodes on devices bes[0..n-1] described by devs[0..n-1] (1 <= n
 * <= HWA_PLACE_MAX_DEVICES, backends of g's context). Allocates nothing on
 * any device: *out is a plan that hwa_placement_print and hwa_placement_write_json
 * show and hwa_placement_alloc makes real. Leaves keep the storage they have; a
 * leaf without any is taken to be loaded into host memory (the first device
 * with host_memory), except gradients, which live where they are written.
 * Errors: HWA_E_MISUSE for bad arguments; HWA_E_UNSUPPORTED when a node
 * runs on none of the devices; HWA_E_NOMEM, before anything runs, when no
 * placement fits every device's memory, naming each device and its
 * shortfall. g must not change while the schedule lives. */
hwa_status hwa_placement_new(hwa_graph *g, hwa_backend *const *bes, const hwa_place_device *devs, int n,
                         const hwa_place_opts *opts, hwa_placement **out);
void hwa_placement_free(hwa_placement *s); /* NULL is a no-op; frees the buffers hwa_placement_alloc made */

/* Allocates each device's arena (the planner's offsets), the gradients each
 * device writes, and the shadow buffers for tensors copied in. Errors: a
 * device's allocation error (HWA_E_NOMEM naming it). */
hwa_status hwa_placement_alloc(hwa_placement *s);
/* Runs the graph once as planned (allocating first if needed), copies
 * included, and waits for every device. A device's error is returned with
 * its message prefixed by the device ("opencl:0: ..."); hwa_placement_failed_device
 * then names it. HWA_FAULT_DEVICE=<spec> makes that device's first compute
 * fail with HWA_E_DEVICE (fault injection for tests). */
hwa_status hwa_placement_compute(hwa_placement *s);
/* The index of the device whose error ended the last compute, or -1. */
int hwa_placement_failed_device(const hwa_placement *s);
/* Re-plans without device `dev` (as hwa_placement_new with the others and the
 * same options, AUTO when the mode named it) and allocates again. For
 * --fallback after a device failed. HWA_E_UNSUPPORTED when no device is
 * left or the rest cannot run the graph. */
hwa_status hwa_placement_replan_without(hwa_placement *s, int dev);

/* Times every node on the device it is placed on and stores the times in
 * the profile cache, so that later plans of the same node shapes use
 * measured times: each node alone, waited for, the median of reps >= 1 runs
 * (a node that writes in place is not run alone), then each segment whole,
 * and its nodes' times scaled to add up to the segment's (what fusion and
 * per-call costs change). Runs one compute first, allocating if needed.
 * Afterwards intermediates are overwritten and in-place writes were
 * repeated: gradients are to be zeroed before the next step (a KV-cache
 * write repeats the same values). */
hwa_status hwa_placement_profile(hwa_placement *s, int reps);

/* ---- what the plan says ------------------------------------------------ */

int hwa_placement_device_count(const hwa_placement *s);
const hwa_place_device *hwa_placement_device_info(const hwa_placement *s, int dev);
/* The device of g's node i, or -1 for a view (which computes nothing). */
int hwa_placement_node_device(const hwa_placement *s, int i);
/* The estimated seconds of one run in all (compute and per-run copies). */
double hwa_placement_estimate_s(const hwa_placement *s);
/* The estimated compute seconds of device dev in one run. */
double hwa_placement_device_estimate_s(const hwa_placement *s, int dev);
/* Bytes device dev needs (arena + gradients + shadows + unallocated leaves
 * it will hold) and may use (mem_bytes less the margin and what it already
 * holds; -1 unknown). */
int64_t hwa_placement_device_need_bytes(const hwa_placement *s, int dev);
int64_t hwa_placement_device_avail_bytes(const hwa_placement *s, int dev);
/* Bytes device dev's backend holds now (every buffer it made, the
 * schedule's and others'), as its memory cap counts them. */
int64_t hwa_placement_device_held_bytes(const hwa_placement *s, int dev);
/* A short name of the placement chosen: "cpu:0", "layers cpu:0 | opencl:0 at node 12",
 * "mixed". Owned by s. */
const char *hwa_placement_choice(const hwa_placement *s);
/* The number of devices the plan uses. */
int hwa_placement_devices_used(const hwa_placement *s);

/* The candidates the plan weighed (the chosen one among them): k in
 * [0, count). name: "cpu:0", "layers cpu:0 | opencl:0 at node 9", "mixed";
 * est_s its estimate per run; fits whether every device's memory holds it;
 * assign (NULL, or one entry per graph node) gets its device per node, -1
 * for views. HWA_E_RANGE for k out of range. */
int hwa_placement_candidate_count(const hwa_placement *s);
int hwa_placement_chosen(const hwa_placement *s);
hwa_status hwa_placement_candidate(const hwa_placement *s, int k, const char **name, double *est_s, bool *fits,
                                   signed char *assign);

/* Why node i runs where it does, in a sentence ("cpu:0 7.9x faster than
 * opencl:0 by measurement", "writes 'blk.0.k_cache' in place, which lives
 * on cpu:0"), into buf; the reason code ("faster", "follows", "in-place",
 * "lacks-op", "stage", "single", "only-device") is returned (static). */
const char *hwa_placement_node_reason(const hwa_placement *s, int i, char *buf, size_t cap);

/* Human-readable plan: the choice and why, per-device time and memory, the
 * alternatives with their estimates and why each lost, and with per_node
 * every node's device, cost and reason. */
hwa_status hwa_placement_print(const hwa_placement *s, FILE *f, bool per_node);
/* The same as one JSON object (docs/plan.md has the schema). */
hwa_status hwa_placement_write_json(const hwa_placement *s, FILE *f);

/* ---- batch splits ------------------------------------------------------ */

/* Shares of a batch of n samples for devices whose measured throughputs
 * (samples per second, > 0) are rate[0..k-1]: proportional to rate, rounded
 * so that they sum to n (largest remainders), each >= 1 when n >= k.
 * HWA_E_INVALID for n < k, k < 1, or a rate that is not a positive number. */
hwa_status hwa_place_batch_shares(const double *rate, int k, int64_t n, int64_t *shares);

#ifdef __cplusplus
}
#endif
#endif
