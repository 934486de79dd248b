/* Benchmark reports: rows, the recommendation, and the four output formats
 * (aligned table, JSON per docs/bench-report.schema.json, CSV, Markdown).
 * Unknown numbers (NAN) are null in JSON, empty in CSV and "n/a" in text. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "bench/bench_device.h"
#include "core/file.h"
#include "core/json_write.h"

hwa_status hwa_bench_report_init(hwa_bench_report *rep, const hwa_passport *p) {
    if (!rep) return hwa__err(NULL, HWA_E_INVALID, "report: NULL");
    memset(rep, 0, sizeof *rep);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(rep->created, sizeof rep->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hwa__bdev_machine(p, &rep->machine);
    return HWA_OK;
}

void hwa_bench_report_free(hwa_bench_report *rep) {
    if (!rep) return;
    free(rep->rows);
    free(rep->command_line);
    memset(rep, 0, sizeof *rep);
}

hwa_status hwa_bench_report_add(hwa_bench_report *rep, const hwa_bench_row *row) {
    if (rep->n_rows == rep->cap_rows) {
        int cap = rep->cap_rows ? rep->cap_rows * 2 : 16;
        hwa_bench_row *r = realloc(rep->rows, (size_t)cap * sizeof *r);
        if (!r) return hwa__err(NULL, HWA_E_NOMEM, "report: out of memory for %d rows", cap);
        rep->rows = r;
        rep->cap_rows = cap;
    }
    rep->rows[rep->n_rows++] = *row;
    return HWA_OK;
}

hwa_status hwa_bench_report_set_command(hwa_bench_report *rep, int argc, char *const *argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s) return hwa__err(NULL, HWA_E_NOMEM, "report: out of memory");
    s[0] = 0;
    for (int i = 0; i < argc; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    free(rep->command_line);
    rep->command_line = s;
    return HWA_OK;
}

/* ---- recommendation ---------------------------------------------------- */

hwa_status hwa_bench_recommend(hwa_bench_report *rep, const char *workload, double tolerance) {
    if (rep->n_recs >= HWA_BENCH_MAX_RECS) return hwa__err(NULL, HWA_E_RANGE, "report: too many recommendations");
    int best = -1;
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_row *r = &rep->rows[i];
        if (r->skipped || strcmp(r->workload, workload) || !(r->max_abs_error_vs_f32 <= tolerance)) continue;
        if (best < 0 || r->samples_per_s > rep->rows[best].samples_per_s) best = i;
    }
    if (best < 0)
        return hwa__err(NULL, HWA_E_NOTFOUND, "no measured %s row with an error vs f32 within %g", workload, tolerance);
    const hwa_bench_row *b = &rep->rows[best];
    int base = -1;
    for (int i = 0; i < rep->n_rows && base < 0; i++) {
        const hwa_bench_row *r = &rep->rows[i];
        if (!r->skipped && !strcmp(r->workload, workload) && !strcmp(r->dtype, "f32") && !strcmp(r->device, b->device) &&
            r->batch == b->batch && !strcmp(r->scenario, b->scenario))
            base = i;
    }
    hwa_bench_recommendation *rec = &rep->recs[rep->n_recs++];
    memset(rec, 0, sizeof *rec);
    snprintf(rec->workload, sizeof rec->workload, "%s", workload);
    rec->row = best;
    rec->baseline_row = base;
    rec->tolerance = tolerance;
    rec->speedup = base >= 0 ? b->samples_per_s / rep->rows[base].samples_per_s : NAN;
    if (base == best || base < 0)
        snprintf(rec->text, sizeof rec->text, "%s: %s %s, %d thread(s), batch %lld (%.4g samples/s)%s", workload,
                 b->device, b->dtype, b->threads, (long long)b->batch, b->samples_per_s,
                 base == best ? ": plain f32 is the fastest within tolerance" : "");
    else
        snprintf(rec->text, sizeof rec->text,
                 "%s: %s %s, %d thread(s), batch %lld: %.4g samples/s, %.2fx the f32 configuration, "
                 "max abs error vs f32 %.3g (tolerance %g)",
                 workload, b->device, b->dtype, b->threads, (long long)b->batch, b->samples_per_s, rec->speedup,
                 b->max_abs_error_vs_f32, tolerance);
    return HWA_OK;
}

/* ---- helpers ----------------------------------------------------------- */

static void fmt_num(char *buf, size_t cap, double v, const char *unknown) {
    if (isfinite(v)) snprintf(buf, cap, "%.4g", v);
    else snprintf(buf, cap, "%s", unknown);
}

