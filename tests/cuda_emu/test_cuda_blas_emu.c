/* The host side of the CUDA backend's fast paths (src/backends/cuda/
 * cuda_blas.c, included here for its static functions) on a machine with
 * no GPU: how a MATMUL's views become one column-major cuBLASLt product
 * (run here on the CPU exactly as cuBLASLt defines it, and compared with the
 * product of the views), and what hwa__cu_fast_run takes, declines and
 * computes for row ops and attention, with the kernels of cuda_fast.cu run
 * by the emulation of tests/cuda_emu/ (cuda_fast_emu.cpp). No CUDA or
 * cuBLASLt function is called: the toolkit's headers and libraries are
 * needed to build only. */
#include "backends/cuda/cuda_blas.c"

#include "harness.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static int rn(int n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (uint64_t)n);
}
static float rnd(void) { return (float)rn(2000001) / 1000000.0f - 1.0f; }

/* ---- matrix products ------------------------------------------------------ */

/* v with extents ne, its dims laid out in memory in a random order (the
 * matrix row- or column-major, batch dims anywhere) with random gaps, or
 * row-major and contiguous when plain; the elements it spans. */
static int64_t random_view(hwa__gpu_view *v, const int64_t ne[4], bool plain) {
    int order[4] = {3, 2, 1, 0}; /* innermost first */
    if (!plain && rn(3) == 0) {
        const int i = rn(4), j = rn(4), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    if (!plain && rn(2)) order[0] = 2, order[1] = 3;
    if (order[0] == order[1] || order[0] == order[2] || order[0] == order[3] || order[1] == order[2] ||
        order[1] == order[3] || order[2] == order[3])
        order[0] = 3, order[1] = 2, order[2] = 1, order[3] = 0;
    memset(v, 0, sizeof *v);
    int64_t s = 1;
    for (int i = 0; i < 4; i++) {
        v->ne[order[i]] = ne[order[i]];
        v->st[order[i]] = s;
        s *= ne[order[i]] + (!plain && rn(3) == 0 ? rn(3) : 0);
    }
    v->off = plain ? 0 : rn(3);
    v->dt = HWA_F32;
    return s + v->off;
}

static float at4(const float *p, const hwa__gpu_view *v, int64_t i0, int64_t i1, int64_t r, int64_t c) {
    return p[v->off + (v->ne[0] == 1 ? 0 : i0 * v->st[0]) + (v->ne[1] == 1 ? 0 : i1 * v->st[1]) + r * v->st[2] +
             c * v->st[3]];
}

/* D' = op(X) op(Y) per batch item, column-major, as cublasLtMatmul defines
 * it (alpha 1, beta 0). */
static void lt_product(const gemm *g) {
    const float *X = g->px, *Y = g->py;
    float *D = g->pd;
    const int64_t K = g->x.trans ? g->x.rows : g->x.cols;
    for (int64_t i = 0; i < g->batch; i++)
        for (int64_t r = 0; r < g->d.rows; r++)
            for (int64_t c = 0; c < g->d.cols; c++) {
                float s = 0.0f;
                for (int64_t k = 0; k < K; k++)
                    s += (g->x.trans ? X[i * g->x.bs + k + r * g->x.ld] : X[i * g->x.bs + r + k * g->x.ld]) *
                         (g->y.trans ? Y[i * g->y.bs + c + k * g->y.ld] : Y[i * g->y.bs + k + c * g->y.ld]);
                D[i * g->d.bs + r + c * g->d.ld] = s;
            }
}

/* Random products (small integers: every sum exact) over random layouts:
 * each one gemm_of takes gives the views' product through cuBLASLt's
 * definition; the plain ones (everything row-major and contiguous, B
 * shared or not) are all taken, and B shared folds into one product. */
TEST(matmul_views_map_onto_one_column_major_product) {
    int taken = 0, folded = 0, strided = 0;
    for (int iter = 0; iter < 4000; iter++) {
        const bool ta = rn(2), tb = rn(2), plain = rn(3) == 0;
        const int64_t M = 1 + rn(rn(2) ? 3 : 9), N = 1 + rn(rn(2) ? 3 : 9), K = 1 + rn(rn(2) ? 3 : 9);
        const int64_t nb0 = 1 + rn(3), nb1 = 1 + rn(3);
        const bool shared = rn(2); /* B: batch dims of extent 1 (broadcast), else the output's */
        const int64_t nc[4] = {nb0, nb1, M, N}, na[4] = {nb0, nb1, ta ? K : M, ta ? M : K};
        const int64_t nbv[4] = {shared ? 1 : nb0, shared ? 1 : nb1, tb ? N : K, tb ? K : N};
        hwa__gpu_view v[3];
        const int64_t sc = random_view(&v[0], nc, plain), sa = random_view(&v[1], na, plain);
        const int64_t sb = random_view(&v[2], nbv, plain);
        float *C = calloc((size_t)sc, 4), *A = malloc((size_t)sa * 4), *B = malloc((size_t)sb * 4);
        CHECK(C && A && B);
        for (int64_t i = 0; i < sa; i++) A[i] = (float)(rn(19) - 9);
        for (int64_t i = 0; i < sb; i++) B[i] = (float)(rn(19) - 9);
        const hwa__gpu_mem m[3] = {C, A, B};
        gemm g;
        const bool ok = gemm_of(v, m, ta, tb, &g);
        CHECK_MSG(ok || !plain, "a plain product declined: ta %d tb %d M %ld N %ld K %ld batch %ld x %ld", ta, tb,
                  (long)M, (long)N, (long)K, (long)nb0, (long)nb1);
        if (ok) {
            taken++;
            folded += nb0 * nb1 > 1 && g.batch == 1;
            strided += g.batch > 1;
            CHECK(!g.d.trans && g.x.ld >= g.x.rows && g.y.ld >= g.y.rows && g.d.ld >= g.d.rows);
            CHECK_MSG(!(plain && shared && !ta && nb0 * nb1 > 1) || g.batch == 1, "a shared B not folded");
            lt_product(&g);
            for (int64_t i0 = 0; i0 < nb0; i0++)
                for (int64_t i1 = 0; i1 < nb1; i1++)
                    for (int64_t r = 0; r < M; r++)
                        for (int64_t c = 0; c < N; c++) {
                            float s = 0.0f;
                            for (int64_t k = 0; k < K; k++)
                                s += (ta ? at4(A, &v[1], i0, i1, k, r) : at4(A, &v[1], i0, i1, r, k)) *
                                     (tb ? at4(B, &v[2], i0, i1, c, k) : at4(B, &v[2], i0, i1, k, c));
                            CHECK_MSG(at4(C, &v[0], i0, i1, r, c) == s,
                                      "iteration %d: C[%ld,%ld,%ld,%ld] = %g, want %g (ta %d tb %d)", iter, (long)i0,
                                      (long)i1, (long)r, (long)c, at4(C, &v[0], i0, i1, r, c), s, ta, tb);
                        }
        }
        free(A), free(B), free(C);
    }
    CHECK(taken > 1000 && folded > 0 && strided > 0);
}

/* ---- row ops and attention through hwa__cu_fast_run ------------------------- */

/* A state for the host side alone: no cuBLASLt handle, a host workspace. */
static hwa__cu_fast *host_state(void) {
    hwa__cu_fast *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->n_sm = 132;
    f->smem_optin = 227 * 1024;
    f->ws = malloc(WORKSPACE_BYTES);
    const char *kernel;
    if (!f->ws || hwa__cu_kernels_init(f->smem_optin, &kernel)) {
        free(f->ws);
        free(f);
        return NULL;
    }
    return f;
}
static void host_state_free(hwa__cu_fast *f) {
    free(f->ws);
    free(f);
}

static float ld_any(const void *p, int dt, int64_t i) { return hwa__load_f32(p, (hwa_dtype)dt, i); }
static double tol_of(int dt) { return dt == HWA_F32 ? 4e-5 : dt == HWA_F16 ? 4e-3 : 3e-2; }

/* [B, H, T, D] stored as such, or as [B, T, H, D], from element off */
static hwa__gpu_view bhtd(int64_t B, int64_t H, int64_t T, int64_t D, bool permuted, int64_t off, int dt) {
    hwa__gpu_view v;
    memset(&v, 0, sizeof v);
    v.ne[0] = B, v.ne[1] = H, v.ne[2] = T, v.ne[3] = D;
    v.st[0] = H * T * D, v.st[1] = permuted ? D : T * D, v.st[2] = permuted ? H * D : D, v.st[3] = 1;
    v.off = off;
    v.dt = dt;
    return v;
}
static int64_t at_v(const hwa__gpu_view *v, int64_t b, int64_t h, int64_t i, int64_t c) {
    return v->off + b * v->st[0] + h * v->st[1] + i * v->st[2] + c * v->st[3];
}
static void *filled(const hwa__gpu_view *v, float scale, float shift) {
    const int64_t n = v->off + v->ne[0] * v->st[0];
    void *p = malloc((size_t)n * 4);
    for (int64_t i = 0; p && i < n; i++) hwa__store_f32(p, (hwa_dtype)v->dt, i, scale * rnd() + shift);
    return p;
}

/* The row op t over [2, R, n] rows of x (rows n + 3 apart, from element 9)
 * into y (contiguous, from element 1): the kernel named want runs it. */
static void check_rows(hwa__cu_fast *f, hwa_op op, int dt, int64_t R, int64_t n, const char *want) {
    hwa__gpu_view v[2];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 2; i++) {
        v[i].ne[0] = 1, v[i].ne[1] = 2, v[i].ne[2] = R, v[i].ne[3] = n;
        v[i].st[3] = 1, v[i].st[2] = n + (i ? 3 : 0), v[i].st[1] = R * v[i].st[2], v[i].st[0] = 2 * v[i].st[1];
        v[i].off = i ? 9 : 1;
        v[i].dt = dt;
    }
    void *y = filled(&v[0], 0, 0), *x = filled(&v[1], 2, 0.5f);
    CHECK(x && y);
    hwa_tensor t;
    memset(&t, 0, sizeof t);
    t.op = op;
    t.p.f[0] = 1e-5f;
    const hwa__gpu_mem m[2] = {y, x};
    const char *name = NULL;
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(name && !strcmp(name, want), "%s ran on %s, want %s", hwa__op_name(op), name ? name : "nothing", want);
    for (int64_t r = 0; r < 2 * R; r++) {
        const int64_t xo = v[1].off + r * v[1].st[2], yo = v[0].off + r * v[0].st[2];
        double mx = -INFINITY, s = 0, se = 0, q = 0;
        for (int64_t j = 0; j < n; j++) mx = fmax(mx, ld_any(x, dt, xo + j)), s += ld_any(x, dt, xo + j);
        const double mean = s / (double)n;
        for (int64_t j = 0; j < n; j++) {
            const double e = ld_any(x, dt, xo + j);
            se += exp(e - mx);
            q += op == HWA_OP_NORM ? (e - mean) * (e - mean) : e * e;
        }
        const double rs = 1.0 / sqrt(q / (double)n + 1e-5);
        for (int64_t j = 0; j < n; j++) {
            const double e = ld_any(x, dt, xo + j), got = ld_any(y, dt, yo + j);
            const double w = op == HWA_OP_SOFTMAX       ? exp(e - mx) / se
                             : op == HWA_OP_LOG_SOFTMAX ? e - mx - log(se)
                             : op == HWA_OP_NORM        ? (e - mean) * rs
                                                        : e * rs;
            CHECK_MSG(fabs(got - w) <= tol_of(dt) * (1 + fabs(w)), "%s dt %d: row %ld [%ld] = %g, want %g",
                      hwa__op_name(op), dt, (long)r, (long)j, got, w);
        }
    }
    free(x), free(y);
}

