/* The compressed model as data: its invariants, copies, and the dense f32
 * view of a layer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"

#define ERR(...) hwa__err(NULL, HWA_E_FORMAT, "compressed model: " __VA_ARGS__)

void hwa__cm_layer_clear(hwa_cm_layer *L) {
    free(L->row_ptr);
    free(L->col);
    free(L->values);
    free(L->codebook);
    free(L->codes);
    free(L->q);
    free(L->q_scale);
    free(L->bias);
    memset(L, 0, sizeof *L);
}

void hwa_cmodel_free(hwa_cmodel *m) {
    if (!m) return;
    for (int l = 0; l < HWA_CMODEL_MAX_LAYERS; l++) hwa__cm_layer_clear(&m->layer[l]);
    free(m);
}

/* The first of n floats that is not finite, or -1. */
static int64_t first_nonfinite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

static hwa_status check_positions(const hwa_cm_layer *L, int l) {
    if (!L->sparse) {
        if (L->row_ptr || L->col) return ERR("layer %d: row_ptr/col: set on a dense layer", l);
        if (L->nnz != L->out * L->in) return ERR("layer %d: nnz: %lld in a dense [%lld, %lld] layer", l,
                                                 (long long)L->nnz, (long long)L->out, (long long)L->in);
        return HWA_OK;
    }
    if (L->nnz < 0 || L->nnz > L->out * L->in || L->nnz > INT32_MAX)
        return ERR("layer %d: nnz: %lld is not in [0, %lld]", l, (long long)L->nnz,
                   (long long)(L->out * L->in < INT32_MAX ? L->out * L->in : INT32_MAX));
    if (!L->row_ptr) return ERR("layer %d: row_ptr: missing in a sparse layer", l);
    if (!L->col && L->nnz) return ERR("layer %d: col: missing in a sparse layer", l);
    if (L->row_ptr[0] != 0) return ERR("layer %d: row_ptr[0]: %d, not 0", l, L->row_ptr[0]);
    for (int64_t r = 0; r < L->out; r++) {
        int32_t a = L->row_ptr[r], b = L->row_ptr[r + 1];
        if (b < a || b > L->nnz || b - a > L->in)
            return ERR("layer %d: row_ptr[%lld]: %d after %d (nnz %lld, %lld columns)", l, (long long)r + 1, b, a,
                       (long long)L->nnz, (long long)L->in);
        for (int32_t k = a; k < b; k++) {
            if (L->col[k] < 0 || L->col[k] >= L->in)
                return ERR("layer %d: col[%d]: %d is past the row's end (%lld columns)", l, k, L->col[k],
                           (long long)L->in);
            if (k > a && L->col[k] <= L->col[k - 1])
                return ERR("layer %d: col[%d]: %d does not increase within row %lld", l, k, L->col[k], (long long)r);
        }
    }
    if (L->row_ptr[L->out] != L->nnz)
        return ERR("layer %d: row_ptr[%lld]: %d, not nnz %lld", l, (long long)L->out, L->row_ptr[L->out],
                   (long long)L->nnz);
    return HWA_OK;
}

