/* The CPU backend: host buffers, settings, and the compute loop that sends
 * each node to the best kernel it has: a matmul provider (with the bias add
 * and activation that follow a matmul fused into the same call), a vector
 * kernel for the hot elementwise/row ops, or the scalar reference.
 *
 * Devices: "cpu" and "cpu:0" are the whole CPU (every CPU this process may
 * use), as they always were; "cpu:N" for N > 0 is an error, because N has
 * always been a device index and there is one CPU device. "cpu:A-B" is a
 * core set: CPUs A to B alone ("cpu:0-0" is CPU 0, "cpu:1-1" CPU 1, "cpu:0-3"
 * four CPUs), each of them in the process's affinity mask. The dash is what
 * makes a core set, so no spelling means both. A core set is a device of
 * its own (its spec, normalised to "cpu:A-B", keys the scheduler's profile
 * cache and HWA_MEM_LIMIT): its thread count defaults to the set's size and
 * is capped by it, and while it computes, its threads run on those CPUs
 * (cpu_cores.c says which threads, and how). */
#include <stdio.h>
#include <string.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "backends/cpu/conv/conv.h"
#include "backends/cpu/conv/pool.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_cores.h"
#include "backends/cpu/cpu_fast.h"
#include "backends/cpu/cpu_load.h"
#include "backends/cpu/cpu_isa.h"
#include "backends/cpu/cpu_prof.h"
#include "backends/cpu/cpu_train_fast.h"
#include "backends/cpu/cpu_vision.h"
#include "backends/cpu/matmul/mm.h"
#include "backends/cpu/matmul/mm_qlinear.h"
#include "backends/cpu/matmul/mm_quant.h"
#include "backends/cpu/ref/ref.h"
#include "backends/cpu/sparse/spmm.h"
#include "backends/fuse.h"
#include "core/internal.h"

typedef hwa_status (*kernel_fn)(hwa_tensor *dst);

static const kernel_fn ref_kernels[HWA_OP_COUNT] = {
#define HWA__REF_ENTRY(name, str, nsrc, diff) [HWA_OP_##name] = hwa__ref_##name,
    HWA_OP_LIST(HWA__REF_ENTRY)
#undef HWA__REF_ENTRY
};

#define KNAME_CAP 96

typedef struct kname {
    const hwa_tensor *node;
    char name[KNAME_CAP];
} kname;

typedef struct cpu_state {
    int nthreads;          /* 0: the default */
    int default_threads;   /* the default, read when the backend is made or the
                            * count reset (the affinity mask and the cgroup
                            * quota cost system calls: not on every compute) */
    hwa_matmul_precision precision;
    hwa__mm_state *mm;
    hwa__ql *ql;           /* QLINEAR's kept weights */
    hwa__conv *conv;       /* convolutions' primitives (NULL: no oneDNN) */
    hwa__dnnpool *dnnpool; /* pooling's primitives (NULL: no oneDNN) */
    kname *names;          /* the kernel of each node of the last compute */
    unsigned char *done;   /* [cap_names]: nodes of this compute already run by a fused kernel */
    int n_names, cap_names;
    hwa__cpu_prof *prof;   /* HWA_PROFILE: time per op and kernel; else NULL */
    hwa__cpu_scratch scratch; /* f16 / bf16 ops through the f32 kernels */
    hwa__spmm_memo spmm;   /* sparse products' index tensors found valid */
    bool has_cores;        /* a core set ("cpu:A-B"), not the whole CPU */
    hwa__cpu_cores cores;
} cpu_state;

/* ---- buffers ----------------------------------------------------------- */

static void host_buffer_free(hwa_buffer *b) {
    hwa_allocator a = b->alloc;
    a.free(a.ud, b->base);
    a.free(a.ud, b);
}

static hwa_status cpu_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out) {
    hwa_ctx *ctx = be->ctx;
    void *base = ctx->alloc.alloc(ctx->alloc.ud, size ? size : HWA_ALIGN, HWA_ALIGN);
    if (!base) return hwa__err(ctx, HWA_E_NOMEM, "cpu: out of memory allocating a buffer of %zu bytes", size);
    hwa_buffer *b = hwa__host_buffer_new(ctx, be, base, size, host_buffer_free);
    if (!b) {
        ctx->alloc.free(ctx->alloc.ud, base);
        return HWA_E_NOMEM;
    }
    *out = b;
    return HWA_OK;
}

