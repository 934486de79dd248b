/* Structured pruning of hidden units: each hidden unit scored by the L2
 * norm of its weights, incoming (its row of the layer before) and outgoing
 * (its column of the layer after) together; the best `keep` fraction of
 * each hidden layer kept in their order, the others' rows, biases and
 * columns cut; then retraining of the smaller dense model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/passes_internal.h"

typedef struct unit {
    double score;
    int64_t idx;
} unit;

/* Highest score first; ties keep the lower index. */
static int unit_cmp(const void *a, const void *b) {
    const unit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int idx_cmp(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The units of hidden layer h (layer h's outputs, layer h+1's inputs) to
 * keep, in increasing order, into kept[0..*n). */
static hwa_status choose_units(const hwa_cmodel *m, int h, double keep, int64_t *kept, int64_t *n) {
    const hwa_cm_layer *A = &m->layer[h], *B = &m->layer[h + 1];
    const int64_t U = A->out;
    unit *u = malloc((size_t)U * sizeof *u);
    if (!u) return hwa__err(NULL, HWA_E_NOMEM, "neurons: out of memory");
    for (int64_t j = 0; j < U; j++) {
        double s = 0.0;
        for (int64_t k = 0; k < A->in; k++) s += (double)A->values[j * A->in + k] * A->values[j * A->in + k];
        for (int64_t r = 0; r < B->out; r++) s += (double)B->values[r * B->in + j] * B->values[r * B->in + j];
        u[j] = (unit){sqrt(s), j};
    }
    qsort(u, (size_t)U, sizeof *u, unit_cmp);
    int64_t k = llround(keep * (double)U);
    k = k < 1 ? 1 : k > U ? U : k;
    for (int64_t j = 0; j < k; j++) kept[j] = u[j].idx;
    qsort(kept, (size_t)k, sizeof *kept, idx_cmp);
    free(u);
    *n = k;
    return HWA_OK;
}

/* Layer l keeps the rows rows[0..nr) (NULL: all) and the columns
 * cols[0..nc) (NULL: all), dense f32. */
static hwa_status cut_layer(hwa_cmodel *m, int l, const int64_t *rows, int64_t nr, const int64_t *cols, int64_t nc) {
    hwa_cm_layer *L = &m->layer[l];
    const int64_t R = rows ? nr : L->out, C = cols ? nc : L->in;
    float *w = malloc((size_t)(R * C) * sizeof *w), *b = malloc((size_t)R * sizeof *b);
    if (!w || !b) {
        free(w);
        free(b);
        return hwa__err(NULL, HWA_E_NOMEM, "neurons: out of memory");
    }
    for (int64_t r = 0; r < R; r++) {
        const int64_t sr = rows ? rows[r] : r;
        for (int64_t c = 0; c < C; c++) w[r * C + c] = L->values[sr * L->in + (cols ? cols[c] : c)];
        b[r] = L->bias[sr];
    }
    free(L->bias);
    L->bias = b;
    L->out = R;
    L->in = C;
    const hwa_status st = hwa_cmodel_set_dense(m, l, w);
    free(w);
    return st;
}

hwa_status hwa_compress_neurons(hwa_cmodel *m, const hwa_neuron_opts *o, const hwa_compress_data *d) {
    hwa_status st = hwa__cp_check(m, d, "neurons", true, true);
    if (st) return st;
    if (!o) return hwa__err(NULL, HWA_E_MISUSE, "neurons: NULL options");
    if (!(o->keep > 0.0 && o->keep <= 1.0))
        return hwa__err(NULL, HWA_E_INVALID, "neurons: --keep %g must be in (0, 1]", o->keep);
    if (o->retrain_epochs < 0)
        return hwa__err(NULL, HWA_E_INVALID, "neurons: %lld retraining epochs", (long long)o->retrain_epochs);
    const int H = m->n_layers - 1;
    int64_t *kept[HWA_CMODEL_MAX_LAYERS] = {0}, n[HWA_CMODEL_MAX_LAYERS] = {0};
    /* every choice from the model as given, before any cut */
    for (int h = 0; h < H && st == HWA_OK; h++) {
        kept[h] = malloc((size_t)m->layer[h].out * sizeof(int64_t));
        st = kept[h] ? choose_units(m, h, o->keep, kept[h], &n[h]) : hwa__err(NULL, HWA_E_NOMEM, "neurons: out of memory");
        if (st == HWA_OK)
            hwa__cp_note(d, "neurons: hidden layer %d keeps %lld of %lld units", h + 1, (long long)n[h],
                         (long long)m->layer[h].out);
    }
    for (int l = 0; l <= H && st == HWA_OK; l++)
        st = cut_layer(m, l, l < H ? kept[l] : NULL, l < H ? n[l] : 0, l > 0 ? kept[l - 1] : NULL, l > 0 ? n[l - 1] : 0);
    for (int h = 0; h < H; h++) free(kept[h]);
    if (st || o->retrain_epochs == 0) return st;
    hwa_trainer *t = NULL;
    st = hwa__cp_trainer(m, d, o->retrain_epochs, HWA__CP_LR_NEURONS, &t);
    if (st == HWA_OK) st = hwa__cp_retrain(t, m, d, o->retrain_epochs, "neurons retraining");
    for (int l = 0; l < m->n_layers && st == HWA_OK; l++) st = hwa_trainer_get_weights(t, l, m->layer[l].values, NULL);
    hwa_trainer_free(t);
    return st;
}
