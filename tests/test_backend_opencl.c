/* The opencl backend's life outside the kernels: what happens without a
 * loader, past the last device, beyond the device's memory, on data without
 * a kernel and on an index out of range, how the program binary cache
 * behaves, and a whole model end to end (stories260K's greedy tokens equal
 * the CPU's). The kernels themselves are compared with the reference in
 * test_backend_ops. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/opencl/opencl_internal.h"
#include "core/internal.h"
#include "harness.h"

/* A backend on opencl:0 in ctx, or NULL after skipping for "opencl". */
static hwa_backend *opencl0(hwa_ctx *ctx) {
    hwa_backend *be = hwa_backend_new(ctx, "opencl:0");
    if (!be) hwa_test_skip_for("opencl", "no opencl:0: %s", hwa_ctx_last_error(ctx));
    return be;
}

/* Whether opencl:0 opens (after skipping for "opencl" when not). */
static bool have_opencl0(void) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = opencl0(ctx);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return be != NULL;
}

TEST(without_a_loader_opencl_is_notfound_and_says_why) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/no-icd", hwa_test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    const char *old = getenv("HWA_OPENCL_LIB");
    char *saved = old ? strdup(old) : NULL;
    setenv("HWA_OPENCL_LIB", dir, 1);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "opencl:0");
    const hwa_status st = hwa_ctx_last_status(ctx);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hwa_ctx_last_error(ctx));
    hwa_backend *cpu = hwa_backend_new(ctx, "cpu");
    if (saved) setenv("HWA_OPENCL_LIB", saved, 1);
    else unsetenv("HWA_OPENCL_LIB");
    free(saved);
    printf("    %s\n", msg);
    CHECK(be == NULL);
    CHECK_INT_EQ(st, HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(msg, "opencl:0");
    CHECK_STR_CONTAINS(msg, "ICD loader cannot be opened");
    CHECK(cpu != NULL); /* the CPU goes on working */
    hwa_backend_free(cpu);
    hwa_ctx_free(ctx);
}

TEST(a_device_index_past_the_last_is_notfound_with_the_count) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = opencl0(ctx);
    if (!be) {
        hwa_ctx_free(ctx);
        return;
    }
    hwa_backend_free(be);
    CHECK(hwa_backend_new(ctx, "opencl:63") == NULL);
    printf("    %s\n", hwa_ctx_last_error(ctx));
    CHECK_INT_EQ(hwa_ctx_last_status(ctx), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "opencl:0 to opencl:");
    hwa_ctx_free(ctx);
}

