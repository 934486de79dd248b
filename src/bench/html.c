/* The HTML report (hwadapt report, and beside the main job's JSON): one
 * self-contained page — inline CSS and SVG, no script, nothing fetched —
 * from bench reports, passports, training logs, placement plans and tune
 * results. The inputs are read
 * (html_load.c) before anything is written; the charts are html_charts.c's,
 * html_plan.c's and html_tune.c's. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/html.h"
#include "bench/svg.h"
#include "core/file.h"

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1a1a1a;"
    "background:#fff;margin:0 auto;max-width:1040px;padding:24px 32px}\n"
    "h1{font-size:25px;margin:0 0 4px}h2{font-size:19px;border-bottom:2px solid #1a1a1a;padding-bottom:3px;"
    "margin:38px 0 10px}h3{font-size:16px;margin:26px 0 6px}\n"
    ".meta{color:#444;margin:2px 0}nav a{color:#0b3d66;margin-right:14px}\n"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{border-bottom:1px solid #ccc;"
    "padding:4px 10px;text-align:left;vertical-align:top}th{background:#f2f2f2;font-weight:600}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "figure{margin:14px 0 26px;break-inside:avoid}figcaption{font-size:12.5px;color:#333;max-width:820px}\n"
    "svg.chart{display:block;max-width:100%;height:auto;background:#fff;font-family:inherit}\n"
    "svg .chart-title{font-size:15px;font-weight:600;fill:#1a1a1a}svg .tick{font-size:12px;fill:#333}"
    "svg .axis-label{font-size:12.5px;fill:#1a1a1a}svg .note{font-size:12px;fill:#1a1a1a}\n"
    "svg .grid{stroke:#e4e4e4}svg .band{stroke:#ececec}svg .frame{fill:none;stroke:#777}\n"
    ".skip{color:#555;font-style:italic}.notes li{color:#6b3600}\n"
    "code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}"
    "pre{background:#f5f5f5;padding:5px 8px;white-space:pre-wrap;word-break:break-all;margin:3px 0}\n"
    ".rec{margin:10px 0 18px}.rec p{margin:3px 0}.verdict{font-weight:600}.features{font-size:12px;color:#333}\n"
    "@media print{body{max-width:none;padding:0;font-size:10.5pt}nav{display:none}h2{break-after:avoid}"
    "figure,table,.rec{break-inside:avoid}pre{background:none;border:1px solid #bbb}}\n";

static void head(FILE *f, const char *title) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    hwa__html_puts(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
}

/* ---- tables ------------------------------------------------------------ */

void hwa__hr_kv_row(FILE *f, const char *key, const char *value) {
    fputs("<tr><th>", f);
    hwa__html_puts(f, key);
    fputs("</th><td>", f);
    hwa__html_puts(f, value && *value ? value : "n/a");
    fputs("</td></tr>\n", f);
}

void hwa__hr_fmt_bytes(char *buf, size_t cap, int64_t b) {
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    if (b < 0) snprintf(buf, cap, "n/a");
    else if (!u) snprintf(buf, cap, "%lld bytes", (long long)b);
    else snprintf(buf, cap, "%.1f %s", v, units[u]);
}

static void fmt_count(char *buf, size_t cap, int v, const char *unit) {
    if (v < 0) snprintf(buf, cap, "n/a");
    else snprintf(buf, cap, "%d %s", v, unit);
}

static void device_row(FILE *f, const hwa__hr_device *d) {
    char mem[32], peaks[400] = "", bw[48] = "n/a";
    hwa__hr_fmt_bytes(mem, sizeof mem, d->memory_bytes);
    for (int k = 0; k < d->n_peaks; k++) {
        size_t n = strlen(peaks);
        snprintf(peaks + n, sizeof peaks - n, "%s%s %.4g", k ? ", " : "", d->peaks[k].dtype, d->peaks[k].gflops);
    }
    if (isfinite(d->bandwidth_gbs)) snprintf(bw, sizeof bw, "%.3g GB/s", d->bandwidth_gbs);
    fputs("<tr><td><code>", f);
    hwa__html_puts(f, d->id);
    fputs("</code></td><td>", f);
    hwa__html_puts(f, d->name);
    fputs("</td><td>", f);
    hwa__html_printf(f, "%s%s%s", d->kind, d->type[0] ? " / " : "", d->type);
    fputs("</td><td class=\"num\">", f);
    hwa__html_puts(f, mem);
    fputs("</td><td>", f);
    hwa__html_puts(f, d->n_peaks ? peaks : "not calibrated");
    if (d->n_peaks && d->peak_method[0]) hwa__html_printf(f, " (%s)", d->peak_method);
    fputs("</td><td class=\"num\">", f);
    hwa__html_puts(f, bw);
    fputs("</td></tr>\n", f);
}

