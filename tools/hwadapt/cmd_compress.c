/* hwadapt compress — a trained MLP through the compression passes of
 * compress.h, stage after stage, with each stage's size, accuracy and
 * latency: this file parses options, calls the library and prints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "core/json_write.h"
#include "hwadapt/hwadapt.h"

#define MAX_STAGES 8
#define MAX_DEVICES 4
#define MAX_BATCHES 4

static const char *const method_names[] = {"prune", "share", "huffman", "int8", "neurons", NULL};
enum { M_PRUNE, M_SHARE, M_HUFFMAN, M_INT8, M_NEURONS };
static const char *const calib_names[] = {"minmax", "percentile", "entropy", "dynamic", NULL};

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt compress MODEL --method LIST -o OUT [OPTIONS]\n\n"
            "Compresses a trained MLP (an export or checkpoint of hwadapt train, any safetensors MLP in that\n"
            "layout, or a compressed model to compress further) stage by stage, the methods in the order\n"
            "given, and writes the last stage to OUT (atomically; its folder is checked first). Prints per\n"
            "stage its size in bytes (the file's, everything included), the ratio to the f32 model, the test\n"
            "accuracy and the latency at each --batch on each --device, each layer in the form the device\n"
            "runs fastest (hwadapt eval --help).\n\n"
            "  --method LIST         comma list of: prune (magnitude pruning, retrained), share (k-means\n"
            "                        weight sharing, centroids fine-tuned), huffman (Huffman-code the shared\n"
            "                        codes and the sparse column gaps), int8 (post-training int8: weights per\n"
            "                        channel, activations calibrated), neurons (remove hidden units, retrained)\n"
            "  -o FILE               the compressed model to write (required)\n"
            "  --data DIR            Fashion-MNIST's IDX files (default %s)\n"
            "  --limit N             retrain and calibrate on the first N training samples (default 0: all)\n"
            "  --test-limit N        measure accuracy on the first N test samples (default 0: all)\n"
            "  --val N               int8 gate: the last N training samples, copied (default 10000)\n"
            "prune:\n"
            "  --sparsity F          fraction of every layer's weights removed, 0 <= F < 1 (default: 0.94,\n"
            "                        and 0.8 in the output layer, which holds few weights and suffers most)\n"
            "  --layer-sparsity LIST per layer, input side first, the last value for the layers after\n"
            "                        (default: --sparsity)\n"
            "  --global              one magnitude threshold over all layers (default: per layer)\n"
            "  --rounds N            prune-retrain rounds to the target, 1..20 (default 3)\n"
            "share:\n"
            "  --bits LIST           bits per layer's codebook, 1..8, the last value for the layers after\n"
            "                        (default 5)\n"
            "neurons:\n"
            "  --keep F              fraction of each hidden layer's units kept, 0 < F <= 1 (default 0.5)\n"
            "retraining (prune, share, neurons):\n"
            "  --retrain-epochs N    epochs per prune round, and for share and neurons (default 2)\n"
            "  --lr X                Adam's constant rate, X > 0 (default 3e-4 for prune and share, 1e-4\n"
            "                        for neurons)\n"
            "  --batch N             batch size (default 64)\n"
            "  --seed N              shuffles (default 1)\n"
            "int8:\n"
            "  --calib-method NAME   minmax (default), percentile, entropy or dynamic (per row, at run time)\n"
            "  --calib N             calibration samples from the training set, N >= 1 (default 300)\n"
            "  --percentile P        percentile: 0 < P <= 100 (default 99.99)\n"
            "  --max-drop X          revert the layers that cost the most validation accuracy to f32 until\n"
            "                        the drop is at most X, a fraction (0.002: 0.2 points; NNCF's default is\n"
            "                        0.01; default: no gate)\n"
            "measurement and output:\n"
            "  --device LIST         devices to retrain on (the first) and to time on (default cpu)\n"
            "  --batch-sizes LIST    the latency's batch sizes (default 1,64)\n"
            "  -r, --reps N          latency rounds, interleaved over stages and devices, 1..32 (default 5)\n"
            "  --no-latency          measure no latency (default: measured)\n"
            "  --threads N           CPU threads (default: the CPUs this process may use)\n"
            "  --json                one JSON object on stdout (default: a table)\n",
            HWA_FMNIST_DIR);
}

typedef struct stage {
    char name[48];
    hwa_cmodel *m;
    int64_t bytes;
    double acc, loss;
    double lat[MAX_DEVICES][MAX_BATCHES]; /* seconds; NAN: not measured */
    char forms[MAX_DEVICES][MAX_BATCHES][64];
    char kernels[MAX_DEVICES][MAX_BATCHES][400];
    bool has_int8;
    hwa_int8_report int8;
    bool as_dense;       /* a sparse stage's model timed decoded to dense (m borrowed from the stage before) */
} stage;

