/* hwadapt — the benchmark harness: statistics, MLPerf-style scenarios,
 * workloads, sweeps and reports.
 *
 * Vocabulary (MLPerf LoadGen's): a *query* is one execution of a workload's
 * graph on a batch of `batch` samples. Scenarios:
 *   single   queries one after another, each issued when the previous one
 *            finishes; the metric is the latency distribution.
 *   offline  every query issued at once and run back to back; the metric is
 *            samples per second.
 *   server   queries arrive by a Poisson process at a target rate (fixed
 *            seed); a query waits while an earlier one runs, so its latency
 *            is queueing plus service. The metric is p99 latency against a
 *            bound; the peak search finds the highest rate that meets it.
 *
 * Percentiles use linear interpolation between closest ranks (NumPy's
 * default, "linear"): for sorted x[0..n-1] and p in [0, 100], the rank is
 * r = p/100 * (n-1), and the result x[floor r] + (r - floor r) *
 * (x[floor r + 1] - x[floor r]).
 *
 * Unknown values (no power meter, no calibrated peak) are NAN in the structs
 * and null / "n/a" in every output format. Nothing estimated is reported as
 * measured.
 *
 * Threading: functions here keep no global state; a report, a system or a
 * generator is used by one thread at a time.
 */
#ifndef HWADAPT_BENCH_H
#define HWADAPT_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hw.h"
#include "sched.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- statistics -------------------------------------------------------- */

typedef struct hwa_bench_stats {
    int64_t n;
    double min, max, mean;
    double stddev; /* sample standard deviation (n - 1 in the denominator); 0 when n < 2 */
    double cv;     /* stddev / mean; NAN when the mean is 0 */
    double p50, p90, p99;
} hwa_bench_stats;

/* The p-th percentile (p in [0, 100]) of sorted[0..n-1] (ascending), by
 * linear interpolation as above. NAN when n < 1 or p is outside [0, 100]. */
double hwa_bench_percentile(const double *sorted, int64_t n, double p);

/* Statistics of x[0..n-1] (any order; x is not modified). Allocates a sorted
 * copy and frees it. HWA_E_INVALID when x is NULL or n < 1, HWA_E_NOMEM. */
hwa_status hwa_bench_stats_compute(const double *x, int64_t n, hwa_bench_stats *out);

/* The 0.975 quantile of Student's t distribution with df degrees of freedom
 * (the half-width factor of a two-sided 95 % interval): exact to 6 digits
 * for df in 1..31 (a table), the Cornish-Fisher expansion beyond. NAN for
 * df < 1. */
double hwa_bench_t975(int df);

/* A ratio of two configurations measured in the same n repetitions. */
typedef struct hwa_bench_ratio {
    int n;
    double ratio;  /* exp(mean of log(a[k] / b[k])): the geometric mean of the paired ratios */
    double lo, hi; /* its 95 % interval, exp(mean -+ t975(n-1) * sd / sqrt(n)); NAN when n < 2 */
} hwa_bench_ratio;

/* a[k] over b[k] for the n repetitions k, paired by repetition: a t-interval
 * on the log-ratios (df = n - 1), so that what moved both measurements of a
 * repetition (the machine's load drifting) cancels. HWA_E_INVALID when a or
 * b is NULL, n < 1, or a value is not a positive finite number. */
hwa_status hwa_bench_paired_ratio(const double *a, const double *b, int n, hwa_bench_ratio *out);

/* ---- random arrivals --------------------------------------------------- */

/* A small deterministic generator (splitmix64 seeding an xorshift-style
 * sequence): the same seed gives the same arrivals on every machine. */
typedef struct hwa_bench_rng {
    uint64_t state;
} hwa_bench_rng;

void hwa_bench_rng_init(hwa_bench_rng *r, uint64_t seed);
/* Uniform in the open interval (0, 1). */
double hwa_bench_rng_uniform(hwa_bench_rng *r);
/* The next gap of a Poisson process of `rate` events per second: an
 * exponential variate with mean 1/rate (inverse transform). rate > 0. */
