/* Our own AMX products (part of the native provider): which products they
 * take, the weights packed into tiles once per tensor version, and the
 * per-call buffers; mm_tiles_amx.c has the tile kernels. Built without ISA
 * flags, so it is safe to call on any host. */
#include "backends/cpu/matmul/mm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/cpu/cpu_isa.h"
#include "core/checked.h"

typedef struct amx_pack {
    hwa__mm_kept key; /* form: 1 for int8 tiles, 0 for bf16 */
    void *tiles;
    float *col_scales; /* int8: NP * 32 */
} amx_pack;

struct hwa__mm_amx {
    hwa_ctx *ctx;
    hwa__mm_keep packs;
    amx_pack once;     /* B packed for this call only (no owner to key it by): in once_tiles */
    void *once_tiles;
    size_t once_cap;
    void *a_tiles;     /* per call: A in tiles */
    size_t a_cap;
    void *c_sums;      /* per call: f32 sums of a bf16 C */
    size_t c_cap;
    void *floats;      /* per call: padded bias, row scales */
    size_t floats_cap;
};

/* Where our tiles are the first choice (measured against oneDNN 2.6's
 * brgemm with 2 threads, bf16, from 17 x 1000 x 1000 to 2048^3 and
 * 256 x 4096 x 4096, and thin cases such as 4096 x 64 x 256): from this many
 * rows, since below it a 16-row tile is mostly padding and oneDNN's
 * vector path wins (at M = 1..16 it takes 10-22 us for 1000 x 1000 where
 * ours takes about 28 us) and from this K, since with short rows our per-tile
 * set-up dominates (1024 x 1000 x 64: 0.20 ms against 0.16 ms). */
#define AMX_PREFERRED_MIN_M 17
#define AMX_PREFERRED_MIN_K 128

static void pack_release(hwa_ctx *ctx, amx_pack *e) {
    hwa__free(ctx, e->tiles);
    hwa__free(ctx, e->col_scales);
    e->tiles = NULL;
    e->col_scales = NULL;
}

static void drop_pack(hwa_ctx *ctx, hwa__mm_kept *k) {
    pack_release(ctx, (amx_pack *)k);
    hwa__free(ctx, k);
}

hwa__mm_amx *hwa__mm_amx_new(hwa_ctx *ctx) {
    hwa__mm_amx *x = hwa__calloc(ctx, 1, sizeof *x);
    if (x) x->ctx = ctx, x->packs = (hwa__mm_keep){.ctx = ctx, .drop = drop_pack};
    return x;
}

void hwa__mm_amx_free(hwa__mm_amx *x) {
    if (!x) return;
    hwa__mm_keep_clear(&x->packs);
    hwa__free(x->ctx, x->once_tiles);
    hwa__free(x->ctx, x->a_tiles);
    hwa__free(x->ctx, x->c_sums);
    hwa__free(x->ctx, x->floats);
    hwa__free(x->ctx, x);
}

#if defined(__x86_64__)

static bool is_int8(const hwa__mm_problem *p) {
    return p->precision == HWA_MATMUL_PRECISION_INT8 && p->dt_a == HWA_F32 && p->dt_b == HWA_F32;
}

bool hwa__mm_amx_takes(const hwa__mm_problem *p) {
    if (hwa__isa_active() < HWA_ISA_AMX) return false;
    const hwa__cpu_caps *caps = hwa__cpu_caps_get();
    if (!caps->amx_permitted) return false;
    if (p->bias && p->dt_bias != HWA_F32 && p->dt_bias != HWA_BF16) return false;
    if (p->act != HWA_OP_NONE && p->act != HWA_OP_RELU && p->act != HWA_OP_GELU) return false;
    if (is_int8(p))
        /* weights quantized once: only weights that outlive the run */
        return caps->amx_int8 && p->dt_c == HWA_F32 && p->b_owner && !p->accumulate;
    const bool f32_in = p->dt_a == HWA_F32 && p->dt_b == HWA_F32 && p->precision == HWA_MATMUL_PRECISION_BF16;
    const bool bf16_in = (p->dt_a == HWA_BF16 || p->dt_a == HWA_F32) && p->dt_b == HWA_BF16 &&
                         (p->dt_a == HWA_BF16 || p->precision != HWA_MATMUL_PRECISION_F32);
    if (!caps->amx_bf16 || !(f32_in || bf16_in)) return false;
    if (p->dt_c != HWA_F32 && p->dt_c != HWA_BF16) return false;
    return true;
}

