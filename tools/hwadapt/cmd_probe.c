/* hwadapt probe: the hardware passport, readable or as JSON; and
 * --energy-read N, which reads every power meter over N seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "progress.h"
#include "hwadapt/hwadapt.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt probe [--json] [--recalibrate | --no-calibrate] [--energy-read SECONDS]\n"
            "       hwadapt probe --list\n\n"
            "  --json              the passport as JSON (schema: docs/passport.schema.json; default: text)\n"
            "  --list              one line per device (also --list-devices); nothing measured; the\n"
            "                      runtimes that found none say why on stderr (default: the passport)\n"
            "  --recalibrate       measure peaks (hwadapt's matmul kernels, and FMA loops for\n"
            "                      comparison) and bandwidth again and replace the cache (default: read\n"
            "                      the cache, measure once when there is none)\n"
            "  --no-calibrate      measure nothing and read no cache\n"
            "  --energy-read N     read every power meter for N seconds, 0 < N <= 86400 (RAPL, NVML), and\n"
            "                      report joules and average watts (default: off; no calibration)\n\n"
            "environment: HWA_SYSROOT (read /proc and /sys below it), HWA_OPENCL_LIB, HWA_CUDA_LIB,\n"
            "HWA_NVML_LIB (library path or directory to load instead), XDG_CACHE_HOME (calibration cache)\n");
}

/* One line per device, as `nvidia-smi -L` or llama's --list-devices:
 * nothing is measured (a calibrated peak from the cache is not read either),
 * so it takes milliseconds; a runtime that found no device says why on
 * stderr. */