double hwa_bench_rng_exp_gap(hwa_bench_rng *r, double rate);

/* ---- systems under test ------------------------------------------------ */

/* What a scenario drives. run_query executes one query and returns its
 * status. now and wait_until give the clock in seconds: NULL for both means
 * the real monotonic clock (and a real sleep); a simulated system supplies a
 * virtual clock, so a test can run the scenarios on a system whose answer is
 * known. run_query must advance the clock by the query's service time. */
typedef struct hwa_bench_system {
    void *ud;
    hwa_status (*run_query)(void *ud);
    double (*now)(void *ud);                /* optional */
    void (*wait_until)(void *ud, double t); /* optional; called only with t > now */
} hwa_bench_system;

/* The real monotonic clock in seconds. Thread-safe. */
double hwa_bench_clock_now(void);

/* ---- scenarios --------------------------------------------------------- */

typedef enum hwa_bench_scenario {
    HWA_SCENARIO_SINGLE = 0,
    HWA_SCENARIO_OFFLINE,
    HWA_SCENARIO_SERVER,
    HWA_SCENARIO_COUNT
} hwa_bench_scenario;

const char *hwa_bench_scenario_name(hwa_bench_scenario s); /* "single", "offline", "server" */
/* HWA_E_NOTFOUND (message lists the scenarios) for an unknown name. */
hwa_status hwa_bench_scenario_from_name(const char *name, hwa_bench_scenario *out);

typedef struct hwa_bench_config {
    hwa_bench_scenario scenario;
    double warmup_s;          /* warm-up time before measuring (queries not counted) */
    int64_t warmup_queries;   /* ... and at least this many warm-up queries */
    double min_time_s;        /* measure at least this long ... */
    int64_t min_queries;      /* ... and at least this many queries */
    double max_time_s;        /* a cap: stop after this long even below min_queries (0: none) */
    int64_t max_queries;      /* a cap on measured queries (0: none) */
    double server_rate;       /* server: target queries per second */
    double p99_bound_s;       /* server: the latency bound for p99 */
    uint64_t seed;            /* server: the arrival generator's seed */
    double cv_warn;           /* spread warning when the service-time CV exceeds this */
    double peak_rel_tol;      /* peak search stops when (hi - lo) / hi is below this */
    int peak_max_iters;       /* ... or after this many server runs */
} hwa_bench_config;

/* Defaults: single, warm-up 0.2 s / 2 queries, at least 1 s and 10 queries,
 * no caps, server rate 0, bound 10 ms, seed 1, CV warning at 0.10, peak
 * tolerance 0.02 within 12 runs. */
hwa_bench_config hwa_bench_config_default(void);

typedef struct hwa_bench_result {
    int64_t queries;          /* measured queries */
    int64_t warmup_queries;
    double duration_s;        /* from the first measured issue to the last completion */
    double queries_per_s;     /* queries / duration_s */
    hwa_bench_stats latency;  /* seconds; server: arrival to completion, else = service */
    hwa_bench_stats service;  /* seconds each query's execution took */
    bool spread_warning;      /* service.cv > cfg.cv_warn */
    bool capped;              /* a cap stopped the run below min_time_s or min_queries */
    double target_rate;       /* server: the scheduled rate; NAN otherwise */
    bool meets_bound;         /* server: latency.p99 <= p99_bound_s */
} hwa_bench_result;

/* Runs one scenario on sys: warm-up, then measured queries until both minimums
 * are met or a cap is hit. Errors: HWA_E_INVALID for a bad config (non-
 * positive rate or bound for server, negative times), a query's own status,
 * HWA_E_NOMEM. */
hwa_status hwa_bench_run(const hwa_bench_system *sys, const hwa_bench_config *cfg, hwa_bench_result *out);

