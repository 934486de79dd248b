/* The ONNX importer (hwa_onnx_net_*): shape arithmetic folded on the host,
 * numpy broadcasting, the list of unsupported ops, type conversions at the
 * inputs and outputs, parameters shared by builds, a symbolic batch at two
 * sizes. The models are PyTorch exports (tests/reference/
 * gen_onnx_import_models.py); expected values are computed here from the
 * inputs and the initializers read back from the model. */
#include <stdlib.h>

#include "harness.h"
#include "core/internal.h"
#include "hwadapt/onnx.h"

#define MODELS "tests/onnx/import/"

typedef struct fixture {
    hwa_onnx *m;
    hwa_ctx *ctx;
    hwa_backend *be;
    hwa_onnx_net *net;
} fixture;

static bool open_model(fixture *f, const char *name, bool trainable) {
    memset(f, 0, sizeof *f);
    hwa_onnx_net_opts o = {.trainable = trainable};
    if (hwa_onnx_load(name, &f->m)) return false;
    f->ctx = hwa_ctx_new(NULL);
    f->be = hwa_backend_new(f->ctx, "cpu");
    return f->be && !hwa_onnx_net_new(f->m, f->ctx, &o, &f->net);
}

static void close_model(fixture *f) {
    hwa_onnx_net_free(f->net);
    hwa_backend_free(f->be);
    hwa_ctx_free(f->ctx);
    hwa_onnx_free(f->m);
}

/* A graph of every output of a build. */
static hwa_graph *graph_of(fixture *f, const hwa_onnx_io *out, int n) {
    hwa_graph *g = hwa_graph_new(f->ctx);
    for (int i = 0; i < n; i++)
        if (hwa_graph_build_forward(g, out[i].t)) return NULL;
    return g;
}

static hwa_onnx_array *f32_array(const char *name, int ndim, const int64_t *dims, float seed) {
    hwa_onnx_array *a = NULL;
    if (hwa_onnx_array_new(name, HWA_ONNX_FLOAT, ndim, dims, NULL, &a)) return NULL;
    for (int64_t i = 0; i < a->n; i++) ((float *)a->data)[i] = sinf(seed + 0.7f * (float)i) * 2.0f;
    return a;
}

/* flat.onnx's y = relu(x.view(B, 12) W^T + b), from the initializers. */
static void flat_reference(const hwa_onnx *m, const float *x, int64_t batch, float *y) {
    const hwa_onnx_array *w = hwa_onnx_find_initializer(m, "fc.weight"), *b = hwa_onnx_find_initializer(m, "fc.bias");
    for (int64_t r = 0; r < batch; r++)
        for (int o = 0; o < 5; o++) {
            double s = ((const float *)b->data)[o];
            for (int k = 0; k < 12; k++) s += (double)x[r * 12 + k] * ((const float *)w->data)[o * 12 + k];
            y[r * 5 + o] = s > 0 ? (float)s : 0.0f;
        }
}

/* Runs a flat.onnx build at batch on fresh inputs and checks y. */
static bool run_flat(fixture *f, hwa_graph *g, const hwa_onnx_io *in, const hwa_onnx_io *out, int64_t batch) {
    const int64_t dims[3] = {batch, 3, 4};
    hwa_onnx_array *x = f32_array("x", 3, dims, (float)batch), *y = NULL;
    float want[64];
    bool ok = x && !hwa_onnx_io_set(&in[0], x) && !hwa_graph_compute(g, f->be) && !hwa_onnx_io_get(&out[0], &y);
    if (ok) {
        flat_reference(f->m, x->data, batch, want);
        ok = y->type == HWA_ONNX_FLOAT && y->ndim == 2 && y->dims[0] == batch && y->dims[1] == 5;
        for (int64_t i = 0; ok && i < y->n; i++) {
            ok = fabsf(((const float *)y->data)[i] - want[i]) < 1e-5f;
            if (!ok) fprintf(stderr, "    y[%lld] = %g, want %g\n", (long long)i, ((const float *)y->data)[i], want[i]);
        }
    }
    hwa_onnx_array_free(x);
    hwa_onnx_array_free(y);
    return ok;
}

