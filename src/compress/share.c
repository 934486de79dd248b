/* Weight sharing (Deep Compression's second stage): per layer, the stored
 * weights clustered by k-means into at most 2^bits centroids, each weight
 * replaced by the index of its centroid; then retraining in which the
 * gradients of a centroid's weights are summed and the centroid, not the
 * weight, is updated.
 *
 * The centroids are updated by Adam (the trainer's betas and eps, the
 * step's rate), not by plain SGD: the summed gradient grows with the
 * number of weights a centroid holds, which ranges from a handful to about
 * 10^5 in fmnist-mlp's layers, so one SGD rate is either too slow for the
 * small clusters or unstable for the large ones; Adam's per-centroid
 * normalisation makes every centroid's step about the rate, as the
 * weights' own steps were in training. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/passes_internal.h"

#define KMEANS_MAX_ITERS 300

typedef struct share_layer {
    int n_codes;
    float codebook[1 << HWA_CMODEL_MAX_BITS];
    double m1[1 << HWA_CMODEL_MAX_BITS], m2[1 << HWA_CMODEL_MAX_BITS], gsum[1 << HWA_CMODEL_MAX_BITS];
    uint8_t *codes; /* [nnz] */
} share_layer;

typedef struct share_state {
    hwa_cmodel *m;
    share_layer lay[HWA_CMODEL_MAX_LAYERS];
    float *w, *g;   /* scratch [the largest out * in] */
    int64_t steps;  /* Adam's count */
} share_state;

/* The cluster of v: how many of the boundaries mid[0..k-2] (increasing) v
 * exceeds. */
static int cluster_of(float v, const float *mid, int k) {
    int lo = 0, hi = k - 1;
    while (lo < hi) {
        const int h = (lo + hi) / 2;
        if (v > mid[h]) lo = h + 1;
        else hi = h;
    }
    return lo;
}

/* The midpoints between consecutive centroids. */
static void midpoints(const float *c, int k, float *mid) {
    for (int j = 0; j + 1 < k; j++) mid[j] = c[j] + (c[j + 1] - c[j]) * 0.5f;
}

/* Lloyd's k-means in one dimension over n values (n >= 1) into at most k
 * centroids, initialised linearly over [min, max]. On the sorted values
 * each cluster is a run, cut at the midpoints between centroids, so an
 * iteration is k binary searches and k means from prefix sums. A cluster
 * that empties is dropped (the others stay in increasing order). Stops
 * when no cut moves. c gets the centroids, *kout their count. */
static hwa_status kmeans(const float *v, int64_t n, int k, float *c, int *kout) {
    float *s = malloc((size_t)n * sizeof *s);
    double *pre = malloc((size_t)(n + 1) * sizeof *pre);
    if (!s || !pre) {
        free(s);
        free(pre);
        return hwa__err(NULL, HWA_E_NOMEM, "share: out of memory");
    }
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, hwa__cp_float_cmp);
    pre[0] = 0.0;
    for (int64_t i = 0; i < n; i++) pre[i + 1] = pre[i] + (double)s[i];
    const float lo = s[0], hi = s[n - 1];
    if (k < 2 || hi == lo) k = 1;
    for (int j = 0; j < k; j++) c[j] = k == 1 ? (float)(pre[n] / (double)n) : lo + (hi - lo) * (float)j / (float)(k - 1);
    int64_t cut[(1 << HWA_CMODEL_MAX_BITS) + 1], prev[(1 << HWA_CMODEL_MAX_BITS) + 1];
    float mid[1 << HWA_CMODEL_MAX_BITS];
    for (int it = 0; it < KMEANS_MAX_ITERS && k > 1; it++) {
        midpoints(c, k, mid);
        cut[0] = 0;
        cut[k] = n;
        for (int j = 0; j + 1 < k; j++) { /* the first sorted value past mid[j] */
            int64_t a = cut[j], b = n;
            while (a < b) {
                const int64_t h = a + (b - a) / 2;
                if (s[h] > mid[j]) b = h;
                else a = h + 1;
            }
            cut[j + 1] = a;
        }
        int kk = 0;
        for (int j = 0; j < k; j++)
            if (cut[j + 1] > cut[j]) {
                c[kk] = (float)((pre[cut[j + 1]] - pre[cut[j]]) / (double)(cut[j + 1] - cut[j]));
                cut[kk + 1] = cut[j + 1];
                kk++;
            }
        const bool same = kk == k && it > 0 && !memcmp(cut, prev, (size_t)(k + 1) * sizeof *cut);
        memcpy(prev, cut, (size_t)(kk + 1) * sizeof *cut);
        k = kk;
        if (same) break;
    }
    free(s);
    free(pre);
    *kout = k;
    return HWA_OK;
}

