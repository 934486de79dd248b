/* What the sweep's planner (sweep.c) hands the code that measures
 * (interleave.c): the running state of a sweep and one block of rows.
 * Internal to src/bench. */
#ifndef HWADAPT_BENCH_SWEEP_H
#define HWADAPT_BENCH_SWEEP_H

#include "core/internal.h"

#define HWA__SWEEP_DEV_LEN 256 /* long enough for a model file's path */

/* Measured GFLOP/s per device and dtype, to predict how long a query of the
 * next workload will take when a time budget is set. */
typedef struct hwa__rate_entry {
    char dev[HWA__SWEEP_DEV_LEN];
    hwa_dtype t;
    double gflops;
} hwa__rate_entry;

typedef struct hwa__sweep_runner {
    const hwa_bench_sweep *s;
    hwa_bench_report *rep;
    int reps;                  /* s->reps, or the default */
    double t_start;
    int rows_done, rows_total;
    hwa__rate_entry rates[64];
    int n_rates;
    float *ref;                /* f32 output for the current block */
    int64_t ref_n;
    bool have_ref;
} hwa__sweep_runner;

/* One configuration of a block: its precision and thread count. */
typedef struct hwa__sweep_config {
    hwa_dtype dtype;
    int threads;
} hwa__sweep_config;

/* The rows of one (workload, device, batch): every configuration in every
 * scenario, in the report's order (configurations outer, scenarios inner). */
typedef struct hwa__sweep_block {
    int wl;                    /* a built-in's index, -1 for a model file */
    int optim;                 /* a training workload's hwa_optim_kind; HWA__OPTIM_NONE for the others */
    const char *file;          /* the workload as given (a model file's path) */
    bool compressed;           /* the file is a compressed model (its rows count samples, not tokens) */
    const char *dev;
    int64_t batch;
    const hwa__sweep_config *cfgs;
    int n_cfgs;
    const hwa_bench_scenario *scens;
    int n_scens;
    bool no_threads;           /* the device has no thread setting (opencl:N): one configuration per dtype */
    bool threads_given;        /* ... and a --threads list was given, which its rows say does not apply */
} hwa__sweep_block;

/* Builds and validates every configuration of b, measures the rows of each
 * scenario interleaved over r->reps repetitions (a peak search one row at a
 * time), and appends the rows to r->rep in b's order. Frees what it built.
 * Errors: a build's, a query's, HWA_E_NOMEM. */
hwa_status hwa__sweep_block_run(hwa__sweep_runner *r, const hwa__sweep_block *b);

#endif
