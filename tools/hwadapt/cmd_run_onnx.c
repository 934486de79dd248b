/* hwadapt run MODEL.onnx — an ONNX model on .npy inputs: every model input
 * from --input NAME=FILE.npy (its shape from the file), the graph built,
 * placed on one device and run once, and every output written as
 * OUTPUT_NAME.npy in its declared type. cmd_run.c hands a first argument
 * ending in .onnx here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "commands.h"
#include "hwadapt/hwadapt.h"
#include "hwadapt/onnx.h"

#define MAX_INPUTS 64

void cmd_run_onnx_usage(void) {
    printf("usage: hwadapt run MODEL.onnx --input NAME=FILE.npy ... [--output-dir DIR] [--device D]\n\n"
           "Runs an ONNX model once: each model input from a .npy file (its shape and type from the file:\n"
           "float types to float inputs, integer types to integer inputs, bools to bool inputs), the graph\n"
           "built for those shapes (shape arithmetic folded when it is built) and run on one device, and\n"
           "every output written as DIR/OUTPUT_NAME.npy in the type the model declares (characters other\n"
           "than letters, digits, '.', '-' and '_' in the name become '_'). docs/onnx.md lists the ops.\n\n"
           "  --input NAME=FILE   the model input NAME from FILE (.npy); one per model input\n"
           "  --output-dir DIR    where the outputs go (default .; made when missing)\n"
           "  --device D          the device to run on: cpu, cpu:A-B, opencl:N, cuda:N, pjrt:N (default cpu)\n");
}

/* OUTPUT_NAME made safe as a file name. */
static void file_name(const char *name, char *out, size_t cap) {
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < cap; p++) {
        const char c = *p;
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '-' || c == '_';
        out[k] = ok && !(k == 0 && c == '.') ? c : '_';
        k++;
    }
    out[k] = 0;
    if (!k) snprintf(out, cap, "output");
}

