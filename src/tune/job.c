/* hwadapt tune's job: the batch, the range tests, the search, and the
 * recommendation that hwadapt train --config takes. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwadapt/bench.h"
#include "tune/tune_internal.h"

static void say(const hwa_tune_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const hwa_tune_job *j, const char *fmt, ...) {
    if (!j->progress) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->progress(j->progress_ud, msg);
}

void hwa_tune_report_free(hwa_tune_report *r) {
    if (!r) return;
    for (int k = 0; k < 4; k++) free(r->lr[k]);
    free(r);
}

/* The measured throughput at batch b, NAN when the curve lacks it. */
static double sps_at(const hwa_tune_batch_result *b, int64_t batch) {
    for (int i = 0; i < b->n_points; i++)
        if (b->points[i].batch == batch) return b->points[i].samples_per_s;
    return NAN;
}

/* Training steps of one range test: a quarter of the budget over the
 * optimizers, 50 to 300 of them. */
static int range_steps(const hwa_tune_job *j, int n_optims, double step_s) {
    double steps = 200;
    if (j->budget_steps > 0) steps = 0.25 * (double)j->budget_steps / n_optims;
    else if (j->budget_s > 0 && step_s > 0) steps = 0.25 * j->budget_s / n_optims / step_s;
    return steps < 50 ? 50 : steps > 300 ? 300 : (int)steps;
}

/* Epochs for the tuned batch that fit in the default recipe's time, from
 * the measured throughputs; an evaluation of the test set after each
 * epoch is counted at three times the best training rate (a forward pass
 * is about a third of a training step). */
static void fit_epochs(const hwa_tune_job *j, hwa_tune_report *r, int64_t batch) {
    const hwa_train_config *c = j->target.train;
    const int64_t db = j->default_batch ? j->default_batch : 64, de = j->default_epochs ? j->default_epochs : 10;
    const double n = (double)(hwa_dataset_n(c->train_set) + (c->val_set ? hwa_dataset_n(c->val_set) : 0));
    const double n_test = (double)hwa_dataset_n(c->test_set);
    double best = 0;
    for (int i = 0; i < r->batch.n_points; i++)
        if (r->batch.points[i].samples_per_s > best) best = r->batch.points[i].samples_per_s;
    const double s_def = sps_at(&r->batch, db), s_tuned = sps_at(&r->batch, batch);
    r->epochs = de;
    r->default_run_s = r->tuned_run_s = NAN;
    if (!(s_def > 0) || !(s_tuned > 0) || !(best > 0)) {
        snprintf(r->why_epochs, sizeof r->why_epochs,
                 "the default %lld epochs: the throughput at batch %lld or %lld was not measured", (long long)de,
                 (long long)db, (long long)batch);
    } else {
        const double eval_s = n_test / (3 * best);
        r->default_run_s = (double)de * (n / s_def + eval_s);
        const double epoch_s = n / s_tuned + eval_s;
        int64_t e = (int64_t)floor(r->default_run_s / epoch_s);
        e = e < 1 ? 1 : e > 100 ? 100 : e;
        if (batch == db) e = de;
        r->epochs = e;
        r->tuned_run_s = (double)e * epoch_s;
        snprintf(r->why_epochs, sizeof r->why_epochs,
                 "as many epochs as fit in the default recipe's time (%lld epochs at batch %lld: about %.0f s here)",
                 (long long)de, (long long)db, r->default_run_s);
    }
    /* the run's length is known: a cosine decay over it, after a 5 % warm-up */
    r->schedule = HWA_SCHED_COSINE;
}

