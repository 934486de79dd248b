/* The matmul provider layer of the CPU backend.
 *
 * cpu_backend.c describes one 2-D product (one batch matrix of a MATMUL
 * node, possibly fused with the bias add and activation that follow it) as
 * an hwa__mm_problem and hands it to the providers in order of preference:
 * oneDNN, OpenBLAS, then our own ("native": a blocked f32 kernel, a GEMV,
 * and AMX tile kernels for bf16 and int8). Ours go first where they were
 * measured faster: the GEMV for M <= 4, the AMX kernels for most bf16 and
 * int8 products (hwa__mm_amx_preferred). A provider that cannot do a
 * case returns HWA_E_UNSUPPORTED and the next one is tried; the reference
 * kernel is the last resort. HWA_MATMUL=onednn|openblas|native (or the test
 * override) puts one provider first and leaves the rest as fallbacks. */
#ifndef HWADAPT_CPU_MM_H
#define HWADAPT_CPU_MM_H

#include "backends/cpu/simd/simd.h"
#include "core/internal.h"
#include "core/pool.h"

/* Rows [0, rows) of a product's pre- or post-processing on the library's
 * pool: on nthreads threads when `work` elements are worth a second
 * thread, four chunks per thread; else one call on the caller. */
static inline void hwa__mm_par_rows(int nthreads, int64_t rows, int64_t work, hwa__par_fn fn, void *ctx) {
    const int nt = work > 65536 ? nthreads : 1;
    hwa__par_for(nt, rows, nt > 1 ? (rows + 4 * nt - 1) / (4 * nt) : rows, fn, ctx);
}

typedef enum hwa__mm_provider {
    HWA_MM_ONEDNN = 0,
    HWA_MM_OPENBLAS = 1,
    HWA_MM_NATIVE = 2,
    HWA_MM_PROVIDER_COUNT
} hwa__mm_provider;

/* C[M,N] = A[M,K] B[K,N] (+ bias[N]) (then act), row-major with leading
 * dimensions in elements. A is stored [M,K] (lda >= K) or, with ta, [K,M]
 * (lda >= M); B is stored [K,N] or, with tb, [N,K]. */
typedef struct hwa__mm_problem {
    int64_t M, N, K;
    const void *a;
    int64_t lda;
    bool ta;
    hwa_dtype dt_a;
    const void *b;
    int64_t ldb;
    bool tb;
    hwa_dtype dt_b;
    void *c;
    int64_t ldc;
    hwa_dtype dt_c;
    const void *bias; /* NULL: none; else contiguous [N] of dt_bias */
    hwa_dtype dt_bias;
    hwa_op act;       /* HWA_OP_NONE, HWA_OP_RELU or HWA_OP_GELU */
    /* B's identity for the packed-weight cache: the tensor that owns its
     * storage and that tensor's version. NULL when B is not worth packing
     * (an intermediate recomputed on every run). */
    const hwa_tensor *b_owner;
    uint64_t b_version;
    hwa_matmul_precision precision; /* what f32 products may use */
    /* C += A B instead of C = A B (a gradient accumulated in place); never
     * with a bias or an activation. Providers that cannot decline it. */
    bool accumulate;
} hwa__mm_problem;

/* Forms of weight matrices derived once and kept (oneDNN's packed layouts,
 * f16 weights widened to f32, our AMX tiles): one entry per weight matrix
 * (its owner tensor, storage, layout, shape) and form, valid for one version
 * of the owner. A provider embeds hwa__mm_kept as the first member of its
 * entries and frees them through drop. */
typedef struct hwa__mm_kept {
    const hwa_tensor *owner;
    uint64_t version;
    const void *b;
    int64_t ldb, K, N;
    bool tb;
    hwa_dtype dt_b;
    int form;     /* the provider's own tag for what was derived */
    int rewrites; /* how often the owner was found written since the last derivation */
    struct hwa__mm_kept *next;
} hwa__mm_kept;

typedef struct hwa__mm_keep {
    hwa_ctx *ctx;
    hwa__mm_kept *head; /* newest first */
    int n;
    void (*drop)(hwa_ctx *ctx, hwa__mm_kept *e); /* frees e and what it holds */
} hwa__mm_keep;

/* The entry for p's weights in form `form` (and, when same is given, for
 * which same(e, arg) holds) if it is of the owner's current version. A
 * stale one is dropped, and *rewrites (optional) receives its count plus
 * one; 0 when there was none. NULL when there is no current entry. */
hwa__mm_kept *hwa__mm_keep_find(hwa__mm_keep *c, const hwa__mm_problem *p, int form,
                                bool (*same)(const hwa__mm_kept *e, const void *arg), const void *arg, int *rewrites);
/* Adds e (payload filled in) for p's weights in form `form`, newest first;
 * the oldest entries beyond HWA_MM_KEEP_MAX are dropped. */
#define HWA_MM_KEEP_MAX 256
void hwa__mm_keep_add(hwa__mm_keep *c, hwa__mm_kept *e, const hwa__mm_problem *p, int form, int rewrites);
void hwa__mm_keep_clear(hwa__mm_keep *c);

