/* Comparing rows with their group's baseline (speed-ups with 95 % intervals
 * from the paired repetitions), and the verdict per workload: a
 * configuration is recommended over f32 only when it is faster beyond the
 * noise, and then the simplest of those tied with the fastest. */
#include <math.h>
#include <string.h>

#include "bench/bench_device.h"
#include "bench/text.h"

static bool measured(const hwa_bench_row *r) { return !r->skipped && r->r.queries > 0 && r->reps > 0; }

/* Same workload (and optimizer), device, batch and scenario: rows measured
 * interleaved. */
static bool same_group(const hwa_bench_row *a, const hwa_bench_row *b) {
    return !strcmp(a->workload, b->workload) && !strcmp(a->optimizer, b->optimizer) && !strcmp(a->device, b->device) &&
           a->batch == b->batch && !strcmp(a->scenario, b->scenario);
}

static bool all_positive(const double *x, int n) {
    for (int k = 0; k < n; k++)
        if (!(x[k] > 0 && isfinite(x[k]))) return false;
    return true;
}

/* a over b, paired by repetition when both have the same reps; otherwise
 * (rows not measured together) their means, with no interval. */
static hwa_bench_ratio compare_rows(const hwa_bench_row *a, const hwa_bench_row *b) {
    hwa_bench_ratio q = {.n = 0, .ratio = NAN, .lo = NAN, .hi = NAN};
    if (a->reps == b->reps && all_positive(a->rep_samples_per_s, a->reps) &&
        all_positive(b->rep_samples_per_s, b->reps) &&
        !hwa_bench_paired_ratio(a->rep_samples_per_s, b->rep_samples_per_s, a->reps, &q))
        return q;
    if (a->samples_per_s > 0 && b->samples_per_s > 0) q.ratio = a->samples_per_s / b->samples_per_s, q.n = 1;
    return q;
}

void hwa_bench_report_compare(hwa_bench_report *rep) {
    char dflt_dev[sizeof rep->rows[0].device] = "";
    int dflt = 1;
    for (int i = 0; i < rep->n_rows; i++) {
        hwa_bench_row *r = &rep->rows[i];
        r->baseline_row = -1;
        r->speedup = r->speedup_lo = r->speedup_hi = NAN;
        if (!measured(r)) continue;
        /* The f32 row at the device's default thread count; in a threads
         * sweep without it, the f32 row whose count is nearest (the first of
         * equals). Asking for the default makes a backend: once a device. */
        if (strcmp(dflt_dev, r->device)) {
            dflt = hwa__bdev_default_threads(r->device);
            snprintf(dflt_dev, sizeof dflt_dev, "%s", r->device);
        }
        int base = -1;
        for (int j = 0; j < rep->n_rows; j++) {
            const hwa_bench_row *b = &rep->rows[j];
            if (!measured(b) || strcmp(b->dtype, "f32") || !same_group(r, b)) continue;
            if (base < 0 || abs(b->threads - dflt) < abs(rep->rows[base].threads - dflt)) base = j;
        }
        if (base < 0) continue;
        hwa_bench_ratio q = compare_rows(r, &rep->rows[base]);
        r->baseline_row = base;
        r->speedup = q.ratio;
        r->speedup_lo = q.lo;
        r->speedup_hi = q.hi;
    }
}

const char *hwa_bench_verdict_name(hwa_bench_verdict v) {
    static const char *const names[HWA_BENCH_VERDICT_COUNT] = {"recommended", "tied", "no-baseline"};
    return (unsigned)v < HWA_BENCH_VERDICT_COUNT ? names[v] : "?";
}

/* f32 < bf16 < f16 < the rest, then fewer threads: what is simpler to run
 * wins a tie (bf16 keeps f32's range, f16 needs care with it). */
static int dtype_rank(const char *dtype) {
    static const char *const order[] = {"f32", "bf16", "f16"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(dtype, order[i])) return i;
    return 3;
}

