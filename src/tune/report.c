/* The tune report as JSON: the settings that hwadapt train (or bench)
 * takes with --config, and the measurements behind them (docs/tune.md). */
#include <math.h>
#include <stdio.h>

#include "core/file.h"
#include "core/json_write.h"
#include "tune/tune_internal.h"

/* A JSON writer that puts the commas: members after jw_open() are separated. */
typedef struct jw {
    FILE *f;
    bool first;
} jw;

/* Writes text (which ends with '{' or '[') and starts a new object or array. */
static void jw_open(jw *w, const char *text) {
    fputs(text, w->f);
    w->first = true;
}

static void jw_close(jw *w, const char *text) {
    fputs(text, w->f);
    w->first = false;
}

/* The next member on a line of its own, indented. */
static void jw_line(jw *w, const char *indent) {
    fprintf(w->f, ",\n%s", indent);
    w->first = true;
}

/* ", " unless first, then "key": (NULL: an array element). */
static void key(jw *w, const char *k) {
    if (!w->first) fputs(", ", w->f);
    w->first = false;
    if (k) fprintf(w->f, "\"%s\": ", k);
}

static void num(jw *w, const char *k, double v) {
    key(w, k);
    hwa__json_write_num(w->f, v);
}

static void i64(jw *w, const char *k, int64_t v) {
    key(w, k);
    fprintf(w->f, "%lld", (long long)v);
}

static void str(jw *w, const char *k, const char *v) {
    key(w, k);
    hwa__json_write_cstr(w->f, v);
}

static void boolean(jw *w, const char *k, bool v) {
    key(w, k);
    fputs(v ? "true" : "false", w->f);
}

/* A rate to full precision, so that --config reads back the same double. */
static void rate(jw *w, const char *k, double v) {
    key(w, k);
    fprintf(w->f, "%.17g", v);
}

static void settings(jw *w, const hwa_tune_report *r) {
    if (r->training && !r->synthetic) {
        key(w, "train");
        jw_open(w, "{");
        str(w, "device", r->device);
        i64(w, "batch", r->batch.batch);
        i64(w, "epochs", r->epochs);
        str(w, "optimizer", hwa_optim_kind_name(r->optim));
        rate(w, "lr", r->lr_value);
        str(w, "schedule", hwa_sched_kind_name(r->schedule));
        jw_close(w, "}");
        return;
    }
    char name[80];
    snprintf(name, sizeof name, "bench %s", r->target);
    key(w, NULL);
    hwa__json_write_cstr(w->f, name);
    jw_open(w, ": {");
    str(w, "device", r->device);
    i64(w, "batch", r->batch.batch);
    jw_close(w, "}");
}

static void memory(jw *w, const hwa_tune_batch_result *b) {
    key(w, "memory");
    jw_open(w, "{");
    i64(w, "avail_bytes", b->avail_bytes);
    boolean(w, "capped", b->capped);
    i64(w, "workspace_bytes", b->workspace_bytes);
    i64(w, "workspace_base_bytes", b->workspace_base_bytes);
    num(w, "workspace_per_sample", b->workspace_per_sample);
    key(w, "calib_batches");
    fprintf(w->f, "[%lld, %lld]", (long long)b->calib_batch, (long long)b->calib_batch2);
    i64(w, "max_fit", b->max_fit);
    i64(w, "max_fit_bytes", b->max_fit_bytes);
    i64(w, "next_bytes", b->next_bytes);
    i64(w, "confirmed_batch", b->confirmed_batch);
    i64(w, "predicted_bytes", b->predicted_bytes);
    i64(w, "measured_bytes", b->measured_bytes);
    i64(w, "device_peak_bytes", b->device_peak_bytes);
    str(w, "measured_how", b->measured_how);
    key(w, "backoffs");
    jw_open(w, "[");
    for (int i = 0; i < b->n_backoffs; i++) {
        key(w, NULL);
        jw_open(w, "{");
        i64(w, "batch", b->backoffs[i].batch);
        str(w, "why", b->backoffs[i].why);
        jw_close(w, "}");
    }
    jw_close(w, "]}");
}

