/* Benchmark reports: rows and the four output formats (aligned table, JSON
 * per docs/bench-report.schema.json, CSV, Markdown). The comparisons and
 * verdicts are verdict.c's. Unknown numbers (NAN) are null in JSON, empty in
 * CSV and "n/a" in text. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "bench/bench_device.h"
#include "bench/text.h"
#include "core/file.h"
#include "core/json_write.h"
#include "core/text.h"

hwa_status hwa_bench_report_init(hwa_bench_report *rep, const hwa_passport *p) {
    if (!rep) return hwa__err(NULL, HWA_E_INVALID, "report: NULL");
    memset(rep, 0, sizeof *rep);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(rep->created, sizeof rep->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hwa__bdev_machine(p, &rep->machine);
    /* The passport travels in the JSON so that a report read later (the
     * HTML report's rooflines) has every device's calibrated peaks, not
     * only the CPU's f32 summary. A build without jansson has no passport
     * JSON; the report is still whole without it. */
    if (p) {
        hwa_status st = hwa_passport_to_json(p, &rep->passport_json);
        if (st == HWA_E_UNSUPPORTED) hwa_clear_error();
        else if (st) return st;
    }
    return HWA_OK;
}

void hwa_bench_report_free(hwa_bench_report *rep) {
    if (!rep) return;
    free(rep->rows);
    free(rep->command_line);
    free(rep->passport_json);
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

/* ---- helpers ----------------------------------------------------------- */

static void fmt_num(char *buf, size_t cap, double v, const char *unknown) {
    if (isfinite(v)) snprintf(buf, cap, "%.4g", v);
    else snprintf(buf, cap, "%s", unknown);
}

static bool measured(const hwa_bench_row *r) { return !r->skipped && r->r.queries > 0; }

/* Integers that may be unknown (-1 -> null). */
static void kv_i64(FILE *f, const char *key, int64_t v) {
    fputs(key, f);
    if (v >= 0) fprintf(f, "%lld", (long long)v);
    else fputs("null", f);
}

static void kv_num(FILE *f, const char *key, double v) {
    fputs(key, f);
    hwa__json_write_num(f, v);
}

static void kv_str(FILE *f, const char *key, const char *v) {
    fputs(key, f);
    hwa__json_write_cstr(f, v);
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
    fprintf(f, ", \"batch\": %lld, \"threads\": %d, \"threads_apply\": %s, \"kernel\": ", (long long)r->batch,
            r->threads, r->no_threads ? "false" : "true");
    hwa__json_write_cstr(f, r->kernel);
    kv_str(f, ", \"scenario\": ", r->scenario);
    fputs(", \"optimizer\": ", f);
    if (r->optimizer[0]) hwa__json_write_cstr(f, r->optimizer);
    else fputs("null", f);
    kv_str(f, ", \"unit\": ", r->unit[0] ? r->unit : "samples");
    if (r->sequences > 0) {
        fprintf(f, ", \"sequences\": %d", (int)r->sequences);
        kv_num(f, ", \"tokens_per_s_per_sequence\": ", ok ? r->samples_per_s / r->sequences : NAN);
    }
    fprintf(f, ",\n     \"skipped\": %s, \"queries\": %lld, \"warmup_queries\": %lld, \"duration_s\": ",
            r->skipped ? "true" : "false", (long long)r->r.queries, (long long)r->r.warmup_queries);
    hwa__json_write_num(f, ok ? r->r.duration_s : NAN);
    kv_num(f, ", \"samples_per_s\": ", ok ? r->samples_per_s : NAN);
    fprintf(f, ",\n     \"reps\": %d, \"samples_per_s_reps\": [", r->reps);
    for (int k = 0; k < r->reps && k < HWA_BENCH_MAX_REPS; k++) {
        if (k) fputs(", ", f);
        hwa__json_write_num(f, r->rep_samples_per_s[k]);
    }
    kv_num(f, "], \"samples_per_s_sd\": ", ok ? r->samples_per_s_sd : NAN);
    fputs(", \"speedup\": ", f);
    if (r->baseline_row >= 0) {
        fprintf(f, "{\"baseline_row\": %d", r->baseline_row);
        kv_num(f, ", \"ratio\": ", r->speedup);
        kv_num(f, ", \"lo\": ", r->speedup_lo);
        kv_num(f, ", \"hi\": ", r->speedup_hi);
        fputs(", \"level\": 0.95}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\n     \"latency_ms\": ", f);
    json_latency(f, &r->r.latency, ok);
    fputs(",\n     \"service_ms\": ", f);
    json_latency(f, &r->r.service, ok);
    kv_num(f, ",\n     \"cv\": ", ok ? r->r.service.cv : NAN);
    fprintf(f, ", \"spread_warning\": %s, \"capped\": %s, \"gflops\": ", r->r.spread_warning ? "true" : "false",
            r->r.capped ? "true" : "false");
    hwa__json_write_num(f, ok ? r->gflops : NAN);
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
        hwa__json_write_num(f, r->peak_rate_qps);
        kv_num(f, ", \"upper_qps\": ", r->peak_upper_qps);
        fprintf(f, ", \"at_ceiling\": %s}", r->peak_at_ceiling ? "true" : "false");
    } else {
        fputs("null", f);
    }
    fputs(",\n     \"load\": ", f);
    if (ok) {
        kv_num(f, "{\"self_cpu_share\": ", r->load_self_share);
        kv_num(f, ", \"others_cpus\": ", r->load_others_cpus);
        kv_num(f, ", \"others_share\": ", r->load_others_share);
        kv_num(f, ", \"throttled_s\": ", r->load_throttled_s);
        kv_num(f, ", \"threads_cut_share\": ", r->threads_cut_share);
        fprintf(f, ", \"contended\": %s}", r->contended ? "true" : "false");
    } else {
        fputs("null", f);
    }
    kv_str(f, ", \"note\": ", r->note);
    fputs("}", f);
}

static void write_json(const hwa_bench_report *rep, FILE *f) {
    const hwa_bench_machine *m = &rep->machine;
    kv_str(f, "{\n  \"schema\": \"hwadapt-bench-report/2\",\n  \"hwadapt_version\": ", HWA_VERSION_STRING);
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
        kv_str(f, ", \"verdict\": ", hwa_bench_verdict_name(r->verdict));
        fprintf(f, ", \"row\": %d, \"fastest_row\": %d, \"baseline_row\": ", r->row, r->fastest_row);
        if (r->baseline_row >= 0) fprintf(f, "%d", r->baseline_row);
        else fputs("null", f);
        kv_num(f, ", \"tolerance\": ", r->tolerance);
        kv_num(f, ",\n     \"speedup\": ", r->speedup);
        kv_num(f, ", \"lo\": ", r->lo);
        kv_num(f, ", \"hi\": ", r->hi);
        fprintf(f, ", \"reps\": %d", r->reps);
        kv_str(f, ",\n     \"command\": ", r->command);
        kv_str(f, ",\n     \"c_call\": ", r->c_call);
        kv_str(f, ",\n     \"text\": ", r->text);
        fputs("}", f);
    }
    fputs(rep->n_recs ? "\n  ]" : "]", f);
    if (rep->passport_json) fprintf(f, ",\n  \"passport\": %s", rep->passport_json);
    fputs("\n}\n", f);
}

