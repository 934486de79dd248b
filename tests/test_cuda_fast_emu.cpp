/* The CUDA backend's CUDA-only kernels (src/backends/cuda/cuda_fast.cu: row
 * ops, flash and split-K attention) run on the CPU through the emulation in
 * tests/cuda_emu/, against references computed here in double from the op
 * table's definitions. This checks their logic (indexing, masks, online
 * softmax, reductions, barriers) on machines with no GPU; on a GPU the
 * differential harness (test_backend_ops) checks them through the backend.
 * Nothing here is timed. */
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" {
#include "harness.h"
}

#include "backends/cuda/cuda_fast.cu"

namespace {

/* deterministic data in [-1, 1) */
uint64_t rng_state = 0x9e3779b97f4a7c15ull;
float rnd() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) % 2000000) / 1000000.0f - 1.0f;
}

/* A buffer of n elements of dtype dt, read and written through f32 with the
 * kernels' own conversions. */
struct buf {
    int dt;
    std::vector<char> b;
    buf(int d, int64_t n) : dt(d), b((size_t)n * (d == HWA__CU_F32 ? 4 : 2)) {}
    float get(int64_t i) const { return hwa_ld(b.data(), dt, i); }
    void set(int64_t i, float v) { hwa_st(b.data(), dt, i, v); }
    void *p() { return b.data(); }
};

/* Relative to the output's rounding: the inputs are the same stored values
 * in the kernel and the reference, so only the arithmetic differs. */
double tol_of(int dt) { return dt == HWA__CU_F32 ? 3e-5 : dt == HWA__CU_F16 ? 3e-3 : 2e-2; }
bool close(double got, double want, int dt) { return std::fabs(got - want) <= tol_of(dt) * (1.0 + std::fabs(want)); }

const char *const row_ops[] = {"softmax", "log_softmax", "norm", "rms_norm"};

/* One row op over [2, 3, n] rows (x's rows n + pad apart, y contiguous, or
 * y = x); the first mismatch, or "" when every element matches. */
std::string run_rows(int op, int dt, int64_t n, int64_t pad, bool in_place) {
    const int64_t ne1 = 2, ne2 = 3, rows = ne1 * ne2, xr = n + pad;
    buf x(dt, rows * xr), y(dt, rows * n);
    for (int64_t i = 0; i < rows * xr; i++) x.set(i, 3 * rnd() + (op >= HWA__CU_NORM ? 1.0f : 0.0f));
    const buf x0 = x;
    hwa__cu_rows a{};
    a.x = x.p();
    a.y = in_place ? x.p() : y.p();
    a.rows = rows, a.n = n, a.ne1 = ne1, a.ne2 = ne2;
    a.xs[2] = xr, a.xs[1] = ne2 * xr, a.xs[0] = ne1 * ne2 * xr;
    a.ys[2] = in_place ? xr : n, a.ys[1] = ne2 * a.ys[2], a.ys[0] = ne1 * a.ys[1];
    a.eps = 1e-5f, a.op = op, a.dt = dt;
    const char *kernel = "?";
    char msg[256];
    const int e = hwa__cu_rows_launch(&a, nullptr, &kernel);
    if (e) return snprintf(msg, sizeof msg, "%s: launch error %d", kernel, e), msg;
    for (int64_t r = 0; r < rows; r++) {
        std::vector<double> v((size_t)n);
        double mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < n; j++) {
            v[j] = x0.get(r * xr + j);
            mx = std::fmax(mx, v[j]);
            s += v[j];
        }
        const double mean = s / (double)n;
        double se = 0, q = 0;
        for (int64_t j = 0; j < n; j++) {
            se += std::exp(v[j] - mx);
            q += op == HWA__CU_NORM ? (v[j] - mean) * (v[j] - mean) : v[j] * v[j];
        }
        const double rs = 1.0 / std::sqrt(q / (double)n + 1e-5);
        for (int64_t j = 0; j < n; j++) {
            const double want = op == HWA__CU_SOFTMAX       ? std::exp(v[j] - mx) / se
                                : op == HWA__CU_LOG_SOFTMAX ? v[j] - mx - std::log(se)
                                : op == HWA__CU_NORM        ? (v[j] - mean) * rs
                                                            : v[j] * rs;
            const double got = in_place ? x.get(r * xr + j) : y.get(r * n + j);
            if (!close(got, want, dt))
                return snprintf(msg, sizeof msg, "%s %s dt %d n %ld: row %ld [%ld] = %.7g, want %.7g", kernel,
                                row_ops[op], dt, (long)n, (long)r, (long)j, got, want),
                       msg;
        }
        for (int64_t j = n; in_place && j < xr; j++)
            if (x.get(r * xr + j) != x0.get(r * xr + j))
                return snprintf(msg, sizeof msg, "%s wrote the gap after row %ld", kernel, (long)r), msg;
    }
    return "";
}

