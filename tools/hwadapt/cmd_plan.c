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

#include "args.h"
#include "commands.h"
#include "hwadapt/hwadapt.h"
#include "place_mode.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt plan WORKLOAD|MODEL [OPTIONS]\n\n"
            "Where each node would run, with a reason, its estimated time, the copies between devices, the\n"
            "memory each device needs against what it has, and the placements rejected and why. A dry run:\n"
            "nothing is allocated on any device. Costs are roofline estimates from the passport's calibration\n"
            "until a node shape has been timed on a device (--measure, or a bench row on --device auto), then\n"
            "measured times from the profile cache. MODEL: a Llama model file, or an ONNX model (.onnx): its\n"
            "forward pass with every symbolic dimension set to --batch (default 1).\n\n"
            "  --devices LIST   devices to place across (default: every device found)\n"
            "  --batch N        samples per query, N >= 1 (default: the workload's); a model: tokens (1: a\n"
            "                   decode step)\n"
            "  --dtype T        f32, f16, bf16 (default f32)\n"
            "  --mode MODE      auto (default), layers (two stages, the first device then the second; layers:F\n"
            "                   puts share F of the nodes in the first), or single:DEVICE\n"
            "  --split F        --mode layers: the share of the nodes in the first stage, 0 < F < 1 (default:\n"
            "                   the balanced cut)\n"
            "  --json           the plan as JSON (docs/plan.md has the schema; default: text)\n"
            "  -o FILE          write the plan to FILE atomically (default: stdout)\n"
            "  --brief          no per-node lines (default: one line per node)\n"
            "  --measure        built-in workloads: run every placement weighed, --reps interleaved\n"
            "                   repetitions, time its nodes for the profile cache, re-plan, and report\n"
            "                   predicted against measured time per placement and device (default: off)\n"
            "  --reps N         --measure: repetitions, 1..50 (default 5)\n"
            "  --no-calibrate   plan without the passport's calibration (every cost unknown; default: the\n"
            "                   cached calibration, measured once when there is none)\n\n"
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
    const char *reps = NULL, *split = NULL, *mode = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        static const char *const valued[] = {"--devices", "--batch", "--dtype", "--mode", "--split", "--reps", "-o", NULL};
        int64_t n;
        int rc = 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(o, "--json")) { a->json = true;
        } else if (!strcmp(o, "--brief")) { a->brief = true;
        } else if (!strcmp(o, "--measure")) { a->measure = true;
        } else if (!strcmp(o, "--no-calibrate")) { a->no_cal = true;
        } else if (o[0] != '-') { rc = cli_positional("plan", &a->what, o, "WORKLOAD or MODEL");
        } else if (!cli_word_in(o, valued)) { return cli_unknown_option("plan", o);
        } else if (!v) { return cli_missing_value("plan", o, NULL);
        } else {
            i++;
            if (!strcmp(o, "--devices")) a->devices = v;
            else if (!strcmp(o, "--batch")) rc = cli_int_opt("plan", o, v, NULL, 1, INT64_MAX / 2, &a->batch);
            else if (!strcmp(o, "--dtype")) {
                if (hwa_dtype_from_name(v, &a->dtype) != HWA_OK)
                    rc = cli_usage_error("plan", o, v, "unknown dtype; allowed: f32, f16, bf16");
            } else if (!strcmp(o, "--mode")) a->mode = mode = v;
            else if (!strcmp(o, "--split")) { rc = cli_num_opt("plan", o, v, NULL, "(0, 1)", &a->split); split = v;
            } else if (!strcmp(o, "--reps")) {
                if (!(rc = cli_int_opt("plan", o, v, NULL, 1, 50, &n))) a->reps = (int)n;
                reps = v;
            } else rc = cli_once("plan", o, &a->out, v);
        }
        if (rc) return rc;
    }
    if (!a->what) return cli_missing_arg("plan", "WORKLOAD", "a built-in workload (hwadapt bench --help lists them) "
                                         "or a model file");
    if (reps && !a->measure) return cli_usage_error("plan", "--reps", reps, "without --measure; allowed: with --measure");
    if (split && (!mode || strncmp(mode, "layers", 6)))
        return cli_usage_error("plan", "--split", split, "without --mode layers; allowed: with --mode layers");
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
    if (a.out && cli_output_file("plan", "-o", a.out)) return 2; /* before the passport and any measurement */
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
