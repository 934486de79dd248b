/* The device runtime as the cuda backend uses it: a table of the CUDA
 * runtime calls it makes, so that the backend's host code (buffers, the
 * caching allocator, launches and their errors, transfers through pinned
 * staging buffers) is one piece of C that runs over the real runtime in
 * libhwadapt_cuda.so (cuda_rt.c, cudart and the kernels nvcc compiled) and
 * over a fake one in the test module libhwadapt_fakecuda.so
 * (tests/fake_cuda/fake_rt.c: host memory under a capacity, launches
 * recorded and failed on request), which is how out of memory and launch
 * errors are tested on machines without a GPU. Not a published API.
 *
 * Every slot returns the runtime's error code: 0 for success. Streams are
 * opaque pointers (cudaStream_t). One host thread uses a backend at a
 * time; the slots may be called from several backends at once. */
#ifndef HWADAPT_BACKENDS_CUDA_RT_H
#define HWADAPT_BACKENDS_CUDA_RT_H

#include "backends/gpu/gpu_run.h"

typedef struct hwa__cu_props {
    char name[128];
    size_t total_mem;
    int cc_major, cc_minor;
    int sm_count;
    int max_threads; /* per block */
} hwa__cu_props;

/* A caching allocator's statistics, in bytes. */
typedef struct hwa__cu_mem_stats {
    int64_t in_use;   /* handed out */
    int64_t peak;     /* the most in_use has been */
    int64_t cached;   /* held from the device, free for reuse */
    int64_t device;   /* held from the device in all (in_use rounded up, plus cached) */
    int64_t n_device_allocs; /* calls to the device's allocator */
} hwa__cu_mem_stats;

typedef struct hwa__cu_rt {
    int (*device_count)(int *n);
    int (*set_device)(int index);
    int (*props)(int index, hwa__cu_props *p);
    int (*mem_info)(size_t *free_bytes, size_t *total_bytes); /* of the current device */
    int (*malloc)(void **p, size_t n);
    int (*free)(void *p);
    int (*host_alloc)(void **p, size_t n); /* page-locked */
    int (*host_free)(void *p);
    /* Queued on stream; the host pointers of the copies are page-locked. */
    int (*h2d)(void *dst, const void *src, size_t n, void *stream);
    int (*d2h)(void *dst, const void *src, size_t n, void *stream);
    int (*memset0)(void *p, size_t n, void *stream);
    int (*stream_new)(void **stream);
    int (*stream_free)(void *stream);
    int (*stream_sync)(void *stream);
    /* Events: recorded on a stream, waited for by the host. */
    int (*event_new)(void **event);
    int (*event_free)(void *event);
    int (*event_record)(void *event, void *stream);
    int (*event_sync)(void *event);
    /* Queues kernel id over grid x block on stream; args as cudaLaunchKernel
     * takes them (one pointer to each argument's value). */
    int (*launch)(hwa__gpu_kernel id, const unsigned grid[3], const unsigned block[3], void **args, void *stream);
    /* The largest block kernel id may be launched with on the current device. */
    int (*max_block)(hwa__gpu_kernel id, int *threads);
    /* Whether code means memory ran out; its name ("cudaErrorMemoryAllocation") and text. */
    bool (*is_oom)(int code);
    const char *(*error_name)(int code);
    const char *(*error_string)(int code);
    /* CUDA Graphs: stream capture, instantiate, replay. */
    int (*capture_begin)(void *stream);
    int (*capture_end)(void *stream, void **exec); /* *exec NULL when capture failed */
    int (*graph_launch)(void *exec, void *stream);
    void (*graph_free)(void *exec);
    /* Optional (NULL in the fake): the CUDA-only fast paths (cuda_fast.h).
     * fast_new makes one backend's state on the current device. */
    hwa_status (*fast_new)(hwa_ctx *ctx, const char *spec, void *stream, void **out);
    void (*fast_free)(void *f);
    hwa_status (*fast_run)(void *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t, const hwa__gpu_view *v,
                           const hwa__gpu_mem *m, hwa_matmul_precision prec, const char **name);
    /* the product with a bias row and optionally a ReLU in its epilogue
     * (hwa__gpu_dev.fast_fused) */
    hwa_status (*fast_fused)(void *f, hwa_ctx *ctx, const char *spec, const hwa_tensor *t, const hwa__gpu_view *v,
                             const hwa__gpu_mem *m, const hwa__gpu_view *bias, hwa__gpu_mem bias_m, bool relu,
                             hwa_matmul_precision prec, const char **name);
} hwa__cu_rt;

/* The runtime this module was built with: the real one (cuda_rt.c) or the
 * fake (tests/fake_cuda/fake_rt.c). */
const hwa__cu_rt *hwa__cu_rt_get(void);

/* ---- the caching allocator (cuda_alloc.c) ------------------------------ */

/* Device memory for one device, reused: a freed block goes to a cache and
 * the next request it fits takes it back without the device's allocator
 * (whose calls synchronize the device). Sizes are rounded up to 512 bytes
 * below 1 MiB and to 2 MiB above, so blocks are reused across
 * slightly different sizes; a request takes the smallest cached block that
 * fits and wastes at most a quarter of it. When the device's allocator
 * fails, every cached block is given back and the request is tried once
 * more. Not thread-safe: the backends of one device share it under their
 * device's lock. */
typedef struct hwa__cu_alloc hwa__cu_alloc;

hwa__cu_alloc *hwa__cu_alloc_new(hwa_ctx *ctx, const hwa__cu_rt *rt);
/* Gives every block back to the device (in use ones too: the caller frees
 * the allocator last) and frees a. */
void hwa__cu_alloc_free(hwa__cu_alloc *a);
/* A block of at least n bytes into *p; the runtime's error code (an
 * out-of-memory code after the retry) when the device has none. */
int hwa__cu_alloc_get(hwa__cu_alloc *a, size_t n, void **p);
/* Returns block p (from hwa__cu_alloc_get) to the cache. */
void hwa__cu_alloc_put(hwa__cu_alloc *a, void *p);
/* Gives every cached block back to the device. */
void hwa__cu_alloc_trim(hwa__cu_alloc *a);
void hwa__cu_alloc_stats(const hwa__cu_alloc *a, hwa__cu_mem_stats *s);

#endif