static hwa_status check_values(const hwa_cm_layer *L, int l) {
    const bool shared = L->bits != 0 || L->n_codes || L->codebook || L->codes;
    const bool int8 = L->q || L->q_scale;
    if ((shared && int8) || (L->values && (shared || int8)))
        return ERR("layer %d: values: more than one form (f32 values, shared codes, int8) is set", l);
    int64_t bad;
    if (shared) {
        if (L->bits < 1 || L->bits > HWA_CMODEL_MAX_BITS)
            return ERR("layer %d: bits: %d is not in [1, %d]", l, L->bits, HWA_CMODEL_MAX_BITS);
        if (L->n_codes < 1 || L->n_codes > (1 << L->bits))
            return ERR("layer %d: n_codes: %d is not in [1, %d]", l, L->n_codes, 1 << L->bits);
        if (!L->codebook || (!L->codes && L->nnz)) return ERR("layer %d: codebook/codes: missing", l);
        if ((bad = first_nonfinite(L->codebook, L->n_codes)) >= 0)
            return ERR("layer %d: codebook[%lld]: not finite", l, (long long)bad);
        for (int64_t k = 0; k < L->nnz; k++)
            if (L->codes[k] >= L->n_codes)
                return ERR("layer %d: codes[%lld]: %d is past the codebook's %d entries", l, (long long)k,
                           L->codes[k], L->n_codes);
    } else if (int8) {
        if (L->sparse) return ERR("layer %d: q: int8 layers are dense", l);
        if (!L->q || !L->q_scale) return ERR("layer %d: q/q_scale: one is missing", l);
        for (int64_t k = 0; k < L->nnz; k++)
            if (L->q[k] < -127) return ERR("layer %d: q[%lld]: -128 is outside [-127, 127]", l, (long long)k);
        for (int64_t r = 0; r < L->out; r++)
            if (!(L->q_scale[r] > 0) || !isfinite(L->q_scale[r]))
                return ERR("layer %d: q_scale[%lld]: %g is not finite and > 0", l, (long long)r, L->q_scale[r]);
        if (L->act != HWA_CM_ACT_DYNAMIC && L->act != HWA_CM_ACT_STATIC)
            return ERR("layer %d: act: %d is neither dynamic (0) nor static (1)", l, (int)L->act);
        if (!isfinite(L->act_scale) || L->act_scale < 0 || (L->act == HWA_CM_ACT_STATIC && !(L->act_scale > 0)))
            return ERR("layer %d: act_scale: %g is not finite and > 0", l, L->act_scale);
        if (L->act_zero < 0 || L->act_zero > 255)
            return ERR("layer %d: act_zero: %d is not in [0, 255]", l, L->act_zero);
    } else {
        if (!L->values && L->nnz) return ERR("layer %d: values: missing", l);
        if ((bad = first_nonfinite(L->values, L->nnz)) >= 0)
            return ERR("layer %d: values[%lld]: not finite", l, (long long)bad);
    }
    return HWA_OK;
}

static hwa_status check_layer(const hwa_cmodel *m, int l) {
    const hwa_cm_layer *L = &m->layer[l];
    int64_t n;
    if (L->out < 1 || L->in < 1 || L->out > INT32_MAX || L->in > INT32_MAX || !hwa__mul_i64(L->out, L->in, &n))
        return ERR("layer %d: shape [%lld, %lld]: each must be in [1, 2^31)", l, (long long)L->out,
                   (long long)L->in);
    if (l > 0 && L->in != m->layer[l - 1].out)
        return ERR("layer %d: in: %lld, but layer %d has %lld outputs", l, (long long)L->in, l - 1,
                   (long long)m->layer[l - 1].out);
    if (!L->bias) return ERR("layer %d: bias: missing", l);
    int64_t bad = first_nonfinite(L->bias, L->out);
    if (bad >= 0) return ERR("layer %d: bias[%lld]: not finite", l, (long long)bad);
    hwa_status st = check_positions(L, l);
    return st ? st : check_values(L, l);
}

hwa_status hwa_cmodel_validate(const hwa_cmodel *m) {
    if (!m) return hwa__err(NULL, HWA_E_MISUSE, "compressed model: NULL");
    if (m->n_layers < 1 || m->n_layers > HWA_CMODEL_MAX_LAYERS)
        return ERR("n_layers: %d is not in [1, %d]", m->n_layers, HWA_CMODEL_MAX_LAYERS);
    if ((int)m->activation < 0 || m->activation >= HWA_ACT_COUNT)
        return ERR("activation: %d is not a known activation", (int)m->activation);
    for (int l = 0; l < m->n_layers; l++) {
        hwa_status st = check_layer(m, l);
        if (st) return st;
    }
    return HWA_OK;
}

/* A copy of n bytes (NULL for NULL); false when out of memory. */
static bool dup(void *dst_ptr, const void *src, size_t n) {
    void **dst = dst_ptr;
    *dst = NULL;
    if (!src) return true;
    *dst = malloc(n ? n : 1);
    if (!*dst) return false;
    memcpy(*dst, src, n);
    return true;
}

