/* The HTML report's charts: rooflines, latency percentiles, repetitions,
 * batch and thread sweeps, training curves. Every mark is a value read
 * from an input; where the data for a chart are absent, a one-line note
 * says so instead of an empty frame. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "bench/html.h"
#include "bench/svg.h"

enum { CHART_W = 820, MAX_SERIES = 24 };

void hwa__hr_skip(FILE *f, const char *fmt, ...) {
    va_list ap;
    fputs("<p class=\"skip\">", f);
    va_start(ap, fmt);
    hwa__html_vprintf(f, fmt, ap);
    va_end(ap);
    fputs("</p>\n", f);
}

void hwa__hr_cat(char *buf, size_t cap, const char *fmt, ...) {
    size_t n = strlen(buf);
    if (n >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

void hwa__hr_put(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

void hwa__hr_row_label(const hwa__hr_row *r, unsigned fields, char *buf, size_t cap) {
    buf[0] = 0;
    const char *sep = "";
#define PART(...) (hwa__hr_cat(buf, cap, "%s", sep), hwa__hr_cat(buf, cap, __VA_ARGS__), sep = " · ")
    if (fields & HWA__HR_F_WORKLOAD) PART("%s", r->workload);
    if (fields & HWA__HR_F_DEVICE) PART("%s", r->device);
    if (fields & HWA__HR_F_DTYPE) PART("%s", r->dtype);
    if ((fields & HWA__HR_F_BATCH) && r->batch >= 0) PART("batch %lld", (long long)r->batch);
    if ((fields & HWA__HR_F_THREADS) && r->threads >= 0) PART("%d thread%s", r->threads, r->threads == 1 ? "" : "s");
    if ((fields & HWA__HR_F_SCENARIO) && r->scenario[0] && strcmp(r->scenario, "single")) PART("%s", r->scenario);
    if ((fields & HWA__HR_F_SCENARIO) && r->optimizer[0]) PART("%s", r->optimizer);
#undef PART
}

static bool measured(const hwa__hr_row *r) { return !r->skipped && isfinite(r->sps) && r->sps > 0; }

int hwa__hr_intern(const char **names, int *n, int cap, const char *s) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s)) return i;
    if (*n == cap) return cap - 1;
    names[*n] = s;
    return (*n)++;
}

/* ---- rooflines --------------------------------------------------------- */

typedef struct ceilings {
    const hwa__hr_peak *peaks;
    int n_peaks;
    double bw;                /* GB/s; NAN unknown */
    char source[400];
} ceilings;

/* The device's ceilings: from the report's own passport, else a passport
 * given beside it, else (for the CPU) the report's machine summary. */
static void find_ceilings(const hwa__hr_doc *doc, const hwa__hr_bench *b, const char *dev, ceilings *c,
                          hwa__hr_peak *f32) {
    memset(c, 0, sizeof *c);
    c->bw = NAN;
    const hwa__hr_passport *pp = b->passport >= 0 ? &doc->pps[b->passport] : doc->n_pps ? &doc->pps[0] : NULL;
    for (int i = 0; pp && i < pp->n_devs; i++) {
        if (strcmp(pp->devs[i].id, dev)) continue;
        c->peaks = pp->devs[i].peaks;
        c->n_peaks = pp->devs[i].n_peaks;
        c->bw = pp->devs[i].bandwidth_gbs;
        hwa__hr_put(c->source, sizeof c->source, "the passport in %s", pp->source);
        return;
    }
    if (!strcmp(dev, "cpu")) {
        hwa__hr_put(f32->dtype, sizeof f32->dtype, "f32");
        f32->gflops = b->peak_f32;
        c->peaks = f32;
        c->n_peaks = isfinite(b->peak_f32) ? 1 : 0;
        c->bw = b->memory_gbps;
        hwa__hr_put(c->source, sizeof c->source, "the machine summary of %s (f32 only: the report has no passport)",
                 b->source);
    }
}

