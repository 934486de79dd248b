/* Benchmark statistics (percentiles by linear interpolation, mean, sample
 * standard deviation, CV) and the deterministic arrival generator. */
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
