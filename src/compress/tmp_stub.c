/* TEMPORARY (passes branch only): a stand-in for the lead's
 * hwa_cmodel_evaluate (src/compress/net.c) until it lands on main; deleted
 * at that merge. Int8 layers are evaluated with their activations
 * quantized as QLINEAR does and the products in f32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/ref/ref.h"
#include "compress/passes_internal.h"

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
