/* Benchmark statistics against known data, the arrival generator against
 * the Poisson process's moments, and the scenarios and peak search on a
 * simulated M/D/1 queue whose answer is known in closed form. */
#include <stdlib.h>

#include "harness.h"

TEST(percentiles_interpolate_linearly_like_numpy) {
    const double x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    /* numpy.percentile(range(1, 11), [0, 50, 90, 99, 100]) */
    CHECK_NEAR(hwa_bench_percentile(x, 10, 0), 1.0, 1e-12);
    CHECK_NEAR(hwa_bench_percentile(x, 10, 50), 5.5, 1e-12);
    CHECK_NEAR(hwa_bench_percentile(x, 10, 90), 9.1, 1e-12);
    CHECK_NEAR(hwa_bench_percentile(x, 10, 99), 9.91, 1e-12);
    CHECK_NEAR(hwa_bench_percentile(x, 10, 100), 10.0, 1e-12);
    const double y[] = {15, 20, 35, 40, 50};
    CHECK_NEAR(hwa_bench_percentile(y, 5, 40), 29.0, 1e-12); /* rank 1.6: 20 + 0.6 * 15 */
    CHECK_NEAR(hwa_bench_percentile(y, 1, 99), 15.0, 1e-12);
    CHECK(isnan(hwa_bench_percentile(y, 0, 50)));
    CHECK(isnan(hwa_bench_percentile(y, 5, 101)));
}

TEST(stats_give_mean_sample_stddev_and_cv_on_unsorted_data) {
    const double x[] = {9, 2, 5, 4, 7, 4, 5, 4};
    hwa_bench_stats s;
    CHECK_OK(hwa_bench_stats_compute(x, 8, &s));
    CHECK_INT_EQ(s.n, 8);
    CHECK_NEAR(s.mean, 5.0, 1e-12);
    CHECK_NEAR(s.stddev, sqrt(32.0 / 7.0), 1e-12); /* sum of squared deviations 32, n - 1 = 7 */
    CHECK_NEAR(s.cv, sqrt(32.0 / 7.0) / 5.0, 1e-12);
    CHECK_NEAR(s.min, 2, 0);
    CHECK_NEAR(s.max, 9, 0);
    CHECK_NEAR(s.p50, 4.5, 1e-12);
    CHECK_NEAR(x[0], 9, 0); /* input untouched */
    CHECK_STATUS(hwa_bench_stats_compute(x, 0, &s), HWA_E_INVALID);
}

TEST(exponential_gaps_have_the_poisson_process_moments) {
    enum { N = 200000 };
    const double rate = 250.0;
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, 1234);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < N; i++) {
        double g = hwa_bench_rng_exp_gap(&r, rate);
        CHECK(g > 0);
        sum += g;
        sum2 += g * g;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    /* Exponential(rate): mean 1/rate, variance 1/rate^2. Standard errors:
     * mean sd/sqrt(N); sample variance sqrt(mu4 - sigma^4)/sqrt(N) with
     * mu4 = 9/rate^4, i.e. sqrt(8)/rate^2/sqrt(N). Allow 4 standard errors. */
    CHECK_NEAR(mean, 1 / rate, 4 * (1 / rate) / sqrt(N));
    CHECK_NEAR(var, 1 / (rate * rate), 4 * sqrt(8.0) / (rate * rate) / sqrt(N));
}

TEST(arrival_counts_per_window_have_poisson_mean_and_variance) {
    enum { W = 4000 };
    const double rate = 40.0; /* events per unit window */
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, 7);
    static int counts[W];
    double t = hwa_bench_rng_exp_gap(&r, rate);
    while (t < W) {
        counts[(int)t]++;
        t += hwa_bench_rng_exp_gap(&r, rate);
    }
    double sum = 0, sum2 = 0;
    for (int i = 0; i < W; i++) sum += counts[i], sum2 += (double)counts[i] * counts[i];
    double mean = sum / W, var = (sum2 - sum * sum / W) / (W - 1);
    /* Poisson(40): mean 40 (se sqrt(40/W) = 0.1), variance 40 (se of the
     * sample variance ~ sqrt((mu4 - s^4)/W) = sqrt((3*40^2 + 40 - 40^2)/W) ~ 0.9). */
    CHECK_NEAR(mean, rate, 4 * 0.1);
    CHECK_NEAR(var, rate, 4 * 0.9);
}

TEST(same_seed_gives_the_same_arrivals) {
    hwa_bench_rng a, b;
    hwa_bench_rng_init(&a, 99);
    hwa_bench_rng_init(&b, 99);
    for (int i = 0; i < 1000; i++) CHECK(hwa_bench_rng_exp_gap(&a, 3) == hwa_bench_rng_exp_gap(&b, 3));
}

/* ---- a simulated system: one server, deterministic service time ------- */

typedef struct sim {
    double t, service;
    int64_t queries;
} sim;