/* ---- table, CSV, Markdown --------------------------------------------- */

/* The columns the three flat formats share. The table folds the spread
 * into the throughput ("mean ± sd") and the interval into the speed-up
 * ("6.1x [5.8, 6.4]"), and leaves out the per-repetition values. */
enum {
    C_WORKLOAD, C_DEVICE, C_DTYPE, C_BATCH, C_THREADS, C_KERNEL, C_SCEN, C_OPTIM, C_REPS, C_QUERIES, C_SPS, C_SD,
    C_SPS_REPS, C_SPEEDUP, C_LO, C_HI, C_P50, C_P90, C_P99, C_MAX, C_CV, C_GFLOPS, C_PCT, C_J, C_ERR, C_PEAK, C_OTHERS,
    C_VERDICT, C_NOTE, N_COLS, CELL = 1040
};
static const char *const col_names[N_COLS] = {
    "workload", "device", "dtype", "batch", "threads", "kernel", "scenario", "optimizer", "reps", "queries",
    "samples_per_s", "samples_per_s_sd", "samples_per_s_reps", "speedup", "speedup_lo", "speedup_hi", "p50_ms",
    "p90_ms", "p99_ms", "max_ms", "cv", "gflops", "pct_of_peak", "j_per_sample", "max_abs_err", "peak_qps",
    "others_share", "verdict", "note"};