TEST(shape_chain_folds_to_constants) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "flat.onnx", false), "open: %s", hwa_last_error());
    /* the export holds the dynamic reshape chain ... */
    int shape_ops = 0;
    for (int i = 0; i < hwa_onnx_n_nodes(f.m); i++) {
        const char *op = hwa_onnx_node_at(f.m, i)->op_type;
        shape_ops += !strcmp(op, "Shape") || !strcmp(op, "Gather") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Concat");
    }
    CHECK_MSG(shape_ops >= 4, "the export has %d shape ops", shape_ops);
    hwa_onnx_io *in, *out;
    CHECK_OK(hwa_onnx_net_build(f.net, NULL, 3, &in, &out));
    hwa_graph *g = graph_of(&f, out, 1);
    CHECK(g);
    /* ... which leaves nothing in the graph: the reshape of x, the product,
     * the bias and the relu */
    static const char *const want[] = {"reshape", "matmul", "add", "relu"};
    CHECK_INT_EQ(hwa_graph_n_nodes(g), 4);
    for (int i = 0; i < 4; i++) {
        const char *op = hwa__op_name(hwa_graph_node(g, i)->op);
        CHECK_MSG(!strcmp(op, want[i]) || (i == 2 && !strcmp(op, "bias_add")), "node %d is %s, not %s", i, op, want[i]);
    }
    CHECK_OK(hwa_ctx_alloc_leaves(f.ctx, f.be));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    CHECK(run_flat(&f, g, in, out, 3));
    close_model(&f);
}

TEST(symbolic_batch_two_sizes_share_params) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "flat.onnx", true), "open: %s", hwa_last_error());
    hwa_onnx_io *in2, *out2, *in5, *out5;
    CHECK_OK(hwa_onnx_net_build(f.net, NULL, 2, &in2, &out2));
    CHECK_OK(hwa_onnx_net_build(f.net, NULL, 5, &in5, &out5));
    CHECK_INT_EQ(in2[0].dims[0], 2);
    CHECK_INT_EQ(in5[0].dims[0], 5);
    CHECK_INT_EQ(out5[0].dims[0], 5);
    hwa_graph *g2 = graph_of(&f, out2, 1), *g5 = graph_of(&f, out5, 1);
    CHECK(g2 && g5);
    hwa_tensor *l2 = hwa_sum(f.ctx, out2[0].t), *l5 = hwa_sum(f.ctx, out5[0].t);
    CHECK_OK(hwa_graph_build_forward(g2, l2));
    CHECK_OK(hwa_graph_build_forward(g5, l5));
    CHECK_OK(hwa_graph_build_backward(g2, l2));
    CHECK_OK(hwa_graph_build_backward(g5, l5));
    /* the same two parameters (weight and bias) in both graphs */
    CHECK_INT_EQ(hwa_graph_n_params(g2), 2);
    CHECK_INT_EQ(hwa_graph_n_params(g5), 2);
    for (int i = 0; i < 2; i++) CHECK(hwa_graph_param(g2, i) == hwa_graph_param(g5, i));
    CHECK_OK(hwa_ctx_alloc_leaves(f.ctx, f.be));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    CHECK(run_flat(&f, g2, in2, out2, 2));
    CHECK(run_flat(&f, g5, in5, out5, 5));
    /* a parameter changed through one build is what the other reads, and
     * loading again (for leaves made since) does not reset it */
    hwa_tensor *bias = hwa_graph_param(g2, 0);
    if (hwa_tensor_nelements(bias) != 5) bias = hwa_graph_param(g2, 1);
    CHECK_OK(hwa_tensor_fill(bias, 100.0f));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    const int64_t d[3] = {5, 3, 4};
    hwa_onnx_array *x = f32_array("x", 3, d, 0.0f), *y = NULL;
    CHECK_OK(hwa_onnx_io_set(&in5[0], x));
    CHECK_OK(hwa_graph_compute(g5, f.be));
    CHECK_OK(hwa_onnx_io_get(&out5[0], &y));
    float ref[25];
    flat_reference(f.m, x->data, 5, ref);
    for (int i = 0; i < 25; i++) CHECK_NEAR(((const float *)y->data)[i], ref[i] > 0 ? ref[i] + 100.0f : 100.0f, 2.0f);
    hwa_onnx_array_free(x);
    hwa_onnx_array_free(y);
    close_model(&f);
}

