/* Sweeps: every combination of the comma lists becomes a row. Validates the
 * lists first, then for each row builds the workload, checks its output
 * against f32 on the same input, runs the scenario and fills the metrics. */
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_device.h"
#include "bench/workload.h"

#define MAX_ITEMS 32
#define ITEM_LEN 256 /* long enough for a model file's path */

typedef struct list {
    char v[MAX_ITEMS][ITEM_LEN];
    int n;
} list;

static hwa_status split(const char *s, const char *dflt, const char *what, list *out) {
    out->n = 0;
    if (!s || !*s) s = dflt;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= ITEM_LEN)
            return hwa__err(NULL, HWA_E_INVALID, "%s list '%s': %s item", what, s, len ? "too long an" : "an empty");
        if (out->n == MAX_ITEMS) return hwa__err(NULL, HWA_E_RANGE, "%s list '%s': more than %d items", what, s, MAX_ITEMS);
        memcpy(out->v[out->n], p, len);
        out->v[out->n++][len] = 0;
        if (!p[len]) return HWA_OK;
        p += len + 1;
    }
}

static bool parse_int(const char *s, long long *out) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end) return false;
    *out = v;
    return true;
}

/* A fully checked sweep. */
typedef struct plan {
    list wl, dev, dt, batch, thr, scen;
    int wl_idx[MAX_ITEMS];         /* -1: wl.v[i] is a model file */
    hwa_dtype wl_file_dt[MAX_ITEMS]; /* a model file's weight dtype */
    bool dt_given;
    hwa_bench_scenario scen_v[MAX_ITEMS];
    bool all_dtypes;
} plan;

static hwa_status check_plan(const hwa_bench_sweep *s, plan *p) {
    hwa_status st;
    memset(p, 0, sizeof *p);
    if ((st = split(s->workloads, "linear1000", "workload", &p->wl)) || (st = split(s->devices, "cpu", "device", &p->dev)) ||
        (st = split(s->dtypes, "f32", "dtype", &p->dt)) || (st = split(s->scenarios, "single", "scenario", &p->scen)))
        return st;
    if (s->batches && *s->batches && (st = split(s->batches, "", "batch", &p->batch))) return st;
    if (s->threads && *s->threads && (st = split(s->threads, "", "threads", &p->thr))) return st;
    if (p->dev.n == 1 && !strcmp(p->dev.v[0], "all")) {
        p->dev.n = 0;
        for (int i = 0; i < hwa__bdev_count(s->passport) && i < MAX_ITEMS; i++)
            snprintf(p->dev.v[p->dev.n++], ITEM_LEN, "%s", hwa__bdev_spec(s->passport, i));
    }
    for (int i = 0; i < p->dev.n; i++)
        if ((st = hwa__bdev_check(s->passport, p->dev.v[i]))) return st;
    p->dt_given = s->dtypes && *s->dtypes;
    for (int i = 0; i < p->wl.n; i++) {
        const char *w = p->wl.v[i];
        if (!access(w, F_OK)) {
            /* A model file: opened once here so a bad file fails before any row. */
            p->wl_idx[i] = -1;
            if ((st = hwa__model_dtype(w, p->dev.v[0], &p->wl_file_dt[i]))) return st;
            for (int j = 0; p->dt_given && strcmp(p->dt.v[0], "all") && j < p->dt.n; j++)
                if (strcmp(p->dt.v[j], hwa_dtype_name(p->wl_file_dt[i])))
                    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s holds %s weights, cannot run %s; available: %s", w,
                                    hwa_dtype_name(p->wl_file_dt[i]), p->dt.v[j], hwa_dtype_name(p->wl_file_dt[i]));
        } else if (strchr(w, '/') || strstr(w, ".gguf") || strstr(w, ".bin")) {
            return hwa__err(NULL, HWA_E_NOTFOUND, "workload file '%s': no such file", w);
        } else if ((st = hwa_bench_workload_find(w, &p->wl_idx[i]))) {
            return st;
        }
    }
    p->all_dtypes = p->dt.n == 1 && !strcmp(p->dt.v[0], "all");
    for (int j = 0; !p->all_dtypes && j < p->dt.n; j++) {
        hwa_dtype t;
        if (hwa_dtype_from_name(p->dt.v[j], &t)) {
            char avail[64];
            hwa__bdev_dtypes(p->dev.v[0], avail, sizeof avail);
            return hwa__err(NULL, HWA_E_NOTFOUND, "unknown precision '%s'; available on %s: %s (or 'all')", p->dt.v[j],
                            p->dev.v[0], avail);
        }
        for (int i = 0; i < p->dev.n; i++)
            if (!hwa__bdev_supports_dtype(p->dev.v[i], t)) {
                char avail[64];
                hwa__bdev_dtypes(p->dev.v[i], avail, sizeof avail);
                return hwa__err(NULL, HWA_E_UNSUPPORTED, "device %s cannot run %s; available: %s", p->dev.v[i],
                                p->dt.v[j], avail);
            }
    }
    for (int j = 0; j < p->batch.n; j++) {
        long long v;
        if (!parse_int(p->batch.v[j], &v) || v < 1 || v > (1 << 24))
            return hwa__err(NULL, HWA_E_RANGE, "batch '%s' is not a whole number in 1..%d (e.g. --batch 1,64)",
                            p->batch.v[j], 1 << 24);
    }
    for (int j = 0; j < p->thr.n; j++) {
        long long v = 0;
        bool num = parse_int(p->thr.v[j], &v);
        for (int i = 0; i < p->dev.n; i++) {
            int mx = hwa__bdev_max_threads(p->dev.v[i]);
            if (!num || v < 1 || v > mx)
                return hwa__err(NULL, HWA_E_RANGE, "threads '%s' is not available on %s; available: 1..%d", p->thr.v[j],
                                p->dev.v[i], mx);
        }
    }
    for (int j = 0; j < p->scen.n; j++) {
        if ((st = hwa_bench_scenario_from_name(p->scen.v[j], &p->scen_v[j]))) return st;
        if (p->scen_v[j] == HWA_SCENARIO_SERVER && !s->find_peak && !(s->cfg.server_rate > 0))
            return hwa__err(NULL, HWA_E_INVALID, "the server scenario needs a rate (--rate Q, queries/s) or --find-peak");
    }
    return HWA_OK;
}

