/* The learning rate: the range test (one step per rate, the rates growing
 * geometrically, the loss smoothed, stopped when it diverges), and
 * successive halving over optimizer x rate trials. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwadapt/bench.h"
#include "tune/tune_internal.h"

/* The training configuration's optimizer, or the workload's default. */
static hwa_optim_config target_optim(const hwa_tune_target *tg) {
    return tg->train ? tg->train->optim : hwa_optim_config_default(HWA_OPTIM_ADAM);
}

static int64_t target_batch(const hwa_tune_target *tg) {
    int index = 0;
    if (tg->train) return tg->train->batch;
    if (tg->batch > 0) return tg->batch;
    hwa_bench_workload_find(tg->workload, &index);
    return hwa_bench_workload_default_batch(index);
}

/* The suggestion, from the smoothed curve: a tenth of the rate at the
 * smoothed loss's minimum, the rule of docs/tune.md. The steepest descent
 * (Lightning's suggestion) is reported beside it. */
static void suggest(hwa_tune_lr_result *r) {
    int at_min = 0;
    for (int i = 1; i < r->n; i++)
        if (r->smoothed[i] < r->smoothed[at_min]) at_min = i;
    r->lr_at_min = r->lr[at_min];
    /* steepest: the most negative slope over log(lr), the first tenth of the
     * curve skipped (the average has not settled) */
    double most = 0;
    int steep = at_min;
    for (int i = r->n / 10 + 1; i <= at_min; i++) {
        const double slope = (r->smoothed[i] - r->smoothed[i - 1]) / (log(r->lr[i]) - log(r->lr[i - 1]));
        if (slope < most) most = slope, steep = i;
    }
    r->lr_steepest = r->lr[steep];
    r->suggestion = r->lr_at_min / 10.0;
}

hwa_status hwa_tune_lr_range(const hwa_tune_target *tg, const hwa_tune_lr_opts *opts, hwa_tune_lr_result *out) {
    if (!opts || !out) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL argument");
    memset(out, 0, sizeof *out);
    hwa_status st = hwa__tune_check(tg);
    if (st) return st;
    if (!hwa__tune_is_training(tg))
        return hwa__err(NULL, HWA_E_INVALID, "tune: %s is not trained: no learning rate to find", tg->workload);
    const double lo = opts->lr_min > 0 ? opts->lr_min : 1e-6, hi = opts->lr_max > 0 ? opts->lr_max : 10.0;
    const int steps = opts->steps ? opts->steps : 200;
    const double beta = opts->beta > 0 ? opts->beta : 0.98, div = opts->diverge > 0 ? opts->diverge : 4.0;
    if (!(lo < hi) || !isfinite(hi) || steps < 10 || steps > HWA_TUNE_MAX_LR_STEPS || !(beta < 1) || !(div > 1))
        return hwa__err(NULL, HWA_E_INVALID, "tune: range test: rates %g..%g, %d steps (10..%d), smoothing %g, "
                        "divergence factor %g", lo, hi, steps, HWA_TUNE_MAX_LR_STEPS, beta, div);
    const hwa_optim_config oc = target_optim(tg);
    hwa__tune_inst in;
    if ((st = hwa__tune_open(tg, target_batch(tg), &oc, lo, &in))) return st;
    double avg = 0, best = INFINITY;
    for (int i = 0; i < steps; i++) {
        in.lr = lo * pow(hi / lo, (double)i / (double)(steps - 1));
        st = hwa__tune_query(&in);
        out->lr[i] = in.lr;
        out->n = i + 1;
        if (st == HWA_E_RANGE || (st == HWA_OK && !isfinite(in.last_loss))) { /* a non-finite loss */
            out->loss[i] = out->smoothed[i] = NAN;
            out->n = i; /* the curve ends before it */
            out->diverged = true;
            st = HWA_OK;
            break;
        }
        if (st) break;
        out->loss[i] = in.last_loss;
        avg = beta * avg + (1 - beta) * in.last_loss;
        out->smoothed[i] = avg / (1 - pow(beta, i + 1));
        if (out->smoothed[i] < best) best = out->smoothed[i];
        if (i > steps / 10 && out->smoothed[i] > div * best) {
            out->diverged = true;
            break;
        }
    }
    hwa__tune_close(&in);
    if (st) return st;
    if (out->n < 2) return hwa__err(NULL, HWA_E_RANGE, "tune: range test: the loss diverged at the first rates");
    suggest(out);
    return HWA_OK;
}

/* ---- successive halving ------------------------------------------------------- */

typedef struct live {
    hwa__tune_inst in;
    int trial;
} live;

/* A quarter of an epoch of the trainer's training set at its batch: the
 * shortest first rung. */
static int64_t quarter_epoch(const hwa_tune_target *tg) {
    const int64_t per_epoch = (hwa_dataset_n(tg->train->train_set) + tg->train->batch - 1) / tg->train->batch;
    return (per_epoch + 3) / 4;
}

int64_t hwa__tune_first_rung(const hwa_tune_target *tg, int n_trials, int eta, double steps) {
    /* rung 0 trains every trial; each next one extends the 1/eta kept
     * from reach to eta * reach steps */
    double units = 0;
    for (int trials = n_trials, reach = 1; trials >= 1; trials /= eta, reach *= eta) {
        units += (double)trials * (reach == 1 ? 1 : reach - reach / eta);
        if (trials == 1) break;
    }
    const int64_t r = (int64_t)(steps / units), q = quarter_epoch(tg);
    return r > q ? r : q;
}

/* Whether trial a ranks before trial b: the lower validation loss, a
 * diverged trial (NaN) last. */