static bool simpler(const hwa_bench_row *a, const hwa_bench_row *b) {
    int ra = dtype_rank(a->dtype), rb = dtype_rank(b->dtype);
    return ra < rb || (ra == rb && a->threads < b->threads);
}

static void to_upper(const char *s, char *out, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) out[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    out[i] = 0;
}

/* The hwadapt command that runs row's configuration, and the library calls
 * that set it up. fmnist-mlp-train is what `hwadapt train` runs; Adam is
 * both commands' default optimizer, so only another is named. */
static void how_to_run(const hwa_bench_row *r, hwa_bench_recommendation *rec) {
    const char *dt = r->dtype;
    char upper[8], opt_upper[12], threads[32] = "", set_threads[64] = "";
    to_upper(dt, upper, sizeof upper);
    to_upper(r->optimizer, opt_upper, sizeof opt_upper);
    const bool other_optim = r->optimizer[0] && strcmp(r->optimizer, "adam");
    /* A device without a thread setting gets no --threads. */
    if (!r->no_threads) {
        snprintf(threads, sizeof threads, " --threads %d", r->threads);
        snprintf(set_threads, sizeof set_threads, " hwa_backend_set_threads(be, %d);", r->threads);
    }
    if (!strcmp(r->workload, "fmnist-mlp-train"))
        snprintf(rec->command, sizeof rec->command, "hwadapt train --model fmnist-mlp --device %s --dtype %s%s --batch %lld",
                 r->device, dt, threads, (long long)r->batch);
    else
        snprintf(rec->command, sizeof rec->command, "hwadapt bench %s --device %s --dtype %s%s --batch %lld",
                 r->workload, r->device, dt, threads, (long long)r->batch);
    if (other_optim) hwa__bench_catf(rec->command, sizeof rec->command, " ", "--optimizer %s", r->optimizer);
    if (r->place_devices[0]) hwa__bench_catf(rec->command, sizeof rec->command, " ", "--devices %s", r->place_devices);
    if (strcmp(r->scenario, "single"))
        hwa__bench_catf(rec->command, sizeof rec->command, " ", "--scenario %s", r->scenario);
    if (!strcmp(r->scenario, "server") && isfinite(r->peak_rate_qps))
        hwa__bench_catf(rec->command, sizeof rec->command, " ", "--find-peak --p99-ms %g", r->p99_bound_ms);
    else if (!strcmp(r->scenario, "server"))
        hwa__bench_catf(rec->command, sizeof rec->command, " ", "--rate %g --p99-ms %g", r->r.target_rate,
                        r->p99_bound_ms);
    if (!strcmp(r->workload, "fmnist-mlp-train")) {
        snprintf(rec->c_call, sizeof rec->c_call,
                 "hwa_train_config c = hwa_train_config_default(); c.device = \"%s\"; c.dtype = HWA_%s;", r->device,
                 upper);
        if (!r->no_threads) hwa__bench_catf(rec->c_call, sizeof rec->c_call, " ", "c.threads = %d;", r->threads);
        if (other_optim)
            hwa__bench_catf(rec->c_call, sizeof rec->c_call, " ", "c.optim = hwa_optim_config_default(HWA_OPTIM_%s);",
                            opt_upper);
        hwa__bench_catf(rec->c_call, sizeof rec->c_call, " ",
                        "c.batch = %lld; hwa_trainer_new(&c, &tr); hwa_trainer_run(tr, NULL)", (long long)r->batch);
    } else if (r->placement[0]) {
        snprintf(rec->c_call, sizeof rec->c_call,
                 "data on hwa_backend_new(ctx, \"cpu\") as HWA_%s; per device: a backend, hwa_place_device_describe(p, be, "
                 "&d); hwa_placement_new(g, bes, devs, n, NULL, &pl); hwa_placement_compute(pl)", upper);
    } else if (r->optimizer[0]) {
        snprintf(rec->c_call, sizeof rec->c_call, "be = hwa_backend_new(ctx, \"%s\");%s inputs as HWA_%s, f32 parameters",
                 r->device, set_threads, upper);
        if (strcmp(dt, "f32")) hwa__bench_catf(rec->c_call, sizeof rec->c_call, " ", "through hwa_cast(ctx, p, HWA_%s)", upper);
        hwa__bench_catf(rec->c_call, sizeof rec->c_call, "; ",
                        "oc = hwa_optim_config_default(HWA_OPTIM_%s); hwa_optim_new(g, be, &oc, &opt)", opt_upper);
    } else {
        snprintf(rec->c_call, sizeof rec->c_call,
                 "be = hwa_backend_new(ctx, \"%s\");%s inputs and weights as hwa_tensor_new(ctx, HWA_%s, ndim, shape)",
                 r->device, set_threads, upper);
    }
}

