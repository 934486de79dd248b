/* The cuda backend: NVIDIA GPUs ("cuda:N", the CUDA runtime's numbering),
 * built as the loadable module libhwadapt_cuda.so (backends/backend_module.h)
 * so that libhwadapt and the hwadapt command never link CUDA.
 *
 * Each backend has its own stream, and its own caching allocator (blocks
 * are reused only by the stream that freed them, so a block is never handed
 * to work that could run before the work still using it). Buffers live on
 * the device; the host reads and writes them through two page-locked
 * staging buffers, so that copying one chunk on the host overlaps the
 * transfer of the other. Kernels are queued on the stream in order; a
 * compute returns once they are queued, and synchronize waits. Every node
 * runs through the shared dispatcher (backends/gpu/gpu_run.h) with the
 * portable kernels compiled by nvcc, after the CUDA-only fast paths
 * (cuBLASLt products, warp-level rows, fused attention) had their say.
 *
 * The runtime calls go through hwa__cu_rt (cuda_rt.h): the real runtime in
 * libhwadapt_cuda.so, a fake one over host memory in the test module.
 *
 * Not yet run on a GPU: see docs/gpu-results.md. */
#include <stdlib.h>
#include <string.h>

#include "backends/backend_module.h"
#include "backends/cuda/cuda_rt.h"

#define STAGE_BYTES ((size_t)4 << 20)
#define BLOCK 256 /* threads per block where the kernel lets the device choose */

/* The device objects shared by a backend and its buffers; a buffer may
 * outlive its backend, so the last of them releases these. */
typedef struct cu_dev {
    const hwa__cu_rt *rt;
    int index;
    int refs;
    hwa_ctx *ctx; /* the backend's: allocations of the allocator's records */
    hwa_allocator alloc;
    char spec[32];
    hwa__cu_props props;
    void *stream;
    hwa__cu_alloc *pool;
    void *stage[2];    /* page-locked, STAGE_BYTES each */
    void *stage_ev[2]; /* the last transfer through each */
    hwa__gpu_kernel last_kernel; /* the last launched, named when a later sync fails */
    int max_block[HWA__GPUK_COUNT]; /* each kernel's largest block on this device; 0 until asked */
    bool launched;
} cu_dev;

typedef struct cu_buf {
    cu_dev *d;
    void *p;
} cu_buf;

typedef struct cu_state {
    cu_dev *d;
    hwa__gpu_state gs;
    void *scratch;
    size_t scratch_size;
    void *fast; /* rt->fast_new's state, or NULL */
    hwa_matmul_precision prec;
    /* CUDA Graphs: the last node list computed (as a key over the nodes,
     * their parameters and their memory), how often in a row, whether the
     * host read device data while it ran, and its recorded graph */
    uint64_t g_key;
    int g_runs;
    bool g_host_read;
    void *g_exec;
    bool graphs; /* CUDA Graphs on ($HWA_CUDA_GRAPHS, read when the backend is made) */
} cu_state;

/* ---- errors -------------------------------------------------------------- */

static hwa_status cu_fail(hwa_ctx *ctx, const cu_dev *d, const char *call, int code) {
    const bool oom = d->rt->is_oom(code);
    return hwa__err(ctx, oom ? HWA_E_NOMEM : HWA_E_DEVICE, "%s (%s): %s failed: %s: %s", d->spec, d->props.name, call,
                    d->rt->error_name(code), d->rt->error_string(code));
}

/* A failure found when waiting: the kernel that failed may be any queued
 * since the last wait; the last one launched is named. */
static hwa_status sync_fail(hwa_ctx *ctx, const cu_dev *d, const char *call, int code) {
    if (!d->launched) return cu_fail(ctx, d, call, code);
    return hwa__err(ctx, d->rt->is_oom(code) ? HWA_E_NOMEM : HWA_E_DEVICE,
                    "%s (%s): %s failed: %s: %s (a kernel queued before it failed; the last launched was %s)", d->spec,
                    d->props.name, call, d->rt->error_name(code), d->rt->error_string(code),
                    hwa__gpu_kernel_str(d->last_kernel));
}

static void dev_unref(cu_dev *d) {
    if (!d || --d->refs > 0) return;
    const hwa__cu_rt *rt = d->rt;
    rt->set_device(d->index);
    if (d->stream) rt->stream_sync(d->stream);
    for (int i = 0; i < 2; i++) {
        if (d->stage[i]) rt->host_free(d->stage[i]);
        if (d->stage_ev[i]) rt->event_free(d->stage_ev[i]);
    }
    hwa__cu_alloc_free(d->pool);
    if (d->stream) rt->stream_free(d->stream);
    d->alloc.free(d->alloc.ud, d);
}