static bool better(const hwa_tune_trial *a, const hwa_tune_trial *b) {
    if (isnan(a->val_loss) || isnan(b->val_loss)) return !isnan(a->val_loss) && isnan(b->val_loss);
    return a->val_loss < b->val_loss;
}

/* Sorts the live trials best first (insertion: a few of them). */
static void rank(live *lv, int n, const hwa_tune_trial *trials) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && better(&trials[lv[j].trial], &trials[lv[j - 1].trial]); j--) {
            live t = lv[j];
            lv[j] = lv[j - 1];
            lv[j - 1] = t;
        }
}

/* Trains trial k's instance up to `steps` steps in total and validates it.
 * A diverged trial gets a NaN loss and stops. */
static hwa_status advance(live *lv, hwa_tune_trial *tr, int64_t steps, const hwa_dataset *val) {
    hwa_status st = HWA_OK;
    while (tr->steps < steps && st == HWA_OK) {
        st = hwa__tune_query(&lv->in);
        tr->steps++;
    }
    if (st == HWA_E_RANGE) {
        tr->val_loss = tr->val_accuracy = NAN;
        return HWA_OK;
    }
    if (st) return st;
    return hwa_trainer_evaluate_on(lv->in.tr, val, &tr->val_loss, &tr->val_accuracy);
}

hwa_status hwa_tune_search(const hwa_tune_target *tg, const hwa_tune_search_opts *opts, hwa_tune_search_result *out) {
    if (!opts || !out) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL argument");
    memset(out, 0, sizeof *out);
    hwa_status st = hwa__tune_check(tg);
    if (st) return st;
    if (!tg->train || !tg->train->val_set)
        return hwa__err(NULL, HWA_E_INVALID, "tune: the optimizer search needs a trainer with a validation set");
    const hwa_tune_search_opts *o = opts;
    const double spread = o->spread > 0 ? o->spread : 3.0;
    const int eta = o->eta ? o->eta : 3;
    if (o->n_optims < 1 || o->n_optims > 4 || o->n_optims * 3 > HWA_TUNE_MAX_TRIALS || eta < 2 || o->rung_steps < 0 ||
        !(o->budget_s >= 0) || o->budget_steps < 0 || !(spread > 1))
        return hwa__err(NULL, HWA_E_INVALID, "tune: search: %d optimizers (1..4), eta %d (>= 2), spread %g (> 1)",
                        o->n_optims, eta, spread);
    const double rates[3] = {1.0 / spread, 1.0, spread};
    for (int k = 0; k < o->n_optims; k++) {
        if (!(o->suggested[k] > 0) || !isfinite(o->suggested[k]) || (unsigned)o->optims[k] >= HWA_OPTIM_COUNT)
            return hwa__err(NULL, HWA_E_INVALID, "tune: search: optimizer %d's suggested rate %g", k, o->suggested[k]);
        for (int j = 0; j < 3; j++)
            out->trials[out->n++] = (hwa_tune_trial){.optim = o->optims[k], .lr = o->suggested[k] * rates[j],
                                                     .val_loss = NAN, .val_accuracy = NAN};
    }
    int64_t rung_steps = o->rung_steps ? o->rung_steps : quarter_epoch(tg);
    live *lv = calloc((size_t)out->n, sizeof *lv);
    if (!lv) return hwa__err(NULL, HWA_E_NOMEM, "tune: out of memory");
    int n_live = 0;
    const double t0 = hwa_bench_clock_now();
    for (int k = 0; k < out->n && st == HWA_OK; k++) {
        hwa_optim_config oc = hwa_optim_config_default(out->trials[k].optim);
        oc.clip_norm = tg->train->optim.clip_norm;
        lv[n_live].trial = k;
        st = hwa__tune_open(tg, tg->train->batch, &oc, out->trials[k].lr, &lv[n_live].in);
        if (st == HWA_OK) n_live++;
    }
    for (int rung = 0; st == HWA_OK && n_live > 0; rung++) {
        const double r0 = hwa_bench_clock_now();
        int64_t stepped = 0;
        for (int i = 0; i < n_live && st == HWA_OK; i++) {
            hwa_tune_trial *tr = &out->trials[lv[i].trial];
            const int64_t before = tr->steps;
            st = advance(&lv[i], tr, rung_steps, tg->train->val_set);
            stepped += tr->steps - before;
            tr->rung = rung;
        }
        if (st) break;
        out->rungs = rung + 1;
        /* seconds per step, validation included */
        const double per_step = (hwa_bench_clock_now() - r0) / (double)(stepped > 0 ? stepped : 1);
        rank(lv, n_live, out->trials);
        if (n_live == 1) break;
        const int keep = n_live / eta > 0 ? n_live / eta : 1;
        /* the next rung: keep trials from rung_steps to eta times that */
        const double next = per_step * (double)keep * (double)(rung_steps * (eta - 1));
        if (o->budget_s > 0 && hwa_bench_clock_now() - t0 + next > o->budget_s) break;
        int64_t used = 0;
        for (int k = 0; k < out->n; k++) used += out->trials[k].steps;
        if (o->budget_steps > 0 && used + keep * rung_steps * (eta - 1) > o->budget_steps) break;
        for (int i = keep; i < n_live; i++) hwa__tune_close(&lv[i].in);
        n_live = keep;
        rung_steps *= eta;
    }
    out->best = n_live > 0 ? lv[0].trial : 0;
    for (int i = 0; i < n_live; i++) hwa__tune_close(&lv[i].in);
    free(lv);
    out->seconds = hwa_bench_clock_now() - t0;
    if (st == HWA_OK && isnan(out->trials[out->best].val_loss))
        st = hwa__err(NULL, HWA_E_RANGE, "tune: search: every trial diverged");
    return st;
}
