/* Post-training int8 quantization: weights per output channel, symmetric
 * in [-127, 127]; each layer's input activations as u8 with a scale and a
 * zero point, calibrated on training samples (min-max, percentile or
 * entropy) or dynamic per row; and an accuracy gate that puts the layers
 * that cost the most back in f32 until the loss is within --max-drop.
 *
 * Every static method ends in the same rule: a range [lo, hi] that holds 0
 * (lo <= 0 <= hi) becomes scale = (hi - lo) / 255 and zero point
 * round(-lo / scale), so that 0 is exact (ReLU outputs are mostly 0). They
 * differ in how [lo, hi] comes from the calibration values v:
 *   - min-max: lo = min(0, min v), hi = max(0, max v);
 *   - percentile p: lo = min(0, P(100 - p)), hi = max(0, P(p)), P the
 *     percentile with linear interpolation between ranks (numpy's default);
 *   - entropy: TensorRT's KL-divergence calibration, adapted to an
 *     asymmetric range. A histogram of the values of v other than 0 (0 is
 *     exact in every range, and the spike of a ReLU's zeros would otherwise
 *     outweigh the rest) over [min(0, min v), max(0, max v)] in 2048
 *     bins; candidate windows of bins [a, b) that hold the bin of 0, a and
 *     b on a grid of 16 bins (a counted up from bin 0, b down from bin
 *     2048), at least 256 bins wide. For each window: P is the window's
 *     histogram with the mass below a added to its first bin and the mass
 *     past b to its last (clipping moves values to the range's ends); Q
 *     quantizes the window's own histogram (without the clipped mass) to
 *     the 256 u8 levels (bin i of W in level floor(256 i / W)) and spreads
 *     each level's mass evenly over that level's bins that are not empty. KL(P || Q)
 *     over the normalised histograms, a bin where P > 0 and Q = 0 counting
 *     with Q = 1e-8; the window of the least KL wins (ties: the widest,
 *     the first found), [lo, hi] its edges. For ReLU outputs the bin of 0 is
 *     bin 0 and this is TensorRT's search over the upper end, with 256
 *     levels for its 128. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compress/passes_internal.h"

static const char *const calib_names[] = {"minmax", "percentile", "entropy", "dynamic"};
#define N_CALIB ((int)(sizeof calib_names / sizeof calib_names[0]))

const char *hwa_calib_method_name(hwa_calib_method c) { return (unsigned)c < (unsigned)N_CALIB ? calib_names[c] : "?"; }

hwa_status hwa_calib_method_from_name(const char *name, hwa_calib_method *out) {
    for (int k = 0; name && k < N_CALIB; k++)
        if (!strcasecmp(name, calib_names[k])) {
            if (out) *out = (hwa_calib_method)k;
            return HWA_OK;
        }
    return hwa__err(NULL, HWA_E_NOTFOUND, "unknown calibration method '%s' (minmax, percentile, entropy, dynamic)",
                    name ? name : "(null)");
}

#define ENT_BINS 2048
#define ENT_STEP 16
#define ENT_LEVELS 256

/* P(p) of the sorted values s[0..n), linear between ranks. */
static double percentile(const float *s, int64_t n, double p) {
    const double pos = (double)(n - 1) * p / 100.0;
    const int64_t i = (int64_t)floor(pos);
    if (i >= n - 1) return s[n - 1];
    return (double)s[i] + ((double)s[i + 1] - (double)s[i]) * (pos - (double)i);
}

/* KL(P || Q) of the window [a, b) of hist (see the top of the file). */
static double window_kl(const double *hist, int a, int b, double below, double above) {
    const int W = b - a;
    double p[ENT_BINS], q[ENT_BINS], ps = 0.0, qs = 0.0;
    for (int i = 0; i < W; i++) p[i] = hist[a + i];
    p[0] += below;
    p[W - 1] += above;
    for (int i = 0; i < W;) {
        const int lev = (int)((int64_t)i * ENT_LEVELS / W);
        int j = i, nz = 0;
        double mass = 0.0;
        while (j < W && (int)((int64_t)j * ENT_LEVELS / W) == lev) {
            mass += hist[a + j];
            nz += hist[a + j] > 0.0;
            j++;
        }
        for (int k = i; k < j; k++) q[k] = hist[a + k] > 0.0 ? mass / nz : 0.0;
        i = j;
    }
    for (int i = 0; i < W; i++) {
        ps += p[i];
        qs += q[i];
    }
    if (!(ps > 0.0) || !(qs > 0.0)) return INFINITY;
    double kl = 0.0;
    for (int i = 0; i < W; i++) {
        if (p[i] <= 0.0) continue;
        const double pp = p[i] / ps, qq = q[i] > 0.0 ? q[i] / qs : 1e-8;
        kl += pp * log(pp / qq);
    }
    return kl;
}