TEST(a_tensor_beyond_the_device_memory_is_nomem_naming_device_and_size) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = opencl0(ctx);
    if (!be) {
        hwa_ctx_free(ctx);
        return;
    }
    const int64_t shape[2] = {1 << 20, 1 << 20}; /* 4 TiB of f32 */
    hwa_tensor *t = hwa_tensor_new(ctx, HWA_F32, 2, shape);
    CHECK_STATUS(hwa_tensor_alloc(t, be), HWA_E_NOMEM);
    printf("    %s\n", hwa_ctx_last_error(ctx));
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "opencl:0");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "4398046511104 bytes");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(an_op_on_data_without_a_device_kernel_is_unsupported_with_the_reason) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = opencl0(ctx);
    if (!be) {
        hwa_ctx_free(ctx);
        return;
    }
    /* every op has a kernel; quantized blocks have none yet */
    hwa_tensor *table = hwa_tensor_new_2d(ctx, HWA_Q8_0, 4, 32), *ids = hwa_tensor_new_1d(ctx, HWA_I32, 2);
    hwa_tensor *e = hwa_embedding(ctx, table, ids);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, e));
    CHECK(!hwa_backend_supports(be, e));
    CHECK_STR_CONTAINS(hwa__backend_unsupported_reason(be, e), "q8_0");
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_STATUS(hwa_graph_compute(g, be), HWA_E_UNSUPPORTED);
    printf("    %s\n", hwa_ctx_last_error(ctx));
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "embedding on q8_0 data");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(an_index_out_of_range_is_a_range_error_naming_op_index_and_bound) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = opencl0(ctx);
    if (!be) {
        hwa_ctx_free(ctx);
        return;
    }
    hwa_tensor *table = hwa_tensor_new_2d(ctx, HWA_F32, 4, 3), *ids = hwa_tensor_new_1d(ctx, HWA_I32, 3);
    hwa_tensor *e = hwa_embedding(ctx, table, ids);
    hwa_graph *g = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, e));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    const int32_t bad[3] = {0, 3, 4};
    CHECK_OK(hwa_tensor_set_bytes(ids, bad, sizeof bad));
    CHECK_STATUS(hwa_graph_compute(g, be), HWA_E_RANGE);
    printf("    %s\n", hwa_ctx_last_error(ctx));
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "embedding: id 4 at index 2 is outside [0, 4)");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(stories260K_generates_on_opencl_exactly_the_cpus_greedy_tokens) {
    char path[512];
    NEED_DATA("stories260K/stories260K.bin", path);
    if (!have_opencl0()) return;
    enum { N = 256, VOCAB = 512 }; /* the issue asks for 256 steps */
    const int32_t prompt[4] = {1, 403, 407, 261};
    int32_t cpu[N] = {0}, ocl[N] = {0};
    float lc[VOCAB], lo[VOCAB];
    if (!hwa_test_greedy_tokens(path, "cpu", prompt, 4, N, cpu, lc) ||
        !hwa_test_greedy_tokens(path, "opencl:0", prompt, 4, N, ocl, lo))
        return;
    int same = 0;
    while (same < N && cpu[same] == ocl[same]) same++;
    printf("    %d of %d greedy tokens equal; the prompt's logits differ by at most %.3g\n", same, N,
           hwa_test_max_abs_diff(lc, lo, VOCAB));
    if (same < N) printf("    token %d: cpu %d, opencl:0 %d\n", same, cpu[same], ocl[same]);
    CHECK_INT_EQ(same, N);
    CHECK(hwa_test_max_abs_diff(lc, lo, VOCAB) < 1e-3);
}

/* ---- matrix products: CLBlast and the portable kernel ------------------- */

/* A product case: A and B as leaves (2 or 3 dims), read through a view
 * (transposed or sliced to their last dim's first cols) and multiplied
 * with the trans flags; routine is the CLBlast call it should go to. */
typedef struct mm_case {
    const char *name;
    int nd_a, nd_b;
    int64_t a[3], b[3];
    int view_a, view_b; /* 0, 'T' transposed, 'S' sliced to all but 3 columns */
    bool ta, tb;
    const char *routine;
} mm_case;

static const mm_case mm_cases[] = {
    {"1x1x1", 2, 2, {1, 1}, {1, 1}, 0, 0, false, false, "sgemm"},
    {"7x13 * 13x29", 2, 2, {7, 13}, {13, 29}, 0, 0, false, false, "sgemm"},
    {"33x65 * (47x65)^T", 2, 2, {33, 65}, {47, 65}, 0, 0, false, true, "sgemm"},
    {"(23x11)^T flag * 23x5", 2, 2, {23, 11}, {23, 5}, 0, 0, true, false, "sgemm"},
    {"transposed view of 23x11 * 23x5", 2, 2, {23, 11}, {23, 5}, 'T', 0, false, false, "sgemm"},
    {"9x16 * sliced 16x24", 2, 2, {9, 16}, {16, 24}, 0, 'S', false, false, "sgemm"},
    {"130x257 * (67x257)^T", 2, 2, {130, 257}, {67, 257}, 0, 0, false, true, "sgemm"},
    {"batched 3x5x8 * shared 8x6", 3, 2, {3, 5, 8}, {8, 6}, 0, 0, false, false, "sgemm"},
    {"batched 2x6x33 * shared (17x33)^T", 3, 2, {2, 6, 33}, {17, 33}, 0, 0, false, true, "sgemm"},
    {"batched (2x9x4)^T flag * shared 9x3", 3, 2, {2, 9, 4}, {9, 3}, 0, 0, true, false, "sgemm_strided_batched"},
    {"batched both 2x4x9 * 2x9x3", 3, 3, {2, 4, 9}, {2, 9, 3}, 0, 0, false, false, "sgemm_strided_batched"},
};

static hwa_tensor *mm_input(hwa_ctx *ctx, int nd, const int64_t *shape, int view, hwa_tensor **leaf) {
    *leaf = hwa_tensor_new(ctx, HWA_F32, nd, shape);
    if (!*leaf || !view) return *leaf;
    return view == 'T' ? hwa_transpose(ctx, *leaf) : hwa_slice(ctx, *leaf, -1, 1, shape[nd - 1] - 3);
}

