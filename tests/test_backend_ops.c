/* The differential test of the CPU backend's kernels (ggml's
 * test-backend-ops is the model): every case (op x dtype x shape, with
 * contiguous and non-contiguous inputs) runs on every kernel variant this
 * host supports (ISA level x matmul provider x matmul precision) and is
 * compared with the scalar reference kernels by normalised mean squared
 * error, with a tolerance per case. Every buffer is allocated with guard
 * bytes on both sides that are checked when it is freed, to catch kernels
 * that write outside their tensors. Combinations the host cannot run are
 * printed as skipped. */
#include <stdlib.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/matmul/mm.h"
#include "core/internal.h"
#include "harness.h"

/* ---- guarded allocator ------------------------------------------------- */

#define GUARD 64
static long guard_violations;

static void *guarded_alloc(void *ud, size_t size, size_t align) {
    unsigned char *p = aligned_alloc(GUARD, GUARD + ((size + GUARD - 1) / GUARD) * GUARD + GUARD);
    if (!p) return NULL;
    const size_t padded = ((size + GUARD - 1) / GUARD) * GUARD;
    memcpy(p, &size, sizeof size);
    memset(p + sizeof size, 0xA5, GUARD - sizeof size);
    /* all NaNs: a kernel that leaves part of its result unwritten cannot
     * pass on what a freed buffer of an earlier run left there */
    memset(p + GUARD, 0xFF, size);
    memset(p + GUARD + size, 0xA5, padded - size + GUARD);
    return p + GUARD;
}

static void guarded_free(void *ud, void *ptr) {
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - GUARD;
    size_t size;
    memcpy(&size, p, sizeof size);
    const size_t padded = ((size + GUARD - 1) / GUARD) * GUARD;
    for (size_t i = sizeof size; i < GUARD; i++) guard_violations += p[i] != 0xA5;
    for (size_t i = GUARD + size; i < GUARD + padded + GUARD; i++) guard_violations += p[i] != 0xA5;
    free(p);
}

static const hwa_allocator guarded = {guarded_alloc, guarded_free, NULL};

/* ---- cases ------------------------------------------------------------- */

enum { V_NONE = 0, V_TRANSPOSED = 1, V_SLICED = 2 }; /* how an input is made */

typedef struct tcase {
    const char *name;
    int nin;
    int ndim[3];
    int64_t shape[3][4];
    int view[3];
    hwa_dtype dtype[3];
    /* builds the result from the inputs (extra: the op's parameter) */
    hwa_tensor *(*build)(hwa_ctx *ctx, hwa_tensor **in, const struct tcase *c);
    int op;          /* an op code, for builders that take one */
    double tol;      /* NMSE tolerance for f32 precision */
    bool backward;   /* also compare the gradients of every input */
    bool matmul;     /* varies with the matmul provider */
} tcase;

static hwa_tensor *b_binary(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    switch (c->op) {
    case HWA_OP_ADD: return hwa_add(ctx, in[0], in[1]);
    case HWA_OP_SUB: return hwa_sub(ctx, in[0], in[1]);
    case HWA_OP_MUL: return hwa_mul(ctx, in[0], in[1]);
    default: return hwa_div(ctx, in[0], hwa_add(ctx, hwa_mul(ctx, in[1], in[1]), in[1])); /* keep |b| away from 0 */
    }
}

/* SUM_TO down to one value per plane: [1, C, 1, 1] (op 0, a bias's
 * gradient), [N, C, 1, 1] (op 1) or [1, C, H, 1] (op 2, a plane of one row
 * length: not a plane reduction for the fast path). */
static hwa_tensor *b_sum_planes(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    int64_t sh[4];
    for (int d = 0; d < 4; d++) sh[d] = hwa_tensor_dim(in[0], d);
    if (c->op == 0) sh[0] = sh[2] = sh[3] = 1;
    else if (c->op == 1) sh[2] = sh[3] = 1;
    else sh[0] = sh[3] = 1;
    return hwa_reduce_to(ctx, in[0], 4, sh, false);
}

static hwa_tensor *b_unary(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    hwa_tensor *x = hwa_scale(ctx, in[0], 4.0f); /* reach the activations' tails */
    switch (c->op) {
    case HWA_OP_RELU: return hwa_relu(ctx, x);
    case HWA_OP_GELU: return hwa_gelu(ctx, x);
    case HWA_OP_SILU: return hwa_silu(ctx, x);
    case HWA_OP_SIGMOID: return hwa_sigmoid(ctx, x);
    case HWA_OP_TANH: return hwa_tanh(ctx, x);
    case HWA_OP_SOFTMAX: return hwa_softmax(ctx, x);
    case HWA_OP_LOG_SOFTMAX: return hwa_log_softmax(ctx, x);
    case HWA_OP_NORM: return hwa_layernorm(ctx, x, NULL, NULL, 1e-5f);
    case HWA_OP_RMS_NORM: return hwa_rmsnorm(ctx, x, NULL, 1e-5f);
    case HWA_OP_SUM_TO: return hwa_sum_dim(ctx, x, c->ndim[0] - 2);
    default: return hwa_sum_dim(ctx, x, -1);
    }
}

static hwa_tensor *b_cast(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    return hwa_cast(ctx, hwa_cast(ctx, in[0], (hwa_dtype)c->op), HWA_F32);
}

static hwa_tensor *b_matmul(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    return hwa_matmul_ex(ctx, in[0], in[1], false, c->op != 0);
}

/* Linear + bias (+ relu/gelu): the pattern the backend fuses. */
static hwa_tensor *b_linear(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    hwa_tensor *y = hwa_bias_add(ctx, hwa_matmul_ex(ctx, in[0], in[1], false, true), in[2]);
    return c->op == HWA_OP_RELU ? hwa_relu(ctx, y) : c->op == HWA_OP_GELU ? hwa_gelu(ctx, y) : y;
}

/* A layer of an MLP with a softmax on top: the gradients exercise the
 * backward ops. The rows' softmax, not its mean: every row of a softmax sums
 * to one, so the mean's gradient is zero and would compare rounding noise. */
static hwa_tensor *b_mlp(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    hwa_tensor *h = hwa_gelu(ctx, hwa_bias_add(ctx, hwa_matmul_ex(ctx, in[0], in[1], false, true), in[2]));
    return hwa_softmax(ctx, h);
}

/* Optimizer updates (c->op: one of UPD_*) of parameter in[0] with gradient
 * in[1], state from in[2] (squared: second moments are never negative) and
 * the sum of squares of in[1] for clipping. The update writes in[0] in
 * place, so the second run of a case updates the result of the first. */
enum { UPD_ADAM, UPD_ADAMW_CLIP, UPD_SGD, UPD_MOMENTUM_WD, UPD_NESTEROV_CLIP };

static hwa_tensor *b_update(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    const bool adam = c->op == UPD_ADAM || c->op == UPD_ADAMW_CLIP;
    const bool clip = c->op == UPD_ADAMW_CLIP || c->op == UPD_NESTEROV_CLIP;
    hwa_op_params p = {0};
    if (adam) {
        /* lr, betas, eps, wd, max norm, 1 - b1^3, sqrt(1 - b2^3) */
        const float f[8] = {1e-2f, 0.9f, 0.999f, 1e-8f, c->op == UPD_ADAMW_CLIP ? 0.1f : 0.0f, clip ? 0.5f : 0.0f,
                            0.271f, 0.0547449f};
        memcpy(p.f, f, sizeof f);
        p.i[0] = c->op == UPD_ADAMW_CLIP;
    } else {
        p.f[0] = 0.05f, p.f[1] = 0.9f, p.f[2] = c->op == UPD_MOMENTUM_WD ? 0.01f : 0.0f, p.f[3] = clip ? 0.5f : 0.0f;
        p.i[0] = c->op != UPD_SGD, p.i[1] = c->op == UPD_NESTEROV_CLIP;
    }
    hwa_tensor *ss = hwa__op_new(ctx, HWA_OP_SUM_SQ, (hwa_tensor *[]){in[1]}, NULL, HWA_F32, 0, NULL);
    hwa_tensor *state = hwa_mul(ctx, in[2], in[2]);
    const hwa_op op = adam ? HWA_OP_ADAM_UPDATE : HWA_OP_SGD_UPDATE;
    hwa_tensor *t = ss && state ? hwa__op_new(ctx, op, (hwa_tensor *[]){in[0], in[1], ss, state}, &p, HWA_F32, 0, NULL)
                                : NULL;
    if (t) {
        t->flags |= HWA_TF_INPLACE;
        t->view_src = in[0];
        t->view_offs = 0;
    }
    return t;
}

/* The sum of squares alone. */
static hwa_tensor *b_sum_sq(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    return hwa__op_new(ctx, HWA_OP_SUM_SQ, (hwa_tensor *[]){in[0]}, NULL, HWA_F32, 0, NULL);
}

/* Attention over a slice of KV caches, as a decode or prefill step reads
 * them: in[0] q [B,Hq,Tq,D] (or, with ATTN_Q_BTHD, [B,Tq,Hq,D] permuted as
 * llama.c does), in[1] / in[2] the caches [B,Hkv,n_ctx,D|Dv], of which the
 * first ATTN_TK(op) positions are read: rows contiguous along D, strided
 * along the rest. */
#define ATTN_CAUSAL 1
#define ATTN_Q_BTHD 2
#define ATTN_OP(tk, flags) ((tk) * 4 + (flags))
#define ATTN_TK(op) ((op) / 4)
static hwa_tensor *b_attention(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    static const int bthd[4] = {0, 2, 1, 3};
    hwa_tensor *q = c->op & ATTN_Q_BTHD ? hwa_permute(ctx, in[0], bthd) : in[0];
    hwa_tensor *k = hwa_slice(ctx, in[1], 2, 0, ATTN_TK(c->op)), *v = hwa_slice(ctx, in[2], 2, 0, ATTN_TK(c->op));
    return hwa_attention(ctx, q, k, v, (c->op & ATTN_CAUSAL) != 0, 0.0f);
}

/* The cache ops at run-time indices: at [B, 2] (filled by fill_at once the
 * leaves have storage) gives row b the sequence C-1-b and the position
 * (5 + 7b) mod (T - n + 1). c->op 0: in[1] [B,H,n,D] written into the
 * caches in[0] [C,H,T,D] (1: in[1] [B,n,H,D] permuted, a strided view),
 * read back through an op that sees the whole cache; 2: in[0] q [B,Hq,n,D]
 * attending to the caches in[1], in[2]. */
static hwa_tensor *case_at;
static int64_t case_at_T, case_at_n;
static hwa_tensor *b_cache(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    static const int swap12[4] = {0, 2, 1, 3};
    const hwa_tensor *cache = c->op == 2 ? in[1] : in[0];
    hwa_tensor *x = c->op == 1 ? hwa_permute(ctx, in[1], swap12) : c->op == 2 ? in[0] : in[1];
    case_at = hwa_tensor_new_2d(ctx, HWA_I32, hwa_tensor_dim(x, 0), 2);
    case_at_T = hwa_tensor_dim(cache, 2);
    case_at_n = hwa_tensor_dim(x, 2);
    if (c->op == 2) return hwa_cache_attention(ctx, x, in[1], in[2], case_at, 0.0f);
    hwa_tensor *w = hwa_cache_write(ctx, in[0], x, case_at);
    return w ? hwa_add(ctx, w, w) : NULL;
}

static hwa_status fill_at(hwa_tensor *at) {
    const int64_t B = hwa_tensor_dim(at, 0);
    int32_t v[64];
    if (B > 32) return HWA_E_INTERNAL;
    for (int64_t b = 0; b < B; b++) {
        v[2 * b] = (int32_t)(B + 1 - b); /* every case has C = B + 2 */
        v[2 * b + 1] = (int32_t)((5 + 7 * b) % (case_at_T - case_at_n + 1));
    }
    return hwa_tensor_set_bytes(at, v, (size_t)(2 * B) * sizeof *v);
}

/* The positions of the case being built, filled once the leaves have
 * storage (a rope case's second input is i32, not a random f32 leaf). */
static hwa_tensor *case_pos;

/* in[0] x [B,T,H,D]; positions 3t + 5; c->op the mode. */
static hwa_tensor *b_rope(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    const int64_t T = hwa_tensor_dim(in[0], -3);
    case_pos = hwa_tensor_new(ctx, HWA_I32, 1, &T);
    return hwa_rope(ctx, in[0], case_pos, 10000.0f, (hwa_rope_mode)c->op);
}

static hwa_status fill_pos(hwa_tensor *pos) {
    const int64_t T = hwa_tensor_nelements(pos);
    int32_t *p = malloc((size_t)T * sizeof *p);
    if (!p) return HWA_E_NOMEM;
    for (int64_t t = 0; t < T; t++) p[t] = (int32_t)(3 * t + 5);
    hwa_status st = hwa_tensor_set_bytes(pos, p, (size_t)T * sizeof *p);
    free(p);
    return st;
}

/* Data movement: CONT of in[0] permuted (c->op 0: [0,2,1,3], 1: [3,1,2,0],
 * the innermost dimension moved), and in[1] written into in[0] from
 * position 3 of dimension 2 (c->op 3: in[1]'s dimensions 1 and 2 swapped,
 * a strided view). */
static hwa_tensor *b_move(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    static const int swap12[4] = {0, 2, 1, 3}, swap03[4] = {3, 1, 2, 0};
    if (c->op < 2) return hwa_cont(ctx, hwa_permute(ctx, in[0], c->op ? swap03 : swap12));
    hwa_tensor *v = c->op == 3 ? hwa_permute(ctx, in[1], swap12) : in[1]; /* 3: a strided view */
    hwa_tensor *w = hwa_write_slice(ctx, in[0], 2, 3, v);
    return w ? hwa_add(ctx, w, w) : NULL; /* read back through an op that sees the whole of in[0] */
}

/* in[0] and in[1] joined along dimension c->op. */
static hwa_tensor *b_concat(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) { return hwa_concat(ctx, in[0], in[1], c->op); }

/* Cross-entropy of logits in[0] [N, C] against labels (7n + 3) mod C, and
 * the rows of table in[0] [V, D] for ids (7n + 3) mod V (c->op ids); the
 * i32 tensor is filled once the leaves have storage. */
static hwa_tensor *case_labels;
static int64_t case_labels_mod;
static hwa_tensor *b_xent(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    case_labels_mod = hwa_tensor_dim(in[0], -1);
    const int64_t N = hwa_tensor_nelements(in[0]) / case_labels_mod;
    case_labels = hwa_tensor_new(ctx, HWA_I32, 1, &N);
    return hwa_cross_entropy(ctx, in[0], case_labels);
}
static hwa_tensor *b_embed(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    case_labels_mod = hwa_tensor_dim(in[0], 0);
    const int64_t n = c->op;
    case_labels = hwa_tensor_new(ctx, HWA_I32, 1, &n);
    return hwa_embedding(ctx, in[0], case_labels);
}
static hwa_status fill_labels(hwa_tensor *labels, int64_t C) {
    const int64_t N = hwa_tensor_nelements(labels);
    int32_t *p = malloc((size_t)N * sizeof *p);
    if (!p) return HWA_E_NOMEM;
    for (int64_t n = 0; n < N; n++) p[n] = (int32_t)((7 * n + 3) % C);
    hwa_status st = hwa_tensor_set_bytes(labels, p, (size_t)N * sizeof *p);
    free(p);
    return st;
}
/* QLINEAR of x in[0] [M, K] and int8 weights [N, K] (filled once the
 * leaves have storage: every value from -128 to 127 occurs) with scales
 * in[1] [N]; c->op 0: dynamic activations, QL_STATIC: scale 2/255 and zero
 * point 128 (x in [-1, 1] fits), QL_CLIPS: 1/400 and 40 (both ends clip). */
enum { QL_DYNAMIC, QL_STATIC, QL_CLIPS };
static hwa_tensor *case_w8;
static hwa_tensor *b_qlinear(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    case_w8 = hwa_tensor_new_2d(ctx, HWA_I8, hwa_tensor_dim(in[1], 0), hwa_tensor_dim(in[0], 1));
    const float s = c->op == QL_STATIC ? 2.0f / 255.0f : c->op == QL_CLIPS ? 1.0f / 400.0f : 0.0f;
    return hwa_qlinear(ctx, in[0], case_w8, in[1], s, c->op == QL_STATIC ? 128 : c->op == QL_CLIPS ? 40 : 0);
}
static hwa_status fill_w8(hwa_tensor *w) {
    const int64_t n = hwa_tensor_nelements(w);
    int8_t *p = malloc((size_t)n);
    if (!p) return HWA_E_NOMEM;
    uint32_t r = 12345;
    for (int64_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        p[i] = (int8_t)(r >> 24);
    }
    hwa_status st = hwa_tensor_set_bytes(w, p, (size_t)n);
    free(p);
    return st;
}
/* The sparse product x [M, K] (in[0]) times the transpose of an [N, K]
 * matrix in compressed rows with N = c->op and the stored values in[1]
 * [nnz]; row_ptr and col are filled by fill_csr once the leaves have
 * storage: row 1 full when nnz >= K, rows 0 and every third row empty,
 * the other values spread over the remaining rows at random columns
 * (distinct within a row, in no order). */
