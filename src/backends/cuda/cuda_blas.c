/* The host side of the CUDA backend's CUDA-only fast paths: matrix products
 * through cuBLASLt, and the choice and launch of the kernels of
 * cuda_fast.cu (row ops, attention). hwa__cu_fast_run is the backend's
 * fast slot; whatever it declines (*name NULL) runs on the portable kernel.
 *
 * MATMUL taken: A, B and the output all f32, all f16 or all bf16; each
 * matrix with one unit stride (row- or column-major) and a leading
 * dimension at least its width; batch dims that one stride steps through
 * for each operand (B's dims of extent 1 broadcast, stride 0). The product
 * is computed column-major as cuBLASLt wants it: C^T = B^T A^T when C is
 * row-major (the usual case), C = A B when C is column-major. A B shared by
 * the batch, with row-major A and C stored batch after batch, is one
 * product of batch * M rows. Compute type: f32 tensors by the backend's
 * precision (F32 and INT8: CUBLAS_COMPUTE_32F, exact; TF32:
 * CUBLAS_COMPUTE_32F_FAST_TF32; BF16: CUBLAS_COMPUTE_32F_FAST_16BF), f16 and
 * bf16 tensors CUBLAS_COMPUTE_32F (tensor cores, f32 accumulation, and
 * no algorithm whose split-K partial sums are kept in 16 bits).
 * Declined: mixed dtypes, a matrix with no unit stride, batch dims no
 * single stride steps through, extents past int32, a layout for which the
 * heuristic finds no algorithm or cuBLASLt returns NOT_SUPPORTED or
 * INVALID_VALUE (remembered: not asked again). No epilogue fusion (bias,
 * activation): the dispatcher hands over one node at a time.
 *
 * One 32 MiB workspace, allocated once, serves cuBLASLt and the partial
 * results of split-K attention: everything runs in order on one stream.
 *
 * Compiled against CUDA 13; its view-to-layout mapping and dispatch are
 * checked on the CPU by tests/cuda_emu/test_cuda_blas_emu.c, but no
 * cuBLASLt call has yet run on a GPU (the machine it was written on has
 * none). */
#include <math.h>
#include <string.h>

/* cublasLt.h declares cublasLtLoggerForceDisable() without a prototype;
 * our -Wstrict-prototypes must not fail on it where the CUDA headers are
 * not system headers */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#pragma GCC diagnostic pop
#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_fast.h"
#include "backends/cuda/cuda_fast_kernels.h"

/* HWA_MATMUL_PRECISION_TF32 of include/hwadapt/backend.h (being added) */
enum { PREC_TF32 = 3 };

#define WORKSPACE_BYTES ((size_t)32 << 20)
#define MAX_PLANS 64
/* keys per split-K chunk at least, and blocks per multiprocessor aimed at */
#define SPLIT_MIN_KEYS 64
#define SPLIT_BLOCKS_PER_SM 4

/* A matrix as cuBLASLt reads it: column-major rows x cols with leading
 * dimension ld (the stored matrix; trans: the product reads its
 * transpose), bs elements between batch items. */
typedef struct lay {
    int64_t rows, cols, ld, trans, bs;
} lay;

/* The epilogues a plan may have: none, a bias row added, then a ReLU. */
enum { EPI_NONE = 0, EPI_BIAS = 1, EPI_RELU_BIAS = 2 };

/* Everything a plan depends on; int64_t fields only, so no padding and
 * memcmp compares keys. */
typedef struct plan_key {
    int64_t dtype, compute, batch;
    int64_t epi, bias_type; /* EPI_*, and the bias's cudaDataType with one */
    lay x, y, d;
    int64_t align[3]; /* bytes: x, y, d (and c) */
} plan_key;

typedef struct plan {
    plan_key key;
    bool ok; /* false: no algorithm for this key; the portable kernel runs it */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t lay[3]; /* x, y, d (c is d) */
    cublasLtMatmulAlgo_t algo;
    uint64_t used;
} plan;

struct hwa__cu_fast {
    hwa_ctx *ctx;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *ws; /* WORKSPACE_BYTES */
    int n_sm;
    size_t smem_optin; /* shared memory a block may opt in to */
    plan plans[MAX_PLANS];
    int n_plans;
    uint64_t clock;
};