typedef struct opts {
    const char *model, *out, *data, *methods, *devices, *layer_sparsity, *bits, *batches;
    int64_t limit, test_limit, val, rounds, retrain_epochs, batch, seed, calib, reps, threads;
    double sparsity, keep, lr, percentile, max_drop;
    bool global, latency, json;
    int calib_method;
} opts;

/* Splits a comma list into at most max items of up to 31 chars. */
static int split(const char *s, char items[][32], int max) {
    int n = 0;
    const char *p = s;
    while (*p && n < max) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len > 31) return -1;
        memcpy(items[n], p, len);
        items[n++][len] = 0;
        if (!e) return n;
        p = e + 1;
    }
    return *p ? -1 : n;
}

static void note(void *ud, const char *line) {
    if (!*(const bool *)ud) fprintf(stderr, "  %s\n", line);
}

static int fail(const char *what) {
    fprintf(stderr, "hwadapt compress: %s%s%s\n", what ? what : "", what ? ": " : "",
            hwa_last_error()[0] ? hwa_last_error() : "failed");
    return 1;
}

/* The last n samples of d copied into a new dataset. */
static hwa_status tail_copy(const hwa_dataset *d, int64_t n, hwa_dataset **out) {
    const int64_t N = hwa_dataset_n(d), F = hwa_dataset_features(d);
    if (n > N) n = N;
    int32_t *y = malloc((size_t)n * sizeof *y);
    if (!y) return HWA_E_NOMEM;
    for (int64_t i = 0; i < n; i++) y[i] = hwa_dataset_label(d, N - n + i);
    hwa_status st = hwa_dataset_from_arrays(hwa_dataset_x(d, N - n), y, n, F, hwa_dataset_n_classes(d), out);
    free(y);
    return st;
}

