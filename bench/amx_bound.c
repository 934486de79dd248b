/* What AMX can do for the seed's Linear at batch 64 (y = x W^T, x 64 x 1000,
 * W 1000 x 1000) on this machine: the parts of a bf16 product timed on their
 * own, so that a bf16 Linear's time can be set against what its pieces cost
 * at best. Independent of libhwadapt (built on its own by amx_bound.sh, like
 * fma_peak.c); one pthread per CPU of the affinity mask, each with its share
 * of W's columns, as a threaded product splits them.
 *
 * Operands are 1 KB tiles of 16 rows x 64 bytes (bf16: 16 rows x 32
 * values); the products use a 2 x 2 block of C tiles (tmm0-3), two A and two
 * B tiles per step (tmm4-7): four TDPBF16PS per four tile loads, the most
 * reuse eight tile registers allow. Per thread and repetition it times:
 *
 *   l1       the thread's TDPBF16PS count with every operand in L1 (a
 *            chunk of 8 k-tiles used over and over), C stored once per
 *            block: the instruction's rate, the floor of any loop order;
 *   stream   the same products over the thread's real slice of W's tiles
 *            (about 1 MB, in L2 after the first repetition) and all of A's
 *            (128 KB): K in chunks of 8 k-tiles whose W tiles stay in L1
 *            while both 32-row blocks of A use them, partial sums in L1;
 *   convert  x (f32, shared) rounded into the thread's own A tiles;
 *   both     convert, then stream: a whole bf16 Linear without its bias;
 *   half     stream over the first half of the thread's W tiles only
 *            (512 KB), reported doubled: what the loop would take if a
 *            thread's share of W sat in L2 with room to spare. Set against
 *            stream it shows what the 1 MB share costs for L2's capacity.
 *
 * Each figure is the median over the repetitions of the slowest thread.
 * The operands are real values (x in [-1, 1), W a hundredth of that): on
 * this class of machine the tile unit multiplies zeros measurably faster,
 * so a probe on untouched (zero) buffers reports too good a figure.
 * Prints "amx_bound <name> <microseconds>" lines; exit 77 (skipped, with
 * the reason) where the CPU or the OS offers no AMX. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cpuid.h>

enum { M = 64, N = 1000, K = 1000, KT = 32 /* bf16 values per tile row */, TILE = 1024, KCH = 8, REPS = 2000 };
enum { KB = (K + KT - 1) / KT, NP = (N + 31) / 32, MP = M / 32 };

typedef struct tile_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

typedef struct thread {
    int n0, n1; /* n-pairs [n0, n1) */
    char *a, *b;    /* A tiles [mp][kb][2], B tiles [np - n0][kb][2] */
    float *c;       /* [M][N], this thread's columns */
    double *t[5];   /* per repetition: l1, stream, convert, both, half */
} thread;

static const float *x;
static pthread_barrier_t sync_all;
static int nthreads;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* The tile unit and the OS's permission to use it. */
static const char *amx_missing(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return "no cpuid leaf 7";
    if (!(d & (1u << 24)) || !(d & (1u << 22))) return "the CPU has no AMX-BF16";
    if (!(c & (1u << 27))) return "no OSXSAVE";
    if ((_xgetbv(0) & 0x60000) != 0x60000) return "the OS does not enable the AMX state";
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0)
        return "the OS refuses the AMX permission";
    return NULL;
}

static void tiles_on(void) {
    tile_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) cfg.colsb[i] = 64, cfg.rows[i] = 16;
    _tile_loadconfig(&cfg);
}

/* Sums over n k-tiles into tmm0-3: A tiles at a, B tiles at b, each a pair
 * per k-tile. */