/* The dtypes of one device in the plan for workload a: a model file's own
 * dtype only. */
static int device_dtypes(const plan *p, int a, const char *dev, hwa_dtype *out) {
    int n = 0;
    if (p->wl_idx[a] < 0) {
        out[n++] = p->wl_file_dt[a];
    } else if (p->all_dtypes) {
        for (int t = 0; t < HWA_DTYPE_COUNT; t++)
            if (hwa__bdev_supports_dtype(dev, (hwa_dtype)t)) out[n++] = (hwa_dtype)t;
    } else {
        for (int j = 0; j < p->dt.n; j++) hwa_dtype_from_name(p->dt.v[j], &out[n++]);
    }
    return n;
}

/* ---- running ----------------------------------------------------------- */

/* Measured GFLOP/s per device and dtype, to predict how long a query of the
 * next workload will take when a time budget is set. */
typedef struct rate_entry {
    char dev[ITEM_LEN];
    hwa_dtype t;
    double gflops;
} rate_entry;

typedef struct runner {
    const hwa_bench_sweep *s;
    hwa_bench_report *rep;
    double t_start;
    int rows_done, rows_total;
    rate_entry rates[64];
    int n_rates;
    float *ref;                /* f32 output for the current (workload, device, batch) */
    int64_t ref_n;
    bool have_ref;
} runner;

static double known_rate(const runner *r, const char *dev, hwa_dtype t) {
    for (int i = 0; i < r->n_rates; i++)
        if (!strcmp(r->rates[i].dev, dev) && r->rates[i].t == t) return r->rates[i].gflops;
    return NAN;
}

static void learn_rate(runner *r, const char *dev, hwa_dtype t, double gflops) {
    if (!isfinite(gflops) || !(gflops > 0) || isfinite(known_rate(r, dev, t)) || r->n_rates == 64) return;
    rate_entry *e = &r->rates[r->n_rates++];
    snprintf(e->dev, sizeof e->dev, "%s", dev);
    e->t = t;
    e->gflops = gflops;
}

static void note_add(hwa_bench_row *row, const char *fmt, ...) HWA_PRINTF(2, 3);
static void note_add(hwa_bench_row *row, const char *fmt, ...) {
    size_t len = strlen(row->note);
    if (len && len + 2 < sizeof row->note) {
        strcat(row->note, "; ");
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->note + len, sizeof row->note - len, fmt, ap);
    va_end(ap);
}

static hwa_status run_query_cb(void *ud) { return hwa__workload_run(ud); }

static int64_t peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}

/* The f32 output for the current (workload, device, batch), computed on
 * demand from a fresh f32 build on the same seed. */
