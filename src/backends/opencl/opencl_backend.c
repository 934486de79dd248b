/* The opencl backend: devices of any OpenCL platform ("opencl:N", numbered
 * as the passport numbers them), through the ICD loader opened at run time.
 * Buffers live on the device and are read and written by blocking
 * transfers; kernels run on one in-order queue, so each node sees its
 * inputs complete, and a compute ends when the queue has drained. Every
 * kernel comes from the portable sources of backends/gpu/kernels. */
#include <math.h>
#include <string.h>

#include "backends/cpu/ref/ref.h"
#include "backends/opencl/opencl_internal.h"

typedef hwa__cl_view cl_view;
_Static_assert(HWA_F32 == 0 && HWA_F16 == 1 && HWA_BF16 == 2 && HWA_I32 == 4, "kernel dtype codes");

#define MAX_DEVICES 64
#define TILE 16      /* HWA_K_TILE of matmul.cl */
#define ROW_GROUP 256 /* HWA_K_ROW_GROUP of hwa_gpu.h */
#define ATT_MAX_D 512 /* HWA_K_ATT_MAX_D of hwa_gpu.h */

typedef struct cl_state {
    hwa__cl_dev *d;
    cl_program prog; /* NULL until the first compute */
    cl_kernel k[HWA__CLK_COUNT];
    size_t k_group[HWA__CLK_COUNT]; /* each kernel's largest work group */
    char why[192];                  /* the last reason a node is not supported */
    cl_mem scratch;                 /* temporaries of one node (rope's angles, attention's stats) */
    size_t scratch_size;
    /* the nodes of the last compute that a library routine ran, and which */
    struct ran_by {
        const hwa_tensor *node;
        const char *name; /* "opencl:clblast:sgemm" */
    } *ran;
    int n_ran, cap_ran;
} cl_state;

hwa_status hwa__cl_fail(hwa_ctx *ctx, const hwa__cl_dev *d, const char *call, cl_int code) {
    char b[48];
    const bool oom = code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_RESOURCES ||
                     code == CL_OUT_OF_HOST_MEMORY;
    return hwa__err(ctx, oom ? HWA_E_NOMEM : HWA_E_DEVICE, "%s (%s): %s failed: %s", d->spec, d->name, call,
                    hwa__cl_error_name(code, b, sizeof b));
}

static void dev_unref(hwa__cl_dev *d) {
    if (!d || --d->refs > 0) return;
    if (d->q) d->cl.ReleaseCommandQueue(d->q);
    if (d->cx) d->cl.ReleaseContext(d->cx);
    d->alloc.free(d->alloc.ud, d);
}

/* ---- buffers ----------------------------------------------------------- */

static hwa_status range_ok(const hwa_buffer *b, size_t off, size_t n, const char *what) {
    if (off > b->size || n > b->size - off)
        return hwa__err(NULL, HWA_E_RANGE, "%s: buffer %s past the end (%zu + %zu > %zu)",
                        ((const hwa__cl_buf *)b->impl)->d->spec, what, off, n, b->size);
    return HWA_OK;
}

static hwa_status buf_write(hwa_buffer *b, size_t off, const void *src, size_t n) {
    hwa__cl_buf *cb = b->impl;
    hwa_status st = range_ok(b, off, n, "write");
    if (st || n == 0) return st;
    cl_int rc = cb->d->cl.EnqueueWriteBuffer(cb->d->q, cb->mem, CL_TRUE, off, n, src, 0, NULL, NULL);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(NULL, cb->d, "clEnqueueWriteBuffer", rc);
}

static hwa_status buf_read(hwa_buffer *b, size_t off, void *dst, size_t n) {
    hwa__cl_buf *cb = b->impl;
    hwa_status st = range_ok(b, off, n, "read");
    if (st || n == 0) return st;
    cl_int rc = cb->d->cl.EnqueueReadBuffer(cb->d->q, cb->mem, CL_TRUE, off, n, dst, 0, NULL, NULL);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(NULL, cb->d, "clEnqueueReadBuffer", rc);
}

static hwa_status buf_memset0(hwa_buffer *b, size_t off, size_t n) {
    hwa__cl_buf *cb = b->impl;
    hwa_status st = range_ok(b, off, n, "clear");
    if (st || n == 0) return st;
    const unsigned char zero = 0;
    cl_int rc = cb->d->cl.EnqueueFillBuffer(cb->d->q, cb->mem, &zero, 1, off, n, 0, NULL, NULL);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(NULL, cb->d, "clEnqueueFillBuffer", rc);
}

static void buf_free(hwa_buffer *b) {
    hwa__cl_buf *cb = b->impl;
    hwa_allocator a = b->alloc;
    if (cb) {
        if (cb->mem) cb->d->cl.ReleaseMemObject(cb->mem);
        dev_unref(cb->d);
        a.free(a.ud, cb);
    }
    a.free(a.ud, b);
}