static int parse(int argc, char **argv, opts *o) {
    const char *seen_lat = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, k;
        struct { const char *name; const char **slot; const char *what; } strs[] = {
            {"--method", &o->methods, "LIST"}, {"-o", &o->out, "FILE"}, {"--data", &o->data, "DIR"},
            {"--layer-sparsity", &o->layer_sparsity, "LIST"}, {"--bits", &o->bits, "LIST"},
            {"--device", &o->devices, "LIST"}, {"--batch-sizes", &o->batches, "LIST"}};
        struct { const char *name; int64_t *slot; int64_t lo, hi; } ints[] = {
            {"--limit", &o->limit, 0, INT64_MAX}, {"--test-limit", &o->test_limit, 0, INT64_MAX},
            {"--val", &o->val, 1, INT64_MAX}, {"--rounds", &o->rounds, 1, 20},
            {"--retrain-epochs", &o->retrain_epochs, 0, 1000}, {"--batch", &o->batch, 1, 1 << 20},
            {"--seed", &o->seed, 0, INT64_MAX}, {"--calib", &o->calib, 1, INT64_MAX}, {"--reps", &o->reps, 1, 32},
            {"-r", &o->reps, 1, 32}, {"--threads", &o->threads, 1, 4096}};
        struct { const char *name; double *slot; const char *range; } nums[] = {
            {"--sparsity", &o->sparsity, "[0, 1)"}, {"--keep", &o->keep, "(0, 1]"}, {"--lr", &o->lr, "(0, inf)"},
            {"--percentile", &o->percentile, "(0, 100]"}, {"--max-drop", &o->max_drop, "[0, 1]"}};
        bool done = false;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        }
        for (size_t s = 0; !done && s < sizeof strs / sizeof strs[0]; s++)
            if (!strcmp(a, strs[s].name)) {
                if (!v) return cli_missing_value("compress", a, strs[s].what);
                i++;
                done = true;
                rc = cli_once("compress", a, strs[s].slot, v);
            }
        for (size_t s = 0; !done && s < sizeof ints / sizeof ints[0]; s++)
            if (!strcmp(a, ints[s].name)) {
                if (!v) return cli_missing_value("compress", a, "N");
                i++;
                done = true;
                rc = cli_int_opt("compress", a, v, NULL, ints[s].lo, ints[s].hi, ints[s].slot);
            }
        for (size_t s = 0; !done && s < sizeof nums / sizeof nums[0]; s++)
            if (!strcmp(a, nums[s].name)) {
                if (!v) return cli_missing_value("compress", a, "X");
                i++;
                done = true;
                rc = cli_num_opt("compress", a, v, NULL, nums[s].range, nums[s].slot);
            }
        if (done) {
        } else if (!strcmp(a, "--calib-method")) {
            if (!v) return cli_missing_value("compress", a, "minmax, percentile, entropy, dynamic");
            i++;
            rc = cli_enum_opt("compress", a, v, NULL, calib_names, &k);
            o->calib_method = k;
        } else if (!strcmp(a, "--global")) {
            o->global = true;
        } else if (!strcmp(a, "--no-latency")) {
            o->latency = false;
            rc = cli_one_of("compress", &seen_lat, a);
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (a[0] == '-') {
            return cli_unknown_option("compress", a);
        } else {
            rc = cli_positional("compress", &o->model, a, "MODEL");
        }
        if (rc) return rc;
    }
    if (!o->model) return cli_missing_arg("compress", "MODEL", "a trained MLP (safetensors) or a compressed model");
    if (!o->methods) return cli_missing_arg("compress", "--method", "prune, share, huffman, int8, neurons");
    if (!o->out) return cli_missing_arg("compress", "-o", "the compressed model to write");
    return 0;
}

/* Measures every stage's latency on every device at every batch size,
 * all nets timed together (interleaved rounds). */