/* ---- settings ---------------------------------------------------------- */

int hwa__cpu_default_threads(void) {
    const char *e = getenv("HWA_NUM_THREADS");
    if (e && *e) {
        char *end = NULL;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 4096) return (int)v;
        fprintf(stderr, "hwadapt: HWA_NUM_THREADS=%s is not a count from 1 to 4096; ignored\n", e);
    }
    return hwa__cpu_usable_count();
}

static int cpu_threads(const hwa_backend *be) {
    const cpu_state *s = be->impl;
    const int n = s->nthreads > 0 ? s->nthreads : s->default_threads;
    const int cap = s->has_cores ? hwa__cpu_cores_count(&s->cores) : n;
    return n < cap ? n : cap;
}

/* HWA_NUM_THREADS or the CPUs this process may use, no more than a core
 * set has. */
static int default_threads(const cpu_state *s) {
    const int n = hwa__cpu_default_threads();
    const int cap = s->has_cores ? hwa__cpu_cores_count(&s->cores) : n;
    return n < cap ? n : cap;
}

static hwa_status cpu_set_threads(hwa_backend *be, int n) {
    cpu_state *s = be->impl;
    s->nthreads = n;
    if (n == 0) s->default_threads = default_threads(s);
    return HWA_OK;
}

static hwa_status cpu_set_matmul_precision(hwa_backend *be, hwa_matmul_precision p) {
    /* no CPU multiplies in TF32: exact f32 is the nearest */
    ((cpu_state *)be->impl)->precision = p == HWA_MATMUL_PRECISION_TF32 ? HWA_MATMUL_PRECISION_F32 : p;
    return HWA_OK;
}

static const char *cpu_kernel_name(const hwa_backend *be, const hwa_tensor *node) {
    const cpu_state *s = be->impl;
    for (int i = 0; i < s->n_names; i++)
        if (s->names[i].node == node) return s->names[i].name;
    return NULL;
}

/* ---- matmul ------------------------------------------------------------ */

/* A stored matrix [rows, cols] with strides (sr, sc) as a row-major matrix
 * with leading dimension *ld, read transposed (*trans flipped) when it is
 * stored column-major. False when neither stride is 1. */
static bool as_ld(int64_t rows, int64_t cols, int64_t sr, int64_t sc, bool *trans, int64_t *ld) {
    if (cols == 1) sc = 1;
    if (rows == 1) sr = cols;
    if (sc == 1 && sr >= cols) {
        *ld = sr;
        return true;
    }
    if (sr == 1 && sc >= rows) {
        *ld = sc;
        *trans = !*trans;
        return true;
    }
    return false;
}

/* The bytes [*lo, *hi) that t's elements occupy (views: from the strides). */
static void byte_span(const hwa_tensor *t, uintptr_t *lo, uintptr_t *hi) {
    int64_t ne[4], st[4], last = 0;
    hwa__shape4(t, ne, st);
    for (int d = 0; d < 4; d++) last += (ne[d] - 1) * (st[d] > 0 ? st[d] : 0);
    *lo = (uintptr_t)hwa__data(t);
    /* strides count elements; a block type stores a block's elements in
     * block_bytes */
    const int64_t bs = hwa_dtype_block_size(t->dtype);
    *hi = *lo + (uintptr_t)((last + bs) / bs) * hwa_dtype_block_bytes(t->dtype);
}

static bool overlaps(const hwa_tensor *a, const hwa_tensor *b) {
    uintptr_t al, ah, bl, bh;
    byte_span(a, &al, &ah);
    byte_span(b, &bl, &bh);
    return al < bh && bl < ah;
}

/* The problem of matmul node mm writing into out, from the shapes alone
 * (no data pointers, no bias, activation or accumulation: run_matmul adds
 * those): dimensions, leading dimensions, dtypes, the weights' owner, and
 * *nb0 x *nb1 products over the batch dimensions (1 x 1 when A's batches
 * stack into one product with shared weights). false when the views have
 * no leading dimension a provider takes. */
