/* Learning-rate schedules: pure functions of the step, so that their whole
 * state is their parameters and the step count (what a checkpoint stores). */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "train/train_internal.h"

static const char *const sched_names[HWA_SCHED_COUNT] = {"constant", "step", "cosine", "onecycle"};

const char *hwa_sched_kind_name(hwa_sched_kind k) { return (unsigned)k < HWA_SCHED_COUNT ? sched_names[k] : "?"; }

hwa_status hwa_sched_kind_from_name(const char *name, hwa_sched_kind *out) {
    const int k = hwa__train_name_index(sched_names, HWA_SCHED_COUNT, name);
    if (k >= 0) {
        if (out) *out = (hwa_sched_kind)k;
        return HWA_OK;
    }
    return hwa__err(NULL, HWA_E_NOTFOUND, "unknown schedule '%s' (constant, step, cosine, onecycle)",
                    name ? name : "(null)");
}

hwa_sched hwa_sched_default(hwa_sched_kind kind, double lr, int64_t total_steps) {
    hwa_sched s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.lr = lr;
    s.total_steps = total_steps;
    s.step_size = total_steps / 3 > 0 ? total_steps / 3 : 1;
    s.gamma = 0.1;
    s.warmup_steps = total_steps / 20;
    s.min_lr = 0.0;
    s.pct_start = 0.3;
    s.div_factor = 25.0;
    s.final_div_factor = 1e4;
    return s;
}

hwa_status hwa_sched_check(const hwa_sched *s) {
    if (!s) return hwa__err(NULL, HWA_E_MISUSE, "schedule: NULL");
    if ((unsigned)s->kind >= HWA_SCHED_COUNT) return hwa__err(NULL, HWA_E_INVALID, "schedule: unknown kind %d", s->kind);
    if (!(s->lr > 0.0) || !isfinite(s->lr))
        return hwa__err(NULL, HWA_E_INVALID, "schedule: learning rate %g must be > 0 and finite", s->lr);
    switch (s->kind) {
    case HWA_SCHED_STEP:
        if (s->step_size < 1) return hwa__err(NULL, HWA_E_INVALID, "schedule step: step size %lld must be >= 1",
                                              (long long)s->step_size);
        if (!(s->gamma > 0.0) || !isfinite(s->gamma))
            return hwa__err(NULL, HWA_E_INVALID, "schedule step: gamma %g must be > 0", s->gamma);
        break;
    case HWA_SCHED_COSINE:
        if (s->total_steps < 1) return hwa__err(NULL, HWA_E_INVALID, "schedule cosine: %lld total steps",
                                                (long long)s->total_steps);
        if (s->warmup_steps < 0 || s->warmup_steps >= s->total_steps)
            return hwa__err(NULL, HWA_E_INVALID, "schedule cosine: warm-up of %lld steps must be in [0, %lld)",
                            (long long)s->warmup_steps, (long long)s->total_steps);
        if (!(s->min_lr >= 0.0) || !(s->min_lr <= s->lr))
            return hwa__err(NULL, HWA_E_INVALID, "schedule cosine: min lr %g must be in [0, lr]", s->min_lr);
        break;
    case HWA_SCHED_ONECYCLE:
        if (s->total_steps < 2) return hwa__err(NULL, HWA_E_INVALID, "schedule onecycle: %lld total steps (at least 2)",
                                                (long long)s->total_steps);
        if (!(s->pct_start > 0.0 && s->pct_start < 1.0))
            return hwa__err(NULL, HWA_E_INVALID, "schedule onecycle: pct_start %g must be in (0, 1)", s->pct_start);
        if (!(s->div_factor > 0.0) || !(s->final_div_factor > 0.0))
            return hwa__err(NULL, HWA_E_INVALID, "schedule onecycle: div factors %g, %g must be > 0", s->div_factor,
                            s->final_div_factor);
        break;
    default:
        break;
    }
    return HWA_OK;
}

static double cos_anneal(double start, double end, double pct) { return end + (start - end) / 2.0 * (1.0 + cos(M_PI * pct)); }

double hwa_sched_lr(const hwa_sched *s, int64_t t) {
    if (!s) return 0.0;
    if (t < 0) t = 0;
    switch (s->kind) {
    case HWA_SCHED_STEP:
        return s->lr * pow(s->gamma, (double)(t / (s->step_size > 0 ? s->step_size : 1)));
    case HWA_SCHED_COSINE: {
        const int64_t w = s->warmup_steps;
        if (t < w) return s->lr * (double)(t + 1) / (double)w;
        const int64_t span = s->total_steps - w;
        const double pct = span > 0 ? (double)(t - w < span ? t - w : span) / (double)span : 1.0;
        return s->min_lr + (s->lr - s->min_lr) * (1.0 + cos(M_PI * pct)) / 2.0;
    }
    case HWA_SCHED_ONECYCLE: {
        /* PyTorch's phase ends: float(pct_start * total) - 1 and total - 1. */
        const double initial = s->lr / s->div_factor, final = initial / s->final_div_factor;
        const double end1 = s->pct_start * (double)s->total_steps - 1.0, end2 = (double)s->total_steps - 1.0;
        const double x = (double)(t < s->total_steps ? t : s->total_steps - 1);
        if (x <= end1) return cos_anneal(initial, s->lr, end1 > 0.0 ? x / end1 : 1.0);
        return cos_anneal(s->lr, final, (x - end1) / (end2 - end1));
    }
    default:
        return s->lr;
    }
}
