/* hwadapt run — the main job (also: hwadapt with no arguments, make run).
 * The passport, its calibration (cached per machine), the seed workloads on
 * every device and precision within a time budget (the precisions of a
 * workload measured interleaved over repetitions), a verdict per workload
 * with its interval, command and C calls, the table, and the JSON report
 * written atomically. */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "progress.h"
#include "core/text.h"
#include "hwadapt/hwadapt.h"

/* The seed workloads, cheapest first so their rates predict the rest. */
static const char *const default_workloads = "linear1000,fmnist-mlp-train,mlp1000,mlp1000-train";
/* Repetitions of each row (see the budget below). */
static const int main_job_reps = 10;
/* Max abs error against f32 a lower precision may have to be recommended. */
static const double default_tolerance = 1e-2;

static void progress(void *ud, int row, int n_rows, const char *msg) { cli_progress_step(ud, row, n_rows, msg); }

/* The output fits WIDTH columns; labelled lines start their text at LEAD. */
enum { WIDTH = 100, LEAD = 13 };

/* A labelled paragraph ("why      ..."), wrapped under its text. */
static void print_para(FILE *f, const char *label, const char *text, int lead) {
    fprintf(f, "%-*s", lead, label);
    hwa__text_wrap(f, text, lead, lead, WIDTH);
}

/* A shell command that runs as printed: longer than the line, it breaks
 * before an option with a backslash, under its own start. */
static void print_command(FILE *f, const char *label, const char *cmd, int lead) {
    fprintf(f, "%-*s", lead, label);
    int col = lead;
    for (const char *s = cmd; *s;) {
        const char *e = strstr(s + 1, " --"); /* the next option */
        const int n = e ? (int)(e - s) : (int)strlen(s);
        if (col > lead && col + n + 2 > WIDTH) {
            fprintf(f, " \\\n%*s", lead + 2, "");
            col = lead + 2;
            if (*s == ' ') s++;
            continue;
        }
        fwrite(s, 1, (size_t)n, f);
        col += n;
        s += n;
    }
    fputc('\n', f);
}

static void print_summary(const hwa_bench_machine *m, FILE *f) {
    char mem[32] = "n/a", peak[32] = "n/a", bw[32] = "n/a";
    if (m->memory_bytes >= 0) snprintf(mem, sizeof mem, "%.1f GiB", (double)m->memory_bytes / (1 << 30));
    if (isfinite(m->peak_gflops_f32)) snprintf(peak, sizeof peak, "%.1f GFLOP/s", m->peak_gflops_f32);
    if (isfinite(m->memory_gbps)) snprintf(bw, sizeof bw, "%.1f GB/s", m->memory_gbps);
    char line[400];
    snprintf(line, sizeof line, "%s, %d logical CPUs, %s memory", m->cpu, m->logical_cpus, mem);
    print_para(f, "machine", line, LEAD);
    print_para(f, "isa", m->isa, LEAD);
    print_para(f, "devices", m->devices, LEAD);
    snprintf(line, sizeof line, "f32 peak %s, memory %s (triad)", peak, bw);
    print_para(f, "roofline", line, LEAD);
    print_para(f, "calibration", m->calibration, LEAD);
    print_para(f, "power", m->power_meter, LEAD);
    /* libgomp's wait policy is fixed before main: say which one runs */
    const char *pol = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT"), *re = getenv("HWA_OMP_REEXEC");
    char omp[96];
    if (pol) snprintf(omp, sizeof omp, "with OMP_WAIT_POLICY=%s", pol);
    else if (spin)
        snprintf(omp, sizeof omp, "with GOMP_SPINCOUNT=%s%s", spin, re && !strcmp(re, "done") ? ", set by hwadapt" : "");
    else snprintf(omp, sizeof omp, "with libgomp's default spin");
    const char *adapt = getenv("HWA_ADAPT_THREADS");
    char threads[256];
    snprintf(threads, sizeof threads, "hwadapt's pool for its kernels; OpenMP for oneDNN's, %s; %s", omp,
             adapt && !strcmp(adapt, "0") ? "a fixed count (HWA_ADAPT_THREADS=0)" : "fewer while others hold CPUs");
    print_para(f, "threads", threads, LEAD);
}