static bool problem_shape(const cpu_state *s, const hwa_tensor *mm, const hwa_tensor *out, hwa__mm_problem *p,
                          int64_t *nb0, int64_t *nb1) {
    const hwa_tensor *A = mm->src[0], *B = mm->src[1];
    int64_t ane[4], ast[4], bne[4], bst[4], dne[4], dst[4];
    hwa__shape4(A, ane, ast);
    hwa__shape4(B, bne, bst);
    hwa__shape4(out, dne, dst);
    *p = (hwa__mm_problem){0};
    p->M = dne[2], p->N = dne[3];
    p->ta = mm->p.i[0] != 0, p->tb = mm->p.i[1] != 0;
    p->K = p->ta ? ane[2] : ane[3];
    if (!as_ld(ane[2], ane[3], ast[2], ast[3], &p->ta, &p->lda) ||
        !as_ld(bne[2], bne[3], bst[2], bst[3], &p->tb, &p->ldb))
        return false;
    p->dt_a = A->dtype, p->dt_b = B->dtype, p->dt_c = out->dtype;
    p->ldc = p->N;
    p->dt_bias = HWA_F32;
    p->precision = s->precision;
    const hwa_tensor *owner = hwa__storage(B);
    /* Packed once and cached: leaves that are not trainable. Parameters
     * change every training step, often through hwa_tensor_data (which no
     * version sees), so they are read as they are on every run. */
    p->b_owner = owner->op == HWA_OP_NONE && !(owner->flags & HWA_TF_PARAM) ? owner : NULL;
    p->b_version = owner->version;
    const bool b_shared = bne[0] == 1 && bne[1] == 1;
    *nb0 = dne[0], *nb1 = dne[1];
    /* Shared weights and A's batches stacked row after row: one product
     * with every batch's rows (a Linear over [B, T, D]). */
    if (b_shared && !p->ta && (*nb0 > 1 || *nb1 > 1) && ast[1] == ane[2] * ast[2] && ast[0] == ane[1] * ast[1]) {
        p->M *= *nb0 * *nb1;
        *nb0 = *nb1 = 1;
    }
    return true;
}

/* Runs matmul node mm whose result, after the optional bias add and
 * activation, lands in out (mm itself when nothing is fused).
 * HWA_E_UNSUPPORTED when no provider takes it. */
static hwa_status run_matmul(cpu_state *s, hwa_tensor *mm, const hwa_tensor *bias, hwa_op act, bool accumulate,
                             hwa_tensor *out, const hwa__simd *simd, int nt, char *name) {
    const hwa_tensor *A = mm->src[0], *B = mm->src[1];
    if (!hwa_tensor_is_contiguous(out) || hwa_dtype_is_quantized(A->dtype) ||
        (hwa_dtype_is_quantized(B->dtype) && (bias || act != HWA_OP_NONE || accumulate)))
        return HWA_E_UNSUPPORTED;
    /* A fused output may have been planned into an input's storage (the
     * inputs are dead by the time the unfused add would have run). */
    if (overlaps(out, A) || overlaps(out, B) || (bias && overlaps(out, bias))) return HWA_E_UNSUPPORTED;
    int64_t ane[4], ast[4], bne[4], bst[4], dne[4], dst[4];
    hwa__shape4(A, ane, ast);
    hwa__shape4(B, bne, bst);
    hwa__shape4(out, dne, dst);
    hwa__mm_problem p;
    int64_t nb0, nb1;
    if (!problem_shape(s, mm, out, &p, &nb0, &nb1)) return HWA_E_UNSUPPORTED;
    if (hwa_dtype_is_quantized(B->dtype)) {
        /* weights in a block type, read in place */
        p.a = hwa__data(A), p.b = hwa__data(B), p.c = hwa__data(out);
        if (!p.a || !p.b || !p.c) return HWA_E_UNSUPPORTED;
        if (p.M >= HWA_QGEMM_MIN_M && simd)
            return hwa__mm_quant_gemm(s->mm, s->scratch.ctx, &p, simd, nt, &s->scratch.p, &s->scratch.cap, name,
                                      KNAME_CAP);
        const hwa__qkern k = hwa__qkern_pick(simd != NULL);
        hwa_status qst = hwa__mm_quant_run(s->scratch.ctx, &p, k, nt, &s->scratch.p, &s->scratch.cap);
        if (qst == HWA_OK) snprintf(name, KNAME_CAP, "q8dot:%s:%s", hwa_dtype_name(B->dtype), hwa__qkern_name(k));
        return qst;
    }
    p.bias = bias ? hwa__data(bias) : NULL;
    p.dt_bias = bias ? bias->dtype : HWA_F32;
    p.act = act;
    p.accumulate = accumulate;
    const size_t ea = hwa_dtype_block_bytes(A->dtype), eb = hwa_dtype_block_bytes(B->dtype),
                 ec = hwa_dtype_block_bytes(out->dtype);
    char *a0 = hwa__data(A), *b0 = hwa__data(B), *c0 = hwa__data(out);
    hwa_status st = HWA_OK;
    for (int64_t i0 = 0; i0 < nb0 && st == HWA_OK; i0++) {
        for (int64_t i1 = 0; i1 < nb1 && st == HWA_OK; i1++) {
            p.a = a0 + (size_t)(i0 * ast[0] + i1 * ast[1]) * ea;
            p.b = b0 + (size_t)((bne[0] == 1 ? 0 : i0) * bst[0] + (bne[1] == 1 ? 0 : i1) * bst[1]) * eb;
            p.c = c0 + (size_t)(i0 * dst[0] + i1 * dst[1]) * ec;
            st = hwa__mm_run(s->mm, &p, simd, nt, name, KNAME_CAP);
        }
    }
    return st;
}

