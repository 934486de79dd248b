/* The batch size: the largest that fits the device's memory by the plan,
 * confirmed by one real run (backing off when an allocation fails), the
 * throughput or latency curve up to it, and the choice. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hwadapt/bench.h"
#include "hwadapt/sched.h"
#include "tune/tune_internal.h"

/* The memory the device offers: its HWA_MEM_LIMIT cap, else the passport's
 * figure (the host's available memory for the CPU). */
static hwa_status device_memory(const char *spec, int64_t *bytes, bool *capped) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    if (!ctx) return HWA_E_NOMEM;
    hwa_backend *be = hwa_backend_new(ctx, spec);
    hwa_status st = be ? HWA_OK : hwa_ctx_last_status(ctx);
    if (st) {
        hwa__err(NULL, st, "tune: device %s: %s", spec, hwa_ctx_last_error(ctx));
        hwa_ctx_free(ctx);
        return st;
    }
    hwa_passport *pp = hwa_passport_probe(&(hwa_probe_opts){.calibrate = HWA_CALIBRATE_NONE});
    hwa_place_device d;
    st = hwa_place_device_describe(pp, be, &d);
    if (st == HWA_OK && d.mem_bytes <= 0)
        st = hwa__err(NULL, HWA_E_UNSUPPORTED, "tune: the memory of %s is unknown; give the bytes to fit", spec);
    if (st == HWA_OK) {
        *bytes = d.mem_bytes;
        *capped = d.mem_capped;
    }
    hwa_passport_free(pp);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return st;
}

/* A search: the target, and the memory the kernels keep beside the plan
 * (see hwa_tune_batch_result.workspace_bytes): base + per_sample * batch. */
typedef struct search {
    const hwa_tune_target *tg;
    bool cpu;
    double ws_base, ws_per_sample;
} search;

static int64_t workspace(const search *s, int64_t batch) {
    return (int64_t)llround(s->ws_base + s->ws_per_sample * (double)batch);
}

/* What a batch must fit: the process's total on the CPU (everything lives
 * in host memory; building may peak above running), the device's part
 * elsewhere; with the kernels' workspace. */
static hwa_status planned(const search *s, int64_t batch, int64_t *bytes) {
    int64_t run, transient, device;
    hwa_status st = hwa__tune_plan(s->tg, batch, &run, &transient, &device);
    if (st) return st;
    const int64_t ws = workspace(s, batch);
    if (!s->cpu) *bytes = device + ws;
    else *bytes = run + ws > transient ? run + ws : transient;
    return HWA_OK;
}

/* What a run at batch b held beyond its plan while it ran. */
static hwa_status beyond_plan(const search *s, int64_t b, double *ws) {
    int64_t run, transient, device, measured, dev_peak;
    hwa_status st = hwa__tune_plan(s->tg, b, &run, &transient, &device);
    if (st == HWA_OK) st = hwa_tune_measure(s->tg, b, &measured, &dev_peak);
    if (st) return st;
    if (!s->cpu) *ws = dev_peak > device ? (double)(dev_peak - device) : 0.0;
    else *ws = measured > run && measured > transient ? (double)(measured - run) : 0.0;
    return HWA_OK;
}

/* The workspace from runs at two small batches (8, past the
 * matrix-vector kernels' 4 rows, and 512), a line through them: a part
 * that does not depend on the batch (weights reordered into a library's
 * layout) and one that grows with it (a library's scratch). */
static hwa_status calibrate(search *s, int64_t cap, hwa_tune_batch_result *r) {
    const int64_t b0 = cap < 8 ? cap : 8, b1 = cap < 512 ? cap : 512;
    double w0, w1 = 0;
    hwa_status st = beyond_plan(s, b0, &w0);
    int64_t b1_used = b1;
    if (st == HWA_OK && b1 > b0 && (st = beyond_plan(s, b1, &w1)) == HWA_E_NOMEM) {
        st = HWA_OK; /* a device too small for the second point: one point, no slope */
        b1_used = b0;
    }
    if (st) return st;
    s->ws_per_sample = b1_used > b0 && w1 > w0 ? (w1 - w0) / (double)(b1_used - b0) : 0.0;
    s->ws_base = w0 - s->ws_per_sample * (double)b0;
    if (s->ws_base < 0) s->ws_base = 0;
    r->calib_batch = b0;
    r->calib_batch2 = b1_used;
    r->workspace_base_bytes = (int64_t)llround(s->ws_base);
    r->workspace_per_sample = s->ws_per_sample;
    return HWA_OK;
}

