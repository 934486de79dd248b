/* Fast paths for the training ops (see cpu_train_fast.h). The updates are
 * elementwise, so splitting them across threads cannot change a bit; the
 * sum of squares keeps the reference's eight running sums and runs on one
 * thread. */
#include "backends/cpu/cpu_train_fast.h"

#include "backends/cpu/cpu_fast.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/ref/ref.h"

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

const hwa__train_simd *hwa__train_simd_active(void) {
#if defined(__x86_64__)
    switch (hwa__isa_active()) {
    case HWA_ISA_AMX:
    case HWA_ISA_AVX512: return &hwa__train_simd_avx512;
    case HWA_ISA_AVX2: return &hwa__train_simd_avx2;
    default: return NULL;
    }
#else
    return NULL;
#endif
}

static bool contig_f32(const hwa_tensor *t) { return t->dtype == HWA_F32 && hwa_tensor_is_contiguous(t); }

/* A thread per this many elements at the least: below it the fork and the
 * barrier cost more than another core gives (on a loaded machine, much
 * more). The updates stream several arrays per element. */
#define UPDATE_PAR_MIN 262144
#define RELU_PAR_MIN 65536

/* The updates run with subnormal numbers flushed to zero (MXCSR FTZ and
 * DAZ, on each thread for the length of the call): where a gradient stays
 * exactly zero (a pixel that is zero in every image) a moment decays by
 * beta1 or the momentum every step, reaches the subnormal range within
 * about 800 steps, and x86 cores then take a microcode assist per
 * operation (measured on fmnist-mlp: by epoch 3, 62% of the run's time in
 * the Adam kernel and epochs twice as long; flushed, every epoch runs at
 * the first one's speed with the same losses to the printed digits).
 * Values that small are below anything an update can move a parameter by;
 * everywhere else the results are the reference's, bit for bit. */
#if defined(__x86_64__)
#define FLUSH_SUBNORMALS 0x8040u /* FTZ | DAZ */
static unsigned flush_begin(void) {
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | FLUSH_SUBNORMALS);
    return csr;
}
static void flush_end(unsigned csr) { _mm_setcsr(csr); }
#else
static unsigned flush_begin(void) { return 0; }
static void flush_end(unsigned csr) { (void)csr; }
#endif

static void adam_range(const hwa__train_simd *k, float *p, const float *g, float *m, float *v, int64_t n,
                       const hwa__adam_k *c) {
    const unsigned csr = flush_begin();
    k->adam(p, g, m, v, n, c);
    flush_end(csr);
}

static void sgd_range(const hwa__train_simd *k, float *p, const float *g, float *buf, int64_t n, const hwa__sgd_k *c) {
    const unsigned csr = flush_begin();
    k->sgd(p, g, buf, n, c);
    flush_end(csr);
}

/* One update node's arrays and constants, for a range of its elements. */
typedef struct update_job {
    const hwa__train_simd *k;
    float *p, *m, *v, *buf;
    const float *g, *x;
    const hwa__adam_k *adam;
    const hwa__sgd_k *sgd;
} update_job;

static void adam_chunk(void *ctx, int64_t i0, int64_t i1, int tid) {
    const update_job *j = ctx;
    adam_range(j->k, j->p + i0, j->g + i0, j->m + i0, j->v + i0, i1 - i0, j->adam);
}

static void sgd_chunk(void *ctx, int64_t i0, int64_t i1, int tid) {
    const update_job *j = ctx;
    sgd_range(j->k, j->p + i0, j->g + i0, j->buf ? j->buf + i0 : NULL, i1 - i0, j->sgd);
}

static void relu_back_chunk(void *ctx, int64_t i0, int64_t i1, int tid) {
    const update_job *j = ctx;
    j->k->relu_back(j->g + i0, j->x + i0, j->p + i0, i1 - i0);
}

/* Whether the update node's param, grad and state are the contiguous f32
 * arrays the kernels take (state: n or 2n elements). */
static bool update_ok(const hwa_tensor *dst, int64_t state_n) {
    const hwa_tensor *p = dst->src[0], *g = dst->src[1], *ss = dst->src[2], *st = dst->src[3];
    const int64_t n = hwa_tensor_nelements(dst);
    return contig_f32(dst) && contig_f32(p) && contig_f32(g) && hwa_tensor_nelements(g) == n &&
           ss->dtype == HWA_F32 && (!st || (contig_f32(st) && hwa_tensor_nelements(st) >= state_n * n));
}