/* ---- compute ----------------------------------------------------------- */

static bool reference_only = false;

void hwa__cpu_set_reference_only(bool on) { reference_only = on; }

static bool cpu_supports_op(const hwa_backend *be, const hwa_tensor *node) {
    return (unsigned)node->op < HWA_OP_COUNT && ref_kernels[node->op] != NULL;
}

/* The nodes after CONV2D nodes[i] that oneDNN's primitive can take over:
 * an ADD of a per-channel bias (b's padded shape [1, O, 1, 1]), then a
 * RELU, or a RELU alone; the same rules as fusable(). Returns how many
 * (0, 1 or 2). */
static int conv_fusable(hwa_tensor *const *nodes, int i, int n, int n_all, const hwa_tensor **bias, bool *relu) {
    const hwa_tensor *cv = nodes[i], *last = cv;
    int nf = 0;
    *bias = NULL;
    *relu = false;
    if (cv->view_src) return 0;
    /* the bias's [O] -> [O, 1, 1] view may stand between (it computes nothing) */
    const int view = i + 2 < n && nodes[i + 1]->op == HWA_OP_RESHAPE && nodes[i + 1]->view_src &&
                     nodes[i + 2]->src[1] == nodes[i + 1] && hwa__used_only_by(nodes[i + 1], nodes[i + 2], nodes, i + 2, n_all);
    if (i + 1 + view < n) {
        const hwa_tensor *add = nodes[i + 1 + view];
        int64_t ne[4], st[4];
        if (add->op == HWA_OP_ADD && add->src[0] == cv && add->dtype == cv->dtype && !add->view_src) {
            hwa__shape4(add->src[1], ne, st);
            if (ne[0] == 1 && ne[1] == cv->shape[1] && ne[2] == 1 && ne[3] == 1 &&
                hwa__used_only_by(cv, add, nodes, i + 1 + view, n_all)) {
                *bias = add->src[1];
                last = add;
                nf = 1 + view;
            }
        }
    }
    if (i + nf + 1 < n) {
        const hwa_tensor *a = nodes[i + nf + 1];
        if (a->op == HWA_OP_RELU && a->src[0] == last && a->dtype == last->dtype && !a->view_src &&
            hwa__used_only_by(last, a, nodes, i + nf + 1, n_all)) {
            *relu = true;
            nf++;
        }
    }
    return nf;
}

/* The in-place gradient update among nodes[i+1..n) that matmul nodes[i]
 * (fused nodes lie below n; nodes[n..n_all) are the rest of the graph, run
 * later, whose reads count too)
 * can take over: ADD(grad, mm) by adding its product into the gradient
 * (C += A B, *accumulate set), or the copy CONT(mm) into the gradient of an
 * HWA_GRAD_OVERWRITE graph by writing it there (C = A B). mm must be read
 * by that node alone, and no node in between may touch the gradient.
 * f32, or bf16 with a bf16 gradient (whose sum is then rounded once, where
 * the ADD would round the product and then the sum). Returns its index, or
 * -1. */