static hwa_status cl_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out) {
    hwa_ctx *ctx = be->ctx;
    cl_state *s = be->impl;
    hwa__cl_dev *d = s->d;
    const size_t bytes = size ? size : HWA_ALIGN;
    if (bytes > d->max_alloc)
        return hwa__err(ctx, HWA_E_NOMEM,
                        "%s (%s): out of memory: a buffer of %zu bytes is larger than the device's largest "
                        "allocation (%llu bytes)",
                        d->spec, d->name, size, (unsigned long long)d->max_alloc);
    /* a host buffer's record with no host memory, and device transfers */
    hwa_buffer *b = hwa__host_buffer_new(ctx, be, NULL, size, buf_free);
    hwa__cl_buf *cb = hwa__calloc(ctx, 1, sizeof *cb);
    if (!b || !cb) {
        hwa__free(ctx, b);
        hwa__free(ctx, cb);
        return HWA_E_NOMEM;
    }
    cl_int rc = CL_SUCCESS;
    cb->mem = d->cl.CreateBuffer(d->cx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (!cb->mem || rc != CL_SUCCESS) {
        hwa__free(ctx, b);
        hwa__free(ctx, cb);
        char e[48];
        const bool oom = rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES ||
                         rc == CL_OUT_OF_HOST_MEMORY || rc == -61 /* CL_INVALID_BUFFER_SIZE */;
        return hwa__err(ctx, oom ? HWA_E_NOMEM : HWA_E_DEVICE, "%s (%s): %sa buffer of %zu bytes: clCreateBuffer: %s",
                        d->spec, d->name, oom ? "out of memory: " : "", size, hwa__cl_error_name(rc, e, sizeof e));
    }
    cb->d = d;
    d->refs++;
    b->impl = cb;
    b->write = buf_write;
    b->read = buf_read;
    b->memset0 = buf_memset0;
    *out = b;
    return HWA_OK;
}

/* ---- what runs here ---------------------------------------------------- */

static bool float_storage(hwa_dtype t) { return t == HWA_F32 || t == HWA_F16 || t == HWA_BF16; }

/* The sources of op that hold i32 indices (ids, positions, labels, a
 * sparse matrix's rows and columns), one bit each. */
static unsigned index_srcs_of(hwa_op op) {
    switch (op) {
    case HWA_OP_EMBEDDING: case HWA_OP_EMBEDDING_BACK: case HWA_OP_ROPE: case HWA_OP_CROSS_ENTROPY: return 1u << 1;
    case HWA_OP_CROSS_ENTROPY_BACK: return 1u << 2;
    case HWA_OP_SPMM: return 1u << 1 | 1u << 2;
    default: return 0;
    }
}

static hwa__cl_kernel_id kernel_of(hwa_op op) {
    switch (op) {
    case HWA_OP_CONT: case HWA_OP_REPEAT: case HWA_OP_SCALE: case HWA_OP_FILL:
    case HWA_OP_RELU: case HWA_OP_GELU: case HWA_OP_SILU: case HWA_OP_SIGMOID: case HWA_OP_TANH:
        return HWA__CLK_UNARY;
    case HWA_OP_ADD: case HWA_OP_SUB: case HWA_OP_MUL: case HWA_OP_DIV: case HWA_OP_UNARY_BACK:
        return HWA__CLK_BINARY;
    case HWA_OP_SUM_TO: return HWA__CLK_SUM_TO;
    case HWA_OP_SOFTMAX: case HWA_OP_LOG_SOFTMAX: case HWA_OP_SOFTMAX_BACK: case HWA_OP_NORM:
    case HWA_OP_NORM_BACK: case HWA_OP_RMS_NORM: case HWA_OP_RMS_NORM_BACK:
        return HWA__CLK_ROWS;
    case HWA_OP_MATMUL: return HWA__CLK_MATMUL;
    /* copies into regions of dst, through the unary kernel's CONT and FILL */
    case HWA_OP_CONCAT: case HWA_OP_SLICE_BACK: case HWA_OP_WRITE_SLICE: return HWA__CLK_UNARY;
    case HWA_OP_EMBEDDING: return HWA__CLK_EMBED;
    case HWA_OP_EMBEDDING_BACK: return HWA__CLK_EMBED_BACK;
    case HWA_OP_ROPE: return HWA__CLK_ROPE;
    case HWA_OP_ATTENTION: return HWA__CLK_ATTN;
    case HWA_OP_ATTENTION_BACK: return HWA__CLK_ATTN_BACK;
    case HWA_OP_CROSS_ENTROPY: return HWA__CLK_XENT;
    case HWA_OP_CROSS_ENTROPY_BACK: return HWA__CLK_XENT_BACK;
    case HWA_OP_SUM_SQ: return HWA__CLK_SUM_SQ;
    case HWA_OP_SGD_UPDATE: return HWA__CLK_SGD;
    case HWA_OP_ADAM_UPDATE: return HWA__CLK_ADAM;
    case HWA_OP_SPMM: return HWA__CLK_SPMM;
    case HWA_OP_MAP: case HWA_OP_MAP_BACK: case HWA_OP_BINARY: case HWA_OP_WHERE: return HWA__CLK_ELTOPS;
    default: return HWA__CLK_COUNT;
    }
}

/* NULL when be can compute node, else why not (in be's state). */
static const char *cl_why_not(const hwa_backend *be, const hwa_tensor *node) {
    cl_state *s = be->impl;
    if ((unsigned)node->op >= HWA_OP_COUNT || kernel_of(node->op) == HWA__CLK_COUNT) {
        snprintf(s->why, sizeof s->why, "opencl: no device kernel for %s yet",
                 (unsigned)node->op < HWA_OP_COUNT ? hwa__op_name(node->op) : "?");
        return s->why;
    }
    const hwa_tensor *bad = float_storage(node->dtype) ? NULL : node;
    const unsigned index_srcs = index_srcs_of(node->op);
    for (int i = 0; i < hwa__op_n_src(node->op) && !bad; i++)
        if ((index_srcs >> i & 1u) ? node->src[i]->dtype != HWA_I32 : !float_storage(node->src[i]->dtype))
            bad = node->src[i];
    if (bad) {
        snprintf(s->why, sizeof s->why, "opencl: %s on %s data (the kernels take f32, f16 and bf16, and i32 indices)",
                 hwa__op_name(node->op), hwa_dtype_name(bad->dtype));
        return s->why;
    }
    if (node->op == HWA_OP_ATTENTION || node->op == HWA_OP_ATTENTION_BACK) {
        const hwa_tensor *q = node->src[node->op == HWA_OP_ATTENTION ? 0 : 1], *v = node->src[node->op == HWA_OP_ATTENTION ? 2 : 3];
        const int64_t D = q->shape[q->ndim - 1], Dv = v->shape[v->ndim - 1];
        if (D > ATT_MAX_D || Dv > ATT_MAX_D) {
            snprintf(s->why, sizeof s->why, "opencl: %s with heads of %lld and %lld (the kernel takes up to %d)",
                     hwa__op_name(node->op), (long long)D, (long long)Dv, ATT_MAX_D);
            return s->why;
        }
    }
    return NULL;
}

static bool cl_supports_op(const hwa_backend *be, const hwa_tensor *node) { return cl_why_not(be, node) == NULL; }

/* ---- compute ----------------------------------------------------------- */

/* t's view and memory object; HWA_E_MISUSE when its data is not on this
 * device. */
static hwa_status view_of(hwa_backend *be, const hwa_tensor *t, cl_view *v, cl_mem *mem) {
    const hwa_tensor *s = hwa__storage(t);
    const size_t esize = hwa_dtype_block_bytes(t->dtype);
    const size_t off = s->buf_offs + (t->view_src ? t->view_offs : 0);
    if (!s->buffer || s->buffer->free_fn != buf_free || ((hwa__cl_buf *)s->buffer->impl)->d != ((cl_state *)be->impl)->d)
        return hwa__err(be->ctx, HWA_E_MISUSE, "%s: tensor '%s' has no data on this device", be->spec, t->name);
    if (off % esize)
        return hwa__err(be->ctx, HWA_E_INTERNAL, "%s: tensor '%s' starts at byte %zu, not a whole element", be->spec,
                        t->name, off);
    memset(v, 0, sizeof *v);
    hwa__shape4(t, v->ne, v->st);
    v->off = (int64_t)(off / esize);
    v->dt = (int32_t)t->dtype;
    *mem = ((hwa__cl_buf *)s->buffer->impl)->mem;
    return HWA_OK;
}

/* v read at dst's extents: stride 0 along the dims it repeats. */
static void broadcast_to(cl_view *v, const cl_view *dst) {
    for (int d = 0; d < 4; d++) {
        if (v->ne[d] == 1) v->st[d] = 0;
        v->ne[d] = dst->ne[d];
    }
}

/* Whether the n views are f32 and stored row-major over v[0]'s extents:
 * the elementwise kernels then index them as off + i, with no division or
 * dtype dispatch per element (on PoCL ten times faster). */
static cl_int flat_f32(const cl_view *v, int n) {
    for (int k = 0; k < n; k++) {
        int64_t want = 1;
        if (v[k].dt != HWA_F32) return 0;
        for (int d = 3; d >= 0; d--) {
            if (v[k].ne[d] != v[0].ne[d] || (v[k].ne[d] > 1 && v[k].st[d] != want)) return 0;
            want *= v[k].ne[d];
        }
    }
    return 1;
}

typedef struct arg {
    size_t size;
    const void *p;
} arg;

static hwa_status launch(hwa_backend *be, hwa__cl_kernel_id id, const arg *args, int nargs, int dims,
                         const size_t *global, const size_t *local) {
    cl_state *s = be->impl;
    hwa__cl_dev *d = s->d;
    for (int i = 0; i < nargs; i++) {
        cl_int rc = d->cl.SetKernelArg(s->k[id], (cl_uint)i, args[i].size, args[i].p);
        if (rc != CL_SUCCESS) return hwa__cl_fail(be->ctx, d, "clSetKernelArg", rc);
    }
    for (int i = 0; i < dims; i++)
        if (global[i] == 0) return HWA_OK; /* nothing to compute */
    cl_int rc = d->cl.EnqueueNDRangeKernel(d->q, s->k[id], (cl_uint)dims, NULL, global, local, 0, NULL, NULL);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(be->ctx, d, "clEnqueueNDRangeKernel", rc);
}

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* The backend's scratch buffer, at least bytes long. Nodes run one after
 * another on the in-order queue, so each may reuse it; a buffer replaced
 * while a kernel still reads it lives until that kernel ends (OpenCL
 * releases memory objects after their last use). */
static hwa_status scratch_get(hwa_backend *be, size_t bytes, cl_mem *out) {
    cl_state *s = be->impl;
    hwa__cl_dev *d = s->d;
    if (bytes == 0) bytes = sizeof(float);
    if (!s->scratch || s->scratch_size < bytes) {
        if (s->scratch) d->cl.ReleaseMemObject(s->scratch);
        s->scratch_size = 0;
        cl_int rc = CL_SUCCESS;
        s->scratch = d->cl.CreateBuffer(d->cx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
        if (!s->scratch || rc != CL_SUCCESS) {
            s->scratch = NULL;
            return hwa__cl_fail(be->ctx, d, "clCreateBuffer (scratch)", rc);
        }
        s->scratch_size = bytes;
    }
    *out = s->scratch;
    return HWA_OK;
}

/* The n i32 values of index tensor t (view v in mem m), in flat order, read
 * back to the host (blocking: after every earlier node) into a new array
 * *out (hwa__free). The kernels trust indices, so the host checks them
 * here, with the reference's messages. */
static hwa_status read_indices(hwa_backend *be, const cl_view *v, cl_mem m, int32_t **out, int64_t *n) {
    cl_state *s = be->impl;
    int64_t count = 1, hi = v->off, lo = v->off;
    for (int k = 0; k < 4; k++) {
        count *= v->ne[k];
        if (v->ne[k] > 1) {
            if (v->st[k] >= 0) hi += (v->ne[k] - 1) * v->st[k];
            else lo += (v->ne[k] - 1) * v->st[k];
        }
    }
    *out = NULL;
    *n = count;
    if (count == 0) return HWA_OK;
    const size_t span = (size_t)(hi - lo + 1);
    int32_t *raw = hwa__malloc(be->ctx, span * sizeof *raw), *vals = hwa__malloc(be->ctx, (size_t)count * sizeof *vals);
    if (!raw || !vals) {
        hwa__free(be->ctx, raw);
        hwa__free(be->ctx, vals);
        return HWA_E_NOMEM;
    }
    cl_int rc = s->d->cl.EnqueueReadBuffer(s->d->q, m, CL_TRUE, (size_t)lo * sizeof *raw, span * sizeof *raw, raw, 0,
                                           NULL, NULL);
    if (rc != CL_SUCCESS) {
        hwa__free(be->ctx, raw);
        hwa__free(be->ctx, vals);
        return hwa__cl_fail(be->ctx, s->d, "clEnqueueReadBuffer (indices)", rc);
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t r = i, off = v->off - lo;
        for (int k = 3; k >= 0; k--) {
            off += (r % v->ne[k]) * v->st[k];
            r /= v->ne[k];
        }
        vals[i] = raw[off];
    }
    hwa__free(be->ctx, raw);
    *out = vals;
    return HWA_OK;
}

/* HWA_E_RANGE unless every index of v (in m) is in [0, bound). */
static hwa_status check_indices(hwa_backend *be, const hwa_tensor *node, const char *what, const cl_view *v, cl_mem m,
                                int64_t bound) {
    int32_t *vals;
    int64_t n;
    hwa_status st = read_indices(be, v, m, &vals, &n);
    for (int64_t i = 0; i < n && !st; i++)
        if (vals[i] < 0 || vals[i] >= bound)
            st = hwa__err(be->ctx, HWA_E_RANGE, "%s: %s %d at index %lld is outside [0, %lld)", hwa__op_name(node->op),
                          what, (int)vals[i], (long long)i, (long long)bound);
    hwa__free(be->ctx, vals);
    return st;
}

/* hwa_k_unary_flat: v[0] = op(v[1]) in the memory objects dm and sm. */
static hwa_status launch_unary_flat(hwa_backend *be, const cl_view *v, cl_mem dm, cl_mem sm, cl_int op, float p,
                                    int64_t n) {
    const arg a[] = {{sizeof(cl_mem), &dm}, {sizeof v[0].off, &v[0].off}, {sizeof(cl_mem), &sm},
                     {sizeof v[1].off, &v[1].off}, {sizeof op, &op}, {sizeof p, &p}, {sizeof n, &n}};
    const size_t g = (size_t)n;
    return launch(be, HWA__CLK_UNARY_FLAT, a, 7, 1, &g, NULL);
}

/* dst = src (same extents) through the unary kernel's CONT; with fill, dst =
 * value and src is not read. */
static hwa_status copy_into(hwa_backend *be, const cl_view *dst, cl_mem dm, const cl_view *src, cl_mem sm, bool fill,
                            float value) {
    const cl_int op = fill ? HWA_OP_FILL : HWA_OP_CONT;
    const int64_t n = dst->ne[0] * dst->ne[1] * dst->ne[2] * dst->ne[3];
    const cl_view pair[2] = {*dst, fill ? *dst : *src};
    if (flat_f32(pair, 2)) return launch_unary_flat(be, pair, dm, fill ? dm : sm, op, value, n);
    const arg a[] = {{sizeof(cl_mem), &dm}, {sizeof(cl_view), dst}, {sizeof(cl_mem), fill ? &dm : &sm},
                     {sizeof(cl_view), fill ? dst : src}, {sizeof op, &op}, {sizeof value, &value}, {sizeof n, &n}};
    const size_t g = (size_t)n;
    return launch(be, HWA__CLK_UNARY, a, 7, 1, &g, NULL);
}

/* v narrowed to [start, start + len) along dim. */
static cl_view region(const cl_view *v, int dim, int64_t start, int64_t len) {
    cl_view r = *v;
    r.off += start * v->st[dim];
    r.ne[dim] = len;
    return r;
}

/* CONCAT, SLICE_BACK and WRITE_SLICE: copies into regions of dst (v[0]). */
static hwa_status run_copies(hwa_backend *be, const hwa_tensor *t, cl_view *v, cl_mem *m) {
    const int dim = hwa__dim4(t, t->p.i[0]);
    if (dim < 0)
        return hwa__err(be->ctx, HWA_E_INVALID, "%s: dim %d is outside a %d-dim tensor", hwa__op_name(t->op), t->p.i[0],
                        t->ndim);
    hwa_status st;
    switch (t->op) {
    case HWA_OP_CONCAT: {
        const cl_view a = region(&v[0], dim, 0, v[1].ne[dim]), b = region(&v[0], dim, v[1].ne[dim], v[2].ne[dim]);
        if ((st = copy_into(be, &a, m[0], &v[1], m[1], false, 0.0f))) return st;
        return copy_into(be, &b, m[0], &v[2], m[2], false, 0.0f);
    }
    case HWA_OP_SLICE_BACK: {
        const cl_view r = region(&v[0], dim, t->p.l[0], v[1].ne[dim]);
        if ((st = copy_into(be, &v[0], m[0], NULL, NULL, true, 0.0f))) return st;
        return copy_into(be, &r, m[0], &v[1], m[1], false, 0.0f);
    }
    default: { /* WRITE_SLICE: dst is src0's storage; src1 goes into its region */
        const cl_view r = region(&v[0], dim, t->p.l[0], v[2].ne[dim]);
        return copy_into(be, &r, m[0], &v[2], m[2], false, 0.0f);
    }
    }
}

/* The largest power-of-two work group up to ROW_GROUP that kernel id allows
 * and that n items can use. */
static size_t pow2_group(const cl_state *s, hwa__cl_kernel_id id, int64_t n) {
    size_t group = 1;
    const size_t cap = s->k_group[id] < ROW_GROUP ? s->k_group[id] : ROW_GROUP;
    while (group * 2 <= cap && (int64_t)group < n) group *= 2;
    return group;
}

/* ROPE: the host reads the positions, checks them and computes every
 * angle's cos and sin in double (as the CPU's kernels do) into the scratch
 * buffer; the kernel rotates the pairs. */
static hwa_status run_rope(hwa_backend *be, const hwa_tensor *t, cl_view *v, cl_mem *m) {
    cl_state *s = be->impl;
    const int mode = t->p.i[0];
    if (mode != HWA_ROPE_INTERLEAVED && mode != HWA_ROPE_HALVES)
        return hwa__err(be->ctx, HWA_E_INVALID, "rope: unknown mode %d", mode);
    int32_t *pos;
    int64_t T;
    hwa_status st = read_indices(be, &v[2], m[2], &pos, &T);
    if (st) return st;
    const int64_t D = v[1].ne[3], half = D / 2;
    const double theta = t->p.f[0], sign = t->p.i[1] == 1 ? -1.0 : 1.0;
    float *tab = hwa__malloc(be->ctx, (size_t)(2 * T * half + 1) * sizeof *tab);
    for (int64_t i = 0; i < T && !st; i++)
        if (pos[i] < 0)
            st = hwa__err(be->ctx, HWA_E_RANGE, "rope: position %d at index %lld is negative (must be >= 0)",
                          (int)pos[i], (long long)i);
    if (!tab && !st) st = HWA_E_NOMEM;
    for (int64_t i = 0; i < T && !st; i++)
        for (int64_t k = 0; k < half; k++) {
            const double angle = sign * (double)pos[i] * pow(theta, -2.0 * (double)k / (double)D);
            tab[i * half + k] = (float)cos(angle);
            tab[T * half + i * half + k] = (float)sin(angle);
        }
    cl_mem cs = NULL;
    const size_t bytes = (size_t)(2 * T * half) * sizeof *tab;
    if (!st) st = scratch_get(be, bytes, &cs);
    if (!st && bytes) {
        cl_int rc = s->d->cl.EnqueueWriteBuffer(s->d->q, cs, CL_TRUE, 0, bytes, tab, 0, NULL, NULL);
        if (rc != CL_SUCCESS) st = hwa__cl_fail(be->ctx, s->d, "clEnqueueWriteBuffer (rope angles)", rc);
    }
    hwa__free(be->ctx, tab);
    hwa__free(be->ctx, pos);
    if (st) return st;
    const cl_int md = mode;
    const int64_t n = v[1].ne[0] * v[1].ne[1] * v[1].ne[2] * half;
    const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                     {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &cs}, {sizeof md, &md}, {sizeof n, &n}};
    const size_t g = (size_t)n;
    return launch(be, HWA__CLK_ROPE, a, 7, 1, &g, NULL);
}

/* SPMM: the host reads row_ptr and col back and checks them with the CPU
 * reference's rule and messages; one item per result. */
static hwa_status run_spmm(hwa_backend *be, const cl_view *v, const cl_mem *m, int64_t n) {
    int32_t *rp = NULL, *col = NULL;
    int64_t nr = 0, nc = 0;
    hwa_status st = read_indices(be, &v[2], m[2], &rp, &nr);
    if (!st) st = read_indices(be, &v[3], m[3], &col, &nc);
    if (!st) st = hwa__spmm_check_rows(be->ctx, rp, col, nr - 1, v[1].ne[3], nc);
    hwa__free(be->ctx, rp);
    hwa__free(be->ctx, col);
    if (st) return st;
    const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                     {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_view), &v[2]},
                     {sizeof(cl_mem), &m[3]}, {sizeof(cl_view), &v[3]}, {sizeof(cl_mem), &m[4]},
                     {sizeof(cl_view), &v[4]}};
    const size_t g = (size_t)n;
    return launch(be, HWA__CLK_SPMM, a, 10, 1, &g, NULL);
}

