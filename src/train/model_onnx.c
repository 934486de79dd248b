/* An ONNX model as the trainer's model (hwa_train_config.model ending in
 * ".onnx"): the importer (hwa_onnx_net_*) maps it onto graph ops, once per
 * batch graph, every build sharing the leaves of the float initializers,
 * which are the parameters. It must take one float input [N, 784] or
 * [N, 1, 28, 28] (N symbolic or free) and give [N, classes] logits; its
 * Dropout is the identity and its BatchNormalization uses the file's
 * statistics (the importer maps them for inference), so only their scale
 * and bias train. --export writes the model back with the trained values
 * (hwa_onnx_save_initializers). f32 only. */
#include <stdio.h>
#include <string.h>

#include "hwadapt/onnx.h"
#include "train/train_internal.h"

typedef struct onnx_model {
    hwa_onnx *m;
    hwa_onnx_net *net;
    int rank;                                  /* the input's: 2 ([N, 784]) or 4 ([N, 1, 28, 28]) */
    const char *init_name[HWA__TRAIN_MAX_PARAMS]; /* parameter i's initializer (the model's string) */
} onnx_model;

/* The input shape of rows samples. */
static hwa_onnx_shape input_shape(const onnx_model *o, int64_t rows, int64_t features) {
    hwa_onnx_shape s = {.ndim = o->rank};
    s.dims[0] = rows;
    if (o->rank == 2) s.dims[1] = features;
    else s.dims[1] = 1, s.dims[2] = s.dims[3] = 28;
    return s;
}

/* Whether declared dimension d (-1: free) can be want. */
static bool dim_fits(int64_t d, int64_t want) { return d < 0 || d == want; }

static hwa_status check_io(hwa_trainer *t, onnx_model *o) {
    const char *path = t->model_name;
    if (t->cfg.dtype != HWA_F32)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "train: %s: an ONNX model trains in f32 only (not --dtype %s)", path,
                        hwa_dtype_name(t->cfg.dtype));
    if (hwa_onnx_n_inputs(o->m) != 1 || hwa_onnx_n_outputs(o->m) != 1)
        return hwa__err(NULL, HWA_E_INVALID, "train: %s has %d inputs and %d outputs; training needs one image input "
                        "and one logits output", path, hwa_onnx_n_inputs(o->m), hwa_onnx_n_outputs(o->m));
    const hwa_onnx_value *in = hwa_onnx_input(o->m, 0);
    const bool flat = in->ndim == 2 && dim_fits(in->dims[1], t->features);
    const bool image = in->ndim == 4 && t->features == 784 && dim_fits(in->dims[1], 1) && dim_fits(in->dims[2], 28) &&
                       dim_fits(in->dims[3], 28);
    if ((in->type != HWA_ONNX_FLOAT && in->type != HWA_ONNX_UNDEFINED) || !(flat || image))
        return hwa__err(NULL, HWA_E_INVALID, "train: %s: input '%s' must be float [N, %lld] or [N, 1, 28, 28] for "
                        "Fashion-MNIST (it is %s of rank %d)", path, in->name, (long long)t->features,
                        hwa_onnx_type_name(in->type), in->ndim);
    o->rank = flat ? 2 : 4;
    return HWA_OK;
}

/* Builds the model for rows samples; *x its input leaf, *logits its output,
 * checked to be [rows, classes]. */
static hwa_status build(hwa_trainer *t, onnx_model *o, int64_t rows, hwa_tensor **x, hwa_tensor **logits) {
    const hwa_onnx_shape s = input_shape(o, rows, t->features);
    hwa_onnx_io *in, *out;
    hwa_status st = hwa_onnx_net_build(o->net, &s, rows, &in, &out);
    if (st) return st;
    if (out[0].ndim != 2 || out[0].dims[0] != rows || out[0].dims[1] != t->classes || !out[0].t ||
        hwa_tensor_dtype(out[0].t) != HWA_F32)
        return hwa__err(NULL, HWA_E_INVALID, "train: %s: output '%s' must be float logits [N, %lld] (it has rank %d%s)",
                        t->model_name, out[0].name, (long long)t->classes, out[0].ndim,
                        out[0].ndim == 2 ? ", another class count" : "");
    *x = in[0].t;
    *logits = out[0].t;
    return HWA_OK;
}

/* Loads and maps the file; the parameters are the float initializers that a
 * build of one sample reaches (the trainable leaves of its forward graph,
 * in the graph's order). */