static int gradient_update(hwa_tensor *const *nodes, int i, int n, int n_all, bool *accumulate) {
    const hwa_tensor *mm = nodes[i];
    if (mm->view_src || (mm->dtype != HWA_F32 && mm->dtype != HWA_BF16) ||
        (mm->flags & (HWA_TF_OUTPUT | HWA_TF_PARAM | HWA_TF_GRAD)))
        return -1;
    for (int j = i + 1; j < n; j++) {
        const hwa_tensor *t = nodes[j];
        bool reads_mm = false;
        for (int k = 0; k < HWA_MAX_SRC; k++) reads_mm |= t->src[k] == mm;
        if (!reads_mm) continue;
        *accumulate = t->op == HWA_OP_ADD;
        const hwa_tensor *grad = t->view_src;
        bool form_ok = *accumulate ? t->src[0] == grad && t->src[1] == mm : t->op == HWA_OP_CONT && t->src[0] == mm;
        if (!form_ok || !grad || !(t->flags & HWA_TF_INPLACE) || !(grad->flags & HWA_TF_GRAD) ||
            grad->dtype != mm->dtype || !hwa_tensor_is_contiguous(grad) ||
            grad->ndim != mm->ndim || memcmp(grad->shape, mm->shape, sizeof(int64_t) * (size_t)mm->ndim) != 0 ||
            !hwa__used_only_by(mm, t, nodes, j, n_all))
            return -1;
        for (int b = i + 1; b < j; b++) {
            if (hwa__storage(nodes[b]) == grad) return -1;
            for (int k = 0; k < HWA_MAX_SRC; k++)
                if (nodes[b]->src[k] && hwa__storage(nodes[b]->src[k]) == grad) return -1;
        }
        return j;
    }
    return -1;
}

static hwa_status names_reserve(hwa_backend *be, cpu_state *s, int n) {
    if (n <= s->cap_names) return HWA_OK;
    kname *nn = hwa__realloc_array(be->ctx, s->names, (size_t)s->cap_names, (size_t)n, sizeof *nn);
    if (!nn) return HWA_E_NOMEM;
    s->names = nn;
    unsigned char *d = hwa__realloc_array(be->ctx, s->done, (size_t)s->cap_names, (size_t)n, 1);
    if (!d) return HWA_E_NOMEM;
    s->done = d;
    s->cap_names = n;
    return HWA_OK;
}

static void set_name(cpu_state *s, int i, const hwa_tensor *t, const char *name) {
    s->names[i].node = t;
    snprintf(s->names[i].name, KNAME_CAP, "%s", name);
}

/* Runs nodes[i] (and the nodes fused into it); *used gets how many nodes
 * that took. */