static hwa_status cuda_fail(hwa_ctx *ctx, const char *spec, const char *what, cudaError_t e) {
    return hwa__err(ctx, e == cudaErrorMemoryAllocation ? HWA_E_NOMEM : HWA_E_DEVICE, "%s: %s: %s", spec, what,
                    cudaGetErrorString(e));
}

static hwa_status lt_fail(hwa_ctx *ctx, const char *spec, const char *what, cublasStatus_t s) {
    return hwa__err(ctx, s == CUBLAS_STATUS_ALLOC_FAILED ? HWA_E_NOMEM : HWA_E_DEVICE, "%s: %s: %s", spec, what,
                    cublasLtGetStatusString(s));
}

static bool float_dt(int32_t dt) { return dt == HWA_F32 || dt == HWA_F16 || dt == HWA_BF16; }

/* Device address of v's first element in m. */
static void *first_of(hwa__gpu_mem m, const hwa__gpu_view *v) {
    return (char *)m + (size_t)v->off * hwa_dtype_block_bytes((hwa_dtype)v->dt);
}

/* ---- state ---------------------------------------------------------------- */

static void plan_clear(plan *p) {
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    for (int i = 0; i < 3; i++)
        if (p->lay[i]) cublasLtMatrixLayoutDestroy(p->lay[i]);
    memset(p, 0, sizeof *p);
}

hwa_status hwa__cu_fast_new(hwa_ctx *ctx, const char *spec, void *stream, hwa__cu_fast **out) {
    if (!out) return hwa__err(ctx, HWA_E_MISUSE, "hwa__cu_fast_new: out is NULL");
    *out = NULL;
    if (!spec) spec = "cuda";
    hwa__cu_fast *f = hwa__calloc(ctx, 1, sizeof *f);
    if (!f) return HWA_E_NOMEM;
    f->ctx = ctx;
    f->stream = (cudaStream_t)stream;
    int dev = 0, n_sm = 0, optin = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e != cudaSuccess) {
        hwa__free(ctx, f);
        return cuda_fail(ctx, spec, "the device's attributes", e);
    }
    f->n_sm = n_sm > 0 ? n_sm : 1;
    f->smem_optin = optin > 0 ? (size_t)optin : 0;
    const char *kernel = "?";
    const int ke = hwa__cu_kernels_init(f->smem_optin, &kernel);
    if (ke) {
        hwa__free(ctx, f);
        return cuda_fail(ctx, spec, kernel, (cudaError_t)ke);
    }
    const cublasStatus_t s = cublasLtCreate(&f->lt);
    if (s != CUBLAS_STATUS_SUCCESS) {
        hwa__free(ctx, f);
        return lt_fail(ctx, spec, "cuBLASLt cannot start (cublasLtCreate)", s);
    }
    e = cudaMalloc(&f->ws, WORKSPACE_BYTES);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* so that the next launch check does not see it */
        cublasLtDestroy(f->lt);
        hwa__free(ctx, f);
        return hwa__err(ctx, e == cudaErrorMemoryAllocation ? HWA_E_NOMEM : HWA_E_DEVICE,
                        "%s: the fast paths' workspace of %zu bytes: %s", spec, WORKSPACE_BYTES,
                        cudaGetErrorString(e));
    }
    *out = f;
    return HWA_OK;
}

void hwa__cu_fast_free(hwa__cu_fast *f) {
    if (!f) return;
    /* queued products and kernels may still use the workspace */
    (void)cudaStreamSynchronize(f->stream);
    (void)cudaFree(f->ws);
    for (int i = 0; i < f->n_plans; i++) plan_clear(&f->plans[i]);
    cublasLtDestroy(f->lt);
    hwa__free(f->ctx, f);
}

/* ---- matrix products ----------------------------------------------------- */

/* A matrix of the product by its logical extents and steps (elements
 * between adjacent rows, adjacent columns, batch items). */
typedef struct mat {
    int64_t rows, cols, rs, cs, bs;
} mat;

/* x as a column-major matrix (unit row step) or the transpose of one (unit
 * column step), with a leading dimension that keeps columns (rows) apart.
 * False when neither step is 1. */
