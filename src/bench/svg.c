/* Chart primitives for the HTML report: see svg.h. */
#include "bench/svg.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- escaping ---------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static int utf8_len(const unsigned char *s) {
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && s[0] < 0xc2) return 0; /* overlong */
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

void hwa__html_puts(FILE *f, const char *s) {
    if (!s) return;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 0) {
            fputs("\xef\xbf\xbd", f);
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, (size_t)n, f);
            p += n;
            continue;
        }
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*p >= 0x20 || *p == '\n' || *p == '\t') fputc(*p, f);
        }
        p++;
    }
}

void hwa__html_vprintf(FILE *f, const char *fmt, va_list ap) {
    char buf[2000];
    vsnprintf(buf, sizeof buf, fmt, ap);
    hwa__html_puts(f, buf);
}

void hwa__html_printf(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hwa__html_vprintf(f, fmt, ap);
    va_end(ap);
}

/* ---- units ------------------------------------------------------------- */

void hwa__svg_fmt(char *buf, size_t cap, double v, hwa__unit u) {
    static const char *const si[] = {"", "k", "M", "G", "T", "P"};
    if (!isfinite(v)) {
        snprintf(buf, cap, "n/a");
        return;
    }
    double a = fabs(v);
    switch (u) {
    case HWA__UNIT_SI: {
        int k = 0;
        while (a >= 999.5 && k < 5) a /= 1000, v /= 1000, k++;
        snprintf(buf, cap, "%.3g%s", v, si[k]);
        break;
    }
    case HWA__UNIT_SECONDS:
        if (a == 0) snprintf(buf, cap, "0 s");
        else if (a < 0.9995e-3) snprintf(buf, cap, "%.3g µs", v * 1e6);
        else if (a < 0.9995) snprintf(buf, cap, "%.3g ms", v * 1e3);
        else snprintf(buf, cap, "%.3g s", v);
        break;
    case HWA__UNIT_PERCENT: snprintf(buf, cap, "%.3g%%", v); break;
    default: snprintf(buf, cap, "%.3g", v);
    }
}

/* ---- axes -------------------------------------------------------------- */

