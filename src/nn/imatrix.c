/* Importance matrices from a Llama model's own forward graph: a collection
 * mode in which every matrix product whose weight is one of the model's
 * matrices gets one more output, the column sums of the squares of its
 * input (hwa_sum_dim of hwa_mul(x, x)), so the statistics are computed by
 * the same graph, on the same devices, as the logits -- no second forward
 * pass and no hook in the kernels. Over a text, as llama.cpp's imatrix
 * tool does: chunks of ctx tokens, each from position 0 with its first
 * token replaced by BOS, every position's activations counted. */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

hwa_status hwa__imatrix_extend(const hwa_llama *m, hwa_graph *g, hwa__imx_taps *taps) {
    const int n = g->n_nodes; /* the products of the forward pass, not the taps added below */
    for (int i = 0; i < n; i++) {
        hwa_tensor *node = g->nodes[i];
        char name[64];
        if (node->op != HWA_OP_MATMUL || node->p.i[0] || !node->p.i[1] || node->src[0]->ndim != 2 ||
            !hwa__llama_matrix_name(m, node->src[1], name, sizeof name))
            continue;
        if (taps->n == taps->cap) {
            const int cap = taps->cap ? 2 * taps->cap : 64;
            hwa__imx_tap *t = realloc(taps->t, (size_t)cap * sizeof *t);
            if (!t) return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
            taps->t = t, taps->cap = cap;
        }
        hwa_tensor *x = node->src[0];
        hwa_tensor *s = hwa_sum_dim(g->ctx, hwa_mul(g->ctx, x, x), 0);
        hwa_status st = s ? hwa_graph_build_forward(g, s) : hwa_ctx_last_status(g->ctx);
        if (st) return st;
        hwa__imx_tap *t = &taps->t[taps->n++];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->sum2 = s;
        t->rows = x->shape[0];
    }
    return HWA_OK;
}

hwa_status hwa__imatrix_gather(hwa_imatrix *im, const hwa__imx_taps *taps) {
    float *buf = NULL;
    size_t cap = 0;
    hwa_status st = HWA_OK;
    for (int i = 0; !st && i < taps->n; i++) {
        const int64_t n = hwa_tensor_nelements(taps->t[i].sum2);
        if ((size_t)n > cap) {
            float *b = realloc(buf, (size_t)n * sizeof *b);
            if (!b) {
                st = hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
                break;
            }
            buf = b, cap = (size_t)n;
        }
        st = hwa_tensor_get_f32(taps->t[i].sum2, buf, n);
        if (!st) st = hwa_imatrix_add(im, taps->t[i].name, buf, n, (double)taps->t[i].rows);
    }
    free(buf);
    return st;
}

void hwa__imatrix_taps_free(hwa__imx_taps *taps) {
    free(taps->t);
    memset(taps, 0, sizeof *taps);
}

hwa_status hwa_llama_imatrix(hwa_llama *m, const int32_t *tokens, int64_t n, int32_t ctx, int32_t bos,
                             int32_t max_chunks, hwa_imatrix *im, int32_t *n_chunks) {
    if (n_chunks) *n_chunks = 0;
    if (!m || !tokens || !im) return hwa__err(NULL, HWA_E_MISUSE, "imatrix: NULL model, tokens or matrix");
    if (ctx < 1 || ctx > hwa_llama_n_ctx(m))
        return hwa__err(NULL, HWA_E_RANGE, "imatrix: a context of %d tokens (1 .. the model's %d)", ctx,
                        hwa_llama_n_ctx(m));
    int64_t chunks = n / ctx;
    if (max_chunks > 0 && chunks > max_chunks) chunks = max_chunks;
    if (chunks < 1)
        return hwa__err(NULL, HWA_E_RANGE, "imatrix: %lld tokens do not fill one chunk of %d", (long long)n, ctx);
    int32_t *chunk = malloc((size_t)ctx * sizeof *chunk);
    if (!chunk) return hwa__err(NULL, HWA_E_NOMEM, "imatrix: out of memory");
    hwa_status st = hwa_llama_collect_imatrix(m, im);
    for (int64_t ch = 0; !st && ch < chunks; ch++) {
        memcpy(chunk, tokens + ch * ctx, (size_t)ctx * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        hwa_llama_reset(m);
        st = hwa_llama_eval(m, chunk, ctx, true, NULL);
        if (!st && n_chunks) *n_chunks = (int32_t)(ch + 1);
    }
    hwa_llama_collect_imatrix(m, NULL);
    hwa_llama_reset(m);
    free(chunk);
    return st;
}