static void entropy_range(const float *v, int64_t n, double lo0, double hi0, double *lo, double *hi) {
    double hist[ENT_BINS] = {0};
    const double bw = (hi0 - lo0) / ENT_BINS;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] == 0.0f) continue; /* exact in every range: no part of the choice */
        int64_t b = (int64_t)((v[i] - lo0) / bw);
        hist[b < 0 ? 0 : b >= ENT_BINS ? ENT_BINS - 1 : b]++;
    }
    int zb = (int)floor(-lo0 / bw);
    zb = zb < 0 ? 0 : zb >= ENT_BINS ? ENT_BINS - 1 : zb;
    double pre[ENT_BINS + 1];
    pre[0] = 0.0;
    for (int i = 0; i < ENT_BINS; i++) pre[i + 1] = pre[i] + hist[i];
    double best = INFINITY;
    int ba = 0, bb = ENT_BINS;
    for (int a = 0; a <= zb; a += ENT_STEP)
        for (int b = ENT_BINS; b > zb && b - a >= ENT_LEVELS; b -= ENT_STEP) {
            const double kl = window_kl(hist, a, b, pre[a], pre[ENT_BINS] - pre[b]);
            if (kl < best) {
                best = kl;
                ba = a;
                bb = b;
            }
        }
    *lo = lo0 + ba * bw;
    *hi = lo0 + bb * bw;
}

/* The u8 scale and zero point of the n calibration values v (sorted in
 * place) by method c. */
static void calibrate(float *v, int64_t n, hwa_calib_method c, double pct, float *scale, int *zero) {
    double lo = 0.0, hi = 0.0;
    qsort(v, (size_t)n, sizeof *v, hwa__cp_float_cmp);
    const double lo0 = fmin(0.0, v[0]), hi0 = fmax(0.0, v[n - 1]);
    if (c == HWA_CALIB_PERCENTILE) {
        lo = percentile(v, n, 100.0 - pct);
        hi = percentile(v, n, pct);
    } else if (c == HWA_CALIB_ENTROPY && hi0 > lo0) {
        entropy_range(v, n, lo0, hi0, &lo, &hi);
    } else {
        lo = lo0;
        hi = hi0;
    }
    lo = fmin(0.0, lo);
    hi = fmax(0.0, hi);
    if (!(hi > lo)) {
        *scale = 1.0f;
        *zero = 0;
        return;
    }
    *scale = (float)((hi - lo) / 255.0);
    const double z = nearbyint(-lo / (double)*scale);
    *zero = z < 0.0 ? 0 : z > 255.0 ? 255 : (int)z;
}

typedef struct act_params {
    hwa_cm_act act;
    float scale;
    int zero;
} act_params;

/* Layer l of m (dense f32) becomes int8 with the activations' parameters a. */
static hwa_status quantize_layer(hwa_cmodel *m, int l, const act_params *a) {
    hwa_cm_layer *L = &m->layer[l];
    const int64_t N = L->out, K = L->in;
    int8_t *q = malloc((size_t)(N * K));
    float *qs = malloc((size_t)N * sizeof *qs);
    if (!q || !qs) {
        free(q);
        free(qs);
        return hwa__err(NULL, HWA_E_NOMEM, "int8: out of memory");
    }
    for (int64_t n = 0; n < N; n++) {
        const float *w = L->values + n * K;
        float amax = 0.0f;
        for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(w[k]));
        const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        for (int64_t k = 0; k < K; k++) {
            const float r = nearbyintf(w[k] / s);
            q[n * K + k] = (int8_t)(r < -127.0f ? -127 : r > 127.0f ? 127 : (int)r);
        }
        qs[n] = s;
    }
    free(L->values);
    L->values = NULL;
    L->q = q;
    L->q_scale = qs;
    L->act = a->act;
    L->act_scale = a->act == HWA_CM_ACT_STATIC ? a->scale : 0.0f;
    L->act_zero = a->act == HWA_CM_ACT_STATIC ? a->zero : 0;
    return HWA_OK;
}

