/* The scenarios (single, offline, server with Poisson arrivals) and the
 * peak-rate search, over a pluggable system with its own clock. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "bench/scenario.h"

static const char *const scenario_names[HWA_SCENARIO_COUNT] = {"single", "offline", "server"};

const char *hwa_bench_scenario_name(hwa_bench_scenario s) {
    return (unsigned)s < HWA_SCENARIO_COUNT ? scenario_names[s] : "?";
}

hwa_status hwa_bench_scenario_from_name(const char *name, hwa_bench_scenario *out) {
    for (int i = 0; name && i < HWA_SCENARIO_COUNT; i++)
        if (!strcmp(name, scenario_names[i])) {
            *out = (hwa_bench_scenario)i;
            return HWA_OK;
        }
    return hwa__err(NULL, HWA_E_NOTFOUND, "unknown scenario '%s'; available: single, offline, server",
                    name ? name : "(null)");
}

hwa_bench_config hwa_bench_config_default(void) {
    return (hwa_bench_config){
        .scenario = HWA_SCENARIO_SINGLE,
        .warmup_s = 0.2,
        .warmup_queries = 2,
        .min_time_s = 1.0,
        .min_queries = 10,
        .p99_bound_s = 0.010,
        .seed = 1,
        .cv_warn = 0.10,
        .peak_rel_tol = 0.02,
        .peak_max_iters = 12,
    };
}

/* ---- clocks ------------------------------------------------------------ */

static double sys_now(const hwa_bench_system *sys) {
    return sys->now ? sys->now(sys->ud) : hwa_bench_clock_now();
}

static void sys_wait_until(const hwa_bench_system *sys, double t) {
    if (sys->wait_until) {
        sys->wait_until(sys->ud, t);
        return;
    }
    /* Sleep until shortly before t, then spin: nanosleep alone overshoots by
     * tens of microseconds, which would add to every server latency. */
    for (;;) {
        double left = t - hwa_bench_clock_now();
        if (left <= 0) return;
        if (left > 200e-6) {
            double s = left - 100e-6;
            struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
            while (nanosleep(&ts, &ts) && errno == EINTR) {}
        }
    }
}

/* ---- one run ----------------------------------------------------------- */

typedef hwa__bench_samples samples;

void hwa__bench_samples_free(hwa__bench_samples *s) {
    if (!s) return;
    free(s->lat);
    free(s->svc);
    memset(s, 0, sizeof *s);
}

static hwa_status samples_push(samples *s, double lat, double svc) {
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 256;
        double *a = realloc(s->lat, (size_t)cap * sizeof *a);
        if (!a) return hwa__err(NULL, HWA_E_NOMEM, "bench: out of memory for %lld latencies", (long long)cap);
        s->lat = a;
        double *b = realloc(s->svc, (size_t)cap * sizeof *b);
        if (!b) return hwa__err(NULL, HWA_E_NOMEM, "bench: out of memory for %lld latencies", (long long)cap);
        s->svc = b;
        s->cap = cap;
    }
    s->lat[s->n] = lat;
    s->svc[s->n] = svc;
    s->n++;
    return HWA_OK;
}

static hwa_status check_config(const hwa_bench_system *sys, const hwa_bench_config *c) {
    if (!sys || !sys->run_query || !c) return hwa__err(NULL, HWA_E_INVALID, "bench: no system or no config");
    if ((unsigned)c->scenario >= HWA_SCENARIO_COUNT) return hwa__err(NULL, HWA_E_INVALID, "bench: bad scenario %d", (int)c->scenario);
    if (!(c->warmup_s >= 0) || !(c->min_time_s >= 0) || !(c->max_time_s >= 0) || c->warmup_queries < 0 ||
        c->min_queries < 1 || c->max_queries < 0)
        return hwa__err(NULL, HWA_E_INVALID,
                        "bench: times must be >= 0, min queries >= 1 and caps >= 0 (0 = none)");
    if (c->scenario == HWA_SCENARIO_SERVER && !(c->server_rate > 0 && isfinite(c->server_rate)))
        return hwa__err(NULL, HWA_E_INVALID, "bench: the server scenario needs a rate > 0 queries/s (got %g)",
                        c->server_rate);
    if (c->scenario == HWA_SCENARIO_SERVER && !(c->p99_bound_s > 0))
        return hwa__err(NULL, HWA_E_INVALID, "bench: the server scenario needs a p99 bound > 0 (got %g s)",
                        c->p99_bound_s);
    return HWA_OK;
}

static bool enough(const hwa_bench_config *c, int64_t n, double elapsed, bool *capped) {
    if (n >= c->min_queries && elapsed >= c->min_time_s) return true;
    if ((c->max_queries && n >= c->max_queries) || (c->max_time_s > 0 && elapsed >= c->max_time_s)) {
        *capped = true;
        return true;
    }
    return false;
}

/* The statistics of n samples from lat and svc, and what follows from them. */
static hwa_status finish(const double *lat, const double *svc, int64_t n, double duration, const hwa_bench_config *cfg,
                         hwa_bench_result *out) {
    hwa_status st = hwa_bench_stats_compute(lat, n, &out->latency);
    if (!st) st = hwa_bench_stats_compute(svc, n, &out->service);
    if (st) return st;
    out->queries = n;
    out->duration_s = duration;
    out->queries_per_s = duration > 0 ? (double)n / duration : NAN;
    out->spread_warning = isfinite(out->service.cv) && out->service.cv > cfg->cv_warn;
    out->meets_bound = cfg->scenario == HWA_SCENARIO_SERVER && out->latency.p99 <= cfg->p99_bound_s;
    return HWA_OK;
}

