/* hwadapt bench — benchmark built-in workloads: scenarios, sweeps over comma
 * lists, table / JSON / CSV / Markdown. The logic is the library's
 * (hwa_bench_sweep_run); this file parses options and prints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "progress.h"
#include "hwadapt/hwadapt.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt bench [WORKLOAD[,WORKLOAD...]] [OPTIONS]\n\n"
            "Measures workloads the way MLPerf LoadGen does and prints one row per combination of the\n"
            "comma lists (llama-bench's sweeps). A query is one run of the workload on --batch samples.\n\n"
            "workloads:\n");
    for (int i = 0; i < hwa_bench_workload_count(); i++) {
        /* the description wrapped to 100 columns, under its own column */
        char text[512];
        snprintf(text, sizeof text, "%s (batch %lld)", hwa_bench_workload_desc(i),
                 (long long)hwa_bench_workload_default_batch(i));
        fprintf(f, "  %-17s", hwa_bench_workload_name(i));
        int col = 19;
        for (char *save = NULL, *w = strtok_r(text, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            if (col + 1 + (int)strlen(w) > 100) col = fprintf(f, "\n%19s", "") - 1;
            col += fprintf(f, " %s", w);
        }
        fputc('\n', f);
    }
    fprintf(f,
            "  FILE              a Llama model (GGUF or llama2.c .bin), in its own dtype: a query is one decode\n"
            "                    step; --batch N (N > 1) a prefill of N tokens; --sequences N a decode step of N\n"
            "                    sequences in one batch\n"
            "  MODEL.onnx        an ONNX model (docs/onnx.md), f32: a query is its forward pass on random inputs\n"
            "                    of the declared types, every symbolic dimension set to --batch\n"
            "\noptions (LIST = comma list):\n"
            "  --device LIST      cpu, opencl:N, ... or all (default cpu; hwadapt probe lists them); auto: the\n"
            "                     scheduler places each node where the cost model says (hwadapt plan shows it),\n"
            "                     and the row notes predicted against measured time and memory\n"
            "  --devices LIST     the devices auto places across (default: every device found)\n"
            "  --fallback         auto: a device that fails in a query is left out and the graph re-planned\n"
            "                     (default: the row fails)\n"
            "  --place MODE       auto's placement: auto (default), layers (a two-stage split, --devices in\n"
            "                     order; layers:F puts share F of the nodes in the first), single:DEVICE, or\n"
            "                     batch (built-in workloads: a replica per device on a share of the batch\n"
            "                     proportional to its estimated throughput; training sums the gradients)\n"
            "  --dtype LIST       f32, f16, bf16 or all (default f32)\n"
            "  --batch LIST       samples per query (default: the workload's)\n"
            "  --sequences N      FILE: a query is one decode step of N sequences (1..256) in one batch, each\n"
            "                     at its own position; rows give tokens/s of all (per sequence: divide by N)\n"
            "  --optimizer NAME   the training workloads' update: sgd, momentum, nesterov, adam (default) or\n"
            "                     adamw (PyTorch's defaults; rate 1e-3 for adam and adamw, 0.01 for the others)\n"
            "  --threads LIST     threads (default: the device's); not for opencl:N, whose driver spreads the\n"
            "                     work: its rows show '-'\n"
            "  --scenario LIST    single, offline, server (default single)\n"
            "  --rate Q           server: Poisson arrivals at Q queries/s, Q > 0 (default: none; needed\n"
            "                     without --find-peak)\n"
            "  --p99-ms MS        server: the p99 latency bound, MS > 0 (default 10)\n"
            "  --find-peak        server: search the highest rate whose p99 meets the bound (a search per\n"
            "                     row, not interleaved; default: off)\n"
            "  -r, --reps N       repetitions (default %d, at most %d): the rows of a workload, device, batch and\n"
            "                     scenario are measured in turn, one short visit each, N times over; a row's\n"
            "                     speed-up over f32 has a 95%% interval from the paired repetitions\n"
            "  --min-time S       measure each row at least S seconds in all (default 1)\n"
            "  --min-queries N    and at least N queries in all, N >= 1 (default 10)\n"
            "  --max-time S       stop a row after S seconds in all even below the minimums (default none)\n"
            "  --warmup S         warm-up seconds (default 0.2)\n"
            "  --seed N           server arrivals' seed, N >= 0 (default 1)\n"
            "  --no-calibrate     do not measure or read the calibrated peaks (pct_of_peak n/a; default: the\n"
            "                     cached calibration, measured once when there is none)\n"
            "  --config FILE      device, dtype, threads and batch from FILE (docs/settings.md): per workload\n"
            "                     its [bench WORKLOAD] section, else [bench], else [all]; flags given here win\n"
            "                     (default: none)\n"
            "  --json             JSON output (docs/bench-report.schema.json; default: an aligned table)\n"
            "  --csv              CSV output, one line per row (default: an aligned table)\n"
            "  --md               Markdown table output (default: an aligned table)\n"
            "  --wide             the table with every column: kernel, reps, queries, p90, max, cv, ...\n"
            "                     (default: the table fits 100 columns)\n"
            "  --quiet            no progress line and no summary on stderr (default: both, on a terminal)\n"
            "  --profile          the CPU backend's time per (op, shape, kernel) on stderr, per backend\n"
            "                     (the same as HWA_PROFILE=1; default: off)\n"
            "  -o FILE            write the output to FILE atomically (default: stdout)\n",
            HWA_BENCH_DEFAULT_REPS, HWA_BENCH_MAX_REPS);
}