/* ATTENTION and ATTENTION_BACK (the latter: stats into the scratch buffer,
 * then dq, dk or dv). v[1..] are the node's sources. */
static hwa_status run_attention(hwa_backend *be, const hwa_tensor *t, cl_view *v, cl_mem *m) {
    cl_state *s = be->impl;
    const bool back = t->op == HWA_OP_ATTENTION_BACK;
    const cl_view *q = &v[back ? 2 : 1], *k = &v[back ? 3 : 2], *vv = &v[back ? 4 : 3];
    const cl_mem *qm = &m[back ? 2 : 1], *km = &m[back ? 3 : 2], *vm = &m[back ? 4 : 3];
    const int64_t B = q->ne[0], Hq = q->ne[1], Tq = q->ne[2], D = q->ne[3], Hkv = k->ne[1], Tk = k->ne[2];
    const float scale = t->p.f[0] > 0.0f ? t->p.f[0] : (float)(1.0 / sqrt((double)D));
    const cl_int causal = t->p.i[0] != 0, which = back ? t->p.i[1] : 0;
    if (Hkv <= 0 || Hq % Hkv)
        return hwa__err(be->ctx, HWA_E_SHAPE, "%s: %lld query heads are not a multiple of %lld kv heads",
                        hwa__op_name(t->op), (long long)Hq, (long long)Hkv);
    const int64_t queries = B * Hq * Tq;
    if (!back) {
        const size_t group = pow2_group(s, HWA__CLK_ATTN, Tk > v[3].ne[3] ? Tk : v[3].ne[3]);
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), qm},
                         {sizeof(cl_view), q},     {sizeof(cl_mem), km},     {sizeof(cl_view), k},
                         {sizeof(cl_mem), vm},     {sizeof(cl_view), vv},    {sizeof scale, &scale},
                         {sizeof causal, &causal}};
        const size_t g = (size_t)queries * group;
        return launch(be, HWA__CLK_ATTN, a, 10, 1, &g, &group);
    }
    if (which < 0 || which > 2)
        return hwa__err(be->ctx, HWA_E_INVALID, "attention_back: which is %d, not 0 (dq), 1 (dk) or 2 (dv)", (int)which);
    cl_mem stats;
    hwa_status st = scratch_get(be, (size_t)queries * 2 * sizeof(float), &stats);
    if (st) return st;
    size_t group = pow2_group(s, HWA__CLK_ATTN_STATS, Tk);
    const arg sa[] = {{sizeof(cl_mem), &stats}, {sizeof(cl_mem), &m[1]}, {sizeof(cl_view), &v[1]},
                      {sizeof(cl_mem), qm},     {sizeof(cl_view), q},     {sizeof(cl_mem), km},
                      {sizeof(cl_view), k},     {sizeof(cl_mem), vm},     {sizeof(cl_view), vv},
                      {sizeof scale, &scale},   {sizeof causal, &causal}};
    size_t g = (size_t)queries * group;
    if ((st = launch(be, HWA__CLK_ATTN_STATS, sa, 11, 1, &g, &group))) return st;
    const int64_t width = which == 2 ? vv->ne[3] : D, items = which == 0 ? Tk : (Hq / Hkv) * Tq;
    group = pow2_group(s, HWA__CLK_ATTN_BACK, items > width ? items : width);
    const arg ba[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &stats},
                      {sizeof(cl_mem), &m[1]}, {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), qm},
                      {sizeof(cl_view), q},     {sizeof(cl_mem), km},     {sizeof(cl_view), k},
                      {sizeof(cl_mem), vm},     {sizeof(cl_view), vv},    {sizeof scale, &scale},
                      {sizeof causal, &causal}, {sizeof which, &which}};
    g = (size_t)(which == 0 ? queries : B * Hkv * Tk) * group;
    return launch(be, HWA__CLK_ATTN_BACK, ba, 14, 1, &g, &group);
}