/* Whether row i is its workload's first. */
static bool first_of_workload(const hwa_bench_report *rep, int i) {
    for (int j = 0; j < i; j++)
        if (!strcmp(rep->rows[j].workload, rep->rows[i].workload)) return false;
    return true;
}

static void print_verdicts(const hwa_bench_report *rep, double tol) {
    printf("\nverdict per workload (max abs error vs f32 <= %g; recommended only when the 95%% interval of the\n"
           "speed-up over f32, paired by repetition, lies above 1):\n", tol);
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_recommendation *r = NULL;
        for (int k = 0; k < rep->n_recs && !r; k++)
            if (!strcmp(rep->recs[k].workload, rep->rows[i].workload)) r = &rep->recs[k];
        if (!first_of_workload(rep, i)) continue;
        if (!r) {
            printf("\n  %-17s none measured within tolerance\n", rep->rows[i].workload);
            continue;
        }
        const hwa_bench_row *row = &rep->rows[r->row], *fast = &rep->rows[r->fastest_row];
        char iv[64] = "no interval";
        if (isfinite(r->lo)) snprintf(iv, sizeof iv, "%.2fx [%.2f, %.2f]", r->speedup, r->lo, r->hi);
        else if (isfinite(r->speedup)) snprintf(iv, sizeof iv, "%.2fx, no interval", r->speedup);
        /* "f32, 2 thread(s) on cpu"; a device without a thread setting: "f32 on opencl:0" */
        char head[400], thr[32] = "";
        if (!row->no_threads) snprintf(thr, sizeof thr, ", %d thread(s)", row->threads);
        if (r->verdict == HWA_BENCH_TIED && r->fastest_row == r->row)
            snprintf(head, sizeof head, "%s%s on %s   (the fastest within tolerance)", row->dtype, thr, row->device);
        else if (r->verdict == HWA_BENCH_TIED)
            snprintf(head, sizeof head, "%s%s on %s   (fastest: %s on %s at %s over f32)", row->dtype, thr,
                     row->device, fast->dtype, fast->device, iv);
        else snprintf(head, sizeof head, "%s%s on %s at %s over f32", row->dtype, thr, row->device, iv);
        const int at = printf("\n  %-17s %-12s ", r->workload, hwa_bench_verdict_name(r->verdict)) - 1;
        hwa__text_wrap(stdout, head, at, at, WIDTH);
        if (row->placement[0]) {
            char placed[320];
            snprintf(placed, sizeof placed, "%s, %s", row->placement, row->placement_why);
            print_para(stdout, "    placed", placed, LEAD);
        }
        print_para(stdout, "    why", r->text, LEAD);
        print_command(stdout, "    command", r->command, LEAD);
        print_para(stdout, "    C", r->c_call, LEAD);
    }
}

/* What other processes took from the rows, and what to do about it. */
static void print_contention(const hwa_bench_report *rep) {
    int measured = 0, contended = 0, cut = 0;
    double worst = 0;
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_row *r = &rep->rows[i];
        if (r->skipped) continue;
        measured++;
        contended += r->contended;
        cut += r->threads_cut_share > 0;
        if (isfinite(r->load_others_share) && r->load_others_share > worst) worst = r->load_others_share;
    }
    if (!measured) return;
    if (!contended) {
        char text[160];
        snprintf(text, sizeof text, "none: other processes took at most %.0f%% of the CPUs while any row was measured",
                 100 * worst);
        fputs("\n", stdout);
        print_para(stdout, "contention", text, LEAD);
        return;
    }
    char text[1024];
    snprintf(text, sizeof text,
             "%d of %d rows were measured while others used the CPUs (up to %.0f%% of them; the notes say who: "
             "other processes, the cgroup's quota or the hypervisor)%s. The rows of a workload were interleaved, so "
             "their ratios and verdicts still compare like with like, but absolute figures are lower than this "
             "machine gives alone: rerun `hwadapt run` when it is idle for figures to quote, and keep other work off "
             "these CPUs (or give hwadapt fewer threads with --threads) when you run the commands above.",
             contended, measured, 100 * worst, cut ? "; hwadapt ran some computes on fewer threads while they did" : "");
    fputs("\n", stdout);
    print_para(stdout, "contention", text, LEAD);
}

