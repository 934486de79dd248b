/* A dense f32 compressed model from an MLP's safetensors export or
 * checkpoint (fc<i>.weight [out, in], fc<i>.bias [out], counted from 1;
 * a checkpoint's optim.* tensors are ignored). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress_internal.h"

/* Tensor name, F32 with ndim dims each >= 1; NULL with an error recorded
 * otherwise. */
static const hwa_file_tensor *find_f32(const hwa_model_file *f, const char *path, const char *name, int ndim) {
    const hwa_file_tensor *t = hwa_model_file_find(f, name);
    if (!t) {
        hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is missing", path, name);
        return NULL;
    }
    if (t->file_dtype != HWA_FDT_F32) {
        hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is %s, not F32", path, name, hwa_file_dtype_name(t->file_dtype));
        return NULL;
    }
    if (t->ndim != ndim || t->nelements < 1) {
        hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' has %d dims and %lld elements, expected %d dims, not empty",
                 path, name, t->ndim, (long long)t->nelements, ndim);
        return NULL;
    }
    return t;
}

/* A malloc'd copy of t's floats (the mapping may be unaligned). */
static float *copy_floats(const hwa_file_tensor *t) {
    float *p = malloc(t->nbytes ? t->nbytes : 1);
    if (p && t->nbytes) memcpy(p, t->data, t->nbytes);
    return p;
}

static hwa_status load_layers(const hwa_model_file *f, const char *path, hwa_cmodel *m) {
    char wname[32], bname[32];
    int64_t prev_out = -1;
    for (int l = 0;; l++) {
        snprintf(wname, sizeof wname, "fc%d.weight", l + 1);
        if (!hwa_model_file_find(f, wname)) {
            if (l == 0) return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor 'fc1.weight' is missing (not an MLP?)", path);
            break;
        }
        if (l == HWA_CMODEL_MAX_LAYERS)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s': more than %d layers", path, wname,
                            HWA_CMODEL_MAX_LAYERS);
        const hwa_file_tensor *w = find_f32(f, path, wname, 2);
        if (!w) return HWA_E_FORMAT;
        if (l > 0 && w->shape[1] != prev_out)
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' has %lld inputs but fc%d has %lld outputs: the layers do not chain",
                            path, wname, (long long)w->shape[1], l, (long long)prev_out);
        snprintf(bname, sizeof bname, "fc%d.bias", l + 1);
        const hwa_file_tensor *b = find_f32(f, path, bname, 1);
        if (!b) return HWA_E_FORMAT;
        if (b->shape[0] != w->shape[0])
            return hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' has %lld values for %lld outputs", path, bname,
                            (long long)b->shape[0], (long long)w->shape[0]);
        hwa_cm_layer *L = &m->layer[l];
        m->n_layers = l + 1;
        L->out = w->shape[0];
        L->in = w->shape[1];
        L->nnz = w->nelements;
        L->values = copy_floats(w);
        L->bias = copy_floats(b);
        if (!L->values || !L->bias) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
        prev_out = L->out;
    }
    const char *act = hwa_model_file_meta_get(f, "activation");
    if (act && hwa_activation_from_name(act, &m->activation) != HWA_OK)
        return hwa__err(NULL, HWA_E_FORMAT, "%s: metadata 'activation': unknown activation '%s'", path, act);
    return HWA_OK;
}

hwa_status hwa_cmodel_load_mlp(const char *path, hwa_cmodel **out) {
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "hwa_cmodel_load_mlp: NULL argument");
    *out = NULL;
    hwa_model_file *f;
    hwa_status st = hwa_model_file_open(path, HWA_FORMAT_SAFETENSORS, &f);
    if (st) return st;
    hwa_cmodel *m = calloc(1, sizeof *m);
    if (!m) st = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    else {
        m->activation = HWA_ACT_RELU;
        st = load_layers(f, path, m);
    }
    if (st == HWA_OK) st = hwa_cmodel_validate(m);
    hwa_model_file_free(f);
    if (st) {
        hwa_cmodel_free(m);
        return st;
    }
    *out = m;
    return HWA_OK;
}