/* The 1-2-5 step nearest span / 5. */
static double nice_step(double span) {
    double raw = span / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

void hwa__svg_axis_fit(hwa__axis *a, double lo, double hi, bool log) {
    a->log = log;
    if (log) {
        a->lo = pow(10, floor(log10(lo) + 1e-9));
        a->hi = pow(10, ceil(log10(hi) - 1e-9));
        if (a->hi <= a->lo) a->hi = a->lo * 10;
        return;
    }
    if (hi <= lo) {
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    double step = nice_step(hi - lo);
    a->lo = floor(lo / step + 1e-9) * step;
    a->hi = ceil(hi / step - 1e-9) * step;
}

static bool in_range(const hwa__axis *a, double v) {
    double tol = a->log ? 1e-9 * v : 1e-9 * (a->hi - a->lo);
    return v >= a->lo - tol && v <= a->hi + tol;
}

int hwa__svg_ticks(const hwa__axis *a, double *t, int cap) {
    int n = 0;
    if (a->n_fixed) {
        for (int i = 0; i < a->n_fixed && n < cap; i++)
            if (in_range(a, a->fixed[i])) t[n++] = a->fixed[i];
        return n;
    }
    if (a->log) {
        int e0 = (int)floor(log10(a->lo) + 1e-9), e1 = (int)ceil(log10(a->hi) - 1e-9);
        int every = e1 - e0 > 16 ? 4 : e1 - e0 > 12 ? 3 : e1 - e0 > 8 ? 2 : 1;
        bool subs = e1 - e0 <= 2;
        for (int e = e0; e <= e1; e++) {
            if ((e - e0) % every) continue;
            static const double mults[] = {1, 2, 5};
            for (int m = 0; m < (subs ? 3 : 1); m++) {
                double v = mults[m] * pow(10, e);
                if (n < cap && in_range(a, v)) t[n++] = v;
            }
        }
        return n;
    }
    double step = nice_step(a->hi - a->lo);
    for (double v = ceil(a->lo / step - 1e-9) * step; v <= a->hi + step * 1e-9 && n < cap; v += step)
        t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

/* ---- layout ------------------------------------------------------------ */

/* About how wide 12 px text of n characters is: tick labels and legends
 * are laid out without a font engine. */
static double text_px(int chars) { return 6.8 * chars; }

static const double title_h = 34, xlabel_h = 46;

void hwa__chart_layout(hwa__chart *c, FILE *f, double w, double plot_h, int legend_chars) {
    int ylab = 6;
    if (c->y.n_cats) {
        for (int i = 0; i < c->y.n_cats; i++) {
            int n = (int)strlen(c->y.cats[i]);
            if (n > ylab) ylab = n;
        }
        if (ylab > 40) ylab = 40;
    }
    c->f = f;
    c->w = w;
    c->x0 = 34 + text_px(ylab);
    double legend_w = legend_chars ? text_px(legend_chars > 36 ? 36 : legend_chars) + 44 : 0;
    c->x1 = w - 18 - legend_w;
    c->legend_x = c->x1 + 20;
    c->y0 = title_h + 8;
    c->y1 = c->y0 + plot_h;
    c->h = c->y1 + xlabel_h;
    c->n_legend = 0;
}

double hwa__chart_px(const hwa__chart *c, bool x_axis, double v) {
    const hwa__axis *a = x_axis ? &c->x : &c->y;
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo)) : (v - a->lo) / (a->hi - a->lo);
    if (!isfinite(t)) t = 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return x_axis ? c->x0 + t * (c->x1 - c->x0) : c->y1 - t * (c->y1 - c->y0);
}

double hwa__chart_band(const hwa__chart *c, int i, double *height) {
    double h = (c->y1 - c->y0) / (c->y.n_cats > 0 ? c->y.n_cats : 1);
    if (height) *height = h;
    return c->y0 + (i + 0.5) * h;
}

static void draw_x_axis(hwa__chart *c) {
    FILE *f = c->f;
    double t[HWA__AXIS_MAX_TICKS];
    char lab[48];
    int n = hwa__svg_ticks(&c->x, t, HWA__AXIS_MAX_TICKS);
    for (int i = 0; i < n; i++) {
        double px = hwa__chart_px(c, true, t[i]);
        hwa__svg_fmt(lab, sizeof lab, t[i], c->x.unit);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", px, c->y0, px, c->y1);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px, c->y1 + 16);
        hwa__html_puts(f, lab);
        fputs("</text>\n", f);
    }
    fprintf(f, "<text class=\"axis-label x\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (c->x0 + c->x1) / 2,
            c->y1 + 38);
    hwa__html_puts(f, c->x.label);
    fputs(c->x.log ? " — log scale</text>\n" : "</text>\n", f);
}

static void draw_y_axis(hwa__chart *c) {
    FILE *f = c->f;
    double t[HWA__AXIS_MAX_TICKS];
    char lab[48];
    if (c->y.n_cats) {
        for (int i = 0; i < c->y.n_cats; i++) {
            double bh, py = hwa__chart_band(c, i, &bh);
            if (i) fprintf(f, "<line class=\"band\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", c->x0,
                           py - bh / 2, c->x1, py - bh / 2);
            fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", c->x0 - 8, py + 4);
            hwa__html_puts(f, c->y.cats[i]);
            fputs("</text>\n", f);
        }
    } else {
        int n = hwa__svg_ticks(&c->y, t, HWA__AXIS_MAX_TICKS);
        for (int i = 0; i < n; i++) {
            double py = hwa__chart_px(c, false, t[i]);
            hwa__svg_fmt(lab, sizeof lab, t[i], c->y.unit);
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", c->x0, py, c->x1, py);
            fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", c->x0 - 6, py + 4);
            hwa__html_puts(f, lab);
            fputs("</text>\n", f);
        }
    }
    /* the y label runs up the left edge */
    double cy = (c->y0 + c->y1) / 2;
    fprintf(f, "<text class=\"axis-label y\" x=\"14\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
            cy, cy);
    hwa__html_puts(f, c->y.label);
    fputs(c->y.log ? " — log scale</text>\n" : "</text>\n", f);
}

void hwa__chart_begin(hwa__chart *c, const char *title) {
    FILE *f = c->f;
    fputs("<figure>\n", f);
    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
               "xmlns=\"http://www.w3.org/2000/svg\"><title>", c->w, c->h, c->w, c->h);
    hwa__html_puts(f, title);
    fprintf(f, "</title>\n<text class=\"chart-title\" x=\"%.1f\" y=\"22\">", c->x0);
    hwa__html_puts(f, title);
    fputs("</text>\n", f);
    draw_x_axis(c);
    draw_y_axis(c);
    fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", c->x0, c->y0,
            c->x1 - c->x0, c->y1 - c->y0);
}

void hwa__chart_end(hwa__chart *c, const char *caption) {
    fputs("</svg>\n", c->f);
    if (caption && *caption) {
        fputs("<figcaption>", c->f);
        hwa__html_puts(c->f, caption);
        fputs("</figcaption>\n", c->f);
    }
    fputs("</figure>\n", c->f);
}