/* Symmetric int8 scale of values whose largest magnitude is max_abs:
 * max_abs / 127, or 1 for all zeros. Per row of activations and per column
 * of weights, in every int8 product. */
static inline float hwa__mm_int8_scale(float max_abs) { return max_abs > 0.0f ? max_abs / 127.0f : 1.0f; }
/* The scale of every column n < p->N of p's f32 B, and its inverse. */
void hwa__mm_int8_col_scales(const hwa__mm_problem *p, float *scale, float *inv);

/* Everything a backend instance keeps for its matmuls: per-provider state
 * (oneDNN engine, primitive and packed-weight caches). */
typedef struct hwa__mm_state hwa__mm_state;

/* NULL (HWA_E_NOMEM recorded) when out of memory. */
hwa__mm_state *hwa__mm_state_new(hwa_ctx *ctx);
void hwa__mm_state_free(hwa__mm_state *s);

/* Whether this build has a provider at all. */
bool hwa__mm_provider_built(hwa__mm_provider p);
const char *hwa__mm_provider_name(hwa__mm_provider p);
/* The provider HWA_MATMUL or the test override puts first; -1 for none. */
int hwa__mm_forced(void);
/* Tests: forces a provider (-1 clears). */
void hwa__mm_set_override(int provider);

/* Runs p with the first provider able to (f16 operands, and bf16 ones no
 * provider takes, through mm_f16.c). name receives the kernel that ran
 * ("onednn:brg:avx512_core_amx", "openblas", "native:avx512-4x16",
 * "f16>f32:onednn:brg:avx512_core+packed", "bf16>f32:openblas").
 * Returns HWA_E_UNSUPPORTED when no provider can (the caller uses the
 * reference). */
hwa_status hwa__mm_run(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                       size_t name_cap);
/* The bytes the provider that would run p keeps beside its operands: the
 * copy of the weights oneDNN reorders into its own layout when it is the
 * one; 0 otherwise. */
int64_t hwa__mm_kept_bytes(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads);
/* The same without the f16 layer: p's operands are f32 (bf16 for oneDNN),
 * except f16 B for the GEMV. */
hwa_status hwa__mm_run_providers(hwa__mm_state *s, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                                 char *name, size_t name_cap);

/* Half products (mm_f16.c): f16 (or bf16) operands widened to f32 for the
 * providers, half weights widened once per tensor version and kept, a half
 * result rounded once after the epilogue. */
typedef struct hwa__mm_f16 hwa__mm_f16;
/* NULL (HWA_E_NOMEM recorded) when out of memory. */
hwa__mm_f16 *hwa__mm_f16_new(hwa_ctx *ctx);
void hwa__mm_f16_free(hwa__mm_f16 *f);
/* Whether any operand of p (A, B, C, bias) is of dtype t. */
bool hwa__mm_involves(const hwa__mm_problem *p, hwa_dtype t);
/* p with its operands of half dtype h (HWA_F16 or HWA_BF16) widened.
 * HWA_E_UNSUPPORTED when an operand is neither f32 nor h or no provider
 * takes the widened product; HWA_E_NOMEM when scratch or the kept weights
 * cannot be allocated. */
hwa_status hwa__mm_f16_run(hwa__mm_state *s, hwa__mm_f16 *f, const hwa__mm_problem *p, hwa_dtype h,
                           const hwa__simd *simd, int nthreads, char *name, size_t name_cap);

/* The epilogue the library providers do not fuse: bias and activation over
 * the rows of C (f32). */
void hwa__mm_epilogue(const hwa__mm_problem *p, const hwa__simd *simd, int nthreads);

/* Products with at most this many rows of A (decode steps) and weights
 * stored [N, K] go to our own GEMV when nothing forces a provider: it reads
 * the weights where they are, where oneDNN would keep a packed copy of
 * every weight matrix (twice the memory of an mmapped model) for no gain
 * on a memory-bound product. */
#define HWA_MM_GEMV_MAX_M 4
/* Whether p is a case for the GEMV (f32 A and C, f32 or f16 B stored [N,K],
 * f32 precision, small M). */
bool hwa__mm_gemv_fits(const hwa__mm_problem *p, const hwa__simd *simd);

/* Our own AMX kernels (mm_amx_plan.c drives, mm_tiles_amx.c computes): bf16
 * products (f32 operands rounded to bf16, or bf16 operands; f32 sums) and
 * int8 products (per-channel weights, dynamic per-row activations, int32
 * sums), part of the native provider. Weights are packed once into tiles
 * per tensor version, like oneDNN's. */
typedef struct hwa__mm_amx hwa__mm_amx;
/* NULL (HWA_E_NOMEM recorded) when out of memory. */
hwa__mm_amx *hwa__mm_amx_new(hwa_ctx *ctx);
void hwa__mm_amx_free(hwa__mm_amx *x);
/* Whether the AMX kernels can do p here and now: the host has the tiles
 * and the active ISA level is amx, p asks for bf16 or int8 (or has bf16
 * operands), and the operand types are ones they take. */
