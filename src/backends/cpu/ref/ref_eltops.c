/* Reference kernels of the elementwise and indexing ops for ONNX models:
 * MAP, MAP_BACK, BINARY, WHERE, GATHER, GATHER_BACK, REDUCE_MAX. Each element
 * is computed by the functions of eltwise_fn.h, which the fast paths share. */
#include "backends/cpu/ref/eltwise_fn.h"
#include "backends/cpu/ref/ref_common.h"

hwa_status hwa__ref_MAP(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), x = hwa__rt_of(dst->src[0]);
    const int fn = dst->p.i[0];
    const float a = dst->p.f[0], b = dst->p.f[1];
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, hwa__map_f32(fn, hwa__rt_get(&x, i), a, b));
    return HWA_OK;
}

hwa_status hwa__ref_MAP_BACK(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), g = hwa__rt_of(dst->src[0]), x = hwa__rt_of(dst->src[1]);
    const int fn = dst->p.i[0];
    const float a = dst->p.f[0], b = dst->p.f[1];
    const bool step = hwa__map_is_step(fn);
    for (int64_t i = 0; i < d.n; i++)
        hwa__rt_set(&d, i, step ? 0.0f : hwa__rt_get(&g, i) * hwa__map_grad_f32(fn, hwa__rt_get(&x, i), a, b));
    return HWA_OK;
}

hwa_status hwa__ref_BINARY(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), a = hwa__rt_of(dst->src[0]), b = hwa__rt_of(dst->src[1]);
    const int fn = dst->p.i[0];
    int64_t idx[4];
    for (int64_t i = 0; i < d.n; i++) {
        hwa__ref_unravel(d.ne, i, idx);
        hwa__rt_set(&d, i, hwa__binary_f32(fn, hwa__rt_get(&a, i), hwa__rt_at(&b, hwa__rt_bcast_off(&b, idx))));
    }
    return HWA_OK;
}

hwa_status hwa__ref_WHERE(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), c = hwa__rt_of(dst->src[0]), a = hwa__rt_of(dst->src[1]),
                  b = hwa__rt_of(dst->src[2]);
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, hwa__rt_get(&c, i) != 0.0f ? hwa__rt_get(&a, i) : hwa__rt_get(&b, i));
    return HWA_OK;
}

/* GATHER's geometry: data viewed as [outer, n, inner] around the axis, the
 * indices flat [m]; the result (and GATHER_BACK's gradient) is
 * [outer, m, inner]. */
typedef struct gather_geom {
    int64_t outer, n, inner, m;
} gather_geom;

static gather_geom gather_geom_of(const hwa_tensor *data, const hwa_tensor *idx, int axis) {
    gather_geom g = {1, data->shape[axis], 1, hwa_tensor_nelements(idx)};
    for (int d = 0; d < axis; d++) g.outer *= data->shape[d];
    for (int d = axis + 1; d < data->ndim; d++) g.inner *= data->shape[d];
    return g;
}

/* The indices as positions in [0, n) (negative ones counted from the end),
 * in scratch; NULL with HWA_E_RANGE (naming the index) or HWA_E_NOMEM
 * recorded in *st. */
static int64_t *gather_positions(const hwa_tensor *dst, const hwa_tensor *idx, int64_t n, hwa_status *st) {
    const hwa__rt r = hwa__rt_of(idx);
    int64_t *pos = hwa__ref_scratch(dst, r.n, sizeof *pos);
    if (!pos) {
        *st = HWA_E_NOMEM;
        return NULL;
    }
    for (int64_t j = 0; j < r.n; j++) {
        const int32_t v = hwa__rt_i32(&r, j);
        if (v < -n || v >= n) {
            *st = hwa__err(dst->ctx, HWA_E_RANGE, "%s: index %d at position %lld is outside [-%lld, %lld)",
                           hwa__op_name(dst->op), (int)v, (long long)j, (long long)n, (long long)n);
            hwa__free(dst->ctx, pos);
            return NULL;
        }
        pos[j] = v < 0 ? v + n : v;
    }
    *st = HWA_OK;
    return pos;
}