static int measure(stage *st, int n_st, char dev[][32], int n_dev, const int64_t *batches, int n_b,
                   const hwa_dataset *test, const opts *o, hwa_backend **bes) {
    const int n = n_st * n_dev * n_b;
    hwa_cm_net **nets = calloc((size_t)n, sizeof *nets);
    double *sec = calloc((size_t)n, sizeof *sec);
    float *x = NULL, *z = NULL;
    int rc = 0;
    const int64_t F = hwa_dataset_features(test);
    int64_t most = 0;
    for (int b = 0; b < n_b; b++) most = batches[b] > most ? batches[b] : most;
    if (most > hwa_dataset_n(test)) {
        fprintf(stderr, "hwadapt compress: --batch-sizes %lld: the test set has %lld samples\n", (long long)most,
                (long long)hwa_dataset_n(test));
        rc = 1;
    }
    if (!rc && (!nets || !sec || !(x = malloc((size_t)(most * F) * sizeof *x)) ||
                !(z = malloc((size_t)(most * st[0].m->layer[st[0].m->n_layers - 1].out) * sizeof *z)))) {
        fprintf(stderr, "hwadapt compress: out of memory\n");
        rc = 1;
    }
    if (!rc) memcpy(x, hwa_dataset_x(test, 0), (size_t)(most * F) * sizeof *x);
    for (int s = 0, i = 0; !rc && s < n_st; s++)
        for (int d = 0; !rc && d < n_dev; d++)
            for (int b = 0; !rc && b < n_b; b++, i++) {
                if (hwa_cm_net_new(st[s].m, bes[d], batches[b], st[s].as_dense ? HWA_CM_FORM_DENSE : HWA_CM_FORM_AUTO,
                                   &nets[i]) ||
                    hwa_cm_net_run(nets[i], x, z)) {
                    char what[160];
                    snprintf(what, sizeof what, "stage %.47s on %.31s at batch %lld", st[s].name, dev[d],
                             (long long)batches[b]);
                    rc = fail(what);
                }
            }
    if (!rc && hwa_cm_nets_time(nets, n, (int)o->reps, 0.05, sec)) rc = fail("latency");
    for (int s = 0, i = 0; !rc && s < n_st; s++)
        for (int d = 0; d < n_dev; d++)
            for (int b = 0; b < n_b; b++, i++) {
                st[s].lat[d][b] = sec[i];
                char *f = st[s].forms[d][b], *kn = st[s].kernels[d][b];
                f[0] = kn[0] = 0;
                for (int l = 0; l < hwa_cm_net_n_layers(nets[i]); l++) {
                    snprintf(f + strlen(f), 64 - strlen(f), "%s%s", l ? "," : "",
                             hwa_cm_form_name(hwa_cm_net_form(nets[i], l)));
                    snprintf(kn + strlen(kn), 400 - strlen(kn), "%s%s", l ? "; " : "", hwa_cm_net_kernel(nets[i], l));
                }
            }
    for (int i = 0; nets && i < n; i++) hwa_cm_net_free(nets[i]);
    free(nets);
    free(sec);
    free(x);
    free(z);
    return rc;
}

static void print_table(const stage *st, int n_st, char dev[][32], int n_dev, const int64_t *batches, int n_b,
                        bool latency) {
    printf("%-24s %11s %8s %9s %7s", "stage", "bytes", "ratio", "test acc", "drop");
    for (int d = 0; latency && d < n_dev; d++)
        for (int b = 0; b < n_b; b++) {
            char h[64];
            snprintf(h, sizeof h, "%.31s b%lld ms", dev[d], (long long)batches[b]);
            printf(" %14s", h);
        }
    printf("\n");
    for (int s = 0; s < n_st; s++) {
        printf("%-24s %11lld %7.1fx %8.2f%% %7.2f", st[s].name, (long long)st[s].bytes,
               (double)st[0].bytes / (double)st[s].bytes, 100 * st[s].acc, 100 * (st[0].acc - st[s].acc));
        for (int d = 0; latency && d < n_dev; d++)
            for (int b = 0; b < n_b; b++) printf(" %14.4f", 1e3 * st[s].lat[d][b]);
        printf("\n");
    }
    if (!latency) return;
    printf("\nforms (per layer) and kernels at the largest batch:\n");
    for (int s = 0; s < n_st; s++)
        for (int d = 0; d < n_dev; d++)
            printf("  %-22s %-10s %-22s %s\n", st[s].name, dev[d], st[s].forms[d][n_b - 1], st[s].kernels[d][n_b - 1]);
}

