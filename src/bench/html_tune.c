/* The HTML report's tune results (hwadapt tune --json or -o): the batch
 * curve (throughput, p50 and p99 latency, planned memory against the
 * limit), the learning-rate range test per optimizer with the suggested
 * rate, and the optimizer trials. What a file lacks (an inference tune has
 * no range test) is a one-line note. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "bench/html.h"
#include "bench/svg.h"

enum { CHART_W = 820 };

/* ---- the batch curve --------------------------------------------------- */

/* A point's value of series s where it is > 0, else NAN. */
static double tp_value(const hwa__hr_tpoint *p, const hwa__hr_series *s) {
    double v = hwa__hr_series_value(p, s);
    return isfinite(v) && v > 0 ? v : NAN;
}

/* An x axis of batch sizes: ticks at the measured ones, logarithmic when
 * they span a factor of 8 or more. */
static void batch_axis(hwa__axis *a, const hwa__hr_tune *t, int64_t extra) {
    *a = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = "batch size (samples per step or query)"};
    double lo = INFINITY, hi = 0;
    for (int i = 0; i <= t->n_curve; i++) {
        double x = i < t->n_curve ? (double)t->curve[i].batch : (double)extra;
        if (!(x >= 1)) continue;
        lo = fmin(lo, x), hi = fmax(hi, x);
        bool have = false;
        for (int k = 0; k < a->n_fixed; k++) have |= a->fixed[k] == x;
        if (!have && a->n_fixed < HWA__AXIS_MAX_TICKS) a->fixed[a->n_fixed++] = x;
    }
    a->log = hi / lo >= 8;
    a->lo = a->log ? lo / 1.3 : fmax(0, lo - 0.5);
    a->hi = a->log ? hi * 1.3 : hi + 0.5;
}

/* A vertical line at x across the plot, class "mark line", with a tooltip. */
static void vline(hwa__chart *c, double x, int s, int dash, const char *tip) {
    double px[2] = {hwa__chart_px(c, true, x), px[0]}, py[2] = {c->y0, c->y1};
    px[1] = px[0];
    hwa__chart_line(c, px, py, 2, s, dash, tip);
}

static void chosen_line(hwa__chart *c, const hwa__hr_tune *t) {
    if (t->chosen < 1) return;
    char tip[300];
    hwa__hr_put(tip, sizeof tip, "chosen batch %lld: %s", (long long)t->chosen, t->why);
    vline(c, (double)t->chosen, 6, 1, tip);
}

static void curve_chart(const hwa__hr_tune *t, const char *title, const char *ylabel, hwa__unit u,
                        const hwa__hr_series *ss, int ns, const char *caption, FILE *f) {
    double lo = INFINITY, hi = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < t->n_curve; i++) {
            double v = tp_value(&t->curve[i], &ss[k]);
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
    if (!(hi > 0)) {
        hwa__hr_skip(f, "%s: no point of the batch curve has these values.", title);
        return;
    }
    hwa__chart c;
    batch_axis(&c.x, t, t->chosen);
    hwa__hr_value_axis(&c.y, lo, hi, u, ylabel);
    hwa__chart_layout(&c, f, CHART_W, 240, 16);
    hwa__chart_begin(&c, title);
    chosen_line(&c, t);
    char tip[300], v[32];
    for (int k = 0; k < ns; k++) {
        double px[HWA__AXIS_MAX_TICKS], py[HWA__AXIS_MAX_TICKS], bs[HWA__AXIS_MAX_TICKS], vs[HWA__AXIS_MAX_TICKS];
        int n = 0;
        for (int i = 0; i < t->n_curve; i++) {
            double y = tp_value(&t->curve[i], &ss[k]);
            if (!isfinite(y)) continue;
            bs[n] = (double)t->curve[i].batch, vs[n] = y;
            px[n] = hwa__chart_px(&c, true, bs[n]), py[n++] = hwa__chart_px(&c, false, y);
        }
        if (n > 1) hwa__chart_line(&c, px, py, n, k, k, ss[k].name);
        for (int i = 0; i < n; i++) {
            hwa__svg_fmt(v, sizeof v, vs[i], u);
            hwa__hr_put(tip, sizeof tip, "batch %g: %s %s%s", bs[i], ss[k].name, v,
                        u == HWA__UNIT_SI ? " samples/s" : "");
            hwa__chart_marker(&c, px[i], py[i], k, false, tip);
        }
        hwa__chart_legend(&c, k, true, n > 1 ? k : -1, ss[k].name);
    }
    hwa__chart_legend(&c, 6, false, 1, "chosen batch");
    hwa__chart_end(&c, caption);
}

