/* The cuda backend on machines without a GPU: its caching allocator over
 * the fake runtime (tests/fake_cuda/fake_rt.c, linked into this test), and
 * the backend itself through the fake module libhwadapt_fakecuda.so (the
 * backend's own host code over that runtime, loaded as libhwadapt_cuda.so
 * would be): out of memory names the device and the size and leaves the
 * backend usable, a launch error names the kernel, transfers larger than
 * the staging buffers round-trip. On a GPU the same backend code runs over
 * the real runtime; scripts/gpu-check.sh runs the differential harness
 * there. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/cuda/cuda_rt.h"
#include "harness.h"

#define MIB ((size_t)1 << 20)

/* ---- the allocator over the fake runtime -------------------------------- */

TEST(allocator_reuses_a_freed_block_without_the_device) {
    setenv("HWA_FAKE_CUDA_MEM", "64M", 1);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa__cu_alloc *a = hwa__cu_alloc_new(ctx, hwa__cu_rt_get());
    CHECK(a);
    void *p = NULL, *q = NULL;
    CHECK_INT_EQ(hwa__cu_alloc_get(a, 10 * MIB, &p), 0);
    hwa__cu_alloc_put(a, p);
    hwa__cu_mem_stats s;
    hwa__cu_alloc_stats(a, &s);
    CHECK_INT_EQ(s.in_use, 0);
    CHECK_INT_EQ(s.cached, (int64_t)(10 * MIB));
    /* a slightly smaller request takes the cached block back */
    CHECK_INT_EQ(hwa__cu_alloc_get(a, 9 * MIB, &q), 0);
    CHECK(q == p);
    hwa__cu_alloc_stats(a, &s);
    CHECK_INT_EQ(s.n_device_allocs, 1);
    CHECK_INT_EQ(s.cached, 0);
    CHECK_INT_EQ(s.in_use, (int64_t)(10 * MIB));
    CHECK_INT_EQ(s.peak, (int64_t)(10 * MIB));
    /* one far smaller does not waste the big block, cached again */
    hwa__cu_alloc_put(a, q);
    void *r = NULL;
    CHECK_INT_EQ(hwa__cu_alloc_get(a, 1000, &r), 0);
    CHECK(r != p);
    hwa__cu_alloc_stats(a, &s);
    CHECK_INT_EQ(s.n_device_allocs, 2);
    CHECK_INT_EQ(s.in_use, 1024);
    CHECK_INT_EQ(s.cached, (int64_t)(10 * MIB));
    hwa__cu_alloc_free(a);
    hwa_ctx_free(ctx);
}

TEST(allocator_gives_the_cache_back_and_retries_when_the_device_is_full) {
    setenv("HWA_FAKE_CUDA_MEM", "64M", 1);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa__cu_alloc *a = hwa__cu_alloc_new(ctx, hwa__cu_rt_get());
    void *p = NULL, *q = NULL;
    CHECK_INT_EQ(hwa__cu_alloc_get(a, 40 * MIB, &p), 0);
    hwa__cu_alloc_put(a, p);
    /* 50 MiB does not fit beside the 40 cached: the cache goes, then it fits */
    CHECK_INT_EQ(hwa__cu_alloc_get(a, 50 * MIB, &q), 0);
    hwa__cu_mem_stats s;
    hwa__cu_alloc_stats(a, &s);
    CHECK_INT_EQ(s.cached, 0);
    CHECK_INT_EQ(s.device, (int64_t)(50 * MIB));
    /* more than the device has: the runtime's out-of-memory code, nothing leaked */
    void *big = NULL;
    const int rc = hwa__cu_alloc_get(a, 20 * MIB, &big);
    CHECK(hwa__cu_rt_get()->is_oom(rc));
    hwa__cu_alloc_stats(a, &s);
    CHECK_INT_EQ(s.device, (int64_t)(50 * MIB));
    CHECK_INT_EQ(s.in_use, (int64_t)(50 * MIB));
    hwa__cu_alloc_free(a);
    hwa_ctx_free(ctx);
}

/* ---- the backend through the fake module ---------------------------------- */