static void roof_ceiling(hwa__chart *c, const hwa__hr_peak *pk, double bw, int s, int dash) {
    double xs[3], ys[3], px[3], py[3];
    int n = 0;
    double ridge = isfinite(bw) ? pk->gflops / bw : NAN;
    char tip[300];
    if (isfinite(ridge) && ridge > c->x.lo) {
        xs[n] = c->x.lo, ys[n++] = bw * c->x.lo;
        if (ridge < c->x.hi) xs[n] = ridge, ys[n++] = pk->gflops;
    } else {
        xs[n] = c->x.lo, ys[n++] = pk->gflops;
    }
    xs[n] = c->x.hi, ys[n++] = pk->gflops;
    for (int i = 0; i < n; i++) px[i] = hwa__chart_px(c, true, xs[i]), py[i] = hwa__chart_px(c, false, ys[i] * 1e9);
    hwa__hr_put(tip, sizeof tip, "%s ceiling: peak %.4g GFLOP/s", pk->dtype, pk->gflops);
    if (isfinite(ridge)) hwa__hr_cat(tip, sizeof tip, ", memory %.4g GB/s, ridge at %.3g FLOP/byte", bw, ridge);
    else hwa__hr_cat(tip, sizeof tip, "; memory bandwidth unknown: no slope");
    hwa__chart_line(c, px, py, n, s, dash, tip);
}

/* The memory roof alone, where no peak is known: bandwidth x intensity. */
static void roof_memory_only(hwa__chart *c, double bw) {
    double px[2] = {hwa__chart_px(c, true, c->x.lo), hwa__chart_px(c, true, c->x.hi)};
    double py[2] = {hwa__chart_px(c, false, bw * c->x.lo * 1e9), hwa__chart_px(c, false, bw * c->x.hi * 1e9)};
    char tip[120];
    hwa__hr_put(tip, sizeof tip, "memory roof: %.4g GB/s x intensity (peak unknown)", bw);
    hwa__chart_line(c, px, py, 2, 6, 1, tip);
}

typedef struct roof_pt {
    const hwa__hr_row *r;
    double ai;
} roof_pt;

static void roof_range(hwa__chart *c, const roof_pt *pts, int n, const ceilings *cl) {
    double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
    for (int i = 0; i < n; i++) {
        xlo = fmin(xlo, pts[i].ai), xhi = fmax(xhi, pts[i].ai);
        ylo = fmin(ylo, pts[i].r->gflops), yhi = fmax(yhi, pts[i].r->gflops);
    }
    for (int k = 0; k < cl->n_peaks; k++) {
        yhi = fmax(yhi, cl->peaks[k].gflops * 1.5);
        if (isfinite(cl->bw)) xlo = fmin(xlo, cl->peaks[k].gflops / cl->bw / 4), xhi = fmax(xhi, cl->peaks[k].gflops / cl->bw * 4);
    }
    c->x = (hwa__axis){.unit = HWA__UNIT_SI, .label = "arithmetic intensity (FLOP/byte of compulsory memory traffic)"};
    c->y = (hwa__axis){.unit = HWA__UNIT_SI, .label = "performance (FLOP/s)"};
    hwa__svg_axis_fit(&c->x, xlo / 1.5, xhi * 1.5, true);
    hwa__svg_axis_fit(&c->y, ylo * 1e9 / 1.5, yhi * 1e9, true);
}

