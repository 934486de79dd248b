/* Running a compressed model: its forward pass as a graph, each layer's
 * product in the form the device runs fastest (dense f32, compressed rows,
 * or int8), chosen by measurement where there is a choice. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "hwadapt/bench.h"
#include "hwadapt/compress.h"

struct hwa_cm_net {
    hwa_ctx *ctx;
    hwa_backend *be;
    int64_t rows, in, classes;
    int n_layers;
    hwa_graph *g;
    hwa_tensor *x, *logits;
    hwa_tensor *prod[HWA_CMODEL_MAX_LAYERS];
    hwa_cm_form form[HWA_CMODEL_MAX_LAYERS];
    char reason[HWA_CMODEL_MAX_LAYERS][192];
    char kernel[HWA_CMODEL_MAX_LAYERS][96];
};

const char *hwa_cm_form_name(hwa_cm_form f) {
    switch (f) {
    case HWA_CM_FORM_AUTO: return "auto";
    case HWA_CM_FORM_DENSE: return "dense";
    case HWA_CM_FORM_SPARSE: return "sparse";
    case HWA_CM_FORM_INT8: return "int8";
    }
    return "?";
}

/* The leaves of one layer's product in one form, filled, and the product of
 * h with them. */
typedef struct layer_leaves {
    hwa_tensor *w, *row_ptr, *col, *vals, *q, *q_scale;
} layer_leaves;

static hwa_tensor *product(hwa_ctx *ctx, const hwa_cm_layer *L, hwa_cm_form f, hwa_tensor *h, layer_leaves *lv) {
    memset(lv, 0, sizeof *lv);
    switch (f) {
    case HWA_CM_FORM_SPARSE:
        lv->row_ptr = hwa_tensor_new_1d(ctx, HWA_I32, L->out + 1);
        lv->col = hwa_tensor_new_1d(ctx, HWA_I32, L->nnz);
        lv->vals = hwa_tensor_new_1d(ctx, HWA_F32, L->nnz);
        return hwa_spmm(ctx, h, lv->row_ptr, lv->col, lv->vals);
    case HWA_CM_FORM_INT8:
        lv->q = hwa_tensor_new_2d(ctx, HWA_I8, L->out, L->in);
        lv->q_scale = hwa_tensor_new_1d(ctx, HWA_F32, L->out);
        return hwa_qlinear(ctx, h, lv->q, lv->q_scale, L->act == HWA_CM_ACT_STATIC ? L->act_scale : 0.0f,
                           L->act == HWA_CM_ACT_STATIC ? L->act_zero : 0);
    default:
        lv->w = hwa_tensor_new_2d(ctx, HWA_F32, L->out, L->in);
        return hwa_matmul_ex(ctx, h, lv->w, false, true);
    }
}

/* Writes the leaves' data (after hwa_ctx_alloc_leaves). */
static hwa_status fill(const hwa_cmodel *m, int l, hwa_cm_form f, const layer_leaves *lv) {
    const hwa_cm_layer *L = &m->layer[l];
    hwa_status st = HWA_OK;
    if (f == HWA_CM_FORM_SPARSE) {
        /* positions as stored; shared values decoded from the codebook */
        st = hwa_tensor_set_bytes(lv->row_ptr, L->row_ptr, (size_t)(L->out + 1) * sizeof(int32_t));
        if (!st) st = hwa_tensor_set_bytes(lv->col, L->col, (size_t)L->nnz * sizeof(int32_t));
        if (st || !L->bits) return st ? st : hwa_tensor_set_f32(lv->vals, L->values, L->nnz);
        float *v = malloc((size_t)L->nnz * sizeof *v);
        if (!v) return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory for layer %d", l + 1);
        for (int64_t j = 0; j < L->nnz; j++) v[j] = L->codebook[L->codes[j]];
        st = hwa_tensor_set_f32(lv->vals, v, L->nnz);
        free(v);
        return st;
    }
    if (f == HWA_CM_FORM_INT8) {
        st = hwa_tensor_set_bytes(lv->q, L->q, (size_t)(L->out * L->in));
        return st ? st : hwa_tensor_set_f32(lv->q_scale, L->q_scale, L->out);
    }
    float *w = malloc((size_t)(L->out * L->in) * sizeof *w);
    if (!w) return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory for layer %d", l + 1);
    st = hwa_cmodel_dense(m, l, w);
    if (!st) st = hwa_tensor_set_f32(lv->w, w, L->out * L->in);
    free(w);
    return st;
}