static hwa_status tune_training(const hwa_tune_job *j, hwa_tune_report *r, double t0) {
    const hwa_tune_target *tg = &j->target;
    const int64_t B = r->batch.batch;
    hwa_train_config cfg;
    hwa_tune_target at = *tg;
    if (tg->train) {
        cfg = *tg->train;
        cfg.batch = B;
        at.train = &cfg;
    } else {
        at.batch = B; /* a workload's range test at the batch the search chose, not its default */
    }
    static const hwa_optim_kind defaults[3] = {HWA_OPTIM_MOMENTUM, HWA_OPTIM_ADAM, HWA_OPTIM_ADAMW};
    int n = j->n_optims ? j->n_optims : 3;
    const hwa_optim_kind *kinds = j->n_optims ? j->optims : defaults;
    if (!tg->train) n = 1; /* a workload: its own optimizer */
    const double sps = sps_at(&r->batch, B);
    const int steps = range_steps(j, n, sps > 0 ? (double)B / sps : 0);
    hwa_status st = HWA_OK;
    for (int k = 0; k < n && st == HWA_OK; k++) {
        r->lr_optim[k] = tg->train ? kinds[k] : HWA_OPTIM_ADAM;
        if (tg->train) cfg.optim = hwa_optim_config_default(kinds[k]);
        r->lr[k] = malloc(sizeof *r->lr[k]);
        if (!r->lr[k]) return hwa__err(NULL, HWA_E_NOMEM, "tune: out of memory");
        r->n_lr = k + 1;
        say(j, "learning rate: range test of %s at batch %lld, %d steps", hwa_optim_kind_name(r->lr_optim[k]),
            (long long)B, steps);
        st = hwa_tune_lr_range(&at, &(hwa_tune_lr_opts){.steps = steps}, r->lr[k]);
    }
    if (st) return st;
    r->optim = r->lr_optim[0];
    r->lr_value = r->lr[0]->suggestion;
    if (!tg->train) return HWA_OK;
    hwa_tune_search_opts so = {.n_optims = n};
    for (int k = 0; k < n; k++) {
        so.optims[k] = kinds[k];
        so.suggested[k] = r->lr[k]->suggestion;
    }
    if (j->budget_s > 0) {
        so.budget_s = j->budget_s - (hwa_bench_clock_now() - t0);
        if (so.budget_s < 1) so.budget_s = 1;
    } else {
        int64_t used = 0;
        for (int k = 0; k < r->n_lr; k++) used += r->lr[k]->n;
        so.budget_steps = j->budget_steps - used > 1 ? j->budget_steps - used : 1;
    }
    /* the first rung's length: the budget left spread over every rung */
    so.eta = 3;
    const double left_steps = j->budget_s > 0 && sps > 0 ? 0.9 * so.budget_s * sps / (double)B
                                                         : (double)so.budget_steps;
    so.rung_steps = hwa__tune_first_rung(&at, 3 * n, so.eta, left_steps);
    say(j, "optimizer and rate: successive halving over %d trials, %lld steps at the first rung", 3 * n,
        (long long)so.rung_steps);
    if ((st = hwa_tune_search(&at, &so, &r->search))) return st;
    r->searched = true;
    const hwa_tune_trial *w = &r->search.trials[r->search.best];
    r->optim = w->optim;
    r->lr_value = w->lr;
    fit_epochs(j, r, B);
    return HWA_OK;
}

hwa_status hwa_tune_run(const hwa_tune_job *j, hwa_tune_report **out) {
    if (!j || !out) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL argument");
    *out = NULL;
    hwa_status st = hwa__tune_check(&j->target);
    if (st) return st;
    if (!(j->budget_s > 0) && !(j->budget_steps > 0))
        return hwa__err(NULL, HWA_E_INVALID, "tune: the budget must be > 0 seconds or steps");
    if (!isfinite(j->budget_s) || j->budget_s < 0 || j->budget_steps < 0 || j->n_optims < 0 || j->n_optims > 4 ||
        j->default_batch < 0 || j->default_epochs < 0)
        return hwa__err(NULL, HWA_E_INVALID, "tune: a negative budget, default or optimizer count");
    const bool training = hwa__tune_is_training(&j->target);
    if (training && j->target.train && !j->target.train->val_set)
        return hwa__err(NULL, HWA_E_INVALID, "tune: training needs a validation set to compare the trials on");
    hwa_tune_report *r = calloc(1, sizeof *r);
    if (!r) return hwa__err(NULL, HWA_E_NOMEM, "tune: out of memory");
    const double t0 = hwa_bench_clock_now();
    snprintf(r->target, sizeof r->target, "%s", j->target.train ? "fmnist-mlp" : j->target.workload);
    snprintf(r->device, sizeof r->device, "%s", hwa__tune_device(&j->target));
    r->training = training;
    r->synthetic = !j->target.train;
    r->default_run_s = r->tuned_run_s = NAN;
    hwa_tune_batch_opts bo = j->batch;
    if (training && !bo.min_batch) bo.min_batch = 8;
    if (j->budget_s > 0 && !bo.point_s) {
        /* about 15 % of the budget for the curve */
        bo.point_s = 0.15 * j->budget_s / 12;
        bo.point_s = bo.point_s < 0.1 ? 0.1 : bo.point_s > 1.0 ? 1.0 : bo.point_s;
        if (!bo.curve_budget_s) bo.curve_budget_s = 0.15 * j->budget_s;
    }
    say(j, "batch: planning %s on %s", r->target, r->device);
    st = hwa_tune_batch(&j->target, &bo, &r->batch);
    if (st == HWA_OK && !r->batch.batch)
        st = hwa__err(NULL, HWA_E_RANGE, "tune: %s", r->batch.why);
    if (st == HWA_OK && training) st = tune_training(j, r, t0);
    r->seconds = hwa_bench_clock_now() - t0;
    if (st) {
        hwa_tune_report_free(r);
        return st;
    }
    *out = r;
    return HWA_OK;
}