static bool lay_of(const mat *x, lay *l) {
    const bool unit_r = x->rows == 1 || x->rs == 1, unit_c = x->cols == 1 || x->cs == 1;
    if (unit_r && (x->cols == 1 || x->cs >= x->rows)) {
        *l = (lay){x->rows, x->cols, x->cols == 1 ? x->rows : x->cs, 0, x->bs};
    } else if (unit_c && (x->rows == 1 || x->rs >= x->cols)) {
        *l = (lay){x->cols, x->rows, x->rows == 1 ? x->cols : x->rs, 1, x->bs};
    } else {
        return false;
    }
    return l->ld >= 1;
}

/* The one stride that steps through the batch items (i0, i1) of v in
 * order, i0 < nb0 and i1 < nb1 (the output's batch extents), where v's
 * batch extents are those or 1 (broadcast: stride 0). False when no single
 * stride does or an extent is neither. */
static bool batch_stride_of(const hwa__gpu_view *v, int64_t nb0, int64_t nb1, int64_t *s) {
    if ((v->ne[0] != nb0 && v->ne[0] != 1) || (v->ne[1] != nb1 && v->ne[1] != 1)) return false;
    const int64_t s0 = v->ne[0] == 1 ? 0 : v->st[0], s1 = v->ne[1] == 1 ? 0 : v->st[1];
    if (nb0 == 1) *s = s1;
    else if (nb1 == 1) *s = s0;
    else if (s0 == s1 * nb1) *s = s1;
    else return false;
    return *s >= 0;
}

/* One cuBLASLt product D' = op(X) op(Y) (column-major) and its pointers. */
typedef struct gemm {
    lay x, y, d;
    int64_t batch;
    const void *px, *py;
    void *pd;
    bool c_row_major; /* computed as C^T = B^T A^T: cuBLASLt's rows are C's columns */
} gemm;

static bool fits_i32(int64_t v) { return v >= 1 && v <= INT32_MAX; }

/* The product of node (v[0] = A op B, A = v[1], B = v[2], stored
 * transposed where ta / tb) as one cuBLASLt call; false when it is not
 * one. */
static bool gemm_of(const hwa__gpu_view *v, const hwa__gpu_mem *m, bool ta, bool tb, gemm *g) {
    const hwa__gpu_view *c = &v[0], *a = &v[1], *b = &v[2];
    const int64_t M = c->ne[2], N = c->ne[3], K = ta ? a->ne[2] : a->ne[3];
    if ((ta ? a->ne[3] : a->ne[2]) != M || (tb ? b->ne[3] : b->ne[2]) != K || (tb ? b->ne[2] : b->ne[3]) != N)
        return false;
    const int64_t nb0 = c->ne[0], nb1 = c->ne[1];
    int64_t sa, sb, sc;
    if (!batch_stride_of(a, nb0, nb1, &sa) || !batch_stride_of(b, nb0, nb1, &sb) ||
        !batch_stride_of(c, nb0, nb1, &sc))
        return false;
    g->batch = nb0 * nb1;
    if (g->batch > 1 && sc == 0) return false; /* items of the output would overlap */
    /* logical steps: A (m, k), B (k, n), C (m, n) */
    const int64_t a_rs = ta ? a->st[3] : a->st[2], a_cs = ta ? a->st[2] : a->st[3];
    const int64_t b_rs = tb ? b->st[3] : b->st[2], b_cs = tb ? b->st[2] : b->st[3];
    const int64_t c_rs = c->st[2], c_cs = c->st[3];
    const mat dr = {N, M, c_cs, c_rs, sc}, xr = {N, K, b_cs, b_rs, sb}, yr = {K, M, a_cs, a_rs, sa};
    const mat dc = {M, N, c_rs, c_cs, sc}, xc = {M, K, a_rs, a_cs, sa}, yc = {K, N, b_rs, b_cs, sb};
    bool fold_ok = false;
    if (lay_of(&dr, &g->d) && !g->d.trans && lay_of(&xr, &g->x) && lay_of(&yr, &g->y)) {
        /* C row-major: C^T = B^T A^T */
        g->px = first_of(m[2], b);
        g->py = first_of(m[1], a);
        fold_ok = true;
        g->c_row_major = true;
    } else if (lay_of(&dc, &g->d) && !g->d.trans && lay_of(&xc, &g->x) && lay_of(&yc, &g->y)) {
        /* C column-major: C = A B */
        g->px = first_of(m[1], a);
        g->py = first_of(m[2], b);
        g->c_row_major = false;
    } else {
        return false;
    }
    g->pd = first_of(m[0], c);
    /* B shared and A^T's and C^T's columns (A's and C's rows) running on
     * from one item into the next: one product over every item's rows. */
    if (fold_ok && g->batch > 1 && g->x.bs == 0 && !g->y.trans && g->y.bs == g->y.cols * g->y.ld &&
        g->d.bs == g->d.cols * g->d.ld) {
        g->y.cols *= g->batch;
        g->d.cols *= g->batch;
        g->y.bs = g->d.bs = 0;
        g->batch = 1;
    }
    if (g->batch == 1) g->x.bs = g->y.bs = g->d.bs = 0;
    return fits_i32(g->x.rows) && fits_i32(g->x.cols) && fits_i32(g->y.rows) && fits_i32(g->y.cols) &&
           fits_i32(g->d.rows) && fits_i32(g->d.cols) && fits_i32(g->batch);
}

