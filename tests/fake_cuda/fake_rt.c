/* A fake device runtime for the cuda backend (cuda_rt.h), built into the
 * test module libhwadapt_fakecuda.so: the backend's own host code (buffers,
 * the caching allocator, staging, launches and their errors) runs over host
 * memory, so that out of memory and launch failures are tested on machines
 * without a GPU. Nothing here pretends to be fast or complete:
 *  - one device, "fake CUDA device (host memory)", of HWA_FAKE_CUDA_MEM
 *    bytes (default 64M; K, M, G suffixes), whose allocator fails past it;
 *  - streams and events are synchronous (every call completes at once),
 *    so stream capture (CUDA Graphs) is refused and lists run as they are;
 *  - of the kernels only hwa_k_binary_flat computes (ADD, SUB, MUL, DIV
 *    over f32), the rest are recorded and do nothing; the kernel named by
 *    HWA_FAKE_CUDA_FAIL_KERNEL fails to launch;
 *  - of the fast paths only the fused product (bias, ReLU) computes, on
 *    plain f32 matrices. */
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/cuda_rt.h"

enum { OK = 0, ERR_OOM = 2, ERR_BAD_FUNCTION = 98, ERR_NO_DEVICE = 100 };

static size_t cap_bytes(void) {
    const char *e = getenv("HWA_FAKE_CUDA_MEM");
    if (!e || !*e) return (size_t)64 << 20;
    char *end = NULL;
    unsigned long long v = strtoull(e, &end, 10);
    if (end && (*end == 'K' || *end == 'k')) v <<= 10;
    if (end && (*end == 'M' || *end == 'm')) v <<= 20;
    if (end && (*end == 'G' || *end == 'g')) v <<= 30;
    return (size_t)v;
}

static size_t used; /* bytes the fake device has handed out */

/* A block: its size just before the memory handed out. */
static int dmalloc(void **p, size_t n) {
    if (n > cap_bytes() || used > cap_bytes() - n) return ERR_OOM;
    size_t *b = malloc(n + 64);
    if (!b) return ERR_OOM;
    b[0] = n;
    used += n;
    *p = (char *)b + 64;
    return OK;
}

static int dfree(void *p) {
    if (!p) return OK;
    size_t *b = (size_t *)((char *)p - 64);
    used -= b[0];
    free(b);
    return OK;
}

static int device_count(int *n) {
    const char *e = getenv("HWA_FAKE_CUDA_DEVICES");
    *n = e && *e ? atoi(e) : 1;
    return *n > 0 ? OK : ERR_NO_DEVICE;
}
static int set_device(int i) { return i == 0 ? OK : ERR_NO_DEVICE; }
static int props(int i, hwa__cu_props *p) {
    if (i != 0) return ERR_NO_DEVICE;
    snprintf(p->name, sizeof p->name, "fake CUDA device (host memory)");
    p->total_mem = cap_bytes();
    p->cc_major = 9;
    p->cc_minor = 0;
    p->sm_count = 1;
    p->max_threads = 1024;
    return OK;
}
static int mem_info(size_t *f, size_t *t) {
    *t = cap_bytes();
    *f = *t - used;
    return OK;
}
static int host_alloc(void **p, size_t n) { return (*p = malloc(n)) ? OK : ERR_OOM; }
static int host_free(void *p) {
    free(p);
    return OK;
}
static int copy(void *dst, const void *src, size_t n, void *s) {
    (void)s;
    memcpy(dst, src, n);
    return OK;
}
static int memset0(void *p, size_t n, void *s) {
    (void)s;
    memset(p, 0, n);
    return OK;
}
static int handle_new(void **h) { return (*h = malloc(1)) ? OK : ERR_OOM; }
static int handle_free(void *h) {
    free(h);
    return OK;
}
static int nothing(void *h) {
    (void)h;
    return OK;
}
static int record(void *e, void *s) {
    (void)e, (void)s;
    return OK;
}

static int launch(hwa__gpu_kernel id, const unsigned grid[3], const unsigned block[3], void **args, void *s) {
    (void)s;
    const char *fail = getenv("HWA_FAKE_CUDA_FAIL_KERNEL");
    if ((unsigned)id >= HWA__GPUK_COUNT || (fail && !strcmp(fail, hwa__gpu_kernel_str(id)))) return ERR_BAD_FUNCTION;
    if (id != HWA__GPUK_BINARY_FLAT) return OK;
    /* (d, d_off, a, a_off, b, b_off, op, n), as elementwise.cl takes them */
    float *d = *(float **)args[0];
    const float *a = *(float **)args[2], *b = *(float **)args[4];
    const int64_t d_off = *(int64_t *)args[1], a_off = *(int64_t *)args[3], b_off = *(int64_t *)args[5];
    const int op = *(int *)args[6];
    const int64_t n = *(int64_t *)args[7];
    const int64_t items = (int64_t)grid[0] * block[0];
    for (int64_t i = 0; i < n && i < items; i++) {
        const float x = a[a_off + i], y = b[b_off + i];
        d[d_off + i] = op == HWA_OP_ADD ? x + y : op == HWA_OP_SUB ? x - y : op == HWA_OP_MUL ? x * y : x / y;
    }
    return OK;
}

