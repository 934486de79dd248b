/* The CPU backend's own vector kernels for the hot non-matmul ops, one table
 * per ISA level. Each kernel works on contiguous f32 (or f16/bf16 for the
 * conversions) and is single-threaded; the caller (cpu_fast.c) splits the
 * work across threads and checks that the fast path applies. */
#ifndef HWADAPT_CPU_SIMD_H
#define HWADAPT_CPU_SIMD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct hwa__simd {
    const char *name; /* "avx2", "avx512" */
    /* d[i] = a[i] op b[i * b_step] for op ADD/SUB/MUL/DIV; b_step is 0 (one
     * value) or 1. d may equal a. */
    void (*binary)(int op, const float *a, const float *b, int64_t b_step, float *d, int64_t n);
    /* d[i] = f(x[i]) for op RELU/GELU/SILU/SIGMOID/TANH, or x[i] * s for SCALE. */
    void (*unary)(int op, const float *x, float *d, int64_t n, float s);
    /* d[i] = g[i] * f'(x[i]) for op GELU/SILU/SIGMOID/TANH (UNARY_BACK; ReLU's
     * is train_simd.h's relu_back). d may equal g or x. */
    void (*unary_back)(int op, const float *g, const float *x, float *d, int64_t n);
    /* One row of softmax (log_ false) or log_softmax. */
    void (*softmax_row)(const float *x, float *d, int64_t n, bool log_);
    /* One row of NORM (rms false, biased variance) or RMS_NORM. */
    void (*norm_row)(const float *x, float *d, int64_t n, float eps, bool rms);
    /* One row of SOFTMAX_BACK (xy the forward's output; log_ for
     * log_softmax), NORM_BACK or RMS_NORM_BACK (xy the forward's input): d
     * from the incoming gradient g. d may equal g. */
    void (*norm_back_row)(int op, const float *g, const float *xy, float *d, int64_t n, float eps, bool log_);
    /* f16 (bf16 false) or bf16 <-> f32, round to nearest even. */
    void (*half_to_f32)(const uint16_t *s, float *d, int64_t n, bool bf16);
    void (*f32_to_half)(const float *s, uint16_t *d, int64_t n, bool bf16);
    /* d[r] = sum over j of s[r * n + j]. */
    void (*row_sum)(const float *s, int64_t rows, int64_t n, float *d);
    /* One query row of attention: o[0..Dv) = softmax_j(scale * q . k_j) v_j
     * over the keys j < n (o all zeros when n is 0). q has D contiguous
     * floats, key j D at k + j * ks, value j Dv at v + j * vs; s is scratch
     * of n floats. The sums run in one fixed order. */
    void (*attn_row)(const float *q, const float *k, int64_t ks, const float *v, int64_t vs, int64_t n, int64_t D,
                     int64_t Dv, float scale, float *s, float *o);
    /* Small-M product with W stored [N, K]: c[m * ldc + i] = sum over k of
     * a[m * lda + k] * w[i * ldw + k], for m < M (1..4) and i in [n0, n1).
     * Each result is one fixed-order sum, whatever range it was computed in. */
    void (*gemv_nt)(const float *a, int64_t lda, int64_t M, const float *w, int64_t ldw, int64_t K, int64_t n0,
                    int64_t n1, float *c, int64_t ldc);
    /* The same with W in f16 (read in place, widened in registers): the
     * same sums, in the same order, as gemv_nt on W converted to f32. */
    void (*gemv_nt_f16)(const float *a, int64_t lda, int64_t M, const uint16_t *w, int64_t ldw, int64_t K, int64_t n0,
                        int64_t n1, float *c, int64_t ldc);
    /* And in bf16 (its bits the top half of an f32's, shifted into place). */
    void (*gemv_nt_bf16)(const float *a, int64_t lda, int64_t M, const uint16_t *w, int64_t ldw, int64_t K, int64_t n0,
                         int64_t n1, float *c, int64_t ldc);
} hwa__simd;

#if defined(__x86_64__)
extern const hwa__simd hwa__simd_avx2;
extern const hwa__simd hwa__simd_avx512;
/* f32 -> bf16 as hwa_f32_to_bf16 does it, with AVX512_BF16 (only on CPUs
 * that have it; the AVX-512 table's f32_to_half calls it there). */
void hwa__f32_to_bf16_avx512bf16(const float *s, uint16_t *d, int64_t n);
#endif

/* The table for the active ISA level, or NULL for scalar (reference) only. */
const hwa__simd *hwa__simd_active(void);

#endif