/* The alignment the heuristic may assume for a matrix at p whose batch
 * items are bs_bytes apart: the largest power of two dividing both, at most
 * the 256 bytes cuBLASLt asks for by default. */
static int64_t align_of(const void *p, int64_t bs_bytes) {
    const uint64_t x = (uint64_t)(uintptr_t)p | (uint64_t)bs_bytes | 256u;
    return (int64_t)(x & (~x + 1));
}

/* The compute type and name of a product of dtype dt under prec; the
 * matrices' cudaDataType in *type. */
static void compute_of(int32_t dt, hwa_matmul_precision prec, cublasComputeType_t *ct, cudaDataType_t *type,
                       const char **name) {
    *ct = CUBLAS_COMPUTE_32F;
    if (dt == HWA_F16) {
        *type = CUDA_R_16F;
        *name = "cuda:cublaslt:f16";
    } else if (dt == HWA_BF16) {
        *type = CUDA_R_16BF;
        *name = "cuda:cublaslt:bf16";
    } else if ((int)prec == PREC_TF32) {
        *type = CUDA_R_32F;
        *ct = CUBLAS_COMPUTE_32F_FAST_TF32;
        *name = "cuda:cublaslt:f32:tf32";
    } else if (prec == HWA_MATMUL_PRECISION_BF16) {
        *type = CUDA_R_32F;
        *ct = CUBLAS_COMPUTE_32F_FAST_16BF;
        *name = "cuda:cublaslt:f32:bf16";
    } else { /* F32, and INT8, which stays f32 here (hwa_matmul_precision) */
        *type = CUDA_R_32F;
        *name = "cuda:cublaslt:f32";
    }
}

static cublasStatus_t layout_new(cublasLtMatrixLayout_t *out, cudaDataType_t type, const lay *l, int64_t batch) {
    cublasStatus_t s = cublasLtMatrixLayoutCreate(out, type, (uint64_t)l->rows, (uint64_t)l->cols, l->ld);
    if (s != CUBLAS_STATUS_SUCCESS || batch == 1) return s;
    const int32_t count = (int32_t)batch;
    const int64_t stride = l->bs;
    s = cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                             sizeof stride);
    return s;
}

/* Fills p for key k: descriptors and the heuristic's first algorithm, or
 * p->ok false when it has none. An error only for what is not a refusal
 * of the layout (out of memory, a failing library). */