typedef struct hwa_bench_peak {
    bool found;               /* some tested rate met the bound */
    double peak_rate;         /* the highest rate that met it (queries/s); 0 when none */
    double upper_rate;        /* the lowest rate seen to fail it; NAN when none failed */
    int runs;                 /* runs made (the single run that measures the guess included) */
    hwa_bench_result at_peak; /* the run at peak_rate (zeroed when none) */
    /* No tested rate failed: the search stopped at its ceiling (the doublings
     * or the runs ran out), so the peak is at least peak_rate, not near it. */
    bool at_ceiling;
} hwa_bench_peak;

/* The most times the peak search doubles its upper end. */
#define HWA_BENCH_PEAK_MAX_DOUBLINGS 10

/* Search on the server rate for the highest one whose p99 latency meets
 * cfg->p99_bound_s. rate_hi is the initial upper end; <= 0 measures it as
 * 1 / (mean service time of a short single run) -- what a one-at-a-time
 * system can sustain if that run was representative, which on a busy
 * machine it need not be. The upper end is tried first; while it meets the
 * bound it is doubled (at most HWA_BENCH_PEAK_MAX_DOUBLINGS times); once a
 * rate fails, the search bisects between the highest rate that met the bound
 * and the lowest that failed until (hi - lo) / hi <= cfg->peak_rel_tol. All
 * of it within cfg->peak_max_iters server runs; it stops at once when a
 * failing run's service times alone had a p99 above the bound (no lower rate
 * can meet it). Each probe is a full hwa_bench_run with cfg's minimums and
 * seed. Errors as hwa_bench_run. */
hwa_status hwa_bench_find_peak(const hwa_bench_system *sys, const hwa_bench_config *cfg, double rate_hi,
                               hwa_bench_peak *out);

/* ---- calibration through hwadapt's kernels ----------------------------- */

/* Options of hwa_bench_matmul_peak, passed as its ud (NULL: the defaults). */
typedef struct hwa_bench_matmul_peak_opts {
    int64_t n;   /* the square product's size, in [16, 8192]; 0: 2048 */
    int threads; /* 0: the CPU backend's default (HWA_NUM_THREADS, else every CPU the process may use) */
} hwa_bench_matmul_peak_opts;

/* The CPU's peak matrix-product rate for dtype, measured through the kernels
 * hwadapt runs: an n x n x n product (C = A B^T, B a constant weight, as in a
 * Linear layer) built as a graph on the "cpu" backend the way dtype's
 * products run there: HWA_F32 f32 tensors (exact f32); HWA_BF16 bf16 tensors
 * (f32 accumulation); HWA_I8 f32 tensors with the matmul precision set to
 * HWA_MATMUL_PRECISION_INT8 (int8 weights and activations, int32 sums). The
 * product is validated once (sampled entries against double-precision dot
 * products) and then run for about budget_s seconds; *gflops receives the
 * best run's rate (GOP/s for i8). It is an hwa_matmul_bench_fn: set it as
 * hwa_probe_opts.matmul_bench (ud: a const hwa_bench_matmul_peak_opts *, or
 * NULL) so that the passport's peaks come from it (method "matmul").
 * Errors: HWA_E_MISUSE for a NULL gflops; HWA_E_INVALID for a budget outside
 * (0, 60] s or bad options; HWA_E_UNSUPPORTED for another dtype, or when this
 * machine or build has no kernel for dtype (bf16 or int8 would run as f32 or
 * in the scalar reference); HWA_E_DEVICE when the product is wrong;
 * HWA_E_NOMEM. Allocates and frees its own context and backend and 3 n^2
 * floats of host memory; uses every thread it is given, so run one at a
 * time. */
hwa_status hwa_bench_matmul_peak(void *ud, hwa_dtype dtype, double budget_s, double *gflops);

