/* Internal declarations shared by the library's modules. Not a published API. */
#ifndef HWADAPT_CORE_INTERNAL_H
#define HWADAPT_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hwadapt/hwadapt.h"
#include "core/checked.h"
#include "core/ops_list.h"

/* Internal invariants only: never on anything a caller or a file controls. */
#ifdef NDEBUG
#define HWA_ASSERT(cond) ((void)0)
#else
#define HWA_ASSERT(cond) \
    ((cond) ? (void)0 : hwa__assert_fail(#cond, __FILE__, __LINE__))
#endif
void hwa__assert_fail(const char *cond, const char *file, int line);

#define HWA_ALIGN 64
#define HWA_MAX_SRC 4
#define HWA_MAX_PARAMS 8

#if defined(__GNUC__)
#define HWA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HWA_PRINTF(a, b)
#endif

/* ---- errors ------------------------------------------------------------ */

/* Records status s with a formatted message on ctx (may be NULL) and on the
 * calling thread; returns s. */
hwa_status hwa__err(hwa_ctx *ctx, hwa_status s, const char *fmt, ...) HWA_PRINTF(3, 4);
/* hwa__err with the arguments in ap. */
hwa_status hwa__verr(hwa_ctx *ctx, hwa_status s, const char *fmt, va_list ap);

/* ---- ops --------------------------------------------------------------- */

typedef enum hwa_op {
#define HWA__OP_ENUM(name, str, nsrc, diff) HWA_OP_##name,
    HWA_OP_LIST(HWA__OP_ENUM)
#undef HWA__OP_ENUM
    HWA_OP_COUNT
} hwa_op;

const char *hwa__op_name(hwa_op op);
int hwa__op_n_src(hwa_op op);
bool hwa__op_is_view(hwa_op op); /* RESHAPE, PERMUTE, SLICE */

typedef struct hwa_op_params {
    int32_t i[HWA_MAX_PARAMS];
    int64_t l[2];
    float f[8]; /* optimizer updates use all eight */
} hwa_op_params;

/* ---- tensors ----------------------------------------------------------- */

enum {
    HWA_TF_PARAM = 1u << 0,    /* trainable parameter */
    HWA_TF_GRAD = 1u << 1,     /* gradient of a parameter: persistent, owned by a graph */
    HWA_TF_OUTPUT = 1u << 2,   /* graph output: kept alive to the end of the run */
    HWA_TF_INPLACE = 1u << 3   /* the op writes into view_src (gradient accumulation) */
};

typedef struct hwa_buffer hwa_buffer;

struct hwa_tensor {
    hwa_ctx *ctx;
    hwa_dtype dtype;
    int ndim;
    int64_t shape[HWA_MAX_DIMS];  /* outermost first; unused trailing entries are 1 */
    int64_t stride[HWA_MAX_DIMS]; /* in elements (in blocks' elements for quantized types) */

    hwa_op op;
    hwa_op_params p;
    hwa_tensor *src[HWA_MAX_SRC];
    uint32_t flags;

    /* Storage. A tensor either owns storage (buffer + buf_offs, data is the
     * host address or NULL) or is a view of view_src, the tensor that owns
     * it, at byte offset view_offs. view_src never points to another view. */
    hwa_tensor *view_src;
    size_t view_offs;
    hwa_buffer *buffer;
    size_t buf_offs;
    void *data;

    hwa_tensor *grad;      /* parameters: their gradient once a backward graph exists */
    hwa_tensor *bw_grad;   /* autograd scratch: d loss / d this tensor while building */
    bool needs_grad;       /* autograd scratch: depends on a parameter */
    uint32_t visit;        /* graph traversal mark */
    int32_t plan_id;       /* planner scratch */
    int32_t sched_id;      /* schedule scratch: node i as i, leaf j as -2 - j */
    uint64_t uid;          /* unique in the process, never reused (caches key on it, not the address) */
    /* Storage owners only: bumped whenever the data may have changed
     * (hwa__tensor_touch), so that caches of derived forms (a matmul
     * provider's packed weights) can tell a stale copy from a fresh one. */
    uint64_t version;
    hwa_tensor *ctx_next;  /* every tensor of a context, newest first */
    char name[HWA_MAX_NAME];
};

/* The tensor that owns t's storage (t itself when t is not a view). */
static inline hwa_tensor *hwa__storage(const hwa_tensor *t) {
    return t->view_src ? t->view_src : (hwa_tensor *)t;
}

/* Records that t's data (its storage owner's) has changed: set/fill, a
 * compute that writes it, a re-binding to other storage. */
static inline void hwa__tensor_touch(hwa_tensor *t) { hwa__storage(t)->version++; }

/* Host address of t's first element, or NULL. */
void *hwa__data(const hwa_tensor *t);

/* Shape and strides padded to 4 dims on the left (leading extents 1). */
void hwa__shape4(const hwa_tensor *t, int64_t ne[4], int64_t st[4]);

/* A dim index of t's un-padded shape (negative counts from the end) as an
 * index into hwa__shape4's padded shape; -1 when out of range. */
static inline int hwa__dim4(const hwa_tensor *t, int dim) {
    if (dim < 0) dim += t->ndim;
    if (dim < 0 || dim >= t->ndim) return -1;
    return dim + (4 - t->ndim);
}

/* Row-major contiguous strides for t's shape. */
void hwa__set_contiguous_strides(hwa_tensor *t);

/* A new tensor in ctx (no data, op NONE); NULL and HWA_E_NOMEM on failure. */
hwa_tensor *hwa__tensor_alloc(hwa_ctx *ctx, hwa_dtype t, int ndim, const int64_t *shape);

/* Formats "[3,4]". */
const char *hwa__shape_fmt(const hwa_tensor *t, char *buf, size_t cap);

/* Element access through f32, for reference kernels and slow paths. Plain
 * dtypes only (f32, f16, bf16, i8, i32). i is an element offset. */
static inline float hwa__load_f32(const void *base, hwa_dtype t, int64_t i) {
    switch (t) {
    case HWA_F32: return ((const float *)base)[i];
    case HWA_F16: return hwa_f16_to_f32(((const uint16_t *)base)[i]);
    case HWA_BF16: return hwa_bf16_to_f32(((const uint16_t *)base)[i]);
    case HWA_I8: return (float)((const int8_t *)base)[i];
    case HWA_I32: return (float)((const int32_t *)base)[i];
    default: return 0.0f;
    }
}

void hwa__store_f32_slow(void *base, hwa_dtype t, int64_t i, float v);
static inline void hwa__store_f32(void *base, hwa_dtype t, int64_t i, float v) {
    if (t == HWA_F32) ((float *)base)[i] = v;
    else hwa__store_f32_slow(base, t, i, v);
}

/* ---- block formats ------------------------------------------------------- */

/* Q4_K's 6-bit scale and min of sub-block j (0..7) from its 12 packed bytes:
 * sub-blocks 0-3 in the low six bits of bytes 0-3 (scales) and 4-7 (mins);
 * 4-7 with their low four bits in bytes 8-11 (scale low nibble, min high)
 * and their top two in the top bits of bytes 0-3 (scales) and 4-7 (mins). */
static inline void hwa__q4k_scale_min(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* ---- contexts ---------------------------------------------------------- */

struct hwa_ctx {
    hwa_allocator alloc;
    hwa_status last_status;
    char errmsg[512];
    uint64_t rng;
    uint32_t visit_gen;
    hwa_tensor *tensors;
    struct hwa_graph *graphs;
    hwa_buffer *buffers;
};

void *hwa__malloc(hwa_ctx *ctx, size_t size);            /* records HWA_E_NOMEM on failure */
void *hwa__calloc(hwa_ctx *ctx, size_t n, size_t size);  /* zeroed, overflow-checked */
void *hwa__realloc_array(hwa_ctx *ctx, void *old, size_t old_n, size_t new_n, size_t elem);
void hwa__free(hwa_ctx *ctx, void *p);
/* Scratch that is kept and reused: *buf holds at least size bytes after the
 * call (reallocated, contents not kept, when *cap is smaller). NULL (and
 * HWA_E_NOMEM recorded, *buf and *cap cleared) when out of memory. */
void *hwa__scratch_grow(hwa_ctx *ctx, void **buf, size_t *cap, size_t size);
uint64_t hwa__rng_next(uint64_t *state);

/* ---- builders (ops.c) -------------------------------------------------- */

/* Creates a node of op with srcs and params; when shape is non-NULL it is the
 * requested result shape (ops whose shape is not implied by their inputs).
 * Runs the op's shape rule; NULL with a recorded message when it fails. */
hwa_tensor *hwa__op_new(hwa_ctx *ctx, hwa_op op, hwa_tensor *const *srcs,
                        const hwa_op_params *p, hwa_dtype dtype, int ndim, const int64_t *shape);

/* Internal builders used by autograd. */
hwa_tensor *hwa__fill(hwa_ctx *ctx, hwa_dtype t, int ndim, const int64_t *shape, float value);
hwa_tensor *hwa__repeat(hwa_ctx *ctx, hwa_tensor *a, const hwa_tensor *like);
hwa_tensor *hwa__sum_to(hwa_ctx *ctx, hwa_tensor *a, const hwa_tensor *like);

/* ---- shape rules and backward rules (the op table's functions) --------- */

#define HWA__DECL_INFER(name, str, nsrc, diff) hwa_status hwa__infer_##name(hwa_ctx *ctx, hwa_tensor *dst);
HWA_OP_LIST(HWA__DECL_INFER)
#undef HWA__DECL_INFER

/* Builds the gradients of node's inputs from g = d loss / d node; sets
 * grads[i] (NULL when input i gets none). */
typedef hwa_status (*hwa__back_fn)(hwa_ctx *ctx, hwa_tensor *node, hwa_tensor *g, hwa_tensor **grads);
hwa__back_fn hwa__op_backward(hwa_op op);

/* ---- buffers and backends ---------------------------------------------- */

struct hwa_buffer {
    hwa_backend *be;          /* may be freed before the buffer: do not call into it */
    void *base;               /* host address or NULL */
    size_t size;
    void (*free_fn)(hwa_buffer *b);
    hwa_status (*write)(hwa_buffer *b, size_t off, const void *src, size_t n);
    hwa_status (*read)(hwa_buffer *b, size_t off, void *dst, size_t n);
    hwa_status (*memset0)(hwa_buffer *b, size_t off, size_t n);
    void *impl;
    hwa_allocator alloc;
    hwa_buffer *ctx_next;
    /* The backend whose memory cap counts this buffer (hwa__backend_buffer_
     * alloc), cleared when that backend is freed first; and the bytes. */
    hwa_backend *acct;
    size_t acct_bytes;
};

/* Read, write and clear for buffers whose memory the host addresses. */
hwa_status hwa__host_write(hwa_buffer *b, size_t off, const void *src, size_t n);
hwa_status hwa__host_read(hwa_buffer *b, size_t off, void *dst, size_t n);
hwa_status hwa__host_memset0(hwa_buffer *b, size_t off, size_t n);
/* A buffer record over host memory at base (freed by free_fn); NULL and
 * HWA_E_NOMEM recorded on ctx when the record cannot be allocated. */
hwa_buffer *hwa__host_buffer_new(hwa_ctx *ctx, hwa_backend *be, void *base, size_t size,
                                 void (*free_fn)(hwa_buffer *b));

/* The backend vtable. Slots are appended at the end only; optional slots may
 * be NULL and the core supplies the default. */
#define HWA_BACKEND_API_VERSION 1
typedef struct hwa_backend_iface {
    uint32_t api_version;
    const char *name;
    hwa_device_kind kind;
    bool (*supports_op)(const hwa_backend *be, const hwa_tensor *node);
    /* A buffer of size bytes (aligned to HWA_ALIGN); fills *out. */
    hwa_status (*buffer_alloc)(hwa_backend *be, size_t size, hwa_buffer **out);
    /* Computes nodes[0..n-1] in order. */
    hwa_status (*compute)(hwa_backend *be, hwa_tensor *const *nodes, int n);
    hwa_status (*synchronize)(hwa_backend *be); /* optional */
    void (*free)(hwa_backend *be);
    /* optional: thread count (0 = default) and the count in use */
    hwa_status (*set_threads)(hwa_backend *be, int n);
    int (*threads)(const hwa_backend *be);
    /* optional: what f32 matmuls may compute in */
    hwa_status (*set_matmul_precision)(hwa_backend *be, hwa_matmul_precision p);
    /* optional: the kernel that ran node in the last compute, or NULL */
    const char *(*kernel_name)(const hwa_backend *be, const hwa_tensor *node);
    /* optional: why supports_op is false for node (owned by be, valid until
     * its next call), or NULL when it is supported or the backend does not
     * say */
    const char *(*unsupported_reason)(const hwa_backend *be, const hwa_tensor *node);
    /* optional: the bytes the backend's kernels would keep beside the
     * graph's buffers for nodes[0..n) (weights copied into a library's own
     * layout), for memory plans; NULL: none */
    int64_t (*plan_kept)(hwa_backend *be, hwa_tensor *const *nodes, int n);
    /* optional: runs nodes[begin..end) of the graph nodes[0..n_all), the
     * earlier ones having run, the later ones to run in a later call: as
     * compute on the whole list would run them, so a kernel that would skip
     * writing an intermediate (a fused one) still writes it when a later
     * node reads it, and fuses no node at or past end. NULL: the graph can
     * only be run whole on this backend. */
    hwa_status (*compute_part)(hwa_backend *be, hwa_tensor *const *nodes, int n_all, int begin, int end);
} hwa_backend_iface;

struct hwa_backend {
    const hwa_backend_iface *iface;
    hwa_ctx *ctx;
    char spec[32];
    void *impl;
    /* A cap on the bytes this backend may hold in buffers (HWA_MEM_LIMIT),
     * -1 for none, and the bytes it holds now. */
    int64_t mem_cap;
    int64_t mem_used;
    int64_t mem_peak; /* the most mem_used has been */
};

/* Allocates a buffer through be's vtable, refusing (HWA_E_NOMEM, naming the
 * device and the cap) one that would take be past its memory cap, and
 * tracks it in be's context. Every buffer of a backend is made here. */
hwa_status hwa__backend_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out);
/* Frees b and returns its bytes to the cap of the backend that made it. */
void hwa__buffer_release(hwa_buffer *b);
/* The cap HWA_MEM_LIMIT sets for device spec ("cpu:0", "opencl:0"; "cpu"
 * and "opencl" name index 0; a core set is named as it is normalised,
 * "cpu:0-3", and "cpu" does not cap it): "SPEC=SIZE[,SPEC=SIZE...]" with SIZE in bytes
 * or with a K, M or G suffix (powers of 1024). -1 when none is set, and
 * -2 with *bad pointing at the entry when the variable is malformed. */
int64_t hwa__mem_limit_for(const char *spec, const char **bad);

/* The registry's entries. init makes device `index` ("opencl:1"); init_arg
 * (optional, NULL: none) makes the device a spec names by anything else after
 * the colon ("cpu:0-3", a core set), and writes its normalised spec into
 * (*out)->spec. */
typedef struct hwa_backend_reg {
    const char *prefix;
    hwa_status (*init)(hwa_ctx *ctx, int index, hwa_backend **out);
    hwa_status (*init_arg)(hwa_ctx *ctx, const char *spec, const char *arg, hwa_backend **out);
    const char *arg_form; /* how init_arg's specs look, for error messages; NULL with init_arg */
} hwa_backend_reg;

hwa_status hwa__cpu_backend_init(hwa_ctx *ctx, int index, hwa_backend **out);
hwa_status hwa__cpu_backend_init_cores(hwa_ctx *ctx, const char *spec, const char *arg, hwa_backend **out);
hwa_status hwa__opencl_backend_init(hwa_ctx *ctx, int index, hwa_backend **out);
/* backends/pjrt: a PJRT plugin's device; says why when the build or the
 * machine has none. */
hwa_status hwa__pjrt_backend_init(hwa_ctx *ctx, int index, hwa_backend **out);
/* backends/backend_module.c: a CUDA device, from the loadable module
 * libhwadapt_cuda.so; says why when the build or the machine has none. */
hwa_status hwa__cuda_backend_init(hwa_ctx *ctx, int index, hwa_backend **out);
/* For the passport: whether the backend module for prefix ("cuda") loads
 * (path: the file opened or looked for), and then how many devices it can
 * open (*n_devices, 0 with why when none); false with why when it does not
 * load. Thread-safe. */
bool hwa__backend_module_probe(const char *prefix, char *path, size_t path_cap, int *n_devices, char *why,
                               size_t why_cap);

/* Why be cannot compute node: the backend's reason, or NULL when it can or
 * does not say. */
const char *hwa__backend_unsupported_reason(const hwa_backend *be, const hwa_tensor *node);

void hwa__graph_release(hwa_graph *g); /* graph.c: frees a graph's own memory */
/* Frees the storage hwa_graph_alloc gave g (its arena and its gradients'
 * buffer), unbinding every tensor bound to it: a placement then gives the
 * nodes and the gradients storage device by device. */
void hwa__graph_free_storage(hwa_graph *g);
/* Whether this build has a backend for device id ("cpu", "opencl:0"; the
 * part before ':' names the backend). */
bool hwa__backend_registered(const char *id);

/* The memory planner (planner.c): fills g->plan_offs for g->nodes. Inputs
 * that are not among g->nodes (leaves, or nodes another device computes)
 * take no arena space. keep (NULL, or one flag per node) marks nodes that
 * must live to the end of the run like outputs: another device reads them. */
hwa_status hwa__plan(hwa_graph *g, hwa_plan_mode mode, hwa_plan_stats *stats);
/* hwa_graph_compute without waiting for the device: the work is queued
 * (hwa_backend_synchronize waits for it). */
hwa_status hwa__graph_compute_nowait(hwa_graph *g, hwa_backend *be);
/* Runs nodes [begin, end) of g on be and waits for them (allocating g first
 * as hwa_graph_compute does): a graph run in parts, in order, as one run is,
 * with the caller's work between the parts (gradients sent while the rest
 * of the backward pass runs). HWA_E_UNSUPPORTED when be cannot run a graph
 * in parts (no compute_part slot). */
hwa_status hwa__graph_compute_range(hwa_graph *g, hwa_backend *be, int begin, int end);
bool hwa__backend_runs_parts(const hwa_backend *be);
hwa_status hwa__plan_ex(hwa_graph *g, hwa_plan_mode mode, const bool *keep, hwa_plan_stats *stats);

/* Registers a buffer with its context so the context frees it; the second
 * unlinks and frees one early. */
void hwa__ctx_track_buffer(hwa_ctx *ctx, hwa_buffer *b);
void hwa__ctx_free_buffer(hwa_ctx *ctx, hwa_buffer *b);
/* Unlinks b from ctx's list without freeing it: its new owner frees it
 * (hwa__buffer_release), and a hwa_ctx_release cannot. */
void hwa__ctx_untrack_buffer(hwa_ctx *ctx, hwa_buffer *b);
/* Binds t (not a view) to buffer b at byte offset off. */
void hwa__tensor_bind(hwa_tensor *t, hwa_buffer *b, size_t off);

/* ---- graphs ------------------------------------------------------------ */

struct hwa_graph {
    hwa_ctx *ctx;
    hwa_tensor **nodes;   /* ops in execution order */
    int n_nodes, cap_nodes;
    hwa_tensor **leaves;  /* op NONE tensors the nodes read */
    int n_leaves, cap_leaves;
    hwa_tensor **params;  /* parameters with gradients */
    int n_params, cap_params;
    bool has_backward;
    hwa_buffer *arena;
    hwa_buffer *persist;
    hwa_backend *alloc_be;
    size_t *plan_offs;    /* per node: arena offset, or SIZE_MAX when it owns no arena storage */
    int plan_n;           /* nodes the plan covers */
    struct hwa_graph *ctx_next;
};

#endif
