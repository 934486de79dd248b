/* The backend registry, device spec strings, and storage for leaves. */
#include <string.h>

#include "core/internal.h"

static const hwa_backend_reg registry[] = {
    {"cpu", hwa__cpu_backend_init, hwa__cpu_backend_init_cores, "cpu:A-B (CPUs A to B alone)"},
    {"opencl", hwa__opencl_backend_init, NULL, NULL},
    {"pjrt", hwa__pjrt_backend_init, NULL, NULL},
    {"cuda", hwa__cuda_backend_init, NULL, NULL},
};
#define N_REG ((int)(sizeof registry / sizeof registry[0]))

int hwa_backend_reg_count(void) { return N_REG; }
const char *hwa_backend_reg_name(int i) { return (i >= 0 && i < N_REG) ? registry[i].prefix : NULL; }

bool hwa__backend_registered(const char *id) {
    const size_t n = strcspn(id, ":");
    for (int i = 0; i < N_REG; i++)
        if (strlen(registry[i].prefix) == n && !strncmp(registry[i].prefix, id, n)) return true;
    return false;
}

const char *hwa_device_kind_name(hwa_device_kind k) {
    switch (k) {
    case HWA_DEVICE_CPU: return "cpu";
    case HWA_DEVICE_GPU: return "gpu";
    case HWA_DEVICE_ACCEL: return "accel";
    }
    return "?";
}

static hwa_status unknown_spec(hwa_ctx *ctx, const char *spec, const char *why) {
    char known[256] = "";
    size_t n = 0;
    for (int i = 0; i < N_REG && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s%s%s", i ? ", " : "", registry[i].prefix,
                              registry[i].arg_form ? ", " : "", registry[i].arg_form ? registry[i].arg_form : "");
    return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s': %s (available: %s, auto)", spec, why, known);
}

