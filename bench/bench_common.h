/* Helpers the standalone bench programs share: a monotonic clock, the
 * median of a sample, interleaved timing of variants, the argmax of a row
 * of logits, the normalised error of a result. */
#ifndef HWADAPT_BENCH_COMMON_H
#define HWADAPT_BENCH_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n), n >= 1; sorts v (so v[0] is then the smallest). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One run of variant `which` of what a bench measures (0: hwadapt, the
 * others its peers); 0 on success. */
typedef int (*bench_run_fn)(void *ud, int which);

/* Seconds per run of variant which over iters runs; -1 when a run fails. */
static inline double bench_timed(bench_run_fn run, void *ud, int which, int iters) {
    const double t0 = bench_now_s();
    for (int i = 0; i < iters; i++)
        if (run(ud, which)) return -1;
    return (bench_now_s() - t0) / iters;
}

/* Variants 0..nwhich-1 timed in turn, reps rounds of about 20 ms each
 * (the iterations from one run of variant 0): t[k][0..reps) the seconds
 * per run of variant k, sorted, and med[k] their median. */
static inline void bench_interleave(bench_run_fn run, void *ud, int nwhich, int reps, double **t, double *med) {
    const double t1 = bench_timed(run, ud, 0, 1);
    int iters = 1;
    if (t1 > 0) iters = 2e-2 / t1 >= 1000.0 ? 1000 : 2e-2 / t1 <= 1.0 ? 1 : (int)(2e-2 / t1);
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < nwhich; k++) t[k][r] = bench_timed(run, ud, k, iters);
    for (int k = 0; k < nwhich; k++) med[k] = bench_median(t[k], reps);
}

/* The index of the largest of v[0..n), the first on ties. */
static inline int bench_argmax(const float *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* The normalised mean squared error of got against ref (n values):
 * sum (got - ref)^2 / sum ref^2, in double (the plain sum when ref is 0). */
static inline double bench_nmse(const float *ref, const float *got, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

#endif