static void memory_chart(const hwa__hr_tune *t, FILE *f) {
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < t->n_curve; i++)
        if (isfinite(t->curve[i].planned) && t->curve[i].planned > 0)
            lo = fmin(lo, t->curve[i].planned), hi = fmax(hi, t->curve[i].planned);
    const double extra[4] = {(double)t->max_fit_bytes, (double)t->next_bytes, (double)t->measured, (double)t->avail};
    for (int k = 0; k < 4; k++)
        if (extra[k] > 0) lo = fmin(lo, extra[k]), hi = fmax(hi, extra[k]);
    if (!(hi > 0)) {
        hwa__hr_skip(f, "Planned memory per batch: the file has no planned memory.");
        return;
    }
    hwa__chart c;
    batch_axis(&c.x, t, t->next_bytes > 0 ? t->max_fit + 1 : t->max_fit);
    hwa__hr_value_axis(&c.y, lo, hi, HWA__UNIT_SI, "memory (bytes)");
    hwa__chart_layout(&c, f, CHART_W, 240, 22);
    hwa__chart_begin(&c, "Planned memory per batch, against the limit");
    char tip[300], v[24];
    if (t->avail > 0) {
        double px[2] = {c.x0, c.x1}, py[2];
        py[0] = py[1] = hwa__chart_px(&c, false, (double)t->avail);
        hwa__hr_fmt_bytes(v, sizeof v, t->avail);
        hwa__hr_put(tip, sizeof tip, "the limit: %s to fit%s, less the margin", v,
                    t->capped ? " (the device's HWA_MEM_LIMIT cap)" : "");
        hwa__chart_line(&c, px, py, 2, 6, 1, tip);
        hwa__chart_legend(&c, 6, false, 1, "limit");
    }
    double px[HWA__AXIS_MAX_TICKS], py[HWA__AXIS_MAX_TICKS];
    int n = 0;
    for (int i = 0; i < t->n_curve; i++) {
        const hwa__hr_tpoint *p = &t->curve[i];
        if (!(isfinite(p->planned) && p->planned > 0)) continue;
        px[n] = hwa__chart_px(&c, true, (double)p->batch), py[n] = hwa__chart_px(&c, false, p->planned);
        hwa__hr_fmt_bytes(v, sizeof v, (int64_t)p->planned);
        hwa__hr_put(tip, sizeof tip, "batch %lld: %s planned", (long long)p->batch, v);
        hwa__chart_marker(&c, px[n], py[n], 0, false, tip);
        n++;
    }
    if (n > 1) hwa__chart_line(&c, px, py, n, 0, 0, "planned memory of the batch curve");
    if (n) hwa__chart_legend(&c, 0, true, n > 1 ? 0 : -1, "planned");
    if (t->max_fit >= 1 && t->max_fit_bytes > 0) {
        hwa__hr_fmt_bytes(v, sizeof v, t->max_fit_bytes);
        hwa__hr_put(tip, sizeof tip, "batch %lld, the largest that fits: %s planned", (long long)t->max_fit, v);
        hwa__chart_marker(&c, hwa__chart_px(&c, true, (double)t->max_fit),
                          hwa__chart_px(&c, false, (double)t->max_fit_bytes), 1, false, tip);
        hwa__chart_legend(&c, 1, true, -1, "largest that fits");
    }
    if (t->max_fit >= 1 && t->next_bytes > 0) {
        hwa__hr_fmt_bytes(v, sizeof v, t->next_bytes);
        hwa__hr_put(tip, sizeof tip, "batch %lld, the next: %s planned, does not fit", (long long)t->max_fit + 1, v);
        hwa__chart_marker(&c, hwa__chart_px(&c, true, (double)t->max_fit + 1),
                          hwa__chart_px(&c, false, (double)t->next_bytes), 3, true, tip);
        hwa__chart_legend(&c, 3, true, -1, "next batch");
    }
    if (t->confirmed >= 1 && t->measured > 0) {
        char pl[24];
        hwa__hr_fmt_bytes(v, sizeof v, t->measured);
        hwa__hr_fmt_bytes(pl, sizeof pl, t->predicted);
        hwa__hr_put(tip, sizeof tip, "batch %lld confirmed by one run: %s measured (%s) against %s planned",
                    (long long)t->confirmed, v, t->measured_how, pl);
        hwa__chart_marker(&c, hwa__chart_px(&c, true, (double)t->confirmed),
                          hwa__chart_px(&c, false, (double)t->measured), 2, true, tip);
        hwa__chart_legend(&c, 2, true, -1, "measured");
    }
    hwa__chart_end(&c, "The memory planner's dry run of each batch (every graph the run holds and what the kernels "
                       "keep beside it), the largest batch whose plan fits the limit and the next one, and the memory "
                       "one real run of the confirmed batch took.");
}

