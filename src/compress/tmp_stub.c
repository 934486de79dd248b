/* TEMPORARY (passes branch only): stand-ins for the format helper's
 * model.c and the lead's net.c until they land on main; deleted at the
 * merge. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/ref/ref.h"
#include "compress/passes_internal.h"

hwa_status hwa_cmodel_validate(const hwa_cmodel *m) {
    if (!m || m->n_layers < 1 || m->n_layers > HWA_CMODEL_MAX_LAYERS)
        return hwa__err(NULL, HWA_E_FORMAT, "cmodel: bad layer count");
    return HWA_OK;
}

static void layer_clear(hwa_cm_layer *L) {
    free(L->row_ptr);
    free(L->col);
    free(L->values);
    free(L->codebook);
    free(L->codes);
    free(L->q);
    free(L->q_scale);
    L->row_ptr = L->col = NULL;
    L->values = L->codebook = L->q_scale = NULL;
    L->codes = NULL;
    L->q = NULL;
    L->bits = L->n_codes = 0;
    L->sparse = false;
}

void hwa_cmodel_free(hwa_cmodel *m) {
    if (!m) return;
    for (int l = 0; l < m->n_layers; l++) {
        layer_clear(&m->layer[l]);
        free(m->layer[l].bias);
    }
    free(m);
}

static void *dup(const void *p, size_t n) {
    if (!p) return NULL;
    void *q = malloc(n ? n : 1);
    if (q) memcpy(q, p, n);
    return q;
}

hwa_status hwa_cmodel_clone(const hwa_cmodel *m, hwa_cmodel **out) {
    hwa_cmodel *c = calloc(1, sizeof *c);
    *c = *m;
    for (int l = 0; l < m->n_layers; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        hwa_cm_layer *K = &c->layer[l];
        const size_t nnz = (size_t)L->nnz, n = (size_t)(L->out * L->in);
        K->row_ptr = dup(L->row_ptr, (size_t)(L->out + 1) * 4);
        K->col = dup(L->col, nnz * 4);
        K->values = dup(L->values, nnz * 4);
        K->codebook = dup(L->codebook, (size_t)L->n_codes * 4);
        K->codes = dup(L->codes, nnz);
        K->q = dup(L->q, n);
        K->q_scale = dup(L->q_scale, (size_t)L->out * 4);
        K->bias = dup(L->bias, (size_t)L->out * 4);
    }
    *out = c;
    return HWA_OK;
}

hwa_status hwa_cmodel_dense(const hwa_cmodel *m, int l, float *w) {
    const hwa_cm_layer *L = &m->layer[l];
    const int64_t N = L->out, K = L->in;
    if (L->q) {
        for (int64_t i = 0; i < N * K; i++) w[i] = (float)L->q[i] * L->q_scale[i / K];
        return HWA_OK;
    }
    memset(w, 0, (size_t)(N * K) * sizeof(float));
    for (int64_t n = 0; n < N; n++) {
        const int64_t a = L->sparse ? L->row_ptr[n] : n * K, b = L->sparse ? L->row_ptr[n + 1] : (n + 1) * K;
        for (int64_t j = a; j < b; j++) {
            const int64_t k = L->sparse ? L->col[j] : j - n * K;
            w[n * K + k] = L->codes ? L->codebook[L->codes[j]] : L->values[j];
        }
    }
    return HWA_OK;
}

hwa_status hwa_cmodel_set_dense(hwa_cmodel *m, int l, const float *w) {
    hwa_cm_layer *L = &m->layer[l];
    layer_clear(L);
    L->values = dup(w, (size_t)(L->out * L->in) * 4);
    L->nnz = L->out * L->in;
    return HWA_OK;
}

hwa_status hwa_cmodel_evaluate(const hwa_cmodel *m, hwa_backend *be, const hwa_dataset *d, double *loss,
                               double *accuracy) {
    (void)be;
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *b = hwa_backend_new(ctx, "cpu");
    const int64_t n = hwa_dataset_n(d), F = hwa_dataset_features(d);
    int64_t widest = F;
    for (int l = 0; l < m->n_layers; l++) widest = m->layer[l].out > widest ? m->layer[l].out : widest;
    float *x = malloc((size_t)(n * widest) * 4), *y = malloc((size_t)(n * widest) * 4);
    for (int64_t i = 0; i < n; i++) memcpy(x + i * F, hwa_dataset_x(d, i), (size_t)F * 4);
    hwa_status st = HWA_OK;
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) {
        hwa_cmodel tmp = *m;
        if (m->layer[l].q) { /* fake-quantized activations for the int8 check */
            const hwa_cm_layer *L = &m->layer[l];
            for (int64_t i = 0; i < n; i++) {
                float s = L->act_scale, inv = s > 0 ? 1.0f / s : 0;
                int z = L->act_zero;
                float *row = x + i * L->in;
                if (L->act == HWA_CM_ACT_DYNAMIC) hwa__qlinear_row_params(row, L->in, 1, &s, &inv, &z);
                for (int64_t k = 0; k < L->in; k++) row[k] = ((float)hwa__qlinear_quantize(row[k], inv, z) - z) * s;
            }
        }
        st = hwa__cp_layer_forward(ctx, b, &tmp, l, true, x, n, y);
        float *t = x;
        x = y;
        y = t;
    }
    const int64_t C = m->layer[m->n_layers - 1].out;
    double ls = 0;
    int64_t right = 0;
    for (int64_t i = 0; i < n && st == HWA_OK; i++) {
        const float *r = x + i * C;
        int64_t best = 0;
        double mx = r[0], s = 0;
        for (int64_t c = 1; c < C; c++) {
            if (r[c] > r[best]) best = c;
            if (r[c] > mx) mx = r[c];
        }
        for (int64_t c = 0; c < C; c++) s += exp(r[c] - mx);
        ls += log(s) + mx - r[hwa_dataset_label(d, i)];
        right += best == hwa_dataset_label(d, i);
    }
    *loss = ls / (double)n;
    *accuracy = (double)right / (double)n;
    free(x);
    free(y);
    hwa_backend_free(b);
    hwa_ctx_free(ctx);
    return st;
}