/* Each layer's activation parameters: the inputs of every layer from the
 * first n training samples through the float model, calibrated. */
static hwa_status calibrate_layers(const hwa_cmodel *m, const hwa_int8_opts *o, const hwa_compress_data *d,
                                   hwa_ctx *ctx, hwa_backend *be, act_params *ap) {
    for (int l = 0; l < m->n_layers; l++) ap[l].act = o->method == HWA_CALIB_DYNAMIC ? HWA_CM_ACT_DYNAMIC : HWA_CM_ACT_STATIC;
    if (o->method == HWA_CALIB_DYNAMIC) return HWA_OK;
    int64_t n = o->calib ? o->calib : 300;
    n = n < hwa_dataset_n(d->train) ? n : hwa_dataset_n(d->train);
    int64_t widest = m->layer[0].in;
    for (int l = 0; l < m->n_layers; l++) widest = m->layer[l].out > widest ? m->layer[l].out : widest;
    float *x = malloc((size_t)(n * widest) * sizeof *x), *y = malloc((size_t)(n * widest) * sizeof *y);
    hwa_status st = x && y ? HWA_OK : hwa__err(NULL, HWA_E_NOMEM, "int8: out of memory");
    for (int64_t i = 0; i < n && st == HWA_OK; i++)
        memcpy(x + i * m->layer[0].in, hwa_dataset_x(d->train, i), (size_t)m->layer[0].in * sizeof *x);
    const double pct = o->percentile > 0.0 ? o->percentile : 99.99;
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) {
        /* the next layer's inputs first: calibrate sorts x */
        if (l + 1 < m->n_layers) st = hwa__cp_layer_forward(ctx, be, m, l, true, x, n, y);
        if (st) break;
        calibrate(x, n * m->layer[l].in, o->method, pct, &ap[l].scale, &ap[l].zero);
        hwa__cp_note(d, "int8: fc%d input %s on %lld samples: scale %.6g, zero point %d", l + 1,
                     hwa_calib_method_name(o->method), (long long)n, ap[l].scale, ap[l].zero);
        float *t = x;
        x = y;
        y = t;
    }
    free(x);
    free(y);
    return st;
}

/* Accuracy of m with the layers where int8[l] in int8, the others f32. */
static hwa_status accuracy_with(const hwa_cmodel *fm, const bool *int8, const act_params *ap, hwa_backend *be,
                                const hwa_dataset *val, double *acc) {
    hwa_cmodel *c = NULL;
    hwa_status st = hwa_cmodel_clone(fm, &c);
    for (int l = 0; l < fm->n_layers && st == HWA_OK; l++)
        if (int8[l]) st = quantize_layer(c, l, &ap[l]);
    double loss;
    if (st == HWA_OK) st = hwa_cmodel_evaluate(c, be, val, &loss, acc);
    hwa_cmodel_free(c);
    return st;
}

static hwa_status check_opts(const hwa_int8_opts *o) {
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "int8: NULL options");
    if ((unsigned)o->method >= (unsigned)N_CALIB) return hwa__err(NULL, HWA_E_INVALID, "int8: unknown calibration method");
    if (o->calib < 0) return hwa__err(NULL, HWA_E_INVALID, "int8: --calib %lld must be at least 1", (long long)o->calib);
    if (!(o->percentile >= 0.0 && o->percentile <= 100.0))
        return hwa__err(NULL, HWA_E_INVALID, "int8: --percentile %g must be in (0, 100]", o->percentile);
    if (isnan(o->max_drop)) return hwa__err(NULL, HWA_E_INVALID, "int8: --max-drop is NaN");
    return HWA_OK;
}

