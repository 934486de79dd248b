/* QLINEAR against tests/golden/qlinear_golden.h, written by
 * tests/reference/gen_qlinear_goldens.py from the rule of core/ops_list.h in
 * NumPy: the reference kernel and the kernel of every ISA level this host
 * has (AMX tiles, VNNI, the f32 product) give the golden's floats bit for
 * bit. Each case runs twice on one backend, the second time from the
 * weights it kept, and once more after the weights were written. */
#include <math.h>
#include <string.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/matmul/mm_qlinear.h"
#include "core/internal.h"
#include "golden/qlinear_golden.h"
#include "harness.h"

/* Runs case c at ISA level isa (-1: the reference kernels) and compares. */
static void run_golden(const qlg_case *c, int isa) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, c->M, c->K), *w = hwa_tensor_new_2d(ctx, HWA_I8, c->N, c->K);
    hwa_tensor *ws = hwa_tensor_new_1d(ctx, HWA_F32, c->N);
    hwa_tensor *y = hwa_qlinear(ctx, x, w, ws, c->act_scale, c->act_zero);
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK(y && g && be);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_tensor_set_bytes(x, c->x, sizeof(float) * (size_t)(c->M * c->K)));
    CHECK_OK(hwa_tensor_set_bytes(ws, c->ws, sizeof(float) * (size_t)c->N));
    /* the weights negated first, so that the last run reads them anew */
    int8_t *neg = malloc((size_t)(c->N * c->K));
    CHECK(neg != NULL);
    for (int i = 0; i < c->N * c->K; i++) neg[i] = (int8_t)(c->w[i] == -128 ? 127 : -c->w[i]);
    CHECK_OK(hwa_tensor_set_bytes(w, neg, (size_t)(c->N * c->K)));
    free(neg);
    hwa__cpu_set_reference_only(isa < 0);
    hwa__isa_set_override(isa);
    CHECK_OK(hwa_graph_compute(g, be));
    CHECK_OK(hwa_tensor_set_bytes(w, c->w, (size_t)(c->N * c->K)));
    int bad = 0;
    for (int r = 0; r < 2; r++) {
        CHECK_OK(hwa_graph_compute(g, be));
        const uint32_t *got = hwa_tensor_data(y);
        for (int i = 0; i < c->M * c->N; i++)
            if (got[i] != c->y[i] && bad++ < 3) {
                float a, b;
                memcpy(&a, &got[i], 4), memcpy(&b, &c->y[i], 4);
                printf("    %s at %s, run %d: y[%d] = %.9g, the golden %.9g\n", c->name,
                       isa < 0 ? "reference" : hwa__isa_name((hwa__isa)isa), r + 1, i, a, b);
            }
    }
    printf("    %-14s %-9s %s\n", c->name, isa < 0 ? "reference" : hwa__isa_name((hwa__isa)isa),
           isa < 0 ? "" : hwa_backend_kernel_name(be, y));
    hwa__cpu_set_reference_only(false);
    hwa__isa_set_override(-1);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    CHECK_INT_EQ(bad, 0);
}

TEST(qlinear_gives_the_numpy_golden_bit_for_bit_on_every_kernel) {
    const int env = hwa__isa_env(), top = env >= 0 ? env : (int)hwa__isa_host();
    for (int i = 0; i < QLG_NCASES; i++)
        for (int isa = -1; isa <= top; isa++) run_golden(&qlg_cases[i], isa);
}

/* A NaN among static-scale activations quantizes to 0 (ops_list.h) on every
 * kernel: its product is that of x with the NaN replaced by the value that
 * quantizes to 0, here -z * s. */