static bool adam(const hwa__train_simd *k, hwa_tensor *dst, int nt) {
    if (!update_ok(dst, 2)) return false;
    const hwa_op_params *pp = &dst->p;
    hwa__adam_k c;
    c.b1 = pp->f[1], c.b2 = pp->f[2], c.eps = pp->f[3], c.wd = pp->f[4];
    c.bc2_sqrt = pp->f[7];
    const float lr = pp->f[0], bc1 = pp->f[6];
    /* bad bias corrections: the reference reports them */
    if (!(bc1 > 0.0f) || !(c.bc2_sqrt > 0.0f)) return false;
    c.c = hwa__ref_clip_coef(dst->src[2], pp->f[5]);
    c.decoupled = pp->i[0] != 0;
    c.step_size = lr / bc1, c.decay = 1.0f - lr * c.wd;
    c.omb1 = (float)(1.0 - (double)c.b1), c.omb2 = (float)(1.0 - (double)c.b2);
    const int64_t n = hwa_tensor_nelements(dst);
    float *m = hwa__data(dst->src[3]);
    update_job j = {.k = k, .p = hwa__data(dst), .m = m, .v = m + n, .g = hwa__data(dst->src[1]), .adam = &c};
    hwa__par_chunks(n, UPDATE_PAR_MIN, nt, adam_chunk, &j);
    return true;
}

static bool sgd(const hwa__train_simd *k, hwa_tensor *dst, int nt) {
    const bool momentum = dst->p.i[0] != 0;
    if (!update_ok(dst, momentum ? 1 : 0)) return false;
    const hwa_op_params *pp = &dst->p;
    hwa__sgd_k c;
    c.lr = pp->f[0], c.mom = pp->f[1], c.wd = pp->f[2];
    c.c = hwa__ref_clip_coef(dst->src[2], pp->f[3]);
    c.nesterov = pp->i[1] != 0;
    const int64_t n = hwa_tensor_nelements(dst);
    update_job j = {.k = k, .p = hwa__data(dst), .buf = momentum ? hwa__data(dst->src[3]) : NULL,
                    .g = hwa__data(dst->src[1]), .sgd = &c};
    hwa__par_chunks(n, UPDATE_PAR_MIN, nt, sgd_chunk, &j);
    return true;
}

static bool sum_sq(const hwa__train_simd *k, hwa_tensor *dst) {
    const hwa_tensor *a = dst->src[0];
    if (!contig_f32(a) || dst->dtype != HWA_F32) return false;
    double part[8] = {0};
    k->sum_sq(hwa__data(a), hwa_tensor_nelements(a), part);
    double sum = 0.0;
    for (int j = 0; j < 8; j++) sum += part[j];
    *(float *)hwa__data(dst) = (float)sum;
    return true;
}

/* UNARY_BACK of ReLU (the caller checks the op). */
static bool relu_back(const hwa__train_simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *g = dst->src[0], *x = dst->src[1];
    if (!contig_f32(dst) || !contig_f32(g) || !contig_f32(x)) return false;
    const int64_t n = hwa_tensor_nelements(dst);
    if (hwa_tensor_nelements(g) != n || hwa_tensor_nelements(x) != n) return false;
    update_job j = {.k = k, .p = hwa__data(dst), .g = hwa__data(g), .x = hwa__data(x)};
    hwa__par_chunks(n, RELU_PAR_MIN, nt, relu_back_chunk, &j);
    return true;
}
bool hwa__cpu_train_fast_run(const hwa__train_simd *k, hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch) {
    if (!k) return false;
    switch (dst->op) {
    case HWA_OP_ADAM_UPDATE: return adam(k, dst, nthreads);
    case HWA_OP_SGD_UPDATE: return sgd(k, dst, nthreads);
    case HWA_OP_SUM_SQ: return sum_sq(k, dst);
    case HWA_OP_UNARY_BACK: {
        if (dst->p.i[0] != HWA_OP_RELU) return false; /* the smooth ones: cpu_fast.c */
        if (dst->dtype == HWA_F32) return relu_back(k, dst, nthreads);
        /* f16 / bf16 gradients through the f32 kernel */
        const hwa__simd *conv = hwa__simd_active();
        hwa__half_shadow sh;
        if (!conv || !hwa__half_shadow_begin(conv, dst, nthreads, scratch, &sh)) return false;
        const bool ok = relu_back(k, &sh.dst, nthreads);
        hwa__half_shadow_end(conv, dst, nthreads, &sh, ok);
        return ok;
    }
    default: return false;
    }
}