/* hwa_bench_matmul_peak on the backend of device ("cpu", "opencl:0"): an
 * hwa_device_matmul_bench_fn, to set as hwa_probe_opts.device_matmul_bench
 * so that the passport's OpenCL peaks come from hwadapt's own products
 * there (CLBlast or the portable kernel, whichever the backend runs). The
 * default size is 2048 on "cpu" and 1024 elsewhere (a CPU OpenCL driver
 * takes seconds for 2048). f32 only off the CPU (bf16 and int8 are
 * HWA_E_UNSUPPORTED there: the device kernels compute those in f32).
 * Errors as hwa_bench_matmul_peak's, and HWA_E_MISUSE for a NULL device;
 * a device that does not open gives its backend's error. */
hwa_status hwa_bench_device_matmul_peak(void *ud, const char *device, hwa_dtype dtype, double budget_s,
                                        double *gflops);

/* ---- workloads --------------------------------------------------------- */

/* Built-in workloads: linear1000, mlp1000, mlp1000-train, fmnist-mlp,
 * fmnist-mlp-train. Index i in [0, count). */
int hwa_bench_workload_count(void);
const char *hwa_bench_workload_name(int i);
const char *hwa_bench_workload_desc(int i);
int64_t hwa_bench_workload_default_batch(int i);
/* Whether workload i is a training step (its rows have an optimizer,
 * hwa_bench_sweep.optimizer); false for a forward pass or an i out of range. */
bool hwa_bench_workload_trains(int i);
/* The index of a workload by name; HWA_E_NOTFOUND with the list otherwise. */
hwa_status hwa_bench_workload_find(const char *name, int *index);

/* ---- rows and reports -------------------------------------------------- */

/* The most repetitions a row keeps (hwa_bench_sweep.reps). */
#define HWA_BENCH_MAX_REPS 32

