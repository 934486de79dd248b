/* The interface between libhwadapt and a loadable backend module
 * (libhwadapt_cuda.so, and any backend built the same way): a backend that
 * needs its own toolchain or links a vendor runtime is built as a shared
 * object of its own and opened with dlopen the first time a spec with its
 * prefix ("cuda:0") is used, so that libhwadapt and the hwadapt command
 * never link the runtime and start on machines without it.
 *
 * A module is built from this source tree, against core/internal.h: it
 * makes hwa_backend objects with the core's vtable (hwa_backend_iface) and
 * reads hwa_tensor and hwa_buffer fields directly. What it calls in the
 * core comes through the table of services the core hands it
 * (hwa_backend_host); a module links nothing of libhwadapt (it is linked
 * with -z defs, and src/backends/backend_module/forward.c gives it the
 * core's internal names as forwarders to that table). Both sides check
 * that they were built from the same layouts: the ABI version, a layout
 * tag of struct sizes, and the op table by name.
 *
 * A module exports one symbol, HWA_BACKEND_MODULE_ENTRY: a function that
 * takes the core's services and returns the module's table, or NULL when
 * the module cannot work with them (another ABI or layout; it then writes
 * why into the host's why buffer). Slots are only ever appended. Not a
 * published API. */
#ifndef HWADAPT_BACKENDS_BACKEND_MODULE_H
#define HWADAPT_BACKENDS_BACKEND_MODULE_H

#include <stdarg.h>
#include <stddef.h>

#include "core/internal.h"

#define HWA_BACKEND_MODULE_ABI 1u
#define HWA_BACKEND_MODULE_ENTRY "hwa_backend_module_v1"

/* Sizes of the structures a module shares with the core, and the op
 * count, mixed into one number (FNV-1a over the values): a module built
 * against other headers (a field added to hwa_tensor, an op appended) is
 * refused. */
#define HWA__MIX(h, v) (((h) ^ (uint64_t)(v)) * UINT64_C(0x100000001b3))
#define HWA__MODULE_LAYOUT                                                                                         \
    HWA__MIX(HWA__MIX(HWA__MIX(HWA__MIX(HWA__MIX(HWA__MIX(HWA__MIX(HWA__MIX(UINT64_C(0xcbf29ce484222325),          \
                                                                           sizeof(hwa_tensor)),                 \
                                                                  sizeof(hwa_buffer)),                          \
                                                         sizeof(hwa_backend)),                                  \
                                                sizeof(hwa_backend_iface)),                                     \
                                       sizeof(hwa_op_params)),                                                  \
                              sizeof(struct hwa_ctx)),                                                          \
                     HWA_OP_COUNT),                                                                             \
             HWA_BACKEND_API_VERSION)

/* The core's services, as a module calls them: the functions of
 * core/internal.h and hwadapt.h of the same names. */
typedef struct hwa_backend_host {
    uint32_t abi_version; /* HWA_BACKEND_MODULE_ABI */
    uint32_t struct_size; /* sizeof(hwa_backend_host) */
    uint64_t layout;      /* HWA__MODULE_LAYOUT */
    char *why;            /* where a module that refuses writes why */
    size_t why_cap;
    hwa_status (*verr)(hwa_ctx *ctx, hwa_status s, const char *fmt, va_list ap);
    void *(*malloc)(hwa_ctx *ctx, size_t size);
    void *(*calloc)(hwa_ctx *ctx, size_t n, size_t size);
    void *(*realloc_array)(hwa_ctx *ctx, void *old, size_t old_n, size_t new_n, size_t elem);
    void (*free)(hwa_ctx *ctx, void *p);
    hwa_buffer *(*host_buffer_new)(hwa_ctx *ctx, hwa_backend *be, void *base, size_t size,
                                   void (*free_fn)(hwa_buffer *b));
    void (*shape4)(const hwa_tensor *t, int64_t ne[4], int64_t st[4]);
    const char *(*op_name)(hwa_op op);
    int (*op_n_src)(hwa_op op);
    bool (*op_is_view)(hwa_op op);
    int64_t (*nelements)(const hwa_tensor *t);
    size_t (*block_bytes)(hwa_dtype t);
    const char *(*dtype_name)(hwa_dtype t);
    hwa_status (*spmm_check_rows)(hwa_ctx *ctx, const int32_t *row_ptr, const int32_t *col, int64_t M, int64_t K,
                                  int64_t nnz);
    bool (*is_contiguous)(const hwa_tensor *t);
} hwa_backend_host;

/* A module's table. */
typedef struct hwa_backend_module {
    uint32_t abi_version; /* HWA_BACKEND_MODULE_ABI of the module's build */
    uint32_t struct_size; /* sizeof(hwa_backend_module) of the module's build */
    uint64_t layout;      /* HWA__MODULE_LAYOUT of the module's build */
    const char *prefix;   /* the device specs it serves: "cuda" */
    /* How many devices it can open now; -1 with why (cap bytes) when none
     * can be used: no driver, no device. Thread-safe. */
    int (*device_count)(char *why, size_t cap);
    /* Makes device index on ctx, as a registry entry's init does; an error
     * is recorded on ctx naming the device and why. */
    hwa_status (*init)(hwa_ctx *ctx, int index, hwa_backend **out);
} hwa_backend_module;

typedef const hwa_backend_module *(*hwa_backend_module_entry_fn)(const hwa_backend_host *host);

/* ---- the core's side (backend_module.c) --------------------------------- */

/* The module for prefix ("cuda": libhwadapt_cuda.so, or the path in
 * $HWA_CUDA_MODULE), opened and checked at the first call and kept for the
 * process; NULL with why (cap bytes) when it is not there or refused, then
 * and at every later call. path (may be NULL) gets the file opened or
 * looked for. Thread-safe. */
const hwa_backend_module *hwa__backend_module_get(const char *prefix, char *path, size_t path_cap, char *why,
                                                  size_t why_cap);

/* The registry's init for a module's device ("cuda:1"): opens the module
 * and its device, or says why not (HWA_E_NOTFOUND naming the device: no
 * module built, a module that does not load, no driver, no device). */
hwa_status hwa__module_backend_init(hwa_ctx *ctx, const char *prefix, int index, hwa_backend **out);

/* ---- the module's side (backend_module/forward.c) --------------------- */

/* Checks the core's services h against the module's own build (ABI,
 * layout, the op table by name) and keeps them for the forwarders; false,
 * with why written into h->why, when they do not match. A module's entry
 * calls it first and returns NULL when it fails. */
bool hwa__module_host_set(const hwa_backend_host *h);

#endif
