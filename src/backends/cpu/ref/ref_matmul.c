/* Reference kernel: batched matrix product, dot products in double in
 * ascending k. */
#include "backends/cpu/ref/ref_common.h"

/* One operand as a batch of stored matrices [ne[2], ne[3]], read as [rows,
 * cols] = stored or, when trans, its transpose. A quantized operand is
 * dequantized one whole batch matrix at a time into deq (a weight shared by
 * every batch is dequantized once). */
typedef struct operand {
    hwa__rt t;
    bool trans;
    float *deq;        /* quantized only: [ne[2] * ne[3]] */
    int64_t deq_batch; /* the batch matrix now in deq, -1 for none */
    int64_t base;      /* plain: element offset of the current batch matrix */
} operand;

static hwa_status operand_open(hwa_tensor *dst, const hwa_tensor *src, bool trans, operand *o) {
    o->t = hwa__rt_of(src);
    o->trans = trans;
    o->deq = NULL;
    o->deq_batch = -1;
    o->base = 0;
    if (!hwa_dtype_is_quantized(src->dtype)) return HWA_OK;
    hwa_status st = hwa__ref_check_quant(dst, src);
    if (st != HWA_OK) return st;
    o->deq = hwa__ref_scratch(dst, o->t.ne[2] * o->t.ne[3], sizeof *o->deq);
    return o->deq ? HWA_OK : HWA_E_NOMEM;
}

/* Selects the batch matrix that broadcasts to dst's batch index (b0, b1). */
static hwa_status operand_batch(operand *o, int64_t b0, int64_t b1) {
    const int64_t i0 = o->t.ne[0] == 1 ? 0 : b0, i1 = o->t.ne[1] == 1 ? 0 : b1;
    if (!o->deq) {
        o->base = i0 * o->t.st[0] + i1 * o->t.st[1];
        return HWA_OK;
    }
    const int64_t batch = i0 * o->t.ne[1] + i1;
    if (batch == o->deq_batch) return HWA_OK;
    o->deq_batch = batch;
    return hwa__ref_dequant_rows(&o->t, batch * o->t.ne[2], o->t.ne[2], o->deq);
}

/* Element (r, c) of the current batch matrix as the product reads it. */
static double operand_get(const operand *o, int64_t r, int64_t c) {
    const int64_t i2 = o->trans ? c : r, i3 = o->trans ? r : c;
    if (o->deq) return o->deq[i2 * o->t.ne[3] + i3];
    return hwa__rt_at(&o->t, o->base + i2 * o->t.st[2] + i3 * o->t.st[3]);
}

hwa_status hwa__ref_MATMUL(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst);
    const int64_t M = d.ne[2], N = d.ne[3];
    operand a = {.deq = NULL}, b = {.deq = NULL};
    hwa_status st = operand_open(dst, dst->src[0], dst->p.i[0] != 0, &a);
    if (st == HWA_OK) st = operand_open(dst, dst->src[1], dst->p.i[1] != 0, &b);
    const int64_t K = a.trans ? a.t.ne[2] : a.t.ne[3];
    for (int64_t b0 = 0; b0 < d.ne[0] && st == HWA_OK; b0++) {
        for (int64_t b1 = 0; b1 < d.ne[1] && st == HWA_OK; b1++) {
            st = operand_batch(&a, b0, b1);
            if (st == HWA_OK) st = operand_batch(&b, b0, b1);
            for (int64_t m = 0; m < M && st == HWA_OK; m++) {
                for (int64_t n = 0; n < N; n++) {
                    double sum = 0.0;
                    for (int64_t k = 0; k < K; k++) sum += operand_get(&a, m, k) * operand_get(&b, k, n);
                    const int64_t idx[4] = {b0, b1, m, n};
                    hwa__rt_put(&d, hwa__rt_off4(&d, idx), (float)sum);
                }
            }
        }
    }
    hwa__free(dst->ctx, a.deq);
    hwa__free(dst->ctx, b.deq);
    return st;
}
