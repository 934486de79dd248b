/* The cuda backend on a real GPU (HWA_TEST_CUDA, default cuda:0); every
 * case skips with the reason where there is none (no module, no driver, no
 * device), as on this project's build machines. scripts/gpu-check.sh runs
 * it with HWA_REQUIRE=cuda, so that a skip fails there. The differential
 * harness (test_backend_ops, every_op_on_cuda_matches_the_reference) holds
 * every op to the reference; these cases hold what it cannot: the device
 * running out of memory, and transfers past the staging buffers. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *spec(void) {
    const char *e = getenv("HWA_TEST_CUDA");
    return e && *e ? e : "cuda:0";
}

static hwa_backend *gpu(hwa_ctx *ctx) {
    hwa_backend *be = hwa_backend_new(ctx, spec());
    if (!be) hwa_test_skip_for("cuda", "no %s: %s", spec(), hwa_ctx_last_error(ctx));
    return be;
}

/* 1 TiB: more than any GPU holds. */
TEST(out_of_device_memory_names_the_device_and_size_and_the_backend_goes_on) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = gpu(ctx);
    if (!be) {
        hwa_ctx_free(ctx);
        return;
    }
    hwa_tensor *big = hwa_tensor_new_2d(ctx, HWA_F32, INT64_C(1) << 18, INT64_C(1) << 20);
    CHECK_STATUS(hwa_tensor_alloc(big, be), HWA_E_NOMEM);
    const char *e = hwa_ctx_last_error(ctx);
    CHECK_MSG(strstr(e, spec()) && strstr(e, "1099511627776 bytes") && strstr(e, "out of memory"), "%s", e);
    /* a compute after it, checked against the host */
    const int64_t n = 100000;
    hwa_tensor *a = hwa_tensor_new_1d(ctx, HWA_F32, n), *b = hwa_tensor_new_1d(ctx, HWA_F32, n);
    hwa_tensor *y = hwa_mul(ctx, hwa_add(ctx, a, b), a);
    float *x = malloc(sizeof(float) * (size_t)n), *z = malloc(sizeof(float) * (size_t)n);
    CHECK_OK(hwa_tensor_alloc(a, be));
    CHECK_OK(hwa_tensor_alloc(b, be));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.25f;
    CHECK_OK(hwa_tensor_set_f32(a, x, n));
    for (int64_t i = 0; i < n; i++) z[i] = 1.0f - (float)(i % 13);
    CHECK_OK(hwa_tensor_set_f32(b, z, n));
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(y, z, n));
    for (int64_t i = 0; i < n; i++) {
        const float xa = (float)(i % 97) * 0.25f, xb = 1.0f - (float)(i % 13);
        if (z[i] != (xa + xb) * xa) {
            CHECK_NEAR(z[i], (xa + xb) * xa, 0.0f);
            break;
        }
    }
    free(x);
    free(z);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(transfers_past_the_staging_buffers_round_trip_on_the_device) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = gpu(ctx);
    if (!be) {
        hwa_ctx_free(ctx);
        return;
    }
    const int64_t n = 5 * 1024 * 1024 + 3; /* 20 MiB: five staging chunks, the last partial */
    hwa_tensor *t = hwa_tensor_new_1d(ctx, HWA_F32, n);
    float *x = malloc(sizeof(float) * (size_t)n), *y = calloc((size_t)n, sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 4099) - 7.5f;
    CHECK_OK(hwa_tensor_alloc(t, be));
    CHECK_OK(hwa_tensor_set_f32(t, x, n));
    CHECK_OK(hwa_tensor_get_f32(t, y, n));
    CHECK(!memcmp(x, y, sizeof(float) * (size_t)n));
    free(x);
    free(y);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}