static const char *const col_heads[N_COLS] = {
    "workload", "device", "dtype", "batch", "thr", "kernel", "scen", "optim", "reps", "queries", "samples/s",
    "sd", "samples/s per rep", "speedup", "lo", "hi", "p50 ms", "p90 ms", "p99 ms",
    "max ms", "cv", "GFLOP/s", "%peak", "J/sample", "err vs f32", "peak q/s", "others", "verdict", "note"};

static bool text_column(int c) {
    return c <= C_DTYPE || c == C_KERNEL || c == C_SCEN || c == C_OPTIM || c == C_SPS_REPS || c >= C_VERDICT;
}

/* The verdict of the recommendation that picked row i, "" when none did. */
static const char *row_verdict(const hwa_bench_report *rep, int i) {
    for (int k = 0; k < rep->n_recs; k++)
        if (rep->recs[k].row == i) return hwa_bench_verdict_name(rep->recs[k].verdict);
    return "";
}

static void row_cells(const hwa_bench_report *rep, int i, char cells[N_COLS][CELL], const char *unknown, bool table) {
    const hwa_bench_row *r = &rep->rows[i];
    bool ok = measured(r);
    const hwa_bench_stats *l = &r->r.latency;
    snprintf(cells[C_WORKLOAD], CELL, "%s", r->workload);
    snprintf(cells[C_DEVICE], CELL, "%s", r->device);
    snprintf(cells[C_DTYPE], CELL, "%s", r->dtype);
    snprintf(cells[C_BATCH], CELL, "%lld", (long long)r->batch);
    if (r->no_threads) snprintf(cells[C_THREADS], CELL, "%s", table ? "-" : unknown); /* the note says why */
    else snprintf(cells[C_THREADS], CELL, "%d", r->threads);
    snprintf(cells[C_KERNEL], CELL, "%s", r->kernel);
    snprintf(cells[C_SCEN], CELL, "%s", r->scenario);
    /* a forward row has no optimizer: as threads where they do not apply */
    snprintf(cells[C_OPTIM], CELL, "%s", r->optimizer[0] ? r->optimizer : table ? "-" : unknown);
    snprintf(cells[C_REPS], CELL, "%d", r->reps);
    snprintf(cells[C_QUERIES], CELL, "%lld", (long long)r->r.queries);
    fmt_num(cells[C_SPS], CELL, ok ? r->samples_per_s : NAN, unknown);
    fmt_num(cells[C_SD], CELL, ok ? r->samples_per_s_sd : NAN, unknown);
    cells[C_SPS_REPS][0] = 0;
    for (int k = 0; ok && k < r->reps && k < HWA_BENCH_MAX_REPS; k++)
        hwa__bench_catf(cells[C_SPS_REPS], CELL, ";", "%.6g", r->rep_samples_per_s[k]);
    fmt_num(cells[C_SPEEDUP], CELL, r->speedup, unknown);
    fmt_num(cells[C_LO], CELL, r->speedup_lo, unknown);
    fmt_num(cells[C_HI], CELL, r->speedup_hi, unknown);
    fmt_num(cells[C_P50], CELL, ok ? l->p50 * 1e3 : NAN, unknown);
    fmt_num(cells[C_P90], CELL, ok ? l->p90 * 1e3 : NAN, unknown);
    fmt_num(cells[C_P99], CELL, ok ? l->p99 * 1e3 : NAN, unknown);
    fmt_num(cells[C_MAX], CELL, ok ? l->max * 1e3 : NAN, unknown);
    fmt_num(cells[C_CV], CELL, ok ? r->r.service.cv : NAN, unknown);
    fmt_num(cells[C_GFLOPS], CELL, ok ? r->gflops : NAN, unknown);
    fmt_num(cells[C_PCT], CELL, ok ? r->pct_of_peak : NAN, unknown);
    fmt_num(cells[C_J], CELL, r->energy_j_per_sample, unknown);
    fmt_num(cells[C_ERR], CELL, r->max_abs_error_vs_f32, unknown);
    fmt_num(cells[C_PEAK], CELL, r->peak_rate_qps, unknown);
    fmt_num(cells[C_OTHERS], CELL, ok ? r->load_others_share : NAN, unknown);
    if (table && ok && isfinite(r->load_others_share))
        snprintf(cells[C_OTHERS], CELL, "%.0f%%", 100 * r->load_others_share);
    snprintf(cells[C_VERDICT], CELL, "%s", row_verdict(rep, i));
    snprintf(cells[C_NOTE], CELL, "%s", r->note);
    if (!table) return;
    if (ok && isfinite(r->samples_per_s_sd)) hwa__bench_catf(cells[C_SPS], CELL, " ± ", "%.2g", r->samples_per_s_sd);
    if (r->baseline_row == i) {
        snprintf(cells[C_SPEEDUP], CELL, "baseline");
    } else if (isfinite(r->speedup)) {
        snprintf(cells[C_SPEEDUP], CELL, "%.2fx", r->speedup);
        if (isfinite(r->speedup_lo))
            hwa__bench_catf(cells[C_SPEEDUP], CELL, " ", "[%.2f, %.2f]", r->speedup_lo, r->speedup_hi);
    }
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
        row_cells(rep, i, cells, "", false);
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
    for (int c = 0; c < N_COLS; c++) fputs(text_column(c) ? " --- |" : " ---: |", f);
    fputs("\n", f);
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(rep, i, cells, "n/a", false);
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
    if (rep->n_recs) fputs("\nRecommendations:\n\n", f);
    for (int k = 0; k < rep->n_recs; k++)
        fprintf(f, "- **%s** (%s): %s; run: `%s`\n", rep->recs[k].workload, hwa_bench_verdict_name(rep->recs[k].verdict),
                rep->recs[k].text, rep->recs[k].command);
}