static int max_block(hwa__gpu_kernel id, int *threads) {
    (void)id;
    *threads = 1024;
    return OK;
}
static bool is_oom(int code) { return code == ERR_OOM; }
static const char *error_name(int code) {
    return code == ERR_OOM ? "cudaErrorMemoryAllocation" : code == ERR_BAD_FUNCTION ? "cudaErrorInvalidDeviceFunction"
           : code == ERR_NO_DEVICE ? "cudaErrorNoDevice" : "cudaErrorUnknown";
}
static const char *error_string(int code) {
    return code == ERR_OOM ? "out of memory (fake device)" : code == ERR_BAD_FUNCTION ? "invalid device function (fake)"
           : code == ERR_NO_DEVICE ? "no CUDA-capable device is detected (fake)" : "unknown error (fake)";
}
/* Launches run at once here, so a capture cannot record them: refused. */
static int capture_begin(void *s) {
    (void)s;
    return ERR_BAD_FUNCTION;
}
static int capture_end(void *s, void **exec) {
    (void)s;
    *exec = NULL;
    return ERR_BAD_FUNCTION;
}
static int graph_launch(void *exec, void *s) {
    (void)exec, (void)s;
    return ERR_BAD_FUNCTION;
}
static void graph_free(void *exec) { (void)exec; }

/* The fast paths: none but the fused product, so that the dispatcher's
 * fusion (backends/fuse.h, gpu_run.c) is tested here: a plain f32
 * row-major product of 2-D views plus the bias row, then the ReLU. */
static hwa_status fast_new(hwa_ctx *ctx, const char *spec, void *stream, void **out) {
    (void)ctx, (void)spec, (void)stream;
    static int state;
    *out = &state;
    return HWA_OK;
}
static void fast_free(void *f) { (void)f; }
static hwa_status fast_run(void *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t, const hwa__gpu_view *v,
                           const hwa__gpu_mem *m, hwa_matmul_precision prec, const char **name) {
    (void)f, (void)ctx, (void)spec, (void)t, (void)v, (void)m, (void)prec;
    *name = NULL;
    return HWA_OK;
}
static bool plain_2d(const hwa__gpu_view *v) {
    return v->dt == HWA_F32 && v->ne[0] == 1 && v->ne[1] == 1 && v->st[3] == 1 && v->st[2] == v->ne[3];
}
static hwa_status fast_fused(void *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t, const hwa__gpu_view *v,
                             const hwa__gpu_mem *m, const hwa__gpu_view *bias, hwa__gpu_mem bias_m, bool relu,
                             hwa_matmul_precision prec, const char **name) {
    (void)f, (void)ctx, (void)spec, (void)prec;
    *name = NULL;
    if (t->p.i[0] || t->p.i[1] || !plain_2d(&v[0]) || !plain_2d(&v[1]) || !plain_2d(&v[2]) || bias->dt != HWA_F32 ||
        (bias->ne[3] > 1 && bias->st[3] != 1))
        return HWA_OK;
    const int64_t M = v[0].ne[2], N = v[0].ne[3], K = v[1].ne[3];
    float *c = (float *)m[0] + v[0].off;
    const float *a = (const float *)m[1] + v[1].off, *b = (const float *)m[2] + v[2].off;
    const float *r = (const float *)bias_m + bias->off;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; k++) acc += a[i * K + k] * b[k * N + j];
            acc += r[j];
            c[i * N + j] = relu && acc < 0.0f ? 0.0f : acc;
        }
    *name = relu ? "fake:gemm+bias+relu" : "fake:gemm+bias";
    return HWA_OK;
}

static const hwa__cu_rt rt = {
    .device_count = device_count,
    .set_device = set_device,
    .props = props,
    .mem_info = mem_info,
    .malloc = dmalloc,
    .free = dfree,
    .host_alloc = host_alloc,
    .host_free = host_free,
    .h2d = copy,
    .d2h = copy,
    .memset0 = memset0,
    .stream_new = handle_new,
    .stream_free = handle_free,
    .stream_sync = nothing,
    .event_new = handle_new,
    .event_free = handle_free,
    .event_record = record,
    .event_sync = nothing,
    .launch = launch,
    .max_block = max_block,
    .is_oom = is_oom,
    .error_name = error_name,
    .error_string = error_string,
    .capture_begin = capture_begin,
    .capture_end = capture_end,
    .graph_launch = graph_launch,
    .graph_free = graph_free,
    .fast_new = fast_new,
    .fast_free = fast_free,
    .fast_run = fast_run,
    .fast_fused = fast_fused,
};

const hwa__cu_rt *hwa__cu_rt_get(void) { return &rt; }