static inline void steps(const char *a, const char *b, int n) {
    for (int k = 0; k < n; k++, a += 2 * TILE, b += 2 * TILE) {
        _tile_loadd(4, a, 64);
        _tile_loadd(5, a + TILE, 64);
        _tile_loadd(6, b, 64);
        _tile_loadd(7, b + TILE, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
}

static void zero_c(void) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
}

/* The 2 x 2 block of C at c (row stride ld bytes): loaded or stored. */
#define BLOCK(OP, c, ld)                                   \
    do {                                                   \
        OP(0, (c), (ld));                                  \
        OP(1, (char *)(c) + 64, (ld));                     \
        OP(2, (char *)(c) + 16 * (ld), (ld));              \
        OP(3, (char *)(c) + 16 * (ld) + 64, (ld));         \
    } while (0)

/* C block of m-pair mp, n-pair np: whole tiles of a 1024-column pitch
 * (this thread's own buffer, so the padding columns stay its own). */
static float *c_block(const thread *t, int mp, int np) { return t->c + (size_t)mp * 32 * 1024 + (size_t)np * 32; }
#define LDC (1024 * 4)

static void run_l1(const thread *t) {
    for (int np = t->n0; np < t->n1; np++)
        for (int mp = 0; mp < MP; mp++) {
            zero_c();
            for (int k0 = 0; k0 < KB; k0 += KCH) steps(t->a, t->b, KB - k0 < KCH ? KB - k0 : KCH);
            BLOCK(_tile_stored, c_block(t, mp, np), LDC);
        }
}

/* The products of n-pairs [t->n0, n1). */
static void stream_to(const thread *t, int n1) {
    float part[MP][32 * 32] __attribute__((aligned(64))); /* a 32 x 32 block per m-pair */
    for (int np = t->n0; np < n1; np++) {
        const char *b = t->b + (size_t)(np - t->n0) * KB * 2 * TILE;
        for (int k0 = 0; k0 < KB; k0 += KCH) {
            const int k1 = k0 + KCH < KB ? k0 + KCH : KB;
            for (int mp = 0; mp < MP; mp++) {
                if (k0 == 0) zero_c();
                else BLOCK(_tile_loadd, part[mp], 32 * 4);
                steps(t->a + ((size_t)mp * KB + (size_t)k0) * 2 * TILE, b + (size_t)k0 * 2 * TILE, k1 - k0);
                if (k1 < KB) BLOCK(_tile_stored, part[mp], 32 * 4);
                else BLOCK(_tile_stored, c_block(t, mp, np), LDC);
            }
        }
    }
}

static void run_stream(const thread *t) { stream_to(t, t->n1); }
static void run_half(const thread *t) { stream_to(t, t->n0 + (t->n1 - t->n0) / 2); }

/* x's rows into A tiles: each 32 values of a row rounded into one 64-byte
 * tile row, zeros past K. */
static void run_convert(const thread *t) {
    for (int m = 0; m < M; m++) {
        char *d = t->a + ((size_t)(m / 32) * KB * 2 + (size_t)((m / 16) % 2)) * TILE + (size_t)(m % 16) * 64;
        const float *r = x + (size_t)m * K;
        for (int kb = 0; kb < KB; kb++) {
            const int n = K - kb * KT;
            const __mmask16 lo = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
            const __mmask16 hi = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
            const __m512 v0 = _mm512_maskz_loadu_ps(lo, r + kb * KT), v1 = _mm512_maskz_loadu_ps(hi, r + kb * KT + 16);
            _mm512_storeu_si512(d + (size_t)kb * 2 * TILE, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
        }
    }
}

static void *worker(void *arg) {
    thread *t = arg;
    tiles_on();
    run_convert(t); /* A holds real values from the start: zeros multiply faster */
    void (*const fns[5])(const thread *) = {run_l1, run_stream, run_convert, NULL, run_half};
    for (int f = 0; f < 5; f++)
        for (int r = -20; r < REPS; r++) {
            pthread_barrier_wait(&sync_all);
            const double t0 = now_us();
            if (fns[f]) {
                fns[f](t);
            } else {
                run_convert(t);
                run_stream(t);
            }
            if (r >= 0) t->t[f][r] = now_us() - t0;
        }
    _tile_release();
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    const double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* bf16 of v, rounded to nearest even (no NaNs here). */
static uint16_t bf16(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static float from_bf16(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

int main(void) {
    const char *why = amx_missing();
    if (why) {
        printf("amx_bound: skipped: %s\n", why);
        return 77;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    nthreads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > NP) nthreads = NP;
    /* data: x in [-1, 1), W small, both from a fixed sequence */
    float *xs = aligned_alloc(64, sizeof(float) * M * K), *w = aligned_alloc(64, sizeof(float) * N * K);
    if (!xs || !w) return 1;
    uint32_t s = 12345;
    for (int i = 0; i < M * K; i++) s = s * 1664525u + 1013904223u, xs[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    for (int i = 0; i < N * K; i++) s = s * 1664525u + 1013904223u, w[i] = ((float)(s >> 8) / 8388608.0f - 1.0f) * 0.03f;
    x = xs;
    thread *ts = calloc((size_t)nthreads, sizeof *ts);
    pthread_t *ids = calloc((size_t)nthreads, sizeof *ids);
    if (!ts || !ids) return 1;
    pthread_barrier_init(&sync_all, NULL, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++) {
        thread *t = &ts[i];
        t->n0 = NP * i / nthreads, t->n1 = NP * (i + 1) / nthreads;
        t->a = aligned_alloc(64, (size_t)MP * KB * 2 * TILE);
        t->b = aligned_alloc(64, (size_t)(t->n1 - t->n0) * KB * 2 * TILE);
        t->c = aligned_alloc(64, sizeof(float) * M * 1024);
        for (int f = 0; f < 5; f++)
            if (!(t->t[f] = calloc(REPS, sizeof(double)))) return 1;
        if (!t->a || !t->b || !t->c) return 1;
        /* W^T's columns np*32.. as B tiles: tile row r holds k = 32 kb + 2 r
         * + {0, 1} of 16 columns */
        for (int np = t->n0; np < t->n1; np++)
            for (int kb = 0; kb < KB; kb++)
                for (int h = 0; h < 2; h++) {
                    uint16_t *tile = (uint16_t *)(t->b + (((size_t)(np - t->n0) * KB + (size_t)kb) * 2 + (size_t)h) * TILE);
                    for (int r = 0; r < 16; r++)
                        for (int c = 0; c < 16; c++)
                            for (int e = 0; e < 2; e++) {
                                const int n = np * 32 + h * 16 + c, k = kb * KT + 2 * r + e;
                                tile[r * 32 + c * 2 + e] = n < N && k < K ? bf16(w[(size_t)n * K + k]) : 0;
                            }
                }
    }
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&ids[i], NULL, worker, &ts[i])) return 1;
    for (int i = 0; i < nthreads; i++) pthread_join(ids[i], NULL);

    /* check the last product (both: convert, then stream) against sums of
     * the same bf16 values in double */
    double err = 0;
    for (int i = 0; i < nthreads; i++)
        for (int m = 0; m < M; m += 7)
            for (int n = ts[i].n0 * 32; n < ts[i].n1 * 32 && n < N; n += 5) {
                double want = 0;
                for (int k = 0; k < K; k++) want += (double)from_bf16(bf16(xs[(size_t)m * K + k])) * from_bf16(bf16(w[(size_t)n * K + k]));
                const double got = ts[i].c[(size_t)m * 1024 + (size_t)n];
                const double e = got > want ? got - want : want - got;
                if (e > err) err = e;
            }
    if (err > 1e-3) {
        fprintf(stderr, "amx_bound: products off by %g: wrong result\n", err);
        return 1;
    }
    const char *names[5] = {"l1", "stream", "convert", "both", "half"};
    double *worst = calloc(REPS, sizeof(double));
    if (!worst) return 1;
    for (int f = 0; f < 5; f++) {
        for (int r = 0; r < REPS; r++) {
            worst[r] = 0;
            for (int i = 0; i < nthreads; i++) worst[r] = ts[i].t[f][r] > worst[r] ? ts[i].t[f][r] : worst[r];
        }
        qsort(worst, REPS, sizeof(double), cmp_d);
        printf("amx_bound %s %.2f\n", names[f], worst[REPS / 2] * (f == 4 ? 2.0 : 1.0));
    }
    printf("amx_bound threads %d\n", nthreads);
    printf("amx_bound max_abs_err %.3g\n", err);
    return 0;
}