static hwa_status plan_make(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const plan_key *k, plan *p) {
    memset(p, 0, sizeof *p);
    p->key = *k;
    const cudaDataType_t type = (cudaDataType_t)k->dtype;
    cublasStatus_t s = cublasLtMatmulDescCreate(&p->desc, (cublasComputeType_t)k->compute, CUDA_R_32F);
    const cublasOperation_t tx = k->x.trans ? CUBLAS_OP_T : CUBLAS_OP_N, ty = k->y.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &tx, sizeof tx);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &ty, sizeof ty);
    if (s == CUBLAS_STATUS_SUCCESS && k->epi != EPI_NONE) {
        const cublasLtEpilogue_t ep = k->epi == EPI_RELU_BIAS ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        const int32_t bt = (int32_t)k->bias_type;
        s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt);
    }
    if (s == CUBLAS_STATUS_SUCCESS) s = layout_new(&p->lay[0], type, &k->x, k->batch);
    if (s == CUBLAS_STATUS_SUCCESS) s = layout_new(&p->lay[1], type, &k->y, k->batch);
    if (s == CUBLAS_STATUS_SUCCESS) s = layout_new(&p->lay[2], type, &k->d, k->batch);
    cublasLtMatmulPreference_t pref = NULL;
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulPreferenceCreate(&pref);
    const uint64_t ws = WORKSPACE_BYTES;
    const uint32_t al[4] = {(uint32_t)k->align[0], (uint32_t)k->align[1], (uint32_t)k->align[2],
                            (uint32_t)k->align[2]};
    const cublasLtMatmulPreferenceAttributes_t al_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    for (int i = 0; i < 4 && s == CUBLAS_STATUS_SUCCESS; i++)
        s = cublasLtMatmulPreferenceSetAttribute(pref, al_attr[i], &al[i], sizeof al[i]);
    /* f32 accumulation for 16-bit outputs: a split-K reduction may add its
     * partial sums in the output type (INPLACE, OUTPUT_TYPE schemes) */
    const uint32_t red = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
    if (s == CUBLAS_STATUS_SUCCESS && type != CUDA_R_32F)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &red, sizeof red);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    memset(&res, 0, sizeof res);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(f->lt, p->desc, p->lay[0], p->lay[1], p->lay[2], p->lay[2], pref, 1,
                                           &res, &found);
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (s == CUBLAS_STATUS_SUCCESS && found > 0 && res.state == CUBLAS_STATUS_SUCCESS &&
        res.workspaceSize <= WORKSPACE_BYTES) {
        p->algo = res.algo;
        p->ok = true;
        return HWA_OK;
    }
    /* no algorithm: the key stays in the cache as a refusal */
    for (int i = 0; i < 3; i++)
        if (p->lay[i]) cublasLtMatrixLayoutDestroy(p->lay[i]);
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    memset(p, 0, sizeof *p);
    p->key = *k;
    if (s == CUBLAS_STATUS_SUCCESS || s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE)
        return HWA_OK;
    return lt_fail(ctx, spec, "cuBLASLt's matmul plan", s);
}

/* The plan of key k, made on first use; the least recently used one makes
 * room when the cache is full (shapes that change every step, say). */
static hwa_status plan_get(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const plan_key *k, plan **out) {
    plan *p = NULL;
    for (int i = 0; i < f->n_plans && !p; i++)
        if (!memcmp(&f->plans[i].key, k, sizeof *k)) p = &f->plans[i];
    if (!p) {
        if (f->n_plans < MAX_PLANS) {
            p = &f->plans[f->n_plans++];
        } else {
            p = &f->plans[0];
            for (int i = 1; i < MAX_PLANS; i++)
                if (f->plans[i].used < p->used) p = &f->plans[i];
            plan_clear(p);
        }
        const hwa_status st = plan_make(f, ctx, spec, k, p);
        if (st) {
            memset(p, 0, sizeof *p); /* an empty key: never matched, evicted first */
            return st;
        }
    }
    p->used = ++f->clock;
    *out = p;
    return HWA_OK;
}

/* "cuda:cublaslt:f32" with "+bias" or "+bias+relu" for epilogue epi
 * (static). */
static const char *epi_name(const char *base, int epi) {
    static const char *const bases[] = {"cuda:cublaslt:f16", "cuda:cublaslt:bf16", "cuda:cublaslt:f32:tf32",
                                        "cuda:cublaslt:f32:bf16", "cuda:cublaslt:f32"};
    static const char *const with[][2] = {
        {"cuda:cublaslt:f16+bias", "cuda:cublaslt:f16+bias+relu"},
        {"cuda:cublaslt:bf16+bias", "cuda:cublaslt:bf16+bias+relu"},
        {"cuda:cublaslt:f32:tf32+bias", "cuda:cublaslt:f32:tf32+bias+relu"},
        {"cuda:cublaslt:f32:bf16+bias", "cuda:cublaslt:f32:bf16+bias+relu"},
        {"cuda:cublaslt:f32+bias", "cuda:cublaslt:f32+bias+relu"}};
    if (epi == EPI_NONE) return base;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        if (!strcmp(base, bases[i])) return with[i][epi == EPI_RELU_BIAS];
    return base;
}