static int list_devices(const hwa_passport *p) {
    for (int i = 0; i < hwa_passport_device_count(p); i++) {
        const hwa_device_info *d = hwa_passport_device(p, i);
        char more[64] = "";
        if (d->compute_units > 0) snprintf(more, sizeof more, ", %d units", d->compute_units);
        if (d->memory_bytes >= 0)
            snprintf(more + strlen(more), sizeof more - strlen(more), ", %.1f GiB", (double)d->memory_bytes / (1 << 30));
        const char *kind = hwa_hw_kind_name(d->kind);
        printf("%-10s %s (%s%s%s%s)\n", d->id, d->name, kind, strcmp(kind, d->type) ? " " : "",
               strcmp(kind, d->type) ? d->type : "", more);
    }
    for (int i = 0; i < hwa_passport_runtime_count(p); i++) {
        const hwa_runtime_info *r = hwa_passport_runtime(p, i);
        if (r->n_devices == 0) fprintf(stderr, "%s: none found%s%s\n", r->name, r->note[0] ? ": " : "", r->note);
    }
    return fflush(stdout) ? 1 : 0;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int energy_read(const hwa_passport *p, double seconds, bool json) {
    int n = hwa_passport_meter_count(p);
    hwa_meter **m = calloc((size_t)(n ? n : 1), sizeof *m);
    double *j = calloc((size_t)(n ? n : 1), sizeof *j);
    if (!m || !j) {
        fprintf(stderr, "hwadapt probe: out of memory\n");
        free(m);
        free(j);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        m[i] = hwa_meter_open(hwa_passport_meter(p, i)->name, NULL);
        if (!m[i]) {
            fprintf(stderr, "hwadapt probe: %s\n", hwa_last_error());
            rc = 1;
        }
    }
    /* Read often so a RAPL counter cannot wrap twice between reads. */
    for (double t = 0; !rc && n > 0 && t < seconds; t += 0.1) {
        sleep_s(seconds - t < 0.1 ? seconds - t : 0.1);
        for (int i = 0; i < n && !rc; i++)
            if (hwa_meter_read_joules(m[i], &j[i]) != HWA_OK) {
                fprintf(stderr, "hwadapt probe: %s: %s\n", hwa_passport_meter(p, i)->name, hwa_last_error());
                rc = 1;
            }
    }
    if (!rc && json) {
        printf("{\"seconds\": %g, \"meters\": [", seconds);
        for (int i = 0; i < n; i++)
            printf("%s{\"name\": \"%s\", \"joules\": %.6f, \"watts\": %.3f}", i ? ", " : "", hwa_passport_meter(p, i)->name,
                   j[i], j[i] / seconds);
        printf("]}\n");
    } else if (!rc) {
        if (n == 0) printf("no power meter found: nothing to read\n");
        for (int i = 0; i < n; i++)
            printf("%-24s %12.3f J over %g s  %9.2f W\n", hwa_passport_meter(p, i)->name, j[i], seconds, j[i] / seconds);
    }
    for (int i = 0; i < n; i++) hwa_meter_close(m[i]);
    free(m);
    free(j);
    return rc;
}

int cmd_probe(int argc, char **argv) {
    bool json = false, list = false;
    double energy_s = 0;
    /* Peaks through hwadapt's own matmul kernels (method "matmul"). */
    hwa_probe_opts opts = {.matmul_bench = hwa_bench_matmul_peak};
    const char *cal = NULL; /* --recalibrate, --no-calibrate or --energy-read: one of them */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--list") || !strcmp(a, "--list-devices")) list = true;
        else if (!strcmp(a, "--recalibrate")) {
            if (!(rc = cli_one_of("probe", &cal, a))) opts.calibrate = HWA_CALIBRATE_FORCE;
        } else if (!strcmp(a, "--no-calibrate")) {
            if (!cal || strcmp(cal, "--energy-read")) rc = cli_one_of("probe", &cal, a);
            opts.calibrate = HWA_CALIBRATE_NONE;
        } else if (!strcmp(a, "--energy-read")) {
            if (i + 1 == argc) return cli_missing_value("probe", a, "seconds in (0, 86400]");
            rc = cli_num_opt("probe", a, argv[++i], NULL, "(0, 86400]", &energy_s);
            /* it measures nothing: --no-calibrate goes with it, --recalibrate does not */
            if (!rc && cal && !strcmp(cal, "--recalibrate")) rc = cli_conflict("probe", a, cal);
            if (!rc && !cal) cal = a;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            return a[0] == '-' ? cli_unknown_option("probe", a)
                               : cli_usage_error("probe", a, NULL, "extra argument; allowed: options only");
        }
        if (rc) return rc;
    }
    if (list && (json || cal)) return cli_conflict("probe", "--list", json ? "--json" : cal);
    if (energy_s > 0 || list) opts.calibrate = HWA_CALIBRATE_NONE;
    cli_progress prog; /* what a calibration measures, on a terminal */
    cli_progress_start(&prog, false);
    opts.progress = cli_progress_probe;
    opts.progress_ud = &prog;
    hwa_passport *p = hwa_passport_probe(&opts);
    cli_progress_clear(&prog);
    if (!p) {
        fprintf(stderr, "hwadapt probe: %s\n", hwa_last_error());
        return 1;
    }
    for (int i = 0; i < hwa_passport_warning_count(p); i++) fprintf(stderr, "hwadapt probe: warning: %s\n", hwa_passport_warning(p, i));
    int rc = 0;
    if (list) {
        rc = list_devices(p);
    } else if (energy_s > 0) {
        rc = energy_read(p, energy_s, json);
    } else if (json) {
        char *s;
        if (hwa_passport_to_json(p, &s) != HWA_OK) {
            fprintf(stderr, "hwadapt probe: %s\n", hwa_last_error());
            rc = 1;
        } else {
            fputs(s, stdout);
            fputc('\n', stdout);
            free(s);
        }
    } else if (hwa_passport_print(p, stdout) != HWA_OK) {
        fprintf(stderr, "hwadapt probe: %s\n", hwa_last_error());
        rc = 1;
    }
    hwa_passport_free(p);
    return rc;
}