typedef struct hwa_bench_row {
    char workload[32];
    char device[32];
    char dtype[8];
    char kernel[64];          /* the backend's name for the kernel of the heaviest node; "n/a" */
    char scenario[8];
    int64_t batch;
    int threads;
    hwa_bench_result r;
    double samples_per_s;
    double gflops;            /* counted ops per query / mean service time (NAN when not measured) */
    double gbps;              /* compulsory bytes per query / mean service time */
    double pct_of_peak;       /* gflops / the device's calibrated peak for dtype * 100; NAN unknown */
    int64_t planned_bytes;    /* the memory plan's arena + persistent bytes */
    int64_t peak_rss_bytes;   /* the process's peak resident set after the row (-1 unknown) */
    double power_w;           /* average power minus idle; NAN without a meter */
    double idle_power_w;      /* NAN without a meter */
    double energy_j_per_sample; /* NAN without a meter */
    double max_abs_error_vs_f32; /* NAN when not compared */
    double p99_bound_ms;      /* server rows; NAN otherwise */
    double peak_rate_qps;     /* server rows with a peak search; NAN otherwise */
    double peak_upper_qps;    /* ... the lowest rate seen to violate the bound; NAN when none did */
    bool peak_at_ceiling;     /* ... no tested rate violated it (hwa_bench_peak.at_ceiling) */
    bool skipped;             /* not measured: see note */
    char note[1024];          /* caps, warnings and skip reasons, "" when none */
    /* Repetitions: the row was measured in `reps` short visits interleaved
     * with the other rows of its group (same workload and optimizer,
     * device, batch and scenario), so that the machine's drift reaches every configuration of
     * the group alike; its latencies pool every visit's queries, and
     * samples_per_s is the mean of the visits' throughputs. A peak search is
     * one visit (reps 1). 0 for a skipped row. */
    int reps;
    double rep_samples_per_s[HWA_BENCH_MAX_REPS]; /* each visit's queries * batch / its duration */
    double samples_per_s_sd;  /* sample standard deviation of those; NAN when reps < 2 */
    /* Against the group's baseline (hwa_bench_report_compare): the f32 row
     * at the device's default thread count (else the f32 row whose thread
     * count is nearest it). -1 and NAN when there is none. */
    int baseline_row;         /* index into the report's rows */
    double speedup;           /* hwa_bench_ratio.ratio of this row's reps over the baseline's */
    double speedup_lo, speedup_hi; /* its 95 % interval; NAN when reps < 2 */
    /* Who else used the CPUs during the row's visits (hwa_load_*, summed
     * over the visits, warm-ups included); NAN unknown. */
    double load_self_share;   /* this process's CPU time / (wall time x threads) */
    double load_others_cpus;  /* CPUs other processes kept busy, on average */
    double load_others_share; /* ... over the CPUs this process may use */
    double load_throttled_s;  /* time the cgroup's CPU quota throttled the process */
    bool contended;           /* others took over 10 % of the CPUs, the quota throttled over 5 % of the time,
                               * or a hypervisor stole over 10 %: the note says which */
    double threads_cut_share; /* of the row's computes, those that ran on fewer threads than asked because
                               * others held CPUs (HWA_ADAPT_THREADS); NAN when not known */
    bool no_threads;          /* the device has no thread setting (opencl:N: its driver spreads the work):
                               * threads is 1 and means nothing; the table shows "-" */
    /* device "auto": the devices placed across, where the scheduler put the
     * graph ("cpu:0", "layers cpu:0 | opencl:0 at node 9") and why (the
     * heaviest node's reason); "" otherwise. */
    char place_devices[96];
    char placement[96];
    char placement_why[192];
    /* A training workload's update (hwa_optim_kind_name: "adam", "sgd",
     * ...); "" for a forward row. Rows of different optimizers are
     * different groups. */
    char optimizer[12];
    /* What a sample is: "samples" for the built-in workloads, "tokens" for
     * a language model file (a query is a decode step or a prefill of
     * `batch` tokens), so samples_per_s is tokens/s there. */
    char unit[8];
    /* A language model file decoding several sequences in one batch
     * (hwa_bench_sweep.sequences): their count, which is then batch, so that
     * samples_per_s is the tokens/s of all of them and samples_per_s /
     * sequences each one's; 0 otherwise. */
    int32_t sequences;
} hwa_bench_row;

/* A summary of the machine, filled from the hardware passport. Strings are
 * "n/a" and numbers NAN where unknown. */
typedef struct hwa_bench_machine {
    char cpu[128];
    int logical_cpus;
    int64_t memory_bytes;        /* -1 unknown */
    char isa[128];               /* the SIMD extensions the kernels can use */
    char devices[128];           /* "cpu", "cpu, opencl:0", ... */
    double peak_gflops_f32;      /* calibrated; NAN when not calibrated */
    double memory_gbps;          /* calibrated; NAN when not calibrated */
    char power_meter[160];       /* the meters' names, "none" when absent */
    char calibration[160];       /* where the calibration came from ("cached in ...", "n/a") */
} hwa_bench_machine;

typedef enum hwa_bench_verdict {
    HWA_BENCH_RECOMMENDED = 0, /* a configuration beats the baseline beyond the noise */
    HWA_BENCH_TIED,            /* nothing does: the baseline (f32) is recommended */
    HWA_BENCH_NO_BASELINE,     /* no f32 baseline was measured: the fastest, untested */
    HWA_BENCH_VERDICT_COUNT
} hwa_bench_verdict;

/* "recommended", "tied", "no-baseline"; "?" otherwise. */
const char *hwa_bench_verdict_name(hwa_bench_verdict v);