static void shape_str(const hwa_onnx_array *a, char *buf, size_t cap) {
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < a->ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", d ? "," : "", (long long)a->dims[d]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

int cmd_run_onnx(int argc, char **argv) {
    const char *model_path = argv[1], *out_dir = NULL, *device = NULL;
    const char *in_names[MAX_INPUTS], *in_files[MAX_INPUTS];
    int n_given = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cmd_run_onnx_usage();
            return 0;
        }
        if (strcmp(a, "--input") && strcmp(a, "--output-dir") && strcmp(a, "--device"))
            return a[0] == '-' ? cli_unknown_option("run", a)
                               : cli_usage_error("run", a, NULL, "extra argument; allowed: one MODEL.onnx");
        if (!v) return cli_missing_value("run", a, !strcmp(a, "--input") ? "NAME=FILE" : !strcmp(a, "--device") ? "D" : "DIR");
        i++;
        if (!strcmp(a, "--output-dir")) rc = cli_once("run", a, &out_dir, v);
        else if (!strcmp(a, "--device")) rc = cli_once("run", a, &device, v);
        else {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1]) return cli_usage_error("run", a, v, "not NAME=FILE; allowed: NAME=FILE.npy");
            if (n_given == MAX_INPUTS) return cli_usage_error("run", a, v, "too many inputs; allowed: %d", MAX_INPUTS);
            for (int k = 0; k < n_given; k++)
                if ((size_t)(strchr(in_names[k], '=') - in_names[k]) == (size_t)(eq - v) &&
                    !strncmp(in_names[k], v, (size_t)(eq - v)))
                    return cli_usage_error("run", a, v, "input given twice; allowed: one file per input");
            in_names[n_given] = v;
            in_files[n_given++] = eq + 1;
        }
        if (rc) return rc;
    }
    if (!out_dir) out_dir = ".";
    if (!device) device = "cpu";
    if (cli_output_dir("run", "--output-dir", out_dir)) return 2;
    if (mkdir(out_dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "hwadapt run: --output-dir %s: %s\n", out_dir, strerror(errno));
        return 1;
    }

    hwa_onnx *m = NULL;
    hwa_ctx *ctx = NULL;
    hwa_backend *be = NULL;
    hwa_onnx_net *net = NULL;
    hwa_onnx_array *arrays[MAX_INPUTS] = {0};
    int rc = 1;
    if (hwa_onnx_load(model_path, &m)) {
        fprintf(stderr, "hwadapt run: %s\n", hwa_last_error());
        return 1;
    }
    const int ni = hwa_onnx_n_inputs(m);
    /* each given name is an input; each input given once */
    for (int k = 0; k < n_given; k++) {
        const size_t len = (size_t)(in_files[k] - 1 - in_names[k]);
        bool found = false;
        for (int i = 0; i < ni && !found; i++)
            found = strlen(hwa_onnx_input(m, i)->name) == len && !strncmp(hwa_onnx_input(m, i)->name, in_names[k], len);
        if (!found) {
            char names[400] = "";
            for (int i = 0; i < ni; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         hwa_onnx_input(m, i)->name);
            rc = cli_usage_error("run", "--input", in_names[k], "%s has no input of that name; allowed: %s", model_path,
                                 names);
            goto done;
        }
    }
    if (ni > MAX_INPUTS) {
        fprintf(stderr, "hwadapt run: %s has %d inputs (at most %d)\n", model_path, ni, MAX_INPUTS);
        goto done;
    }
    hwa_onnx_shape shapes[MAX_INPUTS];
    for (int i = 0; i < ni; i++) {
        const char *name = hwa_onnx_input(m, i)->name;
        int k = 0;
        while (k < n_given && !(strlen(name) == (size_t)(in_files[k] - 1 - in_names[k]) &&
                                !strncmp(name, in_names[k], strlen(name))))
            k++;
        if (k == n_given) {
            rc = cli_missing_arg("run", "--input", "NAME=FILE.npy for every model input");
            fprintf(stderr, "hwadapt run: %s needs input '%s'\n", model_path, name);
            goto done;
        }
        if (hwa_npy_load(in_files[k], &arrays[i])) {
            fprintf(stderr, "hwadapt run: %s\n", hwa_last_error());
            goto done;
        }
        shapes[i].ndim = arrays[i]->ndim;
        memcpy(shapes[i].dims, arrays[i]->dims, sizeof shapes[i].dims);
    }
    ctx = hwa_ctx_new(NULL);
    if (!ctx || !(be = hwa_backend_new(ctx, device))) {
        fprintf(stderr, "hwadapt run: --device %s: %s\n", device, ctx ? hwa_ctx_last_error(ctx) : hwa_last_error());
        goto done;
    }
    hwa_onnx_io *ins, *outs;
    hwa_graph *g = NULL;
    hwa_status st = hwa_onnx_net_new(m, ctx, NULL, &net);
    if (!st) st = hwa_onnx_net_build(net, shapes, 0, &ins, &outs);
    if (!st && !(g = hwa_graph_new(ctx))) st = hwa_ctx_last_status(ctx);
    for (int i = 0; !st && i < hwa_onnx_n_outputs(m); i++)
        if (outs[i].t) st = hwa_graph_build_forward(g, outs[i].t); /* an empty output has none */
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    if (!st) st = hwa_onnx_net_load_params(net);
    for (int i = 0; !st && i < ni; i++) st = hwa_onnx_io_set(&ins[i], arrays[i]);
    if (!st) st = hwa_graph_compute(g, be);
    if (st) {
        fprintf(stderr, "hwadapt run: %s\n", hwa_ctx_last_error(ctx)[0] ? hwa_ctx_last_error(ctx) : hwa_last_error());
        goto done;
    }
    printf("%s: %d node(s) run on %s\n", model_path, hwa_graph_n_nodes(g), hwa_backend_name(be));
    for (int i = 0; i < hwa_onnx_n_outputs(m); i++) {
        hwa_onnx_array *r = NULL;
        char fname[256], path[4096], shape[128];
        file_name(outs[i].name, fname, sizeof fname);
        snprintf(path, sizeof path, "%s/%s.npy", out_dir, fname);
        if ((st = hwa_onnx_io_get(&outs[i], &r)) || (st = hwa_npy_save(path, r))) {
            fprintf(stderr, "hwadapt run: output '%s': %s\n", outs[i].name, hwa_last_error());
            hwa_onnx_array_free(r);
            goto done;
        }
        shape_str(r, shape, sizeof shape);
        printf("wrote %s  %s %s\n", path, hwa_onnx_type_name(r->type), shape);
        hwa_onnx_array_free(r);
    }
    rc = 0;
done:
    for (int i = 0; i < MAX_INPUTS; i++) hwa_onnx_array_free(arrays[i]);
    hwa_onnx_net_free(net);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    hwa_onnx_free(m);
    return rc;
}