static void batch_charts(const hwa__hr_tune *t, FILE *f) {
    if (!t->n_curve) {
        hwa__hr_skip(f, "Batch curve: the file has no point (hwadapt tune --measure plans one batch only).");
        return;
    }
    static const hwa__hr_series sps[] = {{"throughput", offsetof(hwa__hr_tpoint, sps), 1}};
    static const hwa__hr_series lat[] = {{"p50", offsetof(hwa__hr_tpoint, p50_ms), 1e-3},
                                         {"p99", offsetof(hwa__hr_tpoint, p99_ms), 1e-3}};
    curve_chart(t, "Throughput per batch size", "throughput (samples/s)", HWA__UNIT_SI, sps, 1,
                "Samples per second at each batch of the curve (powers of two up to the batch confirmed to fit, "
                "medians of three interleaved visits); the dashed line is the batch chosen.",
                f);
    curve_chart(t, "Latency per batch size",
                t->training ? "time per training step (p50, p99)" : "latency per query (p50, p99)", HWA__UNIT_SECONDS,
                lat, 2,
                "The median and 99th percentile of one step (training) or one query of a whole batch (inference).", f);
    memory_chart(t, f);
}

/* ---- the learning rate ------------------------------------------------- */

/* The smoothed loss at the point nearest rate r (NAN when none). */
static double loss_at(const hwa__hr_tlr *l, double r) {
    double best = NAN, d = INFINITY;
    for (int i = 0; i < l->n; i++)
        if (isfinite(l->pts[i][2]) && fabs(log(l->pts[i][0] / r)) < d)
            d = fabs(log(l->pts[i][0] / r)), best = l->pts[i][2];
    return best;
}