/* The largest batch a search considers: the target's own limit (the
 * training set), at most 8192 for training (a larger batch leaves
 * Fashion-MNIST fewer than 8 steps an epoch) and 65536 for inference. */
static int64_t search_cap(const hwa_tune_target *tg) {
    const int64_t cap = hwa__tune_batch_cap(tg), dflt = hwa__tune_is_training(tg) ? 8192 : 65536;
    return cap < dflt ? cap : dflt;
}

/* The largest batch in [1, cap] whose plan is at most avail (0 when none):
 * doubling, then bisection; plans are monotone in the batch. */
static hwa_status largest_fit(const search *sr, int64_t cap, int64_t avail, int64_t *out) {
    int64_t bytes;
    hwa_status st = planned(sr, 1, &bytes);
    if (st) return st;
    if (bytes > avail) {
        *out = 0;
        return HWA_OK;
    }
    int64_t lo = 1, hi = 0; /* lo fits; hi (when > 0) does not */
    while (!hi && lo < cap) {
        const int64_t b = lo * 2 <= cap ? lo * 2 : cap;
        if ((st = planned(sr, b, &bytes))) return st;
        if (bytes <= avail) lo = b;
        else hi = b;
    }
    while (hi && hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if ((st = planned(sr, mid, &bytes))) return st;
        if (bytes <= avail) lo = mid;
        else hi = mid;
    }
    *out = lo;
    return HWA_OK;
}

/* Each point of the curve is measured in CURVE_VISITS short visits,
 * interleaved with the other points' (up, down, up), and keeps the
 * medians: a machine whose load drifts during the curve then shifts every
 * point alike instead of bending it. */
#define CURVE_VISITS 3

typedef struct visit_out {
    double sps, p50_ms, p99_ms;
} visit_out;

/* One visit at batch b: build, one warm-up query (first-touch of the
 * buffers, kernel selection; its seconds in *first), then queries back to
 * back for about visit_s seconds. */
static hwa_status visit(const hwa_tune_target *tg, int64_t b, double visit_s, visit_out *v, double *first) {
    hwa__tune_inst in;
    hwa_status st = hwa__tune_open(tg, b, NULL, 0.0, &in);
    const double t0 = hwa_bench_clock_now();
    if (st == HWA_OK) st = hwa__tune_query(&in);
    *first = hwa_bench_clock_now() - t0;
    if (st == HWA_OK) {
        hwa_bench_config c = hwa_bench_config_default();
        c.warmup_s = 0;
        c.warmup_queries = 0;
        c.min_time_s = visit_s;
        c.min_queries = 2;
        c.max_time_s = 4 * visit_s;
        hwa_bench_result r;
        st = hwa_bench_run(&(hwa_bench_system){.ud = &in, .run_query = (hwa_status(*)(void *))hwa__tune_query}, &c,
                           &r);
        if (st == HWA_OK) *v = (visit_out){(double)b * r.queries_per_s, 1e3 * r.latency.p50, 1e3 * r.latency.p99};
    }
    hwa__tune_close(&in);
    return st;
}