static void roofline(const hwa__hr_doc *doc, const hwa__hr_bench *b, const char *dev, FILE *f) {
    roof_pt pts[256];
    int n = 0, dropped = 0;
    for (int i = 0; i < b->n_rows; i++) {
        const hwa__hr_row *r = &b->rows[i];
        if (strcmp(r->device, dev) || !measured(r)) continue;
        if (isfinite(r->gflops) && isfinite(r->gbps) && r->gflops > 0 && r->gbps > 0 && n < 256)
            pts[n++] = (roof_pt){r, r->gflops / r->gbps};
        else dropped++;
    }
    if (!n) {
        hwa__hr_skip(f, "Roofline of %s: no measured row has both GFLOP/s and GB/s.", dev);
        return;
    }
    hwa__hr_peak f32;
    ceilings cl;
    find_ceilings(doc, b, dev, &cl, &f32);
    /* one style per precision, shared by its points and its ceiling */
    /* the common precisions first, so each keeps its style from one chart to the next */
    const char *dtypes[MAX_SERIES] = {"f32", "bf16", "f16", "i8"};
    int nd = 4;
    for (int k = 0; k < cl.n_peaks; k++) hwa__hr_intern(dtypes, &nd, MAX_SERIES, cl.peaks[k].dtype);
    for (int i = 0; i < n; i++) hwa__hr_intern(dtypes, &nd, MAX_SERIES, pts[i].r->dtype);
    hwa__chart c;
    roof_range(&c, pts, n, &cl);
    hwa__chart_layout(&c, f, CHART_W, 340, 16);
    char title[200], tip[600], lab[200];
    hwa__hr_put(title, sizeof title, "Roofline of %s", dev);
    hwa__chart_begin(&c, title);
    for (int k = 0; k < cl.n_peaks; k++)
        roof_ceiling(&c, &cl.peaks[k], cl.bw, hwa__hr_intern(dtypes, &nd, MAX_SERIES, cl.peaks[k].dtype), 1 + k % 3);
    if (!cl.n_peaks && isfinite(cl.bw)) roof_memory_only(&c, cl.bw);
    for (int i = 0; i < n; i++) {
        const hwa__hr_row *r = pts[i].r;
        hwa__hr_row_label(r, HWA__HR_F_ALL, lab, sizeof lab);
        hwa__hr_put(tip, sizeof tip, "%s\n%.4g GFLOP/s, %.4g GB/s, %.3g FLOP/byte, ", lab, r->gflops, r->gbps,
                    pts[i].ai);
        if (isfinite(r->pct)) hwa__hr_cat(tip, sizeof tip, "%.1f %% of the %s peak", r->pct, r->dtype);
        else hwa__hr_cat(tip, sizeof tip, "%% of peak unknown");
        int s = hwa__hr_intern(dtypes, &nd, MAX_SERIES, r->dtype);
        hwa__chart_marker(&c, hwa__chart_px(&c, true, pts[i].ai), hwa__chart_px(&c, false, r->gflops * 1e9), s, false,
                          tip);
    }
    for (int d = 0; d < nd; d++) {
        bool has_pts = false, has_peak = false;
        for (int i = 0; i < n; i++) has_pts |= !strcmp(pts[i].r->dtype, dtypes[d]);
        for (int k = 0; k < cl.n_peaks; k++) has_peak |= !strcmp(cl.peaks[k].dtype, dtypes[d]);
        if (has_pts) hwa__hr_put(lab, sizeof lab, "%s rows", dtypes[d]), hwa__chart_legend(&c, d, true, -1, lab);
        if (has_peak) {
            int k = 0;
            while (strcmp(cl.peaks[k].dtype, dtypes[d])) k++;
            hwa__hr_put(lab, sizeof lab, "%s ceiling", dtypes[d]);
            hwa__chart_legend(&c, d, false, 1 + k % 3, lab);
        }
    }
    char cap[1400];
    hwa__hr_put(cap, sizeof cap, "Each mark is a measured row: its GFLOP/s over its GB/s of compulsory traffic gives "
             "the intensity. Ceilings are min(peak, bandwidth × intensity) from %s. ",
             cl.source[0] ? cl.source : "no passport");
    if (!cl.n_peaks)
        hwa__hr_cat(cap, sizeof cap, "No calibrated peak is known for %s, so no compute ceiling is drawn. ", dev);
    if (!isfinite(cl.bw))
        hwa__hr_cat(cap, sizeof cap, "Its memory bandwidth is unknown, so no memory slope is drawn. ");
    for (int d = 0; d < nd; d++) {
        bool has_peak = false;
        for (int k = 0; k < cl.n_peaks; k++) has_peak |= !strcmp(cl.peaks[k].dtype, dtypes[d]);
        if (!has_peak && cl.n_peaks) hwa__hr_cat(cap, sizeof cap, "No %s peak is known. ", dtypes[d]);
    }
    if (dropped) hwa__hr_cat(cap, sizeof cap, "%d measured row(s) without GFLOP/s or GB/s are not placed.", dropped);
    hwa__chart_end(&c, cap);
}

void hwa__hr_rooflines(const hwa__hr_doc *doc, const hwa__hr_bench *b, FILE *f) {
    const char *devs[MAX_SERIES];
    int nd = 0;
    for (int i = 0; i < b->n_rows; i++)
        if (measured(&b->rows[i])) hwa__hr_intern(devs, &nd, MAX_SERIES, b->rows[i].device);
    if (!nd) hwa__hr_skip(f, "Rooflines: no measured row.");
    for (int d = 0; d < nd; d++) roofline(doc, b, devs[d], f);
}

