/* Contexts, the allocator, and tensor metadata, data access and filling. */
#include <errno.h>
#include <string.h>

#include "core/internal.h"

/* ---- allocator --------------------------------------------------------- */

static void *default_alloc(void *ud, size_t size, size_t align) {
    (void)ud;
    if (align < sizeof(void *)) align = sizeof(void *);
    size_t rounded;
    if (!hwa__align_up(size ? size : 1, align, &rounded)) return NULL;
    return aligned_alloc(align, rounded);
}

static void default_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

void *hwa__malloc(hwa_ctx *ctx, size_t size) {
    void *p = ctx->alloc.alloc(ctx->alloc.ud, size ? size : 1, HWA_ALIGN);
    if (!p) hwa__err(ctx, HWA_E_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *hwa__calloc(hwa_ctx *ctx, size_t n, size_t size) {
    size_t total;
    if (!hwa__mul_size(n, size, &total)) {
        hwa__err(ctx, HWA_E_OVERFLOW, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = hwa__malloc(ctx, total);
    if (p) memset(p, 0, total);
    return p;
}

void *hwa__realloc_array(hwa_ctx *ctx, void *old, size_t old_n, size_t new_n, size_t elem) {
    void *p = hwa__calloc(ctx, new_n, elem);
    if (!p) return NULL;
    if (old && old_n) memcpy(p, old, (old_n < new_n ? old_n : new_n) * elem);
    hwa__free(ctx, old);
    return p;
}

void hwa__free(hwa_ctx *ctx, void *p) {
    if (p) ctx->alloc.free(ctx->alloc.ud, p);
}

void *hwa__scratch_grow(hwa_ctx *ctx, void **buf, size_t *cap, size_t size) {
    if (*buf && size <= *cap) return *buf;
    hwa__free(ctx, *buf);
    *buf = hwa__malloc(ctx, size);
    *cap = *buf ? size : 0;
    return *buf;
}

uint64_t hwa__rng_next(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- contexts ---------------------------------------------------------- */

hwa_ctx *hwa_ctx_new(const hwa_ctx_params *params) {
    hwa_allocator a = {default_alloc, default_free, NULL};
    if (params && params->allocator) {
        if (!params->allocator->alloc || !params->allocator->free) {
            hwa__err(NULL, HWA_E_MISUSE, "hwa_ctx_new: the allocator needs both alloc and free");
            return NULL;
        }
        a = *params->allocator;
    }
    hwa_ctx *ctx = a.alloc(a.ud, sizeof *ctx, HWA_ALIGN);
    if (!ctx) {
        hwa__err(NULL, HWA_E_NOMEM, "hwa_ctx_new: out of memory");
        return NULL;
    }
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = a;
    ctx->rng = params ? params->seed : 0;
    return ctx;
}

void hwa_ctx_free(hwa_ctx *ctx) {
    if (!ctx) return;
    for (hwa_graph *g = ctx->graphs, *next; g; g = next) {
        next = g->ctx_next;
        hwa__graph_release(g);
    }
    for (hwa_buffer *b = ctx->buffers, *next; b; b = next) {
        next = b->ctx_next;
        hwa__buffer_release(b);
    }
    for (hwa_tensor *t = ctx->tensors, *next; t; t = next) {
        next = t->ctx_next;
        hwa__free(ctx, t);
    }
    hwa_allocator a = ctx->alloc;
    a.free(a.ud, ctx);
}

hwa_ctx_mark hwa_ctx_mark_get(const hwa_ctx *ctx) {
    hwa_ctx_mark m = {NULL, NULL, NULL};
    if (ctx) {
        m.t = ctx->tensors;
        m.g = ctx->graphs;
        m.b = ctx->buffers;
    }
    return m;
}

void hwa_ctx_release(hwa_ctx *ctx, hwa_ctx_mark mark) {
    if (!ctx) return;
    /* Each list is newest first, so everything before the marked head is
     * newer than the mark. */
    while (ctx->graphs && (void *)ctx->graphs != mark.g) {
        hwa_graph *g = ctx->graphs;
        ctx->graphs = g->ctx_next;
        hwa__graph_release(g);
    }
    while (ctx->buffers && (void *)ctx->buffers != mark.b) {
        hwa_buffer *b = ctx->buffers;
        ctx->buffers = b->ctx_next;
        hwa__buffer_release(b);
    }
    while (ctx->tensors && (void *)ctx->tensors != mark.t) {
        hwa_tensor *t = ctx->tensors;
        ctx->tensors = t->ctx_next;
        hwa__free(ctx, t);
    }
}

void hwa__ctx_track_buffer(hwa_ctx *ctx, hwa_buffer *b) {
    b->ctx_next = ctx->buffers;
    ctx->buffers = b;
}

void hwa__ctx_untrack_buffer(hwa_ctx *ctx, hwa_buffer *b) {
    for (hwa_buffer **pp = &ctx->buffers; *pp; pp = &(*pp)->ctx_next) {
        if (*pp == b) {
            *pp = b->ctx_next;
            b->ctx_next = NULL;
            return;
        }
    }
}

void hwa__ctx_free_buffer(hwa_ctx *ctx, hwa_buffer *b) {
    if (!b) return;
    for (hwa_buffer **pp = &ctx->buffers; *pp; pp = &(*pp)->ctx_next) {
        if (*pp == b) {
            *pp = b->ctx_next;
            break;
        }
    }
    hwa__buffer_release(b);
}

/* ---- tensors ----------------------------------------------------------- */

const char *hwa__shape_fmt(const hwa_tensor *t, char *buf, size_t cap) {
    size_t n = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    if (!t) {
        snprintf(buf, cap, "(null)");
        return buf;
    }
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "[");
    for (int d = 0; d < t->ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? "," : "", (long long)t->shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

char *hwa_tensor_shape_str(const hwa_tensor *t, char *buf, size_t cap) {
    hwa__shape_fmt(t, buf, cap);
    return buf;
}

void hwa__set_contiguous_strides(hwa_tensor *t) {
    int64_t s = 1;
    for (int d = HWA_MAX_DIMS - 1; d >= 0; d--) {
        if (d >= t->ndim) {
            t->stride[d] = 1;
            continue;
        }
        t->stride[d] = s;
        s *= t->shape[d];
    }
}

void hwa__shape4(const hwa_tensor *t, int64_t ne[4], int64_t st[4]) {
    int pad = HWA_MAX_DIMS - t->ndim;
    for (int d = 0; d < HWA_MAX_DIMS; d++) {
        if (d < pad) {
            ne[d] = 1;
            st[d] = 0;
        } else {
            ne[d] = t->shape[d - pad];
            st[d] = t->stride[d - pad];
        }
    }
}

hwa_tensor *hwa__tensor_alloc(hwa_ctx *ctx, hwa_dtype type, int ndim, const int64_t *shape) {
    hwa_tensor *t = hwa__calloc(ctx, 1, sizeof *t);
    if (!t) return NULL;
    t->ctx = ctx;
    t->dtype = type;
    t->ndim = ndim;
    for (int d = 0; d < HWA_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    hwa__set_contiguous_strides(t);
    t->op = HWA_OP_NONE;
    t->plan_id = -1;
    static _Atomic uint64_t next_uid = 1;
    t->uid = next_uid++;
    t->ctx_next = ctx->tensors;
    ctx->tensors = t;
    return t;
}

/* Checks a requested shape: extents >= 1, the element count and byte size
 * representable, the last extent a whole number of blocks. */
static hwa_status check_shape(hwa_ctx *ctx, const char *what, hwa_dtype type, int ndim, const int64_t *shape) {
    if ((unsigned)type >= HWA_DTYPE_COUNT) return hwa__err(ctx, HWA_E_DTYPE, "%s: invalid dtype %d", what, (int)type);
    if (ndim < 1 || ndim > HWA_MAX_DIMS)
        return hwa__err(ctx, HWA_E_SHAPE, "%s: %d dimensions (1 to %d supported)", what, ndim, HWA_MAX_DIMS);
    if (!shape) return hwa__err(ctx, HWA_E_MISUSE, "%s: NULL shape", what);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return hwa__err(ctx, HWA_E_SHAPE, "%s: dimension %d has extent %lld (must be >= 1)", what, d,
                            (long long)shape[d]);
        if (!hwa__mul_i64(n, shape[d], &n))
            return hwa__err(ctx, HWA_E_OVERFLOW, "%s: element count overflows at dimension %d", what, d);
    }
    if (shape[ndim - 1] % hwa_dtype_block_size(type))
        return hwa__err(ctx, HWA_E_SHAPE, "%s: last extent %lld is not a multiple of %s's block of %lld", what,
                        (long long)shape[ndim - 1], hwa_dtype_name(type), (long long)hwa_dtype_block_size(type));
    size_t bytes;
    if (hwa_dtype_row_bytes(type, n, &bytes) != HWA_OK)
        return hwa__err(ctx, HWA_E_OVERFLOW, "%s: %lld elements of %s overflow a memory size", what, (long long)n,
                        hwa_dtype_name(type));
    return HWA_OK;
}

hwa_tensor *hwa_tensor_new(hwa_ctx *ctx, hwa_dtype type, int ndim, const int64_t *shape) {
    if (!ctx) {
        hwa__err(NULL, HWA_E_MISUSE, "hwa_tensor_new: NULL context");
        return NULL;
    }
    if (check_shape(ctx, "hwa_tensor_new", type, ndim, shape) != HWA_OK) return NULL;
    return hwa__tensor_alloc(ctx, type, ndim, shape);
}

hwa_tensor *hwa_tensor_new_1d(hwa_ctx *ctx, hwa_dtype t, int64_t n0) {
    return hwa_tensor_new(ctx, t, 1, (int64_t[]){n0});
}
hwa_tensor *hwa_tensor_new_2d(hwa_ctx *ctx, hwa_dtype t, int64_t n0, int64_t n1) {
    return hwa_tensor_new(ctx, t, 2, (int64_t[]){n0, n1});
}
hwa_tensor *hwa_tensor_new_3d(hwa_ctx *ctx, hwa_dtype t, int64_t n0, int64_t n1, int64_t n2) {
    return hwa_tensor_new(ctx, t, 3, (int64_t[]){n0, n1, n2});
}
hwa_tensor *hwa_tensor_new_4d(hwa_ctx *ctx, hwa_dtype t, int64_t n0, int64_t n1, int64_t n2, int64_t n3) {
    return hwa_tensor_new(ctx, t, 4, (int64_t[]){n0, n1, n2, n3});
}

hwa_dtype hwa_tensor_dtype(const hwa_tensor *t) { return t ? t->dtype : HWA_DTYPE_COUNT; }
int hwa_tensor_ndim(const hwa_tensor *t) { return t ? t->ndim : 0; }

int64_t hwa_tensor_dim(const hwa_tensor *t, int d) {
    if (!t) return 0;
    if (d < 0) d += t->ndim;
    return (d < 0 || d >= t->ndim) ? 1 : t->shape[d];
}

int64_t hwa_tensor_stride(const hwa_tensor *t, int d) {
    if (!t) return 0;
    if (d < 0) d += t->ndim;
    return (d < 0 || d >= t->ndim) ? 1 : t->stride[d];
}

int64_t hwa_tensor_nelements(const hwa_tensor *t) {
    if (!t) return 0;
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

size_t hwa_tensor_nbytes(const hwa_tensor *t) {
    size_t n = 0;
    if (t && hwa_dtype_row_bytes(t->dtype, hwa_tensor_nelements(t), &n) != HWA_OK) return 0;
    return n;
}

bool hwa_tensor_is_contiguous(const hwa_tensor *t) {
    if (!t) return false;
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != s) return false;
        s *= t->shape[d];
    }
    return true;
}

hwa_tensor *hwa_tensor_set_name(hwa_tensor *t, const char *name) {
    if (t && name) snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

const char *hwa_tensor_name(const hwa_tensor *t) { return t ? t->name : ""; }

hwa_status hwa_tensor_set_param(hwa_tensor *t) {
    if (!t) return hwa__err(NULL, HWA_E_MISUSE, "hwa_tensor_set_param: NULL tensor");
    if (t->op != HWA_OP_NONE || (t->flags & HWA_TF_GRAD))
        return hwa__err(t->ctx, HWA_E_MISUSE, "hwa_tensor_set_param: '%s' is not a leaf tensor (op %s)", t->name,
                        hwa__op_name(t->op));
    if (!hwa_dtype_is_float(t->dtype))
        return hwa__err(t->ctx, HWA_E_DTYPE, "hwa_tensor_set_param: '%s' has dtype %s; parameters must be float",
                        t->name, hwa_dtype_name(t->dtype));
    t->flags |= HWA_TF_PARAM;
    return HWA_OK;
}

bool hwa_tensor_is_param(const hwa_tensor *t) { return t && (t->flags & HWA_TF_PARAM); }
hwa_tensor *hwa_tensor_grad(const hwa_tensor *t) { return t ? t->grad : NULL; }

void *hwa__data(const hwa_tensor *t) {
    const hwa_tensor *s = hwa__storage(t);
    if (!s->data) return NULL;
    return (char *)s->data + (t->view_src ? t->view_offs : 0);
}

void *hwa_tensor_data(const hwa_tensor *t) { return t ? hwa__data(t) : NULL; }

void hwa_tensor_mark_modified(hwa_tensor *t) {
    if (t) hwa__tensor_touch(t);
}

void hwa__tensor_bind(hwa_tensor *t, hwa_buffer *b, size_t off) {
    t->buffer = b;
    t->buf_offs = off;
    t->data = b->base ? (char *)b->base + off : NULL;
    t->version++;
}

/* Byte offset of t's first element within its storage's buffer. */
static hwa_status storage_span(const hwa_tensor *t, const char *what, hwa_buffer **buf, size_t *off) {
    const hwa_tensor *s = hwa__storage(t);
    if (!s->buffer)
        return hwa__err(t->ctx, HWA_E_MISUSE, "%s: tensor '%s' has no data (allocate it on a backend first)", what,
                        t->name);
    *buf = s->buffer;
    *off = s->buf_offs + (t->view_src ? t->view_offs : 0);
    return HWA_OK;
}

static hwa_status bytes_transfer(hwa_tensor *t, void *p, size_t nbytes, bool to_tensor) {
    const char *what = to_tensor ? "hwa_tensor_set_bytes" : "hwa_tensor_get_bytes";
    if (!t || (!p && nbytes)) return hwa__err(t ? t->ctx : NULL, HWA_E_MISUSE, "%s: NULL argument", what);
    if (!hwa_tensor_is_contiguous(t))
        return hwa__err(t->ctx, HWA_E_MISUSE, "%s: '%s' is not contiguous", what, t->name);
    if (nbytes != hwa_tensor_nbytes(t))
        return hwa__err(t->ctx, HWA_E_SHAPE, "%s: %zu bytes, but tensor '%s' has %zu", what, nbytes, t->name,
                        hwa_tensor_nbytes(t));
    hwa_buffer *b = NULL;
    size_t off = 0;
    hwa_status st = storage_span(t, what, &b, &off);
    if (st) return st;
    if (to_tensor) hwa__tensor_touch(t);
    return to_tensor ? b->write(b, off, p, nbytes) : b->read(b, off, p, nbytes);
}

hwa_status hwa_tensor_set_bytes(hwa_tensor *t, const void *src, size_t nbytes) {
    return bytes_transfer(t, (void *)src, nbytes, true);
}

hwa_status hwa_tensor_get_bytes(const hwa_tensor *t, void *dst, size_t nbytes) {
    return bytes_transfer((hwa_tensor *)t, dst, nbytes, false);
}

/* f32 transfers. Contiguous tensors convert through a staging copy; strided
 * views need host-addressable storage and go element by element. */
static hwa_status f32_transfer(hwa_tensor *t, float *f, int64_t n, bool to_tensor) {
    const char *what = to_tensor ? "hwa_tensor_set_f32" : "hwa_tensor_get_f32";
    if (!t || (!f && n)) return hwa__err(t ? t->ctx : NULL, HWA_E_MISUSE, "%s: NULL argument", what);
    int64_t ne = hwa_tensor_nelements(t);
    if (n != ne)
        return hwa__err(t->ctx, HWA_E_SHAPE, "%s: %lld values given, tensor '%s' has %lld elements", what,
                        (long long)n, t->name, (long long)ne);
    hwa_buffer *b = NULL;
    size_t off = 0;
    hwa_status st = storage_span(t, what, &b, &off);
    if (st) return st;
    if (to_tensor) hwa__tensor_touch(t);
    if (hwa_tensor_is_contiguous(t)) {
        size_t nbytes = hwa_tensor_nbytes(t);
        if (t->dtype == HWA_F32)
            return to_tensor ? b->write(b, off, f, nbytes) : b->read(b, off, f, nbytes);
        void *tmp = hwa__malloc(t->ctx, nbytes);
        if (!tmp) return HWA_E_NOMEM;
        if (to_tensor) {
            st = hwa_convert_from_f32(t->dtype, tmp, f, n);
            if (!st) st = b->write(b, off, tmp, nbytes);
        } else {
            st = b->read(b, off, tmp, nbytes);
            if (!st) st = hwa_convert_to_f32(t->dtype, tmp, f, n);
        }
        hwa__free(t->ctx, tmp);
        return st;
    }
    void *base = hwa__data(t);
    if (!base || hwa_dtype_is_quantized(t->dtype))
        return hwa__err(t->ctx, HWA_E_UNSUPPORTED, "%s: strided view '%s' must be host-addressable and not quantized",
                        what, t->name);
    int64_t ne4[4], st4[4];
    hwa__shape4(t, ne4, st4);
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i, o = 0;
        for (int d = 3; d >= 0; d--) {
            o += (r % ne4[d]) * st4[d];
            r /= ne4[d];
        }
        if (to_tensor) hwa__store_f32(base, t->dtype, o, f[i]);
        else f[i] = hwa__load_f32(base, t->dtype, o);
    }
    return HWA_OK;
}

hwa_status hwa_tensor_set_f32(hwa_tensor *t, const float *src, int64_t n) {
    return f32_transfer(t, (float *)src, n, true);
}

hwa_status hwa_tensor_get_f32(const hwa_tensor *t, float *dst, int64_t n) {
    return f32_transfer((hwa_tensor *)t, dst, n, false);
}

static hwa_status fill_with(hwa_tensor *t, float lo, float hi, bool uniform) {
    const char *what = uniform ? "hwa_tensor_fill_uniform" : "hwa_tensor_fill";
    if (!t) return hwa__err(NULL, HWA_E_MISUSE, "%s: NULL tensor", what);
    int64_t n = hwa_tensor_nelements(t);
    size_t bytes;
    if (!hwa__mul_size((size_t)n, sizeof(float), &bytes))
        return hwa__err(t->ctx, HWA_E_OVERFLOW, "%s: tensor too large", what);
    float *tmp = hwa__malloc(t->ctx, bytes);
    if (!tmp) return HWA_E_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        if (uniform) {
            double u = (double)(hwa__rng_next(&t->ctx->rng) >> 11) * 0x1p-53;
            tmp[i] = (float)(lo + (hi - lo) * u);
        } else {
            tmp[i] = lo;
        }
    }
    hwa_status st = hwa_tensor_set_f32(t, tmp, n);
    hwa__free(t->ctx, tmp);
    return st;
}

hwa_status hwa_tensor_fill(hwa_tensor *t, float value) { return fill_with(t, value, value, false); }

hwa_status hwa_tensor_fill_uniform(hwa_tensor *t, float lo, float hi) {
    if (t && !(lo <= hi)) return hwa__err(t->ctx, HWA_E_INVALID, "hwa_tensor_fill_uniform: lo %g > hi %g", lo, hi);
    return fill_with(t, lo, hi, true);
}