static double median3(double a, double b, double c) {
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

static void keep_medians(hwa_tune_point *p, const visit_out v[CURVE_VISITS]) {
    p->samples_per_s = median3(v[0].sps, v[1].sps, v[2].sps);
    p->p50_ms = median3(v[0].p50_ms, v[1].p50_ms, v[2].p50_ms);
    p->p99_ms = median3(v[0].p99_ms, v[1].p99_ms, v[2].p99_ms);
}

static double point_seconds(const hwa_tune_batch_opts *o) { return o->point_s > 0 ? o->point_s : 0.3; }

/* Appends the point at batch b, its visits one after the other. *too_slow
 * (and nothing appended) when its first query took over 4 * point_s. */
static hwa_status add_point(const search *sr, const hwa_tune_batch_opts *o, hwa_tune_batch_result *r,
                            int64_t b, bool *too_slow) {
    *too_slow = r->n_points == HWA_TUNE_MAX_POINTS;
    if (*too_slow) return HWA_OK;
    hwa_tune_point *p = &r->points[r->n_points];
    *p = (hwa_tune_point){.batch = b};
    const double ps = point_seconds(o);
    visit_out v[CURVE_VISITS];
    hwa_status st = planned(sr, b, &p->predicted_bytes);
    for (int k = 0; k < CURVE_VISITS && st == HWA_OK && !*too_slow; k++) {
        double first;
        st = visit(sr->tg, b, ps / CURVE_VISITS, &v[k], &first);
        *too_slow = first > 4 * ps;
    }
    if (st == HWA_OK && !*too_slow) {
        keep_medians(p, v);
        r->n_points++;
    }
    return st;
}

/* The curve over powers of two from the first batch up to max_fit: a first
 * visit upwards (which ends where a query takes over 4 * point_s, or, with
 * a bound, at the first batch that misses it), then the other visits down
 * and up again. */
static hwa_status measure_curve(const search *sr, const hwa_tune_batch_opts *o, int64_t first_batch,
                                hwa_tune_batch_result *r) {
    const double ps = point_seconds(o), t0 = hwa_bench_clock_now();
    visit_out v[HWA_TUNE_MAX_POINTS][CURVE_VISITS];
    int n = 0;
    hwa_status st = HWA_OK;
    for (int64_t b = first_batch; b <= r->max_fit && n < HWA_TUNE_MAX_POINTS && st == HWA_OK; b *= 2) {
        /* the visits so far and the next point's (about twice the last's)
         * will be made CURVE_VISITS times in all */
        const double spent = hwa_bench_clock_now() - t0;
        if (o->curve_budget_s > 0 && n >= 2 && spent * 2 * CURVE_VISITS > o->curve_budget_s) {
            r->curve_cut = true;
            break;
        }
        double first;
        if ((st = visit(sr->tg, b, ps / CURVE_VISITS, &v[n][0], &first))) break;
        if (first > 4 * ps) break;
        r->points[n] = (hwa_tune_point){.batch = b};
        if ((st = planned(sr, b, &r->points[n].predicted_bytes))) break;
        n++;
        if (o->p99_ms > 0 && v[n - 1][0].p99_ms > o->p99_ms) break;
    }
    for (int k = 1; k < CURVE_VISITS && st == HWA_OK; k++)
        for (int i = 0; i < n && st == HWA_OK; i++) {
            const int at = k % 2 ? n - 1 - i : i;
            double first;
            st = visit(sr->tg, r->points[at].batch, ps / CURVE_VISITS, &v[at][k], &first);
        }
    if (st) return st;
    for (int i = 0; i < n; i++) keep_medians(&r->points[i], v[i]);
    r->n_points = n;
    return HWA_OK;
}

/* Confirms max_fit by a real run, halving the batch after each allocation
 * failure. */
static hwa_status confirm(const search *sr, hwa_tune_batch_result *r) {
    const hwa_tune_target *tg = sr->tg;
    int64_t b = r->max_fit;
    while (b > 0) {
        int64_t pred;
        hwa_status st = planned(sr, b, &pred);
        if (st) return st;
        int64_t measured, dev;
        st = hwa_tune_measure(tg, b, &measured, &dev);
        if (st == HWA_OK) {
            r->confirmed_batch = b;
            r->predicted_bytes = pred;
            r->workspace_bytes = workspace(sr, b);
            r->measured_bytes = measured;
            r->device_peak_bytes = dev;
            r->measured_how = hwa__tune_on_cpu(tg) ? "peak RSS growth" : "allocator peak";
            if (r->n_backoffs) { /* the last batch that failed is the next step up */
                r->max_fit_bytes = pred;
                if ((st = planned(sr, r->backoffs[r->n_backoffs - 1].batch, &r->next_bytes))) return st;
            }
            r->max_fit = b;
            return HWA_OK;
        }
        if (st != HWA_E_NOMEM || r->n_backoffs == HWA_TUNE_MAX_BACKOFFS) return st;
        hwa_tune_backoff *k = &r->backoffs[r->n_backoffs++];
        k->batch = b;
        snprintf(k->why, sizeof k->why, "%s", hwa_last_error());
        b /= 2;
    }
    return hwa__err(NULL, HWA_E_NOMEM, "tune: no batch could be allocated on %s (the last try: %s)",
                    hwa__tune_device(tg), r->n_backoffs ? r->backoffs[r->n_backoffs - 1].why : "none");
}

hwa_status hwa_tune_memory_check_run(const hwa_tune_target *tg, int64_t batch, hwa_tune_memory_check *out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL argument");
    memset(out, 0, sizeof *out);
    out->measured_bytes = out->device_peak_bytes = -1;
    hwa_status st = hwa__tune_check(tg);
    if (st) return st;
    if (batch < 1 || batch > hwa__tune_batch_cap(tg))
        return hwa__err(NULL, HWA_E_INVALID, "tune: batch %lld (1 to %lld)", (long long)batch,
                        (long long)hwa__tune_batch_cap(tg));
    search sr = {.tg = tg, .cpu = hwa__tune_on_cpu(tg)};
    hwa_tune_batch_result r;
    memset(&r, 0, sizeof r);
    if ((st = calibrate(&sr, search_cap(tg), &r)) || (st = planned(&sr, batch, &out->predicted_bytes))) return st;
    out->workspace_bytes = workspace(&sr, batch);
    out->calib_batch = r.calib_batch;
    out->calib_batch2 = r.calib_batch2;
    out->measured_how = sr.cpu ? "peak RSS growth" : "allocator peak";
    return hwa_tune_measure(tg, batch, &out->measured_bytes, &out->device_peak_bytes);
}

static void choose(const hwa_tune_target *tg, const hwa_tune_batch_opts *o, hwa_tune_batch_result *r) {
    r->batch = r->max_fit;
    snprintf(r->why, sizeof r->why, "the largest batch that fits (no curve measured)");
    if (!r->n_points) return;
    const bool bound = o->p99_ms > 0 && !hwa__tune_is_training(tg);
    double best = 0;
    int64_t best_b = 0, bound_b = 0;
    for (int i = 0; i < r->n_points; i++) {
        const hwa_tune_point *p = &r->points[i];
        if (p->samples_per_s > best) best = p->samples_per_s, best_b = p->batch;
        if (bound && p->p99_ms <= o->p99_ms && p->batch > bound_b) bound_b = p->batch;
    }
    if (bound) {
        r->batch = bound_b;
        if (bound_b) snprintf(r->why, sizeof r->why, "the largest batch whose p99 latency stays under %g ms", o->p99_ms);
        else snprintf(r->why, sizeof r->why, "even batch %lld misses the p99 bound of %g ms",
                      (long long)r->points[0].batch, o->p99_ms);
        return;
    }
    if (!hwa__tune_is_training(tg)) {
        r->batch = best_b;
        snprintf(r->why, sizeof r->why, "the best measured throughput");
        return;
    }
    for (int i = 0; i < r->n_points; i++)
        if (r->points[i].samples_per_s >= 0.8 * best) {
            r->batch = r->points[i].batch;
            snprintf(r->why, sizeof r->why,
                     "the smallest batch within 80%% of the best measured throughput (%.0f samples/s at %lld)", best,
                     (long long)best_b);
            return;
        }
}

/* Inference with a bound: after the doubling, bisect between the last
 * batch that met it and the first that did not. */
static hwa_status refine_bound(const search *sr, const hwa_tune_batch_opts *o, hwa_tune_batch_result *r) {
    int64_t good = 0, bad = 0;
    for (int i = 0; i < r->n_points; i++) {
        const hwa_tune_point *p = &r->points[i];
        if (p->p99_ms <= o->p99_ms) good = p->batch > good ? p->batch : good;
        else if (!bad || p->batch < bad) bad = p->batch;
    }
    while (good && bad && bad - good > 1 && (bad - good) * 16 > good) { /* to within 1/16 */
        const int64_t mid = good + (bad - good) / 2;
        bool stop;
        hwa_status st = add_point(sr, o, r, mid, &stop);
        if (st) return st;
        if (stop) break;
        if (r->points[r->n_points - 1].p99_ms <= o->p99_ms) good = mid;
        else bad = mid;
    }
    /* the bisection's points in their place */
    for (int i = 1; i < r->n_points; i++)
        for (int j = i; j > 0 && r->points[j].batch < r->points[j - 1].batch; j--) {
            const hwa_tune_point t = r->points[j];
            r->points[j] = r->points[j - 1];
            r->points[j - 1] = t;
        }
    return HWA_OK;
}

hwa_status hwa_tune_batch(const hwa_tune_target *tg, const hwa_tune_batch_opts *opts, hwa_tune_batch_result *out) {
    if (!opts || !out) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL argument");
    memset(out, 0, sizeof *out);
    out->measured_bytes = out->device_peak_bytes = out->next_bytes = -1;
    out->measured_how = "";
    hwa_status st = hwa__tune_check(tg);
    if (st) return st;
    const hwa_tune_batch_opts *o = opts;
    if (o->mem_bytes < 0 || !(o->margin >= 0 && o->margin <= 0.9) || o->max_batch < 0 || o->min_batch < 0 ||
        !(o->point_s >= 0) || !(o->p99_ms >= 0) || !isfinite(o->p99_ms) || !(o->curve_budget_s >= 0))
        return hwa__err(NULL, HWA_E_INVALID, "tune: a negative or out-of-range batch option");
    if (o->p99_ms > 0 && hwa__tune_is_training(tg))
        return hwa__err(NULL, HWA_E_INVALID, "tune: a p99 latency bound is for inference, not training");
    int64_t mem = o->mem_bytes;
    if (!mem && (st = device_memory(hwa__tune_device(tg), &mem, &out->capped))) return st;
    out->avail_bytes = (int64_t)((double)mem * (1.0 - (o->margin > 0 ? o->margin : 0.10)));
    int64_t cap = search_cap(tg);
    if (o->max_batch && o->max_batch < cap) cap = o->max_batch;
    search sr0 = {.tg = tg, .cpu = hwa__tune_on_cpu(tg)}, *sr = &sr0;
    if ((st = calibrate(sr, cap, out))) return st;
    if ((st = largest_fit(sr, cap, out->avail_bytes, &out->max_fit))) return st;
    if (!out->max_fit) {
        int64_t one = 0;
        planned(sr, 1, &one);
        return hwa__err(NULL, HWA_E_NOMEM, "tune: not even batch 1 fits %s: its plan holds %.1f MiB, %.1f MiB are "
                        "available after the margin", hwa__tune_device(tg), (double)one / 1048576.0,
                        (double)out->avail_bytes / 1048576.0);
    }
    planned(sr, out->max_fit, &out->max_fit_bytes);
    if (out->max_fit < cap && (st = planned(sr, out->max_fit + 1, &out->next_bytes))) return st;
    if (o->confirm && (st = confirm(sr, out))) return st;
    if (o->curve) {
        const int64_t b = o->min_batch ? o->min_batch : hwa__tune_is_training(tg) ? 8 : 1;
        if ((st = measure_curve(sr, o, b, out))) return st;
        if (o->p99_ms > 0 && (st = refine_bound(sr, o, out))) return st;
    }
    choose(tg, o, out);
    return HWA_OK;
}