/* A [B, H, T, D] tensor stored as such, or as [B, T, H, D] (permuted). */
struct t4 {
    int64_t ne[4], st[4];
    t4(int64_t B, int64_t H, int64_t T, int64_t D, bool permuted) : ne{B, H, T, D}, st{H * T * D, 0, 0, 1} {
        st[1] = permuted ? D : T * D;
        st[2] = permuted ? H * D : D;
    }
    int64_t at(int64_t b, int64_t h, int64_t i, int64_t c) const { return b * st[0] + h * st[1] + i * st[2] + c; }
    int64_t size() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

struct attn_case {
    int dt;
    int64_t B, Hq, Hkv, Tq, Tk, D, Dv;
    bool causal, permuted;
    int n_split; /* 0: flash attention; else split-K over this many chunks at most */
};

/* One attention, checked against the op table's definition; the first
 * mismatch, or "". */
std::string run_attention(const attn_case &c) {
    const t4 q(c.B, c.Hq, c.Tq, c.D, c.permuted), k(c.B, c.Hkv, c.Tk, c.D, c.permuted);
    const t4 v(c.B, c.Hkv, c.Tk, c.Dv, !c.permuted), o(c.B, c.Hq, c.Tq, c.Dv, c.permuted);
    buf qb(c.dt, q.size()), kb(c.dt, k.size()), vb(c.dt, v.size()), ob(c.dt, o.size());
    for (int64_t i = 0; i < q.size(); i++) qb.set(i, rnd());
    for (int64_t i = 0; i < k.size(); i++) kb.set(i, rnd());
    for (int64_t i = 0; i < v.size(); i++) vb.set(i, 3 * rnd());
    for (int64_t i = 0; i < o.size(); i++) ob.set(i, NAN);
    hwa__cu_attn a{};
    a.q = qb.p(), a.k = kb.p(), a.v = vb.p(), a.o = ob.p();
    a.B = c.B, a.Hq = c.Hq, a.Hkv = c.Hkv, a.Tq = c.Tq, a.Tk = c.Tk, a.D = c.D, a.Dv = c.Dv;
    for (int d = 0; d < 3; d++) a.qs[d] = q.st[d], a.ks[d] = k.st[d], a.vs[d] = v.st[d], a.os[d] = o.st[d];
    a.scale = (float)(1.0 / std::sqrt((double)c.D));
    a.causal = c.causal;
    a.dt = c.dt;
    std::vector<float> part;
    const char *kernel = "?";
    char msg[320];
    int e;
    if (c.n_split) {
        a.chunk = (c.Tk + c.n_split - 1) / c.n_split;
        a.n_split = (int)((c.Tk + a.chunk - 1) / a.chunk);
        part.assign((size_t)(c.B * c.Hq * a.n_split * (c.Dv + 2)), NAN);
        a.part = part.data();
        e = hwa__cu_attention_splitk(&a, nullptr, &kernel);
    } else {
        e = hwa__cu_flash_attention(&a, nullptr, &kernel);
    }
    if (e) return snprintf(msg, sizeof msg, "%s: launch error %d", kernel, e), msg;
    const int64_t group = c.Hq / c.Hkv;
    for (int64_t b = 0; b < c.B; b++)
        for (int64_t h = 0; h < c.Hq; h++)
            for (int64_t i = 0; i < c.Tq; i++) {
                int64_t seen = c.causal ? c.Tk - c.Tq + i + 1 : c.Tk;
                seen = seen < 0 ? 0 : seen > c.Tk ? c.Tk : seen;
                std::vector<double> p((size_t)seen);
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < seen; j++) {
                    double s = 0;
                    for (int64_t x = 0; x < c.D; x++) s += (double)qb.get(q.at(b, h, i, x)) * kb.get(k.at(b, h / group, j, x));
                    p[j] = s * a.scale;
                    mx = std::fmax(mx, p[j]);
                }
                for (auto &x : p) sum += x = std::exp(x - mx);
                for (int64_t x = 0; x < c.Dv; x++) {
                    double want = 0;
                    for (int64_t j = 0; j < seen; j++) want += p[j] / sum * vb.get(v.at(b, h / group, j, x));
                    const double got = ob.get(o.at(b, h, i, x));
                    if (!close(got, want, c.dt))
                        return snprintf(msg, sizeof msg,
                                        "%s dt %d [B %ld Hq %ld Hkv %ld Tq %ld Tk %ld D %ld Dv %ld causal %d]: "
                                        "out[%ld,%ld,%ld,%ld] = %.7g, want %.7g",
                                        kernel, c.dt, (long)c.B, (long)c.Hq, (long)c.Hkv, (long)c.Tq, (long)c.Tk,
                                        (long)c.D, (long)c.Dv, (int)c.causal, (long)b, (long)h, (long)i, (long)x, got,
                                        want),
                               msg;
                }
            }
    return "";
}