/* ---- latency and repetitions ------------------------------------------- */

enum { P50, P90, P99, PMAX, PMEAN };

/* The measured rows of workload w with a p50 (lat) or repetitions (reps). */
static int rows_of(const hwa__hr_bench *b, const char *w, bool reps, const hwa__hr_row **out, const char **labels,
                   char (*bufs)[160], int cap) {
    int n = 0;
    for (int i = 0; i < b->n_rows && n < cap; i++) {
        const hwa__hr_row *r = &b->rows[i];
        if (strcmp(r->workload, w) || !measured(r)) continue;
        if (reps ? r->n_reps < 1 : !isfinite(r->lat_ms[P50])) continue;
        hwa__hr_row_label(r, HWA__HR_F_ALL & ~HWA__HR_F_WORKLOAD, bufs[n], sizeof bufs[n]);
        labels[n] = bufs[n];
        out[n++] = r;
    }
    return n;
}

static double fmin_all(const double *v, int n) {
    double m = INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) m = fmin(m, v[i]);
    return m;
}

static double fmax_all(const double *v, int n) {
    double m = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) m = fmax(m, v[i]);
    return m;
}

void hwa__hr_value_axis(hwa__axis *a, double lo, double hi, hwa__unit u, const char *label) {
    *a = (hwa__axis){.unit = u, .label = label};
    if (hi / lo > 20) hwa__svg_axis_fit(a, lo, hi, true);
    else hwa__svg_axis_fit(a, 0, hi, false);
}

static void latency_box(hwa__chart *c, const hwa__hr_row *r, int i, const char *label) {
    FILE *f = c->f;
    double bh, cy = hwa__chart_band(c, i, &bh), h = fmin(bh * 0.5, 18);
    const double *l = r->lat_ms;
    double x50 = hwa__chart_px(c, true, l[P50] * 1e-3), x90 = hwa__chart_px(c, true, l[P90] * 1e-3);
    double x99 = hwa__chart_px(c, true, l[P99] * 1e-3);
    char tip[700], v[5][32];
    for (int k = 0; k < 5; k++) hwa__svg_fmt(v[k], sizeof v[k], l[k] * 1e-3, HWA__UNIT_SECONDS);
    hwa__hr_put(tip, sizeof tip, "%s\np50 %s, p90 %s, p99 %s, max %s, mean %s", label, v[0], v[1], v[2], v[3], v[4]);
    fputs("<g class=\"mark box\">", f);
    if (isfinite(l[P90]))
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#cfe3f3\" stroke=\"#0b3d66\"/>",
                x50, cy - h / 2, fmax(x90 - x50, 1), h);
    if (isfinite(l[P99]) && isfinite(l[P90]))
        fprintf(f, "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1f\" stroke=\"#0b3d66\" fill=\"none\"/>", x90, cy, x99, x99,
                cy - h / 3, cy + h / 3);
    fprintf(f, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"#0b3d66\" stroke-width=\"3\"/>", x50, cy - h / 2, cy + h / 2);
    if (isfinite(l[PMAX]))
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#fff\" stroke=\"#0b3d66\"/>",
                hwa__chart_px(c, true, l[PMAX] * 1e-3), cy);
    if (isfinite(l[PMEAN])) {
        double xm = hwa__chart_px(c, true, l[PMEAN] * 1e-3);
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\" fill=\"#D55E00\"/>", xm, cy - 5, xm + 5, cy,
                xm, cy + 5, xm - 5, cy);
    }
    fputs("<title>", f);
    hwa__html_puts(f, tip);
    fputs("</title></g>\n", f);
}