hwa_status hwa__ref_GATHER(hwa_tensor *dst) {
    const hwa_tensor *data = dst->src[0];
    const gather_geom g = gather_geom_of(data, dst->src[1], dst->p.i[0]);
    hwa_status st;
    int64_t *pos = gather_positions(dst, dst->src[1], g.n, &st);
    if (!pos) return st;
    const hwa__rt d = hwa__rt_of(dst), s = hwa__rt_of(data);
    for (int64_t o = 0; o < g.outer; o++)
        for (int64_t j = 0; j < g.m; j++)
            for (int64_t k = 0; k < g.inner; k++) {
                const int64_t from = (o * g.n + pos[j]) * g.inner + k, to = (o * g.m + j) * g.inner + k;
                if (data->dtype == HWA_I32) /* exact, not through f32 */
                    ((int32_t *)d.base)[hwa__ref_offset(d.ne, d.st, to)] = hwa__rt_i32(&s, from);
                else
                    hwa__rt_set(&d, to, hwa__rt_get(&s, from));
            }
    hwa__free(dst->ctx, pos);
    return HWA_OK;
}

hwa_status hwa__ref_GATHER_BACK(hwa_tensor *dst) {
    const gather_geom g = gather_geom_of(dst, dst->src[1], dst->p.i[0]);
    hwa_status st;
    int64_t *pos = gather_positions(dst, dst->src[1], g.n, &st);
    if (!pos) return st;
    const hwa__rt d = hwa__rt_of(dst), s = hwa__rt_of(dst->src[0]);
    double *acc = hwa__ref_scratch(dst, d.n, sizeof *acc);
    if (!acc) {
        hwa__free(dst->ctx, pos);
        return HWA_E_NOMEM;
    }
    for (int64_t o = 0; o < g.outer; o++) /* g's row-major order */
        for (int64_t j = 0; j < g.m; j++)
            for (int64_t k = 0; k < g.inner; k++)
                acc[(o * g.n + pos[j]) * g.inner + k] += hwa__rt_get(&s, (o * g.m + j) * g.inner + k);
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, (float)acc[i]);
    hwa__free(dst->ctx, acc);
    hwa__free(dst->ctx, pos);
    return HWA_OK;
}

/* For each group (the src elements SUM_TO would sum into one dst element),
 * the flat src index of its winner: the first max (min), or the first NaN. */
hwa_status hwa__ref_REDUCE_MAX(hwa_tensor *dst) {
    const hwa_tensor *src = dst->src[0];
    const bool min = dst->p.i[0] != 0, mask = dst->p.i[1] != 0;
    const hwa__rt s = hwa__rt_of(src), d = hwa__rt_of(dst);
    /* the reduced shape, padded to 4 dims: dst's, or for the mask the
     * forward's, whose reduced axes are the bits of p.i[2] */
    int64_t rne[4];
    for (int k = 0; k < 4; k++) rne[k] = mask ? ((dst->p.i[2] >> k) & 1 ? 1 : s.ne[k]) : d.ne[k];
    const int64_t nr = rne[0] * rne[1] * rne[2] * rne[3];
    int64_t *win = hwa__ref_scratch(dst, nr, sizeof *win);
    if (!win) return HWA_E_NOMEM;
    for (int64_t j = 0; j < nr; j++) win[j] = -1;
    int64_t idx[4];
    for (int64_t i = 0; i < s.n; i++) {
        hwa__ref_unravel(s.ne, i, idx);
        int64_t j = 0;
        for (int k = 0; k < 4; k++) j = j * rne[k] + (rne[k] == 1 ? 0 : idx[k]);
        const float v = hwa__rt_get(&s, i);
        if (win[j] < 0) {
            win[j] = i;
            continue;
        }
        const float w = hwa__rt_get(&s, win[j]);
        if (w != w) continue; /* a NaN has won */
        if (v != v || (min ? v < w : v > w)) win[j] = i;
    }
    if (mask) {
        for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, 0.0f);
        for (int64_t j = 0; j < nr; j++) hwa__rt_set(&d, win[j], 1.0f);
    } else {
        for (int64_t j = 0; j < nr; j++) hwa__rt_set(&d, j, hwa__rt_get(&s, win[j]));
    }
    hwa__free(dst->ctx, win);
    return HWA_OK;
}