bool hwa__mm_amx_takes(const hwa__mm_problem *p);
/* Whether they are the first choice for p when nothing forces a provider:
 * where bench/cpu_matmul.sh measured them ahead of oneDNN. */
bool hwa__mm_amx_preferred(const hwa__mm_problem *p);
/* HWA_E_UNSUPPORTED, having done nothing, unless hwa__mm_amx_takes(p). */
hwa_status hwa__mm_amx_run(hwa__mm_amx *x, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                           char *name, size_t name_cap);

/* One product on tiles (see mm_tiles_amx.c for the layout), planned by
 * mm_amx_plan.c. */
typedef struct hwa__amx_job {
    const hwa__mm_problem *p;
    bool int8;
    int64_t KB;            /* k-tiles: ceil(K / 32) for bf16, ceil(K / 64) for int8 */
    int64_t MP, NP;        /* pairs of 16-row A tiles, of 16-column B tiles */
    int nthreads;          /* threads that share the job */
    bool split_n;          /* they split the n-pairs (else the m-pairs) */
    int64_t mcb;           /* m-pairs per block of A a thread converts and keeps */
    void *a_tiles;         /* nthreads x hwa__amx_a_bytes(j): each thread's block of A in
                            * mcb * KB * 2 tiles */
    const void *b_tiles;   /* NP * KB * 2 tiles */
    const float *bias_pad; /* NP * 32 floats (zeros past N), or NULL */
    float *row_scales;     /* int8: nthreads x (mcb * 32), filled by the job */
    const float *col_scales; /* int8: NP * 32 */
    float *c_sums;         /* bf16 C: nthreads x c_sums_per_thread f32 sums, else NULL */
    size_t c_sums_per_thread; /* mcb * 32 rows x the thread's n-pairs * 32 columns */
} hwa__amx_job;
/* The tile layout of both operands: tiles of 1 KB, in pairs along the
 * 16-row (A) or 16-column (B) dimension; tile t of k-tile kb (of KB) is
 * number ((t / 2) KB + kb) 2 + t % 2, so a pair's two tiles of one k-tile
 * are adjacent and the pair's k-tiles follow each other. */
#define HWA_AMX_TILE_BYTES 1024
static inline size_t hwa__amx_tile(int64_t KB, int64_t t, int64_t kb) {
    return (size_t)(((t / 2) * KB + kb) * 2 + t % 2);
}
/* Bytes of a_tiles per thread. */
static inline size_t hwa__amx_a_bytes(const hwa__amx_job *j) {
    return (size_t)j->mcb * (size_t)j->KB * 2 * HWA_AMX_TILE_BYTES;
}
/* B (f32 or bf16, either layout) into KB x 2 NP bf16 tiles, every byte of
 * them written (zeros past K and N), on up to nthreads threads; the tile
 * order is mm_amx_plan.c's (x86-64 builds with AMX only). */
void hwa__amx_pack_bf16(const hwa__mm_problem *p, int64_t KB, int64_t NP, void *tiles, int nthreads);
/* Configures all eight tiles as 16 rows of 64 bytes for the calling thread
 * (x86-64 builds with AMX only; _tile_release when done). */
void hwa__amx_tiles_on(void);
/* Runs j (x86-64 builds with AMX only: hwa__mm_amx_run calls it). */
void hwa__amx_run_job(const hwa__amx_job *j, const hwa__simd *simd);
/* The most m-pairs per block when K is taken in chunks (mm_tiles_amx.c). */
#define HWA_AMX_MCB_CHUNKED 4
#define HWA_AMX_KCHUNK 8

/* Providers (each file: its own one). HWA_E_UNSUPPORTED when not able. */
typedef struct hwa__mm_onednn hwa__mm_onednn;
/* *out NULL (and HWA_OK) when oneDNN is not built in or has no engine. */
hwa_status hwa__mm_onednn_new(hwa_ctx *ctx, hwa__mm_onednn **out);
#if defined(HWA_HAVE_ONEDNN)
/* Caps oneDNN's ISA at HWA_ISA's level, once per process, before its first
 * primitive (every user of oneDNN calls it first). */
void hwa__onednn_cap_isa(void);
#endif
void hwa__mm_onednn_free(hwa__mm_onednn *o);
hwa_status hwa__mm_onednn_run(hwa__mm_onednn *o, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                              char *name, size_t name_cap);
/* The bytes of the copy of p's weights oneDNN keeps in its own layout
 * (the primitive made now, and kept for the run); 0 when it keeps none
 * (weights without an owner, a problem oneDNN does not take). */
int64_t hwa__mm_onednn_pack_bytes(hwa__mm_onednn *o, const hwa__mm_problem *p, int nthreads);
hwa_status hwa__mm_openblas_run(const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                                size_t name_cap);
hwa_status hwa__mm_native_run(hwa_ctx *ctx, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads, char *name,
                              size_t name_cap);

#endif