static hwa_status ensure_ref(runner *r, int wl, const char *dev, int64_t batch, int threads) {
    if (r->have_ref) return HWA_OK;
    hwa__workload w;
    hwa_status st = hwa__workload_build(wl, dev, HWA_F32, batch, threads, 42, &w);
    if (st) return st;
    r->ref_n = hwa__workload_out_n(&w);
    free(r->ref);
    r->ref = malloc((size_t)r->ref_n * sizeof *r->ref);
    if (!r->ref) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for the f32 reference");
    if (!st) st = hwa__workload_run(&w);
    if (!st) st = hwa__workload_output(&w, r->ref, r->ref_n);
    hwa__workload_free(&w);
    r->have_ref = st == HWA_OK;
    return st;
}

/* The workload as a row names it: a built-in's name, a model file's base name. */
static void workload_label(int wl, const char *file, char *buf, size_t cap) {
    const char *slash = file ? strrchr(file, '/') : NULL;
    snprintf(buf, cap, "%s", wl < 0 ? (slash ? slash + 1 : file) : hwa_bench_workload_name(wl));
}

static hwa_status build(int wl, const char *file, const char *dev, hwa_dtype t, int64_t batch, int threads,
                        hwa__workload *w) {
    return wl < 0 ? hwa__model_build(file, dev, t, batch, threads, 42, w)
                  : hwa__workload_build(wl, dev, t, batch, threads, 42, w);
}

