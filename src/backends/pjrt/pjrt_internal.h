/* The pjrt backend's internals: the StableHLO emitter and the op lowering
 * table (pjrt_lower.c) that the backend (pjrt_backend.c) drives. Not a
 * published API. */
#ifndef HWADAPT_BACKENDS_PJRT_INTERNAL_H
#define HWADAPT_BACKENDS_PJRT_INTERNAL_H

#include "core/internal.h"

/* Element types of emitted values. Float data is computed in f32 whatever
 * its storage type (as the reference reads and writes it through f32);
 * results are rounded to their node's dtype. */
typedef enum hwa__pj_et { HWA__PJ_F32, HWA__PJ_F16, HWA__PJ_BF16, HWA__PJ_I32, HWA__PJ_I1, HWA__PJ_F64 } hwa__pj_et;

/* Emitted values may have one dim more than tensors (rope's pairs). */
#define HWA__PJ_MAX_DIMS (HWA_MAX_DIMS + 1)

typedef struct hwa__pj_val {
    int ndim;
    int64_t sh[HWA__PJ_MAX_DIMS];
    hwa__pj_et et;
} hwa__pj_val;

/* A function body being written: text, and each SSA value's type (value
 * id k is spelled %vk). */
typedef struct hwa__pj_emit {
    hwa_ctx *ctx;
    char *text;
    size_t len, cap;
    hwa__pj_val *vals;
    int n_vals, cap_vals;
    bool oom;
    char why[160]; /* a lowering that cannot go on says why here */
} hwa__pj_emit;

/* A new value of the given type (no text): its id, or -1 when out of
 * memory. */
int hwa__pj_new_val(hwa__pj_emit *e, int ndim, const int64_t *sh, hwa__pj_et et);
void hwa__pj_printf(hwa__pj_emit *e, const char *fmt, ...) HWA_PRINTF(2, 3);
/* "tensor<3x4xf32>" of value id into buf. */
const char *hwa__pj_type(const hwa__pj_emit *e, int id, char *buf, size_t cap);
/* convert of a to element type et (a itself when it has it). */
int hwa__pj_convert(hwa__pj_emit *e, int a, hwa__pj_et et);
hwa__pj_et hwa__pj_et_of(hwa_dtype t);

/* One op's lowering: the node t, its inputs' values in[] (computed type:
 * f32, or i32 for indices), rt the value of its run-time argument or -1
 * (see hwa__pj_run_time_arg); returns the id of t's value in f32 (or -1
 * with e->why), and for ops that also update a state tensor in place,
 * *state its new value (else -1). */
typedef int (*hwa__pj_lower_fn)(hwa__pj_emit *e, const hwa_tensor *t, const int *in, int rt, int *state);

/* The lowering table (one row per op; NULL: not lowered). Views are
 * lowered too (reshape, transpose, slice). */
hwa__pj_lower_fn hwa__pj_lowering(hwa_op op);
/* What a node passes at run time rather than compiles in, so that one
 * executable serves every step:
 *  HWA__PJ_RT_HYPER  the optimizers' hyper-parameters p.f, as f32[8] (the
 *                    learning rate and bias corrections change per step);
 *  HWA__PJ_RT_OFFSET write_slice's start p.l[0], as i32[1] (a decode step
 *                    writes the KV cache one position further each time);
 *  HWA__PJ_RT_KEYS   attention over a prefix of its keys (k and v sliced
 *                    from 0 along the time dim): the prefix's length, as
 *                    i32[1], with the whole of k and v as inputs (the
 *                    slice's extent grows by one per decode step). */
typedef enum hwa__pj_rt { HWA__PJ_RT_NONE, HWA__PJ_RT_HYPER, HWA__PJ_RT_OFFSET, HWA__PJ_RT_KEYS } hwa__pj_rt;
hwa__pj_rt hwa__pj_run_time_arg(const hwa_tensor *t);
/* For HWA__PJ_RT_KEYS: the tensors attention t reads in place of its
 * sliced k and v (src[1] and src[2]), and the prefix length. */
void hwa__pj_attention_keys(const hwa_tensor *t, const hwa_tensor **k, const hwa_tensor **v, int32_t *len);
/* The source of op that holds i32 indices, or -1. */
int hwa__pj_index_src(hwa_op op);

/* The executables compiled and the computes the cache served, over every
 * pjrt backend of the process since it started (for tests and benches; not
 * synchronised: read them where no compute runs). */
void hwa__pjrt_compile_counts(long *compiles, long *cache_hits);

#endif
