/* Fast paths of the CPU backend for the non-matmul ops (see cpu_fast.c). */
#ifndef HWADAPT_CPU_FAST_H
#define HWADAPT_CPU_FAST_H

#include "backends/cpu/simd/simd.h"
#include "core/internal.h"
#include "core/pool.h"

/* How many threads work of this many elements gets: one per per_thread
 * elements at the least (below that a fork and a barrier cost more than
 * another core gives), at most nthreads. */
static inline int hwa__threads_over(int64_t work, int64_t per_thread, int nthreads) {
    const int64_t t = work / per_thread;
    return t < 1 ? 1 : t < nthreads ? (int)t : nthreads;
}

/* Runs fn over [0, n) on the library's thread pool (core/pool.h) with as
 * many threads as hwa__threads_over gives: chunks of whole 64-byte lines,
 * four per thread, so a thread the scheduler keeps waiting leaves its share
 * to the others. One thread: one call over all of [0, n). */
void hwa__par_chunks(int64_t n, int64_t per_thread, int nthreads, hwa__par_fn fn, void *ctx);

/* Scratch a backend keeps between computes (grown, never shrunk), for the
 * f16 / bf16 path below. */
typedef struct hwa__cpu_scratch {
    hwa_ctx *ctx;
    void *p;
    size_t cap;         /* bytes */
    hwa_status failure; /* set by a fast path that needed memory and got none (it
                         * returns false): the node fails with it, not the reference */
} hwa__cpu_scratch;
void hwa__cpu_scratch_free(hwa__cpu_scratch *s);

/* Computes dst with the vector kernels k on nthreads threads when its case
 * has a fast path (contiguous f32 or, through scratch, f16/bf16, or f16/bf16
 * <-> f32 conversion); returns false, having done nothing, when it has not. */
bool hwa__cpu_fast_run(const hwa__simd *k, hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch);

/* An op on f16 / bf16 tensors through its f32 fast path, as the reference
 * computes it (f32 arithmetic, one rounding per element): begin widens the
 * half inputs into f32 scratch and fills sh->dst, a shadow of dst whose
 * sources and result point at the scratch; the caller runs its f32 path on
 * &sh->dst; end rounds the result into dst (when computed). begin returns
 * false, having done nothing, unless dst is f16 or bf16 and it and its
 * sources are contiguous, each f32 or of dst's dtype; or when scratch cannot
 * be had, with scratch->failure set (the node then fails with it). */
typedef struct hwa__half_shadow {
    hwa_tensor dst;
    hwa_tensor src[HWA_MAX_SRC];
    float *out; /* the f32 result, in the scratch */
} hwa__half_shadow;
bool hwa__half_shadow_begin(const hwa__simd *k, hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch,
                            hwa__half_shadow *sh);
void hwa__half_shadow_end(const hwa__simd *k, hwa_tensor *dst, int nthreads, hwa__half_shadow *sh, bool computed);

#endif