TEST(a_nan_activation_quantizes_to_zero_on_every_kernel) {
    enum { M = 3, K = 70, N = 20 };
    const float s = 0.02f;
    const int z = 100;
    float xn[M * K], xz[M * K], wsc[N];
    int8_t w8[N * K];
    uint32_t r = 7;
    for (int i = 0; i < M * K; i++) {
        r = r * 1664525u + 1013904223u;
        xn[i] = xz[i] = (float)(r >> 8) / 8388608.0f - 1.0f;
    }
    for (int i = 0; i < N * K; i++) w8[i] = (int8_t)((i * 37) % 255 - 127);
    for (int i = 0; i < N; i++) wsc[i] = 0.01f * (float)(i + 1);
    for (int m = 0; m < M; m++) {
        xn[m * K + 5 * m + 3] = NAN;
        xz[m * K + 5 * m + 3] = -(float)z * s;
    }
    const int env = hwa__isa_env(), top = env >= 0 ? env : (int)hwa__isa_host();
    for (int isa = -1; isa <= top; isa++) {
        float y[2][M * N];
        for (int v = 0; v < 2; v++) {
            hwa_ctx *ctx = hwa_ctx_new(NULL);
            hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, M, K), *w = hwa_tensor_new_2d(ctx, HWA_I8, N, K);
            hwa_tensor *ws = hwa_tensor_new_1d(ctx, HWA_F32, N);
            hwa_tensor *out = hwa_qlinear(ctx, x, w, ws, s, z);
            hwa_graph *g = hwa_graph_new(ctx);
            hwa_backend *be = hwa_backend_new(ctx, "cpu");
            CHECK_OK(hwa_graph_build_forward(g, out));
            CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
            CHECK_OK(hwa_tensor_set_f32(x, v ? xz : xn, M * K));
            CHECK_OK(hwa_tensor_set_bytes(w, w8, sizeof w8));
            CHECK_OK(hwa_tensor_set_f32(ws, wsc, N));
            hwa__cpu_set_reference_only(isa < 0);
            hwa__isa_set_override(isa);
            CHECK_OK(hwa_graph_compute(g, be));
            CHECK_OK(hwa_tensor_get_f32(out, y[v], M * N));
            hwa__cpu_set_reference_only(false);
            hwa__isa_set_override(-1);
            hwa_backend_free(be);
            hwa_ctx_free(ctx);
        }
        CHECK_MSG(!memcmp(y[0], y[1], sizeof y[0]), "a NaN at %s did not quantize to 0",
                  isa < 0 ? "reference" : hwa__isa_name((hwa__isa)isa));
    }
}

/* The memory plan counts what QLINEAR keeps beside the graph: the weights
 * packed for the kernel the ISA level picks (VNNI or AMX panels and their
 * row sums), or decoded to f32; once for two products of one weight. */
TEST(plan_kept_counts_the_packed_weights_once_per_weight) {
    enum { M = 64, K = 70, N = 100 };
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, M, K), *w = hwa_tensor_new_2d(ctx, HWA_I8, N, K);
    hwa_tensor *ws = hwa_tensor_new_1d(ctx, HWA_F32, N);
    hwa_tensor *y = hwa_add(ctx, hwa_qlinear(ctx, x, w, ws, 0.0f, 0), hwa_qlinear(ctx, x, w, ws, 0.1f, 3));
    hwa_graph *g = hwa_graph_new(ctx);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_OK(hwa_graph_build_forward(g, y));
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    const int env = hwa__isa_env(), top = env >= 0 ? env : (int)hwa__isa_host();
    for (int isa = HWA_ISA_SCALAR; isa <= top; isa++) {
        hwa__isa_set_override(isa);
        int64_t kept = -1, want = (int64_t)N * K * 4;
        const bool amx = isa >= HWA_ISA_AMX && caps->amx_int8 && caps->amx_permitted;
        if (amx || (isa >= HWA_ISA_AVX512 && caps->avx512_vnni)) {
            const hwa__ql_geom geom = hwa__ql_geom_of(N, K, amx);
            want = (int64_t)hwa__ql_packed_bytes(&geom) + geom.NP * 4;
        }
        CHECK_OK(hwa_backend_plan_kept(be, g, &kept));
        CHECK_MSG(kept == want, "%s: %lld bytes kept, %lld expected", hwa__isa_name((hwa__isa)isa), (long long)kept,
                  (long long)want);
    }
    hwa__isa_set_override(-1);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}