static bool is_cpu(const hwa_backend *be) { return !strncmp(hwa_backend_name(be), "cpu", 3); }

/* Seconds of one run of a product alone on be (whose context is ctx), the
 * median of several runs interleaved with the other form's: times[0]
 * dense, times[1] sparse. What it makes in ctx is released after. */
static hwa_status time_forms(const hwa_cmodel *m, int l, hwa_ctx *ctx, hwa_backend *be, int64_t rows,
                             double times[2]) {
    const hwa_cm_layer *L = &m->layer[l];
    const hwa_ctx_mark mark = hwa_ctx_mark_get(ctx);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, rows, L->in);
    layer_leaves lv[2];
    hwa_tensor *y[2] = {product(ctx, L, HWA_CM_FORM_DENSE, x, &lv[0]), product(ctx, L, HWA_CM_FORM_SPARSE, x, &lv[1])};
    hwa_graph *g[2] = {hwa_graph_new(ctx), hwa_graph_new(ctx)};
    hwa_status st = x && y[0] && y[1] && g[0] && g[1] ? HWA_OK : hwa_ctx_last_status(ctx);
    for (int k = 0; k < 2 && !st; k++) st = hwa_graph_build_forward(g[k], y[k]);
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    if (!st) st = hwa_tensor_fill_uniform(x, -1.0f, 1.0f);
    for (int k = 0; k < 2 && !st; k++) st = fill(m, l, k ? HWA_CM_FORM_SPARSE : HWA_CM_FORM_DENSE, &lv[k]);
    for (int k = 0; k < 2 && !st; k++) st = hwa_graph_alloc(g[k], be, HWA_PLAN_REUSE, NULL);
    enum { ROUNDS = 7 };
    double t[2][ROUNDS];
    /* each form once to warm (weights packed, kernels chosen), then rounds
     * of a few runs each, the forms alternating */
    for (int k = 0; k < 2 && !st; k++) st = hwa_graph_compute(g[k], be);
    for (int r = 0; r < ROUNDS && !st; r++) {
        for (int k = 0; k < 2 && !st; k++) {
            const double t0 = hwa_bench_clock_now();
            for (int i = 0; i < 3 && !st; i++) st = hwa_graph_compute(g[k], be);
            if (!st) st = hwa_backend_synchronize(be);
            t[k][r] = (hwa_bench_clock_now() - t0) / 3;
        }
    }
    for (int k = 0; k < 2 && !st; k++) {
        hwa_bench_stats bs;
        st = hwa_bench_stats_compute(t[k], ROUNDS, &bs);
        times[k] = bs.p50;
    }
    if (st && hwa_ctx_last_error(ctx)[0]) hwa__err(NULL, st, "compressed model: layer %d: %s", l + 1, hwa_ctx_last_error(ctx));
    hwa_ctx_release(ctx, mark);
    return st;
}

/* Whether be (of context ctx) runs layer L's product in form f natively. */
static bool runs_form(hwa_ctx *ctx, hwa_backend *be, const hwa_cm_layer *L, hwa_cm_form f, int64_t rows) {
    if (is_cpu(be)) return true;
    const hwa_ctx_mark mark = hwa_ctx_mark_get(ctx);
    layer_leaves lv;
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, rows, L->in);
    hwa_tensor *y = x ? product(ctx, L, f, x, &lv) : NULL;
    const bool ok = y && hwa_backend_supports(be, y);
    hwa_ctx_release(ctx, mark);
    return ok;
}

/* The form of layer l and why: forced, or the fastest be (of context ctx)
 * runs. */