static void print_json(const stage *st, int n_st, char dev[][32], int n_dev, const int64_t *batches, int n_b,
                       const opts *o) {
    printf("{\"model\":");
    hwa__json_write_cstr(stdout, o->model);
    printf(",\"output\":");
    hwa__json_write_cstr(stdout, o->out);
    printf(",\"methods\":");
    hwa__json_write_cstr(stdout, o->methods);
    printf(",\"stages\":[");
    for (int s = 0; s < n_st; s++) {
        printf("%s{\"stage\":", s ? "," : "");
        hwa__json_write_cstr(stdout, st[s].name);
        printf(",\"bytes\":%lld,\"ratio\":", (long long)st[s].bytes);
        hwa__json_write_num(stdout, (double)st[0].bytes / (double)st[s].bytes);
        printf(",\"parameters\":%lld,\"test_accuracy\":", (long long)hwa_cmodel_n_weights(st[s].m));
        hwa__json_write_num(stdout, st[s].acc);
        printf(",\"test_loss\":");
        hwa__json_write_num(stdout, st[s].loss);
        printf(",\"accuracy_drop_points\":");
        hwa__json_write_num(stdout, 100 * (st[0].acc - st[s].acc));
        printf(",\"latency\":[");
        for (int d = 0, first = 1; o->latency && d < n_dev; d++)
            for (int b = 0; b < n_b; b++, first = 0) {
                printf("%s{\"device\":", first ? "" : ",");
                hwa__json_write_cstr(stdout, dev[d]);
                printf(",\"batch\":%lld,\"median_ms\":", (long long)batches[b]);
                hwa__json_write_num(stdout, 1e3 * st[s].lat[d][b]);
                printf(",\"forms\":");
                hwa__json_write_cstr(stdout, st[s].forms[d][b]);
                printf(",\"kernels\":");
                hwa__json_write_cstr(stdout, st[s].kernels[d][b]);
                printf("}");
            }
        printf("]");
        if (st[s].has_int8) {
            printf(",\"int8\":{\"val_float\":");
            hwa__json_write_num(stdout, st[s].int8.val_float);
            printf(",\"val_int8\":");
            hwa__json_write_num(stdout, st[s].int8.val_int8);
            printf(",\"kept_float\":[");
            for (int l = 0; l < st[s].m->n_layers; l++) printf("%s%s", l ? "," : "", st[s].int8.kept_float[l] ? "true" : "false");
            printf("],\"layer_drop\":[");
            for (int l = 0; l < st[s].m->n_layers; l++) {
                printf("%s", l ? "," : "");
                hwa__json_write_num(stdout, st[s].int8.layer_drop[l]);
            }
            printf("]}");
        }
        printf("}");
    }
    printf("]}\n");
}