hwa_status hwa_cmodel_clone(const hwa_cmodel *m, hwa_cmodel **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_clone: NULL out");
    *out = NULL;
    hwa_status st = hwa_cmodel_validate(m);
    if (st) return st;
    hwa_cmodel *c = calloc(1, sizeof *c);
    if (!c) return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    c->n_layers = m->n_layers;
    c->activation = m->activation;
    c->huffman = m->huffman;
    bool ok = true;
    for (int l = 0; l < m->n_layers; l++) {
        const hwa_cm_layer *s = &m->layer[l];
        hwa_cm_layer *d = &c->layer[l];
        *d = *s;
        d->row_ptr = d->col = NULL;
        d->values = d->codebook = d->q_scale = d->bias = NULL;
        d->codes = NULL;
        d->q = NULL;
        size_t nnz = (size_t)s->nnz, out_n = (size_t)s->out;
        ok = dup(&d->row_ptr, s->row_ptr, (out_n + 1) * sizeof(int32_t)) &&
             dup(&d->col, s->col, nnz * sizeof(int32_t)) && dup(&d->values, s->values, nnz * sizeof(float)) &&
             dup(&d->codebook, s->codebook, (size_t)s->n_codes * sizeof(float)) && dup(&d->codes, s->codes, nnz) &&
             dup(&d->q, s->q, nnz) && dup(&d->q_scale, s->q_scale, out_n * sizeof(float)) &&
             dup(&d->bias, s->bias, out_n * sizeof(float));
        if (!ok) break;
    }
    if (!ok) {
        hwa_cmodel_free(c);
        return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    }
    *out = c;
    return HWA_OK;
}

hwa_status hwa_cmodel_dense(const hwa_cmodel *m, int l, float *w) {
    if (!m || !w || l < 0 || l >= m->n_layers)
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_dense: NULL argument or layer %d out of range", l);
    hwa_status st = check_layer(m, l);
    if (st) return st;
    const hwa_cm_layer *L = &m->layer[l];
    const int64_t in = L->in;
    if (L->sparse) memset(w, 0, (size_t)(L->out * in) * sizeof(float));
    for (int64_t r = 0; r < L->out; r++) {
        int64_t a = L->sparse ? L->row_ptr[r] : r * in, b = L->sparse ? L->row_ptr[r + 1] : (r + 1) * in;
        for (int64_t k = a; k < b; k++) {
            float v = L->values ? L->values[k] : L->codes ? L->codebook[L->codes[k]] : (float)L->q[k] * L->q_scale[r];
            w[r * in + (L->sparse ? L->col[k] : k - r * in)] = v;
        }
    }
    return HWA_OK;
}

hwa_status hwa_cmodel_set_dense(hwa_cmodel *m, int l, const float *w) {
    if (!m || !w || l < 0 || l >= m->n_layers)
        return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_set_dense: NULL argument or layer %d out of range", l);
    hwa_cm_layer *L = &m->layer[l];
    int64_t n;
    if (L->out < 1 || L->in < 1 || !hwa__mul_i64(L->out, L->in, &n) || (uint64_t)n > SIZE_MAX / sizeof(float))
        return ERR("layer %d: shape [%lld, %lld] is not valid", l, (long long)L->out, (long long)L->in);
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) return hwa__err(NULL, HWA_E_NOMEM, "compressed model: out of memory");
    memcpy(v, w, (size_t)n * sizeof(float));
    hwa_cm_layer keep = {.out = L->out, .in = L->in, .bias = L->bias, .nnz = n, .values = v};
    L->bias = NULL;
    hwa__cm_layer_clear(L);
    *L = keep;
    return HWA_OK;
}

int64_t hwa_cmodel_n_weights(const hwa_cmodel *m) {
    int64_t n = 0;
    for (int l = 0; m && l < m->n_layers; l++) n += m->layer[l].nnz + m->layer[l].out;
    return n;
}