/* The product of t (v[0] its result, or with an epilogue the result of
 * the last node fused) through cuBLASLt, with epilogue epi adding the row
 * at bias (of cudaDataType bias_type). */
static hwa_status run_gemm(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                           const hwa__gpu_view *v, const hwa__gpu_mem *m, hwa_matmul_precision prec, int epi,
                           const void *bias, int64_t bias_type, const char **name) {
    if (!float_dt(v[0].dt) || v[1].dt != v[0].dt || v[2].dt != v[0].dt) return HWA_OK;
    gemm g;
    if (!gemm_of(v, m, t->p.i[0] != 0, t->p.i[1] != 0, &g)) return HWA_OK;
    /* the epilogue adds along cuBLASLt's rows: C's columns only when C is
     * computed transposed; one bias for a batch only when it folded away */
    if (epi != EPI_NONE && (!g.c_row_major || g.batch != 1 || ((uintptr_t)bias & 15u))) return HWA_OK;
    const int64_t es = (int64_t)hwa_dtype_block_bytes((hwa_dtype)v[0].dt);
    plan_key k;
    memset(&k, 0, sizeof k);
    cublasComputeType_t ct;
    cudaDataType_t type;
    const char *nm;
    compute_of(v[0].dt, prec, &ct, &type, &nm);
    k.dtype = (int64_t)type;
    k.compute = (int64_t)ct;
    k.epi = epi;
    k.bias_type = epi != EPI_NONE ? bias_type : 0;
    k.batch = g.batch;
    k.x = g.x;
    k.y = g.y;
    k.d = g.d;
    k.align[0] = align_of(g.px, g.x.bs * es);
    k.align[1] = align_of(g.py, g.y.bs * es);
    k.align[2] = align_of(g.pd, g.d.bs * es);
    plan *p;
    hwa_status st = plan_get(f, ctx, spec, &k, &p);
    if (st || !p->ok) return st;
    const float one = 1.0f, zero = 0.0f;
    if (epi != EPI_NONE) {
        const cublasStatus_t bs =
            cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
        if (bs != CUBLAS_STATUS_SUCCESS) return lt_fail(ctx, spec, "cuBLASLt's bias pointer", bs);
    }
    /* beta 0: C is not read; it is D, so that no second layout is needed */
    const cublasStatus_t s = cublasLtMatmul(f->lt, p->desc, &one, g.px, p->lay[0], g.py, p->lay[1], &zero, g.pd,
                                            p->lay[2], g.pd, p->lay[2], &p->algo, f->ws, WORKSPACE_BYTES, f->stream);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE) {
        plan_clear(p);
        p->key = k; /* a refusal from now on */
        p->used = f->clock;
        return HWA_OK;
    }
    if (s != CUBLAS_STATUS_SUCCESS) return lt_fail(ctx, spec, "cublasLtMatmul", s);
    *name = epi_name(nm, epi);
    return HWA_OK;
}

static hwa_status run_matmul(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                             const hwa__gpu_view *v, const hwa__gpu_mem *m, hwa_matmul_precision prec,
                             const char **name) {
    return run_gemm(f, ctx, spec, t, v, m, prec, EPI_NONE, NULL, 0, name);
}