/* A backend on the fake module's cuda:0, or NULL (and a failed check). */
static hwa_backend *fake_backend(hwa_ctx *ctx) {
    hwa_backend *be = hwa_backend_new(ctx, "cuda:0");
    if (!be) hwa_test_fail(__FILE__, __LINE__, "cuda:0 on the fake module: %s", hwa_ctx_last_error(ctx));
    return be;
}

/* y = a + b over n floats on be, checked against the host's sums. */
static hwa_status add_on(hwa_ctx *ctx, hwa_backend *be, int64_t n, float *out) {
    hwa_tensor *a = hwa_tensor_new_1d(ctx, HWA_F32, n), *b = hwa_tensor_new_1d(ctx, HWA_F32, n);
    hwa_tensor *y = hwa_add(ctx, a, b);
    if (!y) return hwa_ctx_last_status(ctx);
    hwa_status st = hwa_tensor_alloc(a, be);
    if (!st) st = hwa_tensor_alloc(b, be);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i * 0.5f;
    if (!st) st = hwa_tensor_set_f32(a, x, n);
    for (int64_t i = 0; i < n; i++) x[i] = 3.0f - (float)i;
    if (!st) st = hwa_tensor_set_f32(b, x, n);
    free(x);
    hwa_graph *g = hwa_graph_new(ctx);
    if (!st) st = hwa_graph_build_forward(g, y);
    if (!st) st = hwa_graph_compute(g, be);
    if (!st) st = hwa_tensor_get_f32(y, out, n);
    return st;
}

TEST(fake_module_opens_cuda_0_and_counts_its_devices) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    CHECK(!strcmp(hwa_backend_name(be), "cuda"));
    CHECK_INT_EQ(hwa_backend_device_kind(be), HWA_DEVICE_GPU);
    hwa_backend_free(be);
    CHECK(!hwa_backend_new(ctx, "cuda:1"));
    CHECK_STATUS(hwa_ctx_last_status(ctx), HWA_E_NOTFOUND);
    CHECK_MSG(strstr(hwa_ctx_last_error(ctx), "1 cuda device (cuda:0 to cuda:0)"), "%s", hwa_ctx_last_error(ctx));
    hwa_ctx_free(ctx);
}