/* ---- marks ------------------------------------------------------------- */

/* Okabe and Ito's palette (told apart with the common colour blindnesses),
 * without its yellow, which is too light on white paper. */
static const char *const colours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
enum { N_COLOURS = sizeof colours / sizeof colours[0], N_SHAPES = 7 };
static const char *const dashes[] = {"", "7 4", "2 3", "9 3 2 3"};

int hwa__svg_n_styles(void) { return N_COLOURS; }

const char *hwa__svg_colour(int s) { return colours[(unsigned)s % N_COLOURS]; }

static void shape_path(FILE *f, int shape, double x, double y, double r) {
    switch (shape % N_SHAPES) {
    case 0: fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", x, y, r); return;
    case 1: fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x - r, y - r, 2 * r, 2 * r); return;
    case 2:
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"", x, y - 1.2 * r, x + 1.1 * r, y + 0.8 * r, x - 1.1 * r,
                y + 0.8 * r);
        return;
    case 3:
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"", x, y - 1.3 * r, x + 1.3 * r, y, x,
                y + 1.3 * r, x - 1.3 * r, y);
        return;
    case 4:
        fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fL%.1f %.1fZ\"", x, y + 1.2 * r, x + 1.1 * r, y - 0.8 * r, x - 1.1 * r,
                y - 0.8 * r);
        return;
    case 5:
        fprintf(f, "<path class=\"stroke\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"", x - r, y - r, x + r, y + r,
                x - r, y + r, x + r, y - r);
        return;
    default:
        fprintf(f, "<path class=\"stroke\" d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"", x - 1.2 * r, y, x + 1.2 * r,
                y, x, y - 1.2 * r, x, y + 1.2 * r);
    }
}

static void style_attrs(FILE *f, int s, bool hollow) {
    const char *c = colours[s % N_COLOURS];
    /* crosses are strokes whatever hollow says */
    if (hollow || s % N_SHAPES >= 5) fprintf(f, " fill=\"#fff\" stroke=\"%s\" stroke-width=\"1.6\"", c);
    else fprintf(f, " fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.8\"", c);
}

void hwa__chart_marker(hwa__chart *c, double px, double py, int s, bool hollow, const char *tooltip) {
    fputs("<g class=\"mark\">", c->f);
    shape_path(c->f, s, px, py, 4.5);
    style_attrs(c->f, s, hollow);
    fputs("/><title>", c->f);
    hwa__html_puts(c->f, tooltip);
    fputs("</title></g>\n", c->f);
}

void hwa__chart_line(hwa__chart *c, const double *px, const double *py, int n, int s, int dash, const char *tooltip) {
    FILE *f = c->f;
    fputs("<polyline class=\"mark line\" fill=\"none\" points=\"", f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.1f,%.1f", i ? " " : "", px[i], py[i]);
    fprintf(f, "\" stroke=\"%s\" stroke-width=\"2\"", colours[s % N_COLOURS]);
    if (dash > 0) fprintf(f, " stroke-dasharray=\"%s\"", dashes[dash % 4]);
    fputs("><title>", f);
    hwa__html_puts(f, tooltip);
    fputs("</title></polyline>\n", f);
}

void hwa__chart_legend(hwa__chart *c, int s, bool marker, int dash, const char *label) {
    FILE *f = c->f;
    double y = c->y0 + 10 + 20 * c->n_legend++, x = c->legend_x;
    fputs("<g class=\"legend\">", f);
    if (dash >= 0) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"", x, y,
                x + 26, y, colours[s % N_COLOURS]);
        if (dash > 0) fprintf(f, " stroke-dasharray=\"%s\"", dashes[dash % 4]);
        fputs("/>", f);
    }
    if (marker) {
        shape_path(f, s, x + 13, y, 4.5);
        style_attrs(f, s, false);
        fputs("/>", f);
    }
    fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">", x + 34, y + 4);
    char buf[40];
    size_t n = strlen(label ? label : "");
    /* a long label is cut to the column with an ellipsis; its tooltip keeps it whole */
    snprintf(buf, sizeof buf, "%s", label ? label : "");
    if (n > 36) memcpy(buf + 33, "...", 4);
    hwa__html_puts(f, buf);
    fputs("<title>", f);
    hwa__html_puts(f, label);
    fputs("</title></text></g>\n", f);
}

void hwa__chart_text(hwa__chart *c, double px, double py, const char *anchor, const char *text) {
    fprintf(c->f, "<text class=\"note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", px, py, anchor);
    hwa__html_puts(c->f, text);
    fputs("</text>\n", c->f);
}