typedef struct hwa_bench_recommendation {
    char workload[32];
    hwa_bench_verdict verdict;
    int row;                   /* the recommended row (index into rows): the baseline when tied */
    int fastest_row;           /* the fastest row within tolerance */
    int baseline_row;          /* the f32 row the candidates are compared with; -1 none */
    double tolerance;          /* max abs error vs f32 that was accepted */
    /* The evidence: the recommended row over the baseline when recommended,
     * the fastest row over it otherwise; paired over `reps` repetitions. */
    double speedup, lo, hi;    /* NAN when unknown */
    int reps;
    char command[256];         /* the hwadapt command line that runs `row`'s configuration */
    char c_call[256];          /* the library calls that set it up */
    char text[768];            /* the verdict in a sentence, the rows too noisy to trust */
} hwa_bench_recommendation;

typedef struct hwa_bench_report {
    hwa_bench_row *rows;       /* owned */
    int n_rows, cap_rows;
    char *command_line;        /* owned; may be NULL */
    hwa_bench_machine machine;
#define HWA_BENCH_MAX_RECS 8
    hwa_bench_recommendation recs[HWA_BENCH_MAX_RECS];
    int n_recs;
    char created[32];          /* UTC, ISO 8601 */
    /* The passport given to hwa_bench_report_init as JSON
     * (hwa_passport_to_json), written into the JSON report as "passport";
     * owned; NULL without a passport or in a build without jansson. */
    char *passport_json;
} hwa_bench_report;

/* Initialises an empty report: zeroes it, fills created, the machine
 * summary and passport_json from passport p (NULL: unknowns, the CPU as the
 * only device, no passport). The report keeps no pointer to p. HWA_E_NOMEM. Free with hwa_bench_report_free. */
hwa_status hwa_bench_report_init(hwa_bench_report *rep, const hwa_passport *p);
/* Frees what the report owns and zeroes it. NULL is a no-op. */
void hwa_bench_report_free(hwa_bench_report *rep);
/* Appends a copy of row. HWA_E_NOMEM. */
hwa_status hwa_bench_report_add(hwa_bench_report *rep, const hwa_bench_row *row);
/* Sets the command line from argv (joined with spaces, copied). */
hwa_status hwa_bench_report_set_command(hwa_bench_report *rep, int argc, char *const *argv);
/* Fills every row's baseline_row and speedup (with its interval) from the
 * rows in rep: a row is compared with its group's baseline (see
 * hwa_bench_row), paired by repetition when both have the same reps, else
 * (a peak search) as a single ratio with no interval. Idempotent;
 * hwa_bench_sweep_run and hwa_bench_recommend call it. */
void hwa_bench_report_compare(hwa_bench_report *rep);

/* Decides for `workload` and appends the decision to rep->recs. Candidates
 * are the measured rows whose max abs error vs f32 is at most tolerance; the
 * fastest (by samples/s) F is compared with its baseline B. F is
 * recommended only when its interval against B lies above 1; then among F
 * and the candidates of F's group that also lie above 1 against B and whose
 * paired interval against F includes 1 (tied with F), the simplest wins:
 * f32 < bf16 < f16 < the rest, then fewer threads. Otherwise the verdict is
 * HWA_BENCH_TIED and B is recommended; without a B, HWA_BENCH_NO_BASELINE
 * and F. The text names the rows whose spread was too wide to trust and
 * those over the tolerance. HWA_E_NOTFOUND when no row qualifies,
 * HWA_E_RANGE when recs is full. */
hwa_status hwa_bench_recommend(hwa_bench_report *rep, const char *workload, double tolerance);

typedef enum hwa_bench_format {
    HWA_BENCH_TABLE = 0,       /* aligned text for a terminal */
    HWA_BENCH_JSON,            /* docs/bench-report.schema.json */
    HWA_BENCH_CSV,             /* RFC 4180, one header line, empty field for unknown */
    HWA_BENCH_MARKDOWN,        /* a GitHub table, n/a for unknown */
    /* Every column of the table, one line per row (about 200 columns);
     * HWA_BENCH_TABLE fits 100 columns: the rows grouped by workload, the
     * columns a user decides on, readable units (k/M, µs/ms), and a line
     * naming the columns only this format shows. */
    HWA_BENCH_TABLE_WIDE
} hwa_bench_format;

