/* The host side of the portable device kernels (backends/gpu/kernels),
 * shared by every backend that runs them (opencl, cuda): which kernel runs
 * an op, which ops and dtypes the kernels take, each kernel's arguments and
 * launch shape, the index checks done on the host, and the record of which
 * kernel ran each node. A backend supplies its device API through the slots
 * of hwa__gpu_dev (launch, transfers, scratch memory) and keeps one
 * hwa__gpu_state in its own state. Not a published API.
 *
 * Launch shapes are OpenCL's: a global size (work items per dimension) and
 * an optional local size (work-group size; NULL lets the device choose).
 * A global size is a multiple of the local size where a local size is
 * given; every kernel that takes NULL checks its index against its count,
 * so a device API may round a global size up to whole groups (CUDA does). */
#ifndef HWADAPT_BACKENDS_GPU_RUN_H
#define HWADAPT_BACKENDS_GPU_RUN_H

#include "core/internal.h"

/* The kernels, by their names in backends/gpu/kernels. */
#define HWA__GPU_KERNELS(X) X(UNARY, "hwa_k_unary") X(BINARY, "hwa_k_binary") X(SUM_TO, "hwa_k_sum_to") \
    X(ROWS, "hwa_k_rows") X(MATMUL, "hwa_k_matmul") X(EMBED, "hwa_k_embedding")                        \
    X(EMBED_BACK, "hwa_k_embedding_back") X(ROPE, "hwa_k_rope") X(ATTN, "hwa_k_attention")               \
    X(ATTN_STATS, "hwa_k_attn_stats") X(ATTN_BACK, "hwa_k_attn_back") X(XENT, "hwa_k_xent")               \
    X(XENT_BACK, "hwa_k_xent_back") X(SUM_SQ, "hwa_k_sum_sq") X(SGD, "hwa_k_sgd") X(ADAM, "hwa_k_adam")    \
    X(UNARY_FLAT, "hwa_k_unary_flat") X(BINARY_FLAT, "hwa_k_binary_flat") X(SPMM, "hwa_k_spmm")    \
    X(ELTOPS, "hwa_k_eltops") X(CONV2D, "hwa_k_conv2d")
typedef enum hwa__gpu_kernel {
#define HWA__GPU_K_ENUM(id, name) HWA__GPUK_##id,
    HWA__GPU_KERNELS(HWA__GPU_K_ENUM)
#undef HWA__GPU_K_ENUM
    HWA__GPUK_COUNT
} hwa__gpu_kernel;

/* Kernel id's name ("hwa_k_unary"); "?" out of range. Static. */
const char *hwa__gpu_kernel_str(hwa__gpu_kernel id);

/* A device memory object: an OpenCL cl_mem or a CUDA device pointer. */
typedef void *hwa__gpu_mem;

/* A tensor as the kernels see it: hwa_view in kernels/hwa_gpu.h. Extents
 * and strides in elements, outermost first (ne[2] rows, ne[3] columns of a
 * matrix); off is the first element's index in the buffer. */
typedef struct hwa__gpu_view {
    int64_t ne[4];
    int64_t st[4];
    int64_t off;
    int32_t dt;
    int32_t pad_;
} hwa__gpu_view;
_Static_assert(sizeof(hwa__gpu_view) == 80, "hwa__gpu_view must match hwa_view of the device kernels");

/* One kernel argument: its size in bytes and where its value is. A memory
 * object is passed as a hwa__gpu_mem (pointer-sized in both APIs). */
typedef struct hwa__gpu_arg {
    size_t size;
    const void *p;
} hwa__gpu_arg;

/* The device API, as the dispatcher uses it. Every slot gets the backend;
 * errors are recorded on be->ctx with the device named. */
