/* Benchmark statistics against known data, the t quantiles against the t
 * density's integral, paired ratios against intervals worked by hand, the
 * arrival generator against the Poisson process's moments, and the
 * scenarios, pooled visits and peak search on simulated systems (a virtual
 * clock) whose answers are known in closed form. */
#include <stdlib.h>

#include "bench/scenario.h"
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

/* Student's t density with v degrees of freedom. */
static double t_density(double t, double v) {
    return exp(lgamma((v + 1) / 2) - lgamma(v / 2)) / sqrt(v * M_PI) * pow(1 + t * t / v, -(v + 1) / 2);
}

TEST(t975_is_where_the_t_density_integrates_to_0_975) {
    /* Closed forms: df 1 is Cauchy, tan(0.475 pi); df 2 has the quantile
     * (2p - 1) / sqrt(2 p (1 - p)). */
    CHECK_NEAR(hwa_bench_t975(1), tan(0.475 * M_PI), 1e-5);
    CHECK_NEAR(hwa_bench_t975(2), 0.95 / sqrt(2 * 0.975 * 0.025), 1e-5);
    /* Every other df, the table's and the expansion's alike: Simpson's rule
     * from 0 to the quantile must give 0.475. */
    for (int df = 1; df <= 40; df++) {
        double q = hwa_bench_t975(df), h = q / 4000, sum = t_density(0, df) + t_density(q, df);
        for (int i = 1; i < 4000; i++) sum += (i % 2 ? 4 : 2) * t_density(i * h, df);
        CHECK_MSG(fabs(sum * h / 3 - 0.475) < 2e-7, "df %d: quantile %.6f integrates to %.9f", df, q, sum * h / 3 + 0.5);
    }
    CHECK(isnan(hwa_bench_t975(0)));
}

TEST(paired_ratio_is_a_t_interval_on_the_log_ratios) {
    /* The machine drifts (b moves by a factor of four) but each repetition's
     * ratio is exp(0.1), exp(0.2), ..., exp(0.5). By hand: the log-ratios'
     * mean is 0.3 and their sample variance 0.1 / 4 = 0.025, so the
     * half-width is t975(4) * sqrt(0.025 / 5) = 2.776445 * 0.0707107 =
     * 0.196324; the interval exp(0.3 -+ 0.196324) = [1.109241, 1.642672]. */
    const double b[5] = {100, 50, 200, 80, 120};
    double a[5];
    for (int k = 0; k < 5; k++) a[k] = b[k] * exp(0.1 * (k + 1));
    hwa_bench_ratio q;
    CHECK_OK(hwa_bench_paired_ratio(a, b, 5, &q));
    CHECK_INT_EQ(q.n, 5);
    CHECK_NEAR(q.ratio, exp(0.3), 1e-12);
    CHECK_NEAR(q.lo, 1.109241, 2e-6);
    CHECK_NEAR(q.hi, 1.642672, 2e-6);
}