/* ATTENTION (scale <= 0: 1/sqrt(D)) on views that start past element 0,
 * q and the output stored [B, T, H, D] when permuted, v the other way. */
static void check_attention(hwa__cu_fast *f, int dt, int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk,
                            int64_t D, int64_t Dv, bool causal, bool permuted, float scale, const char *want) {
    hwa__gpu_view v[4] = {bhtd(B, Hq, Tq, Dv, permuted, 3, dt), bhtd(B, Hq, Tq, D, permuted, 5, dt),
                          bhtd(B, Hkv, Tk, D, permuted, 0, dt), bhtd(B, Hkv, Tk, Dv, !permuted, 7, dt)};
    void *p[4];
    for (int i = 0; i < 4; i++) p[i] = filled(&v[i], i == 3 ? 3 : 1, 0);
    CHECK(p[0] && p[1] && p[2] && p[3]);
    hwa_tensor t;
    memset(&t, 0, sizeof t);
    t.op = HWA_OP_ATTENTION;
    t.p.f[0] = scale;
    t.p.i[0] = causal;
    const hwa__gpu_mem m[4] = {p[0], p[1], p[2], p[3]};
    const char *name = NULL;
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(name && !strcmp(name, want), "attention ran on %s, want %s", name ? name : "nothing", want);
    const double sc = scale > 0 ? scale : 1.0 / sqrt((double)D);
    double *pr = malloc(sizeof(double) * (size_t)Tk);
    CHECK(pr);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Tq; i++) {
                int64_t seen = causal ? Tk - Tq + i + 1 : Tk;
                seen = seen < 0 ? 0 : seen > Tk ? Tk : seen;
                const int64_t kh = h / (Hq / Hkv);
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < seen; j++) {
                    double s = 0;
                    for (int64_t c = 0; c < D; c++)
                        s += (double)ld_any(p[1], dt, at_v(&v[1], b, h, i, c)) * ld_any(p[2], dt, at_v(&v[2], b, kh, j, c));
                    pr[j] = s * sc;
                    mx = fmax(mx, pr[j]);
                }
                for (int64_t j = 0; j < seen; j++) sum += pr[j] = exp(pr[j] - mx);
                for (int64_t c = 0; c < Dv; c++) {
                    double w = 0;
                    for (int64_t j = 0; j < seen; j++) w += pr[j] / sum * ld_any(p[3], dt, at_v(&v[3], b, kh, j, c));
                    const double got = ld_any(p[0], dt, at_v(&v[0], b, h, i, c));
                    CHECK_MSG(fabs(got - w) <= tol_of(dt) * (1 + fabs(w)), "%s dt %d: out[%ld,%ld,%ld,%ld] = %g, want %g",
                              want, dt, (long)b, (long)h, (long)i, (long)c, got, w);
                }
            }
    free(pr);
    for (int i = 0; i < 4; i++) free(p[i]);
}