/* Writes the report to f in the given format. HWA_E_IO on a write error. */
hwa_status hwa_bench_report_write(const hwa_bench_report *rep, hwa_bench_format fmt, FILE *f);
/* The same into a file, atomically (a temporary file renamed over path). */
hwa_status hwa_bench_report_save(const hwa_bench_report *rep, hwa_bench_format fmt, const char *path);

/* ---- sweeps ------------------------------------------------------------ */

/* A sweep: one row per combination of the comma lists (llama-bench's way).
 * NULL or "" takes the default: devices "cpu", dtypes "f32", batches the
 * workload's default, threads the device's default, scenarios "single".
 * devices "all" is every device found; dtypes "all" every precision each
 * device can run. */
typedef struct hwa_bench_sweep {
    /* Devices, calibrated peaks (pct_of_peak) and power meters; NULL: the CPU
     * alone, peaks and energy unknown. Not owned. */
    const hwa_passport *passport;
    const char *workloads; /* built-in names and/or paths of Llama model files */
    const char *devices;
    const char *dtypes;
    const char *batches;
    const char *threads;
    const char *scenarios;
    /* Language model files: > 0 makes a query one decode step of that many
     * sequences in one batch (hwa_llama_eval_batch), each at its own
     * position, and each batch of batches is then that count; 0: a query is
     * a decode step (batch 1) or a prefill (batch N). Built-in workloads
     * refuse it. */
    int32_t sequences;
    /* Per row: min_time_s, min_queries, max_time_s and max_queries are the
     * row's totals, split evenly over its repetitions; the warm-up runs once,
     * before the first. Server rows use cfg.server_rate unless find_peak. */
    hwa_bench_config cfg;
    bool find_peak;            /* server rows: search the peak rate (one visit, not interleaved) */
    /* 0: no limit. Otherwise the sweep's total time: before each row the time
     * one query will take is predicted from the rows already measured (ops /
     * measured rate for the same device and dtype); a row that cannot run its
     * queries in the time left is capped or skipped, with a note saying so. */
    double time_budget_s;
    /* Called with a one-line message before each row and each repetition;
     * row is how many of the n_rows are done (a group's finished
     * repetitions count as that share of its rows). May be NULL. */
    void (*progress)(void *ud, int row, int n_rows, const char *msg);
    void *progress_ud;
    /* Repetitions per row, 1..HWA_BENCH_MAX_REPS; 0: HWA_BENCH_DEFAULT_REPS.
     * The rows of a group are built and validated first, then measured in
     * turn, one short visit each, reps times over (A B C A B C ...). */
    int reps;
    /* The device "auto" in devices: the scheduler places each workload's
     * graph across these (a comma list; NULL or "": every device found),
     * and the row's notes give the placement, its predicted against its
     * measured time and memory; the nodes are then timed for the profile
     * cache. With fallback, a device that fails in a query is left out and
     * the graph re-planned on the others (the row says so). */
    const char *place_devices;
    bool fallback;
    const char *place_mode;    /* auto's placement: "auto" (NULL), "layers", "layers:F", "single:DEV" */
    /* The training workloads' update, by hwa_optim_kind_name ("sgd",
     * "momentum", "nesterov", "adam", "adamw") with PyTorch's defaults and
     * rate 1e-3 for Adam(W), 0.01 for the SGD family; NULL or "": the
     * workloads' default, "adam". Training keeps f32 parameters whatever
     * the dtype (cast to it inside the graph) and the optimizer's state on
     * the device that holds them. */
    const char *optimizer;
} hwa_bench_sweep;

/* Five: the 95 % t factor with 4 degrees of freedom is 2.78, against 4.30
 * with two and 2.26 with nine, so five visits give most of what more would
 * while each visit keeps a fifth of the row's time. */
#define HWA_BENCH_DEFAULT_REPS 5