/* The settings the verdicts chose, for --config: [bench WORKLOAD] for each
 * workload, [train] from fmnist-mlp-train's, each with its device, and the
 * first verdict's device and thread count in [all]. A device without a
 * thread setting (opencl:N) gets no threads key. */
static hwa_status save_settings(const hwa_bench_report *rep, const char *path) {
    hwa_settings *s = hwa_settings_new();
    if (!s) return HWA_E_NOMEM;
    hwa_status st = HWA_OK;
    char v[32];
    for (int k = 0; !st && k < rep->n_recs; k++) {
        const hwa_bench_recommendation *r = &rep->recs[k];
        const hwa_bench_row *row = &rep->rows[r->row];
        char sec[64];
        if (!strcmp(r->workload, "fmnist-mlp-train")) snprintf(sec, sizeof sec, "train");
        else snprintf(sec, sizeof sec, "bench %s", r->workload);
        snprintf(v, sizeof v, "%d", row->threads);
        if (k == 0) {
            if (!st) st = hwa_settings_set(s, "all", "device", row->device);
            if (!st && !row->no_threads) st = hwa_settings_set(s, "all", "threads", v);
        }
        if (!st) st = hwa_settings_set(s, sec, "device", row->device);
        if (!st) st = hwa_settings_set(s, sec, "dtype", row->dtype);
        if (!st && !row->no_threads) st = hwa_settings_set(s, sec, "threads", v);
        snprintf(v, sizeof v, "%lld", (long long)row->batch);
        if (!st) st = hwa_settings_set(s, sec, "batch", v);
    }
    if (!st) st = hwa_settings_save(s, path);
    hwa_settings_free(s);
    return st;
}

/* The HTML report beside the JSON one: PATH.json -> PATH.html, any other
 * name gets ".html" appended. Drawn from the JSON just saved, so the page
 * shows exactly what the file holds. Non-zero when it cannot be written. */
static int write_html(const char *json_path) {
    size_t n = strlen(json_path);
    char *html = malloc(n + 6);
    if (!html) return 1;
    memcpy(html, json_path, n + 1);
    if (n > 5 && !strcmp(html + n - 5, ".json")) html[n - 5] = 0;
    strcat(html, ".html");
    int rc = hwa_report_html_save(&json_path, 1, "hwadapt: the main job", html) != HWA_OK;
    if (rc) fprintf(stderr, "hwadapt: writing %s: %s\n", html, hwa_last_error());
    else {
        char *abs = realpath(html, NULL);
        printf("html         %s\n", abs ? abs : html);
        free(abs);
    }
    free(html);
    return rc;
}

static void usage(void) {
    printf("usage: hwadapt [run] [OPTIONS]\n\n"
           "The main job: the hardware passport and its calibration (cached), the seed workloads on every\n"
           "device and precision within the budget, the table, and per workload a verdict: the fastest\n"
           "configuration whose max abs error against f32 is at most E is recommended only when the 95%%\n"
           "interval of its speed-up over f32, from %d interleaved repetitions, lies above 1; otherwise f32,\n"
           "tied within the noise. With the command and the C calls that run it, a JSON report\n"
           "(docs/bench-report.schema.json) and the chosen settings (docs/settings.md), which\n"
           "`hwadapt train`, `generate` and `bench` take with --config FILE.\n\n"
           "  --budget S           time budget of the whole job in seconds (default 50)\n"
           "  --workloads LIST     the seed workloads, a comma list (default\n"
           "                       %s)\n"
           "  --tolerance E        max abs error against f32 a lower precision may have (default %g)\n"
           "  --devices LIST       each workload placed by the scheduler across LIST (cpu,opencl:0; device\n"
           "                       auto, `hwadapt plan WORKLOAD` shows why), in every precision; each verdict\n"
           "                       names the placement (default: each device on its own)\n"
           "  -o REPORT            the JSON report (default hwadapt-report.json)\n"
           "  --settings FILE      the chosen settings (default hwadapt.conf)\n"
           "  --no-settings        write no settings file\n"
           "  --wide               the table with every column: kernel, reps, queries, p90, max, cv, ...\n"
           "                       (default: the table fits 100 columns)\n"
           "  --quiet              no progress line on stderr (default: one, on a terminal)\n"
           "  --profile            the CPU backend's time per (op, shape, kernel) on stderr, per backend\n"
           "                       (the same as HWA_PROFILE=1; default: off)\n"
           "\nIt also writes the HTML report beside the JSON one (REPORT with .html for .json;\n"
           "docs/report.md).\n\n",
           main_job_reps, default_workloads, default_tolerance);
    cmd_run_onnx_usage();
}