static bool measured(const hwa_bench_row *r) { return !r->skipped && r->r.queries > 0; }

static void json_str(FILE *f, const char *s) { hwa__json_write_str(f, s, s ? strlen(s) : 0); }

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

/* Integers that may be unknown (-1 -> null). */
static void kv_i64(FILE *f, const char *key, int64_t v) {
    fputs(key, f);
    if (v >= 0) fprintf(f, "%lld", (long long)v);
    else fputs("null", f);
}

static void kv_num(FILE *f, const char *key, double v) {
    fputs(key, f);
    json_num(f, v);
}

static void kv_str(FILE *f, const char *key, const char *v) {
    fputs(key, f);
    json_str(f, v);
}

static void json_latency(FILE *f, const hwa_bench_stats *s, bool ok) {
    kv_num(f, "{\"p50\": ", ok ? s->p50 * 1e3 : NAN);
    kv_num(f, ", \"p90\": ", ok ? s->p90 * 1e3 : NAN);
    kv_num(f, ", \"p99\": ", ok ? s->p99 * 1e3 : NAN);
    kv_num(f, ", \"max\": ", ok ? s->max * 1e3 : NAN);
    kv_num(f, ", \"mean\": ", ok ? s->mean * 1e3 : NAN);
    fputs("}", f);
}

/* ---- JSON -------------------------------------------------------------- */

static void write_json_row(const hwa_bench_row *r, FILE *f) {
    bool ok = measured(r);
    kv_str(f, "    {\"workload\": ", r->workload);
    kv_str(f, ", \"device\": ", r->device);
    kv_str(f, ", \"dtype\": ", r->dtype);
    fprintf(f, ", \"batch\": %lld, \"threads\": %d, \"kernel\": ", (long long)r->batch, r->threads);
    json_str(f, r->kernel);
    kv_str(f, ", \"scenario\": ", r->scenario);
    fprintf(f, ",\n     \"skipped\": %s, \"queries\": %lld, \"warmup_queries\": %lld, \"duration_s\": ",
            r->skipped ? "true" : "false", (long long)r->r.queries, (long long)r->r.warmup_queries);
    json_num(f, ok ? r->r.duration_s : NAN);
    kv_num(f, ", \"samples_per_s\": ", ok ? r->samples_per_s : NAN);
    fputs(",\n     \"latency_ms\": ", f);
    json_latency(f, &r->r.latency, ok);
    fputs(",\n     \"service_ms\": ", f);
    json_latency(f, &r->r.service, ok);
    kv_num(f, ",\n     \"cv\": ", ok ? r->r.service.cv : NAN);
    fprintf(f, ", \"spread_warning\": %s, \"capped\": %s, \"gflops\": ", r->r.spread_warning ? "true" : "false",
            r->r.capped ? "true" : "false");
    json_num(f, ok ? r->gflops : NAN);
    kv_num(f, ", \"gbps\": ", ok ? r->gbps : NAN);
    kv_num(f, ", \"pct_of_peak\": ", ok ? r->pct_of_peak : NAN);
    fprintf(f, ",\n     \"planned_bytes\": %lld", (long long)r->planned_bytes);
    kv_i64(f, ", \"peak_rss_bytes\": ", r->peak_rss_bytes);
    kv_num(f, ", \"power_w\": ", r->power_w);
    kv_num(f, ", \"idle_power_w\": ", r->idle_power_w);
    kv_num(f, ", \"energy_j_per_sample\": ", r->energy_j_per_sample);
    kv_num(f, ", \"max_abs_error_vs_f32\": ", r->max_abs_error_vs_f32);
    fputs(",\n     \"server\": ", f);
    if (!strcmp(r->scenario, "server")) {
        kv_num(f, "{\"target_qps\": ", ok ? r->r.target_rate : NAN);
        kv_num(f, ", \"p99_bound_ms\": ", r->p99_bound_ms);
        fprintf(f, ", \"meets_bound\": %s, \"peak_qps\": ", ok && r->r.meets_bound ? "true" : "false");
        json_num(f, r->peak_rate_qps);
        fputs("}", f);
    } else {
        fputs("null", f);
    }
    kv_str(f, ", \"note\": ", r->note);
    fputs("}", f);
}