/* SGD_UPDATE and ADAM_UPDATE, in place on the parameter (v[0] is its
 * storage); the constants folded on the host as the reference folds them. */
static hwa_status run_update(hwa_backend *be, const hwa_tensor *t, cl_view *v, cl_mem *m) {
    const int64_t n = hwa_tensor_nelements(t);
    const size_t g = (size_t)n;
    const float *f = t->p.f;
    if (t->op == HWA_OP_SGD_UPDATE) {
        const cl_int momentum = t->p.i[0] != 0, nesterov = t->p.i[1] != 0;
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_mem), &m[2]},   {sizeof(cl_mem), &m[3]},
                         {sizeof(cl_mem), &m[4]}, {8, &v[0].off},            {8, &v[2].off},
                         {8, &v[3].off},          {8, &v[4].off},            {sizeof(float), &f[0]},
                         {sizeof(float), &f[1]},  {sizeof(float), &f[2]},    {sizeof(float), &f[3]},
                         {sizeof momentum, &momentum}, {sizeof nesterov, &nesterov}, {sizeof n, &n}};
        return launch(be, HWA__CLK_SGD, a, 15, 1, &g, NULL);
    }
    const float lr = f[0], b1 = f[1], b2 = f[2], eps = f[3], wd = f[4], max_norm = f[5], bc1 = f[6], bc2 = f[7];
    if (!(bc1 > 0.0f) || !(bc2 > 0.0f))
        return hwa__err(be->ctx, HWA_E_INVALID, "adam_update: bias corrections %g and %g must be > 0", bc1, bc2);
    const float step = lr / bc1, decay = 1.0f - lr * wd;
    const float omb1 = (float)(1.0 - (double)b1), omb2 = (float)(1.0 - (double)b2);
    const cl_int decoupled = t->p.i[0] != 0;
    const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_mem), &m[3]},
                     {sizeof(cl_mem), &m[4]}, {8, &v[0].off},          {8, &v[2].off},
                     {8, &v[3].off},          {8, &v[4].off},          {sizeof step, &step},
                     {sizeof b1, &b1},        {sizeof b2, &b2},        {sizeof omb1, &omb1},
                     {sizeof omb2, &omb2},    {sizeof eps, &eps},      {sizeof wd, &wd},
                     {sizeof decay, &decay},  {sizeof bc2, &bc2},      {sizeof max_norm, &max_norm},
                     {sizeof decoupled, &decoupled}, {sizeof n, &n}};
    return launch(be, HWA__CLK_ADAM, a, 20, 1, &g, NULL);
}

