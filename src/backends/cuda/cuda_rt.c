/* The real device runtime of libhwadapt_cuda.so (cuda_rt.h): the CUDA
 * runtime (linked statically into the module; it opens the driver,
 * libcuda.so.1, itself) and the kernels of cuda_kernels.cu. */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "backends/cuda/cuda_fast.h"
#include "backends/cuda/cuda_rt.h"

extern const void *const hwa__cu_kernel_fns[];
extern const int hwa__cu_n_kernel_fns;


static int device_count(int *n) { return (int)cudaGetDeviceCount(n); }
static int set_device(int i) { return (int)cudaSetDevice(i); }

static int props(int i, hwa__cu_props *p) {
    struct cudaDeviceProp dp;
    const cudaError_t rc = cudaGetDeviceProperties(&dp, i);
    if (rc) return (int)rc;
    snprintf(p->name, sizeof p->name, "%.127s", dp.name);
    p->total_mem = dp.totalGlobalMem;
    p->cc_major = dp.major;
    p->cc_minor = dp.minor;
    p->sm_count = dp.multiProcessorCount;
    p->max_threads = dp.maxThreadsPerBlock;
    return 0;
}

static int mem_info(size_t *f, size_t *t) { return (int)cudaMemGetInfo(f, t); }
static int dmalloc(void **p, size_t n) { return (int)cudaMalloc(p, n); }
static int dfree(void *p) { return (int)cudaFree(p); }
static int host_alloc(void **p, size_t n) { return (int)cudaHostAlloc(p, n, cudaHostAllocPortable); }
static int host_free(void *p) { return (int)cudaFreeHost(p); }
static int h2d(void *dst, const void *src, size_t n, void *s) {
    return (int)cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, (cudaStream_t)s);
}
static int d2h(void *dst, const void *src, size_t n, void *s) {
    return (int)cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, (cudaStream_t)s);
}
static int memset0(void *p, size_t n, void *s) { return (int)cudaMemsetAsync(p, 0, n, (cudaStream_t)s); }
static int stream_new(void **s) { return (int)cudaStreamCreateWithFlags((cudaStream_t *)s, cudaStreamNonBlocking); }
static int stream_free(void *s) { return (int)cudaStreamDestroy((cudaStream_t)s); }
static int stream_sync(void *s) { return (int)cudaStreamSynchronize((cudaStream_t)s); }
static int event_new(void **e) { return (int)cudaEventCreateWithFlags((cudaEvent_t *)e, cudaEventDisableTiming); }
static int event_free(void *e) { return (int)cudaEventDestroy((cudaEvent_t)e); }
static int event_record(void *e, void *s) { return (int)cudaEventRecord((cudaEvent_t)e, (cudaStream_t)s); }
static int event_sync(void *e) { return (int)cudaEventSynchronize((cudaEvent_t)e); }

/* The kernel table's order against the dispatcher's names, checked once:
 * a mismatch would run the wrong kernel, so every launch then fails. */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int table_rc;

static void check_table(void) {
    if (hwa__cu_n_kernel_fns != HWA__GPUK_COUNT) {
        table_rc = (int)cudaErrorInvalidDeviceFunction;
        return;
    }
    for (int i = 0; i < HWA__GPUK_COUNT; i++) {
        const char *name = NULL;
        if (cudaFuncGetName(&name, hwa__cu_kernel_fns[i]) != cudaSuccess) continue; /* unnamed: not checkable */
        if (name && strcmp(name, hwa__gpu_kernel_str((hwa__gpu_kernel)i))) {
            table_rc = (int)cudaErrorInvalidDeviceFunction;
            return;
        }
    }
}

static int launch(hwa__gpu_kernel id, const unsigned grid[3], const unsigned block[3], void **args, void *s) {
    pthread_once(&table_once, check_table);
    if (table_rc) return table_rc;
    if ((unsigned)id >= (unsigned)HWA__GPUK_COUNT) return (int)cudaErrorInvalidDeviceFunction;
    const dim3 g = {grid[0], grid[1], grid[2]}, b = {block[0], block[1], block[2]};
    const cudaError_t rc = cudaLaunchKernel(hwa__cu_kernel_fns[id], g, b, args, 0, (cudaStream_t)s);
    return (int)(rc ? rc : cudaGetLastError());
}

static int max_block(hwa__gpu_kernel id, int *threads) {
    if ((unsigned)id >= (unsigned)HWA__GPUK_COUNT) return (int)cudaErrorInvalidDeviceFunction;
    struct cudaFuncAttributes a;
    const cudaError_t rc = cudaFuncGetAttributes(&a, hwa__cu_kernel_fns[id]);
    if (rc) return (int)rc;
    *threads = a.maxThreadsPerBlock;
    return 0;
}

static bool is_oom(int code) { return code == (int)cudaErrorMemoryAllocation; }
static const char *error_name(int code) { return cudaGetErrorName((cudaError_t)code); }
/* cudart says "driver version is insufficient" also where there is no
 * driver at all: say which. */
static char no_driver[320];
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;
static void look_for_driver(void) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
        return;
    }
    const char *e = dlerror();
    snprintf(no_driver, sizeof no_driver, "no NVIDIA driver: %.280s", e ? e : "libcuda.so.1 cannot be opened");
}
static const char *error_string(int code) {
    if (code == (int)cudaErrorInsufficientDriver || code == (int)cudaErrorNoDevice) {
        pthread_once(&driver_once, look_for_driver);
        if (no_driver[0]) return no_driver;
    }
    return cudaGetErrorString((cudaError_t)code);
}

static int capture_begin(void *s) {
    return (int)cudaStreamBeginCapture((cudaStream_t)s, cudaStreamCaptureModeThreadLocal);
}
static int capture_end(void *s, void **exec) {
    cudaGraph_t g = NULL;
    *exec = NULL;
    cudaError_t rc = cudaStreamEndCapture((cudaStream_t)s, &g);
    if (rc) return (int)rc;
    rc = cudaGraphInstantiate((cudaGraphExec_t *)exec, g, 0);
    cudaGraphDestroy(g);
    if (rc) *exec = NULL;
    return (int)rc;
}
static int graph_launch(void *exec, void *s) { return (int)cudaGraphLaunch((cudaGraphExec_t)exec, (cudaStream_t)s); }
static void graph_free(void *exec) { cudaGraphExecDestroy((cudaGraphExec_t)exec); }

static hwa_status fast_new(hwa_ctx *ctx, const char *spec, void *stream, void **out) {
    hwa__cu_fast *f = NULL;
    hwa_status st = hwa__cu_fast_new(ctx, spec, stream, &f);
    *out = f;
    return st;
}
static void fast_free(void *f) { hwa__cu_fast_free(f); }
static hwa_status fast_run(void *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t, const hwa__gpu_view *v,
                           const hwa__gpu_mem *m, hwa_matmul_precision prec, const char **name) {
    return hwa__cu_fast_run(f, ctx, spec, t, v, m, prec, name);
}
static hwa_status fast_fused(void *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t, const hwa__gpu_view *v,
                             const hwa__gpu_mem *m, const hwa__gpu_view *bias, hwa__gpu_mem bias_m, bool relu,
                             hwa_matmul_precision prec, const char **name) {
    return hwa__cu_fast_fused(f, ctx, spec, t, v, m, bias, bias_m, relu, prec, name);
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
    .h2d = h2d,
    .d2h = d2h,
    .memset0 = memset0,
    .stream_new = stream_new,
    .stream_free = stream_free,
    .stream_sync = stream_sync,
    .event_new = event_new,
    .event_free = event_free,
    .event_record = event_record,
    .event_sync = event_sync,
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