static hwa_status run_node(cpu_state *s, hwa_tensor *const *nodes, int i, int n, int n_all, const hwa__simd *simd,
                           int nt, int *used) {
    hwa_tensor *t = nodes[i];
    hwa_status st;
    const hwa_tensor *cbias;
    bool crelu;
    int nf_conv = 0;
    *used = 1;
    if (reference_only) {
        /* the yardstick for tests: every node by its reference kernel */
    } else if (t->op == HWA_OP_MATMUL) {
        const hwa_tensor *bias;
        hwa_op act;
        bool accumulate = true;
        const int acc = gradient_update(nodes, i, n, n_all, &accumulate);
        if (acc > 0 && hwa__data(nodes[acc])) {
            st = run_matmul(s, t, NULL, HWA_OP_NONE, accumulate, nodes[acc], simd, nt, s->names[i].name);
            if (st == HWA_OK) {
                s->done[acc] = 1;
                snprintf(s->names[acc].name, KNAME_CAP, "fused into node %d", i);
                s->names[acc].node = nodes[acc];
                hwa__tensor_touch(nodes[acc]);
                hwa__tensor_touch(t);
                return HWA_OK;
            }
            if (st != HWA_E_UNSUPPORTED) return st;
        }
        const int nf = hwa__mm_fusable(nodes, i, n, n_all, true, &bias, &act);
        hwa_tensor *out = nodes[i + nf];
        st = nf ? (hwa__data(out) ? run_matmul(s, t, bias, act, false, out, simd, nt, s->names[i].name)
                                  : HWA_E_UNSUPPORTED)
                : HWA_E_UNSUPPORTED;
        if (st == HWA_OK) {
            for (int j = 1; j <= nf; j++) {
                snprintf(s->names[i + j].name, KNAME_CAP, "fused into node %d", i);
                s->names[i + j].node = nodes[i + j];
                hwa__tensor_touch(nodes[i + j]);
            }
            hwa__tensor_touch(t);
            *used = 1 + nf;
            return HWA_OK;
        }
        if (st != HWA_E_UNSUPPORTED) return st;
        st = run_matmul(s, t, NULL, HWA_OP_NONE, false, t, simd, nt, s->names[i].name);
        if (st != HWA_E_UNSUPPORTED) {
            hwa__tensor_touch(t);
            return st;
        }
    } else if (t->op == HWA_OP_QLINEAR && (st = hwa__ql_run(s->ql, s->mm, t, simd, nt, s->names[i].name, KNAME_CAP)) !=
                                              HWA_E_UNSUPPORTED) {
        hwa__tensor_touch(t);
        return st;
    } else if (t->op == HWA_OP_SPMM &&
               (st = hwa__cpu_spmm_run(&s->spmm, t, nt, &s->scratch, s->names[i].name, KNAME_CAP)) !=
                   HWA_E_UNSUPPORTED) {
        hwa__tensor_touch(t);
        return st;
    } else if ((t->op == HWA_OP_POOL2D || t->op == HWA_OP_POOL2D_BACK) &&
               (st = hwa__dnnpool_run(s->dnnpool, t, nt, s->names[i].name, KNAME_CAP)) != HWA_E_UNSUPPORTED) {
        hwa__tensor_touch(t);
        return st;
    } else if (hwa__cpu_vision_run(t, nt, &s->scratch)) {
        set_name(s, i, t, "openmp");
        hwa__tensor_touch(t);
        return HWA_OK;
    } else if (t->op == HWA_OP_CONV2D && (nf_conv = conv_fusable(nodes, i, n, n_all, &cbias, &crelu)) > 0 &&
               !overlaps(nodes[i + nf_conv], t->src[0]) && !overlaps(nodes[i + nf_conv], t->src[1]) &&
               !(cbias && overlaps(nodes[i + nf_conv], cbias)) &&
               (st = hwa__conv_run_fused(s->conv, t, cbias, crelu, nodes[i + nf_conv], nt, s->names[i].name,
                                         KNAME_CAP)) != HWA_E_UNSUPPORTED) {
        if (st) return st;
        for (int j = 1; j <= nf_conv; j++) {
            snprintf(s->names[i + j].name, KNAME_CAP, "fused into node %d", i);
            s->names[i + j].node = nodes[i + j];
            hwa__tensor_touch(nodes[i + j]);
        }
        hwa__tensor_touch(t);
        *used = 1 + nf_conv;
        return HWA_OK;
    } else if ((t->op == HWA_OP_CONV2D || t->op == HWA_OP_CONV2D_BACK_DATA || t->op == HWA_OP_CONV2D_BACK_WEIGHT) &&
               (st = hwa__conv_run(s->conv, t, nt, s->names[i].name, KNAME_CAP)) != HWA_E_UNSUPPORTED) {
        hwa__tensor_touch(t);
        return st;
    } else if (hwa__cpu_train_fast_run(hwa__train_simd_active(), t, nt, &s->scratch)) {
        set_name(s, i, t, hwa__train_simd_active()->name);
        hwa__tensor_touch(t);
        return HWA_OK;
    } else if (hwa__cpu_fast_run(simd, t, nt, &s->scratch)) {
        set_name(s, i, t, simd->name);
        hwa__tensor_touch(t);
        return HWA_OK;
    } else if (s->scratch.failure) {
        st = s->scratch.failure;
        s->scratch.failure = HWA_OK;
        return st;
    }
    set_name(s, i, t, "ref");
    st = ref_kernels[t->op](t);
    hwa__tensor_touch(t);
    return st;
}

static void (*compute_probe)(void *ud);
static void *compute_probe_ud;

void hwa__cpu_set_compute_probe(void (*fn)(void *ud), void *ud) {
    compute_probe = fn;
    compute_probe_ud = ud;
}