static void write_json(const hwa_bench_report *rep, FILE *f) {
    const hwa_bench_machine *m = &rep->machine;
    kv_str(f, "{\n  \"schema\": \"hwadapt-bench-report/1\",\n  \"hwadapt_version\": ", HWA_VERSION_STRING);
    kv_str(f, ",\n  \"created\": ", rep->created);
    kv_str(f, ",\n  \"command_line\": ", rep->command_line ? rep->command_line : "");
    kv_str(f, ",\n  \"machine\": {\"cpu\": ", m->cpu);
    fprintf(f, ", \"logical_cpus\": %d", m->logical_cpus);
    kv_i64(f, ", \"memory_bytes\": ", m->memory_bytes);
    kv_str(f, ", \"isa\": ", m->isa);
    kv_str(f, ", \"devices\": ", m->devices);
    kv_num(f, ",\n              \"peak_gflops_f32\": ", m->peak_gflops_f32);
    kv_num(f, ", \"memory_gbps\": ", m->memory_gbps);
    kv_str(f, ", \"power_meter\": ", m->power_meter);
    kv_str(f, ", \"calibration\": ", m->calibration);
    fputs("},\n  \"results\": [\n", f);
    for (int i = 0; i < rep->n_rows; i++) {
        write_json_row(&rep->rows[i], f);
        fputs(i + 1 < rep->n_rows ? ",\n" : "\n", f);
    }
    fputs("  ],\n  \"recommendations\": [", f);
    for (int i = 0; i < rep->n_recs; i++) {
        const hwa_bench_recommendation *r = &rep->recs[i];
        fputs(i ? ",\n    " : "\n    ", f);
        kv_str(f, "{\"workload\": ", r->workload);
        fprintf(f, ", \"row\": %d, \"baseline_row\": ", r->row);
        if (r->baseline_row >= 0) fprintf(f, "%d", r->baseline_row);
        else fputs("null", f);
        kv_num(f, ", \"tolerance\": ", r->tolerance);
        kv_num(f, ", \"speedup\": ", r->speedup);
        kv_str(f, ", \"text\": ", r->text);
        fputs("}", f);
    }
    fputs(rep->n_recs ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* ---- table, CSV, Markdown --------------------------------------------- */

/* The columns the three flat formats share. */
enum { N_COLS = 20, CELL = 336 };
static const char *const col_names[N_COLS] = {
    "workload", "device", "dtype", "batch", "threads", "kernel", "scenario", "queries", "samples_per_s", "p50_ms",
    "p90_ms", "p99_ms", "max_ms", "cv", "gflops", "pct_of_peak", "j_per_sample", "max_abs_err", "peak_qps", "note"};
static const char *const col_heads[N_COLS] = {
    "workload", "device", "dtype", "batch", "thr", "kernel", "scen", "queries", "samples/s", "p50 ms",
    "p90 ms", "p99 ms", "max ms", "cv", "GFLOP/s", "%peak", "J/sample", "err vs f32", "peak q/s", "note"};

static void row_cells(const hwa_bench_row *r, char cells[N_COLS][CELL], const char *unknown) {
    bool ok = measured(r);
    const hwa_bench_stats *l = &r->r.latency;
    snprintf(cells[0], CELL, "%s", r->workload);
    snprintf(cells[1], CELL, "%s", r->device);
    snprintf(cells[2], CELL, "%s", r->dtype);
    snprintf(cells[3], CELL, "%lld", (long long)r->batch);
    snprintf(cells[4], CELL, "%d", r->threads);
    snprintf(cells[5], CELL, "%s", r->kernel);
    snprintf(cells[6], CELL, "%s", r->scenario);
    snprintf(cells[7], CELL, "%lld", (long long)r->r.queries);
    fmt_num(cells[8], CELL, ok ? r->samples_per_s : NAN, unknown);
    fmt_num(cells[9], CELL, ok ? l->p50 * 1e3 : NAN, unknown);
    fmt_num(cells[10], CELL, ok ? l->p90 * 1e3 : NAN, unknown);
    fmt_num(cells[11], CELL, ok ? l->p99 * 1e3 : NAN, unknown);
    fmt_num(cells[12], CELL, ok ? l->max * 1e3 : NAN, unknown);
    fmt_num(cells[13], CELL, ok ? r->r.service.cv : NAN, unknown);
    fmt_num(cells[14], CELL, ok ? r->gflops : NAN, unknown);
    fmt_num(cells[15], CELL, ok ? r->pct_of_peak : NAN, unknown);
    fmt_num(cells[16], CELL, r->energy_j_per_sample, unknown);
    fmt_num(cells[17], CELL, r->max_abs_error_vs_f32, unknown);
    fmt_num(cells[18], CELL, r->peak_rate_qps, unknown);
    snprintf(cells[19], CELL, "%s", r->note);
}

static void write_csv_cell(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv(const hwa_bench_report *rep, FILE *f) {
    for (int c = 0; c < N_COLS; c++) fprintf(f, "%s%s", c ? "," : "", col_names[c]);
    fputs("\r\n", f);
    static char cells[N_COLS][CELL];
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(&rep->rows[i], cells, "");
        for (int c = 0; c < N_COLS; c++) {
            if (c) fputc(',', f);
            write_csv_cell(f, cells[c]);
        }
        fputs("\r\n", f);
    }
}

static void write_markdown(const hwa_bench_report *rep, FILE *f) {
    static char cells[N_COLS][CELL];
    fputs("|", f);
    for (int c = 0; c < N_COLS; c++) fprintf(f, " %s |", col_heads[c]);
    fputs("\n|", f);
    for (int c = 0; c < N_COLS; c++) fputs(c >= 3 && c <= 4 ? " ---: |" : (c >= 7 && c < 19 ? " ---: |" : " --- |"), f);
    fputs("\n", f);
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(&rep->rows[i], cells, "n/a");
        fputs("|", f);
        for (int c = 0; c < N_COLS; c++) {
            fputc(' ', f);
            for (const char *s = cells[c]; *s; s++) {
                if (*s == '|') fputc('\\', f);
                fputc(*s == '\n' ? ' ' : *s, f);
            }
            fputs(" |", f);
        }
        fputs("\n", f);
    }
}

/* Columns without a single known value are left out of the terminal table
 * (energy on a machine without meters, the peak column without a search);
 * notes go under the table as numbered footnotes. */
static void write_table(const hwa_bench_report *rep, FILE *f) {
    static char cells[N_COLS][CELL];
    int width[N_COLS];
    bool show[N_COLS];
    for (int c = 0; c < N_COLS; c++) {
        width[c] = (int)strlen(col_heads[c]);
        show[c] = c < 15 || c == 17;
    }
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(&rep->rows[i], cells, "n/a");
        for (int c = 0; c < N_COLS - 1; c++) {
            if ((int)strlen(cells[c]) > width[c]) width[c] = (int)strlen(cells[c]);
            if (strcmp(cells[c], "n/a")) show[c] = true;
        }
    }
    show[N_COLS - 1] = false;
    for (int c = 0; c < N_COLS; c++)
        if (show[c]) fprintf(f, c < 8 && c != 3 && c != 4 ? "%-*s  " : "%*s  ", width[c], col_heads[c]);
    fputs("\n", f);
    int note = 0;
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(&rep->rows[i], cells, "n/a");
        for (int c = 0; c < N_COLS - 1; c++)
            if (show[c]) fprintf(f, c < 8 && c != 3 && c != 4 ? "%-*s  " : "%*s  ", width[c], cells[c]);
        if (cells[N_COLS - 1][0]) fprintf(f, "[%d]", ++note);
        fputs("\n", f);
    }
    note = 0;
    for (int i = 0; i < rep->n_rows; i++)
        if (rep->rows[i].note[0]) fprintf(f, "  [%d] %s\n", ++note, rep->rows[i].note);
}