/* c's product on device spec into out[] (cap floats; *n: the count), with
 * the name of the kernel that ran it into kernel. */
static hwa_status mm_run(const mm_case *c, const char *spec, float *out, int64_t cap, int64_t *n, char *kernel,
                         size_t kcap) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, spec);
    hwa_tensor *la = NULL, *lb = NULL;
    hwa_tensor *a = mm_input(ctx, c->nd_a, c->a, c->view_a, &la), *b = mm_input(ctx, c->nd_b, c->b, c->view_b, &lb);
    hwa_tensor *y = a && b ? hwa_matmul_ex(ctx, a, b, c->ta, c->tb) : NULL;
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_status st = be && y && g ? hwa_graph_build_forward(g, y) : hwa_ctx_last_status(ctx);
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    hwa_tensor *leaves[2] = {la, lb};
    for (int i = 0; i < 2 && !st; i++) {
        const int64_t m = hwa_tensor_nelements(leaves[i]);
        float *x = malloc((size_t)m * sizeof *x);
        for (int64_t j = 0; x && j < m; j++) x[j] = (float)((j * 7919 + i * 104729) % 2001) / 1000.0f - 1.0f;
        st = x ? hwa_tensor_set_f32(leaves[i], x, m) : HWA_E_NOMEM;
        free(x);
    }
    if (!st) st = hwa_graph_compute(g, be);
    *n = y ? hwa_tensor_nelements(y) : 0;
    if (!st) st = *n <= cap ? hwa_tensor_get_f32(y, out, *n) : HWA_E_INTERNAL;
    snprintf(kernel, kcap, "%s", st ? hwa_ctx_last_error(ctx) : hwa_backend_kernel_name(be, y));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return st;
}

/* HWA_OPENCL_BLAS set to value (NULL: unset); returns the old value to
 * give back to env_restore. */
static char *env_swap(const char *name, const char *value) {
    const char *old = getenv(name);
    char *saved = old ? strdup(old) : NULL;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
    return saved;
}

static void env_restore(const char *name, char *saved) {
    if (saved) setenv(name, saved, 1);
    else unsetenv(name);
    free(saved);
}

TEST(products_through_clblast_and_the_portable_kernel_match_the_cpu) {
    if (!have_opencl0()) return;
    char *saved = env_swap("HWA_OPENCL_BLAS", NULL);
    char why[1300];
    const bool blas = hwa__cl_blas_usable(why, sizeof why);
    if (!blas) printf("    CLBlast not used: %s (its half of each case is skipped)\n", why);
    enum { CAP = 130 * 67 };
    static float ref[CAP], got[CAP];
    for (size_t i = 0; i < sizeof mm_cases / sizeof mm_cases[0]; i++) {
        const mm_case *c = &mm_cases[i];
        int64_t nref = 0, n = 0;
        char kernel[512];
        CHECK_OK(mm_run(c, "cpu", ref, CAP, &nref, kernel, sizeof kernel));
        for (int pass = blas ? 0 : 1; pass < 2; pass++) {
            setenv("HWA_OPENCL_BLAS", pass ? "0" : "1", 1);
            const hwa_status st = mm_run(c, "opencl:0", got, CAP, &n, kernel, sizeof kernel);
            CHECK_MSG(st == HWA_OK, "%s: %s", c->name, kernel);
            if (st) continue;
            char want[64];
            snprintf(want, sizeof want, "opencl:%s%s", pass ? "hwa_k_matmul" : "clblast:", pass ? "" : c->routine);
            CHECK_MSG(!strcmp(kernel, want), "%s: kernel %s, expected %s", c->name, kernel, want);
            CHECK_INT_EQ(n, nref);
            if (!pass) printf("    %-38s %s\n", c->name, kernel);
            double err = 0, scale = 0;
            for (int64_t j = 0; j < n && j < nref; j++) {
                err = fmax(err, fabs((double)got[j] - ref[j]));
                scale = fmax(scale, fabs((double)ref[j]));
            }
            CHECK_MSG(err <= 1e-5 * (scale > 1 ? scale : 1), "%s on %s: max error %g (largest value %g)", c->name,
                      kernel, err, scale);
        }
    }
    env_restore("HWA_OPENCL_BLAS", saved);
}