static hwa_status choose(const hwa_cmodel *m, int l, hwa_ctx *ctx, hwa_backend *be, int64_t rows, hwa_cm_form want,
                         hwa_cm_form *f, char *why, size_t cap) {
    const hwa_cm_layer *L = &m->layer[l];
    const bool has_sparse = L->sparse, has_int8 = L->q != NULL;
    if (want == HWA_CM_FORM_SPARSE && !has_sparse)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "compressed model: layer %d is not sparse", l + 1);
    if (want == HWA_CM_FORM_INT8 && !has_int8)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "compressed model: layer %d is not int8", l + 1);
    if (has_sparse && L->nnz == 0) { /* no tensor holds nothing: the product of zeros, dense */
        *f = HWA_CM_FORM_DENSE;
        snprintf(why, cap, "dense: the layer stores no weights");
        return HWA_OK;
    }
    if (want != HWA_CM_FORM_AUTO) {
        *f = want;
        snprintf(why, cap, "%s: asked for", hwa_cm_form_name(want));
        return HWA_OK;
    }
    *f = HWA_CM_FORM_DENSE;
    if (has_int8) {
        if (runs_form(ctx, be, L, HWA_CM_FORM_INT8, rows)) *f = HWA_CM_FORM_INT8;
        snprintf(why, cap, "%s", *f == HWA_CM_FORM_INT8 ? "int8: the layer's own form"
                                                        : "dense: the device has no int8 product");
        return HWA_OK;
    }
    snprintf(why, cap, "dense: the layer's own form");
    if (!has_sparse) return HWA_OK;
    if (!runs_form(ctx, be, L, HWA_CM_FORM_SPARSE, rows)) {
        snprintf(why, cap, "dense: the device has no sparse product");
        return HWA_OK;
    }
    double t[2];
    hwa_status st = time_forms(m, l, ctx, be, rows, t);
    if (st) return st;
    *f = t[1] < t[0] ? HWA_CM_FORM_SPARSE : HWA_CM_FORM_DENSE;
    snprintf(why, cap, "%s: %.1f us sparse, %.1f us dense at %lld rows (density %.3f)", hwa_cm_form_name(*f),
             t[1] * 1e6, t[0] * 1e6, (long long)rows, (double)L->nnz / ((double)L->out * (double)L->in));
    return HWA_OK;
}

hwa_status hwa_cm_net_new(const hwa_cmodel *m, hwa_backend *be, int64_t rows, hwa_cm_form form, hwa_cm_net **out) {
    if (out) *out = NULL;
    if (!m || !be || !out) return hwa__err(NULL, HWA_E_MISUSE, "compressed model: NULL argument");
    if (rows < 1) return hwa__err(NULL, HWA_E_INVALID, "compressed model: %lld rows", (long long)rows);
    if ((unsigned)form > HWA_CM_FORM_INT8) return hwa__err(NULL, HWA_E_INVALID, "compressed model: unknown form %d", form);
    hwa_status st = hwa_cmodel_validate(m);
    if (st) return st;
    hwa_cm_net *n = calloc(1, sizeof *n);
    if (!n) return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    n->rows = rows;
    n->n_layers = m->n_layers;
    n->in = m->layer[0].in;
    n->classes = m->layer[m->n_layers - 1].out;
    /* a backend of its own on be's device with be's threads: tensors live
     * in the context of the backend that runs them, and the net's lifetime
     * is its own */
    hwa_ctx_params cp = {.allocator = NULL, .seed = 1};
    if (!(n->ctx = hwa_ctx_new(&cp))) st = hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    hwa_ctx *ctx = n->ctx;
    if (!st && !(n->be = hwa_backend_new(ctx, be->spec)))
        st = hwa__err(NULL, hwa_ctx_last_status(ctx), "compressed model: %s", hwa_ctx_last_error(ctx));
    if (!st && is_cpu(be)) st = hwa_backend_set_threads(n->be, hwa_backend_threads(be));
    for (int l = 0; l < m->n_layers && !st; l++)
        st = choose(m, l, ctx, n->be, rows, form, &n->form[l], n->reason[l], sizeof n->reason[l]);
    layer_leaves lv[HWA_CMODEL_MAX_LAYERS];
    hwa_tensor *bias[HWA_CMODEL_MAX_LAYERS] = {0};
    be = n->be;
    if (!st) {
        hwa_tensor *h = n->x = hwa_tensor_new_2d(ctx, HWA_F32, rows, n->in);
        for (int l = 0; l < m->n_layers; l++) {
            bias[l] = hwa_tensor_new_1d(ctx, HWA_F32, m->layer[l].out);
            h = n->prod[l] = h ? product(ctx, &m->layer[l], n->form[l], h, &lv[l]) : NULL;
            h = hwa_bias_add(ctx, h, bias[l]);
            if (l + 1 < m->n_layers) h = hwa_activation_apply(ctx, m->activation, h);
        }
        n->logits = h;
        n->g = hwa_graph_new(ctx);
        st = h && n->g ? hwa_graph_build_forward(n->g, h) : hwa_ctx_last_status(ctx);
    }
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    for (int l = 0; l < m->n_layers && !st; l++) {
        st = fill(m, l, n->form[l], &lv[l]);
        if (!st) st = hwa_tensor_set_f32(bias[l], m->layer[l].bias, m->layer[l].out);
    }
    if (!st) st = hwa_graph_alloc(n->g, be, HWA_PLAN_REUSE, NULL);
    if (st) {
        if (ctx && hwa_ctx_last_error(ctx)[0]) hwa__err(NULL, st, "compressed model: %s", hwa_ctx_last_error(ctx));
        hwa_cm_net_free(n);
        return st;
    }
    *out = n;
    return HWA_OK;
}