/* Records that a library routine (name: "opencl:clblast:sgemm") ran node t, for
 * cl_kernel_name. */
static hwa_status note_ran(hwa_backend *be, const hwa_tensor *t, const char *name) {
    cl_state *s = be->impl;
    if (s->n_ran == s->cap_ran) {
        const int cap = s->cap_ran ? 2 * s->cap_ran : 16;
        struct ran_by *r = hwa__realloc_array(be->ctx, s->ran, (size_t)s->cap_ran, (size_t)cap, sizeof *r);
        if (!r) return HWA_E_NOMEM;
        s->ran = r;
        s->cap_ran = cap;
    }
    s->ran[s->n_ran].node = t;
    s->ran[s->n_ran++].name = name;
    return HWA_OK;
}

static hwa_status run_node(hwa_backend *be, hwa_tensor *t) {
    cl_state *s = be->impl;
    const hwa_op op = t->op;
    const int nsrc = hwa__op_n_src(op);
    cl_view v[5];
    cl_mem m[5];
    hwa_status st = view_of(be, t, &v[0], &m[0]);
    for (int i = 0; i < nsrc && i < 4 && !st; i++) st = view_of(be, t->src[i], &v[1 + i], &m[1 + i]);
    if (st) return st;
    if (nsrc == 0) v[1] = v[0], m[1] = m[0]; /* FILL reads nothing; any valid argument */
    const cl_int opc = (cl_int)op;
    const int64_t n = hwa_tensor_nelements(t);
    const hwa__cl_kernel_id kid = kernel_of(op);
    if (op == HWA_OP_CONCAT || op == HWA_OP_SLICE_BACK || op == HWA_OP_WRITE_SLICE) return run_copies(be, t, v, m);
    switch (kid) {
    case HWA__CLK_EMBED:
    case HWA__CLK_EMBED_BACK: {
        const bool fwd = kid == HWA__CLK_EMBED;
        const int64_t V = fwd ? v[1].ne[2] : v[0].ne[2], D = fwd ? v[1].ne[3] : v[0].ne[3];
        if ((st = check_indices(be, t, "id", &v[2], m[2], V))) return st;
        const int64_t count = fwd ? n : hwa_tensor_nelements(t->src[1]);
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_view), &v[2]},
                         {sizeof count, &count}};
        const size_t g = (size_t)(fwd ? n : D);
        return launch(be, kid, a, 7, 1, &g, NULL);
    }
    case HWA__CLK_ROPE: return run_rope(be, t, v, m);
    case HWA__CLK_SPMM: return run_spmm(be, v, m, n);
    case HWA__CLK_ATTN:
    case HWA__CLK_ATTN_BACK: return run_attention(be, t, v, m);
    case HWA__CLK_XENT:
    case HWA__CLK_XENT_BACK: {
        const bool fwd = kid == HWA__CLK_XENT;
        const cl_view *x = &v[fwd ? 1 : 2];
        const int64_t C = x->ne[3], N = x->ne[0] * x->ne[1] * x->ne[2];
        if ((st = check_indices(be, t, "label", &v[fwd ? 2 : 3], m[fwd ? 2 : 3], C))) return st;
        const size_t group = pow2_group(s, kid, fwd ? N : C), g = fwd ? group : (size_t)N * group;
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_view), &v[2]},
                         {sizeof(cl_mem), &m[3]}, {sizeof(cl_view), &v[3]}};
        return launch(be, kid, a, fwd ? 6 : 8, 1, &g, &group);
    }
    case HWA__CLK_SUM_SQ: {
        const int64_t count = hwa_tensor_nelements(t->src[0]);
        const size_t group = pow2_group(s, kid, count);
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof count, &count}};
        return launch(be, kid, a, 5, 1, &group, &group);
    }
    case HWA__CLK_SGD:
    case HWA__CLK_ADAM: return run_update(be, t, v, m);
    case HWA__CLK_UNARY: {
        if (op == HWA_OP_REPEAT) broadcast_to(&v[1], &v[0]);
        const float p = op == HWA_OP_FILL || op == HWA_OP_SCALE ? t->p.f[0] : 0.0f;
        if ((op == HWA_OP_CONT || op == HWA_OP_SCALE || op == HWA_OP_FILL || op == HWA_OP_RELU) && flat_f32(v, 2)) {
            if ((st = launch_unary_flat(be, v, m[0], m[1], opc, p, n))) return st;
            return note_ran(be, t, "opencl:hwa_k_unary_flat");
        }
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof opc, &opc}, {sizeof p, &p}, {sizeof n, &n}};
        const size_t g = (size_t)n;
        return launch(be, kid, a, 7, 1, &g, NULL);
    }
    case HWA__CLK_BINARY: {
        broadcast_to(&v[2], &v[0]);
        if (op != HWA_OP_UNARY_BACK && flat_f32(v, 3)) {
            const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof v[0].off, &v[0].off}, {sizeof(cl_mem), &m[1]},
                             {sizeof v[1].off, &v[1].off}, {sizeof(cl_mem), &m[2]}, {sizeof v[2].off, &v[2].off},
                             {sizeof opc, &opc}, {sizeof n, &n}};
            const size_t g = (size_t)n;
            if ((st = launch(be, HWA__CLK_BINARY_FLAT, a, 8, 1, &g, NULL))) return st;
            return note_ran(be, t, "opencl:hwa_k_binary_flat");
        }
        const cl_int act = op == HWA_OP_UNARY_BACK ? t->p.i[0] : 0;
        if (op == HWA_OP_UNARY_BACK && (act < HWA_OP_RELU || act > HWA_OP_TANH))
            return hwa__err(be->ctx, HWA_E_INVALID, "unary_back: op code %d is not an activation", (int)act);
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_view), &v[2]},
                         {sizeof opc, &opc}, {sizeof act, &act}, {sizeof n, &n}};
        const size_t g = (size_t)n;
        return launch(be, kid, a, 9, 1, &g, NULL);
    }
    case HWA__CLK_ELTOPS: {
        /* a, b, c: MAP's x (read once); MAP_BACK's g, x; BINARY's a, b; WHERE's a, b and its condition */
        const int ia = op == HWA_OP_WHERE ? 2 : 1, ib = op == HWA_OP_WHERE ? 3 : op == HWA_OP_MAP ? 1 : 2;
        if (op == HWA_OP_BINARY) broadcast_to(&v[2], &v[0]);
        const cl_int fn = t->p.i[0];
        const float pa = t->p.f[0], pb = t->p.f[1];
        const arg a[] = {{sizeof(cl_mem), &m[0]},  {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[ia]},
                         {sizeof(cl_view), &v[ia]}, {sizeof(cl_mem), &m[ib]}, {sizeof(cl_view), &v[ib]},
                         {sizeof(cl_mem), &m[1]},  {sizeof(cl_view), &v[1]}, {sizeof opc, &opc},
                         {sizeof fn, &fn},         {sizeof pa, &pa},         {sizeof pb, &pb},
                         {sizeof n, &n}};
        const size_t g = (size_t)n;
        return launch(be, kid, a, 13, 1, &g, NULL);
    }
    case HWA__CLK_SUM_TO: {
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof n, &n}};
        const size_t g = (size_t)n;
        return launch(be, kid, a, 5, 1, &g, NULL);
    }
    case HWA__CLK_ROWS: {
        if (nsrc == 1) v[2] = v[1], m[2] = m[1];
        const cl_int mode = op == HWA_OP_SOFTMAX_BACK ? t->p.i[0] : 0;
        const float eps = op == HWA_OP_SOFTMAX_BACK ? 0.0f : t->p.f[0];
        const size_t group = pow2_group(s, kid, v[0].ne[3]);
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_view), &v[2]},
                         {sizeof opc, &opc}, {sizeof mode, &mode}, {sizeof eps, &eps}};
        const size_t rows = (size_t)(v[0].ne[0] * v[0].ne[1] * v[0].ne[2]), g = rows * group;
        return launch(be, kid, a, 9, 1, &g, &group);
    }
    case HWA__CLK_MATMUL: {
        const char *lib_name = NULL;
        if ((st = hwa__cl_blas_matmul(be->ctx, s->d, t, v, m, &lib_name))) return st;
        if (lib_name) return note_ran(be, t, lib_name);
        if (s->k_group[kid] < TILE * TILE)
            return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s (%s): the matmul kernel needs work groups of %d, the "
                            "device allows %zu", be->spec, s->d->name, TILE * TILE, s->k_group[kid]);
        /* A as [M, K] and B as [K, N] whatever their storage order */
        if (t->p.i[0]) {
            int64_t x = v[1].st[2];
            v[1].st[2] = v[1].st[3], v[1].st[3] = x;
        }
        if (t->p.i[1]) {
            int64_t x = v[2].st[2];
            v[2].st[2] = v[2].st[3], v[2].st[3] = x;
        }
        const int64_t K = t->p.i[0] ? v[1].ne[2] : v[1].ne[3];
        for (int d = 0; d < 2; d++)
            if (v[2].ne[d] == 1) v[2].st[d] = 0;
        const arg a[] = {{sizeof(cl_mem), &m[0]}, {sizeof(cl_view), &v[0]}, {sizeof(cl_mem), &m[1]},
                         {sizeof(cl_view), &v[1]}, {sizeof(cl_mem), &m[2]}, {sizeof(cl_view), &v[2]},
                         {sizeof K, &K}};
        const size_t g[3] = {round_up((size_t)v[0].ne[3], TILE), round_up((size_t)v[0].ne[2], TILE),
                             (size_t)(v[0].ne[0] * v[0].ne[1])};
        const size_t l[3] = {TILE, TILE, 1};
        return launch(be, kid, a, 7, 3, g, l);
    }
    default:
        return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s: %s", be->spec, cl_why_not(be, t));
    }
}

