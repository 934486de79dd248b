/* The opencl backend's shared declarations. Not a published API. */
#ifndef HWADAPT_BACKENDS_OPENCL_INTERNAL_H
#define HWADAPT_BACKENDS_OPENCL_INTERNAL_H

#include "core/internal.h"
#include "hw/opencl_api.h"

/* The kernels of the program, by their names in backends/gpu/kernels. */
#define HWA__CL_KERNELS(X) X(UNARY, "hwa_k_unary") X(BINARY, "hwa_k_binary") X(SUM_TO, "hwa_k_sum_to") \
    X(ROWS, "hwa_k_rows") X(MATMUL, "hwa_k_matmul") X(EMBED, "hwa_k_embedding")                        \
    X(EMBED_BACK, "hwa_k_embedding_back") X(ROPE, "hwa_k_rope") X(ATTN, "hwa_k_attention")               \
    X(ATTN_STATS, "hwa_k_attn_stats") X(ATTN_BACK, "hwa_k_attn_back") X(XENT, "hwa_k_xent")               \
    X(XENT_BACK, "hwa_k_xent_back") X(SUM_SQ, "hwa_k_sum_sq") X(SGD, "hwa_k_sgd") X(ADAM, "hwa_k_adam")
typedef enum hwa__cl_kernel_id {
#define HWA__CL_K_ENUM(id, name) HWA__CLK_##id,
    HWA__CL_KERNELS(HWA__CL_K_ENUM)
#undef HWA__CL_K_ENUM
    HWA__CLK_COUNT
} hwa__cl_kernel_id;

/* The device objects, shared by the backend and its buffers: a buffer may
 * outlive the backend that made it, so the last of them releases these. */
typedef struct hwa__cl_dev {
    hwa__cl_api cl;
    cl_device_id dev;
    cl_context cx;
    cl_command_queue q;
    int refs;
    hwa_allocator alloc;
    char spec[32];   /* "opencl:0" */
    char name[128];  /* the device's name */
    char driver[64]; /* its driver version */
    cl_ulong max_alloc;
    size_t max_group;
} hwa__cl_dev;

/* A device buffer: b->impl is one of these; b->base is NULL. */
typedef struct hwa__cl_buf {
    hwa__cl_dev *d;
    cl_mem mem;
} hwa__cl_buf;

/* Records an OpenCL failure on ctx: HWA_E_NOMEM for the codes that mean
 * memory ran out, else HWA_E_DEVICE; the message names the device, the call
 * and the code's name. Returns the status. */
hwa_status hwa__cl_fail(hwa_ctx *ctx, const hwa__cl_dev *d, const char *call, cl_int code);

/* The kernel program, built from the embedded sources at first use, or
 * loaded from the on-disk cache of program binaries. Fills k[]. */
hwa_status hwa__cl_program_get(hwa_ctx *ctx, hwa__cl_dev *d, cl_program *prog, cl_kernel k[HWA__CLK_COUNT]);

/* The embedded kernel sources (generated from backends/gpu/kernels). */
extern const char hwa__gpu_kernels_src[];
extern const size_t hwa__gpu_kernels_len;

#endif