static int layer_bits(const hwa_share_opts *o, int l) {
    return o->bits[l] ? o->bits[l] : o->bits[0] ? o->bits[0] : 5;
}

/* Clusters layer l's stored weights: the codebook and the codes, each the
 * nearest centroid; centroids that no weight takes are dropped. */
static hwa_status cluster_layer(share_state *s, int l, int bits) {
    const hwa_cm_layer *L = &s->m->layer[l];
    share_layer *y = &s->lay[l];
    y->codes = malloc((size_t)(L->nnz ? L->nnz : 1));
    if (!y->codes) return hwa__err(NULL, HWA_E_NOMEM, "share: out of memory");
    if (L->nnz == 0) {
        y->n_codes = 1;
        y->codebook[0] = 0.0f;
        return HWA_OK;
    }
    hwa_status st = kmeans(L->values, L->nnz, 1 << bits, y->codebook, &y->n_codes);
    if (st) return st;
    float mid[1 << HWA_CMODEL_MAX_BITS];
    int64_t used[1 << HWA_CMODEL_MAX_BITS] = {0};
    int remap[1 << HWA_CMODEL_MAX_BITS];
    midpoints(y->codebook, y->n_codes, mid);
    for (int64_t j = 0; j < L->nnz; j++) {
        y->codes[j] = (uint8_t)cluster_of(L->values[j], mid, y->n_codes);
        used[y->codes[j]]++;
    }
    int k = 0;
    for (int c = 0; c < y->n_codes; c++) {
        remap[c] = k;
        if (used[c]) y->codebook[k++] = y->codebook[c];
    }
    if (k < y->n_codes)
        for (int64_t j = 0; j < L->nnz; j++) y->codes[j] = (uint8_t)remap[y->codes[j]];
    y->n_codes = k;
    return HWA_OK;
}

/* The dense index of stored weight j of row r. */
static int64_t position(const hwa_cm_layer *L, int64_t r, int64_t j) {
    return L->sparse ? r * L->in + L->col[j] : j;
}

/* w [out * in] from the codebook: centroids at the stored positions, 0
 * elsewhere. */
static void decode_shared(const hwa_cm_layer *L, const share_layer *y, float *w) {
    memset(w, 0, (size_t)(L->out * L->in) * sizeof *w);
    for (int64_t r = 0; r < L->out; r++) {
        const int64_t a = L->sparse ? L->row_ptr[r] : r * L->in, b = L->sparse ? L->row_ptr[r + 1] : (r + 1) * L->in;
        for (int64_t j = a; j < b; j++) w[position(L, r, j)] = y->codebook[y->codes[j]];
    }
}

/* After each step: every centroid moves by Adam on the sum of its weights'
 * gradients; the weights are rewritten from the centroids. */
static hwa_status update_centroids(void *ud, hwa_trainer *t, int64_t step, double lr) {
    (void)step;
    share_state *s = ud;
    const hwa_optim_config oc = hwa_optim_config_default(HWA_OPTIM_ADAM);
    const double b1 = oc.beta1, b2 = oc.beta2, eps = oc.eps;
    s->steps++;
    const double c1 = 1.0 - pow(b1, (double)s->steps), c2 = 1.0 - pow(b2, (double)s->steps);
    hwa_status st = HWA_OK;
    for (int l = 0; l < s->m->n_layers && st == HWA_OK; l++) {
        const hwa_cm_layer *L = &s->m->layer[l];
        share_layer *y = &s->lay[l];
        if ((st = hwa_trainer_get_grad(t, l, s->g))) break;
        memset(y->gsum, 0, sizeof y->gsum);
        for (int64_t r = 0; r < L->out; r++) {
            const int64_t a = L->sparse ? L->row_ptr[r] : r * L->in, b = L->sparse ? L->row_ptr[r + 1] : (r + 1) * L->in;
            for (int64_t j = a; j < b; j++) y->gsum[y->codes[j]] += (double)s->g[position(L, r, j)];
        }
        for (int c = 0; c < y->n_codes; c++) {
            const double g = y->gsum[c];
            y->m1[c] = b1 * y->m1[c] + (1.0 - b1) * g;
            y->m2[c] = b2 * y->m2[c] + (1.0 - b2) * g * g;
            y->codebook[c] -= (float)(lr * (y->m1[c] / c1) / (sqrt(y->m2[c] / c2) + eps));
        }
        decode_shared(L, y, s->w);
        st = hwa_trainer_set_weights(t, l, s->w, NULL);
    }
    return st;
}

