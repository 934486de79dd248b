/* Which nodes after a matrix product a backend may run inside it (a
 * library's bias and activation epilogue): the rules every backend that
 * fuses uses, so that a graph fuses alike on each. Header-only (static
 * inline): the CUDA module compiles it too. Not a published API. */
#ifndef HWADAPT_BACKENDS_FUSE_H
#define HWADAPT_BACKENDS_FUSE_H

#include "core/internal.h"

/* Whether t (an intermediate) is read only by `only` among nodes[from..n)
 * and is not a graph output. */
static inline bool hwa__used_only_by(const hwa_tensor *t, const hwa_tensor *only, hwa_tensor *const *nodes, int from, int n) {
    if (t->flags & (HWA_TF_OUTPUT | HWA_TF_PARAM | HWA_TF_GRAD)) return false;
    for (int i = from; i < n; i++) {
        if (nodes[i] == only) continue;
        for (int j = 0; j < HWA_MAX_SRC; j++)
            if (nodes[i]->src[j] == t) return false;
    }
    return true;
}

/* The nodes after matmul nodes[i] that it can take over: an ADD of a
 * bias row, then a RELU or GELU, below n; an intermediate read by any node
 * up to n_all (the rest of the graph, run later) is not skipped; a GELU
 * only when gelu (the erf GELU of the op table, which a library's tanh
 * form would not match). Returns how many (0, 1 or 2). */
static inline int hwa__mm_fusable(hwa_tensor *const *nodes, int i, int n, int n_all, bool gelu, const hwa_tensor **bias,
                                  hwa_op *act) {
    const hwa_tensor *mm = nodes[i];
    *bias = NULL;
    *act = HWA_OP_NONE;
    if (i + 1 >= n || mm->view_src || (mm->dtype != HWA_F32 && mm->dtype != HWA_BF16 && mm->dtype != HWA_F16))
        return 0;
    const hwa_tensor *add = nodes[i + 1];
    if (add->op != HWA_OP_ADD || add->src[0] != mm || add->dtype != mm->dtype || add->view_src) return 0;
    const hwa_tensor *b = add->src[1];
    int64_t ne[4], st[4];
    hwa__shape4(b, ne, st);
    if (ne[0] != 1 || ne[1] != 1 || ne[2] != 1 || ne[3] != mm->shape[mm->ndim - 1] || !hwa_tensor_is_contiguous(b) ||
        (b->dtype != HWA_F32 && b->dtype != HWA_BF16 && b->dtype != HWA_F16))
        return 0;
    if (!hwa__used_only_by(mm, add, nodes, i + 1, n_all)) return 0;
    *bias = b;
    if (i + 2 < n) {
        const hwa_tensor *a = nodes[i + 2];
        if ((a->op == HWA_OP_RELU || (gelu && a->op == HWA_OP_GELU)) && a->src[0] == add && a->dtype == add->dtype &&
            !a->view_src && hwa__used_only_by(add, a, nodes, i + 2, n_all)) {
            *act = a->op;
            return 2;
        }
    }
    return 1;
}

#endif
