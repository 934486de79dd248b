/* hwadapt report: one self-contained HTML page from bench reports,
 * passports, training logs, placement plans and tune results
 * (hwa_report_html_save; docs/report.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "hwadapt/hwadapt.h"

static const char default_out[] = "hwadapt-report.html";

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt report FILE... [-o OUT] [--title TEXT]\n\n"
            "One self-contained HTML page (no script, nothing fetched; it prints well) from any mix of:\n"
            "  bench reports   hwadapt run (hwadapt-report.json), hwadapt bench ... --json or -o FILE.json\n"
            "  passports       hwadapt probe --json\n"
            "  training logs   hwadapt train ... --json (one JSON object per line)\n"
            "  plans           hwadapt plan WORKLOAD --json or -o FILE (with --measure too)\n"
            "  tune results    hwadapt tune ... --json or -o FILE\n"
            "Each file's kind is read from its content. The page shows the machine, a roofline per device,\n"
            "latency percentiles and per-repetition throughput per row, batch and thread sweeps, the\n"
            "recommendations, each plan's choice, time and memory per device and its nodes (predicted\n"
            "against measured time for --measure), each tune's throughput, latency and planned memory per\n"
            "batch, learning-rate range test and optimizer trials, and training curves (docs/report.md).\n\n"
            "  -o OUT          the page, written atomically (default %s)\n"
            "  --title TEXT    its title (default \"hwadapt report\")\n",
            default_out);
}

int cmd_report(int argc, char **argv) {
    const char *out = default_out, *title = NULL;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) {
        fprintf(stderr, "hwadapt report: out of memory\n");
        return 1;
    }
    const char *out_opt = NULL;
    int n = 0, rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(inputs);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--title")) {
            if (!v || !*v) rc = cli_missing_value("report", a, !strcmp(a, "-o") ? "FILE" : "TEXT");
            else if (!strcmp(a, "-o")) rc = cli_once("report", a, &out_opt, v);
            else title = v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            rc = cli_unknown_option("report", a);
        } else {
            inputs[n++] = a;
        }
    }
    if (out_opt) out = out_opt;
    if (!rc && !n) rc = cli_missing_arg("report", "FILE", "one or more bench reports, passports, training logs, plans or tune results");
    /* the output's folder before the inputs: a typo there should not wait for the reading */
    if (!rc) rc = cli_output_file("report", "-o", out);
    if (!rc && hwa_report_html_save(inputs, n, title, out)) {
        fprintf(stderr, "hwadapt report: %s\n", hwa_last_error());
        rc = 1;
    }
    if (!rc) {
        char *abs = realpath(out, NULL);
        printf("report       %s\n", abs ? abs : out);
        free(abs);
    }
    free(inputs);
    return rc;
}