TEST(symbolic_dims_need_a_batch) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "flat.onnx", false), "open: %s", hwa_last_error());
    hwa_onnx_io *in, *out;
    CHECK_STATUS(hwa_onnx_net_build(f.net, NULL, 0, &in, &out), HWA_E_INVALID);
    CHECK_MSG(strstr(hwa_ctx_last_error(f.ctx), "batch"), "message: %s", hwa_ctx_last_error(f.ctx));
    /* a given shape must keep the fixed dims */
    hwa_onnx_shape sh = {.ndim = 3, .dims = {2, 4, 4}};
    CHECK_STATUS(hwa_onnx_net_build(f.net, &sh, 0, &in, &out), HWA_E_INVALID);
    sh.dims[1] = 3;
    CHECK_OK(hwa_onnx_net_build(f.net, &sh, 0, &in, &out));
    close_model(&f);
}

TEST(an_input_fixed_when_built_is_a_known_value) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "flat.onnx", false), "open: %s", hwa_last_error());
    const int64_t dims[3] = {2, 3, 4};
    hwa_onnx_array *x = f32_array("x", 3, dims, 1.0f), *other = f32_array("x", 3, dims, 2.0f), *y = NULL;
    const hwa_onnx_array *fixed[1] = {x};
    hwa_onnx_io *in, *out;
    CHECK_OK(hwa_onnx_net_build_fixed(f.net, NULL, 0, fixed, &in, &out));
    CHECK(in[0].t == NULL && in[0].fixed != NULL);
    CHECK_INT_EQ(out[0].dims[0], 2);
    hwa_graph *g = graph_of(&f, out, 1);
    CHECK(g);
    /* the reshape of a known x is computed when built: the product, the
     * bias and the relu remain */
    CHECK_INT_EQ(hwa_graph_n_nodes(g), 3);
    CHECK_OK(hwa_ctx_alloc_leaves(f.ctx, f.be));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    CHECK_OK(hwa_onnx_io_set(&in[0], x)); /* the same value: accepted */
    CHECK_STATUS(hwa_onnx_io_set(&in[0], other), HWA_E_INVALID);
    CHECK_OK(hwa_graph_compute(g, f.be));
    CHECK_OK(hwa_onnx_io_get(&out[0], &y));
    float want[10];
    flat_reference(f.m, x->data, 2, want);
    for (int i = 0; i < 10; i++) CHECK_NEAR(((const float *)y->data)[i], want[i], 1e-5);
    hwa_onnx_array_free(x);
    hwa_onnx_array_free(other);
    hwa_onnx_array_free(y);
    close_model(&f);
}

TEST(broadcasting_grows_the_first_operand) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "bcast.onnx", false), "open: %s", hwa_last_error());
    hwa_onnx_io *in, *out;
    CHECK_OK(hwa_onnx_net_build(f.net, NULL, 0, &in, &out));
    hwa_graph *g = graph_of(&f, out, 3);
    CHECK(g);
    CHECK_OK(hwa_ctx_alloc_leaves(f.ctx, f.be));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    const int64_t da[2] = {3, 1}, db[3] = {2, 3, 4};
    hwa_onnx_array *a = f32_array("a", 2, da, 1.0f), *b = f32_array("b", 3, db, 2.0f), *r[3] = {0};
    for (int i = 0; i < 3; i++) ((float *)a->data)[i] = 1.5f + (float)i; /* no zero divisors */
    CHECK_OK(hwa_onnx_io_set(&in[0], a));
    CHECK_OK(hwa_onnx_io_set(&in[1], b));
    CHECK_OK(hwa_graph_compute(g, f.be));
    for (int k = 0; k < 3; k++) CHECK_OK(hwa_onnx_io_get(&out[k], &r[k]));
    CHECK_INT_EQ(r[0]->ndim, 3);
    CHECK_INT_EQ(r[0]->n, 24);
    CHECK_INT_EQ(r[2]->ndim, 2);
    const float *pa = a->data, *pb = b->data;
    for (int64_t i = 0; i < 24; i++) {
        const float av = pa[(i / 4) % 3];
        CHECK_NEAR(((const float *)r[0]->data)[i], av - pb[i], 1e-6);
        CHECK_NEAR(((const float *)r[1]->data)[i], pb[i] / av, 1e-6);
    }
    for (int i = 0; i < 3; i++) CHECK_NEAR(((const float *)r[2]->data)[i], 2.0f * pa[i], 1e-6);
    for (int k = 0; k < 3; k++) hwa_onnx_array_free(r[k]);
    hwa_onnx_array_free(a);
    hwa_onnx_array_free(b);
    close_model(&f);
}