void hwa_cm_net_free(hwa_cm_net *n) {
    if (!n) return;
    hwa_backend_free(n->be);
    hwa_ctx_free(n->ctx);
    free(n);
}

hwa_status hwa_cm_net_run(hwa_cm_net *n, const float *x, float *logits) {
    if (!n || !x || !logits) return hwa__err(NULL, HWA_E_MISUSE, "compressed model: NULL argument");
    hwa_status st = hwa_tensor_set_f32(n->x, x, n->rows * n->in);
    if (!st) st = hwa_graph_compute(n->g, n->be);
    if (!st) st = hwa_tensor_get_f32(n->logits, logits, n->rows * n->classes);
    if (st) {
        if (hwa_ctx_last_error(n->ctx)[0]) hwa__err(NULL, st, "compressed model: %s", hwa_ctx_last_error(n->ctx));
        return st;
    }
    for (int l = 0; l < n->n_layers; l++)
        snprintf(n->kernel[l], sizeof n->kernel[l], "%s", hwa_backend_kernel_name(n->be, n->prod[l]));
    return HWA_OK;
}

static bool layer_ok(const hwa_cm_net *n, int l) { return n && l >= 0 && l < n->n_layers; }
int hwa_cm_net_n_layers(const hwa_cm_net *n) { return n ? n->n_layers : 0; }
hwa_cm_form hwa_cm_net_form(const hwa_cm_net *n, int l) { return layer_ok(n, l) ? n->form[l] : HWA_CM_FORM_AUTO; }
const char *hwa_cm_net_reason(const hwa_cm_net *n, int l) { return layer_ok(n, l) ? n->reason[l] : ""; }
const char *hwa_cm_net_kernel(const hwa_cm_net *n, int l) { return layer_ok(n, l) ? n->kernel[l] : ""; }
hwa_graph *hwa_cm_net_graph(const hwa_cm_net *n) { return n ? n->g : NULL; }
hwa_backend *hwa_cm_net_backend(const hwa_cm_net *n) { return n ? n->be : NULL; }
hwa_tensor *hwa_cm_net_input(const hwa_cm_net *n) { return n ? n->x : NULL; }
hwa_tensor *hwa_cm_net_logits(const hwa_cm_net *n) { return n ? n->logits : NULL; }