static void latency_chart(const hwa__hr_bench *b, const char *w, FILE *f) {
    const hwa__hr_row *rows[64];
    const char *labels[64];
    char bufs[64][160], title[160];
    int n = rows_of(b, w, false, rows, labels, bufs, 64);
    if (!n) {
        hwa__hr_skip(f, "Latency of %s: no measured row has percentiles.", w);
        return;
    }
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++) lo = fmin(lo, fmin_all(rows[i]->lat_ms, 5)), hi = fmax(hi, fmax_all(rows[i]->lat_ms, 5));
    hwa__chart c;
    hwa__hr_value_axis(&c.x, lo * 1e-3, hi * 1e-3, HWA__UNIT_SECONDS, "latency per query (a query is one batch)");
    c.y = (hwa__axis){.cats = labels, .n_cats = n, .label = "row"};
    hwa__chart_layout(&c, f, CHART_W, 30.0 * n + 10, 0);
    hwa__hr_put(title, sizeof title, "Latency of %s, per row", w);
    hwa__chart_begin(&c, title);
    for (int i = 0; i < n; i++) latency_box(&c, rows[i], i, labels[i]);
    hwa__chart_end(&c, "Not a histogram: the box runs from the median (p50, thick line) to p90, the whisker to "
                       "p99, the open circle is the slowest query (max) and the orange diamond the mean — the "
                       "percentiles the report keeps, over every measured query of the row. Hover for the values.");
}

static void reps_row(hwa__chart *c, const hwa__hr_row *r, int i, const char *label) {
    double bh, cy = hwa__chart_band(c, i, &bh);
    char tip[400], v[32];
    for (int k = 0; k < r->n_reps; k++) {
        /* spread the dots over the band by repetition, so equal values stay visible */
        double dy = r->n_reps > 1 ? (k / (double)(r->n_reps - 1) - 0.5) * fmin(bh * 0.5, 14) : 0;
        hwa__svg_fmt(v, sizeof v, r->reps[k], HWA__UNIT_SI);
        hwa__hr_put(tip, sizeof tip, "%s\nrepetition %d: %s samples/s", label, k + 1, v);
        hwa__chart_marker(c, hwa__chart_px(c, true, r->reps[k]), cy + dy, 0, true, tip);
    }
    double xm = hwa__chart_px(c, true, r->sps);
    hwa__svg_fmt(v, sizeof v, r->sps, HWA__UNIT_SI);
    hwa__hr_put(tip, sizeof tip, "%s\nmean of the repetitions: %s samples/s", label, v);
    fprintf(c->f, "<g class=\"mark\"><path d=\"M%.1f %.1fV%.1f\" stroke=\"#000\" stroke-width=\"2.5\"/><title>", xm,
            cy - bh * 0.4, cy + bh * 0.4);
    hwa__html_puts(c->f, tip);
    fputs("</title></g>\n", c->f);
    if (isfinite(r->speedup)) {
        if (isfinite(r->lo) && isfinite(r->hi))
            hwa__hr_put(tip, sizeof tip, "%.2f× [%.2f, %.2f]", r->speedup, r->lo, r->hi);
        else hwa__hr_put(tip, sizeof tip, "%.2f× (no interval)", r->speedup);
        hwa__chart_text(c, c->legend_x, cy + 4, "start", tip);
    }
}

static void reps_chart(const hwa__hr_bench *b, const char *w, FILE *f) {
    const hwa__hr_row *rows[64];
    const char *labels[64];
    char bufs[64][160], title[160];
    int n = rows_of(b, w, true, rows, labels, bufs, 64);
    if (!n) {
        hwa__hr_skip(f, "Throughput of %s per repetition: no row kept its repetitions.", w);
        return;
    }
    double lo = INFINITY, hi = 0;
    bool any_speedup = false;
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, fmin_all(rows[i]->reps, rows[i]->n_reps));
        hi = fmax(hi, fmax_all(rows[i]->reps, rows[i]->n_reps));
        any_speedup |= isfinite(rows[i]->speedup);
    }
    hwa__chart c;
    hwa__hr_value_axis(&c.x, lo, hi, HWA__UNIT_SI, "throughput (samples/s)");
    c.y = (hwa__axis){.cats = labels, .n_cats = n, .label = "row"};
    hwa__chart_layout(&c, f, CHART_W, 30.0 * n + 10, any_speedup ? 22 : 0);
    hwa__hr_put(title, sizeof title, "Throughput of %s, per repetition", w);
    hwa__chart_begin(&c, title);
    if (any_speedup) hwa__chart_text(&c, c.legend_x, c.y0 - 8, "start", "speed-up over f32 [95 % CI]");
    for (int i = 0; i < n; i++) reps_row(&c, rows[i], i, labels[i]);
    hwa__chart_end(&c, "Each open circle is one repetition's samples per second (the rows of a group were measured "
                       "interleaved, so the machine's drift reached them alike); the bar is their mean. On the "
                       "right, the speed-up over the group's baseline (f32) with its 95 % interval, paired by "
                       "repetition, where the report has one.");
}