hwa_status hwa__cu_fast_fused(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                              const hwa__gpu_view *v, const hwa__gpu_mem *m, const hwa__gpu_view *bias,
                              hwa__gpu_mem bias_m, bool relu, hwa_matmul_precision prec, const char **name) {
    if (!name) return hwa__err(ctx, HWA_E_MISUSE, "hwa__cu_fast_fused: name is NULL");
    *name = NULL;
    if (!f || !t || !v || !m || !bias || !bias_m || t->op != HWA_OP_MATMUL)
        return hwa__err(ctx, HWA_E_MISUSE, "hwa__cu_fast_fused: a NULL argument or not a product");
    if (!spec) spec = "cuda";
    /* one value per column of the result, adjacent, in its dtype */
    if (bias->dt != v[0].dt || bias->ne[0] != 1 || bias->ne[1] != 1 || bias->ne[2] != 1 ||
        bias->ne[3] != v[0].ne[3] || (bias->ne[3] > 1 && bias->st[3] != 1))
        return HWA_OK;
    cublasComputeType_t ct;
    cudaDataType_t type;
    const char *nm;
    compute_of(bias->dt, prec, &ct, &type, &nm);
    return run_gemm(f, ctx, spec, t, v, m, prec, relu ? EPI_RELU_BIAS : EPI_BIAS, first_of(bias_m, bias),
                    (int64_t)type, name);
}

/* ---- row ops and attention (cuda_fast.cu) -------------------------------- */

static hwa_status launched(hwa_ctx *ctx, const char *spec, int err, const char *kernel) {
    return err == 0 ? HWA_OK : cuda_fail(ctx, spec, kernel, (cudaError_t)err);
}

static hwa_status run_rows(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                           const hwa__gpu_view *v, const hwa__gpu_mem *m, const char **name) {
    const hwa__gpu_view *y = &v[0], *x = &v[1];
    if (!float_dt(y->dt) || x->dt != y->dt) return HWA_OK;
    for (int d = 0; d < 4; d++)
        if (x->ne[d] != y->ne[d] || y->ne[d] < 1) return HWA_OK;
    const int64_t n = y->ne[3], rows = y->ne[0] * y->ne[1] * y->ne[2];
    if (n > 1 && (x->st[3] != 1 || y->st[3] != 1)) return HWA_OK;
    if (rows > INT32_MAX) return HWA_OK; /* one block per row at most: the grid's x extent */
    hwa__cu_rows a;
    memset(&a, 0, sizeof a);
    a.x = first_of(m[1], x);
    a.y = first_of(m[0], y);
    a.rows = rows;
    a.n = n;
    a.ne1 = y->ne[1];
    a.ne2 = y->ne[2];
    for (int d = 0; d < 3; d++) {
        a.xs[d] = x->st[d];
        a.ys[d] = y->st[d];
    }
    a.eps = t->p.f[0];
    a.op = t->op == HWA_OP_SOFTMAX       ? HWA__CU_SOFTMAX
           : t->op == HWA_OP_LOG_SOFTMAX ? HWA__CU_LOG_SOFTMAX
           : t->op == HWA_OP_NORM        ? HWA__CU_NORM
                                         : HWA__CU_RMS_NORM;
    a.dt = y->dt;
    const char *kernel = "?";
    const hwa_status st = launched(ctx, spec, hwa__cu_rows_launch(&a, f->stream, &kernel), kernel);
    if (!st) *name = n > HWA__CU_WARP_ROW_MAX ? "cuda:block_rows" : "cuda:warp_rows";
    return st;
}

/* Whether v's last dim (extent n) has adjacent elements. */
static bool unit_last(const hwa__gpu_view *v, int64_t n) { return n == 1 || v->st[3] == 1; }

