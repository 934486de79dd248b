/* The compressed model's runtime (hwa_cm_net, hwa_cmodel_evaluate): each
 * form of a layer computes what the model's dense weights compute, checked
 * against a plain double-precision forward pass written here; the forms
 * chosen and why; accuracy and loss counted by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hwadapt/hwadapt.h"

enum { IN = 37, HID = 21, OUT = 5, ROWS = 6 };

static float frand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 8388608.0f - 1.0f;
}

/* A two-layer relu model with dense f32 weights (malloc'd arrays owned by m). */
static hwa_cmodel *two_layers(uint32_t seed) {
    hwa_cmodel *m = calloc(1, sizeof *m);
    m->n_layers = 2;
    m->activation = HWA_ACT_RELU;
    const int64_t dims[3] = {IN, HID, OUT};
    for (int l = 0; l < 2; l++) {
        hwa_cm_layer *L = &m->layer[l];
        L->in = dims[l];
        L->out = dims[l + 1];
        L->nnz = L->in * L->out;
        L->values = malloc((size_t)L->nnz * sizeof(float));
        L->bias = malloc((size_t)L->out * sizeof(float));
        for (int64_t i = 0; i < L->nnz; i++) L->values[i] = frand(&seed) * 0.4f;
        for (int64_t i = 0; i < L->out; i++) L->bias[i] = frand(&seed) * 0.1f;
    }
    return m;
}

/* Layer l becomes sparse: every weight whose index is a multiple of 3 or
 * that lies in row 2 is dropped (row 2 is empty). */
static void make_sparse(hwa_cmodel *m, int l) {
    hwa_cm_layer *L = &m->layer[l];
    int32_t *rp = malloc((size_t)(L->out + 1) * sizeof *rp), *col = malloc((size_t)L->nnz * sizeof *col);
    float *v = malloc((size_t)L->nnz * sizeof *v);
    int64_t n = 0;
    rp[0] = 0;
    for (int64_t r = 0; r < L->out; r++) {
        for (int64_t c = 0; c < L->in; c++) {
            const int64_t i = r * L->in + c;
            if (i % 3 == 0 || r == 2) continue;
            col[n] = (int32_t)c;
            v[n++] = L->values[i];
        }
        rp[r + 1] = (int32_t)n;
    }
    free(L->values);
    L->values = v;
    L->row_ptr = rp;
    L->col = col;
    L->nnz = n;
    L->sparse = true;
}

/* Layer l becomes int8: per row scale max|w| / 127, dynamic activations. */
static void make_int8(hwa_cmodel *m, int l) {
    hwa_cm_layer *L = &m->layer[l];
    L->q = malloc((size_t)L->nnz);
    L->q_scale = malloc((size_t)L->out * sizeof(float));
    for (int64_t r = 0; r < L->out; r++) {
        float mx = 0;
        for (int64_t c = 0; c < L->in; c++) mx = fmaxf(mx, fabsf(L->values[r * L->in + c]));
        L->q_scale[r] = mx / 127.0f;
        for (int64_t c = 0; c < L->in; c++) L->q[r * L->in + c] = (int8_t)lrintf(L->values[r * L->in + c] / L->q_scale[r]);
    }
    free(L->values);
    L->values = NULL;
    L->act = HWA_CM_ACT_DYNAMIC;
}

/* The forward pass in double from the dense weights hwa_cmodel_dense gives. */
static void reference(const hwa_cmodel *m, const float *x, int64_t rows, double *z) {
    double h[ROWS][64], t[ROWS][64];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < m->layer[0].in; k++) h[r][k] = x[r * m->layer[0].in + k];
    for (int l = 0; l < m->n_layers; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        float *w = malloc((size_t)(L->out * L->in) * sizeof *w);
        CHECK_OK(hwa_cmodel_dense(m, l, w));
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < L->out; o++) {
                double s = L->bias[o];
                for (int64_t k = 0; k < L->in; k++) s += (double)w[o * L->in + k] * h[r][k];
                t[r][o] = l + 1 < m->n_layers && s < 0 ? 0 : s;
            }
        memcpy(h, t, sizeof h);
        free(w);
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < OUT; o++) z[r * OUT + o] = h[r][o];
}

static void inputs(float *x, uint32_t seed) {
    for (int i = 0; i < ROWS * IN; i++) x[i] = frand(&seed);
}