/* A table line is built whole, so that it ends without trailing spaces. */
typedef struct tline {
    char s[N_COLS * CELL];
    size_t n;
} tline;

static void line_cat(tline *l, const char *s) {
    size_t k = strlen(s);
    if (l->n + k >= sizeof l->s) k = sizeof l->s - 1 - l->n;
    memcpy(l->s + l->n, s, k);
    l->n += k;
    l->s[l->n] = 0;
}

static void print_cell(tline *l, const char *s, int width, bool left) {
    char pad[CELL];
    int k = width - hwa__text_width(s);
    k = k < 0 ? 0 : k >= CELL ? CELL - 1 : k;
    memset(pad, ' ', (size_t)k);
    pad[k] = 0;
    if (!left) line_cat(l, pad);
    line_cat(l, s);
    if (left) line_cat(l, pad);
    line_cat(l, "  ");
}

/* Writes the line without its trailing spaces, a newline, and empties it. */
static void line_end(tline *l, FILE *f) {
    while (l->n && l->s[l->n - 1] == ' ') l->s[--l->n] = 0;
    fputs(l->s, f);
    fputc('\n', f);
    l->n = 0;
    l->s[0] = 0;
}

/* Columns without a single known value are left out of the terminal table
 * (energy on a machine without meters, the peak column without a search);
 * notes go under the table as numbered footnotes. */