hwa_status hwa_bench_report_write(const hwa_bench_report *rep, hwa_bench_format fmt, FILE *f) {
    if (!rep || !f) return hwa__err(NULL, HWA_E_INVALID, "report: NULL");
    switch (fmt) {
    case HWA_BENCH_TABLE: write_table(rep, f); break;
    case HWA_BENCH_JSON: write_json(rep, f); break;
    case HWA_BENCH_CSV: write_csv(rep, f); break;
    case HWA_BENCH_MARKDOWN: write_markdown(rep, f); break;
    default: return hwa__err(NULL, HWA_E_INVALID, "report: unknown format %d", (int)fmt);
    }
    if (fflush(f) || ferror(f)) return hwa__err(NULL, HWA_E_IO, "report: write error");
    return HWA_OK;
}

typedef struct save_args {
    const hwa_bench_report *rep;
    hwa_bench_format fmt;
} save_args;

static hwa_status save_fn(void *ud, void *file) {
    save_args *a = ud;
    return hwa_bench_report_write(a->rep, a->fmt, file);
}

hwa_status hwa_bench_report_save(const hwa_bench_report *rep, hwa_bench_format fmt, const char *path) {
    save_args a = {rep, fmt};
    return hwa__atomic_write(path, save_fn, &a);
}
