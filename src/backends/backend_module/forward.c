/* The core's internal functions, as a backend module's code calls them,
 * forwarded to the services the core handed the module
 * (backends/backend_module.h). Compiled into each module, never into
 * libhwadapt: the module's code is written as the core's backends are
 * (hwa__err, hwa__calloc, ...) and links nothing of the library. The
 * module's entry calls hwa__module_host_set before anything else. */
#include <stdio.h>
#include <string.h>

#include "backends/backend_module.h"
#include "backends/cpu/ref/ref.h"

static const hwa_backend_host *host;

bool hwa__module_host_set(const hwa_backend_host *h) {
    if (!h || h->abi_version != HWA_BACKEND_MODULE_ABI || h->struct_size < sizeof(hwa_backend_host)) return false;
    if (h->layout != HWA__MODULE_LAYOUT) {
        snprintf(h->why, h->why_cap, "the module's layout tag %llx is not the library's %llx",
                 (unsigned long long)HWA__MODULE_LAYOUT, (unsigned long long)h->layout);
        return false;
    }
    /* the op table by name: an op renumbered would run the wrong kernel */
    for (int i = 0; i < HWA_OP_COUNT; i++) {
        static const char *const mine[] = {
#define HWA__FWD_OP_NAME(name, str, nsrc, diff) str,
            HWA_OP_LIST(HWA__FWD_OP_NAME)
#undef HWA__FWD_OP_NAME
        };
        const char *theirs = h->op_name((hwa_op)i);
        if (!theirs || strcmp(theirs, mine[i])) {
            snprintf(h->why, h->why_cap, "op %d is '%s' in the module and '%s' in the library", i, mine[i],
                     theirs ? theirs : "?");
            return false;
        }
    }
    host = h;
    return true;
}

hwa_status hwa__verr(hwa_ctx *ctx, hwa_status s, const char *fmt, va_list ap) { return host->verr(ctx, s, fmt, ap); }

hwa_status hwa__err(hwa_ctx *ctx, hwa_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    host->verr(ctx, s, fmt, ap);
    va_end(ap);
    return s;
}

void *hwa__malloc(hwa_ctx *ctx, size_t size) { return host->malloc(ctx, size); }
void *hwa__calloc(hwa_ctx *ctx, size_t n, size_t size) { return host->calloc(ctx, n, size); }
void *hwa__realloc_array(hwa_ctx *ctx, void *old, size_t old_n, size_t new_n, size_t elem) {
    return host->realloc_array(ctx, old, old_n, new_n, elem);
}
void hwa__free(hwa_ctx *ctx, void *p) { host->free(ctx, p); }
hwa_buffer *hwa__host_buffer_new(hwa_ctx *ctx, hwa_backend *be, void *base, size_t size,
                                 void (*free_fn)(hwa_buffer *b)) {
    return host->host_buffer_new(ctx, be, base, size, free_fn);
}
void hwa__shape4(const hwa_tensor *t, int64_t ne[4], int64_t st[4]) { host->shape4(t, ne, st); }
const char *hwa__op_name(hwa_op op) { return host->op_name(op); }
int hwa__op_n_src(hwa_op op) { return host->op_n_src(op); }
bool hwa__op_is_view(hwa_op op) { return host->op_is_view(op); }
int64_t hwa_tensor_nelements(const hwa_tensor *t) { return host->nelements(t); }
size_t hwa_dtype_block_bytes(hwa_dtype t) { return host->block_bytes(t); }
const char *hwa_dtype_name(hwa_dtype t) { return host->dtype_name(t); }
hwa_status hwa__spmm_check_rows(hwa_ctx *ctx, const int32_t *rp, const int32_t *col, int64_t N, int64_t K,
                                int64_t nnz) {
    return host->spmm_check_rows(ctx, rp, col, N, K, nnz);
}
bool hwa_tensor_is_contiguous(const hwa_tensor *t) { return host->is_contiguous(t); }