static void write_table_wide(const hwa_bench_report *rep, FILE *f) {
    static char cells[N_COLS][CELL];
    int width[N_COLS];
    bool show[N_COLS];
    for (int c = 0; c < N_COLS; c++) {
        width[c] = hwa__text_width(col_heads[c]);
        show[c] = c != C_SD && c != C_SPS_REPS && c != C_LO && c != C_HI && c != C_J && c != C_PEAK && c != C_VERDICT &&
                  c != C_OPTIM;
    }
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(rep, i, cells, "n/a", true);
        for (int c = 0; c < C_NOTE; c++) {
            if (hwa__text_width(cells[c]) > width[c]) width[c] = hwa__text_width(cells[c]);
            if ((c == C_J || c == C_PEAK) && strcmp(cells[c], "n/a")) show[c] = true;
            if (c == C_VERDICT && cells[c][0]) show[c] = true;
            if (c == C_OPTIM && rep->rows[i].optimizer[0]) show[c] = true;
        }
    }
    show[C_NOTE] = false;
    static tline l;
    for (int c = 0; c < N_COLS; c++)
        if (show[c]) print_cell(&l, col_heads[c], width[c], text_column(c));
    line_end(&l, f);
    int note = 0;
    for (int i = 0; i < rep->n_rows; i++) {
        row_cells(rep, i, cells, "n/a", true);
        for (int c = 0; c < C_NOTE; c++)
            if (show[c]) print_cell(&l, cells[c], width[c], text_column(c));
        if (cells[C_NOTE][0]) {
            char m[16];
            snprintf(m, sizeof m, "[%d]", ++note);
            line_cat(&l, m);
        }
        line_end(&l, f);
    }
    note = 0;
    for (int i = 0; i < rep->n_rows; i++)
        if (rep->rows[i].note[0]) fprintf(f, "  [%d] %s\n", ++note, rep->rows[i].note);
}


/* ---- the table that fits 100 columns ------------------------------------ */