/* Runs m on the CPU in form f and compares with the reference within tol. */
static void check_form(const hwa_cmodel *m, hwa_cm_form f, double tol, hwa_cm_form want0) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_cm_net *n = NULL;
    float x[ROWS * IN], z[ROWS * OUT];
    double ref[ROWS * OUT];
    inputs(x, 11);
    reference(m, x, ROWS, ref);
    CHECK_OK(hwa_cm_net_new(m, be, ROWS, f, &n));
    CHECK_OK(hwa_cm_net_run(n, x, z));
    CHECK_INT_EQ(hwa_cm_net_form(n, 0), want0);
    CHECK(hwa_cm_net_kernel(n, 0)[0] != 0);
    for (int i = 0; i < ROWS * OUT; i++) CHECK_NEAR(z[i], ref[i], tol);
    hwa_cm_net_free(n);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(dense_model_computes_its_weights) {
    hwa_cmodel *m = two_layers(1);
    check_form(m, HWA_CM_FORM_AUTO, 1e-5, HWA_CM_FORM_DENSE);
    hwa_cmodel_free(m);
}

TEST(sparse_layer_in_both_forms_computes_the_kept_weights) {
    hwa_cmodel *m = two_layers(2);
    make_sparse(m, 0);
    check_form(m, HWA_CM_FORM_DENSE, 1e-5, HWA_CM_FORM_DENSE);
    hwa_cmodel_free(m);
    m = two_layers(2);
    make_sparse(m, 0);
    make_sparse(m, 1);
    check_form(m, HWA_CM_FORM_SPARSE, 1e-5, HWA_CM_FORM_SPARSE);
    hwa_cmodel_free(m);
}

TEST(shared_sparse_layer_reads_its_codebook) {
    hwa_cmodel *m = two_layers(3);
    make_sparse(m, 0);
    make_sparse(m, 1);
    hwa_cm_layer *L = &m->layer[0];
    L->bits = 2;
    L->n_codes = 4;
    L->codebook = malloc(4 * sizeof(float));
    const float cb[4] = {-0.3f, -0.05f, 0.07f, 0.25f};
    memcpy(L->codebook, cb, sizeof cb);
    L->codes = malloc((size_t)L->nnz);
    for (int64_t j = 0; j < L->nnz; j++) L->codes[j] = (uint8_t)(j % 4);
    free(L->values);
    L->values = NULL;
    check_form(m, HWA_CM_FORM_SPARSE, 1e-5, HWA_CM_FORM_SPARSE);
    check_form(m, HWA_CM_FORM_DENSE, 1e-5, HWA_CM_FORM_DENSE);
    hwa_cmodel_free(m);
}

TEST(int8_layer_is_close_to_its_dequantized_weights) {
    hwa_cmodel *m = two_layers(4);
    make_int8(m, 0);
    /* activations in u8 over a row's range [-1, 1): a step of 2/255, whose
     * rounding error over 37 inputs of weights up to 0.4 stays well below
     * 0.05 */
    check_form(m, HWA_CM_FORM_AUTO, 5e-2, HWA_CM_FORM_INT8);
    check_form(m, HWA_CM_FORM_DENSE, 1e-5, HWA_CM_FORM_DENSE);
    hwa_cmodel_free(m);
}

TEST(auto_form_of_a_sparse_layer_is_measured) {
    hwa_cmodel *m = two_layers(5);
    make_sparse(m, 0);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_cm_net *n = NULL;
    CHECK_OK(hwa_cm_net_new(m, be, ROWS, HWA_CM_FORM_AUTO, &n));
    CHECK(hwa_cm_net_form(n, 0) == HWA_CM_FORM_SPARSE || hwa_cm_net_form(n, 0) == HWA_CM_FORM_DENSE);
    CHECK_MSG(strstr(hwa_cm_net_reason(n, 0), "us sparse") != NULL, "reason: %s", hwa_cm_net_reason(n, 0));
    CHECK_INT_EQ(hwa_cm_net_form(n, 1), HWA_CM_FORM_DENSE);
    hwa_cm_net_free(n);
    CHECK_STATUS(hwa_cm_net_new(m, be, ROWS, HWA_CM_FORM_INT8, &n), HWA_E_UNSUPPORTED);
    CHECK(n == NULL);
    CHECK_STATUS(hwa_cm_net_new(m, be, 0, HWA_CM_FORM_AUTO, &n), HWA_E_INVALID);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    hwa_cmodel_free(m);
}

