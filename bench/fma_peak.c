/* An independent peak-FLOP/s measurement to check hwadapt's calibration:
 * every CPU in the affinity mask runs its own pthread with a loop of
 * independent fused multiply-adds (AVX-512 if the CPU and OS support it,
 * else AVX2+FMA), and the best of several timed runs is reported.
 * Built on its own by fma_peak.sh with its own flags; shares no code with
 * libhwadapt. Prints one line: "fma_peak_f32_gflops <value> <isa> <threads>". */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACCS 20

typedef struct job {
    long iters;
    int wide;          /* 1: AVX-512, 0: AVX2 */
    float result;
    pthread_barrier_t *start;
} job;

__attribute__((target("avx512f"))) static float run512(long iters) {
    __m512 v[ACCS];
    for (int k = 0; k < ACCS; k++) v[k] = _mm512_set1_ps((float)k * 0.01f);
    __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(0.0001f);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 20
        for (int k = 0; k < ACCS; k++) v[k] = _mm512_fmadd_ps(v[k], m, c);
    }
    for (int k = 1; k < ACCS; k++) v[0] = _mm512_add_ps(v[0], v[k]);
    return _mm512_reduce_add_ps(v[0]);
}

__attribute__((target("avx2,fma"))) static float run256(long iters) {
    __m256 v[ACCS / 2];
    for (int k = 0; k < ACCS / 2; k++) v[k] = _mm256_set1_ps((float)k * 0.01f);
    __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(0.0001f);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 10
        for (int k = 0; k < ACCS / 2; k++) v[k] = _mm256_fmadd_ps(v[k], m, c);
    }
    float out[8], s = 0;
    for (int k = 1; k < ACCS / 2; k++) v[0] = _mm256_add_ps(v[0], v[k]);
    _mm256_storeu_ps(out, v[0]);
    for (int k = 0; k < 8; k++) s += out[k];
    return s;
}

static void *worker(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->start);
    j->result = j->wide ? run512(j->iters) : run256(j->iters);
    return NULL;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One timed run on n threads; returns GFLOP/s. */
static double timed(int n, long iters, int wide) {
    pthread_t th[1024];
    job jobs[1024];
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){iters, wide, 0, &b};
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    pthread_barrier_wait(&b);
    double t0 = seconds();
    float sink = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        sink += jobs[i].result;
    }
    double dt = seconds() - t0;
    pthread_barrier_destroy(&b);
    if (sink == 12345.678f) fprintf(stderr, "unlikely\n");
    double flops = (double)n * iters * (wide ? ACCS * 16 : ACCS / 2 * 8) * 2;
    return flops / dt / 1e9;
}

int main(void) {
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        printf("fma_peak: neither AVX-512 nor AVX2+FMA on this CPU; nothing to measure\n");
        return 77;
    }
    cpu_set_t set;
    int n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n > 1024) n = 1024;
    long iters = 1 << 16;
    while (timed(n, iters, wide) > 0 && iters < (1L << 40)) {
        double t0 = seconds();
        timed(n, iters, wide);
        if (seconds() - t0 > 0.05) break;
        iters *= 2;
    }
    iters *= 6; /* ~0.3 s per run */
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double g = timed(n, iters, wide);
        if (g > best) best = g;
    }
    printf("fma_peak_f32_gflops %.1f %s %d\n", best, wide ? "avx512" : "avx2", n);
    return 0;
}