/* ---- buffers ------------------------------------------------------------- */

static hwa_status range_ok(const hwa_buffer *b, size_t off, size_t n, const char *what) {
    if (off > b->size || n > b->size - off)
        return hwa__err(NULL, HWA_E_RANGE, "%s: buffer %s past the end (%zu + %zu > %zu)",
                        ((const cu_buf *)b->impl)->d->spec, what, off, n, b->size);
    return HWA_OK;
}

/* n bytes host -> device at dst, chunk by chunk through the two staging
 * buffers; returns once the last chunk has left the staging buffer. */
static hwa_status to_device(hwa_ctx *ctx, cu_dev *d, char *dst, const char *src, size_t n) {
    const hwa__cu_rt *rt = d->rt;
    int rc = 0;
    for (size_t done = 0, k = 0; done < n && !rc; done += STAGE_BYTES, k ^= 1) {
        const size_t c = n - done < STAGE_BYTES ? n - done : STAGE_BYTES;
        if ((rc = rt->event_sync(d->stage_ev[k]))) return sync_fail(ctx, d, "cudaEventSynchronize (staging)", rc);
        memcpy(d->stage[k], src + done, c);
        if ((rc = rt->h2d(dst + done, d->stage[k], c, d->stream))) return cu_fail(ctx, d, "cudaMemcpyAsync (to device)", rc);
        if ((rc = rt->event_record(d->stage_ev[k], d->stream))) return cu_fail(ctx, d, "cudaEventRecord", rc);
    }
    for (int k = 0; k < 2; k++)
        if ((rc = rt->event_sync(d->stage_ev[k]))) return sync_fail(ctx, d, "cudaEventSynchronize (staging)", rc);
    return HWA_OK;
}

/* n bytes device -> host, after everything queued on the stream: chunk c
 * goes through staging buffer c % 2, and is copied out on the host (two
 * chunks later, before its buffer is reused) while the next one moves. */
static hwa_status to_host(hwa_ctx *ctx, cu_dev *d, char *dst, const char *src, size_t n) {
    const hwa__cu_rt *rt = d->rt;
    const size_t chunks = (n + STAGE_BYTES - 1) / STAGE_BYTES;
    for (size_t c = 0; c < chunks + 2; c++) {
        const int k = (int)(c & 1);
        int rc;
        if (c >= 2) { /* chunk c - 2, in buffer k */
            const size_t at = (c - 2) * STAGE_BYTES, len = n - at < STAGE_BYTES ? n - at : STAGE_BYTES;
            if ((rc = rt->event_sync(d->stage_ev[k]))) return sync_fail(ctx, d, "cudaMemcpyAsync (to host)", rc);
            memcpy(dst + at, d->stage[k], len);
        }
        if (c < chunks) {
            const size_t at = c * STAGE_BYTES, len = n - at < STAGE_BYTES ? n - at : STAGE_BYTES;
            if ((rc = rt->d2h(d->stage[k], src + at, len, d->stream)))
                return cu_fail(ctx, d, "cudaMemcpyAsync (to host)", rc);
            if ((rc = rt->event_record(d->stage_ev[k], d->stream))) return cu_fail(ctx, d, "cudaEventRecord", rc);
        }
    }
    return HWA_OK;
}

static hwa_status buf_write(hwa_buffer *b, size_t off, const void *src, size_t n) {
    cu_buf *cb = b->impl;
    hwa_status st = range_ok(b, off, n, "write");
    if (st || n == 0) return st;
    cb->d->rt->set_device(cb->d->index);
    return to_device(NULL, cb->d, (char *)cb->p + off, src, n);
}

static hwa_status buf_read(hwa_buffer *b, size_t off, void *dst, size_t n) {
    cu_buf *cb = b->impl;
    hwa_status st = range_ok(b, off, n, "read");
    if (st || n == 0) return st;
    cb->d->rt->set_device(cb->d->index);
    return to_host(NULL, cb->d, dst, (const char *)cb->p + off, n);
}

