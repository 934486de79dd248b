/* The elementwise and indexing ops for ONNX models against numpy
 * (tests/golden/eltops_golden.h, written by
 * tests/reference/gen_eltops_goldens.py): every map and binary function on
 * 24 inputs that include halves, signed zeros, a NaN, ties and overflow
 * bait; where; gather along both axes with negative indices; reduce max /
 * min; the cast to i32. Functions numpy computes exactly in float32 must
 * match bit for bit (NaN for NaN); the smooth ones (float64 rounded once)
 * within 4 float32 ulps. */
#include <math.h>
#include <stdlib.h>

#include "golden/eltops_golden.h"
#include "harness.h"

/* Runs out on the CPU backend with x and y (ELT_N values each) set; got
 * receives n values. */
typedef struct elt_run {
    hwa_ctx *ctx;
    hwa_tensor *x, *y;
} elt_run;

static hwa_status run_out(elt_run *r, hwa_tensor *out, float *got, int64_t n) {
    hwa_graph *g = hwa_graph_new(r->ctx);
    hwa_backend *be = hwa_backend_new(r->ctx, "cpu");
    hwa_status st = g && be && out ? hwa_graph_build_forward(g, out) : HWA_E_INTERNAL;
    if (!st) st = hwa_ctx_alloc_leaves(r->ctx, be);
    if (!st && r->x) st = hwa_tensor_set_f32(r->x, elt_x, ELT_N);
    if (!st && r->y) st = hwa_tensor_set_f32(r->y, elt_y, ELT_N);
    if (!st) st = hwa_graph_compute(g, be);
    if (!st) st = hwa_tensor_get_f32(out, got, n);
    hwa_backend_free(be);
    return st;
}

static bool same_or_close(float got, float want, bool exact) {
    if (isnan(want)) return isnan(got);
    if (exact || isinf(want)) return got == want;
    return fabsf(got - want) <= 4.0f * 0x1p-23f * fabsf(want) + 1e-30f;
}

/* numpy computes these exactly in float32 (the script's list) */
static bool map_is_exact(hwa_map_fn fn) {
    switch (fn) {
    case HWA_MAP_SQRT: case HWA_MAP_NEG: case HWA_MAP_ABS: case HWA_MAP_RECIP: case HWA_MAP_FLOOR:
    case HWA_MAP_CEIL: case HWA_MAP_ROUND: case HWA_MAP_SIGN: case HWA_MAP_LEAKY_RELU: case HWA_MAP_CLIP:
    case HWA_MAP_NOT: return true;
    default: return false;
    }
}

TEST(every_map_fn_matches_numpy) {
    const int n_fn = (int)(sizeof elt_map_goldens / sizeof elt_map_goldens[0]);
    CHECK_INT_EQ(n_fn, HWA_MAP_COUNT);
    for (int k = 0; k < n_fn; k++) {
        const elt_map_golden *m = &elt_map_goldens[k];
        elt_run r = {hwa_ctx_new(NULL), NULL, NULL};
        CHECK(r.ctx);
        r.x = hwa_tensor_new_1d(r.ctx, HWA_F32, ELT_N);
        float got[ELT_N];
        hwa_status st = run_out(&r, hwa_map(r.ctx, r.x, m->fn, m->a, m->b), got, ELT_N);
        if (st) hwa_test_fail(__FILE__, __LINE__, "map %s: %s", m->name, hwa_ctx_last_error(r.ctx));
        for (int i = 0; !st && i < ELT_N; i++)
            if (!same_or_close(got[i], m->want[i], map_is_exact(m->fn)))
                hwa_test_fail(__FILE__, __LINE__, "map %s(%.9g): got %.9g, numpy %.9g", m->name, elt_x[i], got[i],
                              m->want[i]);
        hwa_ctx_free(r.ctx);
    }
}

