/* Vector kernels for the training ops (optimizer updates, the sum of
 * squares, ReLU's backward), one table per ISA level like simd.h. Each one
 * does the reference kernel's float operations in the reference's order,
 * lane by lane (no FMA contraction, exactly rounded sqrt and division), so
 * its results are bitwise those of ref_optim.c / ref_elementwise.c (given
 * the same MXCSR: cpu_train_fast.c runs the updates with subnormals
 * flushed). They are single-threaded; cpu_train_fast.c splits the work. */
#ifndef HWADAPT_CPU_TRAIN_SIMD_H
#define HWADAPT_CPU_TRAIN_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* The per-call constants of one ADAM_UPDATE (see ops_list.h). */
typedef struct hwa__adam_k {
    float c;                    /* clipping factor (1: none) */
    float b1, b2, omb1, omb2;   /* betas and 1 - betas */
    float bc2_sqrt, eps, step_size;
    float wd, decay;            /* L2 weight decay; AdamW's 1 - lr*wd */
    bool decoupled;
} hwa__adam_k;

/* The per-call constants of one SGD_UPDATE. */
typedef struct hwa__sgd_k {
    float c, lr, mom, wd;
    bool nesterov;
} hwa__sgd_k;

typedef struct hwa__train_simd {
    const char *name; /* "avx2", "avx512" */
    /* n elements of parameter p, gradient g, moments m and v, in place. */
    void (*adam)(float *p, const float *g, float *m, float *v, int64_t n, const hwa__adam_k *k);
    /* buf NULL: no momentum. */
    void (*sgd)(float *p, const float *g, float *buf, int64_t n, const hwa__sgd_k *k);
    /* part[i % 8] = sum of x[i]^2 in double over i in [0, n), each sum
     * in index order; part[] comes in zeroed (one call per array). */
    void (*sum_sq)(const float *x, int64_t n, double part[8]);
    /* d[i] = g[i] * (x[i] > 0 ? 1 : 0): UNARY_BACK of RELU. */
    void (*relu_back)(const float *g, const float *x, float *d, int64_t n);
} hwa__train_simd;

#if defined(__x86_64__)
extern const hwa__train_simd hwa__train_simd_avx2;
extern const hwa__train_simd hwa__train_simd_avx512;
#endif

/* The table for the active ISA level; NULL: the reference kernels only. */
const hwa__train_simd *hwa__train_simd_active(void);

#endif