static void lr_chart(const hwa__hr_tune *t, FILE *f) {
    if (!t->n_lr) {
        hwa__hr_skip(f, "Learning-rate range test: none in this file (%s).",
                     t->training ? "the file has no lr_range"
                                 : "an inference tune has none; a training target has one");
        return;
    }
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = -INFINITY, smin = INFINITY;
    for (int k = 0; k < t->n_lr; k++)
        for (int i = 0; i < t->lr[k].n; i++) {
            const double *p = t->lr[k].pts[i];
            xlo = fmin(xlo, p[0]), xhi = fmax(xhi, p[0]);
            if (isfinite(p[1])) ylo = fmin(ylo, p[1]);
            if (isfinite(p[2])) ylo = fmin(ylo, p[2]), yhi = fmax(yhi, p[2]), smin = fmin(smin, p[2]);
        }
    /* the test stops once the smoothed loss passes 4x its minimum: the top
     * shows up to there, and a step's loss past it is drawn at the edge */
    if (smin > 0 && yhi > 4.5 * smin) yhi = 4.5 * smin;
    if (!(yhi >= ylo)) {
        hwa__hr_skip(f, "Learning-rate range test: no point has a finite loss.");
        return;
    }
    hwa__chart c;
    c.x = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = "learning rate (log scale)"};
    hwa__svg_axis_fit(&c.x, xlo, xhi, true);
    c.y = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = "training loss (cross-entropy)"};
    hwa__svg_axis_fit(&c.y, ylo, yhi, false);
    hwa__chart_layout(&c, f, CHART_W, 260, 26);
    hwa__chart_begin(&c, "Learning-rate range test: loss per rate, per optimizer");
    char tip[300], lab[64];
    for (int k = 0; k < t->n_lr; k++) {
        const hwa__hr_tlr *l = &t->lr[k];
        double px[512], py[512];
        int n = 0;
        for (int i = 0; i < l->n; i++) {
            const double *p = l->pts[i];
            if (isfinite(p[1])) {
                hwa__hr_put(tip, sizeof tip, "%s, rate %.3g: loss %.4g (smoothed %.4g)%s", l->optimizer, p[0], p[1],
                            p[2], p[1] > c.y.hi ? "; above the chart, drawn at its edge" : "");
                hwa__chart_marker(&c, hwa__chart_px(&c, true, p[0]), hwa__chart_px(&c, false, p[1]), k, true, tip);
            }
            if (isfinite(p[2]) && n < 512)
                px[n] = hwa__chart_px(&c, true, p[0]), py[n++] = hwa__chart_px(&c, false, p[2]);
        }
        hwa__hr_put(lab, sizeof lab, "%s, smoothed", l->optimizer);
        if (n > 1) hwa__chart_line(&c, px, py, n, k, 0, lab);
        hwa__chart_legend(&c, k, true, n > 1 ? 0 : -1, lab);
        if (isfinite(l->suggestion) && l->suggestion > 0) {
            hwa__hr_put(tip, sizeof tip,
                        "%s: suggested rate %.3g (a tenth of the rate at the smoothed minimum, "
                        "%.3g; steepest descent at %.3g)%s",
                        l->optimizer, l->suggestion, l->lr_at_min, l->lr_steepest,
                        l->diverged ? "; the loss diverged" : "");
            vline(&c, l->suggestion, k, 1, tip);
            double y = loss_at(l, l->suggestion);
            if (isfinite(y))
                hwa__chart_marker(&c, hwa__chart_px(&c, true, l->suggestion), hwa__chart_px(&c, false, y), k, false,
                                  tip);
        }
    }
    if (t->has_rec && isfinite(t->rec_lr) && t->rec_lr > 0) {
        hwa__hr_put(tip, sizeof tip, "chosen: %s at %.3g (the optimizer search's winner)", t->rec_optimizer, t->rec_lr);
        vline(&c, t->rec_lr, 6, 3, tip);
        hwa__chart_legend(&c, 6, false, 3, "chosen rate");
    }
    hwa__chart_end(&c, "A fresh model, one training step per rate: each open mark is a step's loss, the line its "
                       "exponential average. The dashed line per optimizer is its suggested rate (a tenth of the "
                       "rate at the smoothed minimum), the dash-dot line the rate finally chosen.");
}

/* ---- the optimizer trials ---------------------------------------------- */

static void trials_chart(const hwa__hr_tune *t, FILE *f) {
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    int n = 0;
    for (int i = 0; i < t->n_trials; i++) {
        const hwa__hr_trial *x = &t->trials[i];
        if (!(isfinite(x->lr) && x->lr > 0 && isfinite(x->val_loss))) continue;
        n++;
        xlo = fmin(xlo, x->lr), xhi = fmax(xhi, x->lr), ylo = fmin(ylo, x->val_loss), yhi = fmax(yhi, x->val_loss);
    }
    if (!n) {
        hwa__hr_skip(f, "Optimizer trials: none has a rate and a validation loss.");
        return;
    }
    hwa__chart c;
    c.x = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = "learning rate (log scale)"};
    hwa__svg_axis_fit(&c.x, xlo / 1.5, xhi * 1.5, true);
    c.y = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = "validation loss (cross-entropy)"};
    hwa__svg_axis_fit(&c.y, ylo, yhi, false);
    if (yhi - ylo < 1e-9) c.y.lo = ylo * 0.9, c.y.hi = yhi * 1.1;
    const char *opts[HWA__HR_MAX_LR + 8];
    int no = 0;
    hwa__chart_layout(&c, f, CHART_W, 240, 16);
    hwa__chart_begin(&c, "Optimizer trials: validation loss per rate");
    char tip[300];
    for (int i = 0; i < t->n_trials; i++) {
        const hwa__hr_trial *x = &t->trials[i];
        if (!(isfinite(x->lr) && x->lr > 0 && isfinite(x->val_loss))) continue;
        int s = hwa__hr_intern(opts, &no, HWA__HR_MAX_LR + 8, x->optimizer);
        hwa__hr_put(tip, sizeof tip, "%s at %.3g, %lld steps (rung %lld): validation loss %.4g, accuracy %.2f %%%s",
                    x->optimizer, x->lr, (long long)x->steps, (long long)x->rung, x->val_loss, x->val_acc * 100,
                    i == t->best ? "; the winner" : "");
        hwa__chart_marker(&c, hwa__chart_px(&c, true, x->lr), hwa__chart_px(&c, false, x->val_loss), s,
                          x->rung < t->rungs - 1, tip);
        if (i == t->best)
            hwa__chart_text(&c, hwa__chart_px(&c, true, x->lr) + 8, hwa__chart_px(&c, false, x->val_loss) + 4, "start",
                            "winner");
    }
    for (int s = 0; s < no; s++) hwa__chart_legend(&c, s, true, -1, opts[s]);
    hwa__chart_end(&c, "Successive halving: each mark is a trial at a constant rate, trained and validated; a "
                       "hollow mark did not reach the last rung. The winner has the lowest validation loss at the "
                       "highest rung.");
}