hwa_status hwa_cm_nets_time(hwa_cm_net *const *nets, int n, int reps, double min_visit_s, double *seconds) {
    if (!nets || n < 1 || reps < 1 || !seconds || !(min_visit_s >= 0))
        return hwa__err(NULL, HWA_E_MISUSE, "compressed model timing: bad arguments");
    double *t = calloc((size_t)n * (size_t)reps, sizeof *t);
    if (!t) return hwa__err(NULL, HWA_E_NOMEM, "compressed model timing: out of memory");
    hwa_status st = HWA_OK;
    for (int i = 0; i < n && !st; i++) {
        if (!nets[i]) st = hwa__err(NULL, HWA_E_MISUSE, "compressed model timing: NULL net %d", i);
        if (!st) st = hwa_graph_compute(nets[i]->g, nets[i]->be);
        if (!st) st = hwa_backend_synchronize(nets[i]->be);
    }
    for (int r = 0; r < reps && !st; r++) {
        for (int i = 0; i < n && !st; i++) {
            const double t0 = hwa_bench_clock_now();
            double el = 0;
            int64_t runs = 0;
            do {
                st = hwa_graph_compute(nets[i]->g, nets[i]->be);
                if (!st) st = hwa_backend_synchronize(nets[i]->be);
                runs++;
                el = hwa_bench_clock_now() - t0;
            } while (!st && el < min_visit_s);
            t[(size_t)i * (size_t)reps + (size_t)r] = el / (double)runs;
        }
    }
    for (int i = 0; i < n && !st; i++) {
        hwa_bench_stats bs;
        st = hwa_bench_stats_compute(t + (size_t)i * (size_t)reps, reps, &bs);
        seconds[i] = bs.p50;
    }
    free(t);
    return st;
}

/* Adds the cross-entropy of `rows` rows of logits [rows, C] against labels
 * (in double, max-subtracted) and counts the rows whose arg max is the
 * label (the first of equal maxima). */
static void score(const float *z, int64_t rows, int64_t C, const int32_t *labels, double *loss, int64_t *correct) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = z + r * C;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (row[c] > row[best]) best = c;
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += exp((double)row[c] - row[best]);
        *loss += log(s) + row[best] - row[labels[r]];
        *correct += best == labels[r];
    }
}

hwa_status hwa_cmodel_evaluate(const hwa_cmodel *m, hwa_backend *be, const hwa_dataset *d, double *loss,
                               double *accuracy) {
    return hwa_cmodel_evaluate_form(m, be, d, HWA_CM_FORM_AUTO, loss, accuracy, NULL);
}

hwa_status hwa_cmodel_evaluate_form(const hwa_cmodel *m, hwa_backend *be, const hwa_dataset *d, hwa_cm_form form,
                                    double *loss, double *accuracy, hwa_cm_net **net) {
    if (net) *net = NULL;
    if (!m || !be || !d || !loss || !accuracy) return hwa__err(NULL, HWA_E_MISUSE, "compressed model: NULL argument");
    const int64_t n = hwa_dataset_n(d), F = hwa_dataset_features(d), B = n < 1000 ? n : 1000;
    hwa_cm_net *full = NULL, *rest = NULL;
    /* the net checks m first */
    hwa_status st = hwa_cm_net_new(m, be, B, form, &full);
    if (st) return st;
    const int64_t C = full->classes, in = full->in;
    if (F != in || hwa_dataset_n_classes(d) != C) {
        hwa_cm_net_free(full);
        return hwa__err(NULL, HWA_E_INVALID, "compressed model: a set of %lld features and %d classes, the model takes "
                        "%lld and %lld", (long long)F, hwa_dataset_n_classes(d), (long long)in, (long long)C);
    }
    float *x = malloc((size_t)(B * F) * sizeof *x), *z = malloc((size_t)(B * C) * sizeof *z);
    int32_t *y = malloc((size_t)B * sizeof *y);
    if (!x || !z || !y) st = hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    if (!st && n % B) st = hwa_cm_net_new(m, be, n % B, form, &rest);
    double sum = 0.0;
    int64_t correct = 0;
    for (int64_t i = 0; i < n && !st; i += B) {
        const int64_t rows = n - i < B ? n - i : B;
        for (int64_t r = 0; r < rows; r++) {
            memcpy(x + r * F, hwa_dataset_x(d, i + r), (size_t)F * sizeof *x);
            y[r] = hwa_dataset_label(d, i + r);
        }
        st = hwa_cm_net_run(rows == B ? full : rest, x, z);
        if (!st) score(z, rows, C, y, &sum, &correct);
    }
    if (net && !st) *net = full;
    else hwa_cm_net_free(full);
    hwa_cm_net_free(rest);
    free(x);
    free(z);
    free(y);
    if (st) return st;
    *loss = sum / (double)n;
    *accuracy = (double)correct / (double)n;
    return HWA_OK;
}