/* Runs MODELS name on the .npy inputs and compares its first output with
 * PyTorch's (want, an .npy file) at max abs error tol. */
static void check_export(const char *name, const char *const *inputs, int n_in, const char *want, double tol) {
    fixture f;
    char path[256];
    snprintf(path, sizeof path, MODELS "%s", name);
    CHECK_MSG(open_model(&f, path, false), "open %s: %s", name, hwa_last_error());
    hwa_onnx_array *in[4] = {0}, *ref = NULL, *y = NULL;
    hwa_onnx_shape sh[4];
    for (int i = 0; i < n_in; i++) {
        snprintf(path, sizeof path, MODELS "%s", inputs[i]);
        CHECK_OK(hwa_npy_load(path, &in[i]));
        sh[i].ndim = in[i]->ndim;
        memcpy(sh[i].dims, in[i]->dims, sizeof sh[i].dims);
    }
    snprintf(path, sizeof path, MODELS "%s", want);
    CHECK_OK(hwa_npy_load(path, &ref));
    hwa_onnx_io *io_in, *io_out;
    CHECK_OK(hwa_onnx_net_build(f.net, sh, 0, &io_in, &io_out));
    hwa_graph *g = graph_of(&f, io_out, 1);
    CHECK(g);
    CHECK_OK(hwa_ctx_alloc_leaves(f.ctx, f.be));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    for (int i = 0; i < n_in; i++) CHECK_OK(hwa_onnx_io_set(&io_in[i], in[i]));
    CHECK_OK(hwa_graph_compute(g, f.be));
    CHECK_OK(hwa_onnx_io_get(&io_out[0], &y));
    CHECK_INT_EQ(y->n, ref->n);
    CHECK_INT_EQ(y->ndim, ref->ndim);
    double err = 0;
    for (int64_t i = 0; i < y->n; i++) {
        const double e = fabs((double)((const float *)y->data)[i] - ((const float *)ref->data)[i]);
        err = e > err ? e : err;
    }
    CHECK_MSG(err <= tol, "%s: max abs error %g against PyTorch's output", name, err);
    for (int i = 0; i < n_in; i++) hwa_onnx_array_free(in[i]);
    hwa_onnx_array_free(ref);
    hwa_onnx_array_free(y);
    close_model(&f);
}

TEST(pytorch_cnn_export_matches_pytorch) {
    static const char *const in[] = {"cnn_x.npy"};
    check_export("cnn.onnx", in, 1, "cnn_y.npy", 1e-5);
}

/* int64 ids and mask (a comparison of integers at run time), the shape
 * arithmetic of view/transpose/split, softmax over a masked score */
TEST(pytorch_attention_export_matches_pytorch) {
    static const char *const in[] = {"attn_ids.npy", "attn_mask.npy"};
    check_export("attn.onnx", in, 2, "attn_y.npy", 1e-5);
}

TEST(unsupported_ops_listed_at_once) {
    hwa_onnx *m = NULL;
    CHECK_OK(hwa_onnx_load(MODELS "unsup.onnx", &m));
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_onnx_net *net = NULL;
    CHECK_STATUS(hwa_onnx_net_new(m, ctx, NULL, &net), HWA_E_UNSUPPORTED);
    CHECK(net == NULL);
    const char *msg = hwa_ctx_last_error(ctx);
    CHECK_MSG(strstr(msg, "TopK x2") && strstr(msg, "CumSum x1") && strstr(msg, "mydomain/Fancy x1"), "message: %s",
              msg);
    CHECK_MSG(strstr(hwa_last_error(), "TopK x2"), "thread message: %s", hwa_last_error());
    hwa_ctx_free(ctx);
    hwa_onnx_free(m);
}

TEST(unsupported_attribute_value_names_the_node) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "step.onnx", false), "open: %s", hwa_last_error());
    hwa_onnx_io *in, *out;
    CHECK_STATUS(hwa_onnx_net_build(f.net, NULL, 0, &in, &out), HWA_E_UNSUPPORTED);
    const char *msg = hwa_ctx_last_error(f.ctx);
    CHECK_MSG(strstr(msg, "(Slice): step 2 on axis 1"), "message: %s", msg);
    close_model(&f);
}