TEST(transfers_larger_than_the_staging_buffers_round_trip) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    const int64_t n = 3 * 1024 * 1024 + 7; /* 12 MiB and a bit: three staging chunks */
    hwa_tensor *t = hwa_tensor_new_1d(ctx, HWA_F32, n);
    float *x = malloc((size_t)n * sizeof *x), *y = calloc((size_t)n, sizeof *y);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 1000) - 0.25f;
    CHECK_OK(hwa_tensor_alloc(t, be));
    CHECK_OK(hwa_tensor_set_f32(t, x, n));
    CHECK_OK(hwa_tensor_get_f32(t, y, n));
    CHECK(!memcmp(x, y, (size_t)n * sizeof *x));
    free(x);
    free(y);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(device_out_of_memory_names_the_device_and_size_and_leaves_it_usable) {
    setenv("HWA_FAKE_CUDA_MEM", "64M", 1);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    hwa_tensor *big = hwa_tensor_new_1d(ctx, HWA_F32, 25 * 1024 * 1024); /* 100 MiB */
    CHECK_STATUS(hwa_tensor_alloc(big, be), HWA_E_NOMEM);
    const char *e = hwa_ctx_last_error(ctx);
    CHECK_MSG(strstr(e, "cuda:0") && strstr(e, "104857600 bytes") && strstr(e, "out of memory"), "%s", e);
    /* the backend goes on: allocations that fit, and a compute */
    float y[1000];
    CHECK_OK(add_on(ctx, be, 1000, y));
    for (int i = 0; i < 1000; i++) CHECK_NEAR(y[i], 3.0f - 0.5f * (float)i, 0.0f);
    int64_t used = 0;
    CHECK_OK(hwa_backend_memory(be, &used, NULL));
    CHECK(used >= 3 * 4000 && used < (int64_t)MIB);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(the_memory_cap_of_hwa_mem_limit_applies_to_cuda_devices) {
    setenv("HWA_MEM_LIMIT", "cuda:0=1M", 1);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    unsetenv("HWA_MEM_LIMIT");
    if (!be) return;
    hwa_tensor *t = hwa_tensor_new_1d(ctx, HWA_F32, 512 * 1024); /* 2 MiB */
    CHECK_STATUS(hwa_tensor_alloc(t, be), HWA_E_NOMEM);
    CHECK_MSG(strstr(hwa_ctx_last_error(ctx), "cuda:0"), "%s", hwa_ctx_last_error(ctx));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(a_launch_error_names_the_kernel_and_the_backend_goes_on) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    float y[64];
    setenv("HWA_FAKE_CUDA_FAIL_KERNEL", "hwa_k_binary_flat", 1);
    const hwa_status st = add_on(ctx, be, 64, y);
    unsetenv("HWA_FAKE_CUDA_FAIL_KERNEL");
    CHECK_STATUS(st, HWA_E_DEVICE);
    const char *e = hwa_ctx_last_error(ctx);
    CHECK_MSG(strstr(e, "cuda:0") && strstr(e, "kernel hwa_k_binary_flat failed to launch") &&
                  strstr(e, "cudaErrorInvalidDeviceFunction"),
              "%s", e);
    CHECK_OK(add_on(ctx, be, 64, y));
    CHECK_NEAR(y[10], 3.0f - 5.0f, 0.0f);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* A list computed again and again is recorded as a CUDA Graph on a GPU;
 * where capture is refused (the fake runtime) it keeps running as it is,
 * each run computing once. */
TEST(a_repeated_list_runs_once_per_compute_whether_or_not_it_is_captured) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    hwa_tensor *a = hwa_tensor_new_1d(ctx, HWA_F32, 16), *y = hwa_add(ctx, a, a);
    CHECK_OK(hwa_tensor_alloc(a, be));
    float x[16], got[16];
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    for (int run = 0; run < 5; run++) {
        for (int i = 0; i < 16; i++) x[i] = (float)(i + run);
        CHECK_OK(hwa_tensor_set_f32(a, x, 16));
        CHECK_OK(hwa_graph_compute(g, be));
        CHECK_OK(hwa_tensor_get_f32(y, got, 16));
        for (int i = 0; i < 16; i++) CHECK_NEAR(got[i], 2.0f * (float)(i + run), 0.0f);
    }
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* y = relu(x W + b): the product takes the bias add and the ReLU into its
 * epilogue (the fake computes it on the host), and the two nodes say so;
 * with the product's own result kept as an output, nothing is fused. */
TEST(a_product_takes_the_bias_and_relu_after_it_unless_its_result_is_read) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    const int64_t M = 3, K = 4, N = 5;
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, M, K), *w = hwa_tensor_new_2d(ctx, HWA_F32, K, N);
    hwa_tensor *b = hwa_tensor_new_1d(ctx, HWA_F32, N);
    hwa_tensor *mm = hwa_matmul(ctx, x, w), *add = hwa_add(ctx, mm, b), *y = hwa_relu(ctx, add);
    CHECK_OK(hwa_tensor_alloc(x, be));
    CHECK_OK(hwa_tensor_alloc(w, be));
    CHECK_OK(hwa_tensor_alloc(b, be));
    float xv[12], wv[20], bv[5], got[15];
    for (int i = 0; i < 12; i++) xv[i] = (float)(i % 5) - 2.0f;
    for (int i = 0; i < 20; i++) wv[i] = (float)(i % 3) - 1.0f;
    for (int i = 0; i < 5; i++) bv[i] = 0.5f * (float)i - 1.0f;
    CHECK_OK(hwa_tensor_set_f32(x, xv, 12));
    CHECK_OK(hwa_tensor_set_f32(w, wv, 20));
    CHECK_OK(hwa_tensor_set_f32(b, bv, 5));
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(y, got, 15));
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = bv[j];
            for (int k = 0; k < K; k++) acc += xv[i * K + k] * wv[k * N + j];
            CHECK_NEAR(got[i * N + j], acc > 0.0f ? acc : 0.0f, 1e-6);
        }
    CHECK_MSG(!strcmp(hwa_backend_kernel_name(be, mm), "fake:gemm+bias+relu"), "%s", hwa_backend_kernel_name(be, mm));
    CHECK_MSG(!strcmp(hwa_backend_kernel_name(be, add), "fused into the product before it"), "%s",
              hwa_backend_kernel_name(be, add));
    CHECK(!strcmp(hwa_backend_kernel_name(be, y), "fused into the product before it"));
    /* the product's result an output of the graph too (build_forward marks it): not fused */
    hwa_tensor *mm2 = hwa_matmul(ctx, x, w), *y2 = hwa_relu(ctx, hwa_add(ctx, mm2, b));
    hwa_graph *g2 = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g2, y2));
    CHECK_OK(hwa_graph_build_forward(g2, mm2));
    CHECK_OK(hwa_graph_compute(g2, be));
    CHECK_MSG(!strcmp(hwa_backend_kernel_name(be, mm2), "cuda:hwa_k_matmul"), "%s", hwa_backend_kernel_name(be, mm2));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(nodes_name_the_cuda_kernel_that_ran_them) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = fake_backend(ctx);
    if (!be) return;
    hwa_tensor *a = hwa_tensor_new_2d(ctx, HWA_F32, 4, 8), *b = hwa_tensor_new_2d(ctx, HWA_F32, 4, 8);
    hwa_tensor *y = hwa_add(ctx, a, b), *r = hwa_relu(ctx, y);
    CHECK_OK(hwa_tensor_alloc(a, be));
    CHECK_OK(hwa_tensor_alloc(b, be));
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, r));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_MSG(!strcmp(hwa_backend_kernel_name(be, y), "cuda:hwa_k_binary_flat"), "%s", hwa_backend_kernel_name(be, y));
    CHECK_MSG(!strcmp(hwa_backend_kernel_name(be, r), "cuda:hwa_k_unary_flat"), "%s", hwa_backend_kernel_name(be, r));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* Every case above that needs the module runs on the fake one, on a GPU
 * machine too ($HWA_FAKE_CUDA_MODULE, else the one built beside this test;
 * test_cuda_gpu has the cases for a real device). */