TEST(every_binary_fn_matches_numpy) {
    const int n_fn = (int)(sizeof elt_bin_goldens / sizeof elt_bin_goldens[0]);
    CHECK_INT_EQ(n_fn, HWA_BIN_COUNT);
    for (int k = 0; k < n_fn; k++) {
        const elt_bin_golden *b = &elt_bin_goldens[k];
        elt_run r = {hwa_ctx_new(NULL), NULL, NULL};
        CHECK(r.ctx);
        r.x = hwa_tensor_new_1d(r.ctx, HWA_F32, ELT_N);
        r.y = hwa_tensor_new_1d(r.ctx, HWA_F32, ELT_N);
        float got[ELT_N];
        hwa_status st = run_out(&r, hwa_binary(r.ctx, r.x, r.y, b->fn), got, ELT_N);
        if (st) hwa_test_fail(__FILE__, __LINE__, "binary %s: %s", b->name, hwa_ctx_last_error(r.ctx));
        for (int i = 0; !st && i < ELT_N; i++)
            if (!same_or_close(got[i], b->want[i], b->fn != HWA_BIN_POW))
                hwa_test_fail(__FILE__, __LINE__, "binary %s(%.9g, %.9g): got %.9g, numpy %.9g", b->name, elt_x[i],
                              elt_y[i], got[i], b->want[i]);
        hwa_ctx_free(r.ctx);
    }
}

TEST(where_matches_numpy) {
    elt_run r = {hwa_ctx_new(NULL), NULL, NULL};
    CHECK(r.ctx);
    r.x = hwa_tensor_new_1d(r.ctx, HWA_F32, ELT_N);
    r.y = hwa_tensor_new_1d(r.ctx, HWA_F32, ELT_N);
    float got[ELT_N];
    hwa_status st = run_out(&r, hwa_where(r.ctx, r.y, r.x, r.y), got, ELT_N);
    for (int i = 0; !st && i < ELT_N; i++)
        if (!same_or_close(got[i], elt_where[i], true))
            hwa_test_fail(__FILE__, __LINE__, "where at %d: got %.9g, numpy %.9g", i, got[i], elt_where[i]);
    hwa_ctx_free(r.ctx);
    CHECK_OK(st);
}

/* data [3, 4] gathered by i32 indices [4] along axis; got [16] or [12] */
static hwa_status gather_run(hwa_ctx *ctx, int axis, bool via_i32, float *got, int64_t n) {
    hwa_tensor *data = hwa_tensor_new_2d(ctx, HWA_F32, 3, 4), *idx = hwa_tensor_new_1d(ctx, HWA_I32, 4);
    hwa_tensor *src = via_i32 ? hwa_cast(ctx, hwa_scale(ctx, data, 2.0f), HWA_I32) : data;
    hwa_tensor *out = hwa_gather(ctx, src, idx, axis);
    if (via_i32) out = hwa_scale(ctx, hwa_cast(ctx, out, HWA_F32), 0.5f);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    hwa_status st = g && be && out ? hwa_graph_build_forward(g, out) : HWA_E_INTERNAL;
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    if (!st) st = hwa_tensor_set_f32(data, elt_gdata, 12);
    if (!st) st = hwa_tensor_set_bytes(idx, elt_gidx, sizeof elt_gidx);
    if (!st) st = hwa_graph_compute(g, be);
    if (!st) st = hwa_tensor_get_f32(out, got, n);
    hwa_backend_free(be);
    return st;
}

TEST(gather_both_axes_negative_indices_matches_numpy_take) {
    for (int v = 0; v < 4; v++) {
        const int axis = v & 1;
        const bool via_i32 = v >= 2; /* i32 data: the values 2 * data are whole numbers */
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        CHECK(ctx);
        float got[16];
        const float *want = axis ? elt_g1 : elt_g0;
        const int n = axis ? 12 : 16;
        hwa_status st = gather_run(ctx, axis, via_i32, got, n);
        if (st) hwa_test_fail(__FILE__, __LINE__, "gather axis %d: %s", axis, hwa_ctx_last_error(ctx));
        for (int i = 0; !st && i < n; i++)
            if (got[i] != want[i])
                hwa_test_fail(__FILE__, __LINE__, "gather axis %d%s at %d: got %g, numpy %g", axis,
                              via_i32 ? " (i32)" : "", i, got[i], want[i]);
        hwa_ctx_free(ctx);
    }
}