/* Whether s names an ONNX model (ends with .onnx). */
static bool is_onnx_path(const char *s) {
    const size_t n = strlen(s);
    return n > 5 && !strcasecmp(s + n - 5, ".onnx");
}

int cmd_run(int argc, char **argv) {
    if (argc > 1 && is_onnx_path(argv[1])) return cmd_run_onnx(argc, argv);
    double budget = 50, tol = default_tolerance;
    const char *report_path = NULL, *workloads = default_workloads, *settings_path = NULL, *settings_flag = NULL;
    const char *devices = NULL;
    bool quiet = false, wide = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        } else if (!strcmp(a, "--no-settings")) {
            if ((rc = cli_one_of("run", &settings_flag, a))) return rc;
            continue;
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
            continue;
        } else if (!strcmp(a, "--wide")) {
            wide = true;
            continue;
        } else if (!strcmp(a, "--profile")) {
            setenv("HWA_PROFILE", "1", 1); /* the CPU backend's counters, read when it starts */
            continue;
        } else if (!strcmp(a, "--input") || !strcmp(a, "--output-dir") || !strcmp(a, "--device")) {
            return cli_usage_error("run", a, NULL, "applies to an ONNX model; allowed: hwadapt run MODEL.onnx %s ...", a);
        } else if (strcmp(a, "--budget") && strcmp(a, "--tolerance") && strcmp(a, "--devices") &&
                   strcmp(a, "--workloads") && strcmp(a, "-o") && strcmp(a, "--settings")) {
            return a[0] == '-' ? cli_unknown_option("run", a)
                               : cli_usage_error("run", a, NULL, "extra argument; allowed: options only");
        } else if (!v) {
            return cli_missing_value("run", a, !strcmp(a, "--budget") ? "seconds" : !strcmp(a, "--tolerance") ? "a number"
                                               : !strcmp(a, "-o") || !strcmp(a, "--settings") ? "FILE" : "LIST");
        }
        i++;
        if (!strcmp(a, "--budget")) rc = cli_num_opt("run", a, v, NULL, "(0, inf)", &budget);
        else if (!strcmp(a, "--tolerance")) rc = cli_num_opt("run", a, v, NULL, "[0, inf)", &tol);
        else if (!strcmp(a, "--devices")) devices = v;
        else if (!strcmp(a, "--workloads")) workloads = v;
        else if (!strcmp(a, "-o")) rc = cli_once("run", a, &report_path, v);
        else if (!(rc = cli_one_of("run", &settings_flag, a))) rc = cli_once("run", a, &settings_path, v);
        if (rc) return rc;
    }
    if (!report_path) report_path = "hwadapt-report.json";
    if (!settings_flag) settings_path = "hwadapt.conf";
    /* the files it will write, before the passport and the measurements */
    if (cli_output_file("run", "-o", report_path) || (settings_path && cli_output_file("run", "--settings", settings_path)))
        return 2;
    cli_progress prog;
    cli_progress_start(&prog, quiet);
    prog.deadline = prog.t0 + budget;
    const double t0 = prog.t0;
    printf("hwadapt %s — the main job\n\n", HWA_VERSION_STRING);
    fflush(stdout);
    hwa_passport *pp = hwa_passport_probe(&(hwa_probe_opts){.calibrate = HWA_CALIBRATE_CACHED,
                                                             .matmul_bench = hwa_bench_matmul_peak,
                                                             .progress = cli_progress_probe, .progress_ud = &prog});
    cli_progress_clear(&prog);
    if (!pp) fprintf(stderr, "hwadapt: no passport (%s); peaks and energy are n/a\n", hwa_last_error());

    hwa_bench_report rep;
    hwa_status st = hwa_bench_report_init(&rep, pp);
    if (!st) st = hwa_bench_report_set_command(&rep, argc, argv);
    if (st) {
        fprintf(stderr, "hwadapt: %s\n", hwa_last_error());
        hwa_passport_free(pp);
        return 1;
    }
    print_summary(&rep.machine, stdout);
    printf("passport     %.1f s\n\n", hwa_bench_clock_now() - t0);
    fflush(stdout);

    hwa_bench_sweep s = {.passport = pp, .workloads = workloads, .devices = devices ? "auto" : "all", .dtypes = "all",
                         .scenarios = "single", .cfg = hwa_bench_config_default(), .place_devices = devices};
    /* The budget is the whole job's: what the passport (a first calibration
     * takes seconds) used is not left for measuring. */
    s.time_budget_s = budget - (hwa_bench_clock_now() - t0);
    if (s.time_budget_s < 1) s.time_budget_s = 1;
    /* A row's time is split over its repetitions. On a shared machine the
     * load changes within a second, faster than a visit lasts, so more and
     * shorter visits narrow the interval for the same time (t 2.26 with ten
     * against 2.78 with five); 3 s a row is 0.3 s a visit, still a query or
     * more of the slowest workload, and 12 rows of it leave room in the
     * default budget for a first calibration; a shorter budget caps it. */
    s.cfg.min_time_s = 3.0;
    s.cfg.warmup_s = 0.1;
    s.cfg.min_queries = 10;
    s.reps = main_job_reps;
    s.progress = progress;
    s.progress_ud = &prog;
    double ts = hwa_bench_clock_now();
    st = hwa_bench_sweep_run(&s, &rep);
    cli_progress_clear(&prog);
    if (st) {
        fprintf(stderr, "hwadapt: %s\n", hwa_last_error());
        hwa_bench_report_free(&rep);
        hwa_passport_free(pp);
        return 1;
    }
    for (int i = 0; i < rep.n_rows; i++)
        if (first_of_workload(&rep, i)) hwa_bench_recommend(&rep, rep.rows[i].workload, tol); /* none: said below */
    char what[200];
    snprintf(what, sizeof what,
             "single-stream latency per query (a query is one batch), %d interleaved repetitions a row, measured in "
             "%.1f s:", s.reps, hwa_bench_clock_now() - ts);
    hwa__text_wrap(stdout, what, 0, 0, WIDTH);
    fputs("\n", stdout);
    hwa_bench_report_write(&rep, wide ? HWA_BENCH_TABLE_WIDE : HWA_BENCH_TABLE, stdout);
    print_verdicts(&rep, tol);
    print_contention(&rep);
    if (settings_path && rep.n_recs) {
        if (save_settings(&rep, settings_path))
            fprintf(stderr, "hwadapt: writing %s: %s\n", settings_path, hwa_last_error());
        else {
            char text[1200];
            snprintf(text, sizeof text,
                     "%s: these choices, for `hwadapt train --config %s`, `hwadapt bench WORKLOAD --config %s` and "
                     "`hwadapt generate MODEL --config %s` (flags given there win)",
                     settings_path, settings_path, settings_path, settings_path);
            fputs("\n", stdout);
            print_para(stdout, "settings", text, LEAD);
        }
    }
    st = hwa_bench_report_save(&rep, HWA_BENCH_JSON, report_path);
    if (st) fprintf(stderr, "hwadapt: writing %s: %s\n", report_path, hwa_last_error());
    else {
        char *abs = realpath(report_path, NULL);
        printf("\nreport       %s\n", abs ? abs : report_path);
        free(abs);
        if (write_html(report_path)) st = HWA_E_IO;
    }
    printf("total        %.1f s\n", hwa_bench_clock_now() - t0);
    hwa_bench_report_free(&rep);
    hwa_passport_free(pp);
    return st ? 1 : 0;
}
