/* QLINEAR with AMX tiles: TDPBUSD multiplies a 16 x 64 tile of u8
 * activations by a 16 x (16 x 4) tile of s8 weights into 16 x 16 int32
 * sums. The packed weights of mm_qlinear.h are already B tiles: the 16
 * groups of four k of one 16-channel block are 16 rows of 64 bytes, nr * 64
 * bytes apart, so they load straight from the panel (K4 a multiple of 16,
 * channels in pairs of blocks). The activations' rows are A tiles as they
 * stand (ldq bytes apart). A 2 x 2 block of C tiles (32 rows x 32
 * channels) sums over K in tmm0-3; each C tile then goes through a 1 KB
 * buffer to the same epilogue as the VNNI kernel (hwa__ql_store16). */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "backends/cpu/matmul/mm_qlinear.h"

void hwa__ql_gemm_amx(const uint8_t *q, int64_t ldq, int64_t M, int64_t c0, int64_t c1, const uint8_t *packed,
                      const int32_t *sums, const hwa__ql_geom *g, const int *z, const float *s, const float *ws,
                      float *y, int64_t ldy) {
    hwa__amx_tiles_on();
    const int64_t KB = g->K4 / 16;
    int32_t c[16 * 16];
    for (int64_t cp = c0; cp < c1; cp++) {
        const int64_t n = cp * 32, n0 = n / HWA_QL_PANEL * HWA_QL_PANEL;
        const int64_t nr = (g->NP - n0 < HWA_QL_PANEL ? g->NP - n0 : HWA_QL_PANEL) / 16, j = (n - n0) / 16;
        const uint8_t *b = packed + (size_t)(n0 * g->K4 * 4) + j * 64;
        const size_t bstride = (size_t)nr * 64;
        for (int64_t m = 0; m < M; m += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            const uint8_t *a = q + m * ldq;
            for (int64_t kb = 0; kb < KB; kb++) {
                const uint8_t *bk = b + kb * 16 * bstride;
                _tile_loadd(4, a + kb * 64, ldq);
                _tile_loadd(5, a + 16 * ldq + kb * 64, ldq);
                _tile_loadd(6, bk, bstride);
                _tile_loadd(7, bk + 64, bstride);
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(1, 4, 7);
                _tile_dpbusd(2, 5, 6);
                _tile_dpbusd(3, 5, 7);
            }
            /* rows and channels past M and N are summed, not stored */
#define STORE_C(t, dm, dn)                                                                    \
    if (m + (dm) < M && n + (dn) < g->N) {                                                    \
        _tile_stored(t, c, 64);                                                               \
        for (int64_t r = 0; r < 16 && m + (dm) + r < M; r++)                                  \
            hwa__ql_store16(c + 16 * r, m + (dm) + r, n + (dn), g->N, sums, z, s, ws, y, ldy); \
    }
            STORE_C(0, 0, 0)
            STORE_C(1, 0, 16)
            STORE_C(2, 16, 0)
            STORE_C(3, 16, 16)
#undef STORE_C
        }
    }
    _tile_release();
}

#endif