/* Runs nodes[begin..end) of a graph of n_all nodes. */
static hwa_status run_nodes(hwa_backend *be, cpu_state *s, hwa_tensor *const *nodes, int begin, int end, int n_all,
                            int nt) {
    hwa_status st;
    const int n = end;
    if (compute_probe) compute_probe(compute_probe_ud);
    const hwa__simd *simd = hwa__simd_active();
    for (int i = begin; i < n;) {
        hwa_tensor *t = nodes[i];
        if (s->done[i]) {
            i++;
            continue;
        }
        set_name(s, i, t, "");
        if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) {
            i++;
            continue;
        }
        if (!hwa__data(t))
            return hwa__err(be->ctx, HWA_E_MISUSE, "cpu: node %d (%s) has no storage", i, hwa__op_name(t->op));
        int used = 1;
        const double t0 = s->prof ? hwa__cpu_prof_now() : 0.0;
        if ((st = run_node(s, nodes, i, n, n_all, simd, nt, &used))) return st;
        if (s->prof) hwa__cpu_prof_add(s->prof, t, s->names[i].name, used, hwa__cpu_prof_now() - t0);
        i += used;
    }
    return HWA_OK;
}

static hwa_status cpu_compute_part(hwa_backend *be, hwa_tensor *const *nodes, int n_all, int begin, int end) {
    cpu_state *s = be->impl;
    hwa_status st = names_reserve(be, s, n_all);
    if (st) return st;
    s->n_names = n_all;
    if (n_all > 0) memset(s->done, 0, (size_t)n_all);
    const int nt = hwa__cpu_threads_now(cpu_threads(be));
#if defined(_OPENMP)
    /* The matmul libraries take their thread count from OpenMP. */
    if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
#endif
    if (!s->has_cores) return run_nodes(be, s, nodes, begin, end, n_all, nt);
    hwa__cpu_bound bound;
    hwa__cpu_cores_enter(&s->cores, nt, &bound);
    st = run_nodes(be, s, nodes, begin, end, n_all, nt);
    hwa__cpu_cores_leave(&bound);
    return st;
}

static hwa_status cpu_compute(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    return cpu_compute_part(be, nodes, n, 0, n);
}

/* What the products of nodes[0..n) make the matrix libraries keep beside
 * the graph: oneDNN's copy of every leaf it multiplies by (a weight, or an
 * input that is a product's second operand, as a batch is in a weight's
 * gradient) in its own layout, once per leaf; and QLINEAR's packed (or
 * decoded) weights. The primitives are made now (as the first run would). */
static int64_t cpu_plan_kept(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    cpu_state *s = be->impl;
    const hwa__simd *simd = hwa__simd_active();
    const int nt = cpu_threads(be);
    int64_t sum = 0;
    for (int i = 0; i < n && !reference_only; i++) {
        const hwa_tensor *t = nodes[i];
        if (t->op == HWA_OP_QLINEAR) {
            /* one kept form per weight tensor and layout */
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = nodes[j]->op == HWA_OP_QLINEAR && hwa__storage(nodes[j]->src[1]) == hwa__storage(t->src[1]) &&
                       hwa__ql_kept_form(nodes[j]) == hwa__ql_kept_form(t);
            if (!seen) sum += hwa__ql_kept_bytes(t);
            continue;
        }
        if (t->op == HWA_OP_CONV2D || t->op == HWA_OP_CONV2D_BACK_DATA || t->op == HWA_OP_CONV2D_BACK_WEIGHT) {
            sum += hwa__conv_kept_bytes(s->conv, t, nt); /* the reorders' buffers, one set per node */
            continue;
        }
        if (t->op == HWA_OP_POOL2D_BACK) {
            sum += hwa__dnnpool_kept_bytes(s->dnnpool, t, nt); /* max pooling's forward result and workspace */
            continue;
        }
        hwa__mm_problem p;
        int64_t nb0, nb1;
        if (t->op != HWA_OP_MATMUL || hwa_dtype_is_quantized(t->src[1]->dtype) ||
            !problem_shape(s, t, t, &p, &nb0, &nb1) || !p.b_owner)
            continue;
        bool seen = false; /* one copy per leaf */
        for (int j = 0; j < i && !seen; j++) {
            const hwa_tensor *u = nodes[j];
            seen = u->op == HWA_OP_MATMUL && hwa__storage(u->src[1]) == p.b_owner;
        }
        if (!seen) sum += hwa__mm_kept_bytes(s->mm, &p, simd, nt) * nb0 * nb1;
    }
    return sum;
}