/* Seconds from a new opencl:0 backend to the result of a small graph (the
 * program built or loaded on the way); -1 on failure (recorded). */
static double time_to_first_result(void) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "opencl:0");
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 2, 3);
    hwa_tensor *y = hwa_relu(ctx, hwa_scale(ctx, x, -2.0f));
    hwa_graph *g = hwa_graph_new(ctx);
    const float in[6] = {1, -1, 2, -2, 0, 3};
    const float want[6] = {0, 2, 0, 4, 0, 0};
    float out[6] = {0};
    hwa_status st = !be ? hwa_ctx_last_status(ctx) : hwa_graph_build_forward(g, y);
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    if (!st) st = hwa_tensor_set_f32(x, in, 6);
    if (!st) st = hwa_graph_compute(g, be);
    if (!st) st = hwa_tensor_get_f32(y, out, 6);
    if (st) hwa_test_fail(__FILE__, __LINE__, "opencl:0: %s", hwa_ctx_last_error(ctx));
    if (!st && memcmp(out, want, sizeof out) != 0) {
        hwa_test_fail(__FILE__, __LINE__, "relu(-2x) = %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4],
                      out[5]);
        st = HWA_E_INTERNAL;
    }
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return st ? -1.0 : (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
}

/* The one cache file under dir/hwadapt/opencl, into path. */
static bool cache_file(const char *dir, char *path, size_t cap) {
    char sub[400];
    snprintf(sub, sizeof sub, "%s/hwadapt/opencl", dir);
    DIR *d = opendir(sub);
    if (!d) return false;
    bool found = false;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".bin") && !strstr(e->d_name, ".tmp")) {
            snprintf(path, cap, "%s/%s", sub, e->d_name);
            found = true;
        }
    closedir(d);
    return found;
}

TEST(the_program_binary_is_cached_and_a_corrupt_one_rebuilt_with_a_warning) {
    if (!have_opencl0()) return;
    char dir[300], path[700], log[400];
    snprintf(dir, sizeof dir, "%s/cache", hwa_test_tmpdir());
    snprintf(log, sizeof log, "%s/stderr.txt", hwa_test_tmpdir());
    const char *old = getenv("XDG_CACHE_HOME");
    char *saved = old ? strdup(old) : NULL;
    setenv("XDG_CACHE_HOME", dir, 1);
    const double cold = time_to_first_result();
    const bool written = cache_file(dir, path, sizeof path);
    const double warm = time_to_first_result();
    /* corrupt it: the same size, other bytes */
    FILE *f = written ? fopen(path, "r+b") : NULL;
    if (f) {
        fseek(f, 100, SEEK_SET);
        fputs("not a program binary", f);
        fclose(f);
    }
    fflush(stderr);
    const int err = dup(2);
    FILE *capture = freopen(log, "w", stderr);
    const double rebuilt = time_to_first_result();
    fflush(stderr);
    dup2(err, 2);
    close(err);
    if (saved) setenv("XDG_CACHE_HOME", saved, 1);
    else unsetenv("XDG_CACHE_HOME");
    free(saved);
    char text[2048] = "";
    FILE *lf = fopen(log, "r");
    if (lf) {
        size_t n = fread(text, 1, sizeof text - 1, lf);
        text[n] = '\0';
        fclose(lf);
    }
    printf("    first result: cold %.3f s, from the cache %.3f s, after corrupting the cache %.3f s (POCL_KERNEL_CACHE=0 turns PoCL's own cache off)\n", cold, warm,
           rebuilt);
    printf("    %s", text);
    CHECK(capture != NULL);
    CHECK(written);
    CHECK(cold > 0 && warm > 0 && rebuilt > 0);
    CHECK_STR_CONTAINS(text, "is corrupt");
    CHECK_STR_CONTAINS(text, "rebuilding it");
    /* the rebuilt entry is whole again: a fourth start reads it silently */
    f = fopen(path, "rb");
    CHECK(f != NULL);
    char magic[8] = "";
    CHECK(fread(magic, 1, 8, f) == 8);
    fclose(f);
    CHECK(memcmp(magic, "HWACLBIN", 8) == 0);
}