hwa_status hwa__bench_run_into(const hwa_bench_system *sys, const hwa_bench_config *cfg, hwa_bench_result *out,
                               hwa__bench_samples *pool) {
    hwa_status st = check_config(sys, cfg);
    if (st) return st;
    memset(out, 0, sizeof *out);
    out->target_rate = NAN;

    /* Warm-up: back to back, not counted; a time cap bounds it too. */
    double t0 = sys_now(sys);
    for (int64_t k = 0;; k++) {
        double el = sys_now(sys) - t0;
        if (k >= cfg->warmup_queries && el >= cfg->warmup_s) break;
        if (k >= 1 && cfg->max_time_s > 0 && el >= cfg->max_time_s) break;
        if ((st = sys->run_query(sys->ud))) return st;
        out->warmup_queries++;
    }

    samples *s = pool;
    const int64_t n0 = s->n;
    bool capped = false;
    double start = sys_now(sys), end = start;
    if (cfg->scenario == HWA_SCENARIO_SERVER) {
        hwa_bench_rng rng;
        hwa_bench_rng_init(&rng, cfg->seed);
        double arrival = start + hwa_bench_rng_exp_gap(&rng, cfg->server_rate);
        for (;;) {
            if (sys_now(sys) < arrival) sys_wait_until(sys, arrival);
            double issue = sys_now(sys);
            if ((st = sys->run_query(sys->ud))) return st;
            end = sys_now(sys);
            if ((st = samples_push(s, end - arrival, end - issue))) return st;
            if (enough(cfg, s->n - n0, end - start, &capped)) break;
            arrival += hwa_bench_rng_exp_gap(&rng, cfg->server_rate);
        }
        out->target_rate = cfg->server_rate;
    } else {
        /* single: each query issued when the previous completes; offline: all
         * issued at once, which a one-at-a-time system also runs back to
         * back, so the two differ in their metric, not in their loop. */
        for (;;) {
            double issue = sys_now(sys);
            if ((st = sys->run_query(sys->ud))) return st;
            end = sys_now(sys);
            if ((st = samples_push(s, end - issue, end - issue))) return st;
            if (enough(cfg, s->n - n0, end - start, &capped)) break;
        }
    }
    out->capped = capped;
    return finish(s->lat + n0, s->svc + n0, s->n - n0, end - start, cfg, out);
}

hwa_status hwa_bench_run(const hwa_bench_system *sys, const hwa_bench_config *cfg, hwa_bench_result *out) {
    samples s = {0};
    hwa_status st = hwa__bench_run_into(sys, cfg, out, &s);
    hwa__bench_samples_free(&s);
    return st;
}

hwa_status hwa__bench_result_pool(const hwa_bench_result *runs, int n, const hwa__bench_samples *pool,
                                  const hwa_bench_config *cfg, hwa_bench_result *out) {
    if (n < 1 || !pool->n) return hwa__err(NULL, HWA_E_INVALID, "bench: no measured queries to pool");
    memset(out, 0, sizeof *out);
    double duration = 0;
    for (int k = 0; k < n; k++) {
        duration += runs[k].duration_s;
        out->warmup_queries += runs[k].warmup_queries;
        out->capped |= runs[k].capped;
    }
    out->target_rate = runs[0].target_rate;
    return finish(pool->lat, pool->svc, pool->n, duration, cfg, out);
}

/* ---- peak search ------------------------------------------------------- */

hwa_status hwa_bench_find_peak(const hwa_bench_system *sys, const hwa_bench_config *cfg, double rate_hi,
                               hwa_bench_peak *out) {
    if (!cfg || !out) return hwa__err(NULL, HWA_E_INVALID, "peak search: no config or no result");
    memset(out, 0, sizeof *out);
    out->upper_rate = NAN;
    hwa_bench_config c = *cfg;
    hwa_status st;
    if (!(rate_hi > 0)) {
        hwa_bench_result single;
        c.scenario = HWA_SCENARIO_SINGLE;
        if ((st = hwa_bench_run(sys, &c, &single))) return st;
        out->runs++;
        if (!(single.service.mean > 0))
            return hwa__err(NULL, HWA_E_INVALID, "peak search: queries took no measurable time");
        rate_hi = 1.0 / single.service.mean;
    }
    c.scenario = HWA_SCENARIO_SERVER;
    /* lo met the bound (0: nothing has yet); hi failed it once failed is
     * true, else it is the next upper end to try. Trying the upper end first
     * costs one run, but a guess measured on a busy machine can sit far
     * below what the system sustains, and bisecting below it would report
     * the guess as the peak. */
    double lo = 0, hi = rate_hi;
    bool failed = false;
    int doublings = 0, max_runs = c.peak_max_iters > 0 ? c.peak_max_iters : 12, runs = 0;
    while (runs < max_runs) {
        if (failed && (hi - lo) / hi <= c.peak_rel_tol) break;
        double rate = failed ? 0.5 * (lo + hi) : hi;
        hwa_bench_result r;
        c.server_rate = rate;
        if ((st = hwa_bench_run(sys, &c, &r))) return st;
        out->runs++;
        runs++;
        if (r.meets_bound) {
            lo = rate;
            out->at_peak = r;
            out->found = true;
            if (!failed) {
                if (doublings == HWA_BENCH_PEAK_MAX_DOUBLINGS) break;
                hi = 2 * rate;
                doublings++;
            }
        } else {
            hi = rate;
            failed = true;
            /* Latency is waiting plus service: when the queries alone took
             * longer than the bound, no lower rate can meet it, and the ever
             * lower rates of the bisection would take ever longer to run. */
            if (r.service.p99 > c.p99_bound_s) break;
        }
    }
    out->peak_rate = lo;
    out->upper_rate = failed ? hi : NAN;
    out->at_ceiling = out->found && !failed;
    return HWA_OK;
}