static hwa_status buf_memset0(hwa_buffer *b, size_t off, size_t n) {
    cu_buf *cb = b->impl;
    hwa_status st = range_ok(b, off, n, "clear");
    if (st || n == 0) return st;
    cb->d->rt->set_device(cb->d->index);
    const int rc = cb->d->rt->memset0((char *)cb->p + off, n, cb->d->stream);
    return rc ? cu_fail(NULL, cb->d, "cudaMemsetAsync", rc) : HWA_OK;
}

static void buf_free(hwa_buffer *b) {
    cu_buf *cb = b->impl;
    hwa_allocator a = b->alloc;
    if (cb) {
        if (cb->p) hwa__cu_alloc_put(cb->d->pool, cb->p);
        dev_unref(cb->d);
        a.free(a.ud, cb);
    }
    a.free(a.ud, b);
}

/* A device block of n bytes from d's pool: HWA_E_NOMEM naming the device,
 * the size and what it holds when the device has no room. */
static hwa_status pool_get(hwa_ctx *ctx, cu_dev *d, size_t n, void **p) {
    const int rc = hwa__cu_alloc_get(d->pool, n, p);
    if (!rc) return HWA_OK;
    if (rc == -1) return HWA_E_NOMEM; /* the host: recorded by hwa__realloc_array */
    if (!d->rt->is_oom(rc)) return cu_fail(ctx, d, "cudaMalloc", rc);
    hwa__cu_mem_stats s;
    hwa__cu_alloc_stats(d->pool, &s);
    size_t fr = 0, tot = 0;
    char dev_mem[96] = "";
    if (!d->rt->mem_info(&fr, &tot))
        snprintf(dev_mem, sizeof dev_mem, "; the device has %.1f MiB free of %.1f MiB", (double)fr / 1048576.0,
                 (double)tot / 1048576.0);
    return hwa__err(ctx, HWA_E_NOMEM, "%s (%s): out of memory: a buffer of %zu bytes (%.1f MiB) does not fit (this "
                    "backend holds %.1f MiB, none of it cached%s)",
                    d->spec, d->props.name, n, (double)n / 1048576.0, (double)s.in_use / 1048576.0, dev_mem);
}