static hwa_status run_attention(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                                const hwa__gpu_view *v, const hwa__gpu_mem *m, const char **name) {
    const hwa__gpu_view *o = &v[0], *q = &v[1], *k = &v[2], *vv = &v[3];
    if (!float_dt(o->dt) || q->dt != o->dt || k->dt != o->dt || vv->dt != o->dt) return HWA_OK;
    const int64_t B = q->ne[0], Hq = q->ne[1], Tq = q->ne[2], D = q->ne[3];
    const int64_t Hkv = k->ne[1], Tk = k->ne[2], Dv = vv->ne[3];
    if (B < 1 || Hq < 1 || Tq < 1 || Hkv < 1 || Tk < 1 || Hq % Hkv || k->ne[0] != B || k->ne[3] != D ||
        vv->ne[0] != B || vv->ne[1] != Hkv || vv->ne[2] != Tk || o->ne[0] != B || o->ne[1] != Hq ||
        o->ne[2] != Tq || o->ne[3] != Dv)
        return HWA_OK;
    if (D < 1 || D > HWA__CU_ATT_MAX_D || Dv < 1 || Dv > HWA__CU_ATT_MAX_D) return HWA_OK;
    if (!unit_last(q, D) || !unit_last(k, D) || !unit_last(vv, Dv) || !unit_last(o, Dv)) return HWA_OK;
    hwa__cu_attn a;
    memset(&a, 0, sizeof a);
    a.q = first_of(m[1], q);
    a.k = first_of(m[2], k);
    a.v = first_of(m[3], vv);
    a.o = first_of(m[0], o);
    a.B = B, a.Hq = Hq, a.Hkv = Hkv, a.Tq = Tq, a.Tk = Tk, a.D = D, a.Dv = Dv;
    for (int d = 0; d < 3; d++) {
        a.qs[d] = q->st[d];
        a.ks[d] = k->st[d];
        a.vs[d] = vv->st[d];
        a.os[d] = o->st[d];
    }
    /* as the reference: scale <= 0 means 1/sqrt(D) */
    a.scale = t->p.f[0] > 0.0f ? t->p.f[0] : (float)(1.0 / sqrt((double)D));
    a.causal = t->p.i[0] != 0;
    a.dt = o->dt;
    const char *kernel = "?";
    int err;
    if (Tq == 1) {
        /* enough chunks to fill the device, none shorter than
         * SPLIT_MIN_KEYS, and every partial inside the workspace */
        const int64_t rows = B * Hq, per = Dv + 2;
        if (rows > INT32_MAX || rows > (int64_t)(WORKSPACE_BYTES / sizeof(float)) / per) return HWA_OK;
        const int64_t fit = (int64_t)(WORKSPACE_BYTES / sizeof(float)) / (rows * per);
        int64_t n = ((int64_t)f->n_sm * SPLIT_BLOCKS_PER_SM + rows - 1) / rows;
        const int64_t by_keys = (Tk + SPLIT_MIN_KEYS - 1) / SPLIT_MIN_KEYS;
        if (n > by_keys) n = by_keys;
        if (n > fit) n = fit;
        if (n > HWA__CU_SPLIT_MAX) n = HWA__CU_SPLIT_MAX;
        if (n < 1) n = 1;
        a.chunk = (Tk + n - 1) / n;
        a.n_split = (int)((Tk + a.chunk - 1) / a.chunk); /* no empty chunk */
        if (rows * a.n_split > INT32_MAX) return HWA_OK;
        a.part = f->ws;
        err = hwa__cu_attention_splitk(&a, f->stream, &kernel);
        *name = "cuda:attention_splitk";
    } else {
        const int64_t bq = hwa__cu_flash_queries();
        if (hwa__cu_flash_smem(D, Dv) > f->smem_optin || (Tq + bq - 1) / bq > INT32_MAX / (Hq * B)) return HWA_OK;
        err = hwa__cu_flash_attention(&a, f->stream, &kernel);
        *name = "cuda:flash_attention";
    }
    if (err) *name = NULL;
    return launched(ctx, spec, err, kernel);
}

hwa_status hwa__cu_fast_run(hwa__cu_fast *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t,
                            const hwa__gpu_view *v, const hwa__gpu_mem *m, hwa_matmul_precision prec,
                            const char **name) {
    if (!name) return hwa__err(ctx, HWA_E_MISUSE, "hwa__cu_fast_run: name is NULL");
    *name = NULL;
    if (!f || !t || !v || !m) return hwa__err(ctx, HWA_E_MISUSE, "hwa__cu_fast_run: a NULL argument");
    if (!spec) spec = "cuda";
    switch (t->op) {
    case HWA_OP_MATMUL: return run_matmul(f, ctx, spec, t, v, m, prec, name);
    case HWA_OP_SOFTMAX:
    case HWA_OP_LOG_SOFTMAX:
    case HWA_OP_NORM:
    case HWA_OP_RMS_NORM: return run_rows(f, ctx, spec, t, v, m, name);
    case HWA_OP_ATTENTION: return run_attention(f, ctx, spec, t, v, m, name);
    default: return HWA_OK;
    }
}
