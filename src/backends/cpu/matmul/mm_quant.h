/* Products with weights in a block type (mm_quant.c). */
#ifndef HWADAPT_CPU_MM_QUANT_H
#define HWADAPT_CPU_MM_QUANT_H

#include "backends/cpu/matmul/mm.h"

/* One row of W (K values in blocks of type t, at w) against one row of A
 * quantized to 8 bits per 32 values: qa [K], its scales da [K/32] and sums
 * sa [K/32]. */
float hwa__qrow_scalar(hwa_dtype t, const uint8_t *w, int64_t K, const int8_t *qa, const float *da, const int32_t *sa);
#if defined(__x86_64__)
/* The same for M (1..HWA_QROWS_MAX) activation rows at once, each weight
 * block widened once: out[m] for row m. */
#define HWA_QROWS_MAX 4
void hwa__qrows_avx2(hwa_dtype t, const uint8_t *w, int64_t K, int M, const int8_t *const *qa, const float *const *da,
                     const int32_t *const *sa, float *out);
/* The most (row of W, row of A) pairs the VNNI kernel sums at once. */
#define HWA_QROWS_W 4
/* With AVX-512 VNNI (mm_quant_avx512vnni.c) for n rows of W (wrow bytes
 * apart): out[m * ldo + r] for row m of A and row r of W. Short rows cost
 * per row: the rows of W are taken up to HWA_QROWS_W / M at a time, each
 * activation block loaded once for them, their sums reduced together. */
void hwa__qrows_vnni(hwa_dtype t, const uint8_t *w, size_t wrow, int64_t n, int64_t K, int M, const int8_t *const *qa,
                     const float *const *da, const int32_t *const *sa, float *out, int64_t ldo);
/* nb blocks of 32 values of x to 8 bits with AVX-512 (mm_quant_avx512vnni.c):
 * q [32 nb], scales d [nb] (max|x| / 127) and sums s [nb] of q, the same
 * values as the scalar rounding in mm_quant.c (nearest, halves away from
 * zero). */
void hwa__q8_rows_avx512(const float *x, int64_t nb, int8_t *q, float *d, int32_t *s);
#endif

/* The kernels of the block dots, slowest first. */
typedef enum hwa__qkern { HWA_QK_SCALAR = 0, HWA_QK_AVX2 = 1, HWA_QK_VNNI = 2 } hwa__qkern;
/* The fastest the active ISA level allows: scalar unless simd, VNNI at
 * avx512 and above where the host has it, else AVX2. */
hwa__qkern hwa__qkern_pick(bool simd);
/* "scalar", "avx2", "avx512vnni". */
const char *hwa__qkern_name(hwa__qkern k);

/* Whether p is a product this path computes: A f32 [M, K] times W^T with W
 * [N, K] (tb) in a block type, rows of whole blocks, C f32, no bias,
 * activation or accumulation. */
bool hwa__mm_quant_fits(const hwa__mm_problem *p);
/* Computes it with nthreads threads with kernel k, a scratch that grows as
 * needed. HWA_E_UNSUPPORTED when it does not fit. */
hwa_status hwa__mm_quant_run(hwa_ctx *ctx, const hwa__mm_problem *p, hwa__qkern k, int nthreads, void **scratch,
                             size_t *cap);

/* Products with at least this many rows of A (a prompt's) take the GEMM
 * below: the block dots above read every weight block once per
 * HWA_QROWS_MAX rows. */
#define HWA_QGEMM_MIN_M 16
/* Computes p (hwa__mm_quant_fits) by decoding W a panel of rows at a time
 * into scratch, as bf16 where the AMX bf16 tiles are active (the product
 * then in bf16 with f32 sums) and as f32 elsewhere, and handing each panel
 * to the matmul providers (hwa__mm_run). name receives "<type>>bf16:" or
 * "<type>>f32:" and the provider's kernel. HWA_E_UNSUPPORTED when p does
 * not fit; HWA_E_NOMEM when the scratch cannot grow. */
hwa_status hwa__mm_quant_gemm(hwa__mm_state *s, hwa_ctx *ctx, const hwa__mm_problem *p, const hwa__simd *simd,
                              int nthreads, void **scratch, size_t *cap, char *name, size_t name_cap);

#endif