TEST(evaluate_counts_accuracy_and_loss) {
    hwa_cmodel *m = two_layers(6);
    enum { N = 1203 }; /* a full batch of 1000 and a rest of 203 */
    float *x = malloc((size_t)N * IN * sizeof *x);
    int32_t *y = malloc(N * sizeof *y);
    uint32_t s = 9;
    for (int i = 0; i < N * IN; i++) x[i] = frand(&s);
    double want_loss = 0;
    int64_t want_correct = 0;
    for (int i = 0; i < N; i++) {
        double z[OUT];
        reference(m, x + (size_t)i * IN, 1, z);
        y[i] = i % OUT;
        int best = 0;
        double mx = z[0], se = 0;
        for (int o = 1; o < OUT; o++)
            if (z[o] > z[best]) best = o, mx = z[o];
        for (int o = 0; o < OUT; o++) se += exp(z[o] - mx);
        want_loss += log(se) + mx - z[y[i]];
        want_correct += best == y[i];
    }
    hwa_dataset *d = NULL;
    CHECK_OK(hwa_dataset_from_arrays(x, y, N, IN, OUT, &d));
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    double loss = 0, acc = 0;
    CHECK_OK(hwa_cmodel_evaluate(m, be, d, &loss, &acc));
    CHECK_NEAR(acc, (double)want_correct / N, 1.5 / N); /* a near tie may round either way */
    CHECK_NEAR(loss, want_loss / N, 1e-5);
    hwa_dataset *wrong = NULL;
    CHECK_OK(hwa_dataset_from_arrays(x, y, 10, IN, OUT + 1, &wrong));
    CHECK_STATUS(hwa_cmodel_evaluate(m, be, wrong, &loss, &acc), HWA_E_INVALID);
    hwa_dataset_free(wrong);
    hwa_dataset_free(d);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    hwa_cmodel_free(m);
    free(x);
    free(y);
}

TEST(a_device_without_the_sparse_product_runs_dense) {
    hwa_cmodel *m = two_layers(7);
    make_sparse(m, 0);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "opencl:0");
    if (!be) {
        hwa_ctx_free(ctx);
        hwa_cmodel_free(m);
        hwa_test_skip_for("opencl", "no OpenCL device: %s", hwa_last_error());
        return;
    }
    hwa_cm_net *n = NULL;
    float x[ROWS * IN], z[ROWS * OUT];
    double ref[ROWS * OUT];
    inputs(x, 12);
    reference(m, x, ROWS, ref);
    CHECK_OK(hwa_cm_net_new(m, be, ROWS, HWA_CM_FORM_AUTO, &n));
    CHECK_OK(hwa_cm_net_run(n, x, z));
    if (hwa_cm_net_form(n, 0) == HWA_CM_FORM_DENSE)
        CHECK_MSG(strstr(hwa_cm_net_reason(n, 0), "no sparse product") || strstr(hwa_cm_net_reason(n, 0), "us sparse"),
                  "reason: %s", hwa_cm_net_reason(n, 0));
    for (int i = 0; i < ROWS * OUT; i++) CHECK_NEAR(z[i], ref[i], 1e-4);
    hwa_cm_net_free(n);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    hwa_cmodel_free(m);
}

/* A sparse layer that kept no weight computes its bias alone, dense (a
 * tensor of no elements cannot be made), whatever form is asked. */
TEST(a_sparse_layer_with_no_weights_runs_dense) {
    hwa_cmodel *m = two_layers(8);
    hwa_cm_layer *L = &m->layer[0];
    free(L->values);
    L->values = calloc(1, sizeof(float));
    L->col = calloc(1, sizeof(int32_t));
    L->row_ptr = calloc((size_t)L->out + 1, sizeof(int32_t));
    L->nnz = 0;
    L->sparse = true;
    make_sparse(m, 1);
    check_form(m, HWA_CM_FORM_AUTO, 1e-5, HWA_CM_FORM_DENSE);
    check_form(m, HWA_CM_FORM_SPARSE, 1e-5, HWA_CM_FORM_DENSE);
    hwa_cmodel_free(m);
}