void hwa__hr_latency(const hwa__hr_bench *b, FILE *f) {
    const char *wls[MAX_SERIES];
    int nw = 0;
    for (int i = 0; i < b->n_rows; i++)
        if (measured(&b->rows[i])) hwa__hr_intern(wls, &nw, MAX_SERIES, b->rows[i].workload);
    if (!nw) hwa__hr_skip(f, "Latency and repetitions: no measured row.");
    for (int w = 0; w < nw; w++) {
        latency_chart(b, wls[w], f);
        reps_chart(b, wls[w], f);
    }
}

/* ---- sweeps ------------------------------------------------------------ */

/* Whether rows a and b differ at most in the swept field. */
static bool same_but(const hwa__hr_row *a, const hwa__hr_row *b, bool batch) {
    return !strcmp(a->workload, b->workload) && !strcmp(a->device, b->device) && !strcmp(a->dtype, b->dtype) &&
           !strcmp(a->scenario, b->scenario) && !strcmp(a->optimizer, b->optimizer) &&
           (batch ? a->threads == b->threads : a->batch == b->batch);
}

static double swept(const hwa__hr_row *r, bool batch) { return batch ? (double)r->batch : r->threads; }

typedef struct series {
    const hwa__hr_row *rows[HWA__AXIS_MAX_TICKS];
    int n;
} series;

/* The groups of workload w's rows that vary in the swept field, each
 * sorted by it; only groups of two values or more. */
static int sweep_groups(const hwa__hr_bench *b, const char *w, bool batch, series *out, int cap) {
    int ns = 0;
    for (int i = 0; i < b->n_rows; i++) {
        const hwa__hr_row *r = &b->rows[i];
        if (strcmp(r->workload, w) || !measured(r) || swept(r, batch) < 1) continue;
        int g = 0;
        while (g < ns && !same_but(out[g].rows[0], r, batch)) g++;
        if (g == ns && ns == cap) continue;
        if (g == ns) out[ns++].n = 0;
        series *s = &out[g];
        bool dup = false;
        for (int k = 0; k < s->n; k++) dup |= swept(s->rows[k], batch) == swept(r, batch);
        if (dup || s->n == HWA__AXIS_MAX_TICKS) continue; /* a repeated configuration: the first is drawn */
        int k = s->n++;
        while (k > 0 && swept(s->rows[k - 1], batch) > swept(r, batch)) s->rows[k] = s->rows[k - 1], k--;
        s->rows[k] = r;
    }
    int kept = 0;
    for (int g = 0; g < ns; g++)
        if (out[g].n >= 2) out[kept++] = out[g];
    return kept;
}

static double row_metric(const hwa__hr_row *r, bool latency) { return latency ? r->lat_ms[P50] * 1e-3 : r->sps; }

