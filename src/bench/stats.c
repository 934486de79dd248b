/* Benchmark statistics (percentiles by linear interpolation, mean, sample
 * standard deviation, CV, paired ratios with their t-interval) and the
 * deterministic arrival generator. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"

double hwa_bench_percentile(const double *sorted, int64_t n, double p) {
    if (!sorted || n < 1 || !(p >= 0 && p <= 100)) return NAN;
    double rank = p / 100.0 * (double)(n - 1);
    int64_t lo = (int64_t)floor(rank);
    if (lo >= n - 1) return sorted[n - 1];
    double frac = rank - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

hwa_status hwa_bench_stats_compute(const double *x, int64_t n, hwa_bench_stats *out) {
    if (!x || n < 1 || !out) return hwa__err(NULL, HWA_E_INVALID, "statistics: need at least one value");
    size_t bytes;
    if (!hwa__mul_size((size_t)n, sizeof *x, &bytes)) return hwa__err(NULL, HWA_E_OVERFLOW, "statistics: too many values");
    double *s = malloc(bytes);
    if (!s) return hwa__err(NULL, HWA_E_NOMEM, "statistics: out of memory for %lld values", (long long)n);
    memcpy(s, x, bytes);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    /* Welford's update keeps the variance accurate when the mean is large
     * compared with the spread (latencies of nearly equal queries). */
    double mean = 0, m2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = s[i] - mean;
        mean += d / (double)(i + 1);
        m2 += d * (s[i] - mean);
    }
    memset(out, 0, sizeof *out);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->mean = mean;
    out->stddev = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
    out->cv = mean != 0 ? out->stddev / mean : NAN;
    out->p50 = hwa_bench_percentile(s, n, 50);
    out->p90 = hwa_bench_percentile(s, n, 90);
    out->p99 = hwa_bench_percentile(s, n, 99);
    free(s);
    return HWA_OK;
}

/* ---- paired ratios ----------------------------------------------------- */

double hwa_bench_t975(int df) {
    /* Student's t 0.975 quantiles for df 1..31, to 6 digits (the integral of
     * the t density, as any table prints them; tests/test_bench_stats.c
     * integrates it again). */
    static const double table[31] = {
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985,
        2.178813,  2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873,
        2.068658,  2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272, 2.039513};
    if (df < 1) return NAN;
    if (df <= 31) return table[df - 1];
    /* Cornish-Fisher expansion in 1/df around the normal quantile; its first
     * neglected term is below 1e-7 from df 32 on. */
    const double z = 1.959963984540054, v = df, z2 = z * z;
    double g1 = (z2 + 1) * z / 4, g2 = ((5 * z2 + 16) * z2 + 3) * z / 96,
           g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384,
           g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
    return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v);
}

hwa_status hwa_bench_paired_ratio(const double *a, const double *b, int n, hwa_bench_ratio *out) {
    if (!a || !b || n < 1 || !out) return hwa__err(NULL, HWA_E_INVALID, "paired ratio: need at least one pair");
    /* Logs make a ratio's noise additive and symmetric (1.25x and 0.8x are
     * the same distance from 1), and the mean of the logs is the geometric
     * mean of the ratios; Welford's update as in hwa_bench_stats_compute. */
    double mean = 0, m2 = 0;
    for (int k = 0; k < n; k++) {
        if (!(a[k] > 0 && b[k] > 0 && isfinite(a[k]) && isfinite(b[k])))
            return hwa__err(NULL, HWA_E_INVALID, "paired ratio: repetition %d has %g over %g; both must be positive", k + 1,
                            a[k], b[k]);
        double d = log(a[k] / b[k]) - mean;
        mean += d / (k + 1);
        m2 += d * (log(a[k] / b[k]) - mean);
    }
    out->n = n;
    out->ratio = exp(mean);
    double half = n > 1 ? hwa_bench_t975(n - 1) * sqrt(m2 / (n - 1)) / sqrt((double)n) : NAN;
    out->lo = exp(mean - half);
    out->hi = exp(mean + half);
    return HWA_OK;
}

/* ---- generator --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hwa_bench_rng_init(hwa_bench_rng *r, uint64_t seed) {
    uint64_t x = seed;
    r->state = splitmix64(&x);
    if (!r->state) r->state = 0x853c49e6748fea9bull; /* xorshift must not start at 0 */
}

double hwa_bench_rng_uniform(hwa_bench_rng *r) {
    /* xorshift64* ; the top 53 bits, shifted by half an ulp, land in (0, 1). */
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    uint64_t v = (x * 0x2545f4914f6cdd1dull) >> 11;
    return ((double)v + 0.5) * 0x1p-53;
}

double hwa_bench_rng_exp_gap(hwa_bench_rng *r, double rate) {
    return -log(hwa_bench_rng_uniform(r)) / rate;
}

double hwa_bench_clock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