/* "bf16, 2 threads" on a device with threads, "bf16 on opencl:0" on one
 * without: enough to tell a workload's rows apart in a sentence. */
static void label(const hwa_bench_row *r, char *buf, size_t cap) {
    if (r->no_threads) snprintf(buf, cap, "%s on %s", r->dtype, r->device);
    else snprintf(buf, cap, "%s, %d thread%s", r->dtype, r->threads, r->threads == 1 ? "" : "s");
}

/* The label and, where it does not say it, the device: "bf16, 2 threads on
 * cpu", "bf16 on opencl:0". */
static void label_on(const hwa_bench_row *r, char *buf, size_t cap) {
    label(r, buf, cap);
    if (!r->no_threads) hwa__bench_catf(buf, cap, " ", "on %s", r->device);
}

static void interval_text(char *buf, size_t cap, double x, double lo, double hi) {
    if (isfinite(lo)) snprintf(buf, cap, "%.2fx [%.2f, %.2f]", x, lo, hi);
    else snprintf(buf, cap, "%.2fx (no interval: one repetition)", x);
}

/* The rows whose spread was too wide to trust, and those over tolerance. */
static void caveats(const hwa_bench_report *rep, const char *workload, double tolerance, hwa_bench_recommendation *rec) {
    char l[64];
    const char *sep = "; too noisy to trust (service-time CV over the warning level): ";
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_row *r = &rep->rows[i];
        if (!measured(r) || strcmp(r->workload, workload) || !r->r.spread_warning) continue;
        label(r, l, sizeof l);
        hwa__bench_catf(rec->text, sizeof rec->text, sep, "%s (CV %.0f%%)", l, r->r.service.cv * 100);
        sep = ", ";
    }
    sep = "; over the tolerance: ";
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_row *r = &rep->rows[i];
        if (!measured(r) || strcmp(r->workload, workload) || r->max_abs_error_vs_f32 <= tolerance) continue;
        label(r, l, sizeof l);
        hwa__bench_catf(rec->text, sizeof rec->text, sep, "%s (max abs error vs f32 %.3g)", l, r->max_abs_error_vs_f32);
        sep = ", ";
    }
}