/* Checks every list first (unknown workload, device, dtype the device cannot
 * run, batch < 1, threads outside what the device offers, reps outside
 * 1..HWA_BENCH_MAX_REPS, an unknown optimizer: HWA_E_NOTFOUND / HWA_E_RANGE /
 * HWA_E_UNSUPPORTED with a message that names the bad value and lists what
 * is available; an optimizer for a sweep without a training workload:
 * HWA_E_INVALID), then
 * runs the rows, appends them to rep and compares them
 * (hwa_bench_report_compare). */
hwa_status hwa_bench_sweep_run(const hwa_bench_sweep *s, hwa_bench_report *rep);

/* ---- placement plans (hwadapt plan) ------------------------------------ */

/* A built-in workload's placement across devices. */
typedef struct hwa_bench_plan {
    const hwa_passport *passport; /* the devices' figures; NULL: every cost unknown */
    const char *workload;         /* a built-in workload's name */
    const char *devices;          /* comma list; NULL or "": every device the passport found */
    int64_t batch;                /* 0: the workload's default */
    hwa_dtype dtype;
    hwa_place_opts opts;          /* mode, split, margin */
    bool json;                    /* the plan as JSON (docs/plan.md) instead of text */
    bool per_node;                /* text: a line per node */
    /* Run every placement the plan weighed (each fitting one), its nodes
     * timed for the profile cache, reps interleaved repetitions of ~0.15 s,
     * then re-plan: the predicted (before and after timing) and the measured
     * time of each placement, and where auto's choice stands against the
     * fastest. */
    bool measure;
    int reps;
    const char *out_path;         /* non-NULL: written there atomically instead of to out */
    void (*progress)(void *ud, const char *what); /* measure: after each placement is warmed; may be NULL */
    void *progress_ud;
} hwa_bench_plan;

/* Plans (and with measure, runs) p->workload and writes the result to out
 * or p->out_path. Errors: HWA_E_NOTFOUND for an unknown workload or device,
 * HWA_E_NOMEM when no placement fits (naming each device's shortfall), a
 * device's error while measuring, HWA_E_IO. */
hwa_status hwa_bench_plan_run(const hwa_bench_plan *p, FILE *out);

/* ---- the HTML report (hwadapt report) ---------------------------------- */

/* One self-contained HTML page (inline CSS and SVG, no script, nothing
 * fetched: a Content-Security-Policy forbids it) from the files inputs[0 ..
 * n_inputs): the machine's passport, a roofline per device, latency
 * percentiles and per-repetition throughput per row, batch and thread
 * sweeps, the recommendations, and training curves (docs/report.md). Each
 * file's kind comes from its content: a bench report (schema
 * "hwadapt-bench-report/2": hwadapt run, hwadapt bench --json), a passport
 * (hwadapt probe --json) or a training log (hwadapt train --json, one JSON
 * object per line). The same path given twice is read once. Values an
 * input cannot have had (negative or non-finite throughput, latency, peaks)
 * are left out and listed in the page's notes; nothing is drawn that no
 * input holds. title NULL or "": "hwadapt report". Every input is read
 * before anything is written.
 * Errors: HWA_E_INVALID (inputs NULL, n_inputs < 1, a NULL path, f or
 * out_path NULL), HWA_E_IO (a file cannot be read or the page written),
 * HWA_E_FORMAT (a file that is none of the three kinds, or a truncated
 * one: the message names it, and the line of a training log),
 * HWA_E_UNSUPPORTED (another bench report schema; a build without jansson),
 * HWA_E_NOMEM. Thread-safe: no state is shared between calls. */
hwa_status hwa_report_html_write(const char *const *inputs, int n_inputs, const char *title, FILE *f);
/* The same into the file out_path, atomically (a temporary file renamed
 * over it): on an error the old file, if any, is left as it was. */
hwa_status hwa_report_html_save(const char *const *inputs, int n_inputs, const char *title, const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