/* The gate: each layer alone in int8, then all; the costliest back to f32
 * until the drop is within max_drop. */
static hwa_status gate(hwa_cmodel *fm, const hwa_int8_opts *o, const hwa_compress_data *d, hwa_backend *be,
                       const act_params *ap, bool *int8, hwa_int8_report *rep) {
    const int L = fm->n_layers;
    const hwa_dataset *val = d->val ? d->val : d->test;
    hwa_status st = accuracy_with(fm, (bool[HWA_CMODEL_MAX_LAYERS]){0}, ap, be, val, &rep->val_float);
    for (int l = 0; l < L && st == HWA_OK; l++) {
        bool one[HWA_CMODEL_MAX_LAYERS] = {0};
        one[l] = true;
        double acc;
        st = accuracy_with(fm, one, ap, be, val, &acc);
        rep->layer_drop[l] = rep->val_float - acc;
        if (st == HWA_OK)
            hwa__cp_note(d, "int8 gate: fc%d alone in int8 loses %.2f points", l + 1, 100.0 * rep->layer_drop[l]);
    }
    if (st == HWA_OK) st = accuracy_with(fm, int8, ap, be, val, &rep->val_int8);
    while (st == HWA_OK && o->max_drop >= 0.0 && rep->val_float - rep->val_int8 > o->max_drop) {
        int worst = -1;
        for (int l = 0; l < L; l++)
            if (int8[l] && (worst < 0 || rep->layer_drop[l] > rep->layer_drop[worst])) worst = l;
        if (worst < 0) break;
        int8[worst] = false;
        rep->kept_float[worst] = true;
        const double before = rep->val_int8;
        st = accuracy_with(fm, int8, ap, be, val, &rep->val_int8);
        hwa__cp_note(d, "int8 gate: %.2f%% against %.2f%% in f32, over --max-drop %.2f points: fc%d back to f32 (%.2f%%)",
                     100.0 * before, 100.0 * rep->val_float, 100.0 * o->max_drop, worst + 1, 100.0 * rep->val_int8);
    }
    return st;
}

hwa_status hwa_compress_int8(hwa_cmodel *m, const hwa_int8_opts *o, const hwa_compress_data *d,
                             hwa_int8_report *rep) {
    hwa_status st = hwa__cp_check(m, d, "int8", true, true);
    if (st == HWA_OK) st = check_opts(o);
    if (st) return st;
    const bool gated = o->max_drop >= 0.0;
    if ((gated || rep) && !d->val && !d->test)
        return hwa__err(NULL, HWA_E_INVALID, "int8: the accuracy gate and the report need a validation or test set");
    hwa_int8_report r;
    memset(&r, 0, sizeof r);
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) r.layer_drop[l] = NAN;
    r.val_float = r.val_int8 = NAN;
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = ctx ? hwa_backend_new(ctx, d->device ? d->device : "cpu") : NULL;
    if (!be) st = ctx ? hwa_ctx_last_status(ctx) : HWA_E_NOMEM;
    if (st == HWA_OK && d->threads > 0) st = hwa_backend_set_threads(be, d->threads);
    act_params ap[HWA_CMODEL_MAX_LAYERS];
    memset(ap, 0, sizeof ap);
    if (st == HWA_OK) st = calibrate_layers(m, o, d, ctx, be, ap);
    bool int8[HWA_CMODEL_MAX_LAYERS];
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) int8[l] = l < m->n_layers;
    hwa_cmodel *fm = NULL;
    if (st == HWA_OK && (gated || rep)) {
        st = hwa_cmodel_clone(m, &fm);
        if (st == HWA_OK) st = gated ? gate(fm, o, d, be, ap, int8, &r)
                                     : accuracy_with(fm, (bool[HWA_CMODEL_MAX_LAYERS]){0}, ap, be,
                                                     d->val ? d->val : d->test, &r.val_float);
        if (st == HWA_OK && !gated) st = accuracy_with(fm, int8, ap, be, d->val ? d->val : d->test, &r.val_int8);
    }
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++)
        if (int8[l]) st = quantize_layer(m, l, &ap[l]);
    hwa_cmodel_free(fm);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    if (st == HWA_OK && rep) *rep = r;
    return st;
}
