/* hwadapt plan — where each node of a workload or model would run, at what
 * cost and memory, and why (a dry run: nothing is allocated on any device);
 * with --measure, every placement the planner weighed is run and timed, its
 * nodes timed for the profile cache, and the predictions compared with
 * what happened. The logic is the library's (hwa_placement_*); this file
 * parses options and prints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hwadapt/hwadapt.h"
#include "place_mode.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt plan WORKLOAD|MODEL [--devices LIST] [--batch N] [--dtype T] [--mode MODE]\n"
            "                    [--split F] [--json] [-o FILE] [--brief] [--measure [--reps N]] [--no-calibrate]\n\n"
            "Where each node would run, with a reason, its estimated time, the copies between devices, the\n"
            "memory each device needs against what it has, and the placements rejected and why. A dry run:\n"
            "nothing is allocated on any device. Costs are roofline estimates from the passport's calibration\n"
            "until a node shape has been timed on a device (--measure, or a bench row on --device auto), then\n"
            "measured times from the profile cache.\n\n"
            "  --devices LIST   devices to place across (default: every device found)\n"
            "  --batch N        samples per query (default: the workload's); a model: tokens (1: a decode step)\n"
            "  --dtype T        f32 (default), f16, bf16\n"
            "  --mode MODE      auto (default), layers (two stages, the first device then the second; layers:F\n"
            "                   puts share F of the nodes in the first), or single:DEVICE\n"
            "  --split F        layers: the share of the nodes in the first stage (default: the balanced cut)\n"
            "  --json           the plan as JSON (docs/plan.md has the schema); -o FILE writes it atomically\n"
            "  --brief          no per-node lines\n"
            "  --measure        built-in workloads: run every placement weighed, N interleaved repetitions\n"
            "                   (--reps, default 5), time its nodes for the profile cache, re-plan, and report\n"
            "                   predicted against measured time per placement and device\n"
            "  --no-calibrate   plan without the passport's calibration (every cost unknown)\n\n"
            "Memory caps for tests and what-ifs: HWA_MEM_LIMIT=opencl:0=64M,cpu=2G.\n");
}

typedef struct pargs {
    const char *what, *devices, *out, *mode;
    int64_t batch;
    hwa_dtype dtype;
    double split;
    bool json, brief, measure, no_cal;
    int reps;
} pargs;

static int parse(int argc, char **argv, pargs *a) {
    *a = (pargs){.dtype = HWA_F32, .reps = 5, .mode = "auto"};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(o, "--devices") && v) { a->devices = v; i++;
        } else if (!strcmp(o, "--batch") && v && (a->batch = strtoll(v, &end, 10), *v && !*end && a->batch >= 1)) { i++;
        } else if (!strcmp(o, "--dtype") && v && hwa_dtype_from_name(v, &a->dtype) == HWA_OK) { i++;
        } else if (!strcmp(o, "--mode") && v) { a->mode = v; i++;
        } else if (!strcmp(o, "--split") && v && (a->split = strtod(v, &end), *v && !*end && a->split > 0 && a->split < 1)) { i++;
        } else if (!strcmp(o, "--reps") && v && (a->reps = (int)strtol(v, &end, 10), *v && !*end && a->reps >= 1 && a->reps <= 50)) { i++;
        } else if (!strcmp(o, "-o") && v) { a->out = v; i++;
        } else if (!strcmp(o, "--json")) { a->json = true;
        } else if (!strcmp(o, "--brief")) { a->brief = true;
        } else if (!strcmp(o, "--measure")) { a->measure = true;
        } else if (!strcmp(o, "--no-calibrate")) { a->no_cal = true;
        } else if (o[0] != '-' && !a->what) { a->what = o;
        } else {
            fprintf(stderr, "hwadapt plan: bad option or value '%s'%s%s (see hwadapt plan --help)\n", o, v ? " " : "",
                    v ? v : "");
            return 2;
        }
    }
    if (!a->what) {
        fprintf(stderr, "hwadapt plan: name a workload or a model file (see hwadapt plan --help)\n");
        return 2;
    }
    return 0;
}

static void progress(void *ud, const char *what) {
    (void)ud;
    fprintf(stderr, "  %s: warmed, nodes timed for the profile cache\n", what);
}

int cmd_plan(int argc, char **argv) {
    pargs a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    hwa_passport *pp = hwa_passport_probe(&(hwa_probe_opts){
        .calibrate = a.no_cal ? HWA_CALIBRATE_NONE : HWA_CALIBRATE_CACHED, .matmul_bench = hwa_bench_matmul_peak});
    if (!pp) fprintf(stderr, "hwadapt plan: no passport (%s); every cost is unknown\n", hwa_last_error());
    hwa_bench_plan p = {.passport = pp, .workload = a.what, .devices = a.devices, .batch = a.batch, .dtype = a.dtype,
                        .json = a.json, .per_node = !a.brief, .measure = a.measure, .reps = a.reps,
                        .out_path = a.out, .progress = progress};
    char all[256];
    hwa_place_device_list(pp, all, sizeof all);
    if (cli_place_mode("plan", a.mode, a.split, a.devices ? a.devices : all, &p.opts)) {
        hwa_passport_free(pp);
        return 2;
    }
    hwa_status st = hwa_bench_plan_run(&p, stdout);
    if (st) fprintf(stderr, "hwadapt plan: %s\n", hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
    else if (a.out) fprintf(stderr, "hwadapt plan: wrote %s\n", a.out);
    hwa_passport_free(pp);
    return !st ? 0 : st == HWA_E_NOTFOUND || st == HWA_E_INVALID || st == HWA_E_MISUSE ? 2 : 1;
}