TEST(fast_run_takes_row_ops_on_strided_rows) {
    hwa__cu_fast *f = host_state();
    CHECK(f);
    for (int dt = 0; dt < 3; dt++) {
        check_rows(f, HWA_OP_SOFTMAX, dt, 3, 10, "cuda:warp_rows");
        check_rows(f, HWA_OP_LOG_SOFTMAX, dt, 2, 1500, "cuda:block_rows");
        check_rows(f, HWA_OP_NORM, dt, 3, 300, "cuda:warp_rows");
        check_rows(f, HWA_OP_RMS_NORM, dt, 3, 64, "cuda:warp_rows");
    }
    host_state_free(f);
}

/* Prefill on flash attention, decode (Tq 1) on split-K: the chunk count
 * from the device's size and the cache's length (Tk 5000: 79 chunks). */
TEST(fast_run_takes_attention_on_views_with_offsets_and_permutations) {
    hwa__cu_fast *f = host_state();
    CHECK(f);
    check_attention(f, HWA_F32, 1, 4, 2, 19, 45, 32, 24, true, true, 0.0f, "cuda:flash_attention");
    check_attention(f, HWA_BF16, 2, 2, 1, 18, 18, 64, 64, true, false, 0.3f, "cuda:flash_attention");
    check_attention(f, HWA_F32, 1, 2, 1, 1, 5000, 64, 64, true, true, 0.0f, "cuda:attention_splitk");
    check_attention(f, HWA_F16, 3, 4, 4, 1, 300, 128, 128, false, false, 0.0f, "cuda:attention_splitk");
    check_attention(f, HWA_F32, 1, 1, 1, 1, 1, 8, 8, true, false, 0.0f, "cuda:attention_splitk");
    host_state_free(f);
}

