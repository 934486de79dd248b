/* hwadapt eval — the accuracy of a model (compressed, or an MLP's export)
 * on Fashion-MNIST's test set through compress.h's runtime: this file
 * parses options and prints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "core/json_write.h"
#include "hwadapt/hwadapt.h"

static const char *const form_names[] = {"auto", "dense", "sparse", "int8", NULL};

static void usage(FILE *f) {
    fprintf(f,
            "usage: hwadapt eval MODEL [OPTIONS]\n\n"
            "Accuracy and mean cross-entropy of MODEL on Fashion-MNIST's test set. MODEL is a compressed\n"
            "model (hwadapt compress) or an MLP's safetensors export or checkpoint (hwadapt train --export).\n"
            "Each layer runs in the form the device runs fastest: a sparse layer times its sparse and its\n"
            "dense product at the batch and keeps the faster; an int8 layer runs int8 products where the\n"
            "device has them (the CPU's kernel says when it falls back to f32), else dense f32.\n\n"
            "  --data DIR         Fashion-MNIST's IDX files (default %s)\n"
            "  --test-limit N     the first N test samples only (default 0: all)\n"
            "  --device SPEC      cpu (default), opencl:N, ...\n"
            "  --form NAME        auto (default), dense, sparse or int8: every layer in that form (a layer\n"
            "                     that lacks it is an error)\n"
            "  --threads N        CPU threads (default: the CPUs this process may use)\n"
            "  --json             one JSON object on stdout (default: text)\n",
            HWA_FMNIST_DIR);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *device = "cpu", *dev_seen = NULL;
    int64_t test_limit = 0, threads = 0;
    int form = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data") || !strcmp(a, "--device")) {
            if (!v) return cli_missing_value("eval", a, !strcmp(a, "--data") ? "DIR" : "SPEC");
            i++;
            rc = !strcmp(a, "--data") ? cli_once("eval", a, &data, v) : cli_once("eval", a, &dev_seen, v);
        } else if (!strcmp(a, "--test-limit") || !strcmp(a, "--threads")) {
            if (!v) return cli_missing_value("eval", a, "N");
            i++;
            rc = !strcmp(a, "--threads") ? cli_int_opt("eval", a, v, NULL, 1, 4096, &threads)
                                         : cli_int_opt("eval", a, v, NULL, 0, INT64_MAX, &test_limit);
        } else if (!strcmp(a, "--form")) {
            if (!v) return cli_missing_value("eval", a, "auto, dense, sparse, int8");
            i++;
            rc = cli_enum_opt("eval", a, v, NULL, form_names, &form);
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-') {
            return cli_unknown_option("eval", a);
        } else {
            rc = cli_positional("eval", &model, a, "MODEL");
        }
        if (rc) return rc;
    }
    if (dev_seen) device = dev_seen;
    if (!model) return cli_missing_arg("eval", "MODEL", "a compressed model or an MLP's safetensors export");
    if (access(model, R_OK) != 0) {
        fprintf(stderr, "hwadapt eval: %s: %s\n", model, strerror(errno));
        return 1;
    }
    hwa_cmodel *m = NULL;
    hwa_dataset *test = NULL;
    hwa_ctx *ctx = NULL;
    hwa_backend *be = NULL;
    hwa_cm_net *net = NULL;
    int rc = 1;
    double loss = 0, acc = 0;
    hwa_ctx_params cp = {.allocator = NULL, .seed = 1};
    hwa_status st = hwa_cmodel_is_file(model) ? hwa_cmodel_read(model, &m) : hwa_cmodel_load_mlp(model, &m);
    if (!st) st = hwa_dataset_load_fmnist(data, false, &test);
    if (!st && test_limit) st = hwa_dataset_truncate(test, test_limit);
    if (!st && !(ctx = hwa_ctx_new(&cp))) st = HWA_E_NOMEM;
    if (!st && !(be = hwa_backend_new(ctx, device))) {
        fprintf(stderr, "hwadapt eval: --device %s: %s\n", device, hwa_ctx_last_error(ctx));
        rc = 2;
        goto out;
    }
    if (!st && threads) st = hwa_backend_set_threads(be, (int)threads);
    /* the net of the first batch says each layer's form, reason and kernel */
    if (!st) st = hwa_cmodel_evaluate_form(m, be, test, (hwa_cm_form)form, &loss, &acc, &net);
    const int64_t n = test ? hwa_dataset_n(test) : 0;
    if (st) {
        fprintf(stderr, "hwadapt eval: %s\n", hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
        goto out;
    }
    if (json) {
        printf("{\"model\":");
        hwa__json_write_cstr(stdout, model);
        printf(",\"device\":");
        hwa__json_write_cstr(stdout, device);
        printf(",\"samples\":%lld,\"accuracy\":", (long long)n);
        hwa__json_write_num(stdout, acc);
        printf(",\"loss\":");
        hwa__json_write_num(stdout, loss);
        printf(",\"layers\":[");
        for (int l = 0; l < hwa_cm_net_n_layers(net); l++) {
            printf("%s{\"form\":", l ? "," : "");
            hwa__json_write_cstr(stdout, hwa_cm_form_name(hwa_cm_net_form(net, l)));
            printf(",\"reason\":");
            hwa__json_write_cstr(stdout, hwa_cm_net_reason(net, l));
            printf(",\"kernel\":");
            hwa__json_write_cstr(stdout, hwa_cm_net_kernel(net, l));
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("%s on %s: accuracy %.2f%% (%lld test samples), loss %.4f\n", model, device, 100 * acc, (long long)n,
               loss);
        for (int l = 0; l < hwa_cm_net_n_layers(net); l++)
            printf("  layer %d  %lldx%lld  %s  [%s]\n", l + 1, (long long)m->layer[l].out, (long long)m->layer[l].in,
                   hwa_cm_net_reason(net, l), hwa_cm_net_kernel(net, l));
    }
    rc = 0;
out:
    hwa_cm_net_free(net);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    hwa_dataset_free(test);
    hwa_cmodel_free(m);
    return rc;
}