static hwa_status ensure_program(hwa_backend *be) {
    cl_state *s = be->impl;
    if (s->prog) return HWA_OK;
    hwa_status st = hwa__cl_program_get(be->ctx, s->d, &s->prog, s->k);
    if (st) return st;
    for (int i = 0; i < HWA__CLK_COUNT; i++) {
        size_t g = 0;
        if (s->d->cl.GetKernelWorkGroupInfo(s->k[i], s->d->dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof g, &g, NULL) !=
            CL_SUCCESS)
            g = 1;
        s->k_group[i] = g < s->d->max_group ? g : s->d->max_group;
    }
    return HWA_OK;
}

static hwa_status cl_compute(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    hwa_status st = ensure_program(be);
    if (st) return st;
    ((cl_state *)be->impl)->n_ran = 0;
    for (int i = 0; i < n; i++) {
        hwa_tensor *t = nodes[i];
        if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) continue;
        if ((st = run_node(be, t))) return st;
        hwa__tensor_touch(t);
    }
    return HWA_OK;
}

static hwa_status cl_synchronize(hwa_backend *be) {
    cl_state *s = be->impl;
    cl_int rc = s->d->cl.Finish(s->d->q);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(be->ctx, s->d, "clFinish", rc);
}

static const char *cl_kernel_name(const hwa_backend *be, const hwa_tensor *node) {
    static const char *const names[HWA__CLK_COUNT] = {
#define HWA__CL_K_NAME(id, name) "opencl:" name,
        HWA__CL_KERNELS(HWA__CL_K_NAME)
#undef HWA__CL_K_NAME
    };
    const cl_state *s = be->impl;
    for (int i = 0; i < s->n_ran; i++)
        if (s->ran[i].node == node) return s->ran[i].name;
    const hwa__cl_kernel_id k = (unsigned)node->op < HWA_OP_COUNT ? kernel_of(node->op) : HWA__CLK_COUNT;
    return k < HWA__CLK_COUNT && node->op != HWA_OP_NONE ? names[k] : NULL;
}