/* B without an owner (trainable weights, activations) is packed into tiles
 * on every call: then ours is first from this many rows and this K (measured
 * against oneDNN's unpacked bf16 product, 2 threads, N = 1000: at M = 1000,
 * K = 1000 0.72-0.78x its time, with A transposed and C accumulated too; at
 * M = 256, K = 512 1.4x, at M = 64 1.0-1.2x). */
#define AMX_UNPACKED_MIN_M 512
#define AMX_UNPACKED_MIN_K 768

bool hwa__mm_amx_preferred(const hwa__mm_problem *p) {
    if (!hwa__mm_amx_takes(p) || p->M < AMX_PREFERRED_MIN_M || p->K < AMX_PREFERRED_MIN_K) return false;
    return p->b_owner != NULL || (p->M >= AMX_UNPACKED_MIN_M && p->K >= AMX_UNPACKED_MIN_K);
}

/* Bytes of B's tiles. */
static hwa_status tile_bytes(hwa__mm_amx *x, const hwa__mm_problem *p, int64_t KB, int64_t NP, size_t *bytes) {
    if (!hwa__mul_size((size_t)NP, (size_t)KB, bytes) || !hwa__mul_size(*bytes, 2 * HWA_AMX_TILE_BYTES, bytes))
        return hwa__err(x->ctx, HWA_E_OVERFLOW, "matmul: packed weights of %lld x %lld overflow", (long long)p->K,
                        (long long)p->N);
    return HWA_OK;
}

/* Packs p's B into e->tiles (hwa__amx_tile's layout). bf16 tiles hold
 * pairs along k (row r: k = 32 kb + 2 r + {0,1} for each of 16 columns;
 * hwa__amx_pack_bf16), int8 tiles quads (row r: k = 64 kb + 4 r + {0..3}),
 * each column quantized with its own scale (f32 B only, packed once per
 * version of the weights). */
static hwa_status pack(hwa__mm_amx *x, amx_pack *e, bool int8, const hwa__mm_problem *p, int64_t KB, int64_t NP,
                       int nthreads) {
    size_t bytes;
    hwa_status st = tile_bytes(x, p, KB, NP, &bytes);
    if (st) return st;
    e->tiles = int8 ? hwa__calloc(x->ctx, bytes, 1) : hwa__malloc(x->ctx, bytes);
    float *inv = NULL;
    if (int8) {
        e->col_scales = hwa__calloc(x->ctx, (size_t)NP * 32, sizeof(float));
        inv = hwa__calloc(x->ctx, (size_t)NP * 32, sizeof(float));
    }
    if (!e->tiles || (int8 && (!e->col_scales || !inv))) {
        hwa__free(x->ctx, inv);
        pack_release(x->ctx, e);
        return hwa__err(x->ctx, HWA_E_NOMEM, "matmul: no memory for the packed weights of %lld x %lld",
                        (long long)p->K, (long long)p->N);
    }
    if (!int8) {
        hwa__amx_pack_bf16(p, KB, NP, e->tiles, nthreads);
        return HWA_OK;
    }
    hwa__mm_int8_col_scales(p, e->col_scales, inv);
    for (int64_t n = 0; n < p->N; n++) {
        const int64_t nt = n / 16, c = n % 16;
        for (int64_t k = 0; k < p->K; k++) {
            const int64_t kb = k / 64, r = (k % 64) / 4, w = k % 4;
            const size_t at = hwa__amx_tile(KB, nt, kb) * HWA_AMX_TILE_BYTES + (size_t)(r * 64) + (size_t)(c * 4 + w);
            const int64_t src = p->tb ? n * p->ldb + k : k * p->ldb + n;
            const float v = ((const float *)p->b)[src] * inv[n];
            ((int8_t *)e->tiles)[at] = (int8_t)nearbyintf(fminf(fmaxf(v, -127.0f), 127.0f));
        }
    }
    hwa__free(x->ctx, inv);
    return HWA_OK;
}

