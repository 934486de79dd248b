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
    X(XENT_BACK, "hwa_k_xent_back") X(SUM_SQ, "hwa_k_sum_sq") X(SGD, "hwa_k_sgd") X(ADAM, "hwa_k_adam")    \
    X(UNARY_FLAT, "hwa_k_unary_flat") X(BINARY_FLAT, "hwa_k_binary_flat") X(SPMM, "hwa_k_spmm")    \
    X(ELTOPS, "hwa_k_eltops")
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

/* A tensor as the kernels see it: hwa_view in backends/gpu/kernels/hwa_gpu.h.
 * Extents and strides in elements, outermost first (ne[2] rows, ne[3]
 * columns of a matrix); off is the first element's index in the buffer. */
typedef struct hwa__cl_view {
    int64_t ne[4];
    int64_t st[4];
    int64_t off;
    int32_t dt;
    int32_t pad_;
} hwa__cl_view;
_Static_assert(sizeof(hwa__cl_view) == 80, "hwa__cl_view must match hwa_view of the device kernels");

/* ---- matrix products through CLBlast (opencl_blas.c) ---------------------- */

/* Whether products may go to CLBlast: false when $HWA_OPENCL_BLAS is "0"
 * (the portable kernel then runs every product, so both stay tested) or
 * when libclblast.so.1 (or $HWA_CLBLAST_LIB: a file or a directory holding
 * it) cannot be opened with dlopen or lacks an entry point; why (may be
 * NULL) then says which. The library is opened once per process and stays
 * loaded. Thread-safe. */
bool hwa__cl_blas_usable(char *why, size_t cap);

/* Runs node t (an f32 matmul: v[0] the result, v[1] A and v[2] B as stored,
 * before any transposition; m[] their memory objects) on d's queue through
 * CLBlast when CLBlast takes its layout: every operand f32, each matrix
 * row- or column-major with a leading dimension, the batch dims foldable
 * into one stride (a weight shared by the batch folds into the rows when
 * A and C allow). *name is then the kernel's name for reports
 * ("opencl:clblast:sgemm", "opencl:clblast:sgemm_strided_batched", static); NULL when CLBlast did not run it (the
 * caller runs the portable kernel): a layout it does not take, or a
 * CLBlast error other than running out of memory. Out of memory is
 * HWA_E_NOMEM with the device named, as for the other kernels. */
hwa_status hwa__cl_blas_matmul(hwa_ctx *ctx, hwa__cl_dev *d, const hwa_tensor *t, const hwa__cl_view v[3],
                               const cl_mem m[3], const char **name);

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