void kernels_init() {
    static bool done = false;
    const char *kernel = "?";
    if (!done) hwa__cu_kernels_init(HWA_EMU_SMEM_OPTIN, &kernel);
    done = true;
}

} // namespace

/* Widths around every warp instance's bound (32 to 1024 per row) and past
 * it (the block kernel), rows apart or in place, for every dtype. */
TEST(row_ops_match_their_definitions) {
    const int64_t widths[] = {1, 31, 32, 33, 64, 100, 256, 257, 700, 1024, 1025, 2500};
    for (int dt = 0; dt < 3; dt++)
        for (int op = 0; op < 4; op++)
            for (int64_t n : widths) {
                const std::string m = run_rows(op, dt, n, n % 3, n == 2500 || n == 33);
                CHECK_MSG(m.empty(), "%s", m.c_str());
            }
}

TEST(flash_attention_matches_the_definition) {
    kernels_init();
    const attn_case cases[] = {
        {HWA__CU_F32, 1, 2, 1, 20, 40, 16, 16, false, false, 0},
        {HWA__CU_F32, 1, 2, 1, 20, 40, 16, 16, true, false, 0},
        {HWA__CU_F32, 2, 4, 2, 33, 33, 64, 32, true, true, 0},  /* GQA, permuted views, Dv < D */
        {HWA__CU_F32, 1, 2, 2, 40, 10, 8, 8, true, false, 0},   /* Tq > Tk: the first queries see no key */
        {HWA__CU_F32, 1, 1, 1, 17, 70, 1, 1, true, false, 0},   /* D = 1 */
        {HWA__CU_F32, 1, 3, 1, 5, 100, 256, 256, true, true, 0}, /* the widest heads: 84 KiB of shared memory */
        {HWA__CU_F32, 1, 1, 1, 3, 65, 100, 200, false, false, 0},
        {HWA__CU_F32, 1, 4, 1, 70, 70, 32, 32, true, false, 0},  /* several query blocks and key tiles */
        {HWA__CU_F16, 1, 2, 1, 20, 50, 128, 128, true, false, 0},
        {HWA__CU_BF16, 1, 2, 1, 20, 50, 128, 96, true, false, 0},
    };
    for (const attn_case &c : cases) {
        const std::string m = run_attention(c);
        CHECK_MSG(m.empty(), "%s", m.c_str());
    }
}

TEST(split_k_attention_matches_the_definition) {
    const attn_case cases[] = {
        {HWA__CU_F32, 2, 4, 2, 1, 300, 64, 64, true, false, 1},
        {HWA__CU_F32, 2, 4, 2, 1, 300, 64, 64, true, false, 7},
        {HWA__CU_F32, 1, 2, 1, 1, 1, 16, 16, true, false, 1},   /* one key */
        {HWA__CU_F32, 1, 2, 1, 1, 5, 16, 16, false, true, 4},   /* chunks of 2, 2, 1 */
        {HWA__CU_F32, 1, 1, 1, 1, 77, 256, 256, false, true, 5},
        {HWA__CU_F32, 1, 2, 2, 1, 50, 33, 200, false, false, 2},
        {HWA__CU_F16, 1, 2, 1, 1, 130, 128, 128, true, false, 3},
        {HWA__CU_BF16, 1, 2, 1, 1, 130, 128, 128, true, false, 3},
    };
    for (const attn_case &c : cases) {
        const std::string m = run_attention(c);
        CHECK_MSG(m.empty(), "%s", m.c_str());
    }
}

/* The widest heads need more than the 48 KiB a block gets by default:
 * without the opt-in of hwa__cu_kernels_init the launch fails (as on a
 * GPU), with it the kernel runs. */
TEST(flash_attention_opts_in_to_the_shared_memory_it_needs) {
    CHECK(hwa__cu_flash_smem(256, 256) > 48 * 1024);
    CHECK(hwa__cu_flash_smem(256, 256) <= HWA_EMU_SMEM_OPTIN);
    const attn_case c = {HWA__CU_BF16, 1, 1, 1, 2, 3, 256, 256, false, false, 0};
    hwa_emu_smem_attr.clear();
    const std::string refused = run_attention(c);
    CHECK_MSG(refused.find("launch error") != std::string::npos, "without the opt-in: '%s'", refused.c_str());
    const char *kernel = "?";
    CHECK_INT_EQ(hwa__cu_kernels_init(HWA_EMU_SMEM_OPTIN, &kernel), 0);
    const std::string m = run_attention(c);
    CHECK_MSG(m.empty(), "%s", m.c_str());
}