/* Readable numbers: 3 significant digits with k/M/G; times in µs, ms or s. */
static void fmt_si(char *buf, size_t cap, double v) {
    static const char *const unit[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (u < 4 && fabs(v) >= 999.5) {
        v /= 1e3;
        u++;
    }
    snprintf(buf, cap, "%.3g%s", v, unit[u]);
}

static void fmt_ms(char *buf, size_t cap, double ms) {
    if (!isfinite(ms)) snprintf(buf, cap, "n/a");
    else if (ms < 0.00995) snprintf(buf, cap, "%.2f µs", ms * 1e3);
    else if (ms < 0.9995) snprintf(buf, cap, "%.3g µs", ms * 1e3);
    else if (ms < 999.5) snprintf(buf, cap, "%.3g ms", ms);
    else snprintf(buf, cap, "%.3g s", ms / 1e3);
}

/* 6.0e-3 rather than 6.035e-03: two digits tell a tolerance apart. */
static void fmt_err(char *buf, size_t cap, double e) {
    if (!isfinite(e)) {
        snprintf(buf, cap, "n/a");
        return;
    }
    if (e == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    char t[32];
    snprintf(t, sizeof t, "%.1e", e);
    char *x = strchr(t, 'e');
    if (!x) {
        snprintf(buf, cap, "%s", t);
        return;
    }
    char sign = x[1] == '-' ? '-' : 0;
    const char *d = x + 2;
    while (*d == '0' && d[1]) d++;
    *x = 0;
    snprintf(buf, cap, "%se%s%s", t, sign ? "-" : "", d);
}

enum {
    K_DEVICE, K_DTYPE, K_BATCH, K_SCEN, K_OPTIM, K_THREADS, K_RATE, K_SPEEDUP, K_P50, K_P99, K_PCT, K_ERR, K_J, K_PEAK,
    K_OTHERS, K_VERDICT, K_N, KCELL = 64
};
static const char *const k_heads[K_N] = {"device", "dtype", "batch", "scen", "optim", "thr", "samples/s", "speedup",
                                         "p50", "p99", "%peak", "max err", "J/sample", "peak q/s", "others",
                                         "verdict"};
/* Which columns are kept first when 100 columns cannot hold them all. */
static const int k_prio[K_N] = {0, 0, 6, 6, 7, 6, 1, 2, 4, 8, 9, 5, 10, 10, 11, 3};
/* The wide table's columns this one never shows. */
static const char *const k_wide_only = "kernel, reps, queries, p90, max, cv, GFLOP/s";

static bool k_left(int c) { return c <= K_OPTIM || c == K_VERDICT; }

static const char *row_unit(const hwa_bench_row *r) { return r->unit[0] ? r->unit : "samples"; }

static void compact_cells(const hwa_bench_report *rep, int i, char cells[K_N][KCELL]) {
    const hwa_bench_row *r = &rep->rows[i];
    const bool ok = measured(r);
    snprintf(cells[K_DEVICE], KCELL, "%s", r->device);
    snprintf(cells[K_DTYPE], KCELL, "%s", r->dtype);
    snprintf(cells[K_BATCH], KCELL, "%lld", (long long)r->batch);
    snprintf(cells[K_SCEN], KCELL, "%s", r->scenario);
    snprintf(cells[K_OPTIM], KCELL, "%s", r->optimizer[0] ? r->optimizer : "-");
    if (r->no_threads) snprintf(cells[K_THREADS], KCELL, "-");
    else snprintf(cells[K_THREADS], KCELL, "%d", r->threads);
    if (!ok) {
        snprintf(cells[K_RATE], KCELL, "%s", r->skipped ? "skipped" : "n/a");
    } else {
        fmt_si(cells[K_RATE], KCELL, r->samples_per_s);
        if (isfinite(r->samples_per_s_sd) && r->samples_per_s > 0) {
            const double pct = 100 * r->samples_per_s_sd / r->samples_per_s;
            hwa__bench_catf(cells[K_RATE], KCELL, " ", pct >= 9.95 ? "±%.0f%%" : "±%.1f%%", pct);
        }
    }
    if (r->baseline_row == i) snprintf(cells[K_SPEEDUP], KCELL, "baseline");
    else if (!isfinite(r->speedup)) snprintf(cells[K_SPEEDUP], KCELL, "n/a");
    else if (isfinite(r->speedup_lo))
        snprintf(cells[K_SPEEDUP], KCELL, "%.2fx [%.2f,%.2f]", r->speedup, r->speedup_lo, r->speedup_hi);
    else snprintf(cells[K_SPEEDUP], KCELL, "%.2fx", r->speedup);
    fmt_ms(cells[K_P50], KCELL, ok ? r->r.latency.p50 * 1e3 : NAN);
    fmt_ms(cells[K_P99], KCELL, ok ? r->r.latency.p99 * 1e3 : NAN);
    snprintf(cells[K_PCT], KCELL, "n/a");
    if (ok && isfinite(r->pct_of_peak)) snprintf(cells[K_PCT], KCELL, "%.0f", r->pct_of_peak);
    fmt_err(cells[K_ERR], KCELL, r->max_abs_error_vs_f32);
    snprintf(cells[K_J], KCELL, "n/a");
    if (isfinite(r->energy_j_per_sample)) fmt_si(cells[K_J], KCELL, r->energy_j_per_sample);
    snprintf(cells[K_PEAK], KCELL, "n/a");
    if (isfinite(r->peak_rate_qps)) fmt_si(cells[K_PEAK], KCELL, r->peak_rate_qps);
    snprintf(cells[K_OTHERS], KCELL, "n/a");
    if (ok && isfinite(r->load_others_share)) snprintf(cells[K_OTHERS], KCELL, "%.0f%%", 100 * r->load_others_share);
    snprintf(cells[K_VERDICT], KCELL, "%s", row_verdict(rep, i));
}

/* Whether row i is the first of its workload (the groups' order). */
static bool first_of_group(const hwa_bench_report *rep, int i) {
    for (int j = 0; j < i; j++)
        if (!strcmp(rep->rows[j].workload, rep->rows[i].workload)) return false;
    return true;
}

/* A note's clauses are separated by "; " outside parentheses. Splits note
 * into at most max clauses (pointers into buf, a copy); returns how many. */
static int note_clauses(const char *note, char *buf, size_t cap, char **out, int max) {
    snprintf(buf, cap, "%s", note);
    int n = 0, depth = 0;
    char *start = buf;
    for (char *p = buf; *p && n < max - 1; p++) {
        depth += (*p == '(') - (*p == ')');
        if (depth == 0 && p[0] == ';' && p[1] == ' ') {
            *p = 0;
            out[n++] = start;
            start = p + 2;
        }
    }
    if (*start) out[n++] = start;
    return n;
}

/* The notes under the table, numbered in the order shown and wrapped. A
 * clause that three notes or more share ("threads do not apply to opencl:0
 * ...") is said once, lettered ([a], [b], ...), and the notes name its
 * letter. */
static void write_notes(const hwa_bench_report *rep, FILE *f, int width) {
    enum { MAX_CLAUSES = 16, MAX_SHARED = 26 };
    typedef struct clause { const char *text; int count, letter; } clause;
    const size_t note_cap = sizeof rep->rows[0].note;
    clause *all = calloc((size_t)rep->n_rows * MAX_CLAUSES + 1, sizeof *all);
    char *bufs = calloc((size_t)rep->n_rows + 1, note_cap);
    int n_all = 0, letters = 0, note = 0;
    /* the distinct clauses in the order shown, and how many notes say each */
    for (int g = 0; all && bufs && g < rep->n_rows; g++) {
        if (!first_of_group(rep, g)) continue;
        for (int i = g; i < rep->n_rows; i++) {
            if (strcmp(rep->rows[i].workload, rep->rows[g].workload) || !rep->rows[i].note[0]) continue;
            char *cl[MAX_CLAUSES];
            const int k = note_clauses(rep->rows[i].note, bufs + (size_t)i * note_cap, note_cap, cl, MAX_CLAUSES);
            for (int c = 0; c < k; c++) {
                int j = 0;
                while (j < n_all && strcmp(all[j].text, cl[c])) j++;
                if (j == n_all) all[n_all++] = (clause){cl[c], 0, 0};
                all[j].count++;
            }
        }
    }
    /* a clause in three notes or more is lettered: two may be a coincidence of figures */
    for (int j = 0; j < n_all && letters < MAX_SHARED; j++)
        if (all[j].count >= 3) {
            all[j].letter = ++letters;
            fprintf(f, "  [%c] ", 'a' + letters - 1);
            hwa__text_wrap(f, all[j].text, 6, 6, width);
        }
    for (int g = 0; g < rep->n_rows; g++) {
        if (!first_of_group(rep, g)) continue;
        for (int i = g; i < rep->n_rows; i++) {
            if (strcmp(rep->rows[i].workload, rep->rows[g].workload) || !rep->rows[i].note[0]) continue;
            char lead[16], text[sizeof rep->rows[0].note + 160] = "", refs[128] = "";
            const int n = snprintf(lead, sizeof lead, "  [%d] ", ++note);
            fputs(lead, f);
            if (!all || !bufs) { /* out of memory: every note in full */
                hwa__text_wrap(f, rep->rows[i].note, n, n, width);
                continue;
            }
            char *cl[MAX_CLAUSES];
            const int k = note_clauses(rep->rows[i].note, bufs + (size_t)i * note_cap, note_cap, cl, MAX_CLAUSES);
            for (int c = 0; c < k; c++) {
                int j = 0;
                while (j < n_all && strcmp(all[j].text, cl[c])) j++;
                if (j < n_all && all[j].letter) hwa__bench_catf(refs, sizeof refs, ", ", "[%c]", 'a' + all[j].letter - 1);
                else hwa__bench_catf(text, sizeof text, "; ", "%s", cl[c]);
            }
            char full[sizeof text + sizeof refs + 8];
            snprintf(full, sizeof full, "%s%s%s", refs, refs[0] && text[0] ? "; " : "", text);
            hwa__text_wrap(f, full, n, n, width);
        }
    }
    free(all);
    free(bufs);
}

/* The rows grouped by workload under a title line that names what the
 * group's rows share (batch, scenario, optimizer); within a group, the
 * columns a user decides on, chosen by k_prio until 100 columns are full;
 * the notes under the table, numbered in the order shown and wrapped. */
static void write_table(const hwa_bench_report *rep, FILE *f) {
    enum { WIDTH = 100 };
    static char cells[K_N][KCELL];
    int width[K_N];
    bool show[K_N], varies[K_N] = {0};
    for (int c = 0; c < K_N; c++) {
        width[c] = hwa__text_width(k_heads[c]);
        show[c] = c != K_J && c != K_PEAK && c != K_BATCH && c != K_SCEN && c != K_OPTIM && c != K_VERDICT;
    }
    width[K_RATE] = 9; /* "tokens/s" or "samples/s" */
    for (int i = 0; i < rep->n_rows; i++) {
        compact_cells(rep, i, cells);
        for (int c = 0; c < K_N; c++)
            if (hwa__text_width(cells[c]) > width[c]) width[c] = hwa__text_width(cells[c]);
        if (strcmp(cells[K_J], "n/a")) show[K_J] = true;
        if (strcmp(cells[K_PEAK], "n/a")) show[K_PEAK] = true;
        if (cells[K_VERDICT][0]) show[K_VERDICT] = true;
        for (int j = 0; j < i; j++) {
            const hwa_bench_row *a = &rep->rows[i], *b = &rep->rows[j];
            if (strcmp(a->workload, b->workload)) continue;
            varies[K_BATCH] |= a->batch != b->batch;
            varies[K_SCEN] |= strcmp(a->scenario, b->scenario) != 0;
            varies[K_OPTIM] |= strcmp(a->optimizer, b->optimizer) != 0;
        }
    }
    for (int c = K_BATCH; c <= K_OPTIM; c++) show[c] = varies[c];
    int n_notes = 0;
    for (int i = 0; i < rep->n_rows; i++) n_notes += rep->rows[i].note[0] != 0;
    char mark[16];
    snprintf(mark, sizeof mark, "[%d]", n_notes);
    /* keep columns in priority order while the line fits */
    bool keep[K_N] = {0};
    int used = 2 + (n_notes ? (int)strlen(mark) : 0);
    for (int p = 0; p <= 11; p++)
        for (int c = 0; c < K_N; c++)
            if (show[c] && k_prio[c] == p && used + width[c] + 2 <= WIDTH) {
                keep[c] = true;
                used += width[c] + 2;
            }
    int note = 0;
    for (int g = 0; g < rep->n_rows; g++) {
        if (!first_of_group(rep, g)) continue;
        const hwa_bench_row *first = &rep->rows[g];
        bool same_batch = true, same_scen = true, same_optim = true, tokens = !strcmp(row_unit(first), "tokens");
        for (int i = g + 1; i < rep->n_rows; i++) {
            const hwa_bench_row *r = &rep->rows[i];
            if (strcmp(r->workload, first->workload)) continue;
            same_batch &= r->batch == first->batch;
            same_scen &= !strcmp(r->scenario, first->scenario);
            same_optim &= !strcmp(r->optimizer, first->optimizer);
            tokens &= !strcmp(row_unit(r), "tokens");
        }
        fprintf(f, "%s%s", g ? "\n" : "", first->workload);
        if (same_batch) fprintf(f, " · batch %lld", (long long)first->batch);
        if (same_scen) fprintf(f, " · %s", first->scenario);
        if (same_optim && first->optimizer[0]) fprintf(f, " · %s", first->optimizer);
        fputs("\n", f);
        static tline l;
        line_cat(&l, "  ");
        for (int c = 0; c < K_N; c++)
            if (keep[c]) print_cell(&l, c == K_RATE && tokens ? "tokens/s" : k_heads[c], width[c], k_left(c));
        line_end(&l, f);
        for (int i = g; i < rep->n_rows; i++) {
            if (strcmp(rep->rows[i].workload, first->workload)) continue;
            compact_cells(rep, i, cells);
            line_cat(&l, "  ");
            for (int c = 0; c < K_N; c++)
                if (keep[c]) print_cell(&l, cells[c], width[c], k_left(c));
            if (rep->rows[i].note[0]) {
                char m[16];
                snprintf(m, sizeof m, "[%d]", ++note);
                line_cat(&l, m);
            }
            line_end(&l, f);
        }
    }
    char more[512];
    snprintf(more, sizeof more, "more columns in the wide table (--wide), CSV and JSON: %s", k_wide_only);
    for (int c = 0; c < K_N; c++)
        if (show[c] && !keep[c]) hwa__bench_catf(more, sizeof more, ", ", "%s", k_heads[c]);
    fputs("\n  ", f);
    hwa__text_wrap(f, more, 2, 4, WIDTH);
    write_notes(rep, f, WIDTH);
}

hwa_status hwa_bench_report_write(const hwa_bench_report *rep, hwa_bench_format fmt, FILE *f) {
    if (!rep || !f) return hwa__err(NULL, HWA_E_INVALID, "report: NULL");
    switch (fmt) {
    case HWA_BENCH_TABLE: write_table(rep, f); break;
    case HWA_BENCH_TABLE_WIDE: write_table_wide(rep, f); break;
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
