/* A scenario run whose per-query samples are kept, so that the repetitions
 * of one row can pool them. Internal to src/bench. */
#ifndef HWADAPT_BENCH_SCENARIO_H
#define HWADAPT_BENCH_SCENARIO_H

#include "core/internal.h"

/* Latency and service time (seconds) of each measured query, in order. */
typedef struct hwa__bench_samples {
    double *lat, *svc;
    int64_t n, cap;
} hwa__bench_samples;

/* Frees the arrays and zeroes s; NULL is a no-op. */
void hwa__bench_samples_free(hwa__bench_samples *s);

/* hwa_bench_run, with the measured queries appended to pool (which keeps
 * them; the caller frees it); out describes this run alone. Errors as
 * hwa_bench_run. */
hwa_status hwa__bench_run_into(const hwa_bench_system *sys, const hwa_bench_config *cfg, hwa_bench_result *out,
                               hwa__bench_samples *pool);

/* One result for the n runs (visits) of one configuration whose samples all
 * went into pool: queries, warm-up queries and durations add up, the
 * statistics are the pool's, capped when any run was; the spread warning and
 * the bound are judged against cfg as hwa_bench_run judges them.
 * HWA_E_INVALID for an empty pool, HWA_E_NOMEM. */
hwa_status hwa__bench_result_pool(const hwa_bench_result *runs, int n, const hwa__bench_samples *pool,
                                  const hwa_bench_config *cfg, hwa_bench_result *out);

#endif