static void sweep_chart(const char *w, const series *ss, int ns, bool batch, bool latency, FILE *f) {
    const char *what = batch ? "batch size" : "threads";
    hwa__chart c;
    double ylo = INFINITY, yhi = 0;
    int legend = 0;
    c.x = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = batch ? "batch size (samples per query)" : "threads"};
    double xlo = INFINITY, xhi = 0;
    char labs[MAX_SERIES][160];
    unsigned fields = HWA__HR_F_ALL & ~HWA__HR_F_WORKLOAD & ~(batch ? HWA__HR_F_BATCH : HWA__HR_F_THREADS);
    for (int g = 0; g < ns; g++) {
        hwa__hr_row_label(ss[g].rows[0], fields, labs[g], sizeof labs[g]);
        legend = (int)fmax(legend, strlen(labs[g]));
        for (int k = 0; k < ss[g].n; k++) {
            const hwa__hr_row *r = ss[g].rows[k];
            double x = swept(r, batch), y = row_metric(r, latency);
            xlo = fmin(xlo, x), xhi = fmax(xhi, x);
            if (isfinite(y) && y > 0) ylo = fmin(ylo, y), yhi = fmax(yhi, y);
            /* the measured values are the ticks */
            bool have = false;
            for (int t = 0; t < c.x.n_fixed; t++) have |= c.x.fixed[t] == x;
            if (!have && c.x.n_fixed < HWA__AXIS_MAX_TICKS) c.x.fixed[c.x.n_fixed++] = x;
        }
    }
    if (!(yhi > 0)) return;
    bool xlog = xhi / xlo >= 8;
    c.x.log = xlog;
    c.x.lo = xlog ? xlo / 1.3 : fmax(0, xlo - 0.5);
    c.x.hi = xlog ? xhi * 1.3 : xhi + 0.5;
    hwa__hr_value_axis(&c.y, ylo, yhi, latency ? HWA__UNIT_SECONDS : HWA__UNIT_SI,
               latency ? "median latency per query (p50)" : "throughput (samples/s)");
    hwa__chart_layout(&c, f, CHART_W, 260, legend);
    char title[200], tip[400], v[32];
    hwa__hr_put(title, sizeof title, "%s: %s vs %s", w, latency ? "p50 latency" : "throughput", what);
    hwa__chart_begin(&c, title);
    for (int g = 0; g < ns; g++) {
        double px[HWA__AXIS_MAX_TICKS], py[HWA__AXIS_MAX_TICKS];
        int n = 0;
        for (int k = 0; k < ss[g].n; k++) {
            double y = row_metric(ss[g].rows[k], latency);
            if (!(isfinite(y) && y > 0)) continue;
            px[n] = hwa__chart_px(&c, true, swept(ss[g].rows[k], batch));
            py[n++] = hwa__chart_px(&c, false, y);
        }
        hwa__chart_line(&c, px, py, n, g, g % 4, labs[g]);
        for (int k = 0, j = 0; k < ss[g].n; k++) {
            double y = row_metric(ss[g].rows[k], latency);
            if (!(isfinite(y) && y > 0)) continue;
            hwa__svg_fmt(v, sizeof v, y, latency ? HWA__UNIT_SECONDS : HWA__UNIT_SI);
            hwa__hr_put(tip, sizeof tip, "%s\n%s %g: %s%s", labs[g], what, swept(ss[g].rows[k], batch), v,
                     latency ? " p50" : " samples/s");
            hwa__chart_marker(&c, px[j], py[j], g, false, tip);
            j++;
        }
        hwa__chart_legend(&c, g, true, g % 4, labs[g]);
    }
    hwa__chart_end(&c, latency ? "The median latency of one query (one batch) of each row: a larger batch takes "
                                 "longer per query but may serve more samples per second."
                               : "Samples per second, the mean of the row's repetitions, against the swept value.");
}

static bool sweeps_by(const hwa__hr_bench *b, bool batch, FILE *f) {
    const char *wls[MAX_SERIES];
    int nw = 0;
    bool any = false;
    for (int i = 0; i < b->n_rows; i++)
        if (measured(&b->rows[i])) hwa__hr_intern(wls, &nw, MAX_SERIES, b->rows[i].workload);
    for (int w = 0; w < nw; w++) {
        series ss[MAX_SERIES];
        int ns = sweep_groups(b, wls[w], batch, ss, MAX_SERIES);
        if (!ns) continue;
        any = true;
        sweep_chart(wls[w], ss, ns, batch, false, f);
        sweep_chart(wls[w], ss, ns, batch, true, f);
    }
    return any;
}

void hwa__hr_sweeps(const hwa__hr_bench *b, FILE *f) {
    if (!sweeps_by(b, true, f))
        hwa__hr_skip(f, "Batch sweep: no rows differ only in batch (hwadapt bench WORKLOAD --batch 1,8,64 makes them).");
    if (!sweeps_by(b, false, f))
        hwa__hr_skip(f, "Thread sweep: no rows differ only in threads (hwadapt bench WORKLOAD --threads 1,2 makes them).");
}

/* ---- training ---------------------------------------------------------- */

double hwa__hr_series_value(const void *rec, const hwa__hr_series *s) {
    return *(const double *)((const char *)rec + s->off) * s->scale;
}