static void trials_table(const hwa__hr_tune *t, FILE *f) {
    fputs("<table>\n<tr><th>optimizer</th><th>rate</th><th>steps</th><th>rung</th><th>validation loss</th>"
          "<th>validation accuracy</th></tr>\n",
          f);
    for (int i = 0; i < t->n_trials; i++) {
        const hwa__hr_trial *x = &t->trials[i];
        fputs(i == t->best ? "<tr><td><strong>" : "<tr><td>", f);
        hwa__html_printf(f, "%s%s", x->optimizer, i == t->best ? " (winner)" : "");
        fputs(i == t->best ? "</strong>" : "", f);
        char lr[32], loss[32], acc[32];
        hwa__svg_fmt(lr, sizeof lr, x->lr, HWA__UNIT_PLAIN);
        hwa__svg_fmt(loss, sizeof loss, x->val_loss, HWA__UNIT_PLAIN);
        hwa__svg_fmt(acc, sizeof acc, x->val_acc * 100, HWA__UNIT_PERCENT);
        fprintf(f,
                "</td><td class=\"num\">%s</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
                "<td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n",
                lr, (long long)x->steps, (long long)x->rung, loss, acc);
    }
    fputs("</table>\n", f);
}

static void summary(const hwa__hr_tune *t, FILE *f) {
    char buf[300], v[32];
    fputs("<table>\n", f);
    hwa__hr_put(buf, sizeof buf, "%s on %s, %s%s", t->target, t->device, t->training ? "training" : "inference",
                t->synthetic ? " (synthetic data)" : "");
    hwa__hr_kv_row(f, "tuned", buf);
    hwa__hr_kv_row(f, "settings written", t->settings);
    if (t->chosen >= 1) hwa__hr_put(buf, sizeof buf, "%lld: %s", (long long)t->chosen, t->why);
    else hwa__hr_put(buf, sizeof buf, "n/a");
    hwa__hr_kv_row(f, "batch", buf);
    if (t->has_rec) {
        hwa__hr_put(buf, sizeof buf, "%s at %.3g, %lld epochs, %s schedule; %s", t->rec_optimizer, t->rec_lr,
                    (long long)t->rec_epochs, t->rec_schedule, t->why_epochs);
        hwa__hr_kv_row(f, "recommendation", buf);
    }
    hwa__svg_fmt(v, sizeof v, t->seconds, HWA__UNIT_SECONDS);
    hwa__hr_kv_row(f, "the tune took", v);
    fputs("</table>\n", f);
}

void hwa__hr_tune_section(const hwa__hr_tune *t, int idx, FILE *f) {
    fprintf(f, "<h3 id=\"tune%d\">", idx);
    hwa__html_printf(f, "Tune result: %s", t->source);
    fputs("</h3>\n", f);
    summary(t, f);
    batch_charts(t, f);
    lr_chart(t, f);
    if (!t->searched) {
        hwa__hr_skip(f, "Optimizer trials: none in this file (the search runs for fmnist-mlp, which has validation "
                        "data).");
        return;
    }
    trials_chart(t, f);
    trials_table(t, f);
}