static void cpu_free(hwa_backend *be) {
    cpu_state *s = be->impl;
    hwa__mm_state_free(s->mm);
    hwa__ql_free(s->ql);
    hwa__conv_free(s->conv);
    hwa__dnnpool_free(s->dnnpool);
    hwa__cpu_prof_free(s->prof); /* prints the table first */
    hwa__cpu_scratch_free(&s->scratch);
    hwa__free(be->ctx, s->names);
    hwa__free(be->ctx, s->done);
    hwa__free(be->ctx, s);
    hwa__free(be->ctx, be);
}

static const hwa_backend_iface cpu_iface = {
    .api_version = HWA_BACKEND_API_VERSION,
    .name = "cpu",
    .kind = HWA_DEVICE_CPU,
    .supports_op = cpu_supports_op,
    .buffer_alloc = cpu_buffer_alloc,
    .compute = cpu_compute,
    .synchronize = NULL,
    .free = cpu_free,
    .set_threads = cpu_set_threads,
    .threads = cpu_threads,
    .set_matmul_precision = cpu_set_matmul_precision,
    .kernel_name = cpu_kernel_name,
    .plan_kept = cpu_plan_kept,
    .compute_part = cpu_compute_part,
};

/* A backend for the whole CPU, or for core set c when not NULL. */
static hwa_status cpu_new(hwa_ctx *ctx, const hwa__cpu_cores *c, hwa_backend **out) {
    hwa_backend *be = hwa__calloc(ctx, 1, sizeof *be);
    cpu_state *s = hwa__calloc(ctx, 1, sizeof *s);
    hwa__mm_state *mm = hwa__mm_state_new(ctx);
    hwa__ql *ql = hwa__ql_new(ctx);
    hwa__conv *conv = NULL;
    hwa__dnnpool *dnnpool = NULL;
    if (!be || !s || !mm || !ql || hwa__conv_new(ctx, &conv) != HWA_OK || hwa__dnnpool_new(ctx, &dnnpool) != HWA_OK) {
        hwa__conv_free(conv);
        hwa__free(ctx, be);
        hwa__free(ctx, s);
        hwa__mm_state_free(mm);
        hwa__ql_free(ql);
        return HWA_E_NOMEM;
    }
    s->conv = conv;
    s->dnnpool = dnnpool;
    s->mm = mm;
    s->ql = ql;
    s->has_cores = c != NULL;
    if (c) s->cores = *c;
    s->default_threads = default_threads(s);
    s->scratch.ctx = ctx;
    s->prof = hwa__cpu_prof_new(ctx);
    be->iface = &cpu_iface;
    be->ctx = ctx;
    be->impl = s;
    *out = be;
    return HWA_OK;
}

hwa_status hwa__cpu_backend_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    if (index != 0) {
        char allowed[256];
        hwa__cpu_allowed_list(allowed, sizeof allowed);
        return hwa__err(ctx, HWA_E_NOTFOUND,
                        "device 'cpu:%d': there is one CPU device, cpu:0 (the whole CPU); a core set is cpu:A-B, "
                        "CPUs A to B (cpu:%d-%d is CPU %d alone); this process may use CPUs %s",
                        index, index, index, index, allowed);
    }
    return cpu_new(ctx, NULL, out);
}

hwa_status hwa__cpu_backend_init_cores(hwa_ctx *ctx, const char *spec, const char *arg, hwa_backend **out) {
    hwa__cpu_cores c;
    hwa_status st = hwa__cpu_cores_parse(ctx, spec, arg, &c);
    if (st) return st;
    if ((st = cpu_new(ctx, &c, out))) return st;
    snprintf((*out)->spec, sizeof (*out)->spec, "cpu:%d-%d", c.first, c.last);
    return HWA_OK;
}

int hwa__cpu_backend_cores(const hwa_backend *be) {
    if (!be || be->iface != &cpu_iface) return 0;
    const cpu_state *s = be->impl;
    return s->has_cores ? hwa__cpu_cores_count(&s->cores) : 0;
}