static hwa_status cu_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out) {
    hwa_ctx *ctx = be->ctx;
    cu_dev *d = ((cu_state *)be->impl)->d;
    d->rt->set_device(d->index);
    hwa_buffer *b = hwa__host_buffer_new(ctx, be, NULL, size, buf_free);
    cu_buf *cb = hwa__calloc(ctx, 1, sizeof *cb);
    hwa_status st = b && cb ? pool_get(ctx, d, size ? size : HWA_ALIGN, &cb->p) : HWA_E_NOMEM;
    if (st) {
        hwa__free(ctx, b);
        hwa__free(ctx, cb);
        return st;
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

/* ---- the dispatcher's device slots --------------------------------------- */

static hwa_status dev_mem_of(const hwa_backend *be, const hwa_buffer *b, hwa__gpu_mem *out) {
    const cu_state *s = be->impl;
    if (!b || b->free_fn != buf_free || ((const cu_buf *)b->impl)->d != s->d) return HWA_E_MISUSE;
    *out = ((const cu_buf *)b->impl)->p;
    return HWA_OK;
}

/* Kernel id's largest block on d's device (>= 1), asked of the runtime
 * once: cudaFuncGetAttributes is not free, and every launch needs it. */
static int block_cap(cu_dev *d, hwa__gpu_kernel id) {
    if ((unsigned)id >= HWA__GPUK_COUNT) return 1;
    if (d->max_block[id] == 0) {
        int cap = 1;
        if (d->rt->max_block(id, &cap) || cap < 1) cap = 1;
        d->max_block[id] = cap;
    }
    return d->max_block[id];
}

static hwa_status dev_launch(hwa_backend *be, hwa__gpu_kernel id, const hwa__gpu_arg *args, int nargs, int dims,
                             const size_t *global, const size_t *local) {
    cu_state *s = be->impl;
    cu_dev *d = s->d;
    void *ptrs[32];
    if (nargs > 32 || dims < 1 || dims > 3)
        return hwa__err(be->ctx, HWA_E_INTERNAL, "%s: kernel %s: %d arguments over %d dims", d->spec,
                        hwa__gpu_kernel_str(id), nargs, dims);
    for (int i = 0; i < nargs; i++) ptrs[i] = (void *)args[i].p;
    unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
    const int cap = block_cap(d, id);
    for (int k = 0; k < dims; k++) {
        if (global[k] == 0) return HWA_OK;
        size_t l = local ? local[k] : (k == 0 ? (size_t)(cap < BLOCK ? cap : BLOCK) : 1);
        const size_t g = (global[k] + l - 1) / l;
        const size_t limit = k == 0 ? 0x7fffffffu : 65535u;
        if (g > limit)
            return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s (%s): kernel %s: %zu blocks along dim %d (at most %zu)",
                            d->spec, d->props.name, hwa__gpu_kernel_str(id), g, k, limit);
        grid[k] = (unsigned)g;
        block[k] = (unsigned)l;
    }
    if ((size_t)block[0] * block[1] * block[2] > (size_t)cap)
        return hwa__err(be->ctx, HWA_E_UNSUPPORTED, "%s (%s): kernel %s needs blocks of %u threads, the device allows %d",
                        d->spec, d->props.name, hwa__gpu_kernel_str(id), block[0] * block[1] * block[2], cap);
    const int rc = d->rt->launch(id, grid, block, ptrs, d->stream);
    if (rc)
        return hwa__err(be->ctx, d->rt->is_oom(rc) ? HWA_E_NOMEM : HWA_E_DEVICE,
                        "%s (%s): kernel %s failed to launch (%u x %u x %u blocks of %u x %u x %u): %s: %s", d->spec,
                        d->props.name, hwa__gpu_kernel_str(id), grid[0], grid[1], grid[2], block[0], block[1],
                        block[2], d->rt->error_name(rc), d->rt->error_string(rc));
    d->last_kernel = id;
    d->launched = true;
    return HWA_OK;
}

static hwa_status dev_read(hwa_backend *be, hwa__gpu_mem m, size_t off, void *dst, size_t n) {
    cu_dev *d = ((cu_state *)be->impl)->d;
    return to_host(be->ctx, d, dst, (const char *)m + off, n);
}

static hwa_status dev_write(hwa_backend *be, hwa__gpu_mem m, size_t off, const void *src, size_t n) {
    cu_dev *d = ((cu_state *)be->impl)->d;
    return to_device(be->ctx, d, (char *)m + off, src, n);
}

static hwa_status dev_scratch(hwa_backend *be, size_t bytes, hwa__gpu_mem *out) {
    cu_state *s = be->impl;
    if (bytes == 0) bytes = sizeof(float);
    if (!s->scratch || s->scratch_size < bytes) {
        /* the old block goes back to this stream's pool: work queued on it
         * runs before anything queued later can reuse it */
        if (s->scratch) hwa__cu_alloc_put(s->d->pool, s->scratch);
        s->scratch = NULL;
        s->scratch_size = 0;
        hwa_status st = pool_get(be->ctx, s->d, bytes, &s->scratch);
        if (st) return st;
        s->scratch_size = bytes;
    }
    *out = s->scratch;
    return HWA_OK;
}

static size_t dev_group_cap(const hwa_backend *be, hwa__gpu_kernel id) {
    return (size_t)block_cap(((const cu_state *)be->impl)->d, id);
}

static hwa_status dev_fast(hwa_backend *be, const hwa_tensor *t, const hwa__gpu_view *v, const hwa__gpu_mem *m,
                           const char **name) {
    cu_state *s = be->impl;
    *name = NULL;
    if (!s->fast) return HWA_OK;
    return s->d->rt->fast_run(s->fast, be->ctx, s->d->spec, t, v, m, s->prec, name);
}

static hwa_status dev_fast_fused(hwa_backend *be, const hwa_tensor *t, const hwa__gpu_view *v, const hwa__gpu_mem *m,
                                 const hwa__gpu_view *bias, hwa__gpu_mem bias_m, bool relu, const char **name) {
    cu_state *s = be->impl;
    *name = NULL;
    if (!s->fast || !s->d->rt->fast_fused) return HWA_OK;
    return s->d->rt->fast_fused(s->fast, be->ctx, s->d->spec, t, v, m, bias, bias_m, relu, s->prec, name);
}

static const hwa__gpu_dev gpu_dev = {
    .mem_of = dev_mem_of,
    .launch = dev_launch,
    .read = dev_read,
    .write = dev_write,
    .scratch = dev_scratch,
    .group_cap = dev_group_cap,
    .fast = dev_fast,
    .fast_fused = dev_fast_fused,
};

/* ---- the backend --------------------------------------------------------- */

static const char *cu_why_not(const hwa_backend *be, const hwa_tensor *node) {
    return hwa__gpu_why_not(&((cu_state *)be->impl)->gs, node);
}

static bool cu_supports_op(const hwa_backend *be, const hwa_tensor *node) { return cu_why_not(be, node) == NULL; }

/* ---- CUDA Graphs ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* What a recorded graph bakes in: each node, its op and parameters, and
 * the device address of every tensor it reads or writes. */
static uint64_t list_key(const hwa_backend *be, hwa_tensor *const *nodes, int n) {
    uint64_t h = mix(UINT64_C(0xcbf29ce484222325), &n, sizeof n);
    for (int i = 0; i < n; i++) {
        const hwa_tensor *t = nodes[i];
        h = mix(h, &t, sizeof t);
        h = mix(h, &t->op, sizeof t->op);
        h = mix(h, &t->p, sizeof t->p);
        for (int k = -1; k < HWA_MAX_SRC; k++) {
            const hwa_tensor *x = k < 0 ? t : t->src[k];
            if (!x) continue;
            const hwa_tensor *o = hwa__storage(x);
            hwa__gpu_mem m = NULL;
            if (o->buffer && dev_mem_of(be, o->buffer, &m) == HWA_OK) h = mix(h, &m, sizeof m);
            const size_t off = o->buf_offs + (x->view_src ? x->view_offs : 0);
            h = mix(h, &off, sizeof off);
        }
    }
    return h;
}

static void graph_drop(cu_state *s) {
    if (s->g_exec) s->d->rt->graph_free(s->g_exec);
    s->g_exec = NULL;
}

/* The third run in a row of the same list, whose runs had the host read
 * nothing back (index checks do), is recorded by stream capture and then
 * replayed with one launch while the list stays the same. A capture that
 * fails leaves the list to run as before. */
static hwa_status cu_compute(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    cu_state *s = be->impl;
    const hwa__cu_rt *rt = s->d->rt;
    rt->set_device(s->d->index);
    if (!s->graphs) return hwa__gpu_compute(be, &s->gs, nodes, n);
    const uint64_t key = list_key(be, nodes, n);
    if (key != s->g_key) {
        graph_drop(s);
        s->g_key = key;
        s->g_runs = 0;
    }
    if (s->g_exec) {
        const int rc = rt->graph_launch(s->g_exec, s->d->stream);
        if (rc) return cu_fail(be->ctx, s->d, "cudaGraphLaunch", rc);
        for (int i = 0; i < n; i++)
            if (nodes[i]->op != HWA_OP_NONE && !hwa__op_is_view(nodes[i]->op)) hwa__tensor_touch(nodes[i]);
        return HWA_OK;
    }
    if (s->g_runs >= 2 && !s->g_host_read && rt->capture_begin(s->d->stream) == 0) {
        hwa_status st = hwa__gpu_compute(be, &s->gs, nodes, n);
        void *exec = NULL;
        const int rc = rt->capture_end(s->d->stream, &exec);
        if (!st && !rc && exec) {
            s->g_exec = exec;
            const int lrc = rt->graph_launch(exec, s->d->stream);
            return lrc ? cu_fail(be->ctx, s->d, "cudaGraphLaunch", lrc) : HWA_OK;
        }
        if (exec) rt->graph_free(exec);
        s->g_host_read = true; /* not capturable: do not try again for this list */
    }
    hwa_status st = hwa__gpu_compute(be, &s->gs, nodes, n);
    if (st) return st;
    s->g_runs++;
    s->g_host_read |= s->gs.host_read;
    return HWA_OK;
}

static hwa_status cu_synchronize(hwa_backend *be) {
    cu_dev *d = ((cu_state *)be->impl)->d;
    d->rt->set_device(d->index);
    const int rc = d->rt->stream_sync(d->stream);
    if (rc) return sync_fail(be->ctx, d, "cudaStreamSynchronize", rc);
    d->launched = false;
    return HWA_OK;
}

static const char *cu_kernel_name(const hwa_backend *be, const hwa_tensor *node) {
    return hwa__gpu_kernel_name(&((const cu_state *)be->impl)->gs, node);
}

static hwa_status cu_set_matmul_precision(hwa_backend *be, hwa_matmul_precision p) {
    ((cu_state *)be->impl)->prec = p;
    return HWA_OK;
}

static void cu_free(hwa_backend *be) {
    cu_state *s = be->impl;
    cu_dev *d = s->d;
    d->rt->set_device(d->index);
    d->rt->stream_sync(d->stream);
    graph_drop(s);
    if (s->fast) d->rt->fast_free(s->fast);
    if (s->scratch) hwa__cu_alloc_put(d->pool, s->scratch);
    hwa__gpu_state_free(be->ctx, &s->gs);
    dev_unref(d);
    hwa__free(be->ctx, s);
    hwa__free(be->ctx, be);
}

static const hwa_backend_iface cu_iface = {
    .api_version = HWA_BACKEND_API_VERSION,
    .name = "cuda",
    .kind = HWA_DEVICE_GPU,
    .supports_op = cu_supports_op,
    .buffer_alloc = cu_buffer_alloc,
    .compute = cu_compute,
    .synchronize = cu_synchronize,
    .free = cu_free,
    .set_matmul_precision = cu_set_matmul_precision,
    .kernel_name = cu_kernel_name,
    .unsupported_reason = cu_why_not,
};

/* ---- making one ------------------------------------------------------------ */

static hwa_status open_device(hwa_ctx *ctx, cu_dev *d) {
    const hwa__cu_rt *rt = d->rt;
    int rc = rt->set_device(d->index);
    if (!rc) rc = rt->props(d->index, &d->props);
    if (rc) return cu_fail(ctx, d, "cudaSetDevice", rc);
    if ((rc = rt->stream_new(&d->stream))) return cu_fail(ctx, d, "cudaStreamCreate", rc);
    for (int k = 0; k < 2; k++) {
        if ((rc = rt->host_alloc(&d->stage[k], STAGE_BYTES))) return cu_fail(ctx, d, "cudaHostAlloc (staging)", rc);
        if ((rc = rt->event_new(&d->stage_ev[k]))) return cu_fail(ctx, d, "cudaEventCreate", rc);
    }
    d->pool = hwa__cu_alloc_new(ctx, rt);
    return d->pool ? HWA_OK : HWA_E_NOMEM;
}

static hwa_status cu_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    cu_dev *d = hwa__calloc(ctx, 1, sizeof *d);
    if (!d) return HWA_E_NOMEM;
    d->rt = hwa__cu_rt_get();
    d->index = index;
    d->refs = 1;
    d->ctx = ctx;
    d->alloc = ctx->alloc;
    snprintf(d->spec, sizeof d->spec, "cuda:%d", index);
    snprintf(d->props.name, sizeof d->props.name, "?");
    hwa_status st = open_device(ctx, d);
    hwa_backend *be = st ? NULL : hwa__calloc(ctx, 1, sizeof *be);
    cu_state *s = st ? NULL : hwa__calloc(ctx, 1, sizeof *s);
    if (!st && (!be || !s)) st = HWA_E_NOMEM;
    if (!st && d->rt->fast_new) st = d->rt->fast_new(ctx, d->spec, d->stream, &s->fast);
    if (st) {
        hwa__free(ctx, be);
        hwa__free(ctx, s);
        dev_unref(d);
        return st;
    }
    s->d = d;
    const char *graphs = getenv("HWA_CUDA_GRAPHS");
    s->graphs = !(graphs && !strcmp(graphs, "0")); /* HWA_CUDA_GRAPHS=0 turns them off */
    hwa__gpu_state_init(&s->gs, &gpu_dev, "cuda");
    be->iface = &cu_iface;
    be->ctx = ctx;
    be->impl = s;
    *out = be;
    return HWA_OK;
}

static int cu_device_count(char *why, size_t cap) {
    const hwa__cu_rt *rt = hwa__cu_rt_get();
    int n = 0;
    const int rc = rt->device_count(&n);
    if (rc) {
        snprintf(why, cap, "cudaGetDeviceCount: %s: %s", rt->error_name(rc), rt->error_string(rc));
        return -1;
    }
    if (n <= 0) snprintf(why, cap, "the CUDA runtime sees no device");
    return n;
}

__attribute__((visibility("default"))) const hwa_backend_module *hwa_backend_module_v1(const hwa_backend_host *host);

const hwa_backend_module *hwa_backend_module_v1(const hwa_backend_host *host) {
    static hwa_backend_module m = {
        .abi_version = HWA_BACKEND_MODULE_ABI,
        .struct_size = sizeof(hwa_backend_module),
        .layout = HWA__MODULE_LAYOUT,
        .prefix = "cuda",
        .device_count = cu_device_count,
        .init = cu_init,
    };
    if (!hwa__module_host_set(host)) return NULL;
    return &m;
}