static void passport_section(FILE *f, const hwa__hr_passport *p) {
    char buf[160], b2[64];
    fputs("<h3>", f);
    hwa__html_printf(f, "%s", p->source);
    fputs("</h3>\n<table>\n", f);
    hwa__hr_kv_row(f, "CPU", p->cpu);
    snprintf(buf, sizeof buf, "%s%s%s", p->arch, p->vendor[0] ? ", " : "", p->vendor);
    hwa__hr_kv_row(f, "architecture", buf);
    char cores[32], threads[32], sockets[32];
    fmt_count(cores, sizeof cores, p->physical_cores, "cores");
    fmt_count(threads, sizeof threads, p->logical_cpus, "logical CPUs");
    fmt_count(sockets, sizeof sockets, p->sockets, "socket(s)");
    snprintf(buf, sizeof buf, "%s, %s, %s", cores, threads, sockets);
    hwa__hr_kv_row(f, "cores", buf);
    hwa__hr_fmt_bytes(b2, sizeof b2, p->memory_bytes);
    hwa__hr_kv_row(f, "memory", b2);
    fputs("<tr><th>ISA features</th><td class=\"features\">", f);
    hwa__html_puts(f, p->features[0] ? p->features : "n/a");
    fputs("</td></tr>\n", f);
    hwa__hr_kv_row(f, "power meters", p->meters[0] ? p->meters : "none");
    hwa__hr_kv_row(f, "fingerprint", p->fingerprint);
    fputs("</table>\n", f);
    if (!p->n_devs) {
        hwa__hr_skip(f, "The passport lists no device.");
        return;
    }
    fputs("<table>\n<tr><th>device</th><th>name</th><th>kind / type</th><th>memory</th>"
          "<th>calibrated peak (GFLOP/s per precision)</th><th>memory bandwidth (triad)</th></tr>\n",
          f);
    for (int i = 0; i < p->n_devs; i++) device_row(f, &p->devs[i]);
    fputs("</table>\n", f);
}

/* Without a passport: the summary a bench report keeps of its machine. */
static void machine_summary(FILE *f, const hwa__hr_bench *b) {
    char buf[64];
    fputs("<h3>", f);
    hwa__html_printf(f, "%s (machine summary; no passport in it)", b->source);
    fputs("</h3>\n<table>\n", f);
    hwa__hr_kv_row(f, "CPU", b->cpu);
    fmt_count(buf, sizeof buf, b->logical_cpus, "logical CPUs");
    hwa__hr_kv_row(f, "logical CPUs", buf);
    hwa__hr_fmt_bytes(buf, sizeof buf, b->memory_bytes);
    hwa__hr_kv_row(f, "memory", buf);
    hwa__hr_kv_row(f, "ISA", b->isa);
    hwa__hr_kv_row(f, "devices", b->devices);
    hwa__svg_fmt(buf, sizeof buf, b->peak_f32, HWA__UNIT_PLAIN);
    if (isfinite(b->peak_f32)) strcat(buf, " GFLOP/s");
    hwa__hr_kv_row(f, "CPU f32 peak", buf);
    hwa__svg_fmt(buf, sizeof buf, b->memory_gbps, HWA__UNIT_PLAIN);
    if (isfinite(b->memory_gbps)) strcat(buf, " GB/s");
    hwa__hr_kv_row(f, "memory bandwidth", buf);
    hwa__hr_kv_row(f, "power meter", b->power_meter);
    hwa__hr_kv_row(f, "calibration", b->calibration);
    fputs("</table>\n", f);
}