/* Layer l keeps its positions; its values become the codebook and codes. */
static hwa_status make_shared(share_state *s, int l, int bits) {
    hwa_cm_layer *L = &s->m->layer[l];
    share_layer *y = &s->lay[l];
    float *cb = malloc((size_t)y->n_codes * sizeof *cb);
    if (!cb) return hwa__err(NULL, HWA_E_NOMEM, "share: out of memory");
    memcpy(cb, y->codebook, (size_t)y->n_codes * sizeof *cb);
    free(L->values);
    L->values = NULL;
    L->bits = bits;
    L->n_codes = y->n_codes;
    L->codebook = cb;
    L->codes = y->codes;
    y->codes = NULL;
    return HWA_OK;
}

static hwa_status share_run(share_state *s, const hwa_share_opts *o, const hwa_compress_data *d) {
    hwa_cmodel *m = s->m;
    int64_t widest = 0;
    hwa_status st = HWA_OK;
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) {
        const hwa_cm_layer *L = &m->layer[l];
        widest = L->out * L->in > widest ? L->out * L->in : widest;
        st = cluster_layer(s, l, layer_bits(o, l));
        if (st == HWA_OK)
            hwa__cp_note(d, "share: fc%d: %lld weights in %d centroids (%d bits)", l + 1, (long long)L->nnz,
                         s->lay[l].n_codes, layer_bits(o, l));
    }
    if (st == HWA_OK && o->retrain_epochs > 0) {
        s->w = malloc((size_t)widest * sizeof(float));
        s->g = malloc((size_t)widest * sizeof(float));
        if (!s->w || !s->g) return hwa__err(NULL, HWA_E_NOMEM, "share: out of memory");
        hwa_trainer *t = NULL;
        st = hwa__cp_trainer(m, d, o->retrain_epochs, HWA__CP_LR_PRUNE, &t);
        /* the trainer starts from the shared weights */
        for (int l = 0; l < m->n_layers && st == HWA_OK; l++) {
            decode_shared(&m->layer[l], &s->lay[l], s->w);
            st = hwa_trainer_set_weights(t, l, s->w, NULL);
        }
        if (st == HWA_OK) {
            hwa_trainer_set_step_hook(t, update_centroids, s);
            st = hwa__cp_retrain(t, m, d, o->retrain_epochs, "share retraining");
        }
        hwa_trainer_free(t);
    }
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) st = make_shared(s, l, layer_bits(o, l));
    return st;
}

hwa_status hwa_compress_share(hwa_cmodel *m, const hwa_share_opts *o, const hwa_compress_data *d) {
    hwa_status st = hwa__cp_check(m, d, "share", true, false);
    if (st) return st;
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "share: NULL options");
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++)
        if (o->bits[l] < 0 || o->bits[l] > HWA_CMODEL_MAX_BITS)
            return hwa__err(NULL, HWA_E_INVALID, "share: layer %d's bits %d (1 to %d; 0: the first layer's, or 5)",
                            l + 1, o->bits[l], HWA_CMODEL_MAX_BITS);
    if (o->retrain_epochs < 0)
        return hwa__err(NULL, HWA_E_INVALID, "share: %lld retraining epochs", (long long)o->retrain_epochs);
    share_state *s = calloc(1, sizeof *s);
    if (!s) return hwa__err(NULL, HWA_E_NOMEM, "share: out of memory");
    s->m = m;
    st = share_run(s, o, d);
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) free(s->lay[l].codes);
    free(s->w);
    free(s->g);
    free(s);
    return st;
}