int cmd_compress(int argc, char **argv) {
    opts o = {.data = NULL, .val = 10000, .rounds = 3, .retrain_epochs = 2,
              .batch = 64, .seed = 1, .calib = 300, .reps = 5, .sparsity = -1, .keep = 0.5, .lr = 0,
              .percentile = 99.99, .max_drop = -1, .latency = true, .calib_method = HWA_CALIB_MINMAX};
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    if (!o.devices) o.devices = "cpu";
    if (!o.batches) o.batches = "1,64";

    char meth[MAX_STAGES][32], dev[MAX_DEVICES][32], items[HWA_CMODEL_MAX_LAYERS][32], bl[MAX_BATCHES][32];
    int methods[MAX_STAGES], n_m = split(o.methods, meth, MAX_STAGES);
    if (n_m < 1) return cli_usage_error("compress", "--method", o.methods, "allowed: a comma list of at most %d of "
                                        "prune, share, huffman, int8, neurons", MAX_STAGES);
    for (int i = 0; i < n_m; i++)
        if ((rc = cli_enum_opt("compress", "--method", meth[i], NULL, method_names, &methods[i]))) return rc;
    const int n_dev = split(o.devices, dev, MAX_DEVICES);
    if (n_dev < 1) return cli_usage_error("compress", "--device", o.devices, "allowed: a comma list of at most %d devices",
                                          MAX_DEVICES);
    int64_t batches[MAX_BATCHES];
    const int n_b = split(o.batches, bl, MAX_BATCHES);
    if (n_b < 1) return cli_usage_error("compress", "--batch-sizes", o.batches, "allowed: a comma list of at most %d",
                                        MAX_BATCHES);
    for (int b = 0; b < n_b; b++)
        if ((rc = cli_int_opt("compress", "--batch-sizes", bl[b], NULL, 1, 1 << 16, &batches[b]))) return rc;
    hwa_prune_opts po = {.sparsity = o.sparsity >= 0 ? o.sparsity : 0.94, .global = o.global,
                         .iterations = (int)o.rounds, .retrain_epochs = o.retrain_epochs};
    if (o.layer_sparsity) {
        if (o.sparsity >= 0) return cli_conflict("compress", "--layer-sparsity", "--sparsity");
        const int n = split(o.layer_sparsity, items, HWA_CMODEL_MAX_LAYERS);
        if (n < 1) return cli_usage_error("compress", "--layer-sparsity", o.layer_sparsity, "allowed: a comma list");
        for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++)
            if ((rc = cli_num_opt("compress", "--layer-sparsity", items[l < n ? l : n - 1], NULL, "[0, 1)",
                                  &po.layer_sparsity[l])))
                return rc;
    }
    const bool default_sparsity = o.sparsity < 0 && !o.layer_sparsity && !o.global;
    hwa_share_opts so = {.retrain_epochs = o.retrain_epochs};
    so.bits[0] = 5;
    if (o.bits) {
        const int n = split(o.bits, items, HWA_CMODEL_MAX_LAYERS);
        if (n < 1) return cli_usage_error("compress", "--bits", o.bits, "allowed: a comma list of 1..8");
        for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) {
            int64_t b;
            if ((rc = cli_int_opt("compress", "--bits", items[l < n ? l : n - 1], NULL, 1, HWA_CMODEL_MAX_BITS, &b)))
                return rc;
            so.bits[l] = (int)b;
        }
    }
    hwa_neuron_opts no = {.keep = o.keep, .retrain_epochs = o.retrain_epochs};
    hwa_int8_opts io = {.method = (hwa_calib_method)o.calib_method, .calib = o.calib, .percentile = o.percentile,
                        .max_drop = o.max_drop};
    if (cli_output_file("compress", "-o", o.out)) return 2;
    if (access(o.model, R_OK) != 0) {
        fprintf(stderr, "hwadapt compress: %s: %s\n", o.model, strerror(errno));
        return 1;
    }

    stage st[2 * MAX_STAGES + 2];
    memset(st, 0, sizeof st);
    int n_st = 0;
    hwa_dataset *train = NULL, *test = NULL, *val = NULL;
    hwa_ctx *ctx = NULL;
    hwa_backend *bes[MAX_DEVICES] = {0};
    hwa_status s = hwa_cmodel_is_file(o.model) ? hwa_cmodel_read(o.model, &st[0].m) : hwa_cmodel_load_mlp(o.model, &st[0].m);
    if (s) return fail(o.model);
    rc = 1;
    if (hwa_dataset_load_fmnist(o.data, true, &train) || hwa_dataset_load_fmnist(o.data, false, &test)) {
        fail("--data");
        goto out;
    }
    if ((o.limit && hwa_dataset_truncate(train, o.limit)) || (o.test_limit && hwa_dataset_truncate(test, o.test_limit)) ||
        tail_copy(train, o.val, &val)) {
        fail("data");
        goto out;
    }
    hwa_ctx_params cp = {.allocator = NULL, .seed = 1};
    if (!(ctx = hwa_ctx_new(&cp))) goto out;
    for (int d = 0; d < n_dev; d++) {
        if (!(bes[d] = hwa_backend_new(ctx, dev[d]))) {
            fprintf(stderr, "hwadapt compress: --device %s: %s\n", dev[d], hwa_ctx_last_error(ctx));
            rc = 2;
            goto out;
        }
        if (o.threads && hwa_backend_set_threads(bes[d], (int)o.threads)) {
            fail("--threads");
            goto out;
        }
    }
    hwa_compress_data cd = {.train = train, .val = val, .test = test, .device = dev[0], .threads = (int)o.threads,
                            .seed = (uint64_t)o.seed, .batch = o.batch, .lr = o.lr, .note = note, .ud = &o.json};
    snprintf(st[0].name, sizeof st[0].name, "%s", hwa_cmodel_is_file(o.model) ? "input" : "f32");
    for (int i = 0; i <= n_m; i++) {
        stage *S = &st[n_st];
        if (i > 0) {
            if (hwa_cmodel_clone(st[n_st - 1].m, &S->m)) {
                fail("clone");
                goto out;
            }
            snprintf(S->name, sizeof S->name, "%s%s", n_st > 1 ? "+" : "", meth[i - 1]);
            if (!o.json) fprintf(stderr, "%s:\n", meth[i - 1]);
            switch (methods[i - 1]) {
            case M_PRUNE:
                if (default_sparsity) /* 0.94, the output layer 0.8 */
                    for (int l = 0; l < S->m->n_layers; l++) po.layer_sparsity[l] = l + 1 < S->m->n_layers ? 0.94 : 0.8;
                s = hwa_compress_prune(S->m, &po, &cd);
                break;
            case M_SHARE: s = hwa_compress_share(S->m, &so, &cd); break;
            case M_HUFFMAN: S->m->huffman = true; s = HWA_OK; break;
            case M_INT8: s = hwa_compress_int8(S->m, &io, &cd, &S->int8); S->has_int8 = true; break;
            default: s = hwa_compress_neurons(S->m, &no, &cd); break;
            }
            n_st++;
            if (s) {
                fail(meth[i - 1]);
                goto out;
            }
        } else {
            n_st++;
        }
        if (hwa_cmodel_size(S->m, &S->bytes) || hwa_cmodel_evaluate(S->m, bes[0], test, &S->loss, &S->acc)) {
            fail(S->name);
            goto out;
        }
        if (!o.json)
            fprintf(stderr, "  %s: %lld bytes, test accuracy %.2f%%\n", S->name, (long long)S->bytes, 100 * S->acc);
    }
    if (hwa_cmodel_write(st[n_st - 1].m, o.out)) {
        fail(o.out);
        goto out;
    }
    /* each stage with sparse layers is timed decoded to dense too, in the
     * same rounds: what its chosen kernels are measured against */
    const int n_real = n_st;
    for (int i = 0; o.latency && i < n_real; i++) {
        bool sparse = false;
        for (int l = 0; l < st[i].m->n_layers; l++) sparse |= st[i].m->layer[l].sparse;
        if (!sparse) continue;
        char name[sizeof st[0].name];
        snprintf(name, sizeof name, "%.36s as dense", st[i].name);
        st[n_st] = st[i];
        st[n_st].as_dense = true;
        st[n_st].has_int8 = false;
        memcpy(st[n_st].name, name, sizeof name);
        n_st++;
    }
    if (o.latency && measure(st, n_st, dev, n_dev, batches, n_b, test, &o, bes)) goto out;
    if (o.json) print_json(st, n_st, dev, n_dev, batches, n_b, &o);
    else {
        print_table(st, n_st, dev, n_dev, batches, n_b, o.latency);
        for (int i = 0; i < n_st; i++)
            if (st[i].has_int8) {
                printf("\nint8 gate: validation accuracy %.2f%% in f32, %.2f%% after; layers kept in f32:",
                       100 * st[i].int8.val_float, 100 * st[i].int8.val_int8);
                int k = 0;
                for (int l = 0; l < st[i].m->n_layers; l++)
                    if (st[i].int8.kept_float[l]) printf(" %d", l + 1), k++;
                printf("%s\n", k ? "" : " none");
            }
        printf("\nwrote %s (%lld bytes, %.1fx smaller than %s)\n", o.out, (long long)st[n_real - 1].bytes,
               (double)st[0].bytes / (double)st[n_real - 1].bytes, st[0].name);
    }
    rc = 0;
out:
    for (int i = 0; i < (int)(sizeof st / sizeof st[0]); i++)
        if (!st[i].as_dense) hwa_cmodel_free(st[i].m);
    for (int d = 0; d < n_dev; d++) hwa_backend_free(bes[d]);
    hwa_ctx_free(ctx);
    hwa_dataset_free(train);
    hwa_dataset_free(test);
    hwa_dataset_free(val);
    return rc;
}