/* The packed B of p: kept per owner and version, or packed for this call
 * into a buffer kept for that when p->b has no owner (bf16 only: int8
 * takes owned weights alone). */
static hwa_status pack_get(hwa__mm_amx *x, const hwa__mm_problem *p, bool int8, int64_t KB, int64_t NP, int nthreads,
                           amx_pack **out) {
    if (!p->b_owner) {
        size_t bytes;
        hwa_status st = tile_bytes(x, p, KB, NP, &bytes);
        if (st) return st;
        if (!hwa__scratch_grow(x->ctx, &x->once_tiles, &x->once_cap, bytes))
            return hwa__err(x->ctx, HWA_E_NOMEM, "matmul: no memory for %zu bytes of weight tiles", bytes);
        x->once = (amx_pack){.tiles = x->once_tiles};
        hwa__amx_pack_bf16(p, KB, NP, x->once_tiles, nthreads);
        *out = &x->once;
        return HWA_OK;
    }
    amx_pack *e = (amx_pack *)hwa__mm_keep_find(&x->packs, p, int8, NULL, NULL, NULL);
    if (!e) {
        e = hwa__calloc(x->ctx, 1, sizeof *e);
        if (!e) return hwa__err(x->ctx, HWA_E_NOMEM, "matmul: no memory for a packed-weights entry");
        hwa_status st = pack(x, e, int8, p, KB, NP, nthreads);
        if (st) {
            hwa__free(x->ctx, e);
            return st;
        }
        hwa__mm_keep_add(&x->packs, &e->key, p, int8, 0);
    }
    *out = e;
    return HWA_OK;
}

/* Who does what: threads split the n-pairs (each keeps its slice of the
 * weights in its own L2) unless all of the weights fit there or there are
 * fewer n-pairs than m-pairs and threads; each converts blocks of A of about 256 KB into its own tiles
 * (at most HWA_AMX_MCB_CHUNKED m-pairs when K comes in chunks). Tiny
 * products run on one thread: a fork costs more than they do. */
static void plan(hwa__amx_job *j, int nthreads) {
    if (nthreads < 1) nthreads = 1;
    /* Split the rows instead when every thread can keep all of B in its
     * L2 (about 1 MB of tiles): then no thread converts rows it does not
     * use. */
    const double b_bytes = (double)j->NP * (double)j->KB * (2.0 * HWA_AMX_TILE_BYTES);
    j->split_n = !(j->MP >= nthreads && b_bytes <= 1024.0 * 1024.0) && (j->NP >= nthreads || j->NP >= j->MP);
    const int64_t units = j->split_n ? j->NP : j->MP;
    j->nthreads = units < nthreads ? (int)units : nthreads;
    if (j->nthreads < 1 || (double)j->MP * (double)j->NP * (double)j->KB < 64.0) j->nthreads = 1;
    const int64_t pair_bytes = (j->KB > 0 ? j->KB : 1) * 2 * HWA_AMX_TILE_BYTES;
    int64_t mcb;
    if (j->KB > HWA_AMX_KCHUNK) {
        /* chunked K: every m-pair of the block uses each chunk of B while it
         * is in L1, so the weights stream from memory once per block: up
         * to HWA_AMX_MCB_CHUNKED m-pairs within about 1 MB of A */
        mcb = (1024 * 1024) / pair_bytes;
        if (mcb > HWA_AMX_MCB_CHUNKED) mcb = HWA_AMX_MCB_CHUNKED;
    } else {
        mcb = (256 * 1024) / pair_bytes;
    }
    if (mcb < 1) mcb = 1;
    const int64_t span = j->split_n ? j->MP : (j->MP + j->nthreads - 1) / j->nthreads;
    j->mcb = mcb < span ? mcb : span;
}