static hwa_status run_row(runner *r, int wl, const char *file, const char *dev, hwa_dtype t, int64_t batch, int threads,
                          hwa_bench_scenario scen) {
    const hwa_bench_sweep *s = r->s;
    hwa_bench_row row;
    memset(&row, 0, sizeof row);
    workload_label(wl, file, row.workload, sizeof row.workload);
    snprintf(row.device, sizeof row.device, "%s", dev);
    snprintf(row.dtype, sizeof row.dtype, "%s", hwa_dtype_name(t));
    snprintf(row.scenario, sizeof row.scenario, "%s", hwa_bench_scenario_name(scen));
    snprintf(row.kernel, sizeof row.kernel, "n/a");
    row.batch = batch;
    row.threads = threads;
    row.r.target_rate = NAN;
    row.samples_per_s = row.gflops = row.gbps = row.pct_of_peak = NAN;
    row.power_w = row.idle_power_w = row.energy_j_per_sample = NAN;
    row.max_abs_error_vs_f32 = row.p99_bound_ms = row.peak_rate_qps = NAN;
    row.peak_rss_bytes = -1;

    int rows_left = r->rows_total - r->rows_done;
    double left = s->time_budget_s > 0 ? s->time_budget_s - (hwa_bench_clock_now() - r->t_start) : INFINITY;
    double share = left / (rows_left > 0 ? rows_left : 1);
    char msg[160];
    snprintf(msg, sizeof msg, "%s on %s, %s, batch %lld, %d thread(s), %s", row.workload, dev, row.dtype,
             (long long)batch, threads, row.scenario);
    if (s->progress) s->progress(s->progress_ud, r->rows_done, r->rows_total, msg);

    hwa__workload w;
    hwa_status st = build(wl, file, dev, t, batch, threads, &w);
    if (st) return st;
    if (w.llama && w.prefill)
        note_add(&row, "model file: a query is a prefill of %lld tokens from position 0", (long long)batch);
    else if (w.llama)
        note_add(&row, "model file: a query is one decode step at the next position (cache reset when full)");
    row.planned_bytes = w.planned_bytes;

    /* Predict one query's time from what this device did in this dtype. A
     * row needs its validation query, one measured query and, when no f32
     * row ran before it, the f32 reference query; it may take up to two
     * shares of what is left (and no more than is left), else it is skipped. */
    double one = w.flops_per_query / (known_rate(r, dev, t) * 1e9);
    double need = 2 * one, ref_time = w.flops_per_query / (known_rate(r, dev, HWA_F32) * 1e9);
    if (t != HWA_F32 && !r->have_ref && isfinite(ref_time)) need += ref_time;
    double allow = 2 * share < left ? 2 * share : left;
    if (s->time_budget_s > 0 && isfinite(need) && need > allow) {
        row.skipped = true;
        note_add(&row, "skipped: one query would take about %.3g s (predicted from the %.3g GFLOP/s measured for %s %s); "
                 "validating and measuring need %.3g s, more than the %.3g s this row may take of the time budget",
                 one, known_rate(r, dev, t), dev, row.dtype, need, allow > 0 ? allow : 0);
        hwa__workload_free(&w);
        r->rows_done++;
        return hwa_bench_report_add(r->rep, &row);
    }

    /* Validate before timing: the first query's output against f32. */
    double t0 = hwa_bench_clock_now();
    int64_t n_out = hwa__workload_out_n(&w);
    float *out = malloc((size_t)n_out * sizeof *out);
    if (!out) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for the output");
    if (!st) st = hwa__workload_run(&w);
    double first = hwa_bench_clock_now() - t0;
    if (!st && w.llama) {
        /* The model's graphs are internal: the provider ran it. A file runs
         * in its own dtype only, so f32 is exact and others have no reference. */
        snprintf(row.kernel, sizeof row.kernel, "%s", dev);
        row.max_abs_error_vs_f32 = t == HWA_F32 ? 0 : NAN;
    } else if (!st) {
        hwa__bdev_kernel(w.be, w.heaviest, row.kernel, sizeof row.kernel);
        st = hwa__workload_output(&w, out, n_out);
    }
    if (!st && !w.llama && t == HWA_F32 && !r->have_ref) {
        free(r->ref);
        r->ref = out;
        r->ref_n = n_out;
        r->have_ref = true;
        out = NULL;
        row.max_abs_error_vs_f32 = 0;
    } else if (!st && !w.llama && !(st = ensure_ref(r, wl, dev, batch, threads))) {
        double e = 0;
        for (int64_t i = 0; i < n_out && i < r->ref_n; i++) {
            double d = fabs((double)out[i] - (double)r->ref[i]);
            if (!(d <= e)) e = d; /* NaN propagates */
        }
        row.max_abs_error_vs_f32 = e;
    }
    free(out);
    if (st) {
        hwa__workload_free(&w);
        return st;
    }

    hwa_bench_config cfg = s->cfg;
    cfg.scenario = scen;
    if (cfg.warmup_queries > 0) cfg.warmup_queries--; /* the validation query warmed up too */
    if (s->time_budget_s > 0) {
        left = s->time_budget_s - (hwa_bench_clock_now() - r->t_start);
        share = left / (rows_left > 0 ? rows_left : 1);
        double cap = share > first ? share : first; /* at least one measured query */
        if (!(cfg.max_time_s > 0) || cap < cfg.max_time_s) cfg.max_time_s = cap;
        if (cfg.warmup_s > 0.25 * cap) cfg.warmup_s = 0.25 * cap;
        if (first > 0.25 * cap) cfg.warmup_queries = 0, cfg.warmup_s = 0;
    }

    hwa__bdev_meter *meter = hwa__bdev_meter_open(s->passport, dev);
    double j0 = NAN, j1 = NAN, tj0 = 0;
    if (meter) {
        /* Idle power: the meter over half a second of sleep before the run. */
        double i0, i1, ts = hwa_bench_clock_now();
        if (!hwa__bdev_meter_joules(meter, &i0)) {
            nanosleep(&(struct timespec){0, 500000000L}, NULL);
            if (!hwa__bdev_meter_joules(meter, &i1)) row.idle_power_w = (i1 - i0) / (hwa_bench_clock_now() - ts);
        }
        if (hwa__bdev_meter_joules(meter, &j0)) j0 = NAN;
        tj0 = hwa_bench_clock_now();
    }

    hwa_bench_system sys = {.ud = &w, .run_query = run_query_cb};
    if (scen == HWA_SCENARIO_SERVER && s->find_peak) {
        hwa_bench_peak pk;
        st = hwa_bench_find_peak(&sys, &cfg, 0, &pk);
        if (!st && pk.found) {
            row.r = pk.at_peak;
            row.peak_rate_qps = pk.peak_rate;
        } else if (!st) {
            row.peak_rate_qps = 0;
            cfg.scenario = HWA_SCENARIO_SINGLE;
            st = hwa_bench_run(&sys, &cfg, &row.r);
            note_add(&row, "no rate met the p99 bound of %.3g ms (single-query p99 %.3g ms); latencies are from a "
                     "single run", cfg.p99_bound_s * 1e3, row.r.latency.p99 * 1e3);
            row.r.target_rate = NAN;
        }
        if (!st) note_add(&row, "peak search: %d server runs", pk.runs);
    } else {
        st = hwa_bench_run(&sys, &cfg, &row.r);
    }
    if (meter && !st && !hwa__bdev_meter_joules(meter, &j1) && isfinite(j0) && isfinite(row.idle_power_w) &&
        row.r.duration_s > 0) {
        /* Average power over the whole run (warm-up and any peak-search
         * probes included: the same steady state) less idle, times the
         * measured duration, shared by the measured samples. */
        row.power_w = (j1 - j0) / (hwa_bench_clock_now() - tj0) - row.idle_power_w;
        row.energy_j_per_sample = row.power_w * row.r.duration_s / ((double)row.r.queries * (double)batch);
    }
    hwa__bdev_meter_close(meter);
    double flops = w.flops_per_query, bytes = w.bytes_per_query;
    hwa__workload_free(&w);
    if (st) return st;

    if (scen == HWA_SCENARIO_SERVER) row.p99_bound_ms = cfg.p99_bound_s * 1e3;
    row.samples_per_s = row.r.queries_per_s * (double)batch;
    double svc = row.r.service.mean;
    row.gflops = svc > 0 ? flops / svc * 1e-9 : NAN;
    row.gbps = svc > 0 ? bytes / svc * 1e-9 : NAN;
    row.pct_of_peak = row.gflops / hwa__bdev_peak_gflops(s->passport, dev, t) * 100;
    row.peak_rss_bytes = peak_rss();
    learn_rate(r, dev, t, row.gflops);
    if (row.pct_of_peak > 100) {
        const char *method = hwa__bdev_peak_method(s->passport, dev);
        if (!strcmp(method, "matmul"))
            note_add(&row, "above the calibrated %s peak of %.4g GFLOP/s (hwadapt's matmul kernels on a 2048^3 "
                     "product): a product whose weights stay in cache runs faster than that one, or the machine was "
                     "busier during calibration (hwadapt probe --recalibrate measures again)", row.dtype,
                     hwa__bdev_peak_gflops(s->passport, dev, t));
        else
            note_add(&row, "above the calibrated %s peak of %.4g GFLOP/s (%s): the calibration did not measure the "
                     "instructions this kernel uses", row.dtype, hwa__bdev_peak_gflops(s->passport, dev, t), method);
    }
    if (row.r.capped)
        note_add(&row, "capped at %lld queries in %.3g s (minimum %lld queries, %.3g s) to fit the time budget",
                 (long long)row.r.queries, row.r.duration_s, (long long)s->cfg.min_queries, s->cfg.min_time_s);
    if (row.r.spread_warning)
        note_add(&row, "spread too wide to trust: CV %.0f%% over %.0f%%", row.r.service.cv * 100, s->cfg.cv_warn * 100);
    r->rows_done++;
    return hwa_bench_report_add(r->rep, &row);
}