static hwa_status sim_run(void *ud) {
    sim *s = ud;
    s->t += s->service;
    s->queries++;
    return HWA_OK;
}
static double sim_now(void *ud) { return ((sim *)ud)->t; }
static void sim_wait(void *ud, double t) { ((sim *)ud)->t = t; }

static hwa_bench_system sim_system(sim *s) {
    return (hwa_bench_system){.ud = s, .run_query = sim_run, .now = sim_now, .wait_until = sim_wait};
}

/* M/D/1 waiting time distribution (Erlang, 1909): with arrival rate l and
 * service time D, P(W <= t) = (1 - l D) sum_{k=0}^{floor(t/D)}
 * (l (kD - t))^k / k! e^{-l (kD - t)}. */
static double md1_wait_cdf(double l, double d, double t) {
    double p = 0;
    for (int k = 0; k <= (int)floor(t / d + 1e-12); k++) {
        double a = l * (k * d - t);
        p += pow(a, k) / tgamma(k + 1.0) * exp(-a);
    }
    return (1 - l * d) * p;
}

TEST(single_scenario_on_a_constant_system_measures_the_service_time) {
    sim s = {.service = 0.004};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.min_time_s = 0.5;
    c.min_queries = 10;
    hwa_bench_result r;
    CHECK_OK(hwa_bench_run(&sys, &c, &r));
    CHECK_INT_EQ(r.queries, 125); /* 0.5 s / 4 ms */
    CHECK_INT_EQ(r.warmup_queries, 50); /* 0.2 s of warm-up */
    CHECK_NEAR(r.latency.p99, 0.004, 1e-12);
    CHECK_NEAR(r.queries_per_s, 250, 1e-6);
    CHECK(!r.spread_warning && !r.capped);
}

TEST(caps_stop_a_slow_run_and_say_so) {
    sim s = {.service = 2.0};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.max_time_s = 5;
    hwa_bench_result r;
    CHECK_OK(hwa_bench_run(&sys, &c, &r));
    CHECK_INT_EQ(r.queries, 3);
    CHECK(r.capped);
}

TEST(server_latency_at_low_load_is_the_service_time_plus_rare_waits) {
    sim s = {.service = 0.001};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.scenario = HWA_SCENARIO_SERVER;
    c.server_rate = 50; /* utilisation 5 % */
    c.min_queries = 20000;
    hwa_bench_result r;
    CHECK_OK(hwa_bench_run(&sys, &c, &r));
    CHECK_NEAR(r.latency.p50, 0.001, 1e-9);
    CHECK_NEAR(r.queries_per_s, 50, 50 * 0.03);
    /* P(W = 0) = 1 - rho = 0.95: the median waits nothing; p99 waits less than D. */
    CHECK(r.latency.p99 < 0.002);
    CHECK(r.meets_bound);
}

TEST(peak_search_finds_the_md1_rate_whose_p99_meets_the_bound) {
    const double d = 0.001, bound = 0.005; /* p99 of waiting time must be <= 4 D */
    /* The exact answer: the rate where P(W <= bound - D) = 0.99. */
    double lo = 0, hi = 1 / d;
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (md1_wait_cdf(mid, d, bound - d) >= 0.99) lo = mid;
        else hi = mid;
    }
    double exact = lo;
    sim s = {.service = d};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.min_queries = 400000;
    c.min_time_s = 0;
    c.warmup_queries = 0;
    c.warmup_s = 0;
    c.p99_bound_s = bound;
    c.peak_rel_tol = 0.002;
    c.peak_max_iters = 20;
    hwa_bench_peak pk;
    CHECK_OK(hwa_bench_find_peak(&sys, &c, 1 / d, &pk));
    fprintf(stderr, "    M/D/1 peak: exact %.2f q/s, found %.2f q/s after %d runs (p99 %.3f ms)\n", exact,
            pk.peak_rate, pk.runs, pk.at_peak.latency.p99 * 1e3);
    CHECK(pk.found);
    CHECK(pk.at_peak.latency.p99 <= bound);
    /* 400,000 simulated queries put the p99 estimate within about 2 % of
     * the rate; the search's own tolerance adds 0.2 %. */
    CHECK_NEAR(pk.peak_rate, exact, 0.03 * exact);
}

TEST(peak_search_reports_none_when_the_bound_is_below_the_service_time) {
    sim s = {.service = 0.002};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.p99_bound_s = 0.001;
    c.min_time_s = 0.1;
    hwa_bench_peak pk;
    CHECK_OK(hwa_bench_find_peak(&sys, &c, 0, &pk)); /* upper end measured: 1 / 2 ms */
    CHECK(!pk.found);
    CHECK_NEAR(pk.peak_rate, 0, 0);
}

TEST(server_rejects_a_missing_rate) {
    sim s = {.service = 0.002};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.scenario = HWA_SCENARIO_SERVER;
    hwa_bench_result r;
    CHECK_STATUS(hwa_bench_run(&sys, &c, &r), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "rate");
}