static void machine(FILE *f, const hwa__hr_doc *doc) {
    fputs("<h2 id=\"machine\">Machine</h2>\n", f);
    for (int i = 0; i < doc->n_pps; i++) passport_section(f, &doc->pps[i]);
    if (doc->n_pps) return;
    for (int i = 0; i < doc->n_benches; i++) machine_summary(f, &doc->benches[i]);
    if (!doc->n_benches) hwa__hr_skip(f, "No passport or bench report among the inputs (hwadapt probe --json makes one).");
}

/* ---- recommendations --------------------------------------------------- */

static void recommendation(FILE *f, const hwa__hr_bench *b, const hwa__hr_rec *r) {
    char lab[200] = "", sp[96] = "";
    if (r->row >= 0) hwa__hr_row_label(&b->rows[r->row], HWA__HR_F_ALL & ~HWA__HR_F_WORKLOAD, lab, sizeof lab);
    if (isfinite(r->lo) && isfinite(r->hi)) snprintf(sp, sizeof sp, "; %.2f× [%.2f, %.2f] over f32", r->speedup, r->lo, r->hi);
    else if (isfinite(r->speedup)) snprintf(sp, sizeof sp, "; %.2f× over f32, no interval", r->speedup);
    fputs("<div class=\"rec\"><p><strong>", f);
    hwa__html_puts(f, r->workload);
    fputs("</strong> — <span class=\"verdict\">", f);
    hwa__html_puts(f, r->verdict);
    fputs("</span>: ", f);
    hwa__html_puts(f, lab[0] ? lab : "(row not in the report)");
    hwa__html_puts(f, sp);
    fputs("</p>\n<p>", f);
    hwa__html_puts(f, r->text);
    fputs("</p>\n<pre>", f);
    hwa__html_puts(f, r->command);
    fputs("</pre>\n<pre>", f);
    hwa__html_puts(f, r->c_call);
    fputs("</pre></div>\n", f);
}

static void bench_section(FILE *f, const hwa__hr_doc *doc, const hwa__hr_bench *b, int idx) {
    int measured = 0;
    for (int i = 0; i < b->n_rows; i++) measured += !b->rows[i].skipped;
    fprintf(f, "<h2 id=\"bench%d\">", idx);
    hwa__html_printf(f, "Benchmark: %s", b->source);
    fputs("</h2>\n<p class=\"meta\">", f);
    hwa__html_printf(f, "%d rows, %d measured; created %s by hwadapt %s", b->n_rows, measured,
                     b->created[0] ? b->created : "n/a", b->version[0] ? b->version : "n/a");
    fputs("</p>\n", f);
    if (b->command_line[0]) {
        fputs("<pre>", f);
        hwa__html_puts(f, b->command_line);
        fputs("</pre>\n", f);
    }
    fputs("<h3>Rooflines</h3>\n", f);
    hwa__hr_rooflines(doc, b, f);
    fputs("<h3>Latency and throughput per row</h3>\n", f);
    hwa__hr_latency(b, f);
    fputs("<h3>Sweeps</h3>\n", f);
    hwa__hr_sweeps(b, f);
    fputs("<h3>Recommendations</h3>\n", f);
    for (int i = 0; i < b->n_recs; i++) recommendation(f, b, &b->recs[i]);
    if (!b->n_recs) hwa__hr_skip(f, "No recommendation in this report (hwadapt run makes them).");
}

/* ---- the page ---------------------------------------------------------- */