hwa_status hwa__mm_amx_run(hwa__mm_amx *x, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                           char *name, size_t name_cap) {
    if (!x || !simd || !hwa__mm_amx_takes(p)) return HWA_E_UNSUPPORTED;
    if (p->M == 0 || p->N == 0) return HWA_OK;
    const bool int8 = is_int8(p);
    const int64_t kt = int8 ? 64 : 32;
    hwa__amx_job j = {.p = p, .int8 = int8};
    j.KB = (p->K + kt - 1) / kt;
    j.MP = (p->M + 31) / 32;
    j.NP = (p->N + 31) / 32;
    amx_pack *pk = NULL;
    hwa_status st = pack_get(x, p, int8, j.KB, j.NP, nthreads, &pk);
    if (st) return st;
    plan(&j, nthreads);
    size_t a_bytes, nf;
    /* sizes below are bounded by M, N, K and the thread count, each of
     * which the tensors' own allocations bound; the products are checked */
    if (!hwa__mul_size((size_t)j.mcb * (size_t)j.KB, 2 * HWA_AMX_TILE_BYTES, &a_bytes) ||
        !hwa__mul_size(a_bytes, (size_t)j.nthreads, &a_bytes) ||
        !hwa__add_size((size_t)j.NP * 32, (size_t)j.nthreads * (size_t)j.mcb * 32, &nf))
        return hwa__err(x->ctx, HWA_E_OVERFLOW, "matmul: activations of %lld x %lld overflow", (long long)p->M,
                        (long long)p->K);
    if (!hwa__scratch_grow(x->ctx, &x->a_tiles, &x->a_cap, a_bytes ? a_bytes : 64) ||
        !hwa__scratch_grow(x->ctx, &x->floats, &x->floats_cap, nf * sizeof(float)))
        return hwa__err(x->ctx, HWA_E_NOMEM, "matmul: no memory for %zu bytes of activation tiles", a_bytes);
    if (p->dt_c == HWA_BF16) {
        /* each thread's sums: a block of rows x its n-pairs' columns */
        const int64_t pairs = j.split_n ? (j.NP + j.nthreads - 1) / j.nthreads : j.NP;
        size_t per, all;
        if (!hwa__mul_size((size_t)j.mcb * 32, (size_t)pairs * 32, &per) ||
            !hwa__mul_size(per, (size_t)j.nthreads * sizeof(float), &all))
            return hwa__err(x->ctx, HWA_E_OVERFLOW, "matmul: sums of %lld x %lld overflow", (long long)p->M,
                            (long long)p->N);
        if (!hwa__scratch_grow(x->ctx, &x->c_sums, &x->c_cap, all))
            return hwa__err(x->ctx, HWA_E_NOMEM, "matmul: no memory for %zu bytes of sums", all);
        j.c_sums = x->c_sums;
        j.c_sums_per_thread = per;
    }
    float *bias_pad = x->floats, *row_scales = bias_pad + (size_t)j.NP * 32;
    if (p->bias) {
        if (p->dt_bias == HWA_BF16) simd->half_to_f32(p->bias, bias_pad, p->N, true);
        else memcpy(bias_pad, p->bias, (size_t)p->N * sizeof *bias_pad);
        memset(bias_pad + p->N, 0, (size_t)(j.NP * 32 - p->N) * sizeof *bias_pad);
        j.bias_pad = bias_pad;
    }
    j.a_tiles = x->a_tiles;
    j.b_tiles = pk->tiles;
    j.row_scales = int8 ? row_scales : NULL;
    j.col_scales = pk->col_scales;
    hwa__amx_run_job(&j, simd);
    snprintf(name, name_cap, "native:amx-%s%s%s%s", int8 ? "int8" : "bf16", p->b_owner ? "+packed" : "",
             p->bias ? "+bias" : "",
             p->act == HWA_OP_RELU ? "+relu" : p->act == HWA_OP_GELU ? "+gelu" : p->accumulate ? "+acc" : "");
    return HWA_OK;
}

#else /* no AMX off x86-64 */

bool hwa__mm_amx_takes(const hwa__mm_problem *p) {
    (void)p;
    return false;
}

bool hwa__mm_amx_preferred(const hwa__mm_problem *p) {
    (void)p;
    return false;
}

hwa_status hwa__mm_amx_run(hwa__mm_amx *x, const hwa__mm_problem *p, const hwa__simd *simd, int nthreads,
                           char *name, size_t name_cap) {
    (void)x, (void)p, (void)simd, (void)nthreads, (void)name, (void)name_cap;
    return HWA_E_UNSUPPORTED;
}

#endif
