/* The HTML report's placement plans (hwadapt plan --json): the choice and
 * its reason, the estimated time per device and per placement weighed,
 * memory per device against what it may use, and where each node runs
 * and why; for a measured plan (--measure), predicted against measured
 * time per placement. Only the plan's own figures are drawn. */
#include <math.h>
#include <string.h>

#include "bench/html.h"
#include "bench/svg.h"

enum { CHART_W = 820 };

static void fmt_s(char *buf, size_t cap, double s) { hwa__svg_fmt(buf, cap, s, HWA__UNIT_SECONDS); }

/* A horizontal bar from the axis's start to v in band i: filled in style
 * s, or hollow and dashed (a candidate that does not fit). */
static void bar(hwa__chart *c, int i, double v, int s, bool hollow, const char *tip) {
    double bh, cy = hwa__chart_band(c, i, &bh), h = fmin(bh * 0.6, 20);
    double x0 = c->x0, x1 = hwa__chart_px(c, true, v);
    fprintf(c->f, "<g class=\"mark bar\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" ", x0, cy - h / 2,
            fmax(x1 - x0, 1), h);
    if (hollow) fprintf(c->f, "fill=\"#fff\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>", hwa__svg_colour(s));
    else fprintf(c->f, "fill=\"%s\" fill-opacity=\"0.8\"/>", hwa__svg_colour(s));
    fputs("<title>", c->f);
    hwa__html_puts(c->f, tip);
    fputs("</title></g>\n", c->f);
}

/* The range of the finite values > 0 among v[0..n) (stride doubles apart). */
static bool range_of(const double *v, int n, size_t stride, double *lo, double *hi) {
    *lo = INFINITY, *hi = 0;
    for (int i = 0; i < n; i++) {
        double x = *(const double *)((const char *)v + (size_t)i * stride);
        if (isfinite(x) && x > 0) *lo = fmin(*lo, x), *hi = fmax(*hi, x);
    }
    return *hi > 0;
}

/* ---- one placement ----------------------------------------------------- */

static void device_times(const hwa__hr_plan *p, FILE *f) {
    const char *labels[HWA__HR_MAX_DEVS];
    double lo, hi;
    if (!p->n_devs || !range_of(&p->devs[0].est_s, p->n_devs, sizeof p->devs[0], &lo, &hi)) {
        hwa__hr_skip(f, "Estimated time per device: the plan has no device with a known estimate (hwadapt plan "
                        "without --no-calibrate estimates from the passport's calibration).");
        return;
    }
    for (int d = 0; d < p->n_devs; d++) labels[d] = p->devs[d].id;
    hwa__chart c;
    c.x = (hwa__axis){.unit = HWA__UNIT_SECONDS, .label = "estimated compute time per run of the graph"};
    hwa__svg_axis_fit(&c.x, 0, hi, false);
    c.y = (hwa__axis){.cats = labels, .n_cats = p->n_devs, .label = "device"};
    hwa__chart_layout(&c, f, CHART_W, 30.0 * p->n_devs + 10, 0);
    hwa__chart_begin(&c, "Estimated time per run, per device");
    char tip[400], v[32];
    int unknown = 0;
    for (int d = 0; d < p->n_devs; d++) {
        const hwa__hr_pdev *dv = &p->devs[d];
        if (!isfinite(dv->est_s)) {
            unknown++;
            continue;
        }
        fmt_s(v, sizeof v, dv->est_s);
        hwa__hr_put(tip, sizeof tip, "%s (%s)\n%d node(s), estimated %s per run%s", dv->id, dv->name, dv->nodes, v,
                    dv->excluded ? "; excluded after it failed" : "");
        bar(&c, d, dv->est_s, 0, false, tip);
    }
    char cap[300];
    hwa__hr_put(cap, sizeof cap,
                "The time the plan estimates each device computes its nodes in one run (roofline or "
                "measured node times; devices run one after another, so the run's estimate adds them and the "
                "copies).%s",
                unknown ? " A device without a known estimate has no bar." : "");
    hwa__chart_end(&c, cap);
}