__attribute__((constructor)) static void use_the_fake_module(void) {
    const char *m = getenv("HWA_FAKE_CUDA_MODULE");
    char path[4200];
    if (!m || !*m) {
        char exe[4096];
        const ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (k <= 0) return;
        exe[k] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(path, sizeof path, "%s/libhwadapt_fakecuda.so", exe);
        m = path;
    }
    setenv("HWA_CUDA_MODULE", m, 1);
}

/* TF32 is for tensor cores: a CPU backend told TF32 multiplies in exact f32
 * (on AMX machines too, where BF16 would round), and a value past TF32 is
 * refused. */
TEST(tf32_precision_on_the_cpu_is_exact_f32) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    const int64_t M = 33, K = 70, N = 45;
    hwa_tensor *a = hwa_tensor_new_2d(ctx, HWA_F32, M, K), *b = hwa_tensor_new_2d(ctx, HWA_F32, K, N);
    hwa_tensor *y = hwa_matmul(ctx, a, b);
    CHECK_OK(hwa_tensor_alloc(a, be));
    CHECK_OK(hwa_tensor_alloc(b, be));
    float *x = malloc(sizeof(float) * (size_t)(K * (M > N ? M : N)));
    for (int64_t i = 0; i < M * K; i++) x[i] = (float)((i * 7919) % 1000) / 997.0f - 0.5f;
    CHECK_OK(hwa_tensor_set_f32(a, x, M * K));
    for (int64_t i = 0; i < K * N; i++) x[i] = (float)((i * 104729) % 1000) / 991.0f - 0.5f;
    CHECK_OK(hwa_tensor_set_f32(b, x, K * N));
    free(x);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    float *y32 = malloc(sizeof(float) * (size_t)(M * N)), *ytf = malloc(sizeof(float) * (size_t)(M * N));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(y, y32, M * N));
    CHECK_OK(hwa_backend_set_matmul_precision(be, HWA_MATMUL_PRECISION_TF32));
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_get_f32(y, ytf, M * N));
    CHECK(!memcmp(y32, ytf, sizeof(float) * (size_t)(M * N)));
    CHECK_STATUS(hwa_backend_set_matmul_precision(be, (hwa_matmul_precision)4), HWA_E_MISUSE);
    free(y32);
    free(ytf);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}