static void train_chart(const hwa__hr_doc *doc, const hwa__hr_series *ks, int nk, const char *title, hwa__axis y,
                        FILE *f) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int legend = 0;
    for (int t = 0; t < doc->n_trains; t++)
        for (int k = 0; k < nk; k++)
            for (int i = 0; i < doc->trains[t].n; i++) {
                const hwa__hr_epoch *e = &doc->trains[t].ep[i];
                double v = hwa__hr_series_value(e, &ks[k]);
                if (!isfinite(v) || !isfinite(e->epoch)) continue;
                xlo = fmin(xlo, e->epoch), xhi = fmax(xhi, e->epoch), ylo = fmin(ylo, v), yhi = fmax(yhi, v);
                legend = (int)fmax(legend, strlen(doc->trains[t].source) + strlen(ks[k].name) + 3);
            }
    if (!(yhi >= ylo)) {
        hwa__hr_skip(f, "%s: no epoch in the training logs has these values.", title);
        return;
    }
    hwa__chart c;
    c.x = (hwa__axis){.unit = HWA__UNIT_PLAIN, .label = "epoch"};
    hwa__svg_axis_fit(&c.x, xlo, xhi, false);
    if (xhi - xlo < 1) c.x.lo = xlo - 1, c.x.hi = xhi + 1;
    c.y = y;
    hwa__svg_axis_fit(&c.y, ylo, yhi, false);
    hwa__chart_layout(&c, f, CHART_W, 260, legend);
    hwa__chart_begin(&c, title);
    char tip[600], lab[400];
    for (int t = 0; t < doc->n_trains; t++)
        for (int k = 0; k < nk; k++) {
            const hwa__hr_train *tr = &doc->trains[t];
            double px[256], py[256], vals[256], eps[256];
            int n = 0;
            for (int i = 0; i < tr->n && n < 256; i++) {
                double v = hwa__hr_series_value(&tr->ep[i], &ks[k]);
                if (!isfinite(v) || !isfinite(tr->ep[i].epoch)) continue;
                vals[n] = v, eps[n] = tr->ep[i].epoch;
                px[n] = hwa__chart_px(&c, true, eps[n]), py[n++] = hwa__chart_px(&c, false, v);
            }
            if (!n) continue;
            hwa__hr_put(lab, sizeof lab, "%s · %s", tr->source, ks[k].name);
            if (n > 1) hwa__chart_line(&c, px, py, n, t, k, lab);
            for (int i = 0; i < n; i++) {
                hwa__hr_put(tip, sizeof tip, "%s (%s, %s)\nepoch %g: %.4g%s", lab, tr->device, tr->dtype, eps[i],
                            vals[i], y.unit == HWA__UNIT_PERCENT ? " %" : "");
                hwa__chart_marker(&c, px[i], py[i], t + k * doc->n_trains, k > 0, tip);
            }
            hwa__chart_legend(&c, t + k * doc->n_trains, true, n > 1 ? k : -1, lab);
        }
    hwa__chart_end(&c, "One series per training log and measure; the test and validation values are measured "
                       "after each epoch, the training loss is the epoch's mean.");
}

void hwa__hr_training(const hwa__hr_doc *doc, FILE *f) {
    if (!doc->n_trains) {
        hwa__hr_skip(f, "Training curves: no training log among the inputs (hwadapt train --json > train.jsonl "
                        "makes one).");
        return;
    }
    static const hwa__hr_series loss[] = {{"train loss", offsetof(hwa__hr_epoch, train_loss), 1},
                                 {"test loss", offsetof(hwa__hr_epoch, test_loss), 1},
                                 {"validation loss", offsetof(hwa__hr_epoch, val_loss), 1}};
    static const hwa__hr_series acc[] = {{"test accuracy", offsetof(hwa__hr_epoch, test_acc), 100},
                                {"validation accuracy", offsetof(hwa__hr_epoch, val_acc), 100}};
    train_chart(doc, loss, 3, "Loss per epoch", (hwa__axis){.label = "loss (cross-entropy)"}, f);
    train_chart(doc, acc, 2, "Accuracy per epoch",
                (hwa__axis){.unit = HWA__UNIT_PERCENT, .label = "accuracy (% of samples)"}, f);
}