static hwa_status onnx_make(hwa_trainer *t) {
    onnx_model *o = calloc(1, sizeof *o);
    if (!o) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    t->model_state = o;
    hwa_status st = hwa_onnx_load(t->model_name, &o->m);
    if (st == HWA_OK) st = check_io(t, o);
    const hwa_onnx_net_opts opts = {.trainable = true};
    if (st == HWA_OK) st = hwa_onnx_net_new(o->m, t->ctx, &opts, &o->net);
    hwa_tensor *x = NULL, *logits = NULL;
    if (st == HWA_OK) st = build(t, o, 1, &x, &logits);
    hwa_graph *g = st ? NULL : hwa_graph_new(t->ctx);
    if (st == HWA_OK && !g) st = hwa_ctx_last_status(t->ctx);
    if (st == HWA_OK) st = hwa_graph_build_forward(g, logits);
    for (int j = 0; st == HWA_OK && j < g->n_leaves; j++) {
        hwa_tensor *p = g->leaves[j];
        if (!hwa_tensor_is_param(p)) continue;
        /* the leaf carries its initializer's name (cut to HWA_MAX_NAME - 1) */
        const char *name = NULL;
        for (int i = 0; i < hwa_onnx_n_initializers(o->m); i++) {
            const hwa_onnx_array *a = hwa_onnx_initializer(o->m, i);
            if (a->type == HWA_ONNX_FLOAT && !strncmp(a->name, hwa_tensor_name(p), HWA_MAX_NAME - 1) &&
                a->n == hwa_tensor_nelements(p)) {
                if (name) {
                    st = hwa__err(NULL, HWA_E_UNSUPPORTED, "train: %s: initializers '%s' and '%s' share their first %d "
                                  "characters, which checkpoints cannot tell apart", t->model_name, name, a->name,
                                  HWA_MAX_NAME - 1);
                    break;
                }
                name = a->name;
            }
        }
        if (st) break;
        if (!name)
            st = hwa__err(NULL, HWA_E_INTERNAL, "train: %s: parameter '%s' is no float initializer", t->model_name,
                          hwa_tensor_name(p));
        else {
            o->init_name[t->n_params] = name;
            st = hwa__train_add_param(t, p, hwa_tensor_name(p));
        }
    }
    if (st == HWA_OK && t->n_params == 0)
        st = hwa__err(NULL, HWA_E_INVALID, "train: %s has no float initializer the logits depend on: nothing to train",
                      t->model_name);
    char desc[64];
    snprintf(desc, sizeof desc, "onnx, %d trained initializers", t->n_params);
    if (st == HWA_OK) st = hwa__train_add_meta(t, "model", desc);
    return st;
}

/* The initializers' values into their leaves (and every build's constants). */
static hwa_status onnx_init(hwa_trainer *t) {
    onnx_model *o = t->model_state;
    return hwa_onnx_net_load_params(o->net);
}

/* A build after the trainer allocated its leaves (an evaluation's last
 * batch): storage and values for the constants it made. */
static hwa_status onnx_prepare(hwa_trainer *t) {
    onnx_model *o = t->model_state;
    hwa_status st = hwa_ctx_alloc_leaves(t->ctx, t->be);
    return st ? st : hwa_onnx_net_load_params(o->net);
}

static hwa_tensor *onnx_logits(hwa_trainer *t, hwa_tensor *x, bool train, hwa__batch_graph *bg) {
    (void)x;
    (void)train;
    onnx_model *o = t->model_state;
    hwa_tensor *in = NULL, *logits = NULL;
    if (build(t, o, bg->rows, &in, &logits)) return NULL;
    bg->x = in; /* [rows, 784] or [rows, 1, 28, 28]: the same bytes as the staged rows */
    return logits;
}

static hwa_status onnx_export(hwa_trainer *t, const char *path) {
    onnx_model *o = t->model_state;
    float **v = calloc((size_t)t->n_params, sizeof *v);
    hwa_status st = v ? HWA_OK : hwa__err(NULL, HWA_E_NOMEM, "export: out of memory");
    for (int i = 0; st == HWA_OK && i < t->n_params; i++) {
        const int64_t n = hwa_tensor_nelements(t->params[i]);
        if (!(v[i] = malloc((size_t)n * sizeof(float)))) st = hwa__err(NULL, HWA_E_NOMEM, "export: out of memory");
        else st = hwa_tensor_get_f32(t->params[i], v[i], n);
    }
    if (st == HWA_OK)
        st = hwa_onnx_save_initializers(o->m, path, t->n_params, o->init_name, (const float *const *)v);
    for (int i = 0; v && i < t->n_params; i++) free(v[i]);
    free(v);
    return st;
}

static void onnx_free(hwa_trainer *t) {
    onnx_model *o = t->model_state;
    if (!o) return;
    hwa_onnx_net_free(o->net);
    hwa_onnx_free(o->m);
    free(o);
    t->model_state = NULL;
}

const hwa__train_model hwa__train_model_onnx = {
    .name = "onnx",
    .export_format = "onnx",
    .make = onnx_make,
    .init = onnx_init,
    .logits = onnx_logits,
    .export_to = onnx_export,
    .free_state = onnx_free,
    .own_input = true,
    .prepare = onnx_prepare,
};
