/* QLINEAR on the CPU (mm_qlinear.c): int8 weights with per-row scales
 * against activations quantized to u8 by the rule of core/ops_list.h.
 *
 * With AVX-512 VNNI (mm_qlinear_avx512vnni.c) vpdpbusd multiplies the u8
 * activations by the s8 weights four at a time into int32 lanes. The
 * weights are packed once per tensor version into panels of 64 output
 * channels: for each group of four k, the panel's 16-channel blocks of
 * 64 bytes (channel c's four bytes at 4c), so that one broadcast 32-bit
 * word of activations meets sixteen channels per instruction. The zero
 * point comes off at the end with the weights' row sums:
 * sum_k (xq - z) w = sum_k xq w - z sum_k w, all exact in int32.
 *
 * With AMX (mm_qlinear_amx.c) the same packed weights load as tiles for
 * TDPBUSD, from a few rows on.
 *
 * Without an int8 dot product the weights are decoded once to f32 and the
 * product runs through the matmul providers on (xq - z) as f32: exact while
 * the sums stay below 2^24 in magnitude (K up to about 500 at any values,
 * far more for typical ones), as close as f32 sums get beyond. */
#ifndef HWADAPT_CPU_MM_QLINEAR_H
#define HWADAPT_CPU_MM_QLINEAR_H

#include "backends/cpu/matmul/mm.h"

/* The packed weights' geometry: channels in panels of HWA_QL_PANEL (blocks
 * of 16) up to NP (N rounded up to 16 for the VNNI kernel, to 32 for the
 * AMX tiles' pairs of blocks), k in K4 groups of 4 (K / 4 rounded up; to
 * a multiple of 16 for the AMX tiles' 64 values). Panel p (channels from
 * n0 = 64 p, nr = min(4, (NP - n0) / 16) blocks) starts at byte 4 n0 K4;
 * within it, group g of block j is the 64 bytes at (g nr + j) 64. */
#define HWA_QL_PANEL 64
typedef struct hwa__ql_geom {
    int64_t N, K, NP, K4;
} hwa__ql_geom;
static inline hwa__ql_geom hwa__ql_geom_of(int64_t N, int64_t K, bool amx) {
    const int64_t np = amx ? 32 : 16, g = amx ? 16 : 1;
    return (hwa__ql_geom){N, K, (N + np - 1) / np * np, ((K + 3) / 4 + g - 1) / g * g};
}
static inline size_t hwa__ql_packed_bytes(const hwa__ql_geom *g) { return (size_t)g->NP * (size_t)g->K4 * 4; }

#if defined(__x86_64__)
/* Packs w [N, K] (row r at w + r * ldw) into `packed` (hwa__ql_packed_bytes,
 * every byte written) and sums[NP] = sum_k w[n, k] (0 past N). */
void hwa__ql_pack_vnni(const int8_t *w, int64_t ldw, const hwa__ql_geom *g, uint8_t *packed, int32_t *sums);
/* One row of K activations x (contiguous) to u8 q[4 K4] (zeros past K) by
 * the rule of hwa__qlinear_quantize, with AVX-512: static with (*s, *inv,
 * *z) as given, or, when dynamic, with the row's own parameters
 * (hwa__qlinear_row_params), written to *s, *inv, *z. */
void hwa__ql_quantize_avx512(const float *x, int64_t K, int64_t K4, bool dynamic, float *s, float *inv, int *z,
                             uint8_t *q);
/* The same for the f32 product with AVX2 (mm_qlinear_avx2.c): a[k] = xq - z
 * as f32, K values. */
void hwa__ql_quantize_f32_avx2(const float *x, int64_t K, bool dynamic, float *s, float *inv, int *z, float *a);
/* The result of 16 channels from n for row r, from their int32 sums acc:
 * y[r, n + i] = (float)(acc[i] - z[r] sums[n + i]) * (s[r] ws[n + i]) for
 * n + i < N (as the reference computes it). */
void hwa__ql_store16(const int32_t *acc, int64_t r, int64_t n, int64_t N, const int32_t *sums, const int *z,
                     const float *s, const float *ws, float *y, int64_t ldy);
/* y[m, n] for rows m0 <= m < m1 of q (rows ldq bytes apart) and the
 * channels of panels [p0, p1): vpdpbusd, register-blocked. */
void hwa__ql_gemm_vnni(const uint8_t *q, int64_t ldq, int64_t m0, int64_t m1, int64_t p0, int64_t p1,
                       const uint8_t *packed, const int32_t *sums, const hwa__ql_geom *g, const int *z, const float *s,
                       const float *ws, float *y, int64_t ldy);
/* The same with AMX tiles (mm_qlinear_amx.c) for the channel pairs
 * [c0, c1) (32 channels each) and every row of q, which must hold rows up
 * to M rounded up to 32 (the rows past M are read, their results not
 * stored); the packing with hwa__ql_geom_of(N, K, true). */
void hwa__ql_gemm_amx(const uint8_t *q, int64_t ldq, int64_t M, int64_t c0, int64_t c1, const uint8_t *packed,
                      const int32_t *sums, const hwa__ql_geom *g, const int *z, const float *s, const float *ws,
                      float *y, int64_t ldy);
#endif

/* What a backend keeps for QLINEAR: the packed or decoded weights per
 * tensor version, and scratch. */
typedef struct hwa__ql hwa__ql;
/* NULL (HWA_E_NOMEM recorded) when out of memory. */
hwa__ql *hwa__ql_new(hwa_ctx *ctx);
void hwa__ql_free(hwa__ql *q);
/* Computes QLINEAR node dst with the fastest kernel the active ISA level
 * has (name receives it: "qlinear:amx", "qlinear:avx512vnni:gemv" /
 * ":gemm", or "qlinear>f32:" and the matmul provider's). HWA_E_UNSUPPORTED, having
 * done nothing, for layouts it does not take (x's elements not adjacent in
 * a row, w's neither, w_scale or dst not contiguous): the reference runs
 * those. HWA_E_NOMEM when scratch or the kept weights cannot be had. */
/* What hwa__ql_run keeps for QLINEAR node dst at the active ISA level: the
 * packed weights and their row sums (VNNI or AMX layout, by dst's rows), or
 * the weights decoded to f32; and which of those forms (equal forms of one
 * weight tensor are kept once). The f32 product's own copy of the decoded
 * weights (oneDNN's packing) is not counted. */
int64_t hwa__ql_kept_bytes(const hwa_tensor *dst);
int hwa__ql_kept_form(const hwa_tensor *dst);
hwa_status hwa__ql_run(hwa__ql *q, hwa__mm_state *mm, hwa_tensor *dst, const hwa__simd *simd, int nthreads,
                       char *name, size_t name_cap);

#endif