TEST(paired_ratio_of_a_constant_ratio_has_no_width_and_one_pair_no_interval) {
    const double a[3] = {30, 60, 90}, b[3] = {10, 20, 30};
    hwa_bench_ratio q;
    CHECK_OK(hwa_bench_paired_ratio(a, b, 3, &q));
    CHECK_NEAR(q.ratio, 3, 1e-12);
    CHECK_NEAR(q.lo, 3, 1e-12);
    CHECK_NEAR(q.hi, 3, 1e-12);
    CHECK_OK(hwa_bench_paired_ratio(a, b, 1, &q));
    CHECK_NEAR(q.ratio, 3, 1e-12);
    CHECK(isnan(q.lo) && isnan(q.hi));
    const double bad[3] = {10, 0, 30};
    CHECK_STATUS(hwa_bench_paired_ratio(a, bad, 3, &q), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "repetition 2");
    CHECK_STATUS(hwa_bench_paired_ratio(a, b, 0, &q), HWA_E_INVALID);
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

/* The exact M/D/1 peak: the rate where P(W <= bound - D) = 0.99. */
static double md1_peak(double d, double bound) {
    double lo = 0, hi = 1 / d;
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (md1_wait_cdf(mid, d, bound - d) >= 0.99) lo = mid;
        else hi = mid;
    }
    return lo;
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

TEST(pooled_visits_give_the_statistics_of_all_their_queries) {
    /* Two visits to one row: 5 queries of 1 ms, then 15 of 3 ms (the machine
     * slowed down); the pool holds all 20 and the row reports them as one. */
    sim s = {.service = 0.001};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.min_time_s = 0;
    c.warmup_s = 0;
    c.warmup_queries = 1;
    c.min_queries = 5;
    hwa__bench_samples pool = {0};
    hwa_bench_result runs[2], row;
    CHECK_OK(hwa__bench_run_into(&sys, &c, &runs[0], &pool));
    s.service = 0.003;
    c.warmup_queries = 0;
    c.min_queries = 15;
    CHECK_OK(hwa__bench_run_into(&sys, &c, &runs[1], &pool));
    CHECK_INT_EQ(runs[0].queries, 5);
    CHECK_INT_EQ(runs[1].queries, 15);
    CHECK_NEAR(runs[1].latency.mean, 0.003, 1e-12); /* each run describes itself */
    CHECK_INT_EQ(pool.n, 20);
    CHECK_OK(hwa__bench_result_pool(runs, 2, &pool, &c, &row));
    CHECK_INT_EQ(row.queries, 20);
    CHECK_INT_EQ(row.warmup_queries, 1);
    CHECK_NEAR(row.duration_s, 5 * 0.001 + 15 * 0.003, 1e-12);
    CHECK_NEAR(row.queries_per_s, 20 / 0.05, 1e-6);
    CHECK_NEAR(row.latency.mean, (5 * 0.001 + 15 * 0.003) / 20, 1e-12);
    CHECK_NEAR(row.latency.p50, 0.003, 1e-12);
    CHECK_NEAR(row.latency.min, 0.001, 1e-12);
    /* Sorted: five 1 ms then fifteen 3 ms; rank 0.2 * 19 = 3.8 is still 1 ms. */
    CHECK_NEAR(hwa_bench_percentile(pool.lat, 20, 20), 0.001, 1e-12);
    CHECK(row.spread_warning); /* 1 ms and 3 ms together: CV about 0.4 */
    hwa__bench_samples_free(&pool);
    CHECK_STATUS(hwa__bench_result_pool(runs, 2, &pool, &c, &row), HWA_E_INVALID);
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

/* A peak search on the M/D/1 system: 400,000 queries a run put the p99
 * estimate within about 2 % of the rate. */
static hwa_bench_config md1_search_config(double bound, double rel_tol) {
    hwa_bench_config c = hwa_bench_config_default();
    c.min_queries = 400000;
    c.min_time_s = 0;
    c.warmup_queries = 0;
    c.warmup_s = 0;
    c.p99_bound_s = bound;
    c.peak_rel_tol = rel_tol;
    c.peak_max_iters = 20;
    return c;
}

TEST(peak_search_finds_the_md1_rate_whose_p99_meets_the_bound) {
    const double d = 0.001, bound = 0.005; /* p99 of waiting time must be <= 4 D */
    double exact = md1_peak(d, bound);
    sim s = {.service = d};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = md1_search_config(bound, 0.002);
    hwa_bench_peak pk;
    CHECK_OK(hwa_bench_find_peak(&sys, &c, 1 / d, &pk));
    fprintf(stderr, "    M/D/1 peak: exact %.2f q/s, found %.2f q/s after %d runs (p99 %.3f ms)\n", exact,
            pk.peak_rate, pk.runs, pk.at_peak.latency.p99 * 1e3);
    CHECK(pk.found && !pk.at_ceiling);
    CHECK(pk.at_peak.latency.p99 <= bound);
    /* 400,000 simulated queries put the p99 estimate within about 2 % of
     * the rate; the search's own tolerance adds 0.2 %. */
    CHECK_NEAR(pk.peak_rate, exact, 0.03 * exact);
}

TEST(peak_search_climbs_past_an_initial_guess_below_the_peak) {
    const double d = 0.001, bound = 0.005, exact = md1_peak(d, bound);
    sim s = {.service = d};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = md1_search_config(bound, 0.005);
    hwa_bench_peak pk;
    /* A guess a fifth of the peak, as a busy machine's single run can give:
     * 100, 200 and 400 q/s meet the bound, 800 does not; then bisection. */
    CHECK_OK(hwa_bench_find_peak(&sys, &c, exact / 5, &pk));
    fprintf(stderr, "    M/D/1 peak from a guess of %.1f q/s: exact %.2f, found %.2f q/s (failing %.2f) after %d runs\n",
            exact / 5, exact, pk.peak_rate, pk.upper_rate, pk.runs);
    CHECK(pk.found && !pk.at_ceiling);
    CHECK(pk.upper_rate > pk.peak_rate);
    CHECK_NEAR(pk.peak_rate, exact, 0.03 * exact); /* as the search from above, below */
}

TEST(peak_search_that_never_sees_a_violation_says_it_stopped_at_its_ceiling) {
    /* A system far faster than any rate tried: 1 us queries, a 1 s bound. */
    sim s = {.service = 1e-6};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.min_queries = 200;
    c.min_time_s = 0;
    c.p99_bound_s = 1.0;
    c.peak_max_iters = 30;
    hwa_bench_peak pk;
    CHECK_OK(hwa_bench_find_peak(&sys, &c, 10, &pk));
    CHECK(pk.found && pk.at_ceiling);
    CHECK_INT_EQ(pk.runs, HWA_BENCH_PEAK_MAX_DOUBLINGS + 1); /* the guess, then each doubling */
    CHECK_NEAR(pk.peak_rate, 10 * pow(2, HWA_BENCH_PEAK_MAX_DOUBLINGS), 0);
    CHECK(isnan(pk.upper_rate));
    /* The runs run out first: the ceiling is where they stopped. */
    c.peak_max_iters = 4;
    CHECK_OK(hwa_bench_find_peak(&sys, &c, 10, &pk));
    CHECK(pk.at_ceiling);
    CHECK_INT_EQ(pk.runs, 4);
    CHECK_NEAR(pk.peak_rate, 80, 0);
}

TEST(peak_search_reports_none_when_the_bound_is_below_the_service_time) {
    sim s = {.service = 0.002};
    hwa_bench_system sys = sim_system(&s);
    hwa_bench_config c = hwa_bench_config_default();
    c.p99_bound_s = 0.001;
    c.min_time_s = 0.1;
    hwa_bench_peak pk;
    CHECK_OK(hwa_bench_find_peak(&sys, &c, 0, &pk)); /* upper end measured: 1 / 2 ms */
    CHECK(!pk.found && !pk.at_ceiling);
    CHECK_NEAR(pk.peak_rate, 0, 0);
    /* The single run, then one server run: its queries alone took longer
     * than the bound, so no lower rate is tried. */
    CHECK_INT_EQ(pk.runs, 2);
    CHECK_NEAR(pk.upper_rate, 500, 1e-9);
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
