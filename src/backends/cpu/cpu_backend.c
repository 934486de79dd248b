/* The CPU backend: host buffers and the op dispatch table. Today every op
 * runs its scalar reference kernel; fast kernels plug in per op and ISA. */
#include <string.h>

#include "backends/cpu/ref/ref.h"
#include "core/internal.h"

typedef hwa_status (*kernel_fn)(hwa_tensor *dst);

static const kernel_fn ref_kernels[HWA_OP_COUNT] = {
#define HWA__REF_ENTRY(name, str, nsrc, diff) [HWA_OP_##name] = hwa__ref_##name,
    HWA_OP_LIST(HWA__REF_ENTRY)
#undef HWA__REF_ENTRY
};

/* ---- buffers ----------------------------------------------------------- */

static void host_buffer_free(hwa_buffer *b) {
    hwa_allocator a = b->alloc;
    a.free(a.ud, b->base);
    a.free(a.ud, b);
}

static hwa_status cpu_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out) {
    hwa_ctx *ctx = be->ctx;
    hwa_buffer *b = hwa__calloc(ctx, 1, sizeof *b);
    if (!b) return HWA_E_NOMEM;
    b->base = ctx->alloc.alloc(ctx->alloc.ud, size ? size : HWA_ALIGN, HWA_ALIGN);
    if (!b->base) {
        hwa__free(ctx, b);
        return hwa__err(ctx, HWA_E_NOMEM, "cpu: out of memory allocating a buffer of %zu bytes", size);
    }
    b->be = be;
    b->size = size;
    b->alloc = ctx->alloc;
    b->free_fn = host_buffer_free;
    b->write = hwa__host_write;
    b->read = hwa__host_read;
    b->memset0 = hwa__host_memset0;
    *out = b;
    return HWA_OK;
}

/* ---- compute ----------------------------------------------------------- */

static bool cpu_supports_op(const hwa_backend *be, const hwa_tensor *node) {
    return (unsigned)node->op < HWA_OP_COUNT && ref_kernels[node->op] != NULL;
}

static hwa_status cpu_compute(hwa_backend *be, hwa_tensor *const *nodes, int n) {
    for (int i = 0; i < n; i++) {
        hwa_tensor *t = nodes[i];
        if (t->op == HWA_OP_NONE || hwa__op_is_view(t->op)) continue;
        if (!hwa__data(t))
            return hwa__err(be->ctx, HWA_E_MISUSE, "cpu: node %d (%s) has no storage", i, hwa__op_name(t->op));
        hwa_status st = ref_kernels[t->op](t);
        if (st) return st;
    }
    return HWA_OK;
}

static void cpu_free(hwa_backend *be) { hwa__free(be->ctx, be); }

static const hwa_backend_iface cpu_iface = {
    .api_version = HWA_BACKEND_API_VERSION,
    .name = "cpu",
    .kind = HWA_DEVICE_CPU,
    .supports_op = cpu_supports_op,
    .buffer_alloc = cpu_buffer_alloc,
    .compute = cpu_compute,
    .synchronize = NULL,
    .free = cpu_free,
};

hwa_status hwa__cpu_backend_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    if (index != 0) return hwa__err(ctx, HWA_E_NOTFOUND, "device 'cpu:%d': there is one CPU device, cpu:0", index);
    hwa_backend *be = hwa__calloc(ctx, 1, sizeof *be);
    if (!be) return HWA_E_NOMEM;
    be->iface = &cpu_iface;
    be->ctx = ctx;
    *out = be;
    return HWA_OK;
}