static hwa_tensor *case_rp, *case_col;
static hwa_tensor *b_spmm(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    case_rp = hwa_tensor_new_1d(ctx, HWA_I32, c->op + 1);
    case_col = hwa_tensor_new_1d(ctx, HWA_I32, hwa_tensor_dim(in[1], 0));
    return hwa_spmm(ctx, in[0], case_rp, case_col, in[1]);
}

static hwa_status fill_csr(hwa_tensor *rp_t, hwa_tensor *col_t, int64_t K) {
    const int64_t N = hwa_tensor_nelements(rp_t) - 1, nnz = hwa_tensor_nelements(col_t);
    int32_t *rp = malloc((size_t)(N + 1) * sizeof *rp), *col = malloc((size_t)nnz * sizeof *col);
    int32_t *perm = malloc((size_t)K * sizeof *perm);
    int64_t *cnt = calloc((size_t)N, sizeof *cnt);
    hwa_status st = HWA_E_NOMEM;
    if (!rp || !col || !perm || !cnt || nnz > N * K) goto done;
    uint64_t rng = 77;
    int64_t left = nnz;
    if (N > 1 && K <= left) cnt[1] = K, left -= K;
    for (int64_t tries = 0; left > 0; tries++) {
        const int64_t n = (int64_t)(hwa__rng_next(&rng) % (uint64_t)N);
        const bool spare = n == 1 || n % 3 == 0; /* kept empty while the others have room */
        if (cnt[n] < K && (!spare || tries > 100 * N)) cnt[n]++, left--;
    }
    for (int64_t k = 0; k < K; k++) perm[k] = (int32_t)k;
    rp[0] = 0;
    for (int64_t n = 0, j = 0; n < N; n++) {
        for (int64_t i = 0; i < cnt[n]; i++, j++) { /* a partial shuffle: distinct columns */
            const int64_t r = i + (int64_t)(hwa__rng_next(&rng) % (uint64_t)(K - i));
            const int32_t t = perm[i];
            perm[i] = perm[r], perm[r] = t;
            col[j] = perm[i];
        }
        rp[n + 1] = (int32_t)j;
    }
    st = hwa_tensor_set_bytes(rp_t, rp, (size_t)(N + 1) * sizeof *rp);
    if (!st) st = hwa_tensor_set_bytes(col_t, col, (size_t)nnz * sizeof *col);
done:
    free(rp), free(col), free(perm), free(cnt);
    return st;
}

/* The elementwise and indexing ops for ONNX models (c->op: ELT_*). Inputs
 * are uniform in [-1, 1]: scaled by 4 to reach the functions' tails, made
 * positive (|x| clipped to [0.05, 1]) where the function needs it, and
 * rounded to halves where equality and zero matter (comparisons, logic,
 * where's condition). Gather's i32 indices (filled once the leaves have
 * storage) run over [-n, n), negative ones included. */
enum { ELT_MAP = 0, ELT_BIN = 100, ELT_WHERE = 200, ELT_GATHER = 300, ELT_GATHER_I32 = 310, ELT_RMAX = 400,
       ELT_RMIN = 401, ELT_CAST_I32 = 500 };
static hwa_tensor *case_gidx;
static int64_t case_gidx_n;
static hwa_tensor *elt_positive(hwa_ctx *ctx, hwa_tensor *x) {
    return hwa_map(ctx, hwa_map(ctx, x, HWA_MAP_ABS, 0, 0), HWA_MAP_CLIP, 0.05f, 1.0f);
}
static hwa_tensor *elt_halves(hwa_ctx *ctx, hwa_tensor *x) {
    return hwa_scale(ctx, hwa_map(ctx, hwa_scale(ctx, x, 4.0f), HWA_MAP_ROUND, 0, 0), 0.5f);
}
static hwa_tensor *b_elt(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    if (c->op < ELT_BIN) {
        static const float a[HWA_MAP_COUNT] = {[HWA_MAP_LEAKY_RELU] = 0.1f, [HWA_MAP_CLIP] = -2.5f,
                                               [HWA_MAP_POWC] = 1.7f, [HWA_MAP_ELU] = 0.8f,
                                               [HWA_MAP_HARD_SIGMOID] = 0.2f};
        static const float b[HWA_MAP_COUNT] = {[HWA_MAP_CLIP] = 1.5f, [HWA_MAP_HARD_SIGMOID] = 0.5f};
        const bool pos = c->op == HWA_MAP_SQRT || c->op == HWA_MAP_LOG || c->op == HWA_MAP_POWC;
        hwa_tensor *x = pos ? elt_positive(ctx, in[0]) : c->op == HWA_MAP_NOT ? elt_halves(ctx, in[0])
                                                                              : hwa_scale(ctx, in[0], 4.0f);
        return hwa_map(ctx, x, (hwa_map_fn)c->op, a[c->op], b[c->op]);
    }
    if (c->op < ELT_WHERE) {
        const int fn = c->op - ELT_BIN;
        const bool steps = fn >= HWA_BIN_EQ && fn <= HWA_BIN_XOR;
        hwa_tensor *x = fn == HWA_BIN_POW ? elt_positive(ctx, in[0]) : steps ? elt_halves(ctx, in[0]) : in[0];
        hwa_tensor *y = steps ? elt_halves(ctx, in[1]) : fn == HWA_BIN_MOD ? hwa_scale(ctx, elt_positive(ctx, in[1]), 0.3f)
                                                                         : in[1];
        return hwa_binary(ctx, x, y, (hwa_binary_fn)fn);
    }
    if (c->op == ELT_WHERE) return hwa_where(ctx, elt_halves(ctx, in[0]), in[1], in[2]);
    if (c->op == ELT_RMAX || c->op == ELT_RMIN) /* to the shape in slot 1 (not an input) */
        return hwa_reduce_max_to(ctx, in[0], c->ndim[1], c->shape[1], c->op == ELT_RMIN);
    if (c->op == ELT_CAST_I32) return hwa_cast(ctx, hwa_cast(ctx, hwa_scale(ctx, in[0], 100.0f), HWA_I32), HWA_F32);
    /* gather: along axis op % 10 of in[0], indices of the shape in slot 1
     * (not an input) */
    const int axis = c->op % 10;
    case_gidx_n = hwa_tensor_dim(in[0], axis);
    case_gidx = hwa_tensor_new(ctx, HWA_I32, c->ndim[1], c->shape[1]);
    if (c->op >= ELT_GATHER_I32)
        return hwa_cast(ctx, hwa_gather(ctx, hwa_cast(ctx, hwa_scale(ctx, in[0], 1e6f), HWA_I32), case_gidx, axis),
                        HWA_F32);
    return hwa_gather(ctx, in[0], case_gidx, axis);
}
static hwa_status fill_gidx(hwa_tensor *idx, int64_t n) {
    const int64_t m = hwa_tensor_nelements(idx);
    int32_t *p = malloc((size_t)m * sizeof *p);
    if (!p) return HWA_E_NOMEM;
    for (int64_t j = 0; j < m; j++) p[j] = (int32_t)((7 * j + 3) % (2 * n) - n);
    hwa_status st = hwa_tensor_set_bytes(idx, p, (size_t)m * sizeof *p);
    free(p);
    return st;
}

/* conv2d: c->op picks the geometry from conv_geoms; a third input is the bias. */
static const hwa_conv2d_params conv_geoms[] = {
    {{0, 0}, {0, 0, 0, 0}, {0, 0}, 0},     /* 0: plain (1x1 kernels here) */
    {{2, 2}, {1, 1, 1, 1}, {1, 1}, 1},     /* 1: stride 2, pad 1 (ResNet's downsampling 3x3) */
    {{1, 2}, {2, 0, 1, 3}, {2, 3}, 1},     /* 2: asymmetric pads and strides, dilation */
    {{1, 1}, {1, 0, 0, 1}, {1, 1}, 2},     /* 3: two groups */
    {{1, 1}, {1, 1, 1, 1}, {1, 1}, 0},     /* 4: pad 1 (ResNet's 3x3); groups set by the case for depthwise */
    {{2, 1}, {0, 1, 2, 0}, {1, 2}, 3},     /* 5: three groups, stride, dilation */
};
#define CONV_DEPTHWISE 100 /* + geometry: groups = C */
#define CONV_RELU 1000      /* + geometry: a ReLU after (the CPU fuses bias and ReLU into the primitive) */
static hwa_tensor *b_conv(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    const int op = c->op % CONV_RELU;
    hwa_conv2d_params p = conv_geoms[op % CONV_DEPTHWISE];
    if (op >= CONV_DEPTHWISE) p.groups = (int)hwa_tensor_dim(in[0], 1);
    hwa_tensor *y = hwa_conv2d(ctx, in[0], in[1], c->nin > 2 ? in[2] : NULL, &p);
    return c->op >= CONV_RELU ? hwa_relu(ctx, y) : y;
}

/* Rows leave the trailing flags (backward, matmul) out when false. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* ---- vision: pooling, batch normalization, dropout ---------------------- */

/* oneDNN's average pooling sums in f32 (ours in double), and its max
 * pooling backward adds a tap's gradients from overlapping windows in its
 * own order: results agree to f32 rounding, not bits. */
#define POOL_AVG_TOL 1e-12

/* Pooling cases' parameters, indexed by c->op. */
static const hwa_pool2d_params pool_cases[] = {
    {HWA_POOL_MAX, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, false, false},
    {HWA_POOL_MAX, {3, 2}, {2, 1}, {1, 0, 1, 1}, {0}, true, false},        /* ceil, asymmetric pads */
    {HWA_POOL_MAX, {3, 3}, {1, 2}, {2, 1, 2, 1}, {2, 3}, false, false},    /* dilation */
    {HWA_POOL_MAX, {2, 2}, {3, 3}, {0}, {0}, false, false},                /* stride > kernel */
    {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, false, true},        /* pads counted */
    {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, false, false},       /* pads not counted */
    {HWA_POOL_AVG, {3, 2}, {2, 2}, {1, 0, 0, 1}, {0}, true, true},         /* ceil past the pads */
    {HWA_POOL_AVG, {2, 3}, {3, 4}, {0, 1, 0, 1}, {0}, true, false},        /* stride > kernel, ceil */
    /* oneDNN's pooling (backends/cpu/conv/pool.c): ceil inside the pads, asymmetric pads */
    {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 2, 1}, {0}, true, true},         /* ceil adding no window, counted */
    {HWA_POOL_MAX, {3, 3}, {2, 2}, {0, 2, 1, 0}, {0}, true, false},        /* ceil past the pads, asymmetric */
    {HWA_POOL_AVG, {2, 4}, {2, 3}, {1, 0, 0, 3}, {0}, false, false},       /* asymmetric pads, not counted */
    {HWA_POOL_MAX, {2, 2}, {2, 2}, {0}, {0}, false, false},                /* rows left over (end pad < 0) */
    {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, true, true},         /* ceil past counted pads on one axis */
};
static hwa_tensor *b_pool(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    return c->op < 0 ? hwa_global_avg_pool(ctx, in[0]) : hwa_pool2d(ctx, in[0], &pool_cases[c->op]);
}

/* Batch normalization: in[0] x, in[1] scale, in[2] bias, and a [2, C]
 * leaf filled by fill_running: inference (c->op 0) reads its rows as the
 * mean and variance, training (1) updates it. */
static hwa_tensor *case_running;
static hwa_tensor *b_bn(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    const int64_t C = hwa_tensor_dim(in[0], 1), shape[2] = {2, C};
    case_running = hwa_tensor_new(ctx, HWA_F32, 2, shape);
    if (c->op == 0)
        return hwa_batchnorm(ctx, in[0], in[1], in[2], hwa_reshape(ctx, hwa_slice(ctx, case_running, 0, 0, 1), 1, &C),
                             hwa_reshape(ctx, hwa_slice(ctx, case_running, 0, 1, 1), 1, &C), 1e-5f);
    return hwa_batchnorm_train(ctx, in[0], in[1], in[2], case_running, 1e-5f, 0.1f);
}
static hwa_status fill_running(hwa_tensor *r) {
    const int64_t n = hwa_tensor_nelements(r);
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return HWA_E_NOMEM;
    for (int64_t i = 0; i < n; i++) v[i] = i < n / 2 ? 0.1f * (float)i - 0.2f : 0.3f + 0.2f * (float)(i - n / 2);
    hwa_status st = hwa_tensor_set_f32(r, v, n);
    free(v);
    return st;
}

/* Dropout of in[0] with ratio c->op / 100 and seed (7, 11). */
static hwa_tensor *case_seed;
static hwa_tensor *b_dropout(hwa_ctx *ctx, hwa_tensor **in, const tcase *c) {
    const int64_t two = 2;
    case_seed = hwa_tensor_new(ctx, HWA_I32, 1, &two);
    return hwa_dropout(ctx, in[0], (float)c->op / 100.0f, case_seed);
}
static hwa_status fill_seed(hwa_tensor *seed) {
    const int32_t v[2] = {7, 11};
    return hwa_tensor_set_bytes(seed, v, sizeof v);
}

#define S2(a, b) {a, b}
#define S3(a, b, c) {a, b, c}
#define F3 {HWA_F32, HWA_F32, HWA_F32}
#define S4(a, b, c, d) {a, b, c, d}