static void progress(void *ud, int row, int n_rows, const char *msg) { cli_progress_step(ud, row, n_rows, msg); }

/* The one-screen summary at exit, on stderr: what ran, the fastest
 * measured row of each workload, and the file written. */
static void print_summary(const hwa_bench_report *rep, double seconds, const char *out_path) {
    int measured = 0, skipped = 0;
    for (int i = 0; i < rep->n_rows; i++) {
        skipped += rep->rows[i].skipped;
        measured += !rep->rows[i].skipped && rep->rows[i].r.queries > 0;
    }
    char took[32];
    cli_duration(took, sizeof took, seconds);
    fprintf(stderr, "hwadapt bench: %d row(s) measured, %d skipped, in %s\n", measured, skipped, took);
    for (int i = 0; i < rep->n_rows; i++) {
        const hwa_bench_row *r = &rep->rows[i], *best = NULL;
        bool first = true;
        for (int j = 0; j < i && first; j++) first = strcmp(rep->rows[j].workload, r->workload) != 0;
        if (!first) continue;
        for (int j = i; j < rep->n_rows; j++) {
            const hwa_bench_row *c = &rep->rows[j];
            if (strcmp(c->workload, r->workload) || c->skipped || !(c->samples_per_s > 0)) continue;
            if (!best || c->samples_per_s > best->samples_per_s) best = c;
        }
        if (!best) continue;
        char thr[32] = "";
        if (!best->no_threads) snprintf(thr, sizeof thr, ", %d thread(s)", best->threads);
        fprintf(stderr, "  fastest %s: %s%s on %s, batch %lld: %.3g %s/s, p50 %.3g ms\n", best->workload, best->dtype,
                thr, best->device, (long long)best->batch, best->samples_per_s, best->unit[0] ? best->unit : "samples",
                best->r.latency.p50 * 1e3);
    }
    if (out_path) fprintf(stderr, "  wrote %s\n", out_path);
}

/* What the command line sets. */
typedef struct bargs {
    hwa_bench_sweep s;
    hwa_bench_format fmt;
    const char *out_path, *config;
    hwa_calibrate_mode calibrate;
    bool quiet;
} bargs;

/* Parses argv into *b; ca (may be NULL) says which arguments came from
 * --config. 0, 2 on a usage error (printed), -1 after --help. */