typedef struct hwa__gpu_dev {
    /* b's memory object when b is a buffer of this backend's device, else
     * HWA_E_MISUSE (without a message: the caller writes one). */
    hwa_status (*mem_of)(const hwa_backend *be, const hwa_buffer *b, hwa__gpu_mem *out);
    /* Queues kernel id with args[0..nargs) over dims (1 to 3) dimensions. A
     * launch with a zero global size does nothing. */
    hwa_status (*launch)(hwa_backend *be, hwa__gpu_kernel id, const hwa__gpu_arg *args, int nargs, int dims,
                         const size_t *global, const size_t *local);
    /* Copies n bytes at byte off of m to the host, after every kernel queued
     * so far (blocking). */
    hwa_status (*read)(hwa_backend *be, hwa__gpu_mem m, size_t off, void *dst, size_t n);
    /* Copies n bytes from the host to byte off of m, before any kernel
     * queued after the call reads it, and after every kernel queued before
     * it has finished with m (src may be reused on return). */
    hwa_status (*write)(hwa_backend *be, hwa__gpu_mem m, size_t off, const void *src, size_t n);
    /* The backend's scratch memory, at least bytes long (bytes may be 0),
     * for one node's temporaries: the kernels of one node may use it, and
     * the next node may reuse it. */
    hwa_status (*scratch)(hwa_backend *be, size_t bytes, hwa__gpu_mem *out);
    /* The largest work group kernel id may be launched with (>= 1). */
    size_t (*group_cap)(const hwa_backend *be, hwa__gpu_kernel id);
    /* Optional: runs t (v[0] its view, v[1..] its sources', m[] their memory
     * objects) by a library or an API-only kernel, setting *name (static,
     * "opencl:clblast:sgemm") when it did; *name NULL lets the portable
     * kernel run it. */
    hwa_status (*fast)(hwa_backend *be, const hwa_tensor *t, const hwa__gpu_view *v, const hwa__gpu_mem *m,
                       const char **name);
    /* Optional: runs the product t together with the nodes after it that
     * hwa__mm_fusable (backends/fuse.h) lets it take, a bias row added
     * (bias, bias_m: its view and memory object, one value per column) and
     * then a ReLU when relu, writing only the last of them: v[0] and m[0]
     * are that node's view and memory object, v[1], v[2] and m[1], m[2]
     * the product's sources. *name (static) when it ran them; NULL: it ran
     * nothing, and the nodes run one by one. */
    hwa_status (*fast_fused)(hwa_backend *be, const hwa_tensor *t, const hwa__gpu_view *v, const hwa__gpu_mem *m,
                             const hwa__gpu_view *bias, hwa__gpu_mem bias_m, bool relu, const char **name);
} hwa__gpu_dev;

/* The dispatcher's state, one per backend (in the backend's own state). */
typedef struct hwa__gpu_state {
    const hwa__gpu_dev *dev;
    char prefix[16];                        /* "opencl", "cuda" */
    char names[HWA__GPUK_COUNT][48];        /* "opencl:hwa_k_unary" */
    char why[192];                          /* the last reason a node is not supported */
    /* the nodes of the last compute that a library or fast kernel ran, and its name */
    struct hwa__gpu_ran {
        const hwa_tensor *node;
        const char *name;
    } *ran;
    int n_ran, cap_ran;
    /* Set by hwa__gpu_compute when a node of its list had the host read
     * device data (index checks, rope's positions): such a list cannot be
     * recorded for replay (CUDA Graphs). */
    bool host_read;
} hwa__gpu_state;

/* Sets s up for a backend whose kernel names start with prefix ("cuda"). */
void hwa__gpu_state_init(hwa__gpu_state *s, const hwa__gpu_dev *dev, const char *prefix);
/* Frees what s holds (not s). */
void hwa__gpu_state_free(hwa_ctx *ctx, hwa__gpu_state *s);

/* NULL when the portable kernels can compute node, else why not (in s,
 * valid until the next call): an op without a kernel, a dtype the kernels
 * do not take, a head wider than the attention kernels take. */
const char *hwa__gpu_why_not(hwa__gpu_state *s, const hwa_tensor *node);

/* Computes nodes[0..n) in order on be (whose state holds s): view nodes and
 * leaves are skipped, every other node runs (a product with the bias and
 * ReLU after it through the fast_fused slot, else the fast slot, else its
 * portable kernel) and is marked changed (hwa__tensor_touch). Resets s's
 * record of what ran and s->host_read first. */
hwa_status hwa__gpu_compute(hwa_backend *be, hwa__gpu_state *s, hwa_tensor *const *nodes, int n);

/* The kernel that ran node in the last compute ("cuda:hwa_k_rows",
 * "opencl:clblast:sgemm"), or NULL when none would. */
const char *hwa__gpu_kernel_name(const hwa__gpu_state *s, const hwa_tensor *node);

#endif