static void cl_free(hwa_backend *be) {
    cl_state *s = be->impl;
    if (s->d->q) s->d->cl.Finish(s->d->q);
    for (int i = 0; i < HWA__CLK_COUNT; i++)
        if (s->k[i]) s->d->cl.ReleaseKernel(s->k[i]);
    if (s->prog) s->d->cl.ReleaseProgram(s->prog);
    if (s->scratch) s->d->cl.ReleaseMemObject(s->scratch);
    hwa__free(be->ctx, s->ran);
    dev_unref(s->d);
    hwa__free(be->ctx, s);
    hwa__free(be->ctx, be);
}

static const hwa_backend_iface cl_iface = {
    .api_version = HWA_BACKEND_API_VERSION,
    .name = "opencl",
    .kind = HWA_DEVICE_GPU,
    .supports_op = cl_supports_op,
    .buffer_alloc = cl_buffer_alloc,
    .compute = cl_compute,
    .synchronize = cl_synchronize,
    .free = cl_free,
    .kernel_name = cl_kernel_name,
    .unsupported_reason = cl_why_not,
};

/* ---- making one -------------------------------------------------------- */

static void dev_str(const hwa__cl_dev *d, cl_uint what, char *buf, size_t cap) {
    if (d->cl.GetDeviceInfo(d->dev, what, cap - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[cap - 1] = '\0';
}

/* Opens device index of the ICD into a fresh *d (its refs 1). */
static hwa_status open_device(hwa_ctx *ctx, int index, hwa__cl_dev *d) {
    char path[1024], why[512];
    hwa__cl_lib_path(NULL, path, sizeof path);
    if (!hwa__cl_open(path, &d->cl, why, sizeof why))
        return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s': no OpenCL: the ICD loader cannot be opened: %s", d->spec,
                        why);
    cl_device_id devs[MAX_DEVICES];
    cl_platform_id plats[MAX_DEVICES];
    cl_int rc = CL_SUCCESS;
    const int n = hwa__cl_devices(&d->cl, devs, plats, MAX_DEVICES, &rc);
    char e[48];
    if (n < 0)
        return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s': no OpenCL platform (clGetPlatformIDs: %s; no ICD installed?)",
                        d->spec, hwa__cl_error_name(rc, e, sizeof e));
    if (index >= n)
        return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s': the OpenCL platforms have %d device%s (opencl:0 to opencl:%d)",
                        d->spec, n, n == 1 ? "" : "s", n - 1);
    d->dev = devs[index];
    dev_str(d, CL_DEVICE_NAME, d->name, sizeof d->name);
    dev_str(d, CL_DRIVER_VERSION, d->driver, sizeof d->driver);
    if (d->cl.GetDeviceInfo(d->dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof d->max_alloc, &d->max_alloc, NULL) !=
        CL_SUCCESS)
        d->max_alloc = 128u << 20; /* the least the specification allows */
    if (d->cl.GetDeviceInfo(d->dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof d->max_group, &d->max_group, NULL) !=
        CL_SUCCESS)
        d->max_group = 1;
    const cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)plats[index], 0};
    d->cx = d->cl.CreateContext(props, 1, &d->dev, NULL, NULL, &rc);
    if (!d->cx || rc != CL_SUCCESS) return hwa__cl_fail(ctx, d, "clCreateContext", rc);
    d->q = d->cl.CreateCommandQueue(d->cx, d->dev, 0, &rc); /* in order, no profiling */
    if (!d->q || rc != CL_SUCCESS) return hwa__cl_fail(ctx, d, "clCreateCommandQueue", rc);
    return HWA_OK;
}

hwa_status hwa__opencl_backend_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    hwa__cl_dev *d = hwa__calloc(ctx, 1, sizeof *d);
    if (!d) return HWA_E_NOMEM;
    d->refs = 1;
    d->alloc = ctx->alloc;
    snprintf(d->spec, sizeof d->spec, "opencl:%d", index);
    hwa_status st = open_device(ctx, index, d);
    if (st) {
        dev_unref(d);
        return st;
    }
    hwa_backend *be = hwa__calloc(ctx, 1, sizeof *be);
    cl_state *s = hwa__calloc(ctx, 1, sizeof *s);
    if (!be || !s) {
        hwa__free(ctx, be);
        hwa__free(ctx, s);
        dev_unref(d);
        return HWA_E_NOMEM;
    }
    s->d = d;
    be->iface = &cl_iface;
    be->ctx = ctx;
    be->impl = s;
    *out = be;
    return HWA_OK;
}