static int parse(int argc, char **argv, const cli_args *ca, bargs *b) {
    *b = (bargs){.s = {.cfg = hwa_bench_config_default()}, .fmt = HWA_BENCH_TABLE, .calibrate = HWA_CALIBRATE_CACHED};
    hwa_bench_sweep *sw = &b->s;
    const char *format = NULL; /* the output format option given first */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL, *from = cli_args_origin(ca, i);
        double d;
        int64_t n;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (a[0] != '-') { rc = cli_positional("bench", &sw->workloads, a, "WORKLOAD list (comma-separated)");
        } else if (!strcmp(a, "--fallback")) { sw->fallback = true;
        } else if (!strcmp(a, "--find-peak")) { sw->find_peak = true;
        } else if (!strcmp(a, "--no-calibrate")) { b->calibrate = HWA_CALIBRATE_NONE;
        } else if (!strcmp(a, "--json")) { if (!(rc = cli_one_of("bench", &format, a))) b->fmt = HWA_BENCH_JSON;
        } else if (!strcmp(a, "--csv")) { if (!(rc = cli_one_of("bench", &format, a))) b->fmt = HWA_BENCH_CSV;
        } else if (!strcmp(a, "--md")) { if (!(rc = cli_one_of("bench", &format, a))) b->fmt = HWA_BENCH_MARKDOWN;
        } else if (!strcmp(a, "--wide")) { if (!(rc = cli_one_of("bench", &format, a))) b->fmt = HWA_BENCH_TABLE_WIDE;
        } else if (!strcmp(a, "--quiet")) { b->quiet = true;
        } else if (!strcmp(a, "--profile")) { setenv("HWA_PROFILE", "1", 1); /* read when a CPU backend starts */
        } else if (!v) {
            static const char *const valued[] = {"--device", "--devices", "--place", "--dtype", "--batch", "--optimizer",
                                                 "--threads", "--config", "--scenario", "--rate", "--p99-ms", "-r",
                                                 "--reps", "--min-time", "--max-time", "--min-queries", "--warmup",
                                                 "--seed", "-o", "--sequences", NULL};
            return cli_word_in(a, valued) ? cli_missing_value("bench", a, NULL) : cli_unknown_option("bench", a);
        } else {
            i++;
            if (!strcmp(a, "--device")) sw->devices = v;
            else if (!strcmp(a, "--devices")) sw->place_devices = v;
            else if (!strcmp(a, "--place")) sw->place_mode = v;
            else if (!strcmp(a, "--dtype")) sw->dtypes = v;
            else if (!strcmp(a, "--batch")) sw->batches = v;
            else if (!strcmp(a, "--sequences")) {
                if (!(rc = cli_int_opt("bench", a, v, from, 1, HWA_LLAMA_MAX_SEQ, &n))) sw->sequences = (int32_t)n;
            }
            else if (!strcmp(a, "--optimizer")) sw->optimizer = v;
            else if (!strcmp(a, "--threads")) sw->threads = v;
            else if (!strcmp(a, "--config")) rc = cli_once("bench", a, &b->config, v);
            else if (!strcmp(a, "--scenario")) sw->scenarios = v;
            else if (!strcmp(a, "-o")) rc = cli_once("bench", a, &b->out_path, v);
            else if (!strcmp(a, "--rate")) { if (!(rc = cli_num_opt("bench", a, v, from, "(0, inf)", &d))) sw->cfg.server_rate = d;
            } else if (!strcmp(a, "--p99-ms")) { if (!(rc = cli_num_opt("bench", a, v, from, "(0, inf)", &d))) sw->cfg.p99_bound_s = d * 1e-3;
            } else if (!strcmp(a, "-r") || !strcmp(a, "--reps")) {
                if (!(rc = cli_int_opt("bench", a, v, from, 1, HWA_BENCH_MAX_REPS, &n))) sw->reps = (int)n;
            } else if (!strcmp(a, "--min-time")) { rc = cli_num_opt("bench", a, v, from, "[0, inf)", &sw->cfg.min_time_s);
            } else if (!strcmp(a, "--max-time")) { rc = cli_num_opt("bench", a, v, from, "[0, inf)", &sw->cfg.max_time_s);
            } else if (!strcmp(a, "--min-queries")) { rc = cli_int_opt("bench", a, v, from, 1, INT64_MAX / 2, &sw->cfg.min_queries);
            } else if (!strcmp(a, "--warmup")) { rc = cli_num_opt("bench", a, v, from, "[0, inf)", &sw->cfg.warmup_s);
            } else if (!strcmp(a, "--seed")) { if (!(rc = cli_int_opt("bench", a, v, from, 0, INT64_MAX / 2, &n))) sw->cfg.seed = (uint64_t)n;
            } else { return cli_unknown_option("bench", a);
            }
        }
        if (rc) return rc;
    }
    return 0;
}

/* Whether name is a built-in training workload. */
static bool trains(const char *name) {
    int i;
    return !hwa_bench_workload_find(name, &i) && hwa_bench_workload_trains(i);
}

/* The sweeps of --config FILE: one over all the workloads when their
 * sections resolve every key alike, else one per workload, each with its
 * own section's settings ahead of the command line's (flags given win). */