TEST(reduce_max_and_min_with_ties_match_numpy) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_tensor *r = hwa_tensor_new_3d(ctx, HWA_F32, 2, 3, 4);
    hwa_tensor *mx = hwa_reduce_max_to(ctx, r, 3, (const int64_t[]){2, 1, 4}, false);
    hwa_tensor *mn = hwa_reduce_max_to(ctx, r, 3, (const int64_t[]){1, 3, 1}, true);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK(mx && mn && g && be);
    CHECK_OK(hwa_graph_build_forward(g, mx));
    CHECK_OK(hwa_graph_build_forward(g, mn));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(r, elt_r, 24));
    CHECK_OK(hwa_graph_compute(g, be));
    float gmx[8], gmn[3];
    CHECK_OK(hwa_tensor_get_f32(mx, gmx, 8));
    CHECK_OK(hwa_tensor_get_f32(mn, gmn, 3));
    for (int i = 0; i < 8; i++) CHECK_MSG(gmx[i] == elt_rmax[i], "max at %d: %g vs %g", i, gmx[i], elt_rmax[i]);
    for (int i = 0; i < 3; i++) CHECK_MSG(gmn[i] == elt_rmin[i], "min at %d: %g vs %g", i, gmn[i], elt_rmin[i]);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(cast_to_i32_rounds_toward_zero_as_numpy_astype) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_tensor *x = hwa_tensor_new_1d(ctx, HWA_F32, ELT_NFIN);
    hwa_tensor *c = hwa_cast(ctx, x, HWA_I32);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK(c && g && be);
    CHECK_INT_EQ(hwa_tensor_dtype(c), HWA_I32);
    CHECK_OK(hwa_graph_build_forward(g, c));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_f32(x, elt_fin, ELT_NFIN));
    CHECK_OK(hwa_graph_compute(g, be));
    int32_t got[ELT_NFIN];
    CHECK_OK(hwa_tensor_get_bytes(c, got, sizeof got));
    for (int i = 0; i < ELT_NFIN; i++)
        CHECK_MSG(got[i] == elt_cast[i], "cast %.9g: got %d, numpy %d", elt_fin[i], (int)got[i], elt_cast[i]);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* i32 -> i32 through a strided view is exact above 2^24 (not through f32) */
TEST(cast_i32_to_f32_and_i32_copy_is_exact) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(ctx);
    hwa_tensor *a = hwa_tensor_new_2d(ctx, HWA_I32, 2, 2);
    hwa_tensor *t = hwa_cast(ctx, hwa_transpose(ctx, a), HWA_I32), *f = hwa_cast(ctx, a, HWA_F32);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK(t && f && g && be);
    CHECK_OK(hwa_graph_build_forward(g, t));
    CHECK_OK(hwa_graph_build_forward(g, f));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    const int32_t v[4] = {16777217, -3, 2147483647, -2147483647 - 1};
    CHECK_OK(hwa_tensor_set_bytes(a, v, sizeof v));
    CHECK_OK(hwa_graph_compute(g, be));
    int32_t gt[4];
    float gf[4];
    CHECK_OK(hwa_tensor_get_bytes(t, gt, sizeof gt));
    CHECK_OK(hwa_tensor_get_f32(f, gf, 4));
    const int32_t want[4] = {16777217, 2147483647, -3, -2147483647 - 1};
    for (int i = 0; i < 4; i++) CHECK_MSG(gt[i] == want[i], "transposed copy at %d: %d vs %d", i, (int)gt[i], (int)want[i]);
    for (int i = 0; i < 4; i++) CHECK_MSG(gf[i] == (float)v[i], "to f32 at %d: %.9g vs %.9g", i, gf[i], (float)v[i]);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}