static void alternatives(const hwa__hr_plan *p, FILE *f) {
    enum { MAX_ALT = 48 };
    const char *labels[MAX_ALT];
    char bufs[MAX_ALT][120];
    int n = p->n_alts < MAX_ALT ? p->n_alts : MAX_ALT;
    double lo, hi;
    if (!n || !range_of(&p->alts[0].est_s, n, sizeof p->alts[0], &lo, &hi)) {
        hwa__hr_skip(f, "Placements weighed: no alternative with a known estimate in the plan.");
        return;
    }
    for (int k = 0; k < n; k++) {
        const hwa__hr_palt *a = &p->alts[k];
        hwa__hr_put(bufs[k], sizeof bufs[k], "%s%s", a->placement,
                    a->chosen  ? " (chosen)"
                    : !a->fits ? " (does not fit)"
                               : "");
        labels[k] = bufs[k];
    }
    hwa__chart c;
    c.x = (hwa__axis){.unit = HWA__UNIT_SECONDS, .label = "estimated time per run (compute and copies)"};
    hwa__svg_axis_fit(&c.x, 0, hi, false);
    c.y = (hwa__axis){.cats = labels, .n_cats = n, .label = "placement"};
    hwa__chart_layout(&c, f, CHART_W, 26.0 * n + 10, 0);
    hwa__chart_begin(&c, "Estimated time per run, per placement weighed");
    char tip[500], v[32];
    for (int k = 0; k < n; k++) {
        const hwa__hr_palt *a = &p->alts[k];
        if (!isfinite(a->est_s)) continue;
        fmt_s(v, sizeof v, a->est_s);
        hwa__hr_put(tip, sizeof tip, "%s: %s per run, %s\n%s", a->placement, v, a->fits ? "fits" : "does not fit",
                    a->why);
        bar(&c, k, a->est_s, a->chosen ? 0 : 1, !a->fits, tip);
    }
    char cap[300] = "Every candidate the planner weighed; the chosen one is the lowest estimate that fits every "
                    "device's memory. A dashed outline does not fit. Hover for why each lost.";
    if (p->n_alts > n) hwa__hr_cat(cap, sizeof cap, " (%d more not drawn)", p->n_alts - n);
    hwa__chart_end(&c, cap);
}

static void memory_chart(const hwa__hr_plan *p, FILE *f) {
    const char *labels[HWA__HR_MAX_DEVS];
    double lo = INFINITY, hi = 0;
    for (int d = 0; d < p->n_devs; d++) {
        const hwa__hr_pdev *dv = &p->devs[d];
        labels[d] = dv->id;
        int64_t v[3] = {dv->need, dv->avail, dv->mem};
        for (int k = 0; k < 3; k++)
            if (v[k] > 0) lo = fmin(lo, (double)v[k]), hi = fmax(hi, (double)v[k]);
    }
    if (!(hi > 0)) {
        hwa__hr_skip(f, "Memory per device: the plan gives no device's memory.");
        return;
    }
    hwa__chart c;
    hwa__hr_value_axis(&c.x, lo, hi, HWA__UNIT_SI, "memory (bytes)");
    c.y = (hwa__axis){.cats = labels, .n_cats = p->n_devs, .label = "device"};
    hwa__chart_layout(&c, f, CHART_W, 30.0 * p->n_devs + 10, 14);
    hwa__chart_begin(&c, "Memory per device: needed against what it may use");
    char tip[500], a[24], b[24], g[24], s[24], l[24], t[24];
    for (int d = 0; d < p->n_devs; d++) {
        const hwa__hr_pdev *dv = &p->devs[d];
        double bh, cy = hwa__chart_band(&c, d, &bh);
        hwa__hr_fmt_bytes(a, sizeof a, dv->need);
        hwa__hr_fmt_bytes(b, sizeof b, dv->arena);
        hwa__hr_fmt_bytes(g, sizeof g, dv->grads);
        hwa__hr_fmt_bytes(s, sizeof s, dv->shadow);
        hwa__hr_fmt_bytes(l, sizeof l, dv->leaves);
        if (dv->need > 0 && dv->avail > 0) {
            double px[2] = {hwa__chart_px(&c, true, (double)dv->need), hwa__chart_px(&c, true, (double)dv->avail)};
            double py[2] = {cy, cy};
            hwa__hr_put(tip, sizeof tip, "%s: needs %.1f %% of what it may use", dv->id,
                        100.0 * (double)dv->need / (double)dv->avail);
            hwa__chart_line(&c, px, py, 2, 3, 2, tip);
        }
        if (dv->need > 0) {
            hwa__hr_put(tip, sizeof tip,
                        "%s needs %s: arena %s, gradients %s, copies of tensors from elsewhere %s, "
                        "leaves %s",
                        dv->id, a, b, g, s, l);
            hwa__chart_marker(&c, hwa__chart_px(&c, true, (double)dv->need), cy, 0, false, tip);
        }
        hwa__hr_fmt_bytes(t, sizeof t, dv->avail);
        if (dv->avail > 0) {
            hwa__hr_put(tip, sizeof tip, "%s may use %s (its memory less the margin and what it already holds)", dv->id,
                        t);
            hwa__chart_marker(&c, hwa__chart_px(&c, true, (double)dv->avail), cy, 1, true, tip);
        }
        hwa__hr_fmt_bytes(t, sizeof t, dv->mem);
        if (dv->mem > 0) {
            hwa__hr_put(tip, sizeof tip, "%s has %s%s", dv->id, t, dv->mem_capped ? " (capped by HWA_MEM_LIMIT)" : "");
            hwa__chart_marker(&c, hwa__chart_px(&c, true, (double)dv->mem), cy, 2, true, tip);
        }
    }
    hwa__chart_legend(&c, 0, true, -1, "needs");
    hwa__chart_legend(&c, 1, true, -1, "may use");
    hwa__chart_legend(&c, 2, true, -1, "has");
    hwa__chart_end(&c, "Per device, the memory the plan needs there (the memory planner's arena for its nodes, the "
                       "gradients it writes, copies of tensors it reads from elsewhere, leaves not yet allocated) "
                       "against what it may use and what it has. A device with no node needs nothing and has no "
                       "filled mark; unknown figures are not drawn.");
}

