/* Chart primitives for the HTML report (html.c): inline SVG with axes
 * (linear, logarithmic or categorical), ticks in readable units, markers,
 * lines and a legend, and the HTML escaping every string goes through.
 * Every data mark is written with class "mark" and a <title> child (the
 * browser's tooltip); styles come from the page's CSS, so print rules
 * apply. Nothing here reads input: callers pass finite numbers. */
#ifndef HWADAPT_BENCH_SVG_H
#define HWADAPT_BENCH_SVG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/internal.h"

/* Writes s (NULL as "") with & < > " ' as entities, control characters
 * other than tab and newline dropped, and bytes that are not valid UTF-8
 * as U+FFFD: safe in element content and in quoted attributes. */
void hwa__html_puts(FILE *f, const char *s);
/* printf, then hwa__html_puts (output cut at 2,000 bytes). */
void hwa__html_printf(FILE *f, const char *fmt, ...) HWA_PRINTF(2, 3);
void hwa__html_vprintf(FILE *f, const char *fmt, va_list ap);

/* How tick labels and tooltips read a value. */
typedef enum hwa__unit {
    HWA__UNIT_PLAIN = 0, /* 3 significant digits: 0.5, 12, 1e+04 */
    HWA__UNIT_SI,        /* k, M, G, T prefixes: 950, 1.2k, 34M */
    HWA__UNIT_SECONDS,   /* a time in seconds as µs, ms or s */
    HWA__UNIT_PERCENT    /* 0..100 with a % sign */
} hwa__unit;

/* v as the unit reads it, into buf. Non-finite: "n/a". */
void hwa__svg_fmt(char *buf, size_t cap, double v, hwa__unit u);

#define HWA__AXIS_MAX_TICKS 32

typedef struct hwa__axis {
    double lo, hi;      /* the range shown; lo > 0 on a log axis */
    bool log;
    hwa__unit unit;
    const char *label;  /* with its unit: "latency (per query)", "FLOP/s" */
    /* Ticks at these values instead of computed ones (a sweep's batches). */
    double fixed[HWA__AXIS_MAX_TICKS];
    int n_fixed;
    /* A categorical axis: n_cats bands, cats[0] first (top on the y axis). */
    const char *const *cats;
    int n_cats;
} hwa__axis;

/* Sets a->lo, a->hi to a readable range around the data [lo, hi]: whole
 * decades on a log axis (lo must be > 0), multiples of a 1-2-5 step on a
 * linear one; a single value gets a range around it. */
void hwa__svg_axis_fit(hwa__axis *a, double lo, double hi, bool log);
/* The tick values of a (at most cap): the fixed ones in range, else on a
 * log axis every decade, with 2 and 5 between them when the range spans
 * at most two decades (every 2nd or 3rd decade when it spans more than
 * eight); on a linear axis the 1-2-5 step that gives about five ticks.
 * Returns how many. */
int hwa__svg_ticks(const hwa__axis *a, double *ticks, int cap);

typedef struct hwa__chart {
    FILE *f;
    double w, h;                  /* the drawing, in CSS pixels */
    double x0, x1, y0, y1;        /* the plot area: x0 < x1, y0 (top) < y1 (bottom) */
    hwa__axis x, y;
    int n_legend;
    double legend_x;              /* where the legend's column starts */
} hwa__chart;

/* Lays out a chart of width w and plot height plot_h, with room on the
 * left for the y axis's labels (categories included) and on the right for
 * a legend of legend_chars characters (0: none). Set c->x and c->y first. */
void hwa__chart_layout(hwa__chart *c, FILE *f, double w, double plot_h, int legend_chars);
/* Opens <figure> and <svg class="chart">, with the title as its <title>
 * and as visible text, then draws the grid, ticks and axis labels. */
void hwa__chart_begin(hwa__chart *c, const char *title);
/* Closes the svg; caption (may be NULL) is written escaped as a
 * <figcaption>, then </figure>. */
void hwa__chart_end(hwa__chart *c, const char *caption);

/* The position of a data value on an axis, in pixels. Values outside the
 * range are clamped to its edge (the caller says so in the tooltip). */
double hwa__chart_px(const hwa__chart *c, bool x_axis, double v);
/* The centre of category band i on the y axis, and its height. */
double hwa__chart_band(const hwa__chart *c, int i, double *height);

/* Styles: colour, marker shape and dash pattern cycle with the style
 * index, so series stay apart in greyscale. */
int hwa__svg_n_styles(void);
/* A marker of style s at pixel (px, py), class "mark", with the tooltip. */
void hwa__chart_marker(hwa__chart *c, double px, double py, int s, bool hollow, const char *tooltip);
/* The colour of style s ("#0072B2"). */
const char *hwa__svg_colour(int s);
/* A polyline through n pixel points in the colour of style s and dash
 * pattern dash (0 solid, 1..3 dashed, dotted, dash-dot), class
 * "mark line", with the tooltip. */
void hwa__chart_line(hwa__chart *c, const double *px, const double *py, int n, int s, int dash, const char *tooltip);
/* A legend entry: the marker of style s (when marker), a line of dash
 * pattern dash (-1: none), and the label. */
void hwa__chart_legend(hwa__chart *c, int s, bool marker, int dash, const char *label);
/* Text in the plot (class "note"), anchor "start", "middle" or "end". */
void hwa__chart_text(hwa__chart *c, double px, double py, const char *anchor, const char *text);

#endif
