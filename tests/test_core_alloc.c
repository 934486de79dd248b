/* Allocation failure: an allocator that fails on its k-th call, for every k
 * until the whole flow succeeds. Each failing run must report HWA_E_NOMEM,
 * never crash, and return every byte (ASan and the allocator's own count). */
#include <stdlib.h>

#include "harness.h"

typedef struct failing {
    long calls, fail_at; /* fail the fail_at-th call (1-based); 0: never */
    long live;           /* allocations not yet freed */
} failing;

static void *f_alloc(void *ud, size_t size, size_t align) {
    failing *f = ud;
    f->calls++;
    if (f->fail_at && f->calls == f->fail_at) return NULL;
    size_t rounded = (size + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p) f->live++;
    return p;
}

static void f_free(void *ud, void *p) {
    failing *f = ud;
    if (p) {
        f->live--;
        free(p);
    }
}

/* The flow under test: build a small training graph, allocate, run twice.
 * Returns the first failing status (HWA_OK when everything succeeded). */
static hwa_status flow(failing *f, float *loss_out) {
    hwa_allocator a = {f_alloc, f_free, f};
    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.allocator = &a, .seed = 3});
    if (!ctx) return strstr(hwa_last_error(), "out of memory") ? HWA_E_NOMEM : HWA_E_INTERNAL;
    hwa_status st = HWA_OK;
    hwa_backend *be = NULL;
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 8, 16);
    hwa_tensor *y = hwa_tensor_new_1d(ctx, HWA_I32, 8);
    hwa_tensor *w = hwa_tensor_new_2d(ctx, HWA_F32, 4, 16);
    hwa_tensor *b = hwa_tensor_new_1d(ctx, HWA_F32, 4);
    /* b is optional to layernorm, so a failed creation must stop here. */
    if (!x || !y || !w || !b || hwa_tensor_set_param(w) || hwa_tensor_set_param(b)) goto fail;
    hwa_tensor *h = hwa_layernorm(ctx, hwa_matmul_ex(ctx, x, w, false, true), NULL, b, 1e-5f);
    hwa_tensor *loss = hwa_cross_entropy(ctx, hwa_gelu(ctx, h), y);
    hwa_graph *g = hwa_graph_new(ctx);
    if (!g || hwa_graph_build_forward(g, loss) || hwa_graph_build_backward(g, loss)) goto fail;
    be = hwa_backend_new(ctx, "cpu");
    if (!be || hwa_ctx_alloc_leaves(ctx, be) || hwa_tensor_fill_uniform(x, -1, 1) ||
        hwa_tensor_fill_uniform(w, -1, 1) || hwa_tensor_set_bytes(y, (int32_t[]){0, 1, 2, 3, 0, 1, 2, 3}, 32))
        goto fail;
    for (int r = 0; r < 2; r++)
        if (hwa_graph_compute(g, be)) goto fail;
    if (hwa_tensor_get_f32(loss, loss_out, 1)) goto fail;
    goto out;
fail:
    st = hwa_ctx_last_status(ctx);
    if (st == HWA_OK) st = HWA_E_INTERNAL;
out:
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return st;
}

TEST(every_allocation_failure_is_nomem_and_leaks_nothing) {
    failing ref = {0, 0, 0};
    float want = 0;
    CHECK_OK(flow(&ref, &want));
    CHECK_INT_EQ(ref.live, 0);
    long total = ref.calls;
    CHECK(total > 10);
    for (long k = 1; k <= total; k++) {
        failing f = {0, k, 0};
        float got = 0;
        hwa_status st = flow(&f, &got);
        CHECK_MSG(st == HWA_E_NOMEM, "failing allocation %ld of %ld: got %s (%s)", k, total, hwa_status_name(st),
                  hwa_last_error());
        CHECK_MSG(f.live == 0, "failing allocation %ld: %ld allocations leaked", k, f.live);
    }
    /* Past the last allocation the flow succeeds with the same result. */
    failing late = {0, total + 1, 0};
    float got = 0;
    CHECK_OK(flow(&late, &got));
    CHECK(memcmp(&got, &want, sizeof got) == 0);
    fprintf(stderr, "    %ld allocation points, each failure reported as HWA_E_NOMEM\n", total);
}
