/* The opencl backend's shared declarations. Not a published API. */
#ifndef HWADAPT_BACKENDS_OPENCL_INTERNAL_H
#define HWADAPT_BACKENDS_OPENCL_INTERNAL_H

#include "backends/gpu/gpu_run.h"
#include "hw/opencl_api.h"

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
hwa_status hwa__cl_blas_matmul(hwa_ctx *ctx, hwa__cl_dev *d, const hwa_tensor *t, const hwa__gpu_view v[3],
                               const cl_mem m[3], const char **name);

/* Records an OpenCL failure on ctx: HWA_E_NOMEM for the codes that mean
 * memory ran out, else HWA_E_DEVICE; the message names the device, the call
 * and the code's name. Returns the status. */
hwa_status hwa__cl_fail(hwa_ctx *ctx, const hwa__cl_dev *d, const char *call, cl_int code);

/* The kernel program, built from the embedded sources at first use, or
 * loaded from the on-disk cache of program binaries. Fills k[]. */
hwa_status hwa__cl_program_get(hwa_ctx *ctx, hwa__cl_dev *d, cl_program *prog, cl_kernel k[HWA__GPUK_COUNT]);

/* The embedded kernel sources (generated from backends/gpu/kernels). */
extern const char hwa__gpu_kernels_src[];
extern const size_t hwa__gpu_kernels_len;

#endif