static const tcase cases[] = {
    /* elementwise, same shapes, row broadcast, scalar, views */
    {"add 17x31", 2, {2, 2}, {S2(17, 31), S2(17, 31)}, {0}, F3, b_binary, HWA_OP_ADD, 1e-12},
    {"add 64x1000 + row", 2, {2, 1}, {S2(64, 1000), {1000}}, {0}, F3, b_binary, HWA_OP_ADD, 1e-12},
    {"sub 1x1", 2, {2, 2}, {S2(1, 1), S2(1, 1)}, {0}, F3, b_binary, HWA_OP_SUB, 1e-12},
    {"mul 3x5x7 * scalar", 2, {3, 1}, {S3(3, 5, 7), {1}}, {0}, F3, b_binary, HWA_OP_MUL, 1e-12},
    {"div 13x37 / row", 2, {2, 1}, {S2(13, 37), {37}}, {0}, F3, b_binary, HWA_OP_DIV, 1e-12},
    {"add transposed 23x19", 2, {2, 2}, {S2(23, 19), S2(23, 19)}, {V_TRANSPOSED, 0}, F3, b_binary, HWA_OP_ADD, 1e-12},
    {"mul sliced 11x29", 2, {2, 2}, {S2(11, 29), S2(11, 29)}, {0, V_SLICED}, F3, b_binary, HWA_OP_MUL, 1e-12},
    {"add f16 9x33", 2, {2, 2}, {S2(9, 33), S2(9, 33)}, {0}, {HWA_F16, HWA_F16}, b_binary, HWA_OP_ADD, 1e-12},
    {"mul bf16 9x33", 2, {2, 2}, {S2(9, 33), S2(9, 33)}, {0}, {HWA_BF16, HWA_BF16}, b_binary, HWA_OP_MUL, 1e-12},
    {"add 16M-ish 1031x1033", 2, {2, 2}, {S2(1031, 1033), S2(1031, 1033)}, {0}, F3, b_binary, HWA_OP_ADD, 1e-12},
    /* b constant over planes: a convolution's bias, a per-channel scale */
    {"add 2x6x9x11 + [6,1,1] (conv bias)", 2, {4, 3}, {S4(2, 6, 9, 11), S3(6, 1, 1)}, {0}, F3, b_binary, HWA_OP_ADD, 1e-12},
    {"mul 4x6x17 * [6,1]", 2, {3, 2}, {S3(4, 6, 17), S2(6, 1)}, {0}, F3, b_binary, HWA_OP_MUL, 1e-12},
    {"sub 3x5x7x9 - [3,1,1,1]", 2, {4, 4}, {S4(3, 5, 7, 9), S4(3, 1, 1, 1)}, {0}, F3, b_binary, HWA_OP_SUB, 1e-12},
    {"div 2x3x4x20 / [1,3,1,1]", 2, {4, 4}, {S4(2, 3, 4, 20), S4(1, 3, 1, 1)}, {0}, F3, b_binary, HWA_OP_DIV, 1e-12},
    {"add 2x3x4x5 + [3,1,1] (planes below 16)", 2, {4, 3}, {S4(2, 3, 4, 5), S3(3, 1, 1)}, {0}, F3, b_binary, HWA_OP_ADD, 1e-12},
    {"sum_to [1,C,1,1] of 4x8x9x10", 1, {4}, {S4(4, 8, 9, 10)}, {0}, F3, b_sum_planes, 0, 1e-10},
    {"sum_to [N,C,1,1] of 3x5x6x7", 1, {4}, {S4(3, 5, 6, 7)}, {0}, F3, b_sum_planes, 1, 1e-10},
    {"sum_to [1,C,H,1] of 3x5x6x17", 1, {4}, {S4(3, 5, 6, 17)}, {0}, F3, b_sum_planes, 2, 1e-10},
    /* activations and row ops */
    {"relu 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_unary, HWA_OP_RELU, 1e-12, true},
    {"relu 1031x1033", 1, {2}, {S2(1031, 1033)}, {0}, F3, b_unary, HWA_OP_RELU, 1e-12},
    {"gelu 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_unary, HWA_OP_GELU, 1e-10, true},
    {"silu 5x67", 1, {2}, {S2(5, 67)}, {0}, F3, b_unary, HWA_OP_SILU, 1e-10, true},
    {"sigmoid 1x1", 1, {2}, {S2(1, 1)}, {0}, F3, b_unary, HWA_OP_SIGMOID, 1e-10},
    {"sigmoid backward 9x50", 1, {2}, {S2(9, 50)}, {0}, F3, b_unary, HWA_OP_SIGMOID, 1e-10, true},
    {"gelu backward 64x1000", 1, {2}, {S2(64, 1000)}, {0}, F3, b_unary, HWA_OP_GELU, 1e-10, true},
    {"tanh 3x41", 1, {2}, {S2(3, 41)}, {0}, F3, b_unary, HWA_OP_TANH, 1e-10, true},
    {"tanh transposed 31x7", 1, {2}, {S2(31, 7)}, {V_TRANSPOSED}, F3, b_unary, HWA_OP_TANH, 1e-10},
    {"gelu bf16 4x64", 1, {2}, {S2(4, 64)}, {0}, {HWA_BF16}, b_unary, HWA_OP_GELU, 1e-10},
    {"softmax 64x1000", 1, {2}, {S2(64, 1000)}, {0}, F3, b_unary, HWA_OP_SOFTMAX, 1e-10, true},
    {"softmax 5x3", 1, {2}, {S2(5, 3)}, {0}, F3, b_unary, HWA_OP_SOFTMAX, 1e-10},
    {"log_softmax 7x97", 1, {2}, {S2(7, 97)}, {0}, F3, b_unary, HWA_OP_LOG_SOFTMAX, 1e-10, true},
    {"softmax sliced 6x40", 1, {2}, {S2(6, 40)}, {V_SLICED}, F3, b_unary, HWA_OP_SOFTMAX, 1e-10},
    {"layernorm 9x257", 1, {2}, {S2(9, 257)}, {0}, F3, b_unary, HWA_OP_NORM, 1e-10, true},
    {"rmsnorm 2x3x61", 1, {3}, {S3(2, 3, 61)}, {0}, F3, b_unary, HWA_OP_RMS_NORM, 1e-10, true},
    {"rmsnorm f16 4x32", 1, {2}, {S2(4, 32)}, {0}, {HWA_F16}, b_unary, HWA_OP_RMS_NORM, 1e-8},
    {"cont of a permuted view 2x5x7x9", 1, {4}, {S4(2, 5, 7, 9)}, {0}, F3, b_move, 0, 1e-12},
    {"cont of a permuted view 2x3x4x5 (last dim moved)", 1, {4}, {S4(2, 3, 4, 5)}, {0}, F3, b_move, 1, 1e-12},
    {"cont of a permuted view f16 1x64x8x8", 1, {4}, {S4(1, 64, 8, 8)}, {0}, {HWA_F16}, b_move, 0, 1e-12},
    {"write_slice 1x4x20x8 <- 1x4x6x8", 2, {4, 4}, {S4(1, 4, 20, 8), S4(1, 4, 6, 8)}, {0}, F3, b_move, 2, 1e-12},
    {"write_slice bf16 2x3x9x5 <- strided 2x3x4x5", 2, {4, 4}, {S4(2, 3, 9, 5), S4(2, 4, 3, 5)}, {0}, {HWA_BF16, HWA_BF16}, b_move, 3, 1e-12},
    {"embedding 9 ids of 50x33", 1, {2}, {S2(50, 33)}, {0}, F3, b_embed, 9, 1e-12},
    {"embedding backward 400 ids (repeats) of 50x33", 1, {2}, {S2(50, 33)}, {0}, F3, b_embed, 400, 1e-12, true},
    {"embedding 64 ids of bf16 500x64", 1, {2}, {S2(500, 64)}, {0}, {HWA_BF16}, b_embed, 64, 1e-12},
    {"embedding 3 ids of f16 20x7", 1, {2}, {S2(20, 7)}, {0}, {HWA_F16}, b_embed, 3, 1e-12},
    {"concat 3x5x7 + 3x2x7 along 1", 2, {3, 3}, {S3(3, 5, 7), S3(3, 2, 7)}, {0}, F3, b_concat, 1, 1e-12, true},
    {"concat bf16 4x9 + 4x23 along -1", 2, {2, 2}, {S2(4, 9), S2(4, 23)}, {0}, {HWA_BF16, HWA_BF16}, b_concat, -1, 1e-12},
    {"concat transposed 6x4 + 6x4 along 0", 2, {2, 2}, {S2(6, 4), S2(6, 4)}, {V_TRANSPOSED, 0}, F3, b_concat, 0, 1e-12},
    {"cross_entropy 64x10", 1, {2}, {S2(64, 10)}, {0}, F3, b_xent, 0, 1e-10, true},
    {"cross_entropy 300x1000", 1, {2}, {S2(300, 1000)}, {0}, F3, b_xent, 0, 1e-10, true},
    {"cross_entropy 3x1", 1, {2}, {S2(3, 1)}, {0}, F3, b_xent, 0, 1e-10, true},
    {"cross_entropy bf16 33x100", 1, {2}, {S2(33, 100)}, {0}, {HWA_BF16}, b_xent, 0, 1e-6, true},
    {"cross_entropy f16 9x37", 1, {2}, {S2(9, 37)}, {0}, {HWA_F16}, b_xent, 0, 1e-6, true},
    {"cross_entropy transposed 13x11", 1, {2}, {S2(13, 11)}, {V_TRANSPOSED}, F3, b_xent, 0, 1e-10, true},
    {"sum over rows 37x53", 1, {2}, {S2(37, 53)}, {0}, F3, b_unary, HWA_OP_SUM_TO, 1e-10},
    {"sum within rows 37x53", 1, {2}, {S2(37, 53)}, {0}, F3, b_unary, HWA_OP_NONE, 1e-10},
    /* f16 / bf16 tensors through the f32 kernels, rounded once per element
     * as the reference does (a near tie can round the other way: about one
     * bf16 ulp on a few elements, hence the looser tolerances) */
    {"add bf16 row broadcast 13x70 + 70", 2, {2, 1}, {S2(13, 70), {70}}, {0}, {HWA_BF16, HWA_BF16}, b_binary, HWA_OP_ADD, 1e-12},
    {"div f16 5x33", 2, {2, 2}, {S2(5, 33), S2(5, 33)}, {0}, {HWA_F16, HWA_F16}, b_binary, HWA_OP_DIV, 1e-8},
    {"silu f16 5x67", 1, {2}, {S2(5, 67)}, {0}, {HWA_F16}, b_unary, HWA_OP_SILU, 1e-8},
    {"rmsnorm bf16 backward 4x96", 1, {2}, {S2(4, 96)}, {0}, {HWA_BF16}, b_unary, HWA_OP_RMS_NORM, 1e-6, true},
    {"log_softmax backward 33x1000", 1, {2}, {S2(33, 1000)}, {0}, F3, b_unary, HWA_OP_LOG_SOFTMAX, 1e-10, true},
    {"gelu bf16 backward 8x70", 1, {2}, {S2(8, 70)}, {0}, {HWA_BF16}, b_unary, HWA_OP_GELU, 1e-6, true},
    {"relu bf16 backward 33x100", 1, {2}, {S2(33, 100)}, {0}, {HWA_BF16}, b_unary, HWA_OP_RELU, 1e-12, true},
    {"softmax bf16 64x1000", 1, {2}, {S2(64, 1000)}, {0}, {HWA_BF16}, b_unary, HWA_OP_SOFTMAX, 1e-6},
    {"layernorm bf16 9x257", 1, {2}, {S2(9, 257)}, {0}, {HWA_BF16}, b_unary, HWA_OP_NORM, 1e-6},
    {"sum over rows bf16 37x53", 1, {2}, {S2(37, 53)}, {0}, {HWA_BF16}, b_unary, HWA_OP_SUM_TO, 1e-6},
    /* conversions */
    {"cast f16 round trip 7x333", 1, {2}, {S2(7, 333)}, {0}, F3, b_cast, HWA_F16, 1e-12},
    {"cast bf16 round trip 7x333", 1, {2}, {S2(7, 333)}, {0}, F3, b_cast, HWA_BF16, 1e-12},
    {"cast bf16 transposed 13x17", 1, {2}, {S2(13, 17)}, {V_TRANSPOSED}, F3, b_cast, HWA_BF16, 1e-12},
    /* matrix products */
    {"matmul 1x1x1", 2, {2, 2}, {S2(1, 1), S2(1, 1)}, {0}, F3, b_matmul, 0, 1e-10, false, true},
    {"matmul 7x13 * 13x29", 2, {2, 2}, {S2(7, 13), S2(13, 29)}, {0}, F3, b_matmul, 0, 1e-10, true, true},
    {"matmul 64x1000 * (1000x100)^T", 2, {2, 2}, {S2(64, 1000), S2(100, 1000)}, {0}, F3, b_matmul, 1, 1e-10, false, true},
    {"matmul 1x257 * (37x257)^T", 2, {2, 2}, {S2(1, 257), S2(37, 257)}, {0}, F3, b_matmul, 1, 1e-10, false, true},
    {"matmul transposed A 11x23", 2, {2, 2}, {S2(11, 23), S2(23, 5)}, {V_TRANSPOSED, 0}, F3, b_matmul, 0, 1e-10, false, true},
    {"matmul sliced B", 2, {2, 2}, {S2(9, 16), S2(16, 21)}, {0, V_SLICED}, F3, b_matmul, 0, 1e-10, false, true},
    {"matmul batched 3x5x8 * 8x6", 2, {3, 2}, {S3(3, 5, 8), S2(8, 6)}, {0}, F3, b_matmul, 0, 1e-10, true, true},
    {"matmul batched both 2x4x9 * 2x9x3", 2, {3, 3}, {S3(2, 4, 9), S3(2, 9, 3)}, {0}, F3, b_matmul, 0, 1e-10, false, true},
    {"matmul bf16 19x40 * 40x24", 2, {2, 2}, {S2(19, 40), S2(40, 24)}, {0}, {HWA_BF16, HWA_BF16}, b_matmul, 0, 1e-5, false, true},
    /* bf16 gradients: the products added into the bf16 gradients in place
     * (one rounding of the sum, where the reference rounds twice) */
    {"matmul bf16 gradients 7x13 * 13x29", 2, {2, 2}, {S2(7, 13), S2(13, 29)}, {0}, {HWA_BF16, HWA_BF16}, b_matmul, 0, 1e-4, true, true},
    {"matmul bf16 gradients 40x300 * (70x300)^T", 2, {2, 2}, {S2(40, 300), S2(70, 300)}, {0}, {HWA_BF16, HWA_BF16}, b_matmul, 1, 1e-4, true, true},
    {"matmul f16 5x16 * 16x7", 2, {2, 2}, {S2(5, 16), S2(16, 7)}, {0}, {HWA_F16, HWA_F16}, b_matmul, 0, 1e-6, false, true},
    {"linear+bias 64x100->50", 3, {2, 2, 1}, {S2(64, 100), S2(50, 100), {50}}, {0}, F3, b_linear, HWA_OP_NONE, 1e-10, false, true},
    {"linear+bias+relu 13x31->17", 3, {2, 2, 1}, {S2(13, 31), S2(17, 31), {17}}, {0}, F3, b_linear, HWA_OP_RELU, 1e-10, false, true},
    {"linear+bias+gelu 8x64->32", 3, {2, 2, 1}, {S2(8, 64), S2(32, 64), {32}}, {0}, F3, b_linear, HWA_OP_GELU, 1e-10, false, true},
    {"linear+bias bf16 8x64->32", 3, {2, 2, 1}, {S2(8, 64), S2(32, 64), {32}}, {0}, {HWA_BF16, HWA_BF16, HWA_BF16}, b_linear, HWA_OP_NONE, 1e-4, false, true},
    /* f16: widened to f32 for the providers (weights kept per version), the
     * result rounded once; f32 activations x f16 weights [N,K] give f32 */
    {"matmul f16 64x1000 * (100x1000)^T", 2, {2, 2}, {S2(64, 1000), S2(100, 1000)}, {0}, {HWA_F16, HWA_F16}, b_matmul, 1, 1e-6, false, true},
    {"matmul f16 transposed A 11x23", 2, {2, 2}, {S2(11, 23), S2(23, 5)}, {V_TRANSPOSED, 0}, {HWA_F16, HWA_F16}, b_matmul, 0, 1e-6, false, true},
    {"matmul f16 sliced B", 2, {2, 2}, {S2(9, 16), S2(16, 21)}, {0, V_SLICED}, {HWA_F16, HWA_F16}, b_matmul, 0, 1e-6, false, true},
    {"matmul f16 batched 3x5x8 * 8x6", 2, {3, 2}, {S3(3, 5, 8), S2(8, 6)}, {0}, {HWA_F16, HWA_F16}, b_matmul, 0, 1e-6, false, true},
    {"matmul f16 batched both 2x4x9 * 2x9x3", 2, {3, 3}, {S3(2, 4, 9), S3(2, 9, 3)}, {0}, {HWA_F16, HWA_F16}, b_matmul, 0, 1e-6, false, true},
    {"matmul f16 gradients 7x13 * 13x29", 2, {2, 2}, {S2(7, 13), S2(13, 29)}, {0}, {HWA_F16, HWA_F16}, b_matmul, 0, 1e-6, true, true},
    {"matmul f32 x f16 weights 24x96 * (40x96)^T", 2, {2, 2}, {S2(24, 96), S2(40, 96)}, {0}, {HWA_F32, HWA_F16}, b_matmul, 1, 1e-10, false, true},
    {"matmul f32 x f16 batched 2x6x33 * (17x33)^T", 2, {3, 2}, {S3(2, 6, 33), S2(17, 33)}, {0}, {HWA_F32, HWA_F16}, b_matmul, 1, 1e-10, false, true},
    {"gemv f32 x f16 weights 3x200 * (77x200)^T", 2, {2, 2}, {S2(3, 200), S2(77, 200)}, {0}, {HWA_F32, HWA_F16}, b_matmul, 1, 1e-10, false, true},
    {"gemv f32 x f16 weights 1x256 * (4099x256)^T threads", 2, {2, 2}, {S2(1, 256), S2(4099, 256)}, {0}, {HWA_F32, HWA_F16}, b_matmul, 1, 1e-10, false, true},
    {"gemv f32 x f16 weights 2x40 * (33x40)^T sliced", 2, {2, 2}, {S2(2, 40), S2(33, 40)}, {0, V_SLICED}, {HWA_F32, HWA_F16}, b_matmul, 1, 1e-10, false, true},
    {"gemv f16 1x64 * (50x64)^T", 2, {2, 2}, {S2(1, 64), S2(50, 64)}, {0}, {HWA_F16, HWA_F16}, b_matmul, 1, 1e-6, false, true},
    {"linear+bias f16 8x64->32", 3, {2, 2, 1}, {S2(8, 64), S2(32, 64), {32}}, {0}, {HWA_F16, HWA_F16, HWA_F16}, b_linear, HWA_OP_NONE, 1e-6, false, true},
    {"linear+bias+gelu f16 13x31->17", 3, {2, 2, 1}, {S2(13, 31), S2(17, 31), {17}}, {0}, {HWA_F16, HWA_F16, HWA_F16}, b_linear, HWA_OP_GELU, 1e-6, false, true},
    {"linear+bias+relu f32 x f16 weights 9x48->20", 3, {2, 2, 1}, {S2(9, 48), S2(20, 48), {20}}, {0}, {HWA_F32, HWA_F16, HWA_F32}, b_linear, HWA_OP_RELU, 1e-10, false, true},
    {"gemv linear+bias f32 x f16 weights, f16 bias 1x100->77", 3, {2, 2, 1}, {S2(1, 100), S2(77, 100), {77}}, {0}, {HWA_F32, HWA_F16, HWA_F16}, b_linear, HWA_OP_NONE, 1e-10, false, true},
    /* small M: the GEMV (native provider) */
    {"gemv 3x768 * (130x768)^T", 2, {2, 2}, {S2(3, 768), S2(130, 768)}, {0}, F3, b_matmul, 1, 1e-10, false, true},
    {"gemv 4x19 * (9x19)^T", 2, {2, 2}, {S2(4, 19), S2(9, 19)}, {0}, F3, b_matmul, 1, 1e-10, false, true},
    {"gemv 2x64 * (4099x64)^T threads", 2, {2, 2}, {S2(2, 64), S2(4099, 64)}, {0}, F3, b_matmul, 1, 1e-10, false, true},
    {"gemv 1x40 * (33x40)^T sliced", 2, {2, 2}, {S2(1, 40), S2(33, 40)}, {0, V_SLICED}, F3, b_matmul, 1, 1e-10, false, true},
    {"gemv linear+bias+gelu 1x100->77", 3, {2, 2, 1}, {S2(1, 100), S2(77, 100), {77}}, {0}, F3, b_linear, HWA_OP_GELU, 1e-10, false, true},
    /* shapes for the AMX tiles (16 x 32 bf16, 16 x 64 int8, in pairs): partial
     * m-, n- and k-tiles, K long enough to come in chunks, several blocks of
     * rows, one row */
    {"matmul 33x65 * (47x65)^T", 2, {2, 2}, {S2(33, 65), S2(47, 65)}, {0}, F3, b_matmul, 1, 1e-10, false, true},
    {"matmul 1x300 * 300x70", 2, {2, 2}, {S2(1, 300), S2(300, 70)}, {0}, F3, b_matmul, 0, 1e-10, false, true},
    {"linear+bias+relu 70x300->129", 3, {2, 2, 1}, {S2(70, 300), S2(129, 300), {129}}, {0}, F3, b_linear, HWA_OP_RELU, 1e-10, false, true},
    {"linear+bias+gelu 300x1000->96", 3, {2, 2, 1}, {S2(300, 1000), S2(96, 1000), {96}}, {0}, F3, b_linear, HWA_OP_GELU, 1e-10, false, true},
    {"linear+bias 64x1000->1000", 3, {2, 2, 1}, {S2(64, 1000), S2(1000, 1000), {1000}}, {0}, F3, b_linear, HWA_OP_NONE, 1e-10, false, true},
    {"matmul transposed A 130x40 * 40x33", 2, {2, 2}, {S2(130, 40), S2(40, 33)}, {V_TRANSPOSED, 0}, F3, b_matmul, 0, 1e-10, false, true},
    {"matmul bf16 70x300 * (129x300)^T", 2, {2, 2}, {S2(70, 300), S2(129, 300)}, {0}, {HWA_BF16, HWA_BF16}, b_matmul, 1, 1e-5, false, true},
    {"linear+bias+relu bf16 33x96->40", 3, {2, 2, 1}, {S2(33, 96), S2(40, 96), {40}}, {0}, {HWA_BF16, HWA_BF16, HWA_BF16}, b_linear, HWA_OP_RELU, 1e-4, false, true},
    {"mlp gradients 16x24->12", 3, {2, 2, 1}, {S2(16, 24), S2(12, 24), {12}}, {0}, F3, b_mlp, 0, 1e-9, true, true},
    /* training: the fast kernels do the reference's float operations in
     * its order, so they match it bit for bit (tolerance 0) */
    {"relu backward 300x1000", 1, {2}, {S2(300, 1000)}, {0}, F3, b_unary, HWA_OP_RELU, 0.0, true},
    {"sum_sq 1003", 1, {1}, {{1003}}, {0}, F3, b_sum_sq, 0, 0.0},
    {"sum_sq 1000x784", 1, {2}, {S2(1000, 784)}, {0}, F3, b_sum_sq, 0, 0.0},
    {"adam 1003", 3, {1, 1, 2}, {{1003}, {1003}, S2(2, 1003)}, {0}, F3, b_update, UPD_ADAM, 0.0},
    {"adam 1000x784", 3, {2, 2, 2}, {S2(1000, 784), S2(1000, 784), S2(2, 784000)}, {0}, F3, b_update, UPD_ADAM, 0.0},
    {"adamw clipped 37x29", 3, {2, 2, 2}, {S2(37, 29), S2(37, 29), S2(2, 1073)}, {0}, F3, b_update, UPD_ADAMW_CLIP, 0.0},
    {"sgd 1003", 3, {1, 1, 1}, {{1003}, {1003}, {1}}, {0}, F3, b_update, UPD_SGD, 0.0},
    {"sgd momentum wd 600x1000", 3, {2, 2, 1}, {S2(600, 1000), S2(600, 1000), {600000}}, {0}, F3, b_update, UPD_MOMENTUM_WD, 0.0},
    {"sgd nesterov clipped 5x7", 3, {2, 2, 1}, {S2(5, 7), S2(5, 7), {35}}, {0}, F3, b_update, UPD_NESTEROV_CLIP, 0.0},
    /* attention over KV-cache slices; grouped kv heads; causal with Tq < Tk */
    {"attention decode GQA 8/2 heads Tk 29 of 40", 3, {4, 4, 4}, {S4(1, 8, 1, 64), S4(1, 2, 40, 64), S4(1, 2, 40, 64)}, {0}, F3, b_attention, ATTN_OP(29, ATTN_CAUSAL), 1e-10},
    {"attention causal Tq 5 < Tk 13, Dv 40", 3, {4, 4, 4}, {S4(2, 4, 5, 24), S4(2, 4, 20, 24), S4(2, 4, 20, 40)}, {0}, F3, b_attention, ATTN_OP(13, ATTN_CAUSAL), 1e-10},
    {"attention decode narrow heads D 8 Tk 203 of 256", 3, {4, 4, 4}, {S4(1, 8, 1, 8), S4(1, 4, 256, 8), S4(1, 4, 256, 8)}, {0}, F3, b_attention, ATTN_OP(203, ATTN_CAUSAL), 1e-10},
    {"attention backward causal Tq 5 < Tk 13, Dv 40", 3, {4, 4, 4}, {S4(2, 4, 5, 24), S4(2, 4, 20, 24), S4(2, 4, 20, 40)}, {0}, F3, b_attention, ATTN_OP(13, ATTN_CAUSAL), 1e-10, true},
    {"attention backward GQA 6/3 D 5 Dv 7", 3, {4, 4, 4}, {S4(1, 6, 9, 5), S4(1, 3, 12, 5), S4(1, 3, 12, 7)}, {0}, F3, b_attention, ATTN_OP(12, 0), 1e-10, true},
    {"attention backward llama prefill 21, GQA 4/2", 3, {4, 4, 4}, {S4(1, 21, 4, 32), S4(1, 2, 32, 32), S4(1, 2, 32, 32)}, {0}, F3, b_attention, ATTN_OP(21, ATTN_CAUSAL | ATTN_Q_BTHD), 1e-10, true},
    /* the KV caches of several sequences at run-time indices (C = B + 2) */
    {"cache_write 4 seqs of 2x16x8 <- 2 rows of 1 position", 2, {4, 4}, {S4(4, 2, 16, 8), S4(2, 2, 1, 8)}, {0}, F3, b_cache, 0, 1e-12},
    {"cache_write 3 seqs <- strided prefill of 5", 2, {4, 4}, {S4(3, 4, 12, 16), S4(1, 5, 4, 16)}, {0}, F3, b_cache, 1, 1e-12},
    {"cache_attention decode 3 rows GQA 8/2 over 5 seqs of 40", 3, {4, 4, 4}, {S4(3, 8, 1, 64), S4(5, 2, 40, 64), S4(5, 2, 40, 64)}, {0}, F3, b_cache, 2, 1e-10},
    {"cache_attention prefill 5, 2 rows, Dv 40", 3, {4, 4, 4}, {S4(2, 4, 5, 24), S4(4, 4, 20, 24), S4(4, 4, 20, 40)}, {0}, F3, b_cache, 2, 1e-10},
    {"attention GQA 6/3 D 5 Dv 7", 3, {4, 4, 4}, {S4(1, 6, 9, 5), S4(1, 3, 12, 5), S4(1, 3, 12, 7)}, {0}, F3, b_attention, ATTN_OP(12, 0), 1e-10},
    {"attention causal Tq = Tk 6 of 8", 3, {4, 4, 4}, {S4(1, 2, 6, 16), S4(1, 2, 8, 16), S4(1, 2, 8, 16)}, {0}, F3, b_attention, ATTN_OP(6, ATTN_CAUSAL), 1e-10},
    {"attention llama q [B,T,H,D] prefill 37", 3, {4, 4, 4}, {S4(1, 37, 4, 32), S4(1, 2, 64, 32), S4(1, 2, 64, 32)}, {0}, F3, b_attention, ATTN_OP(37, ATTN_CAUSAL | ATTN_Q_BTHD), 1e-10},
    {"attention q transposed (strided D)", 3, {4, 4, 4}, {S4(1, 2, 7, 16), S4(1, 2, 10, 16), S4(1, 2, 10, 16)}, {V_TRANSPOSED, 0, 0}, F3, b_attention, ATTN_OP(10, 0), 1e-10},
    {"attention k transposed (reference)", 3, {4, 4, 4}, {S4(1, 2, 3, 5), S4(1, 2, 8, 5), S4(1, 2, 8, 8)}, {0, V_TRANSPOSED, 0}, F3, b_attention, ATTN_OP(5, 0), 1e-10},
    /* int8 products with u8 activations: odd K (not a multiple of the 4
     * bytes a VNNI lane sums, nor of 16 or 64), N short of a 16- or 64-wide
     * block, one row, a few (GEMV) and many (GEMM), rows apart (sliced x),
     * x transposed (the reference). The integer sums are exact and the
     * scales the same float products: equal to the reference (tolerance 0). */
    {"qlinear dynamic 1x61->37", 2, {2, 1}, {S2(1, 61), {37}}, {0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    {"qlinear dynamic 1x1000->10", 2, {2, 1}, {S2(1, 1000), {10}}, {0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    {"qlinear dynamic 3x130->70", 2, {2, 1}, {S2(3, 130), {70}}, {0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    {"qlinear dynamic 64x257->200", 2, {2, 1}, {S2(64, 257), {200}}, {0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    {"qlinear static 64x100->130", 2, {2, 1}, {S2(64, 100), {130}}, {0}, F3, b_qlinear, QL_STATIC, 0.0},
    {"qlinear static clipping 3x45->9", 2, {2, 1}, {S2(3, 45), {9}}, {0}, F3, b_qlinear, QL_CLIPS, 0.0},
    {"qlinear static 13x784->1000", 2, {2, 1}, {S2(13, 784), {1000}}, {0}, F3, b_qlinear, QL_STATIC, 0.0},
    {"qlinear dynamic sliced x 5x33->17", 2, {2, 1}, {S2(5, 33), {17}}, {V_SLICED, 0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    {"qlinear dynamic transposed x 4x9->5", 2, {2, 1}, {S2(4, 9), {5}}, {V_TRANSPOSED, 0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    {"qlinear dynamic 2x1->1", 2, {2, 1}, {S2(2, 1), {1}}, {0}, F3, b_qlinear, QL_DYNAMIC, 0.0},
    /* the sparse product (c->op: N): one row (gathers, tails of 37 and
     * 1000 columns), panels of 5, 64 and 70 rows (two panels), strided x,
     * one stored value among 50 rows, and sizes that take every thread */
    {"spmm 1x37 * (13x37, 60 values)^T", 2, {2, 1}, {S2(1, 37), {60}}, {0}, F3, b_spmm, 13, 1e-10},
    {"spmm 1x1000 * (100x1000, 5000 values)^T", 2, {2, 1}, {S2(1, 1000), {5000}}, {0}, F3, b_spmm, 100, 1e-10},
    {"spmm 5x67 * (29x67, 300 values)^T", 2, {2, 1}, {S2(5, 67), {300}}, {0}, F3, b_spmm, 29, 1e-10},
    {"spmm 64x784 * (100x784, 4000 values)^T", 2, {2, 1}, {S2(64, 784), {4000}}, {0}, F3, b_spmm, 100, 1e-10},
    {"spmm 70x33 * (17x33, 200 values)^T", 2, {2, 1}, {S2(70, 33), {200}}, {0}, F3, b_spmm, 17, 1e-10},
    {"spmm transposed x 3x41 * (9x41, 80 values)^T", 2, {2, 1}, {S2(3, 41), {80}}, {V_TRANSPOSED, 0}, F3, b_spmm, 9, 1e-10},
    {"spmm sliced x 1x45 * (7x45, 50 values)^T", 2, {2, 1}, {S2(1, 45), {50}}, {V_SLICED, 0}, F3, b_spmm, 7, 1e-10},
    {"spmm sliced x 6x20 * (11x20, 90 values)^T", 2, {2, 1}, {S2(6, 20), {90}}, {V_SLICED, 0}, F3, b_spmm, 11, 1e-10},
    {"spmm 2x16 * (50x16, 1 value)^T", 2, {2, 1}, {S2(2, 16), {1}}, {0}, F3, b_spmm, 50, 1e-10},
    {"spmm 1x1000 * (1000x1000, 50000 values)^T", 2, {2, 1}, {S2(1, 1000), {50000}}, {0}, F3, b_spmm, 1000, 1e-10},
    {"spmm 64x1000 * (1000x1000, 50000 values)^T", 2, {2, 1}, {S2(64, 1000), {50000}}, {0}, F3, b_spmm, 1000, 1e-10},
    /* 2-D convolution: 1x1, ResNet's 3x3 (stride 1 and 2), asymmetric pads
     * with dilation and strides, groups, depthwise, a strided x, f16/bf16,
     * and the gradients of x, w and b */
    {"conv2d 1x1 2x16x7x7 -> 24 +bias", 3, {4, 4, 1}, {S4(2, 16, 7, 7), S4(24, 16, 1, 1), {24}}, {0}, F3, b_conv, 0, 1e-10},
    {"conv2d 3x3 pad 1 2x32x14x14 -> 64 +bias", 3, {4, 4, 1}, {S4(2, 32, 14, 14), S4(64, 32, 3, 3), {64}}, {0}, F3, b_conv, 4, 1e-10},
    {"conv2d 3x3 stride 2 pad 1 1x8x15x12 -> 16", 2, {4, 4}, {S4(1, 8, 15, 12), S4(16, 8, 3, 3)}, {0}, F3, b_conv, 1, 1e-10},
    {"conv2d 3x2 dilation 2x3 asymmetric pads 2x5x9x11 -> 7", 2, {4, 4}, {S4(2, 5, 9, 11), S4(7, 5, 3, 2)}, {0}, F3, b_conv, 2, 1e-10},
    {"conv2d 2 groups 2x6x8x7 -> 10 +bias", 3, {4, 4, 1}, {S4(2, 6, 8, 7), S4(10, 3, 3, 2), {10}}, {0}, F3, b_conv, 3, 1e-10},
    {"conv2d depthwise 3x3 1x24x10x10 +bias", 3, {4, 4, 1}, {S4(1, 24, 10, 10), S4(24, 1, 3, 3), {24}}, {0}, F3, b_conv, CONV_DEPTHWISE + 4, 1e-10},
    {"conv2d first layer 3x3 pad 1 4x1x28x28 -> 32 +bias (plain source)", 3, {4, 4, 1}, {S4(4, 1, 28, 28), S4(32, 1, 3, 3), {32}}, {0}, F3, b_conv, 4, 1e-10, true},
    {"conv2d RGB 3x3 stride 2 pad 1 2x3x17x16 -> 16", 2, {4, 4}, {S4(2, 3, 17, 16), S4(16, 3, 3, 3)}, {0}, F3, b_conv, 1, 1e-10},
    {"conv2d 3x3 pad 1 +bias +relu 2x16x9x9 -> 24", 3, {4, 4, 1}, {S4(2, 16, 9, 9), S4(24, 16, 3, 3), {24}}, {0}, F3, b_conv, CONV_RELU + 4, 1e-10},
    {"conv2d 1x1 +relu 2x8x6x6 -> 16", 2, {4, 4}, {S4(2, 8, 6, 6), S4(16, 8, 1, 1)}, {0}, F3, b_conv, CONV_RELU + 0, 1e-10},
    {"conv2d stride 2 +bias +relu backward 2x4x9x8 -> 6", 3, {4, 4, 1}, {S4(2, 4, 9, 8), S4(6, 4, 3, 3), {6}}, {0}, F3, b_conv, CONV_RELU + 1, 1e-10, true},
    {"conv2d sliced x 1x4x6x5 -> 3", 2, {4, 4}, {S4(1, 4, 6, 5), S4(3, 4, 3, 3)}, {V_SLICED, 0}, F3, b_conv, 4, 1e-10},
    {"conv2d bf16 1x16x9x9 -> 8", 2, {4, 4}, {S4(1, 16, 9, 9), S4(8, 16, 3, 3)}, {0}, {HWA_BF16, HWA_BF16}, b_conv, 4, 1e-4},
    {"conv2d f16 1x8x6x6 -> 8 +bias", 3, {4, 4, 1}, {S4(1, 8, 6, 6), S4(8, 8, 1, 1), {8}}, {0}, {HWA_F16, HWA_F16, HWA_F16}, b_conv, 0, 1e-6},
    {"conv2d backward 3x3 stride 2 pad 1 2x4x9x8 -> 6 +bias", 3, {4, 4, 1}, {S4(2, 4, 9, 8), S4(6, 4, 3, 3), {6}}, {0}, F3, b_conv, 1, 1e-10, true},
    {"conv2d backward dilation asymmetric pads 1x3x8x9 -> 4", 2, {4, 4}, {S4(1, 3, 8, 9), S4(4, 3, 2, 3)}, {0}, F3, b_conv, 2, 1e-10, true},
    {"conv2d backward 3 groups 2x6x9x7 -> 9 +bias", 3, {4, 4, 1}, {S4(2, 6, 9, 7), S4(9, 2, 2, 2), {9}}, {0}, F3, b_conv, 5, 1e-10, true},
    {"conv2d backward depthwise 1x8x7x7 +bias", 3, {4, 4, 1}, {S4(1, 8, 7, 7), S4(8, 1, 3, 3), {8}}, {0}, F3, b_conv, CONV_DEPTHWISE + 4, 1e-10, true},
    {"conv2d backward 1x1 2x16x5x5 -> 32", 2, {4, 4}, {S4(2, 16, 5, 5), S4(32, 16, 1, 1)}, {0}, F3, b_conv, 0, 1e-10, true},
    /* rotary embedding, both modes */
    {"rope interleaved 2x7x3x16", 1, {4}, {S4(2, 7, 3, 16)}, {0}, F3, b_rope, HWA_ROPE_INTERLEAVED, 1e-10, true},
    {"rope halves 1x5x4x64", 1, {4}, {S4(1, 5, 4, 64)}, {0}, F3, b_rope, HWA_ROPE_HALVES, 1e-10, true},
    {"rope halves sliced 1x3x2x8", 1, {4}, {S4(1, 3, 2, 8)}, {V_SLICED}, F3, b_rope, HWA_ROPE_HALVES, 1e-10},
    /* vision: pooling (every pool_cases row), batch normalization, dropout */
    {"max pool 3x3/2 pads 1 2x3x9x11", 1, {4}, {S4(2, 3, 9, 11)}, {0}, F3, b_pool, 0, 0.0, true},
    {"max pool 3x2/(2,1) ceil asym pads 1x2x8x7", 1, {4}, {S4(1, 2, 8, 7)}, {0}, F3, b_pool, 1, 0.0, true},
    {"max pool dilation (2,3) 1x2x12x13", 1, {4}, {S4(1, 2, 12, 13)}, {0}, F3, b_pool, 2, 0.0, true},
    {"max pool 2x2 stride 3 2x2x10x11", 1, {4}, {S4(2, 2, 10, 11)}, {0}, F3, b_pool, 3, 0.0, true},
    {"max pool transposed x 1x3x7x9", 1, {4}, {S4(1, 3, 7, 9)}, {V_TRANSPOSED}, F3, b_pool, 0, 0.0, true},
    {"max pool 64x56x56 (every thread)", 1, {4}, {S4(2, 64, 56, 56)}, {0}, F3, b_pool, 0, 0.0},
    /* oneDNN pooling: ceil, asymmetric pads, avg both ways, backward (max: overlapping windows sum in another order) */
    {"avg pool ceil no-op counted asym pads 2x3x10x9", 1, {4}, {S4(2, 3, 10, 9)}, {0}, F3, b_pool, 8, POOL_AVG_TOL, true},
    {"max pool ceil asym pads 2x4x11x10", 1, {4}, {S4(2, 4, 11, 10)}, {0}, F3, b_pool, 9, POOL_AVG_TOL, true},
    {"avg pool asym pads exclude 1x3x8x11", 1, {4}, {S4(1, 3, 8, 11)}, {0}, F3, b_pool, 10, POOL_AVG_TOL, true},
    {"max pool 2x2 odd sizes 2x3x9x7", 1, {4}, {S4(2, 3, 9, 7)}, {0}, F3, b_pool, 11, 0.0, true},
    {"avg pool ceil past counted pads in h 1x2x12x11", 1, {4}, {S4(1, 2, 12, 11)}, {0}, F3, b_pool, 12, POOL_AVG_TOL, true},
    {"max pool 3x3/2 backward 2x32x28x28", 1, {4}, {S4(2, 32, 28, 28)}, {0}, F3, b_pool, 0, POOL_AVG_TOL, true},
    {"avg pool backward 2x32x28x28", 1, {4}, {S4(2, 32, 28, 28)}, {0}, F3, b_pool, 4, POOL_AVG_TOL, true},
    {"avg pool count_include_pad 2x3x9x10", 1, {4}, {S4(2, 3, 9, 10)}, {0}, F3, b_pool, 4, POOL_AVG_TOL, true},
    {"avg pool exclude pads 2x3x9x10", 1, {4}, {S4(2, 3, 9, 10)}, {0}, F3, b_pool, 5, POOL_AVG_TOL, true},
    {"avg pool ceil past pads 1x2x8x9", 1, {4}, {S4(1, 2, 8, 9)}, {0}, F3, b_pool, 6, POOL_AVG_TOL, true},
    {"avg pool stride > kernel ceil 1x2x11x13", 1, {4}, {S4(1, 2, 11, 13)}, {0}, F3, b_pool, 7, POOL_AVG_TOL, true},
    {"avg pool f16 2x3x9x10", 1, {4}, {S4(2, 3, 9, 10)}, {0}, {HWA_F16}, b_pool, 5, 1e-6},
    {"global avg pool 2x5x7x9", 1, {4}, {S4(2, 5, 7, 9)}, {0}, F3, b_pool, -1, 1e-12, true},
    {"batchnorm 2x3x5x7", 3, {4, 1, 1}, {S4(2, 3, 5, 7), {3}, {3}}, {0}, F3, b_bn, 0, 1e-12, true},
    {"batchnorm [N, C] 6x10", 3, {2, 1, 1}, {S2(6, 10), {10}, {10}}, {0}, F3, b_bn, 0, 1e-12, true},
    {"batchnorm sliced [N, C, L] 3x4x9", 3, {3, 1, 1}, {S3(3, 4, 9), {4}, {4}}, {V_SLICED, 0, 0}, F3, b_bn, 0, 1e-12, true},
    {"batchnorm train 2x3x5x7", 3, {4, 1, 1}, {S4(2, 3, 5, 7), {3}, {3}}, {0}, F3, b_bn, 1, 1e-12, true},
    {"batchnorm train [N, C, L] 4x6x11", 3, {3, 1, 1}, {S3(4, 6, 11), {6}, {6}}, {0}, F3, b_bn, 1, 1e-12, true},
    {"batchnorm train transposed [N, C] 9x5", 3, {2, 1, 1}, {S2(9, 5), {5}, {5}}, {V_TRANSPOSED, 0, 0}, F3, b_bn, 1, 1e-12, true},
    {"batchnorm train 8x64x28x28 (every thread)", 3, {4, 1, 1}, {S4(8, 64, 28, 28), {64}, {64}}, {0}, F3, b_bn, 1, 1e-12},
    {"dropout 0.3 13x1001", 1, {2}, {S2(13, 1001)}, {0}, F3, b_dropout, 30, 0.0, true},
    {"dropout 0.5 transposed 17x33", 1, {2}, {S2(17, 33)}, {V_TRANSPOSED}, F3, b_dropout, 50, 0.0, true},
    {"dropout 0 bf16 5x40", 1, {2}, {S2(5, 40)}, {0}, {HWA_BF16}, b_dropout, 0, 0.0},
    /* elementwise and indexing ops for ONNX models */
    {"map erf 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_ERF, 1e-12, true},
    {"map sqrt 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_SQRT, 1e-12, true},
    {"map exp 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_EXP, 1e-12, true},
    {"map log 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_LOG, 1e-12, true},
    {"map neg 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_NEG, 1e-12, true},
    {"map abs 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_ABS, 1e-12, true},
    {"map recip 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_RECIP, 1e-12, true},
    {"map floor 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_FLOOR, 1e-12, true},
    {"map ceil 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_CEIL, 1e-12, true},
    {"map round 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_ROUND, 1e-12, true},
    {"map sign 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_SIGN, 1e-12, true},
    {"map sin 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_SIN, 1e-12, true},
    {"map cos 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_COS, 1e-12, true},
    {"map leaky_relu 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_LEAKY_RELU, 1e-12, true},
    {"map clip 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_CLIP, 1e-12, true},
    {"map powc 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_POWC, 1e-12, true},
    {"map elu 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_ELU, 1e-12, true},
    {"map softplus 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_SOFTPLUS, 1e-12, true},
    {"map hard_sigmoid 7x129", 1, {2}, {S2(7, 129)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_HARD_SIGMOID, 1e-12, true},
    {"map not 3x5x67", 1, {3}, {S3(3, 5, 67)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_NOT, 1e-12, true},
    {"map exp 1031x1033 (threads)", 1, {2}, {S2(1031, 1033)}, {0}, F3, b_elt, ELT_MAP + HWA_MAP_EXP, 1e-12, true},
    {"map erf transposed 31x7", 1, {2}, {S2(31, 7)}, {V_TRANSPOSED}, F3, b_elt, ELT_MAP + HWA_MAP_ERF, 1e-12},
    {"map softplus bf16 9x33", 1, {2}, {S2(9, 33)}, {0}, {HWA_BF16}, b_elt, ELT_MAP + HWA_MAP_SOFTPLUS, 1e-12},
    {"binary pow 13x37 with row", 2, {2, 1}, {S2(13, 37), {37}}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_POW, 1e-12, true},
    {"binary max 3x5x7 with scalar", 2, {3, 1}, {S3(3, 5, 7), {1}}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_MAX, 1e-12, true},
    {"binary min 17x31", 2, {2, 2}, {S2(17, 31), S2(17, 31)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_MIN, 1e-12, true},
    {"binary eq 2x6x9 with 2x1x9", 2, {3, 3}, {S3(2, 6, 9), S3(2, 1, 9)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_EQ, 1e-12, false},
    {"binary lt 13x37 with row", 2, {2, 1}, {S2(13, 37), {37}}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_LT, 1e-12, false},
    {"binary le 3x5x7 with scalar", 2, {3, 1}, {S3(3, 5, 7), {1}}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_LE, 1e-12, false},
    {"binary gt 17x31", 2, {2, 2}, {S2(17, 31), S2(17, 31)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_GT, 1e-12, false},
    {"binary ge 2x6x9 with 2x1x9", 2, {3, 3}, {S3(2, 6, 9), S3(2, 1, 9)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_GE, 1e-12, false},
    {"binary and 13x37 with row", 2, {2, 1}, {S2(13, 37), {37}}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_AND, 1e-12, false},
    {"binary or 3x5x7 with scalar", 2, {3, 1}, {S3(3, 5, 7), {1}}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_OR, 1e-12, false},
    {"binary xor 17x31", 2, {2, 2}, {S2(17, 31), S2(17, 31)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_XOR, 1e-12, false},
    {"binary mod 2x6x9 with 2x1x9", 2, {3, 3}, {S3(2, 6, 9), S3(2, 1, 9)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_MOD, 1e-12, false},
    {"binary max sliced 11x29", 2, {2, 2}, {S2(11, 29), S2(11, 29)}, {0, V_SLICED}, F3, b_elt, ELT_BIN + HWA_BIN_MAX, 1e-12, true},
    {"binary pow 1031x1033 (threads)", 2, {2, 2}, {S2(1031, 1033), S2(1031, 1033)}, {0}, F3, b_elt, ELT_BIN + HWA_BIN_POW, 1e-12},
    {"where 9x41", 3, {2, 2, 2}, {S2(9, 41), S2(9, 41), S2(9, 41)}, {0}, F3, b_elt, ELT_WHERE, 1e-12, true},
    {"where transposed 13x17", 3, {2, 2, 2}, {S2(13, 17), S2(13, 17), S2(13, 17)}, {V_TRANSPOSED, 0, 0}, F3, b_elt, ELT_WHERE, 1e-12},
    {"gather axis 0 of 5x4x3 by 2x3", 1, {3, 2}, {S3(5, 4, 3), S2(2, 3)}, {0}, F3, b_elt, ELT_GATHER + 0, 1e-12, true},
    {"gather axis 1 of 5x4x3 by 2x3", 1, {3, 2}, {S3(5, 4, 3), S2(2, 3)}, {0}, F3, b_elt, ELT_GATHER + 1, 1e-12, true},
    {"gather axis 2 of 5x4x3 by 2x3", 1, {3, 2}, {S3(5, 4, 3), S2(2, 3)}, {0}, F3, b_elt, ELT_GATHER + 2, 1e-12, true},
    {"gather axis 1 of 2x3x4x5 by 7", 1, {4, 1}, {S4(2, 3, 4, 5), {7}}, {0}, F3, b_elt, ELT_GATHER + 1, 1e-12, true},
    {"gather axis 0 of transposed 6x9 by 4", 1, {2, 1}, {S2(6, 9), {4}}, {V_TRANSPOSED, 0}, F3, b_elt, ELT_GATHER + 0, 1e-12},
    {"gather i32 axis 1 of 3x8 by 5", 1, {2, 1}, {S2(3, 8), {5}}, {0}, F3, b_elt, ELT_GATHER_I32 + 1, 1e-12},
    {"reduce_max 4x5x6 to 4x1x6", 1, {3, 3}, {S3(4, 5, 6), S3(4, 1, 6)}, {0}, F3, b_elt, ELT_RMAX, 1e-12, true},
    {"reduce_min 4x5x6 to 1x5x1", 1, {3, 3}, {S3(4, 5, 6), S3(1, 5, 1)}, {0}, F3, b_elt, ELT_RMIN, 1e-12, true},
    {"reduce_max transposed 7x9 to 7x1", 1, {2, 2}, {S2(7, 9), S2(7, 1)}, {V_TRANSPOSED, 0}, F3, b_elt, ELT_RMAX, 1e-12},
    {"cast f32 -> i32 -> f32 7x333", 1, {2}, {S2(7, 333)}, {0}, F3, b_elt, ELT_CAST_I32, 1e-12},
    {"cast f32 -> i32 -> f32 transposed 13x17", 1, {2}, {S2(13, 17)}, {V_TRANSPOSED}, F3, b_elt, ELT_CAST_I32, 1e-12},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/* ---- running one case -------------------------------------------------- */

typedef struct variant {
    int isa;                 /* hwa__isa, or -1: the reference */
    int provider;            /* hwa__mm_provider, -1 for non-matmul cases */
    hwa_matmul_precision precision;
    const char *device;      /* another backend's device spec ("opencl:0"), or NULL: cpu */
} variant;

/* Why the last run_case on a device returned HWA_E_UNSUPPORTED: the op
 * and the backend's reason. */
static char case_unsupported[256];

/* An input of case c: a leaf of the case's shape, or a view of one. */
static hwa_tensor *make_input(hwa_ctx *ctx, const tcase *c, int i, hwa_tensor **leaf) {
    const int nd = c->ndim[i];
    int64_t sh[4];
    memcpy(sh, c->shape[i], sizeof sh);
    if (c->view[i] == V_TRANSPOSED) {
        int64_t t = sh[nd - 1];
        sh[nd - 1] = sh[nd - 2];
        sh[nd - 2] = t;
    } else if (c->view[i] == V_SLICED) {
        sh[nd - 1] += 5;
    }
    *leaf = hwa_tensor_new(ctx, c->dtype[i] == HWA_F16 || c->dtype[i] == HWA_BF16 ? c->dtype[i] : HWA_F32, nd, sh);
    if (!*leaf) return NULL;
    if (c->view[i] == V_TRANSPOSED) return hwa_transpose(ctx, *leaf);
    if (c->view[i] == V_SLICED) return hwa_slice(ctx, *leaf, -1, 2, c->shape[i][nd - 1]);
    return *leaf;
}

/* Runs c on variant v; out receives the result then every input gradient
 * (f32), *n their count, seg[0..nin] the length of each (the result's, then
 * each gradient's; 0 past them). */
static hwa_status run_case(const tcase *c, const variant *v, float **out, int64_t *n, int64_t seg[4]) {
    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.allocator = &guarded, .seed = 1234});
    if (!ctx) return HWA_E_NOMEM;
    hwa_backend *be = NULL;
    hwa_status st = HWA_E_INTERNAL;
    hwa_tensor *leaf[3] = {0}, *in[3] = {0};
    case_pos = NULL;
    case_labels = NULL;
    case_at = NULL;
    case_w8 = NULL;
    case_rp = case_col = NULL;
    case_running = case_seed = NULL;
    case_gidx = NULL;
    for (int i = 0; i < c->nin; i++) {
        in[i] = make_input(ctx, c, i, &leaf[i]);
        if (c->backward && leaf[i]) hwa_tensor_set_param(leaf[i]);
    }
    hwa_tensor *y = c->build(ctx, in, c);
    /* mean(y^3): not invariant under normalisation, unlike mean(y^2) */
    hwa_tensor *loss = c->backward ? hwa_mean(ctx, hwa_mul(ctx, hwa_mul(ctx, y, y), y)) : NULL;
    hwa_graph *g = hwa_graph_new(ctx);
    if (!y || !g || (c->backward && !loss)) goto done;
    /* y an output too: with a backward pass its storage would otherwise be
     * free for the gradients' temporaries once the loss is computed */
    if ((c->backward && (st = hwa_graph_build_forward(g, y))) || (st = hwa_graph_build_forward(g, c->backward ? loss : y)))
        goto done;
    if (c->backward && (st = hwa_graph_build_backward(g, loss))) goto done;
    if (!(be = hwa_backend_new(ctx, v->device ? v->device : "cpu"))) {
        st = hwa_ctx_last_status(ctx);
        goto done;
    }
    for (int i = 0; v->device && i < hwa_graph_n_nodes(g); i++) {
        const hwa_tensor *t = hwa_graph_node(g, i);
        if (!hwa_backend_supports(be, t)) {
            const char *why = hwa__backend_unsupported_reason(be, t);
            snprintf(case_unsupported, sizeof case_unsupported, "%s", why ? why : hwa__op_name(t->op));
            st = HWA_E_UNSUPPORTED;
            goto done;
        }
    }
    if ((st = hwa_ctx_alloc_leaves(ctx, be))) goto done;
    for (int i = 0; i < c->nin; i++)
        if ((st = hwa_tensor_fill_uniform(leaf[i], -1.0f, 1.0f))) goto done;
    if (case_pos && (st = fill_pos(case_pos))) goto done;
    if (case_at && (st = fill_at(case_at))) goto done;
    if (case_w8 && (st = fill_w8(case_w8))) goto done;
    if (case_labels && (st = fill_labels(case_labels, case_labels_mod))) goto done;
    if (case_gidx && (st = fill_gidx(case_gidx, case_gidx_n))) goto done;
    if (case_rp && (st = fill_csr(case_rp, case_col, hwa_tensor_dim(in[0], 1)))) goto done;
    if (case_running && (st = fill_running(case_running))) goto done;
    if (case_seed && (st = fill_seed(case_seed))) goto done;
    hwa__cpu_set_reference_only(v->isa < 0);
    hwa__isa_set_override(v->isa < 0 ? -1 : v->isa);
    hwa__mm_set_override(v->provider);
    hwa_backend_set_matmul_precision(be, v->precision);
    /* twice: the second run goes through the caches the first one filled */
    for (int r = 0; r < 2 && !st; r++) {
        if (c->backward) hwa_graph_zero_grads(g);
        st = hwa_graph_compute(g, be);
    }
    hwa__cpu_set_reference_only(false);
    hwa__isa_set_override(-1);
    hwa__mm_set_override(-1);
    if (st) goto done;
    int64_t total = hwa_tensor_nelements(y);
    for (int i = 0; c->backward && i < c->nin; i++) total += hwa_tensor_nelements(leaf[i]);
    *out = malloc((size_t)total * sizeof(float));
    *n = total;
    if (!*out) {
        st = HWA_E_NOMEM;
        goto done;
    }
    int64_t at = hwa_tensor_nelements(y);
    memset(seg, 0, 4 * sizeof *seg);
    seg[0] = at;
    for (int i = 0; c->backward && i < c->nin; i++) seg[1 + i] = hwa_tensor_nelements(leaf[i]);
    st = hwa_tensor_get_f32(y, *out, at);
    for (int i = 0; c->backward && i < c->nin && !st; i++) {
        st = hwa_tensor_get_f32(hwa_tensor_grad(leaf[i]), *out + at, hwa_tensor_nelements(leaf[i]));
        at += hwa_tensor_nelements(leaf[i]);
    }
done:
    if (st && st != HWA_E_UNSUPPORTED && hwa_ctx_last_status(ctx)) fprintf(stderr, "    %s: %s\n", c->name, hwa_ctx_last_error(ctx));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return st;
}

static double nmse(const float *ref, const float *got, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)got[i] - (double)ref[i];
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
    }
    if (!(num == num)) return INFINITY; /* NaN in the result */
    return den > 0 ? num / den : num;
}

/* The largest NMSE of the result and of each gradient, each on its own
 * scale (a gradient is often far smaller than the result beside it). */
static double worst_nmse(const float *ref, const float *got, const int64_t seg[4]) {
    double worst = 0;
    for (int i = 0, at = 0; i < 4; at += (int)seg[i], i++) {
        const double e = seg[i] ? nmse(ref + at, got + at, seg[i]) : 0;
        worst = e > worst || e != e ? e : worst;
    }
    return worst;
}

/* ---- the variants this host supports ----------------------------------- */

/* The highest level to test: the host's, or HWA_ISA's where it asks for
 * less (it caps oneDNN's own code for the whole process, so a level above
 * it would not be what its name says). */
static int top_isa(void) {
    const int env = hwa__isa_env();
    return env >= 0 ? env : (int)hwa__isa_host();
}

static int variants_for(const tcase *c, variant *vs) {
    int n = 0;
    const int top = top_isa();
    for (int isa = 0; isa <= top; isa++) {
        if (!c->matmul) {
            vs[n++] = (variant){isa, -1, HWA_MATMUL_PRECISION_F32};
            continue;
        }
        for (int p = 0; p < HWA_MM_PROVIDER_COUNT; p++) {
            if (!hwa__mm_provider_built((hwa__mm_provider)p)) continue;
            vs[n++] = (variant){isa, p, HWA_MATMUL_PRECISION_F32};
            /* bf16 and int8: oneDNN from AVX-512 on, our AMX kernels
             * (native) at the amx level */
            if ((p == HWA_MM_ONEDNN && isa >= HWA_ISA_AVX512) || (p == HWA_MM_NATIVE && isa >= HWA_ISA_AMX)) {
                vs[n++] = (variant){isa, p, HWA_MATMUL_PRECISION_BF16};
                vs[n++] = (variant){isa, p, HWA_MATMUL_PRECISION_INT8};
            }
        }
    }
    return n;
}

static const char *precision_name(hwa_matmul_precision p) {
    return p == HWA_MATMUL_PRECISION_BF16 ? "bf16" : p == HWA_MATMUL_PRECISION_INT8 ? "int8" : "f32";
}

TEST(every_op_on_every_kernel_variant_matches_the_reference) {
    int checked = 0, failed = 0;
    for (int isa = top_isa() + 1; isa < HWA_ISA_COUNT; isa++) {
        const char *why = isa <= (int)hwa__isa_host() ? "above HWA_ISA" : "not supported by this host";
        printf("    skipped: ISA level %s (%s)\n", hwa__isa_name((hwa__isa)isa), why);
        if (hwa_test_required(hwa__isa_name((hwa__isa)isa)))
            hwa_test_fail(__FILE__, __LINE__, "HWA_REQUIRE lists %s, but that ISA level did not run (%s)",
                          hwa__isa_name((hwa__isa)isa), why);
    }
    for (int p = 0; p < HWA_MM_PROVIDER_COUNT; p++)
        if (!hwa__mm_provider_built((hwa__mm_provider)p))
            printf("    skipped: matmul provider %s (not in this build)\n", hwa__mm_provider_name((hwa__mm_provider)p));
    /* HWA_TEST_CASES=text: only the cases whose name contains it (while iterating on one op) */
    const char *only = getenv("HWA_TEST_CASES");
    for (int ci = 0; ci < N_CASES; ci++) {
        const tcase *c = &cases[ci];
        if (only && !strstr(c->name, only)) continue;
        float *ref = NULL;
        int64_t nref = 0;
        const variant rv = {-1, -1, HWA_MATMUL_PRECISION_F32, NULL};
        int64_t rseg[4], gseg[4];
        CHECK_OK(run_case(c, &rv, &ref, &nref, rseg));
        variant vs[64];
        const int nv = variants_for(c, vs);
        for (int k = 0; k < nv; k++) {
            float *got = NULL;
            int64_t n = 0;
            const long g0 = guard_violations;
            hwa_status st = run_case(c, &vs[k], &got, &n, gseg);
            char vname[64];
            snprintf(vname, sizeof vname, "isa=%s%s%s%s%s", hwa__isa_name((hwa__isa)vs[k].isa),
                     vs[k].provider >= 0 ? " matmul=" : "",
                     vs[k].provider >= 0 ? hwa__mm_provider_name((hwa__mm_provider)vs[k].provider) : "",
                     vs[k].precision ? " precision=" : "", vs[k].precision ? precision_name(vs[k].precision) : "");
            double tol = c->tol;
            if (vs[k].precision == HWA_MATMUL_PRECISION_BF16) tol = tol > 3e-5 ? tol : 3e-5;
            if (vs[k].precision == HWA_MATMUL_PRECISION_INT8) tol = tol > 3e-3 ? tol : 3e-3;
            const double e = st || n != nref ? INFINITY : worst_nmse(ref, got, rseg);
            const bool ok = st == HWA_OK && n == nref && e <= tol && guard_violations == g0;
            checked++;
            if (!ok) {
                failed++;
                printf("    FAIL %-34s %-40s nmse %.3g (tol %.1g)%s%s\n", c->name, vname, e, tol,
                       st ? " status " : "", st ? hwa_status_name(st) : "");
                if (guard_violations != g0) printf("    FAIL %s %s: wrote outside a buffer\n", c->name, vname);
            }
            free(got);
        }
        free(ref);
    }
    printf("    %d case x variant runs compared with the reference, %d failed\n", checked, failed);
    CHECK_INT_EQ(failed, 0);
    CHECK_INT_EQ(guard_violations, 0);
}

/* ---- other backends ---------------------------------------------------- */

/* The reasons cases were skipped on a device, with their counts. */
typedef struct skip_tally {
    char why[16][256];
    int count[16];
    int n;
} skip_tally;

static void tally(skip_tally *t, const char *why) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->why[i], why)) {
            t->count[i]++;
            return;
        }
    if (t->n < 16) {
        snprintf(t->why[t->n], sizeof t->why[0], "%s", why);
        t->count[t->n++] = 1;
    }
}

/* Device kernels compute in f32 where the reference computes in double:
 * no case is held to better than this NMSE (the CPU's bit-exact training
 * cases say 0). */
#define DEVICE_TOL_FLOOR 1e-10

/* Every case on device spec (forward, and backward where the backend runs
 * the backward graph too), or only the matrix-product cases, against the
 * scalar reference; each case or half of one that does not run says why. */
static void every_case_on(const char *spec, const char *kind, bool matmul_only) {
    hwa_ctx *probe = hwa_ctx_new(NULL);
    hwa_backend *pb = probe ? hwa_backend_new(probe, spec) : NULL;
    if (!pb) {
        char why[512];
        snprintf(why, sizeof why, "%s", probe ? hwa_ctx_last_error(probe) : "no context");
        hwa_ctx_free(probe);
        SKIP_FOR(kind, "no %s: %s", spec, why);
    }
    hwa_backend_free(pb);
    hwa_ctx_free(probe);
    int runs = 0, failed = 0, skipped = 0, fwd_only = 0;
    double worst = 0;
    skip_tally tl = {0};
    for (int ci = 0; ci < N_CASES; ci++) {
        tcase c = cases[ci];
        if (matmul_only && !c.matmul) continue;
        const variant rv = {-1, -1, HWA_MATMUL_PRECISION_F32, NULL}, dv = {-1, -1, HWA_MATMUL_PRECISION_F32, spec};
        float *got = NULL, *ref = NULL;
        int64_t n = 0, nref = 0, seg[4], rseg[4];
        hwa_status st = run_case(&c, &dv, &got, &n, seg);
        if (st == HWA_E_UNSUPPORTED && c.backward) {
            /* the forward half alone, when only the backward graph needs
             * what the device lacks */
            char why[sizeof case_unsupported];
            snprintf(why, sizeof why, "%s", case_unsupported);
            c.backward = false;
            st = run_case(&c, &dv, &got, &n, seg);
            if (st != HWA_E_UNSUPPORTED) {
                printf("    %s: backward skipped on %s: %s\n", c.name, spec, why);
                tally(&tl, why);
                fwd_only++;
            }
        }
        if (st == HWA_E_UNSUPPORTED) {
            printf("    %s: skipped on %s: %s\n", c.name, spec, case_unsupported);
            tally(&tl, case_unsupported);
            skipped++;
            continue;
        }
        CHECK_OK(run_case(&c, &rv, &ref, &nref, rseg));
        const double tol = c.tol > DEVICE_TOL_FLOOR ? c.tol : DEVICE_TOL_FLOOR;
        const double e = st || n != nref ? INFINITY : worst_nmse(ref, got, rseg);
        runs++;
        worst = e > worst ? e : worst;
        if (st || e > tol) {
            failed++;
            printf("    FAIL %-40s %s nmse %.3g (tol %.1g)%s%s\n", c.name, spec, e, tol, st ? " status " : "",
                   st ? hwa_status_name(st) : "");
        }
        free(got);
        free(ref);
    }
    printf("    %s: %d cases compared with the reference (%d of them forward only), %d failed, %d skipped; "
           "worst nmse %.3g\n", spec, runs, fwd_only, failed, skipped, worst);
    for (int i = 0; i < tl.n; i++) printf("    %s: %3d x %s\n", spec, tl.count[i], tl.why[i]);
    CHECK_INT_EQ(failed, 0);
    CHECK_INT_EQ(guard_violations, 0);
}

/* f32 products go to CLBlast where it loads ... */
TEST(every_op_on_opencl_matches_the_reference) { every_case_on(hwa_test_opencl_spec(), "opencl", false); }

/* Every op on a CUDA GPU (HWA_TEST_CUDA, default cuda:0): the portable
 * kernels compiled by nvcc and the CUDA-only fast paths (cuBLASLt products
 * with their bias and ReLU epilogue, warp-level rows, fused attention),
 * forward and backward. cuda:N is a loadable module (libhwadapt_cuda.so,
 * built on src/backends/backend_module/ and backend_module.h), so this case
 * runs the harness through the module's loader and its forwarders to the
 * core too. Skips with the reason where there is no GPU, no driver or no
 * module; scripts/gpu-check.sh runs it on the GPU machine. The fake module
 * (test_cuda) computes nothing but the few kernels its tests need, so it
 * has no harness case. */
TEST(every_op_on_cuda_matches_the_reference) {
    const char *e = getenv("HWA_TEST_CUDA");
    every_case_on(e && *e ? e : "cuda:0", "cuda", false);
}

/* Every op the pjrt backend lowers to StableHLO, compiled by the PJRT
 * plugin (the XLA CPU plugin that scripts/install-deps.sh installs, or
 * HWA_PJRT_PLUGIN), forward and backward; the others say why they skip. */
TEST(every_op_on_pjrt_matches_the_reference) { every_case_on("pjrt:0", "pjrt", false); }

/* ... and the portable tiled kernel (the fallback) is held to the same
 * cases with CLBlast switched off. */
TEST(every_product_on_opencl_without_clblast_matches_the_reference) {
    const char *old = getenv("HWA_OPENCL_BLAS");
    char *saved = old ? strdup(old) : NULL;
    setenv("HWA_OPENCL_BLAS", "0", 1);
    every_case_on(hwa_test_opencl_spec(), "opencl", true);
    if (saved) setenv("HWA_OPENCL_BLAS", saved, 1);
    else unsetenv("HWA_OPENCL_BLAS");
    free(saved);
}

TEST(vector_conversions_give_the_scalar_codecs_bits) {
    /* every table's f32 -> f16/bf16 and back against hwa_f32_to_bf16 & co,
     * bit for bit: ties, NaNs with payloads, infinities, overflow to
     * infinity, denormals (alone in a block of 16 and not), random bits */
    enum { N = 1029 };
    uint32_t bits[N];
    const uint32_t special[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00400000u, 0x7f800000u,
                                0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffbfffffu, 0x7f7fffffu, 0x3f808000u,
                                0x3f818000u, 0x3f7f8000u, 0x477ff000u, 0x477fe000u, 0x38800000u, 0x33000000u};
    uint64_t rng = 12345;
    for (int i = 0; i < N; i++) bits[i] = (uint32_t)(hwa__rng_next(&rng) >> 32);
    for (int i = 0; i < (int)(sizeof special / sizeof special[0]); i++) bits[i * 37 % N] = special[i];
    for (int i = 0; i < N; i++)
        if (i >= 64 && i < 128) bits[i] &= 0x3fffffffu; /* a stretch of normal values only */
    float f[N];
    memcpy(f, bits, sizeof f);
    const hwa__simd *tables[2] = {NULL, NULL};
    int nt = 0;
#if defined(__x86_64__)
    if (hwa__isa_host() >= HWA_ISA_AVX2) tables[nt++] = &hwa__simd_avx2;
    if (hwa__isa_host() >= HWA_ISA_AVX512) tables[nt++] = &hwa__simd_avx512;
#endif
    if (!nt) SKIP_FOR("avx2", "no vector kernels on this host");
    for (int t = 0; t < nt; t++)
        for (int bf = 0; bf < 2; bf++) {
            uint16_t h[N], want[N];
            tables[t]->f32_to_half(f, h, N, bf);
            int bad = 0;
            for (int i = 0; i < N; i++) {
                want[i] = bf ? hwa_f32_to_bf16(f[i]) : hwa_f32_to_f16(f[i]);
                if (h[i] != want[i] && bad++ < 3)
                    printf("    %s %s: 0x%08x -> 0x%04x, codec 0x%04x\n", tables[t]->name, bf ? "bf16" : "f16",
                           (unsigned)bits[i], h[i], want[i]);
            }
            CHECK_INT_EQ(bad, 0);
            /* short and odd lengths (the vector loops' tails): same bits,
             * nothing written past the end */
            for (int n = 1; n <= 70; n += n < 34 ? 1 : 9) {
                uint16_t s[80];
                for (int i = 0; i < 80; i++) s[i] = 0xa5a5;
                tables[t]->f32_to_half(f + 3, s, n, bf);
                for (int i = 0; i < 80; i++) bad += s[i] != (i < n ? want[3 + i] : 0xa5a5);
            }
            CHECK_INT_EQ(bad, 0);
            float back[N];
            tables[t]->half_to_f32(want, back, N, bf);
            for (int i = 0; i < N; i++) {
                const float w = bf ? hwa_bf16_to_f32(want[i]) : hwa_f16_to_f32(want[i]);
                bad += memcmp(&back[i], &w, 4) != 0;
            }
            CHECK_INT_EQ(bad, 0);
        }
}

TEST(sentinels_catch_a_write_past_the_end) {
    /* the harness's own check: a deliberate overrun must be seen */
    const long g0 = guard_violations;
    unsigned char *p = guarded_alloc(NULL, 10, 64);
    CHECK(p);
    p[10] = 0;
    guarded_free(NULL, p);
    CHECK(guard_violations == g0 + 1);
    guard_violations = g0;
}

/* The graph of out (and, with backward, its backward pass) on a new "cpu"
 * backend, its leaves allocated. */
static hwa_status cpu_graph(hwa_ctx *ctx, hwa_tensor *out, bool backward, hwa_graph **g, hwa_backend **be) {
    hwa_status st;
    *be = NULL;
    *g = hwa_graph_new(ctx);
    if (!*g) return HWA_E_NOMEM;
    if ((st = hwa_graph_build_forward(*g, out)) || (backward && (st = hwa_graph_build_backward(*g, out)))) return st;
    *be = hwa_backend_new(ctx, "cpu");
    if (!*be) return hwa_ctx_last_status(ctx) ? hwa_ctx_last_status(ctx) : HWA_E_INTERNAL;
    return hwa_ctx_alloc_leaves(ctx, *be);
}

TEST(seed_linear_runs_as_one_fused_call_and_relu_on_simd) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 64, 100), *w = hwa_tensor_new_2d(ctx, HWA_F32, 50, 100);
    hwa_tensor *b = hwa_tensor_new_1d(ctx, HWA_F32, 50);
    hwa_tensor *y = hwa_bias_add(ctx, hwa_matmul_ex(ctx, x, w, false, true), b);
    hwa_tensor *r = hwa_relu(ctx, hwa_scale(ctx, y, 2.0f));
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, r, false, &g, &be));
    CHECK_OK(hwa_graph_compute(g, be));
    const char *mm = hwa_backend_kernel_name(be, hwa_graph_node(g, 0));
    printf("    matmul: %s; add: %s; relu: %s\n", mm, hwa_backend_kernel_name(be, y), hwa_backend_kernel_name(be, r));
    CHECK_STR_CONTAINS(mm, "+bias");
    CHECK_STR_CONTAINS(hwa_backend_kernel_name(be, y), "fused");
    if (hwa__isa_active() >= HWA_ISA_AVX2) CHECK(strcmp(hwa_backend_kernel_name(be, r), "ref") != 0);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* With oneDNN built in and a level that allows the libraries, the three conv
 * ops of a training step run on oneDNN's primitives, not the reference. */
TEST(conv2d_forward_and_backward_run_on_onednn) {
    if (!hwa__mm_provider_built(HWA_MM_ONEDNN) || !hwa__isa_libraries_allowed()) {
        SKIP_FOR("onednn", "oneDNN not in this build (or HWA_ISA below the libraries' level)");
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_4d(ctx, HWA_F32, 2, 16, 12, 12), *w = hwa_tensor_new_4d(ctx, HWA_F32, 32, 16, 3, 3);
    CHECK_OK(hwa_tensor_set_param(x));
    CHECK_OK(hwa_tensor_set_param(w));
    const hwa_conv2d_params p = {.stride = {2, 2}, .pad = {1, 1, 1, 1}};
    hwa_tensor *y = hwa_conv2d(ctx, x, w, NULL, &p);
    hwa_tensor *loss = hwa_sum(ctx, hwa_mul(ctx, y, y));
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, loss, true, &g, &be));
    CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
    CHECK_OK(hwa_tensor_fill_uniform(w, -1.0f, 1.0f));
    CHECK_OK(hwa_graph_compute(g, be));
    int seen = 0;
    for (int i = 0; i < hwa_graph_n_nodes(g); i++) {
        const hwa_tensor *t = hwa_graph_node(g, i);
        if (t->op != HWA_OP_CONV2D && t->op != HWA_OP_CONV2D_BACK_DATA && t->op != HWA_OP_CONV2D_BACK_WEIGHT) continue;
        printf("    %s: %s\n", hwa__op_name(t->op), hwa_backend_kernel_name(be, t));
        CHECK_STR_CONTAINS(hwa_backend_kernel_name(be, t), "onednn:");
        seen |= 1 << (t->op - HWA_OP_CONV2D);
    }
    CHECK_INT_EQ(seen, 7);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* In an inference graph, a convolution's bias add and the ReLU after it
 * run inside oneDNN's primitive (its kernel name says so, the two nodes
 * say they were fused), and the result equals the unfused reference's. */
TEST(conv2d_fuses_bias_and_relu_in_inference) {
    if (!hwa__mm_provider_built(HWA_MM_ONEDNN) || !hwa__isa_libraries_allowed()) {
        SKIP_FOR("onednn", "oneDNN not in this build (or HWA_ISA below the libraries' level)");
    }
    float got[2 * 8 * 9 * 9], want[2 * 8 * 9 * 9];
    for (int ref = 0; ref < 2; ref++) {
        hwa__cpu_set_reference_only(ref == 1);
        hwa_ctx_params cp = {.seed = 3};
        hwa_ctx *ctx = hwa_ctx_new(&cp);
        hwa_tensor *x = hwa_tensor_new_4d(ctx, HWA_F32, 2, 4, 9, 9), *w = hwa_tensor_new_4d(ctx, HWA_F32, 8, 4, 3, 3);
        hwa_tensor *b = hwa_tensor_new_1d(ctx, HWA_F32, 8);
        const hwa_conv2d_params p = {.pad = {1, 1, 1, 1}};
        hwa_tensor *y = hwa_relu(ctx, hwa_conv2d(ctx, x, w, b, &p));
        hwa_graph *g = NULL;
        hwa_backend *be = NULL;
        CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
        CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
        CHECK_OK(hwa_tensor_fill_uniform(w, -1.0f, 1.0f));
        CHECK_OK(hwa_tensor_fill_uniform(b, -1.0f, 1.0f));
        CHECK_OK(hwa_graph_compute(g, be));
        CHECK_OK(hwa_tensor_get_f32(y, ref ? want : got, 2 * 8 * 9 * 9));
        if (!ref) {
            const hwa_tensor *cv = hwa_graph_node(g, 0);
            CHECK_INT_EQ(cv->op, HWA_OP_CONV2D);
            printf("    conv2d: %s\n", hwa_backend_kernel_name(be, cv));
            CHECK_STR_CONTAINS(hwa_backend_kernel_name(be, cv), "+bias+relu");
            CHECK_STR_CONTAINS(hwa_backend_kernel_name(be, y), "fused into node 0");
        }
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
    hwa__cpu_set_reference_only(false);
    int bad = 0; /* (a max-reduction loop here crashes aarch64 gcc 12's vectorizer) */
    for (int i = 0; i < 2 * 8 * 9 * 9; i++) bad += !(fabs((double)got[i] - want[i]) < 1e-5);
    CHECK_INT_EQ(bad, 0);
}

/* With oneDNN built in and a level that allows the libraries, max and
 * average pooling and their backward run on oneDNN's pooling primitives;
 * average pooling counting pads whose ceil_mode window reaches past the pads
 * falls back to the OpenMP kernel (oneDNN's divisor would differ), and so
 * does a case where oneDNN has only its reference kernel. */
TEST(pooling_forward_and_backward_run_on_onednn) {
    if (!hwa__mm_provider_built(HWA_MM_ONEDNN) || !hwa__isa_libraries_allowed()) {
        SKIP_FOR("onednn", "oneDNN not in this build (or HWA_ISA below the libraries' level)");
    }
    const hwa_pool2d_params ps[] = {
        {HWA_POOL_MAX, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, false, false},
        {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, true, false},
        {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, false, true},
        {HWA_POOL_AVG, {3, 3}, {2, 2}, {1, 1, 1, 1}, {0}, true, true}, /* ceil past the pads: OpenMP */
        {HWA_POOL_MAX, {3, 3}, {1, 1}, {1, 1, 1, 1}, {2, 2}, false, false}, /* dilated: never oneDNN's ref */
    };
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        hwa_tensor *x = hwa_tensor_new_4d(ctx, HWA_F32, 2, 8, 12, 12);
        CHECK_OK(hwa_tensor_set_param(x));
        hwa_tensor *y = hwa_pool2d(ctx, x, &ps[k]);
        hwa_tensor *loss = hwa_sum(ctx, hwa_mul(ctx, y, y));
        hwa_graph *g = NULL;
        hwa_backend *be = NULL;
        CHECK_OK(cpu_graph(ctx, loss, true, &g, &be));
        CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
        CHECK_OK(hwa_graph_compute(g, be));
        int seen = 0;
        for (int i = 0; i < hwa_graph_n_nodes(g); i++) {
            const hwa_tensor *t = hwa_graph_node(g, i);
            if (t->op != HWA_OP_POOL2D && t->op != HWA_OP_POOL2D_BACK) continue;
            const char *kn = hwa_backend_kernel_name(be, t);
            printf("    case %zu %s: %s\n", k, hwa__op_name(t->op), kn);
            if (k < 4) CHECK_STR_CONTAINS(kn, k < 3 ? "onednn:pool:" : "openmp");
            CHECK_MSG(!strstr(kn, ":ref"), "oneDNN's reference pooling ran (the OpenMP kernel is faster)");
            seen |= 1 << (t->op == HWA_OP_POOL2D_BACK);
        }
        CHECK_INT_EQ(seen, 3);
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
}

/* The weights and inputs oneDNN's path reordered at one compute are reordered
 * again once they change: new values set between two computes give the
 * reference's result for the new values, not the old ones. */
TEST(conv2d_sees_inputs_changed_between_computes) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_4d(ctx, HWA_F32, 1, 16, 8, 8), *w = hwa_tensor_new_4d(ctx, HWA_F32, 16, 16, 3, 3);
    const hwa_conv2d_params p = {.pad = {1, 1, 1, 1}};
    hwa_tensor *y = hwa_conv2d(ctx, x, w, NULL, &p);
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    enum { NY = 16 * 8 * 8 };
    static float got[NY], want[NY];
    CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
    CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
    CHECK_OK(hwa_tensor_fill_uniform(w, -1.0f, 1.0f));
    CHECK_OK(hwa_graph_compute(g, be));
    for (int round = 0; round < 2; round++) {
        /* round 0: new weights; round 1: new activations */
        CHECK_OK(hwa_tensor_fill_uniform(round == 0 ? w : x, -1.0f, 1.0f));
        CHECK_OK(hwa_graph_compute(g, be));
        CHECK_OK(hwa_tensor_get_f32(y, got, NY));
        hwa__cpu_set_reference_only(true);
        const hwa_status st = hwa_graph_compute(g, be);
        hwa__cpu_set_reference_only(false);
        CHECK_OK(st);
        CHECK_OK(hwa_tensor_get_f32(y, want, NY));
        for (int i = 0; i < NY; i++) CHECK_NEAR(got[i], want[i], 1e-4 * (1 + fabsf(want[i])));
    }
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(bf16_and_int8_linears_run_on_our_amx_kernels) {
    /* on an AMX host, with nothing forced, the seed's Linear in bf16 and
     * int8 goes to our tile kernels (measured ahead of oneDNN's there), and
     * a bf16 model's Linear (bf16 tensors) too */
    if (hwa__isa_active() < HWA_ISA_AMX) {
        SKIP_FOR("amx", "no AMX tiles on this host (or HWA_ISA below amx)");
    }
    if (hwa__mm_forced() >= 0) {
        SKIP("HWA_MATMUL forces a provider");
    }
    const hwa_matmul_precision precs[2] = {HWA_MATMUL_PRECISION_BF16, HWA_MATMUL_PRECISION_INT8};
    const char *want[2] = {"native:amx-bf16+packed+bias", "native:amx-int8+packed+bias"};
    for (int i = 0; i < 3; i++) {
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        const hwa_dtype dt = i == 2 ? HWA_BF16 : HWA_F32;
        hwa_tensor *x = hwa_tensor_new_2d(ctx, dt, 64, 1000), *w = hwa_tensor_new_2d(ctx, dt, 1000, 1000);
        hwa_tensor *b = hwa_tensor_new_1d(ctx, dt, 1000);
        hwa_tensor *y = hwa_bias_add(ctx, hwa_matmul_ex(ctx, x, w, false, true), b);
        hwa_graph *g = NULL;
        hwa_backend *be = NULL;
        CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
        CHECK_OK(hwa_backend_set_matmul_precision(be, i == 2 ? HWA_MATMUL_PRECISION_F32 : precs[i]));
        CHECK_OK(hwa_graph_compute(g, be));
        const char *mm = hwa_backend_kernel_name(be, hwa_graph_node(g, 0));
        printf("    %s linear 64x1000->1000: %s\n", i == 2 ? "bf16-tensor" : i ? "int8" : "bf16", mm);
        CHECK_STR_CONTAINS(mm, i == 2 ? want[0] : want[i]);
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
}

/* The kernel name of a QLINEAR of M rows (1000 -> 1000, dynamic) at ISA
 * level isa, written into name. */
static void qlinear_kernel_at(int isa, int64_t M, char *name, size_t cap) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, M, 1000), *w = hwa_tensor_new_2d(ctx, HWA_I8, 1000, 1000);
    hwa_tensor *ws = hwa_tensor_new_1d(ctx, HWA_F32, 1000);
    hwa_tensor *y = hwa_qlinear(ctx, x, w, ws, 0.0f, 0);
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
    CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
    CHECK_OK(hwa_tensor_fill_uniform(ws, 0.0f, 1.0f));
    hwa__isa_set_override(isa);
    CHECK_OK(hwa_graph_compute(g, be));
    hwa__isa_set_override(-1);
    snprintf(name, cap, "%s", hwa_backend_kernel_name(be, y));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(qlinear_takes_the_int8_kernel_of_each_isa_level) {
    /* AMX tiles for a batch, the VNNI GEMV for one row, the VNNI GEMM
     * without AMX; where there is no int8 dot product the weights decoded
     * to f32 and the matmul providers, named so */
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    for (int isa = 0; isa <= top_isa(); isa++) {
        char one[96], batch[96];
        qlinear_kernel_at(isa, 1, one, sizeof one);
        qlinear_kernel_at(isa, 64, batch, sizeof batch);
        printf("    %s: M=1 %s, M=64 %s\n", hwa__isa_name((hwa__isa)isa), one, batch);
        if (isa >= HWA_ISA_AVX512 && caps->avx512_vnni) {
            CHECK_STR_CONTAINS(one, "qlinear:avx512vnni:gemv");
            CHECK_STR_CONTAINS(batch, isa >= HWA_ISA_AMX && caps->amx_int8 ? "qlinear:amx" : "qlinear:avx512vnni:gemm");
        } else {
            CHECK_STR_CONTAINS(one, "qlinear>f32:");
            CHECK_STR_CONTAINS(batch, "qlinear>f32:");
        }
    }
}

TEST(int8_products_no_provider_can_make_int8_take_the_f32_path_and_say_so) {
    /* at the avx2 level neither oneDNN's s8 kernels nor our AMX tiles run:
     * the INT8 precision's products go the f32 way (oneDNN where built,
     * not OpenBLAS's slower sgemm), with "int8>f32:" in front */
    if (hwa__mm_forced() >= 0) {
        SKIP("HWA_MATMUL forces a provider");
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 64, 1000), *w = hwa_tensor_new_2d(ctx, HWA_F32, 1000, 1000);
    hwa_tensor *y = hwa_matmul_ex(ctx, x, w, false, true);
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
    CHECK_OK(hwa_backend_set_matmul_precision(be, HWA_MATMUL_PRECISION_INT8));
    hwa__isa_set_override(HWA_ISA_AVX2 < top_isa() ? HWA_ISA_AVX2 : top_isa());
    CHECK_OK(hwa_graph_compute(g, be));
    hwa__isa_set_override(-1);
    const char *k = hwa_backend_kernel_name(be, y);
    printf("    int8 64x1000->1000 at avx2: %s\n", k);
    CHECK_STR_CONTAINS(k, "int8>f32:");
    if (hwa__mm_provider_built(HWA_MM_ONEDNN)) CHECK(strstr(k, "openblas") == NULL);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(half_precision_row_and_elementwise_ops_take_the_vector_kernels) {
    /* a bf16 model's softmax, its layer's activation and add, and a relu
     * gradient: the f32 vector kernels between one widening and one
     * rounding, not the scalar reference */
    if (hwa__isa_active() < HWA_ISA_AVX2) {
        SKIP_FOR("avx2", "no vector kernels on this host (or HWA_ISA below avx2)");
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_BF16, 64, 1000), *b = hwa_tensor_new_1d(ctx, HWA_BF16, 1000);
    hwa_tensor *h = hwa_add(ctx, x, b);
    hwa_tensor *r = hwa_relu(ctx, h);
    hwa_tensor *y = hwa_softmax(ctx, r);
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
    CHECK_OK(hwa_tensor_fill_uniform(x, -2.0f, 2.0f));
    CHECK_OK(hwa_tensor_fill_uniform(b, -1.0f, 1.0f));
    CHECK_OK(hwa_graph_compute(g, be));
    const char *kh = hwa_backend_kernel_name(be, h), *kr = hwa_backend_kernel_name(be, r), *ky = hwa_backend_kernel_name(be, y);
    printf("    bf16 add: %s; relu: %s; softmax: %s\n", kh, kr, ky);
    CHECK(strcmp(kh, "ref") != 0 && strcmp(kr, "ref") != 0 && strcmp(ky, "ref") != 0);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(decode_step_kernels_are_the_fast_ones) {
    /* the shapes of one llama decode step: rope on [1,1,H,D], attention
     * over a slice of a [1,H,n_ctx,D] cache, a Linear with M = 1 */
    if (hwa__isa_active() < HWA_ISA_AVX2) {
        SKIP_FOR("avx2", "no vector kernels on this host (or HWA_ISA below avx2)");
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    const int64_t T = 1, q_shape[4] = {1, T, 4, 32};
    static const int bthd[4] = {0, 2, 1, 3};
    hwa_tensor *x = hwa_tensor_new(ctx, HWA_F32, 4, q_shape), *pos = hwa_tensor_new(ctx, HWA_I32, 1, &T);
    hwa_tensor *kc = hwa_tensor_new_4d(ctx, HWA_F32, 1, 4, 64, 32), *vc = hwa_tensor_new_4d(ctx, HWA_F32, 1, 4, 64, 32);
    hwa_tensor *w = hwa_tensor_new_2d(ctx, HWA_F32, 96, 128);
    hwa_tensor *q = hwa_rope(ctx, x, pos, 10000.0f, HWA_ROPE_INTERLEAVED);
    hwa_tensor *a = hwa_attention(ctx, hwa_permute(ctx, q, bthd), hwa_slice(ctx, kc, 2, 0, 17), hwa_slice(ctx, vc, 2, 0, 17),
                                  true, 0.0f);
    const int64_t flat[2] = {1, 128};
    hwa_tensor *y = hwa_matmul_ex(ctx, hwa_reshape(ctx, hwa_cont(ctx, a), 2, flat), w, false, true);
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, y, false, &g, &be));
    CHECK_OK(fill_pos(pos));
    CHECK_OK(hwa_graph_compute(g, be));
    const char *kr = hwa_backend_kernel_name(be, q), *ka = hwa_backend_kernel_name(be, a), *ky = hwa_backend_kernel_name(be, y);
    printf("    rope: %s; attention: %s; matmul M=1: %s\n", kr, ka, ky);
    CHECK(strcmp(kr, "ref") != 0);
    CHECK(strcmp(ka, "ref") != 0);
    if (hwa__mm_forced() < 0) CHECK_STR_CONTAINS(ky, "gemv");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(cache_ops_of_a_reused_decode_step_take_the_fast_kernels) {
    /* a decode step's cache write and attention at run-time indices, over
     * the caches of 2 sequences */
    if (hwa__isa_active() < HWA_ISA_AVX2) {
        SKIP_FOR("avx2", "no vector kernels on this host (or HWA_ISA below avx2)");
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *kc = hwa_tensor_new_4d(ctx, HWA_F32, 2, 4, 64, 32), *vc = hwa_tensor_new_4d(ctx, HWA_F32, 2, 4, 64, 32);
    hwa_tensor *q = hwa_tensor_new_4d(ctx, HWA_F32, 2, 4, 1, 32), *k = hwa_tensor_new_4d(ctx, HWA_F32, 2, 4, 1, 32);
    hwa_tensor *at = hwa_tensor_new_2d(ctx, HWA_I32, 2, 2);
    hwa_tensor *w = hwa_cache_write(ctx, kc, k, at);
    hwa_tensor *a = hwa_cache_attention(ctx, q, w, hwa_cache_write(ctx, vc, k, at), at, 0.0f);
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(cpu_graph(ctx, a, false, &g, &be));
    CHECK_OK(hwa_tensor_set_bytes(at, (const int32_t[]){1, 16, 0, 3}, 4 * sizeof(int32_t)));
    CHECK_OK(hwa_graph_compute(g, be));
    const char *kw = hwa_backend_kernel_name(be, w), *ka = hwa_backend_kernel_name(be, a);
    printf("    cache_write: %s; cache_attention: %s\n", kw, ka);
    CHECK(strcmp(kw, "ref") != 0);
    CHECK(strcmp(ka, "ref") != 0);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* cpu_graph with a backward pass, and the weight w uniform in [-1, 1). */
static hwa_status training_graph(hwa_ctx *ctx, hwa_tensor *loss, hwa_tensor *w, hwa_graph **g, hwa_backend **be) {
    hwa_status st = cpu_graph(ctx, loss, true, g, be);
    return st ? st : hwa_tensor_fill_uniform(w, -1.0f, 1.0f);
}

/* A training step on oneDNN: the weight gradient's product adds straight
 * into the gradient (no temporary, no ADD), and the batch input, a leaf
 * rewritten before every step, is read in place rather than repacked. */
TEST(training_step_accumulates_into_gradients_and_reads_inputs_in_place) {
    if (!hwa__mm_provider_built(HWA_MM_ONEDNN) || hwa__mm_forced() >= 0 || hwa__isa_active() < HWA_ISA_AVX2) {
        SKIP("needs oneDNN, unforced, on AVX2 or better");
    }
    hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 7});
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 64, 100), *w = hwa_tensor_new_2d(ctx, HWA_F32, 50, 100);
    CHECK_OK(hwa_tensor_set_param(w));
    hwa_tensor *loss = hwa_mean(ctx, hwa_relu(ctx, hwa_matmul_ex(ctx, x, w, false, true)));
    hwa_graph *g = NULL;
    hwa_backend *be = NULL;
    CHECK_OK(training_graph(ctx, loss, w, &g, &be));
    for (int step = 0; step < 4; step++) {
        CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
        CHECK_OK(hwa_graph_zero_grads(g));
        CHECK_OK(hwa_graph_compute(g, be));
    }
    int acc = 0, packed_x = 0;
    for (int i = 0; i < hwa_graph_n_nodes(g); i++) {
        hwa_tensor *t = hwa_graph_node(g, i);
        const char *k = hwa_backend_kernel_name(be, t);
        acc += strstr(k, "+acc") != NULL;
        packed_x += strstr(k, "+packed") != NULL && t->op == HWA_OP_MATMUL && t->src[1] != w;
        if (t->op == HWA_OP_ADD && (t->flags & HWA_TF_INPLACE)) CHECK_STR_CONTAINS(k, "fused");
    }
    printf("    products adding into a gradient: %d; repacked inputs: %d\n", acc, packed_x);
    CHECK(acc == 1);
    CHECK(packed_x == 0);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

TEST(products_add_into_f32_and_bf16_gradients_on_every_provider) {
    /* two computes without zeroing: the weight's gradient doubles, each
     * time through a product that adds into it in place ("+acc") */
    const hwa_dtype types[2] = {HWA_F32, HWA_BF16};
    int runs = 0;
    for (int ti = 0; ti < 2; ti++)
        for (int pv = 0; pv < HWA_MM_PROVIDER_COUNT; pv++) {
            const bool bf = types[ti] == HWA_BF16;
            /* the providers run from the AVX2 level on; bf16 in oneDNN from
             * AVX-512, in our tiles from AMX; f32 in our kernels never adds */
            const hwa__isa isa = hwa__isa_active();
            if (!hwa__mm_provider_built((hwa__mm_provider)pv) || isa < HWA_ISA_AVX2 || (bf && pv == HWA_MM_OPENBLAS) ||
                (bf && pv == HWA_MM_ONEDNN && isa < HWA_ISA_AVX512) || (bf && pv == HWA_MM_NATIVE && isa < HWA_ISA_AMX) ||
                (pv == HWA_MM_NATIVE && !bf))
                continue;
            hwa_ctx *ctx = hwa_ctx_new(&(hwa_ctx_params){.seed = 11});
            hwa_tensor *x = hwa_tensor_new_2d(ctx, types[ti], 40, 300), *w = hwa_tensor_new_2d(ctx, types[ti], 70, 300);
            CHECK_OK(hwa_tensor_set_param(w));
            hwa_tensor *y = hwa_matmul_ex(ctx, x, w, false, true);
            hwa_tensor *loss = hwa_mean(ctx, hwa_mul(ctx, y, y));
            hwa_graph *g = NULL;
            hwa_backend *be = NULL;
            CHECK_OK(training_graph(ctx, loss, w, &g, &be));
            CHECK_OK(hwa_tensor_fill_uniform(x, -1.0f, 1.0f));
            hwa__mm_set_override(pv);
            const int64_t n = 70 * 300;
            float *g1 = malloc(2 * (size_t)n * sizeof *g1);
            CHECK(g1 != NULL);
            float *g2 = g1 + n;
            CHECK_OK(hwa_graph_zero_grads(g));
            CHECK_OK(hwa_graph_compute(g, be));
            CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(w), g1, n));
            CHECK_OK(hwa_graph_compute(g, be));
            CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(w), g2, n));
            int acc = 0;
            for (int i = 0; i < hwa_graph_n_nodes(g); i++)
                acc += strstr(hwa_backend_kernel_name(be, hwa_graph_node(g, i)), "+acc") != NULL;
            hwa__mm_set_override(-1);
            double num = 0, den = 0;
            for (int64_t i = 0; i < n; i++) {
                num += ((double)g2[i] - 2.0 * g1[i]) * ((double)g2[i] - 2.0 * g1[i]);
                den += 4.0 * (double)g1[i] * g1[i];
            }
            printf("    %s via %s: %d products adding into gradients, nmse of the doubled gradient %.2g\n",
                   hwa_dtype_name(types[ti]), hwa__mm_provider_name((hwa__mm_provider)pv), acc, num / den);
            CHECK(acc >= 1);
            CHECK(num / den < (bf ? 1e-4 : 1e-12));
            free(g1);
            hwa_backend_free(be);
            hwa_ctx_free(ctx);
            runs++;
        }
    if (!runs) SKIP("no provider adds products into gradients in this build at this ISA level");
}

TEST(f16_products_take_the_fast_paths) {
    /* f16 x f16 Linear + bias + relu: widened, one fused provider call;
     * f32 x f16 weights with M = 1 (an f16 llama's decode step): the GEMV
     * on the f16 weights in place */
    if (hwa__isa_active() < HWA_ISA_AVX2) {
        SKIP_FOR("avx2", "no vector kernels on this host (or HWA_ISA below avx2)");
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F16, 64, 100), *w = hwa_tensor_new_2d(ctx, HWA_F16, 50, 100);
    hwa_tensor *b = hwa_tensor_new_1d(ctx, HWA_F16, 50);
    hwa_tensor *y = hwa_relu(ctx, hwa_bias_add(ctx, hwa_matmul_ex(ctx, x, w, false, true), b));
    hwa_tensor *x1 = hwa_tensor_new_2d(ctx, HWA_F32, 1, 100);
    hwa_tensor *y1 = hwa_matmul_ex(ctx, x1, w, false, true);
    hwa_graph *g = hwa_graph_new(ctx), *g1 = hwa_graph_new(ctx);
    CHECK_OK(hwa_graph_build_forward(g, y));
    CHECK_OK(hwa_graph_build_forward(g1, y1));
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
    CHECK_OK(hwa_graph_compute(g, be)); /* kernel names are the last compute's */
    char k[128];
    snprintf(k, sizeof k, "%s", hwa_backend_kernel_name(be, hwa_graph_node(g, 0)));
    CHECK_STR_CONTAINS(hwa_backend_kernel_name(be, y), "fused");
    CHECK_OK(hwa_graph_compute(g1, be));
    const char *k1 = hwa_backend_kernel_name(be, y1);
    printf("    f16 linear+bias+relu: %s; f32 x f16 M=1: %s\n", k, k1);
    CHECK(hwa_tensor_dtype(y) == HWA_F16 && hwa_tensor_dtype(y1) == HWA_F32);
    CHECK_STR_CONTAINS(k, "f16>f32:");
    CHECK_STR_CONTAINS(k, "+bias+relu");
    if (hwa__mm_forced() < 0) CHECK_STR_CONTAINS(k1, "native:gemv-f16w-");
    else CHECK(strcmp(k1, "ref") != 0 && k1[0]);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* f32 x bf16 weights with M = 1 and 3 (a bf16 model's decode step): the GEMV
 * reads the bf16 weights in place, and its sums are bit for bit those of the
 * f32 GEMV over the same weights widened to f32 (the same products in the
 * same order). */
TEST(bf16_weights_are_read_in_place_by_the_gemv_exactly_as_widened) {
    if (hwa__isa_active() < HWA_ISA_AVX2) {
        SKIP_FOR("avx2", "no vector kernels on this host (or HWA_ISA below avx2)");
    }
    for (int M = 1; M <= 3; M += 2) {
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, M, 203), *wb = hwa_tensor_new_2d(ctx, HWA_BF16, 77, 203);
        hwa_tensor *wf = hwa_tensor_new_2d(ctx, HWA_F32, 77, 203);
        hwa_tensor *yb = hwa_matmul_ex(ctx, x, wb, false, true), *yf = hwa_matmul_ex(ctx, x, wf, false, true);
        hwa_graph *gb = hwa_graph_new(ctx), *gf = hwa_graph_new(ctx);
        CHECK_OK(hwa_graph_build_forward(gb, yb));
        CHECK_OK(hwa_graph_build_forward(gf, yf));
        hwa_backend *be = hwa_backend_new(ctx, "cpu");
        CHECK_OK(hwa_ctx_alloc_leaves(ctx, be));
        float xv[3 * 203], wv[77 * 203];
        for (int i = 0; i < M * 203; i++) xv[i] = sinf((float)i * 0.7f);
        for (int i = 0; i < 77 * 203; i++) wv[i] = cosf((float)i * 0.3f) * 0.1f;
        CHECK_OK(hwa_tensor_set_f32(x, xv, M * 203));
        CHECK_OK(hwa_tensor_set_f32(wb, wv, 77 * 203)); /* rounded to bf16 */
        CHECK_OK(hwa_tensor_get_f32(wb, wv, 77 * 203));  /* those values exactly, as f32 */
        CHECK_OK(hwa_tensor_set_f32(wf, wv, 77 * 203));
        CHECK_OK(hwa_graph_compute(gb, be));
        char k[128];
        snprintf(k, sizeof k, "%s", hwa_backend_kernel_name(be, yb));
        CHECK_OK(hwa_graph_compute(gf, be));
        float a[3 * 77], b[3 * 77];
        CHECK_OK(hwa_tensor_get_f32(yb, a, M * 77));
        CHECK_OK(hwa_tensor_get_f32(yf, b, M * 77));
        printf("    M=%d: %s\n", M, k);
        if (hwa__mm_forced() < 0) {
            CHECK_STR_CONTAINS(k, "native:gemv-bf16w-");
            CHECK_MSG(!memcmp(a, b, sizeof(float) * (size_t)(M * 77)), "M=%d: the bf16 GEMV differs from the f32 one "
                      "(max |diff| %.3g)", M, hwa_test_max_abs_diff(a, b, M * 77));
        }
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
}
