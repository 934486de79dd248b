/* The opencl backend: devices of any OpenCL platform ("opencl:N", numbered
 * as the passport numbers them), through the ICD loader opened at run time.
 * Buffers live on the device and are read and written by blocking
 * transfers; kernels run on one in-order queue, so each node sees its
 * inputs complete, and a compute ends when the queue has drained. Every
 * kernel comes from the portable sources of backends/gpu/kernels; the
 * shared dispatcher (backends/gpu/gpu_run.c) picks and launches them
 * through this file's hwa__gpu_dev slots, which hold all the OpenCL calls. */
#include <string.h>

#include "backends/opencl/opencl_internal.h"

#define MAX_DEVICES 64

typedef struct cl_state {
    hwa__cl_dev *d;
    cl_program prog; /* NULL until the first compute */
    cl_kernel k[HWA__GPUK_COUNT];
    size_t k_group[HWA__GPUK_COUNT]; /* each kernel's largest work group */
    cl_mem scratch;                  /* temporaries of one node (rope's angles, attention's stats) */
    size_t scratch_size;
    hwa__gpu_state gpu; /* the dispatcher's: what ran, why a node is not supported */
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

/* ---- the device API, as the dispatcher (backends/gpu/gpu_run.c) uses it -- */

static hwa_status dev_mem_of(const hwa_backend *be, const hwa_buffer *b, hwa__gpu_mem *out) {
    const cl_state *s = be->impl;
    if (b->free_fn != buf_free || ((hwa__cl_buf *)b->impl)->d != s->d) return HWA_E_MISUSE;
    *out = ((hwa__cl_buf *)b->impl)->mem;
    return HWA_OK;
}

static hwa_status dev_launch(hwa_backend *be, hwa__gpu_kernel id, const hwa__gpu_arg *args, int nargs, int dims,
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

static hwa_status dev_read(hwa_backend *be, hwa__gpu_mem m, size_t off, void *dst, size_t n) {
    hwa__cl_dev *d = ((cl_state *)be->impl)->d;
    cl_int rc = d->cl.EnqueueReadBuffer(d->q, (cl_mem)m, CL_TRUE, off, n, dst, 0, NULL, NULL);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(be->ctx, d, "clEnqueueReadBuffer", rc);
}

/* Blocking, so src may be reused on return. */
static hwa_status dev_write(hwa_backend *be, hwa__gpu_mem m, size_t off, const void *src, size_t n) {
    hwa__cl_dev *d = ((cl_state *)be->impl)->d;
    cl_int rc = d->cl.EnqueueWriteBuffer(d->q, (cl_mem)m, CL_TRUE, off, n, src, 0, NULL, NULL);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(be->ctx, d, "clEnqueueWriteBuffer", rc);
}

/* The backend's scratch buffer, at least bytes long. Nodes run one after
 * another on the in-order queue, so each may reuse it; a buffer replaced
 * while a kernel still reads it lives until that kernel ends (OpenCL
 * releases memory objects after their last use). */
static hwa_status dev_scratch(hwa_backend *be, size_t bytes, hwa__gpu_mem *out) {
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

static size_t dev_group_cap(const hwa_backend *be, hwa__gpu_kernel id) {
    return ((const cl_state *)be->impl)->k_group[id];
}

/* f32 products through CLBlast; every other node is the portable kernels'. */
static hwa_status dev_fast(hwa_backend *be, const hwa_tensor *t, const hwa__gpu_view *v, const hwa__gpu_mem *m,
                           const char **name) {
    *name = NULL;
    if (t->op != HWA_OP_MATMUL) return HWA_OK;
    const cl_mem cm[3] = {m[0], m[1], m[2]};
    return hwa__cl_blas_matmul(be->ctx, ((cl_state *)be->impl)->d, t, v, cm, name);
}

static const hwa__gpu_dev cl_gpu_dev = {
    .mem_of = dev_mem_of,
    .launch = dev_launch,
    .read = dev_read,
    .write = dev_write,
    .scratch = dev_scratch,
    .group_cap = dev_group_cap,
    .fast = dev_fast,
};

/* NULL when be can compute node, else why not (in be's state). */
static const char *cl_why_not(const hwa_backend *be, const hwa_tensor *node) {
    return hwa__gpu_why_not(&((cl_state *)be->impl)->gpu, node);
}

static bool cl_supports_op(const hwa_backend *be, const hwa_tensor *node) { return cl_why_not(be, node) == NULL; }

/* ---- compute ----------------------------------------------------------- */

static hwa_status ensure_program(hwa_backend *be) {
    cl_state *s = be->impl;
    if (s->prog) return HWA_OK;
    hwa_status st = hwa__cl_program_get(be->ctx, s->d, &s->prog, s->k);
    if (st) return st;
    for (int i = 0; i < HWA__GPUK_COUNT; i++) {
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
    return st ? st : hwa__gpu_compute(be, &((cl_state *)be->impl)->gpu, nodes, n);
}

static hwa_status cl_synchronize(hwa_backend *be) {
    cl_state *s = be->impl;
    cl_int rc = s->d->cl.Finish(s->d->q);
    return rc == CL_SUCCESS ? HWA_OK : hwa__cl_fail(be->ctx, s->d, "clFinish", rc);
}

static const char *cl_kernel_name(const hwa_backend *be, const hwa_tensor *node) {
    return hwa__gpu_kernel_name(&((const cl_state *)be->impl)->gpu, node);
}

static void cl_free(hwa_backend *be) {
    cl_state *s = be->impl;
    if (s->d->q) s->d->cl.Finish(s->d->q);
    for (int i = 0; i < HWA__GPUK_COUNT; i++)
        if (s->k[i]) s->d->cl.ReleaseKernel(s->k[i]);
    if (s->prog) s->d->cl.ReleaseProgram(s->prog);
    if (s->scratch) s->d->cl.ReleaseMemObject(s->scratch);
    hwa__gpu_state_free(be->ctx, &s->gpu);
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
    hwa__gpu_state_init(&s->gpu, &cl_gpu_dev, "opencl");
    be->iface = &cl_iface;
    be->ctx = ctx;
    be->impl = s;
    *out = be;
    return HWA_OK;
}