static void device_table(const hwa__hr_plan *p, FILE *f) {
    fputs("<table>\n<tr><th>device</th><th>name</th><th>nodes</th><th>estimate per run</th><th>needs</th>"
          "<th>may use</th><th>has</th></tr>\n",
          f);
    for (int d = 0; d < p->n_devs; d++) {
        const hwa__hr_pdev *dv = &p->devs[d];
        char e[32], need[24], av[24], mem[24];
        fmt_s(e, sizeof e, dv->est_s);
        hwa__hr_fmt_bytes(need, sizeof need, dv->need);
        hwa__hr_fmt_bytes(av, sizeof av, dv->avail);
        hwa__hr_fmt_bytes(mem, sizeof mem, dv->mem);
        fputs("<tr><td><code>", f);
        hwa__html_puts(f, dv->id);
        fputs("</code></td><td>", f);
        hwa__html_printf(f, "%s%s", dv->name, dv->excluded ? " (excluded after it failed)" : "");
        fprintf(f, "</td><td class=\"num\">%d</td><td class=\"num\">", dv->nodes);
        const char *cells[4] = {e, need, av, mem};
        for (int k = 0; k < 4; k++) {
            fputs(k ? "</td><td class=\"num\">" : "", f);
            hwa__html_puts(f, cells[k]);
        }
        fputs(dv->mem_capped ? " (capped)</td></tr>\n" : "</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void node_table(const hwa__hr_plan *p, FILE *f) {
    if (!p->n_nodes) {
        hwa__hr_skip(f, "Nodes: the plan lists none.");
        return;
    }
    fputs("<table>\n<tr><th>#</th><th>op</th><th>name</th><th>dtype</th><th>shape</th><th>device</th>"
          "<th>estimate</th><th>reason</th><th>why</th></tr>\n",
          f);
    for (int i = 0; i < p->n_nodes; i++) {
        const hwa__hr_pnode *n = &p->nodes[i];
        char e[32];
        fmt_s(e, sizeof e, n->est_s);
        fprintf(f, "<tr><td class=\"num\">%d</td><td>", n->index);
        hwa__html_puts(f, n->op);
        fputs("</td><td>", f);
        hwa__html_puts(f, n->name);
        fputs("</td><td>", f);
        hwa__html_puts(f, n->dtype);
        fputs("</td><td>", f);
        hwa__html_puts(f, n->shape);
        fputs("</td><td><code>", f);
        hwa__html_puts(f, n->device);
        fputs("</code></td><td class=\"num\">", f);
        hwa__html_printf(f, "%s%s%s", e, n->source[0] ? ", " : "", n->source);
        fputs("</td><td>", f);
        hwa__html_puts(f, n->reason);
        fputs("</td><td>", f);
        hwa__html_puts(f, n->why);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    if (p->nodes_total > p->n_nodes)
        hwa__hr_skip(f, "… and %d more nodes, not shown (hwadapt plan without --brief prints every one).",
                     p->nodes_total - p->n_nodes);
}

static void single(const hwa__hr_plan *p, FILE *f) {
    const char *why = "";
    for (int k = 0; k < p->n_alts; k++)
        if (p->alts[k].chosen) why = p->alts[k].why;
    char buf[200], v[32], b[24];
    fputs("<table>\n", f);
    hwa__hr_kv_row(f, "placement", p->placement);
    hwa__hr_kv_row(f, "asked", p->mode);
    hwa__hr_kv_row(f, "why", why);
    fmt_s(v, sizeof v, p->est_s);
    hwa__hr_kv_row(f, "estimated time per run", v);
    fmt_s(v, sizeof v, p->copy_s);
    hwa__hr_fmt_bytes(b, sizeof b, isfinite(p->copy_bytes_run) ? (int64_t)p->copy_bytes_run : -1);
    hwa__hr_put(buf, sizeof buf, "%s per run (%s)", v, b);
    hwa__hr_kv_row(f, "copies between devices", buf);
    hwa__hr_fmt_bytes(b, sizeof b, isfinite(p->copy_bytes_once) ? (int64_t)p->copy_bytes_once : -1);
    hwa__hr_kv_row(f, "copied once (weights, inputs)", b);
    fputs("</table>\n", f);
    device_times(p, f);
    alternatives(p, f);
    memory_chart(p, f);
    device_table(p, f);
    fputs("<h4>Where each node runs</h4>\n", f);
    node_table(p, f);
}

/* ---- a measured plan --------------------------------------------------- */

static void measured_chart(const hwa__hr_plan *p, FILE *f) {
    enum { MAX_P = 32 };
    const char *labels[MAX_P];
    char bufs[MAX_P][120];
    int n = p->n_meas < MAX_P ? p->n_meas : MAX_P;
    double lo = INFINITY, hi = 0;
    for (int k = 0; k < n; k++) {
        const hwa__hr_pmeas *m = &p->meas[k];
        double v[3] = {m->before_s, m->after_s, m->measured_s};
        for (int j = 0; j < 3; j++)
            if (isfinite(v[j]) && v[j] > 0) lo = fmin(lo, v[j]), hi = fmax(hi, v[j]);
        hwa__hr_put(bufs[k], sizeof bufs[k], "%s%s%s", m->placement, m->is_auto ? " (auto)" : "",
                    m->best ? " (fastest)" : "");
        labels[k] = bufs[k];
    }
    if (!(hi > 0)) {
        hwa__hr_skip(f, "Predicted against measured time: no placement has a time.");
        return;
    }
    hwa__chart c;
    hwa__hr_value_axis(&c.x, lo, hi, HWA__UNIT_SECONDS, "time per run of the placed graph");
    c.y = (hwa__axis){.cats = labels, .n_cats = n, .label = "placement"};
    hwa__chart_layout(&c, f, CHART_W, 30.0 * n + 10, 22);
    hwa__chart_begin(&c, "Predicted against measured time per run, per placement");
    static const char *const what[3] = {"predicted before timing (roofline)", "predicted with its nodes timed",
                                        "measured (median)"};
    char tip[400], v[32];
    for (int k = 0; k < n; k++) {
        const hwa__hr_pmeas *m = &p->meas[k];
        double bh, cy = hwa__chart_band(&c, k, &bh), vals[3] = {m->before_s, m->after_s, m->measured_s};
        for (int j = 0; j < 3; j++) {
            if (!(isfinite(vals[j]) && vals[j] > 0)) continue;
            fmt_s(v, sizeof v, vals[j]);
            hwa__hr_put(tip, sizeof tip, "%s\n%s: %s", m->placement, what[j], v);
            if (j < 2 && isfinite(m->measured_s) && m->measured_s > 0)
                hwa__hr_cat(tip, sizeof tip, " (%+.0f %% against measured)", (vals[j] / m->measured_s - 1) * 100);
            hwa__chart_marker(&c, hwa__chart_px(&c, true, vals[j]), cy, j, j < 2, tip);
        }
    }
    for (int j = 0; j < 3; j++)
        hwa__chart_legend(&c, j, true, -1, j == 0 ? "predicted, roofline" : j == 1 ? "predicted, timed" : "measured");
    hwa__chart_end(&c, "Per placement weighed that fits: the planner's estimate before its nodes were timed and with "
                       "them timed (the profile cache warm), as open marks, and the median measured over interleaved "
                       "repetitions, filled.");
}

static void measured(const hwa__hr_plan *p, FILE *f) {
    char buf[200], v[32];
    fputs("<table>\n", f);
    hwa__hr_put(buf, sizeof buf, "%s, batch %lld, across %s, %d repetition(s)", p->workload, (long long)p->batch,
                p->devices, p->reps);
    hwa__hr_kv_row(f, "measured", buf);
    hwa__hr_kv_row(f, "automatic choice before timing", p->auto_before);
    hwa__hr_kv_row(f, "automatic choice with the nodes timed", p->auto_after);
    fmt_s(v, sizeof v, p->auto_measured_s);
    if (isfinite(p->auto_vs_best))
        hwa__hr_put(buf, sizeof buf, "%s, %.2f× the fastest placement measured", v, p->auto_vs_best);
    else hwa__hr_put(buf, sizeof buf, "%s (not among the placements measured)", v);
    hwa__hr_kv_row(f, "the automatic choice measured", buf);
    fputs("</table>\n", f);
    measured_chart(p, f);
}

void hwa__hr_plan_section(const hwa__hr_plan *p, int idx, FILE *f) {
    fprintf(f, "<h3 id=\"plan%d\">", idx);
    hwa__html_printf(f, "%s: %s", p->measure ? "Placements measured" : "Placement plan", p->source);
    fputs("</h3>\n", f);
    if (p->measure) measured(p, f);
    else single(p, f);
}