hwa_status hwa_bench_sweep_run(const hwa_bench_sweep *s, hwa_bench_report *rep) {
    if (!s || !rep) return hwa__err(NULL, HWA_E_INVALID, "sweep: NULL");
    plan *p = malloc(sizeof *p);
    if (!p) return hwa__err(NULL, HWA_E_NOMEM, "sweep: out of memory");
    hwa_status st = check_plan(s, p);
    runner r = {.s = s, .rep = rep, .t_start = hwa_bench_clock_now()};
    hwa_dtype dts[HWA_DTYPE_COUNT > MAX_ITEMS ? HWA_DTYPE_COUNT : MAX_ITEMS];
    for (int d = 0; !st && d < p->dev.n; d++) {
        int nb = p->batch.n ? p->batch.n : 1, nt = p->thr.n ? p->thr.n : 1;
        for (int a = 0; a < p->wl.n; a++)
            r.rows_total += nb * nt * device_dtypes(p, a, p->dev.v[d], dts) * p->scen.n;
    }
    /* Order: workload, device, batch outermost (one f32 reference each),
     * then threads, precision, scenario. */
    for (int a = 0; !st && a < p->wl.n; a++)
        for (int d = 0; !st && d < p->dev.n; d++) {
            const char *dev = p->dev.v[d];
            int nd = device_dtypes(p, a, dev, dts);
            for (int b = 0; !st && b < (p->batch.n ? p->batch.n : 1); b++) {
                long long batch = p->wl_idx[a] < 0 ? 1 : hwa_bench_workload_default_batch(p->wl_idx[a]);
                if (p->batch.n) parse_int(p->batch.v[b], &batch);
                r.have_ref = false;
                for (int th = 0; !st && th < (p->thr.n ? p->thr.n : 1); th++) {
                    long long threads = hwa__bdev_default_threads(dev);
                    if (p->thr.n) parse_int(p->thr.v[th], &threads);
                    for (int k = 0; !st && k < nd; k++)
                        for (int c = 0; !st && c < p->scen.n; c++)
                            st = run_row(&r, p->wl_idx[a], p->wl.v[a], dev, dts[k], batch, (int)threads, p->scen_v[c]);
                }
            }
        }
    free(r.ref);
    free(p);
    return st;
}