hwa_status hwa_bench_recommend(hwa_bench_report *rep, const char *workload, double tolerance) {
    if (!rep || !workload) return hwa__err(NULL, HWA_E_INVALID, "recommend: NULL");
    if (rep->n_recs >= HWA_BENCH_MAX_RECS) return hwa__err(NULL, HWA_E_RANGE, "report: too many recommendations");
    hwa_bench_report_compare(rep);
    const hwa_bench_row *rows = rep->rows;
    int fast = -1;
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_row *r = &rows[i];
        if (!measured(r) || strcmp(r->workload, workload) || !(r->max_abs_error_vs_f32 <= tolerance)) continue;
        if (fast < 0 || r->samples_per_s > rows[fast].samples_per_s) fast = i;
    }
    if (fast < 0)
        return hwa__err(NULL, HWA_E_NOTFOUND, "no measured %s row with an error vs f32 within %g", workload, tolerance);
    const hwa_bench_row *f = &rows[fast];
    hwa_bench_recommendation *rec = &rep->recs[rep->n_recs++];
    memset(rec, 0, sizeof *rec);
    snprintf(rec->workload, sizeof rec->workload, "%s", workload);
    rec->fastest_row = fast;
    rec->baseline_row = f->baseline_row;
    rec->tolerance = tolerance;
    rec->reps = f->reps;
    char l[64], iv[64];

    if (f->baseline_row < 0) {
        rec->verdict = HWA_BENCH_NO_BASELINE;
        rec->row = fast;
        rec->speedup = rec->lo = rec->hi = NAN;
        label_on(f, l, sizeof l);
        snprintf(rec->text, sizeof rec->text,
                 "%s: %s, batch %lld: the fastest within tolerance (%.4g samples/s), untested: no f32 row was "
                 "measured to compare it with", workload, l, (long long)f->batch, f->samples_per_s);
    } else if (f->speedup_lo > 1) {
        /* Faster than the baseline beyond the noise. Among the rows that are
         * too, the ones whose interval against f includes 1 are as fast as
         * far as this measurement can tell: the simplest of those wins. */
        int win = fast;
        for (int i = 0; i < rep->n_rows; i++) {
            const hwa_bench_row *c = &rows[i];
            if (i == fast || !measured(c) || !same_group(c, f) || !(c->max_abs_error_vs_f32 <= tolerance) ||
                !(c->speedup_lo > 1) || c->baseline_row != f->baseline_row)
                continue;
            hwa_bench_ratio q = compare_rows(c, f);
            if (q.lo <= 1 && 1 <= q.hi && simpler(c, &rows[win])) win = i;
        }
        const hwa_bench_row *w = &rows[win];
        rec->verdict = HWA_BENCH_RECOMMENDED;
        rec->row = win;
        rec->speedup = w->speedup;
        rec->lo = w->speedup_lo;
        rec->hi = w->speedup_hi;
        label_on(w, l, sizeof l);
        interval_text(iv, sizeof iv, w->speedup, w->speedup_lo, w->speedup_hi);
        snprintf(rec->text, sizeof rec->text,
                 "%s: %s, batch %lld: %s the f32 baseline's samples/s (95%% interval over %d paired "
                 "repetitions), max abs error vs f32 %.3g (tolerance %g)",
                 workload, l, (long long)w->batch, iv, w->reps, w->max_abs_error_vs_f32, tolerance);
        if (win != fast) {
            label(f, l, sizeof l);
            hwa__bench_catf(rec->text, sizeof rec->text, "; ", "the faster-looking %s (%.2fx) is tied with it within "
                            "the noise, and it is the simpler", l, f->speedup);
        }
    } else {
        const hwa_bench_row *b = &rows[f->baseline_row];
        rec->verdict = HWA_BENCH_TIED;
        rec->row = f->baseline_row;
        rec->speedup = f->speedup;
        rec->lo = f->speedup_lo;
        rec->hi = f->speedup_hi;
        label_on(b, l, sizeof l);
        snprintf(rec->text, sizeof rec->text, "%s: %s, batch %lld, the f32 baseline: ", workload, l,
                 (long long)b->batch);
        if (fast == f->baseline_row) {
            hwa__bench_catf(rec->text, sizeof rec->text, NULL, "nothing within tolerance is faster");
        } else {
            label(f, l, sizeof l);
            interval_text(iv, sizeof iv, f->speedup, f->speedup_lo, f->speedup_hi);
            hwa__bench_catf(rec->text, sizeof rec->text, NULL,
                            "tied within the noise: the fastest within tolerance, %s, is %s the baseline over %d "
                            "paired repetitions, not above 1 beyond the noise", l, iv, f->reps);
        }
    }
    how_to_run(&rows[rec->row], rec);
    caveats(rep, workload, tolerance, rec);
    return HWA_OK;
}