static void notes(FILE *f, const hwa__hr_doc *doc) {
    if (!doc->notes) return;
    fputs("<h2 id=\"notes\">Notes on the inputs</h2>\n<ul class=\"notes\">\n", f);
    for (const char *p = doc->notes, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        fputs("<li>", f);
        char line[600];
        snprintf(line, sizeof line, "%.*s", (int)(nl - p), p);
        hwa__html_puts(f, line);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static void nav(FILE *f, const hwa__hr_doc *doc) {
    fputs("<nav><a href=\"#machine\">Machine</a>", f);
    for (int i = 0; i < doc->n_benches; i++) fprintf(f, "<a href=\"#bench%d\">Benchmark %d</a>", i, i + 1);
    fputs("<a href=\"#plans\">Placement</a><a href=\"#tuning\">Tuning</a><a href=\"#training\">Training</a></nav>\n",
          f);
}

hwa_status hwa__hr_write(const hwa__hr_doc *doc, const char *title, FILE *f) {
    if (!title || !*title) title = "hwadapt report";
    head(f, title);
    fputs("<h1>", f);
    hwa__html_puts(f, title);
    fputs("</h1>\n<p class=\"meta\">", f);
    hwa__html_printf(f, "Made by hwadapt %s from %s.", HWA_VERSION_STRING, doc->inputs);
    fputs("</p>\n", f);
    nav(f, doc);
    notes(f, doc);
    machine(f, doc);
    for (int i = 0; i < doc->n_benches; i++) bench_section(f, doc, &doc->benches[i], i);
    if (!doc->n_benches) {
        fputs("<h2>Benchmarks</h2>\n", f);
        hwa__hr_skip(f, "No bench report among the inputs: no rooflines, latencies, sweeps or recommendations "
                        "(hwadapt run, or hwadapt bench ... --json, makes one).");
    }
    fputs("<h2 id=\"plans\">Placement plans</h2>\n", f);
    for (int i = 0; i < doc->n_plans; i++) hwa__hr_plan_section(&doc->plans[i], i, f);
    if (!doc->n_plans)
        hwa__hr_skip(f, "No placement plan among the inputs (hwadapt plan WORKLOAD --json -o plan.json makes one; "
                        "with --measure, predicted against measured time).");
    fputs("<h2 id=\"tuning\">Tuning</h2>\n", f);
    for (int i = 0; i < doc->n_tunes; i++) hwa__hr_tune_section(&doc->tunes[i], i, f);
    if (!doc->n_tunes)
        hwa__hr_skip(f, "No tune result among the inputs (hwadapt tune ... -o tuned.json makes one).");
    fputs("<h2 id=\"training\">Training</h2>\n", f);
    hwa__hr_training(doc, f);
    fputs("</body>\n</html>\n", f);
    if (fflush(f) || ferror(f)) return hwa__err(NULL, HWA_E_IO, "report: write error");
    return HWA_OK;
}

/* ---- the API ----------------------------------------------------------- */

/* Reads every input; a path given twice is read once (said in the notes). */
static hwa_status load_all(hwa__hr_doc *doc, const char *const *inputs, int n) {
    if (!inputs || n < 1) return hwa__err(NULL, HWA_E_INVALID, "report: no input files");
    char **seen = calloc((size_t)n, sizeof *seen);
    if (!seen) return hwa__err(NULL, HWA_E_NOMEM, "report: out of memory");
    hwa_status st = HWA_OK;
    for (int i = 0; i < n && !st; i++) {
        if (!inputs[i]) {
            st = hwa__err(NULL, HWA_E_INVALID, "report: input %d is NULL", i);
            break;
        }
        seen[i] = realpath(inputs[i], NULL);
        bool dup = false;
        for (int k = 0; k < i && seen[i]; k++) dup |= seen[k] && !strcmp(seen[k], seen[i]);
        if (dup) hwa__hr_note(doc, "%s was given more than once; it is read once", inputs[i]);
        else st = hwa__hr_load(doc, inputs[i]);
    }
    for (int i = 0; i < n; i++) free(seen[i]);
    free(seen);
    return st;
}

hwa_status hwa_report_html_write(const char *const *inputs, int n_inputs, const char *title, FILE *f) {
    if (!f) return hwa__err(NULL, HWA_E_INVALID, "report: NULL file");
    hwa__hr_doc doc;
    memset(&doc, 0, sizeof doc);
    hwa_status st = load_all(&doc, inputs, n_inputs);
    if (!st) st = hwa__hr_write(&doc, title, f);
    hwa__hr_free(&doc);
    return st;
}

typedef struct save_args {
    const hwa__hr_doc *doc;
    const char *title;
} save_args;

static hwa_status save_fn(void *ud, void *file) {
    save_args *a = ud;
    return hwa__hr_write(a->doc, a->title, file);
}

hwa_status hwa_report_html_save(const char *const *inputs, int n_inputs, const char *title, const char *out_path) {
    if (!out_path) return hwa__err(NULL, HWA_E_INVALID, "report: NULL output path");
    hwa__hr_doc doc;
    memset(&doc, 0, sizeof doc);
    hwa_status st = load_all(&doc, inputs, n_inputs);
    save_args a = {&doc, title};
    if (!st) st = hwa__atomic_write(out_path, save_fn, &a);
    hwa__hr_free(&doc);
    return st;
}