static hwa_status run_config(const hwa_settings *cfg, int argc, char **argv, const bargs *first,
                             hwa_bench_report *rep, int *usage_rc, char *note, size_t note_cap) {
    enum { MAX_WORKLOADS = 64 };
    char *list = strdup(first->s.workloads ? first->s.workloads : "linear1000");
    char *names[MAX_WORKLOADS], section[1100];
    int n = 0;
    if (!list) {
        fprintf(stderr, "hwadapt bench: out of memory\n");
        *usage_rc = 1;
        return HWA_OK;
    }
    for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (n == MAX_WORKLOADS) {
            fprintf(stderr, "hwadapt bench: --config: more than %d workloads\n", MAX_WORKLOADS);
            free(list);
            *usage_rc = 2;
            return HWA_OK;
        }
        names[n++] = w;
    }
    bool alike = true;
    for (int i = 1; i < n && alike; i++) {
        char other[1100];
        snprintf(section, sizeof section, "bench %s", names[0]);
        snprintf(other, sizeof other, "bench %s", names[i]);
        alike = cli_config_same(cfg, section, other);
    }
    /* --optimizer is for the training workloads among them: a forward
     * workload's own sweep goes without it (a list with none is the
     * library's error). */
    bool any_trains = false;
    for (int i = 0; i < n; i++) any_trains |= trains(names[i]);
    hwa_status st = HWA_OK;
    for (int i = 0; i < (alike ? 1 : n) && st == HWA_OK; i++) {
        cli_args ca;
        bargs b;
        snprintf(section, sizeof section, "bench %s", n ? names[i] : "linear1000");
        if ((*usage_rc = cli_config_args("bench", cfg, section, argc, argv, &ca))) break;
        *usage_rc = parse(ca.argc, ca.argv, &ca, &b);
        if (*usage_rc == 0) {
            if (!alike) b.s.workloads = names[i];
            if (!alike && any_trains && !trains(names[i])) b.s.optimizer = NULL;
            b.s.passport = first->s.passport;
            b.s.progress = first->s.progress;
            b.s.progress_ud = first->s.progress_ud;
            st = hwa_bench_sweep_run(&b.s, rep);
            if (st) cli_args_summary(&ca, note, note_cap); /* the error may be about a value from the file */
        }
        cli_args_free(&ca);
        if (*usage_rc) break;
    }
    free(list);
    return st;
}

int cmd_bench(int argc, char **argv) {
    bargs b;
    int rc = parse(argc, argv, NULL, &b);
    if (rc) return rc < 0 ? 0 : rc;
    if (b.out_path && cli_output_file("bench", "-o", b.out_path)) return 2; /* before the measurements */
    hwa_bench_sweep s = b.s;
    hwa_settings *cfg = NULL;
    if (b.config && !(cfg = cli_config_load("bench", b.config))) return 2;
    const hwa_bench_format fmt = b.fmt;
    const char *out_path = b.out_path;
    const hwa_calibrate_mode calibrate = b.calibrate;
    cli_progress prog;
    cli_progress_start(&prog, b.quiet);
    s.progress = progress;
    s.progress_ud = &prog;

    /* The passport gives the devices, the calibrated roofline (hwadapt's own
     * matmul kernels; cached per machine, measured once when there is none)
     * and the power meters. */
    hwa_passport *pp = hwa_passport_probe(&(hwa_probe_opts){.calibrate = calibrate,
                                                             .matmul_bench = hwa_bench_matmul_peak,
                                                             .progress = cli_progress_probe, .progress_ud = &prog});
    cli_progress_clear(&prog);
    const double t_begin = prog.t0;
    prog.t0 = hwa_bench_clock_now(); /* the rows' pace, for their time left, without the calibration */
    if (!pp) fprintf(stderr, "hwadapt bench: no passport (%s); peaks and energy will be n/a\n", hwa_last_error());
    s.passport = pp;
    hwa_bench_report rep;
    hwa_status st = hwa_bench_report_init(&rep, pp);
    char note[1200] = "";
    if (!st) st = hwa_bench_report_set_command(&rep, argc, argv);
    if (!st && cfg) {
        b.s = s;
        st = run_config(cfg, argc, argv, &b, &rep, &rc, note, sizeof note);
    } else if (!st) {
        st = hwa_bench_sweep_run(&s, &rep);
    }
    hwa_settings_free(cfg);
    cli_progress_clear(&prog);
    if (rc) { /* a usage error in the file's settings, printed */
        hwa_bench_report_free(&rep);
        hwa_passport_free(pp);
        return rc < 0 ? 0 : rc;
    }
    if (st) {
        fprintf(stderr, "hwadapt bench: %s%s\n", hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st), note);
        hwa_bench_report_free(&rep);
        hwa_passport_free(pp);
        return st == HWA_E_NOMEM || st == HWA_E_DEVICE || st == HWA_E_INTERNAL ? 1 : 2;
    }
    st = out_path ? hwa_bench_report_save(&rep, fmt, out_path) : hwa_bench_report_write(&rep, fmt, stdout);
    if (st) fprintf(stderr, "hwadapt bench: writing %s: %s\n", out_path ? out_path : "stdout", hwa_last_error());
    else if (!b.quiet) print_summary(&rep, hwa_bench_clock_now() - t_begin, out_path);
    hwa_bench_report_free(&rep);
    hwa_passport_free(pp);
    return st ? 1 : 0;
}
