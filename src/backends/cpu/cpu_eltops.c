/* Fast paths of MAP, MAP_BACK, BINARY and WHERE (the elementwise ops ONNX
 * models need): contiguous f32 tensors (BINARY's b of a's size or one
 * value), split across threads. Each element is the reference's
 * (eltwise_fn.h), so results match it bit for bit; the loops are kept
 * plain, one per case with the function fixed, so the compiler can
 * vectorise the cheap functions. */
#include "backends/cpu/cpu_eltops.h"

#include "backends/cpu/ref/eltwise_fn.h"

#define PAR_MIN 16384 /* as cpu_fast.c's: below this a fork costs more than a core gives */

typedef struct elt_job {
    int fn;
    float a, b;
    int64_t b_step; /* BINARY: 0 (b one value) or 1 */
    const float *x, *y, *c;
    float *d;
} elt_job;

static void map_range(void *ctx, int64_t i0, int64_t i1, int tid) {
    const elt_job *j = ctx;
    for (int64_t i = i0; i < i1; i++) j->d[i] = hwa__map_f32(j->fn, j->x[i], j->a, j->b);
}

static void map_back_range(void *ctx, int64_t i0, int64_t i1, int tid) {
    const elt_job *j = ctx;
    if (hwa__map_is_step(j->fn)) {
        for (int64_t i = i0; i < i1; i++) j->d[i] = 0.0f;
        return;
    }
    for (int64_t i = i0; i < i1; i++) j->d[i] = j->x[i] * hwa__map_grad_f32(j->fn, j->y[i], j->a, j->b);
}

static void binary_range(void *ctx, int64_t i0, int64_t i1, int tid) {
    const elt_job *j = ctx;
    for (int64_t i = i0; i < i1; i++) j->d[i] = hwa__binary_f32(j->fn, j->x[i], j->y[i * j->b_step]);
}

static void where_range(void *ctx, int64_t i0, int64_t i1, int tid) {
    const elt_job *j = ctx;
    for (int64_t i = i0; i < i1; i++) j->d[i] = j->c[i] != 0.0f ? j->x[i] : j->y[i];
}

static bool f32c(const hwa_tensor *t) { return t->dtype == HWA_F32 && hwa_tensor_is_contiguous(t); }

bool hwa__cpu_eltops_run(hwa_tensor *dst, int nthreads) {
    const int n_src = hwa__op_n_src(dst->op);
    if (!f32c(dst)) return false;
    for (int i = 0; i < n_src; i++)
        if (!f32c(dst->src[i])) return false;
    const int64_t n = hwa_tensor_nelements(dst);
    elt_job j = {dst->p.i[0], dst->p.f[0], dst->p.f[1], 1, hwa__data(dst->src[0]), NULL, NULL, hwa__data(dst)};
    hwa__par_fn fn = NULL;
    switch (dst->op) {
    case HWA_OP_MAP: fn = map_range; break;
    case HWA_OP_MAP_BACK:
        if (hwa_tensor_nelements(dst->src[1]) != n) return false;
        j.y = hwa__data(dst->src[1]);
        fn = map_back_range;
        break;
    case HWA_OP_BINARY: {
        const int64_t nb = hwa_tensor_nelements(dst->src[1]);
        if (nb != n && nb != 1) return false;
        j.y = hwa__data(dst->src[1]);
        j.b_step = nb == n ? 1 : 0;
        fn = binary_range;
        break;
    }
    case HWA_OP_WHERE:
        j.c = hwa__data(dst->src[0]);
        j.x = hwa__data(dst->src[1]);
        j.y = hwa__data(dst->src[2]);
        fn = where_range;
        break;
    default: return false;
    }
    hwa__par_chunks(n, PAR_MIN, nthreads, fn, &j);
    return true;
}
