/* Throughput loops for the CPU's bf16 and int8 peak with AMX: tile products
 * whose operands stay in the tile registers, six accumulator tiles fed by
 * one A and one B tile, so the products are independent and the loop runs
 * at the tile unit's issue rate. The operands are fixed non-zero values
 * (the unit is measurably faster on zeros). Callers check hwa__amx_usable
 * first. Compiled with AMX flags (file suffix). */
#include "hw/hw_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

typedef struct tile_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

/* tmm0-7: 16 rows of 64 bytes each; A in tmm6, B in tmm7, sums in tmm0-5. */
static void tiles_load(const void *a, const void *b) {
    tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) c.colsb[i] = 64, c.rows[i] = 16;
    _tile_loadconfig(&c);
    _tile_loadd(6, a, 64);
    _tile_loadd(7, b, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
}

/* The six sum tiles into s (6 x 256 32-bit words), then the tile state released. */
static void tiles_store(void *s) {
    char *d = s;
    _tile_stored(0, d, 64);
    _tile_stored(1, d + 1024, 64);
    _tile_stored(2, d + 2048, 64);
    _tile_stored(3, d + 3072, 64);
    _tile_stored(4, d + 4096, 64);
    _tile_stored(5, d + 5120, 64);
    _tile_release();
}

/* One product into each sum tile. */
#define SIX_PRODUCTS(DP) \
    do {                 \
        DP(0, 6, 7);     \
        DP(1, 6, 7);     \
        DP(2, 6, 7);     \
        DP(3, 6, 7);     \
        DP(4, 6, 7);     \
        DP(5, 6, 7);     \
    } while (0)

/* Per TDPBF16PS: 16 x 16 sums of 32 bf16 products, 2 flops each. */
double hwa__fma_loop_bf16_amx(int64_t n_iter, double *ops) {
    uint16_t a[512], b[512];
    float s[6 * 256];
    /* small multiples of 1/64 (exact in bf16, sums exact in f32 for short
     * runs), of both signs */
    for (int i = 0; i < 512; i++) {
        a[i] = hwa_f32_to_bf16((float)(i % 13 - 6) / 64.0f);
        b[i] = hwa_f32_to_bf16((float)(i % 7 - 3) / 64.0f);
    }
    tiles_load(a, b);
    for (int64_t i = 0; i < n_iter; i++) SIX_PRODUCTS(_tile_dpbf16ps);
    tiles_store(s);
    double sum = 0;
    for (int i = 0; i < 6 * 256; i++) sum += s[i];
    *ops = (double)n_iter * 6 * 16 * 16 * 32 * 2;
    return sum;
}

/* Per TDPBSSD: 16 x 16 sums of 64 s8 x s8 products, 2 ops each. */
double hwa__fma_loop_i8_amx(int64_t n_iter, double *ops) {
    int8_t a[1024], b[1024];
    uint32_t s[6 * 256];
    for (int i = 0; i < 1024; i++) {
        a[i] = (int8_t)(i % 11 - 5);
        b[i] = (int8_t)(i % 5 - 2);
    }
    tiles_load(a, b);
    for (int64_t i = 0; i < n_iter; i++) SIX_PRODUCTS(_tile_dpbssd);
    tiles_store(s);
    /* the sums wrap by design: added as unsigned */
    uint64_t sum = 0;
    for (int i = 0; i < 6 * 256; i++) sum += s[i];
    *ops = (double)n_iter * 6 * 16 * 16 * 64 * 2;
    return (double)sum;
}

#else

double hwa__fma_loop_bf16_amx(int64_t n_iter, double *ops) { (void)n_iter; *ops = 0; return 0; }
double hwa__fma_loop_i8_amx(int64_t n_iter, double *ops) { (void)n_iter; *ops = 0; return 0; }

#endif