/* What the fast paths leave to the portable kernels: *name stays NULL and
 * nothing fails. */
TEST(fast_run_declines_what_it_does_not_take) {
    hwa__cu_fast *f = host_state();
    CHECK(f);
    hwa_tensor t;
    memset(&t, 0, sizeof t);
    t.op = HWA_OP_ATTENTION;
    const hwa__gpu_mem m[4] = {f->ws, f->ws, f->ws, f->ws};
    const char *name = "x";
    hwa__gpu_view v[4];
    v[0] = v[1] = v[2] = v[3] = bhtd(1, 1, 2, 300, false, 0, HWA_F32);
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(!name, "heads of 300 taken by %s", name);
    v[0] = v[1] = v[2] = v[3] = bhtd(1, 1, 2, 30, false, 0, HWA_F32);
    v[2].dt = HWA_F16;
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(!name, "mixed dtypes taken by %s", name);
    v[2].dt = HWA_F32;
    v[1].st[3] = 2;
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(!name, "a strided head taken by %s", name);
    t.op = HWA_OP_SOFTMAX_BACK;
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(!name, "softmax_back taken by %s", name);
    t.op = HWA_OP_MATMUL;
    v[0] = v[1] = v[2] = bhtd(1, 1, 4, 4, false, 0, HWA_F32);
    v[2].dt = HWA_BF16;
    CHECK_OK(hwa__cu_fast_run(f, NULL, "cuda:0", &t, v, m, HWA_MATMUL_PRECISION_F32, &name));
    CHECK_MSG(!name, "a mixed product taken by %s", name);
    host_state_free(f);
}