TEST(inputs_and_outputs_convert_types) {
    fixture f;
    CHECK_MSG(open_model(&f, MODELS "types.onnx", false), "open: %s", hwa_last_error());
    hwa_onnx_io *in, *out;
    CHECK_OK(hwa_onnx_net_build(f.net, NULL, 0, &in, &out));
    CHECK_INT_EQ(in[0].type, HWA_ONNX_INT64);
    CHECK_INT_EQ(hwa_tensor_dtype(in[0].t), HWA_I32);
    hwa_graph *g = graph_of(&f, out, 3);
    CHECK(g);
    CHECK_OK(hwa_ctx_alloc_leaves(f.ctx, f.be));
    CHECK_OK(hwa_onnx_net_load_params(f.net));
    const int64_t four = 4, dx[2] = {4, 3};
    hwa_onnx_array *ids = NULL, *xd = NULL, *xf = NULL, *r[3] = {0};
    const int64_t idv[4] = {7, 0, -1, 3}; /* -1: the last row, as ONNX Gather reads it */
    CHECK_OK(hwa_onnx_array_new("ids", HWA_ONNX_INT64, 1, &four, idv, &ids));
    /* double into a float input, narrowed */
    CHECK_OK(hwa_onnx_array_new("x", HWA_ONNX_DOUBLE, 2, dx, NULL, &xd));
    for (int i = 0; i < 12; i++) ((double *)xd->data)[i] = (i % 3) - 1.0 + 0.25 * (i % 2);
    CHECK_OK(hwa_onnx_io_set(&in[0], ids));
    CHECK_OK(hwa_onnx_io_set(&in[1], xd));
    CHECK_OK(hwa_graph_compute(g, f.be));
    for (int k = 0; k < 3; k++) CHECK_OK(hwa_onnx_io_get(&out[k], &r[k]));
    /* emb: rows of the table */
    const hwa_onnx_array *table = hwa_onnx_find_initializer(f.m, "emb.weight");
    CHECK(table && table->dims[0] == 10);
    CHECK_INT_EQ(r[0]->type, HWA_ONNX_FLOAT);
    for (int i = 0; i < 4; i++) {
        const int64_t row = idv[i] < 0 ? idv[i] + 10 : idv[i];
        for (int j = 0; j < 3; j++)
            CHECK_NEAR(((const float *)r[0]->data)[i * 3 + j], ((const float *)table->data)[row * 3 + j], 0);
    }
    /* pos: bools, one byte each */
    CHECK_INT_EQ(r[1]->type, HWA_ONNX_BOOL);
    for (int i = 0; i < 12; i++) CHECK_INT_EQ(((const uint8_t *)r[1]->data)[i], ((double *)xd->data)[i] > 0);
    /* n: the int64 shape, known at build time */
    CHECK_INT_EQ(r[2]->type, HWA_ONNX_INT64);
    CHECK_INT_EQ(r[2]->n, 2);
    CHECK_INT_EQ(((const int64_t *)r[2]->data)[0], 4);
    CHECK_INT_EQ(((const int64_t *)r[2]->data)[1], 3);
    /* an id past int32, a float for the ids, a wrong shape */
    ((int64_t *)ids->data)[2] = (int64_t)1 << 40;
    CHECK_STATUS(hwa_onnx_io_set(&in[0], ids), HWA_E_RANGE);
    CHECK_MSG(strstr(hwa_ctx_last_error(f.ctx), "element 2"), "message: %s", hwa_ctx_last_error(f.ctx));
    CHECK_OK(hwa_onnx_array_new("x", HWA_ONNX_FLOAT, 1, &four, NULL, &xf));
    CHECK_STATUS(hwa_onnx_io_set(&in[0], xf), HWA_E_DTYPE);
    CHECK_MSG(strstr(hwa_ctx_last_error(f.ctx), "int64"), "message: %s", hwa_ctx_last_error(f.ctx));
    CHECK_STATUS(hwa_onnx_io_set(&in[1], xf), HWA_E_SHAPE);
    for (int k = 0; k < 3; k++) hwa_onnx_array_free(r[k]);
    hwa_onnx_array_free(ids);
    hwa_onnx_array_free(xd);
    hwa_onnx_array_free(xf);
    close_model(&f);
}