static bool all_digits(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* Makes the device that spec names with entry r: by index ("opencl:1",
 * "cpu" is "cpu:0"), or through r's init_arg for anything else after the
 * colon ("cpu:0-3"). Sets be->spec. */
static hwa_backend *make(hwa_ctx *ctx, const hwa_backend_reg *r, const char *spec, const char *arg) {
    hwa_backend *be = NULL;
    if (arg && !all_digits(arg) && r->init_arg) return r->init_arg(ctx, spec, arg, &be) == HWA_OK ? be : NULL;
    long index = 0;
    if (arg) {
        index = all_digits(arg) ? strtol(arg, NULL, 10) : -1;
        if (index < 0 || index > 1024) {
            unknown_spec(ctx, spec, "the device index must be a small non-negative integer");
            return NULL;
        }
    }
    if (r->init(ctx, (int)index, &be) != HWA_OK) return NULL;
    snprintf(be->spec, sizeof be->spec, "%s:%ld", r->prefix, index);
    return be;
}

hwa_backend *hwa_backend_new(hwa_ctx *ctx, const char *spec) {
    if (!ctx || !spec) {
        hwa__err(ctx, HWA_E_MISUSE, "hwa_backend_new: NULL context or spec");
        return NULL;
    }
    /* "auto" takes the first registered device; the scheduler will choose by
     * measured speed once there is more than one kind. */
    const char *s = strcmp(spec, "auto") == 0 ? registry[0].prefix : spec;
    const char *colon = strchr(s, ':');
    size_t plen = colon ? (size_t)(colon - s) : strlen(s);
    for (int i = 0; i < N_REG; i++) {
        if (strlen(registry[i].prefix) != plen || strncmp(registry[i].prefix, s, plen) != 0) continue;
        /* a malformed limit is refused whatever it names, before a device opens */
        const char *bad = NULL;
        if (hwa__mem_limit_for("", &bad) == -2) {
            hwa__err(ctx, HWA_E_INVALID, "HWA_MEM_LIMIT: cannot read '%s' (want SPEC=SIZE[,SPEC=SIZE], SIZE like 64M)",
                     bad ? bad : "");
            return NULL;
        }
        hwa_backend *be = make(ctx, &registry[i], spec, colon ? colon + 1 : NULL);
        if (!be) return NULL;
        be->mem_cap = hwa__mem_limit_for(be->spec, NULL);
        be->mem_used = be->mem_peak = 0;
        return be;
    }
    unknown_spec(ctx, spec, "no such device kind");
    return NULL;
}

void hwa_backend_free(hwa_backend *be) {
    if (!be) return;
    /* Buffers may outlive their backend: they stop counting against it. */
    for (hwa_buffer *b = be->ctx->buffers; b; b = b->ctx_next)
        if (b->acct == be) b->acct = NULL;
    be->iface->free(be);
}

static int64_t parse_size(const char *s, const char *end) {
    char *e = NULL;
    if (s == end || *s < '0' || *s > '9') return -2;
    unsigned long long v = strtoull(s, &e, 10);
    int64_t mul = 1;
    if (e < end) {
        switch (*e) {
        case 'k': case 'K': mul = 1024; break;
        case 'm': case 'M': mul = 1024 * 1024; break;
        case 'g': case 'G': mul = 1024 * 1024 * 1024; break;
        default: return -2;
        }
        e++;
        if (e < end && (*e == 'i' || *e == 'B')) e++;
        if (e < end && *e == 'B') e++;
    }
    if (e != end || v > (unsigned long long)(INT64_MAX / mul)) return -2;
    return (int64_t)v * mul;
}

int64_t hwa__mem_limit_for(const char *spec, const char **bad) {
    const char *env = getenv("HWA_MEM_LIMIT");
    if (bad) *bad = NULL;
    if (!env || !*env) return -1;
    int64_t found = -1;
    for (const char *p = env; *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            if (bad) *bad = p;
            return -2;
        }
        /* "cpu" and "cpu:0" name the same device */
        char name[32];
        size_t n = (size_t)(eq - p);
        if (n == 0 || n >= sizeof name - 2) {
            if (bad) *bad = p;
            return -2;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (!strchr(name, ':')) strcat(name, ":0");
        const int64_t v = parse_size(eq + 1, end);
        if (v < 0) {
            if (bad) *bad = p;
            return -2;
        }
        if (!strcmp(name, spec)) found = v;
        p = comma ? comma + 1 : end;
    }
    return found;
}

hwa_status hwa__backend_buffer_alloc(hwa_backend *be, size_t size, hwa_buffer **out) {
    if (be->mem_cap >= 0 && ((uint64_t)size > (uint64_t)be->mem_cap ||
                             be->mem_used > be->mem_cap - (int64_t)size))
        return hwa__err(be->ctx, HWA_E_NOMEM,
                        "%s: %.1f MiB more would pass its memory cap of %.1f MiB (HWA_MEM_LIMIT; %.1f MiB in use)",
                        be->spec, (double)size / 1048576.0, (double)be->mem_cap / 1048576.0,
                        (double)be->mem_used / 1048576.0);
    hwa_status st = be->iface->buffer_alloc(be, size, out);
    if (st) return st;
    (*out)->acct = be;
    (*out)->acct_bytes = size;
    be->mem_used += (int64_t)size;
    if (be->mem_used > be->mem_peak) be->mem_peak = be->mem_used;
    hwa__ctx_track_buffer(be->ctx, *out);
    return HWA_OK;
}

void hwa__buffer_release(hwa_buffer *b) {
    if (b->acct) b->acct->mem_used -= (int64_t)b->acct_bytes;
    b->free_fn(b);
}

hwa_status hwa_backend_plan_kept(hwa_backend *be, const hwa_graph *g, int64_t *bytes) {
    if (!be || !g || !bytes) return hwa__err(NULL, HWA_E_MISUSE, "hwa_backend_plan_kept: NULL argument");
    *bytes = be->iface->plan_kept ? be->iface->plan_kept(be, g->nodes, g->n_nodes) : 0;
    return HWA_OK;
}

hwa_status hwa_backend_memory(const hwa_backend *be, int64_t *used, int64_t *peak) {
    if (!be) return hwa__err(NULL, HWA_E_MISUSE, "hwa_backend_memory: NULL backend");
    if (used) *used = be->mem_used;
    if (peak) *peak = be->mem_peak;
    return HWA_OK;
}

const char *hwa_backend_name(const hwa_backend *be) { return be ? be->iface->name : ""; }
hwa_device_kind hwa_backend_device_kind(const hwa_backend *be) { return be ? be->iface->kind : HWA_DEVICE_CPU; }

bool hwa_backend_supports(const hwa_backend *be, const hwa_tensor *node) {
    return be && node && (node->op == HWA_OP_NONE || hwa__op_is_view(node->op) || be->iface->supports_op(be, node));
}

const char *hwa__backend_unsupported_reason(const hwa_backend *be, const hwa_tensor *node) {
    if (!be || !node || hwa_backend_supports(be, node) || !be->iface->unsupported_reason) return NULL;
    return be->iface->unsupported_reason(be, node);
}

hwa_status hwa_backend_synchronize(hwa_backend *be) {
    if (!be) return hwa__err(NULL, HWA_E_MISUSE, "hwa_backend_synchronize: NULL backend");
    return be->iface->synchronize ? be->iface->synchronize(be) : HWA_OK;
}

hwa_status hwa_backend_set_threads(hwa_backend *be, int n) {
    if (!be || n < 0) return hwa__err(be ? be->ctx : NULL, HWA_E_MISUSE, "hwa_backend_set_threads: NULL backend or n < 0");
    return be->iface->set_threads ? be->iface->set_threads(be, n) : HWA_OK;
}

int hwa_backend_threads(const hwa_backend *be) {
    return be && be->iface->threads ? be->iface->threads(be) : 1;
}

hwa_status hwa_backend_set_matmul_precision(hwa_backend *be, hwa_matmul_precision p) {
    if (!be || (unsigned)p > HWA_MATMUL_PRECISION_TF32)
        return hwa__err(be ? be->ctx : NULL, HWA_E_MISUSE, "hwa_backend_set_matmul_precision: NULL backend or bad value");
    return be->iface->set_matmul_precision ? be->iface->set_matmul_precision(be, p) : HWA_OK;
}

const char *hwa_backend_kernel_name(const hwa_backend *be, const hwa_tensor *node) {
    const char *s = be && node && be->iface->kernel_name ? be->iface->kernel_name(be, node) : NULL;
    return s ? s : "";
}

static size_t aligned(size_t n) { return (n + HWA_ALIGN - 1) & ~(size_t)(HWA_ALIGN - 1); }

static bool needs_storage(const hwa_tensor *t) {
    return t->op == HWA_OP_NONE && !t->view_src && !t->buffer && !(t->flags & HWA_TF_GRAD);
}

hwa_status hwa_tensor_alloc(hwa_tensor *t, hwa_backend *be) {
    if (!t || !be) return hwa__err(t ? t->ctx : NULL, HWA_E_MISUSE, "hwa_tensor_alloc: NULL tensor or backend");
    if (!needs_storage(t))
        return hwa__err(t->ctx, HWA_E_MISUSE, "hwa_tensor_alloc: '%s' is not a leaf without data", t->name);
    hwa_buffer *b;
    hwa_status st = hwa__backend_buffer_alloc(be, aligned(hwa_tensor_nbytes(t)), &b);
    if (st) return st;
    hwa__tensor_bind(t, b, 0);
    return HWA_OK;
}

hwa_status hwa_ctx_alloc_leaves(hwa_ctx *ctx, hwa_backend *be) {
    if (!ctx || !be) return hwa__err(ctx, HWA_E_MISUSE, "hwa_ctx_alloc_leaves: NULL context or backend");
    size_t total = 0;
    for (hwa_tensor *t = ctx->tensors; t; t = t->ctx_next)
        if (needs_storage(t) && !hwa__add_size(total, aligned(hwa_tensor_nbytes(t)), &total))
            return hwa__err(ctx, HWA_E_OVERFLOW, "hwa_ctx_alloc_leaves: total size overflows");
    if (total == 0) return HWA_OK;
    hwa_buffer *b;
    hwa_status st = hwa__backend_buffer_alloc(be, total, &b);
    if (st) return st;
    size_t off = 0;
    for (hwa_tensor *t = ctx->tensors; t; t = t->ctx_next) {
        if (!needs_storage(t)) continue;
        hwa__tensor_bind(t, b, off);
        off += aligned(hwa_tensor_nbytes(t));
    }
    return b->memset0(b, 0, total);
}

/* Buffers in host memory: every backend whose memory the host addresses
 * uses these. */
hwa_status hwa__host_write(hwa_buffer *b, size_t off, const void *src, size_t n) {
    if (off > b->size || n > b->size - off) return hwa__err(NULL, HWA_E_RANGE, "buffer write past the end");
    if (n) memcpy((char *)b->base + off, src, n);
    return HWA_OK;
}

hwa_status hwa__host_read(hwa_buffer *b, size_t off, void *dst, size_t n) {
    if (off > b->size || n > b->size - off) return hwa__err(NULL, HWA_E_RANGE, "buffer read past the end");
    if (n) memcpy(dst, (char *)b->base + off, n);
    return HWA_OK;
}

hwa_status hwa__host_memset0(hwa_buffer *b, size_t off, size_t n) {
    if (off > b->size || n > b->size - off) return hwa__err(NULL, HWA_E_RANGE, "buffer clear past the end");
    if (n) memset((char *)b->base + off, 0, n);
    return HWA_OK;
}

hwa_buffer *hwa__host_buffer_new(hwa_ctx *ctx, hwa_backend *be, void *base, size_t size,
                                 void (*free_fn)(hwa_buffer *b)) {
    hwa_buffer *b = hwa__calloc(ctx, 1, sizeof *b);
    if (!b) return NULL;
    b->be = be;
    b->base = base;
    b->size = size;
    b->alloc = ctx->alloc;
    b->free_fn = free_fn;
    b->write = hwa__host_write;
    b->read = hwa__host_read;
    b->memset0 = hwa__host_memset0;
    return b;
}

/* Buffers around memory the caller owns: nothing to free but the record. */
static void foreign_free(hwa_buffer *b) { b->alloc.free(b->alloc.ud, b); }

hwa_status hwa_tensor_bind_host(hwa_tensor *t, hwa_backend *be, const void *data, size_t nbytes) {
    if (!t || !be || !data) return hwa__err(t ? t->ctx : NULL, HWA_E_MISUSE, "hwa_tensor_bind_host: NULL argument");
    hwa_ctx *ctx = t->ctx;
    if (!needs_storage(t))
        return hwa__err(ctx, HWA_E_MISUSE, "hwa_tensor_bind_host: '%s' is not a leaf without data", t->name);
    if (be->iface->kind != HWA_DEVICE_CPU)
        return hwa__err(ctx, HWA_E_UNSUPPORTED, "hwa_tensor_bind_host: backend %s cannot read host memory in place",
                        be->iface->name);
    if (nbytes != hwa_tensor_nbytes(t))
        return hwa__err(ctx, HWA_E_SHAPE, "hwa_tensor_bind_host: %zu bytes given, tensor '%s' needs %zu", nbytes,
                        t->name, hwa_tensor_nbytes(t));
    size_t align = hwa_dtype_is_quantized(t->dtype) ? 2 : hwa_dtype_block_bytes(t->dtype);
    if ((uintptr_t)data % align)
        return hwa__err(ctx, HWA_E_INVALID, "hwa_tensor_bind_host: data for '%s' is not %zu-byte aligned", t->name,
                        align);
    hwa_buffer *b = hwa__host_buffer_new(ctx, be, (void *)data, nbytes, foreign_free);
    if (!b) return HWA_E_NOMEM;
    hwa__ctx_track_buffer(ctx, b);
    hwa__tensor_bind(t, b, 0);
    return HWA_OK;
}