static void batch(jw *w, const hwa_tune_batch_result *b) {
    key(w, "batch");
    jw_open(w, "{");
    i64(w, "chosen", b->batch);
    str(w, "why", b->why);
    boolean(w, "curve_cut", b->curve_cut);
    key(w, "curve");
    jw_open(w, "[");
    for (int i = 0; i < b->n_points; i++) {
        const hwa_tune_point *p = &b->points[i];
        key(w, NULL);
        jw_open(w, "\n      {");
        i64(w, "batch", p->batch);
        i64(w, "predicted_bytes", p->predicted_bytes);
        num(w, "samples_per_s", p->samples_per_s);
        num(w, "p50_ms", p->p50_ms);
        num(w, "p99_ms", p->p99_ms);
        jw_close(w, "}");
    }
    jw_close(w, "]}");
}

static void lr_range(jw *w, const hwa_tune_report *r) {
    key(w, "lr_range");
    jw_open(w, "[");
    for (int k = 0; k < r->n_lr; k++) {
        const hwa_tune_lr_result *l = r->lr[k];
        key(w, NULL);
        jw_open(w, "\n      {");
        str(w, "optimizer", hwa_optim_kind_name(r->lr_optim[k]));
        num(w, "suggestion", l->suggestion);
        num(w, "lr_at_min", l->lr_at_min);
        num(w, "lr_steepest", l->lr_steepest);
        boolean(w, "diverged", l->diverged);
        key(w, "curve");
        jw_open(w, "[");
        for (int i = 0; i < l->n; i++) {
            key(w, NULL);
            jw_open(w, "[");
            num(w, NULL, l->lr[i]);
            num(w, NULL, l->loss[i]);
            num(w, NULL, l->smoothed[i]);
            jw_close(w, "]");
        }
        jw_close(w, "]}");
    }
    jw_close(w, "]");
}

static void search(jw *w, const hwa_tune_search_result *s) {
    key(w, "search");
    jw_open(w, "{");
    i64(w, "rungs", s->rungs);
    num(w, "seconds", s->seconds);
    i64(w, "best", s->best);
    key(w, "trials");
    jw_open(w, "[");
    for (int i = 0; i < s->n; i++) {
        const hwa_tune_trial *t = &s->trials[i];
        key(w, NULL);
        jw_open(w, "\n      {");
        str(w, "optimizer", hwa_optim_kind_name(t->optim));
        num(w, "lr", t->lr);
        i64(w, "steps", t->steps);
        i64(w, "rung", t->rung);
        num(w, "val_loss", t->val_loss);
        num(w, "val_accuracy", t->val_accuracy);
        jw_close(w, "}");
    }
    jw_close(w, "]}");
}

hwa_status hwa_tune_report_write(const hwa_tune_report *r, FILE *f) {
    if (!r || !f) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL report or file");
    jw w = {.f = f};
    jw_open(&w, "{\n  ");
    str(&w, "hwadapt", "tune");
    i64(&w, "version", 1);
    jw_line(&w, "  ");
    settings(&w, r);
    jw_line(&w, "  ");
    key(&w, "tune");
    jw_open(&w, "{\n    ");
    str(&w, "target", r->target);
    str(&w, "device", r->device);
    boolean(&w, "training", r->training);
    boolean(&w, "synthetic", r->synthetic);
    num(&w, "seconds", r->seconds);
    jw_line(&w, "    ");
    memory(&w, &r->batch);
    jw_line(&w, "    ");
    batch(&w, &r->batch);
    if (r->n_lr) {
        jw_line(&w, "    ");
        lr_range(&w, r);
    }
    if (r->searched) {
        jw_line(&w, "    ");
        search(&w, &r->search);
    }
    if (r->training && !r->synthetic) {
        jw_line(&w, "    ");
        key(&w, "recommendation");
        jw_open(&w, "{");
        str(&w, "optimizer", hwa_optim_kind_name(r->optim));
        num(&w, "lr", r->lr_value);
        i64(&w, "epochs", r->epochs);
        str(&w, "schedule", hwa_sched_kind_name(r->schedule));
        num(&w, "default_run_s", r->default_run_s);
        num(&w, "tuned_run_s", r->tuned_run_s);
        str(&w, "why_epochs", r->why_epochs);
        jw_close(&w, "}");
    }
    fputs("\n  }\n}\n", f);
    return ferror(f) ? hwa__err(NULL, HWA_E_IO, "tune: writing the report failed") : HWA_OK;
}

static hwa_status write_fn(void *ud, void *file) { return hwa_tune_report_write(ud, file); }

hwa_status hwa_tune_report_save(const hwa_tune_report *r, const char *path) {
    if (!r || !path) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL report or path");
    return hwa__atomic_write(path, write_fn, (void *)r);
}
