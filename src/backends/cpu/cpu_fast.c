/* Fast paths for the hot non-matmul ops: they check that the case is one
 * the vector kernels cover (contiguous f32 and the broadcasts that matter),
 * split the work across threads, and leave everything else to the
 * reference kernels. */
#include "backends/cpu/cpu_fast.h"
#include "backends/cpu/cpu_eltops.h"

#include "core/checked.h"

#include <math.h>
#include <string.h>

static bool contig(const hwa_tensor *t, hwa_dtype dt) { return t->dtype == dt && hwa_tensor_is_contiguous(t); }

/* Work below this many elements per thread is not worth a fork (measured
 * on this project's 2-core machine: an add over 64 x 1000 f32 takes 8.0 us
 * on one thread and 5.7 us on two, 40 x 1000 5.7 and 4.5 us). */
#define PAR_MIN 16384

static int threads_for(int64_t work, int nthreads) { return hwa__threads_over(work, PAR_MIN, nthreads); }

void hwa__par_chunks(int64_t n, int64_t per_thread, int nthreads, hwa__par_fn fn, void *ctx) {
    const int nt = hwa__threads_over(n, per_thread, nthreads);
    const int64_t grain = nt > 1 ? ((n + 4 * nt - 1) / (4 * nt) + 15) & ~(int64_t)15 : n;
    hwa__par_for(nt, n, grain, fn, ctx);
}

/* Items [0, n) (rows, positions) on the threads that `work` elements are
 * worth, four chunks per thread. */
static void par_items(int64_t n, int64_t work, int nthreads, hwa__par_fn fn, void *ctx) {
    const int nt = threads_for(work, nthreads);
    hwa__par_for(nt, n, nt > 1 ? (n + 4 * nt - 1) / (4 * nt) : n, fn, ctx);
}

/* bytes of the backend's scratch, or NULL with scratch->failure set. */
static void *scratch_get(hwa__cpu_scratch *scratch, size_t bytes) {
    void *p = hwa__scratch_grow(scratch->ctx, &scratch->p, &scratch->cap, bytes);
    if (!p) scratch->failure = HWA_E_NOMEM;
    return p;
}

#define PAR_CHUNKS(n, nthreads, fn, ctx) hwa__par_chunks(n, PAR_MIN, nthreads, fn, ctx)

/* An elementwise job: the arguments of one vector kernel over a range. */
typedef struct ew {
    const hwa__simd *k;
    int op;
    float s;
    bool bf16, log_softmax;
    int64_t step, row, rows;   /* b's step (0: one value); rows' length; their count */
    const float *a, *b;
    float *d;
    const uint16_t *ha;
    uint16_t *hd;
} ew;

static void ew_binary(void *ctx, int64_t i0, int64_t i1, int tid) {
    const ew *e = ctx;
    e->k->binary(e->op, e->a + i0, e->b + i0 * e->step, e->step, e->d + i0, i1 - i0);
}
static void ew_binary_rows(void *ctx, int64_t r0, int64_t r1, int tid) {
    const ew *e = ctx;
    for (int64_t r = r0; r < r1; r++) e->k->binary(e->op, e->a + r * e->row, e->b, 1, e->d + r * e->row, e->row);
}
static void ew_unary(void *ctx, int64_t i0, int64_t i1, int tid) {
    const ew *e = ctx;
    e->k->unary(e->op, e->a + i0, e->d + i0, i1 - i0, e->s);
}
static void ew_unary_back(void *ctx, int64_t i0, int64_t i1, int tid) {
    const ew *e = ctx;
    e->k->unary_back(e->op, e->a + i0, e->b + i0, e->d + i0, i1 - i0);
}
static void ew_widen(void *ctx, int64_t i0, int64_t i1, int tid) {
    const ew *e = ctx;
    e->k->half_to_f32(e->ha + i0, e->d + i0, i1 - i0, e->bf16);
}
static void ew_round(void *ctx, int64_t i0, int64_t i1, int tid) {
    const ew *e = ctx;
    e->k->f32_to_half(e->a + i0, e->hd + i0, i1 - i0, e->bf16);
}

/* b constant over each innermost plane of dst: b's padded shape is 1 in the
 * trailing dims from some dim on (the plane) and equal to dst's or 1 before
 * it, such as a convolution's bias [O, 1, 1] over [N, O, H, W] or a
 * per-channel scale [C, 1] over [N, C, L]. Plane o of dst takes one value
 * of b, found by unravelling o over the leading dims. */
typedef struct ew_planes {
    ew e;
    int64_t plane, dne[4], bst[4];
    int lead;                   /* leading dims (before the plane) */
} ew_planes;
static void ew_binary_planes(void *ctx, int64_t o0, int64_t o1, int tid) {
    const ew_planes *p = ctx;
    for (int64_t o = o0; o < o1; o++) {
        int64_t bi = 0, rest = o;
        for (int d = p->lead - 1; d >= 0; d--) {
            bi += rest % p->dne[d] * p->bst[d];
            rest /= p->dne[d];
        }
        p->e.k->binary(p->e.op, p->e.a + o * p->plane, p->e.b + bi, 0, p->e.d + o * p->plane, p->plane);
    }
}
static bool binary_planes(const ew *e, const int64_t *ne, const int64_t *st, const int64_t *dne, int64_t n,
                          int nt) {
    int lead = 4;
    while (lead > 0 && ne[lead - 1] == 1) lead--;
    if (lead == 4) return false; /* b varies along the last dim: not a plane broadcast */
    ew_planes p = {.e = *e, .plane = 1, .lead = lead};
    for (int d = 0; d < 4; d++) {
        p.dne[d] = dne[d];
        if (d >= lead) p.plane *= dne[d];
        else if (ne[d] != dne[d] && ne[d] != 1) return false;
        p.bst[d] = d < lead && ne[d] != 1 ? st[d] : 0;
    }
    if (p.plane < 16) return false; /* short planes: the reference's loop is as good */
    par_items(n / p.plane, n, nt, ew_binary_planes, &p);
    return true;
}

static bool binary(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0], *b = dst->src[1];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32) || !contig(b, HWA_F32)) return false;
    const int64_t n = hwa_tensor_nelements(dst), nb = hwa_tensor_nelements(b);
    ew e = {.k = k, .op = dst->op, .a = hwa__data(a), .b = hwa__data(b), .d = hwa__data(dst), .step = nb == 1 ? 0 : 1};
    if (nb == n || nb == 1) {
        PAR_CHUNKS(n, nt, ew_binary, &e);
        return true;
    }
    /* b one row broadcast over every row of a: b's padded shape [1,1,1,N] */
    int64_t ne[4], st[4], dne[4], dst4[4];
    hwa__shape4(b, ne, st);
    hwa__shape4(dst, dne, dst4);
    if (ne[0] == 1 && ne[1] == 1 && ne[2] == 1 && ne[3] == dne[3]) {
        e.row = dne[3];
        par_items(n / e.row, n, nt, ew_binary_rows, &e);
        return true;
    }
    return binary_planes(&e, ne, st, dne, n, nt);
}

static bool unary(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32)) return false;
    ew e = {.k = k, .op = dst->op, .s = dst->op == HWA_OP_SCALE ? dst->p.f[0] : 1.0f, .a = hwa__data(a),
            .d = hwa__data(dst)};
    PAR_CHUNKS(hwa_tensor_nelements(dst), nt, ew_unary, &e);
    return true;
}

/* UNARY_BACK of the smooth activations (ReLU's is cpu_train_fast.c's). */
static bool unary_back(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *g = dst->src[0], *x = dst->src[1];
    const int op = dst->p.i[0];
    if ((op != HWA_OP_GELU && op != HWA_OP_SILU && op != HWA_OP_SIGMOID && op != HWA_OP_TANH) ||
        !contig(dst, HWA_F32) || !contig(g, HWA_F32) || !contig(x, HWA_F32))
        return false;
    const int64_t n = hwa_tensor_nelements(dst);
    if (hwa_tensor_nelements(g) != n || hwa_tensor_nelements(x) != n) return false;
    ew e = {.k = k, .op = op, .a = hwa__data(g), .b = hwa__data(x), .d = hwa__data(dst)};
    PAR_CHUNKS(n, nt, ew_unary_back, &e);
    return true;
}

/* Rows [r0, r1) of a backward row op. */
static void rows_back_range(void *ctx, int64_t r0, int64_t r1, int tid) {
    const ew *e = ctx;
    for (int64_t r = r0; r < r1; r++)
        e->k->norm_back_row(e->op, e->a + r * e->row, e->b + r * e->row, e->d + r * e->row, e->row, e->s,
                            e->log_softmax);
}

/* SOFTMAX_BACK, NORM_BACK, RMS_NORM_BACK row by row: g = src0, and src1
 * the forward's output (softmax) or input (the norms), all contiguous f32
 * of dst's shape. */
static bool rows_back(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *g = dst->src[0], *xy = dst->src[1];
    if (!contig(dst, HWA_F32) || !contig(g, HWA_F32) || !contig(xy, HWA_F32)) return false;
    const int64_t row = dst->shape[dst->ndim - 1], n = hwa_tensor_nelements(dst), rows = row > 0 ? n / row : 0;
    if (hwa_tensor_nelements(g) != n || hwa_tensor_nelements(xy) != n || g->shape[g->ndim - 1] != row ||
        xy->shape[xy->ndim - 1] != row)
        return false;
    ew e = {.k = k, .op = dst->op, .s = dst->p.f[0], .log_softmax = dst->op == HWA_OP_SOFTMAX_BACK && dst->p.i[0] != 0,
            .row = row, .a = hwa__data(g), .b = hwa__data(xy), .d = hwa__data(dst)};
    par_items(rows, n * 4, nt, rows_back_range, &e);
    return true;
}

static void rows_range(void *ctx, int64_t r0, int64_t r1, int tid) {
    const ew *e = ctx;
    for (int64_t r = r0; r < r1; r++) {
        if (e->op == HWA_OP_SOFTMAX || e->op == HWA_OP_LOG_SOFTMAX)
            e->k->softmax_row(e->a + r * e->row, e->d + r * e->row, e->row, e->op == HWA_OP_LOG_SOFTMAX);
        else
            e->k->norm_row(e->a + r * e->row, e->d + r * e->row, e->row, e->s, e->op == HWA_OP_RMS_NORM);
    }
}

static bool rows_op(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32)) return false;
    const int64_t row = dst->shape[dst->ndim - 1], rows = hwa_tensor_nelements(dst) / row;
    ew e = {.k = k, .op = dst->op, .s = dst->p.f[0], .row = row, .a = hwa__data(a), .d = hwa__data(dst)};
    par_items(rows, rows * row * 4, nt, rows_range, &e);
    return true;
}

/* A strided copy: rows of ne[3] elements of es bytes. */
typedef struct copy_job {
    char *d;
    const char *s;
    const int64_t *ds, *ss, *ne;
    size_t es;
    bool runs;
} copy_job;

static void copy_rows(void *ctx, int64_t r0, int64_t r1, int tid) {
    const copy_job *j = ctx;
    const int64_t *ne = j->ne, *ds = j->ds, *ss = j->ss;
    const size_t es = j->es;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t i0 = r / (ne[1] * ne[2]), i1 = r / ne[2] % ne[1], i2 = r % ne[2];
        char *dr = j->d + (size_t)(i0 * ds[0] + i1 * ds[1] + i2 * ds[2]) * es;
        const char *sr = j->s + (size_t)(i0 * ss[0] + i1 * ss[1] + i2 * ss[2]) * es;
        if (j->runs) {
            memcpy(dr, sr, (size_t)ne[3] * es);
        } else if (es == 4) { /* a constant size: the copy compiles to one load and store */
            for (int64_t c = 0; c < ne[3]; c++) memcpy(dr + (size_t)(c * ds[3]) * 4, sr + (size_t)(c * ss[3]) * 4, 4);
        } else {
            for (int64_t c = 0; c < ne[3]; c++) memcpy(dr + (size_t)(c * ds[3]) * es, sr + (size_t)(c * ss[3]) * es, es);
        }
    }
}

/* Copies ne[0..3] elements of es bytes from s (strides ss, in elements) to
 * d (strides ds): runs of whole rows with memcpy where both rows are
 * contiguous, else element by element; rows across threads when large. */
static void copy4(char *d, const int64_t ds[4], const char *s, const int64_t ss[4], const int64_t ne[4], size_t es,
                  int nt) {
    const int64_t rows = ne[0] * ne[1] * ne[2];
    copy_job j = {d, s, ds, ss, ne, es, ne[3] == 1 || (ds[3] == 1 && ss[3] == 1)};
    par_items(rows, rows * ne[3], nt, copy_rows, &j);
}

/* All of src (any strides) into d, laid out with dst strides ds. */
static void copy_from(char *d, const int64_t ds[4], const hwa_tensor *src, int nt) {
    int64_t sn[4], ss[4];
    hwa__shape4(src, sn, ss);
    copy4(d, ds, hwa__data(src), ss, sn, hwa_dtype_block_bytes(src->dtype), nt);
}

/* The ids of a table [V, D] (rows of D values) and the D and id count, when
 * rows has one row of D per id and every id is in [0, V); else NULL (an id
 * out of range is the reference's to report). */
static const int32_t *table_ids(const hwa_tensor *table, const hwa_tensor *ids, const hwa_tensor *rows, int64_t *D,
                                int64_t *n) {
    *D = table->shape[table->ndim - 1];
    *n = hwa_tensor_nelements(ids);
    const int64_t V = *D > 0 ? hwa_tensor_nelements(table) / *D : 0;
    if (hwa_tensor_nelements(rows) != *n * *D) return NULL;
    const int32_t *id = hwa__data(ids);
    for (int64_t j = 0; j < *n; j++)
        if (id[j] < 0 || id[j] >= V) return NULL;
    return id;
}

typedef struct emb_job {
    const hwa__simd *k;
    const int32_t *id;
    const char *table;
    char *d;
    int64_t D;
    hwa_dtype tt, dt;
} emb_job;

static void emb_rows(void *ctx, int64_t j0, int64_t j1, int tid) {
    const emb_job *e = ctx;
    const size_t te = hwa_dtype_block_bytes(e->tt), de = hwa_dtype_block_bytes(e->dt);
    for (int64_t j = j0; j < j1; j++) {
        const char *row = e->table + (size_t)(e->id[j] * e->D) * te;
        if (e->dt == e->tt) memcpy(e->d + (size_t)(j * e->D) * de, row, (size_t)e->D * te);
        else e->k->half_to_f32((const uint16_t *)row, (float *)e->d + j * e->D, e->D, e->tt == HWA_BF16);
    }
}

/* EMBEDDING: rows of a contiguous f32 / f16 / bf16 table [V, D] by i32 ids
 * into a contiguous dst of f32 or the table's dtype. */
static bool embedding(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *tab = dst->src[0], *ids = dst->src[1];
    const hwa_dtype tt = tab->dtype, dt = dst->dtype;
    if (!hwa_dtype_is_float(tt) || (dt != HWA_F32 && dt != tt) || !hwa_tensor_is_contiguous(tab) ||
        !contig(ids, HWA_I32) || !hwa_tensor_is_contiguous(dst))
        return false;
    int64_t D, n;
    const int32_t *id = table_ids(tab, ids, dst, &D, &n);
    if (!id) return false;
    emb_job j = {k, id, hwa__data(tab), hwa__data(dst), D, tt, dt};
    par_items(n, n * D, nt, emb_rows, &j);
    return true;
}

/* EMBEDDING_BACK in f32: dst [V, D] zeroed, then each row of g added to
 * row ids[j] in the ids' order (one thread: rows may repeat). */
static bool embedding_back(const hwa__simd *k, hwa_tensor *dst) {
    const hwa_tensor *g = dst->src[0], *ids = dst->src[1];
    if (!contig(dst, HWA_F32) || !contig(g, HWA_F32) || !contig(ids, HWA_I32)) return false;
    int64_t D, n;
    const int32_t *id = table_ids(dst, ids, g, &D, &n);
    if (!id) return false;
    float *pd = hwa__data(dst);
    const float *pg = hwa__data(g);
    memset(pd, 0, hwa_tensor_nbytes(dst));
    for (int64_t j = 0; j < n; j++) k->binary(HWA_OP_ADD, pd + id[j] * D, pg + j * D, 1, pd + id[j] * D, D);
    return true;
}

/* WRITE_SLICE: src1 (any strides) into dst, src0's storage, from offset
 * p.l[0] along dim p.i[0]; same plain dtype only. */
static bool write_slice(hwa_tensor *dst, int nt) {
    const hwa_tensor *v = dst->src[1];
    const int dim = hwa__dim4(dst, dst->p.i[0]);
    if (v->dtype != dst->dtype || hwa_dtype_is_quantized(dst->dtype) || dim < 0) return false;
    int64_t dn[4], ds[4];
    hwa__shape4(dst, dn, ds);
    copy_from((char *)hwa__data(dst) + (size_t)(dst->p.l[0] * ds[dim]) * hwa_dtype_block_bytes(dst->dtype), ds, v, nt);
    return true;
}

/* The rows of at [B, 2] (i32, contiguous) when every one names a sequence
 * below C and a position p with n positions from p inside T, and the
 * largest p + n in *end; else NULL (the reference reports the bad row). */
static const int32_t *cache_at(const hwa_tensor *at, int64_t C, int64_t T, int64_t n, int64_t *end) {
    if (!hwa_tensor_is_contiguous(at)) return NULL;
    const int32_t *a = hwa__data(at);
    *end = 0;
    for (int64_t b = 0; b < at->shape[0]; b++) {
        if (a[2 * b] < 0 || a[2 * b] >= C || a[2 * b + 1] < 0 || a[2 * b + 1] > T - n) return NULL;
        if (a[2 * b + 1] + n > *end) *end = a[2 * b + 1] + n;
    }
    return a;
}

/* CACHE_WRITE: row b of src1 (any strides) into dst, src0's storage, at
 * sequence at[b,0] from position at[b,1]; same plain dtype only. */
static bool cache_write(hwa_tensor *dst, int nt) {
    const hwa_tensor *v = dst->src[1];
    if (v->dtype != dst->dtype || hwa_dtype_is_quantized(dst->dtype)) return false;
    int64_t dn[4], ds[4], vn[4], vs[4], end;
    hwa__shape4(dst, dn, ds);
    hwa__shape4(v, vn, vs);
    const int32_t *at = cache_at(dst->src[2], dn[0], dn[2], vn[2], &end);
    if (!at) return false;
    const size_t es = hwa_dtype_block_bytes(dst->dtype);
    const int64_t one[4] = {1, vn[1], vn[2], vn[3]};
    for (int64_t b = 0; b < vn[0]; b++)
        copy4((char *)hwa__data(dst) + (size_t)(at[2 * b] * ds[0] + at[2 * b + 1] * ds[2]) * es, ds,
              (const char *)hwa__data(v) + (size_t)(b * vs[0]) * es, vs, one, es, nt);
    return true;
}

/* CONCAT of a and b along p.i[0], and SLICE_BACK (zeros, then src0 from
 * p.l[0] along p.i[0]): copies of rows, all of one plain dtype. */
static bool concat_or_slice_back(hwa_tensor *dst, int nt) {
    const bool concat = dst->op == HWA_OP_CONCAT;
    const hwa_tensor *a = dst->src[0], *b = concat ? dst->src[1] : NULL;
    const int dim = hwa__dim4(dst, dst->p.i[0]);
    if (dim < 0 || hwa_dtype_is_quantized(dst->dtype) || a->dtype != dst->dtype || (b && b->dtype != dst->dtype) ||
        (!concat && !hwa_tensor_is_contiguous(dst)))
        return false;
    int64_t an[4], as[4], dn[4], ds[4];
    hwa__shape4(a, an, as);
    hwa__shape4(dst, dn, ds);
    const size_t es = hwa_dtype_block_bytes(dst->dtype);
    char *pd = hwa__data(dst);
    if (!concat) memset(pd, 0, hwa_tensor_nbytes(dst));
    /* concat: a at 0, b after it; slice_back: src0 at p.l[0] */
    copy_from(pd + (size_t)((concat ? 0 : dst->p.l[0]) * ds[dim]) * es, ds, a, nt);
    if (concat) copy_from(pd + (size_t)(an[dim] * ds[dim]) * es, ds, b, nt);
    return true;
}

/* REPEAT: src broadcast to dst's shape (its extents of 1 read with stride
 * 0), one plain dtype. */
static bool repeat(hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (a->dtype != dst->dtype || hwa_dtype_is_quantized(a->dtype)) return false;
    int64_t an[4], as[4], dn[4], ds[4];
    hwa__shape4(a, an, as);
    hwa__shape4(dst, dn, ds);
    for (int d = 0; d < 4; d++) {
        if (an[d] == dn[d]) continue;
        if (an[d] != 1) return false;
        as[d] = 0;
    }
    copy4(hwa__data(dst), ds, hwa__data(a), as, dn, hwa_dtype_block_bytes(a->dtype), nt);
    return true;
}

static bool cont(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!hwa_tensor_is_contiguous(dst)) return false;
    if (!hwa_tensor_is_contiguous(a)) { /* a view: gathered in its own dtype */
        if (a->dtype != dst->dtype || hwa_dtype_is_quantized(a->dtype)) return false;
        int64_t an[4], as[4], dn[4], ds[4];
        hwa__shape4(a, an, as);
        hwa__shape4(dst, dn, ds);
        if (memcmp(an, dn, sizeof an) != 0) return false; /* CONT of a reshaped view: the reference */
        copy4(hwa__data(dst), ds, hwa__data(a), as, an, hwa_dtype_block_bytes(a->dtype), nt);
        return true;
    }
    const int64_t n = hwa_tensor_nelements(dst);
    const void *s = hwa__data(a);
    void *d = hwa__data(dst);
    const hwa_dtype ta = a->dtype, td = dst->dtype;
    if (ta == td && !hwa_dtype_is_quantized(ta)) {
        if (d != s) memmove(d, s, hwa_tensor_nbytes(dst));
        return true;
    }
    if (td == HWA_F32 && (ta == HWA_F16 || ta == HWA_BF16)) {
        ew e = {.k = k, .bf16 = ta == HWA_BF16, .ha = s, .d = d};
        PAR_CHUNKS(n, nt, ew_widen, &e);
        return true;
    }
    if (ta == HWA_F32 && (td == HWA_F16 || td == HWA_BF16)) {
        ew e = {.k = k, .bf16 = td == HWA_BF16, .a = s, .hd = d};
        PAR_CHUNKS(n, nt, ew_round, &e);
        return true;
    }
    return false;
}

/* Columns [j0, j1) of the sums of e->rows rows of e->row values. */
static void col_sums(void *ctx, int64_t j0, int64_t j1, int tid) {
    const ew *e = ctx;
    memset(e->d + j0, 0, (size_t)(j1 - j0) * sizeof(float));
    for (int64_t r = 0; r < e->rows; r++)
        e->k->binary(HWA_OP_ADD, e->d + j0, e->a + r * e->row + j0, 1, e->d + j0, j1 - j0);
}

/* SUM_TO from [rows, N] down to [N] (column sums, the bias gradient) or to
 * [rows, 1] (row sums). */
static bool sum_to(const hwa__simd *k, hwa_tensor *dst, int nt) {
    const hwa_tensor *a = dst->src[0];
    if (!contig(dst, HWA_F32) || !contig(a, HWA_F32)) return false;
    int64_t sne[4], sst[4], dne[4], dst4[4];
    hwa__shape4(a, sne, sst);
    hwa__shape4(dst, dne, dst4);
    const int64_t N = sne[3], rows = sne[0] * sne[1] * sne[2];
    const float *ps = hwa__data(a);
    float *pd = hwa__data(dst);
    if (dne[0] == 1 && dne[1] == 1 && dne[2] == 1 && dne[3] == N) {
        /* Columns split across threads: each chunk owns a range of d. */
        const int ntc = threads_for(rows * N, nt);
        ew e = {.k = k, .row = N, .rows = rows, .a = ps, .d = pd};
        hwa__par_for(ntc, N, ntc > 1 ? ((N + ntc - 1) / ntc + 15) & ~(int64_t)15 : N, col_sums, &e);
        return true;
    }
    if (dne[0] == sne[0] && dne[1] == sne[1] && dne[2] == sne[2] && dne[3] == 1) {
        k->row_sum(ps, rows, N, pd);
        return true;
    }
    /* dst 1 in the trailing dims from some dim on (the plane) and equal to
     * a's or 1 before: each plane summed as a row, then the plane sums
     * added into dst in plane order (a bias's gradient [O, 1, 1] from
     * [N, O, H, W]). */
    int lead = 4;
    while (lead > 0 && dne[lead - 1] == 1) lead--;
    int64_t plane = 1, outer = 1;
    for (int d = 0; d < 4; d++) {
        if (d >= lead) plane *= sne[d];
        else if (dne[d] != sne[d] && dne[d] != 1) return false;
        else outer *= sne[d];
    }
    if (lead == 4 || plane < 16) return false;
    memset(pd, 0, (size_t)hwa_tensor_nelements(dst) * sizeof *pd);
    for (int64_t o = 0; o < outer; o++) {
        int64_t di = 0, rest = o;
        for (int d = lead - 1; d >= 0; d--) {
            if (dne[d] != 1) di += rest % sne[d] * dst4[d];
            rest /= sne[d];
        }
        float sum;
        k->row_sum(ps + o * plane, 1, plane, &sum);
        pd[di] += sum;
    }
    return true;
}

/* ---- attention --------------------------------------------------------- */

/* Rows of query i of head h within (b, h) blocks of this many query rows:
 * the unit of work a thread takes. */
#define ATTN_QBLOCK 16

typedef struct attn_job {
    const hwa__simd *k;
    const float *pq, *pk, *pv;
    float *pd, *scratch;
    const int64_t *qs, *ks, *vs, *ds;
    const int32_t *at; /* CACHE_ATTENTION: per query row, the keys' row and start; NULL: row b, all Tk */
    int64_t per, Hq, Tq, D, Tk, Dv, group, nqb;
    float scale;
    bool causal, q_copy, o_copy;
} attn_job;

/* Work items [it0, it1): blocks of ATTN_QBLOCK query rows of one (b, h). */
static void attn_items(void *ctx, int64_t it0, int64_t it1, int tid) {
    const attn_job *j = ctx;
    const int64_t *qs = j->qs, *ks = j->ks, *vs = j->vs, *ds = j->ds;
    float *s = j->scratch + j->per * tid;
    float *qrow = s + j->Tk, *orow = qrow + j->D;
    for (int64_t it = it0; it < it1; it++) {
        const int64_t b = it / (j->Hq * j->nqb), h = it / j->nqb % j->Hq, i0 = it % j->nqb * ATTN_QBLOCK;
        const int64_t i1 = i0 + ATTN_QBLOCK < j->Tq ? i0 + ATTN_QBLOCK : j->Tq, kh = h / j->group;
        const int64_t kvb = j->at ? j->at[2 * b] : b, len = j->at ? j->at[2 * b + 1] + j->Tq : j->Tk;
        const float *kb = j->pk + kvb * ks[0] + kh * ks[1], *vb = j->pv + kvb * vs[0] + kh * vs[1];
        for (int64_t i = i0; i < i1; i++) {
            int64_t seen = j->causal ? len - j->Tq + i + 1 : len;
            seen = seen < 0 ? 0 : seen > j->Tk ? j->Tk : seen;
            const float *qi = j->pq + b * qs[0] + h * qs[1] + i * qs[2];
            float *oi = j->pd + b * ds[0] + h * ds[1] + i * ds[2];
            if (j->q_copy) {
                for (int64_t c = 0; c < j->D; c++) qrow[c] = qi[c * qs[3]];
                qi = qrow;
            }
            j->k->attn_row(qi, kb, ks[2], vb, vs[2], seen, j->D, j->Dv, j->scale, s, j->o_copy ? orow : oi);
            if (j->o_copy)
                for (int64_t c = 0; c < j->Dv; c++) oi[c * ds[3]] = orow[c];
        }
    }
}

/* q [B,Hq,Tq,D], k [B,Hkv,Tk,D], v [B,Hkv,Tk,Dv] with any strides, as long
 * as K's and V's rows are contiguous along D (the KV cache's slices are);
 * q and dst rows that are not go through per-thread copies. Each output row
 * is computed by one thread in one fixed order, so the result does not
 * depend on the thread count. CACHE_ATTENTION runs the same rows over the
 * keys at[b] names (k and v are then caches [C,Hkv,Tk,D]), so its result
 * equals ATTENTION's over the slice of the cache, bit for bit. */
static bool attention(const hwa__simd *k, hwa_tensor *dst, int nt, hwa__cpu_scratch *kept) {
    const hwa_tensor *tq = dst->src[0], *tk = dst->src[1], *tv = dst->src[2];
    if (dst->dtype != HWA_F32 || tq->dtype != HWA_F32 || tk->dtype != HWA_F32 || tv->dtype != HWA_F32) return false;
    int64_t qn[4], qs[4], kn[4], ks[4], vn[4], vs[4], dn[4], ds[4];
    hwa__shape4(tq, qn, qs);
    hwa__shape4(tk, kn, ks);
    hwa__shape4(tv, vn, vs);
    hwa__shape4(dst, dn, ds);
    if ((ks[3] != 1 && kn[3] > 1) || (vs[3] != 1 && vn[3] > 1)) return false;
    const int64_t B = qn[0], Hq = qn[1], Tq = qn[2], D = qn[3], Hkv = kn[1], Tk = kn[2], Dv = vn[3];
    if (Hkv <= 0 || Hq % Hkv != 0) return false;
    const int64_t group = Hq / Hkv;
    const float scale = dst->p.f[0] > 0.0f ? dst->p.f[0] : (float)(1.0 / sqrt((double)D));
    const bool cached = dst->op == HWA_OP_CACHE_ATTENTION, causal = cached || dst->p.i[0] != 0;
    int64_t keys = Tk; /* the most keys a row reads, for the thread count */
    const int32_t *at = cached ? cache_at(dst->src[3], kn[0], Tk, Tq, &keys) : NULL;
    if (cached && !at) return false;
    const bool q_copy = qs[3] != 1 && D > 1, o_copy = ds[3] != 1 && Dv > 1;
    const int64_t nqb = (Tq + ATTN_QBLOCK - 1) / ATTN_QBLOCK, items = B * Hq * nqb;
    const int ntr = threads_for(B * Hq * Tq * keys * (D + Dv) / 8, nt);
    /* per thread: the scores, a copy of q's row and the output row */
    const int64_t per = ((Tk + D + Dv + 15) & ~(int64_t)15);
    size_t bytes;
    if (!hwa__mul_size((size_t)per * sizeof(float), (size_t)ntr, &bytes)) return false;
    float *scratch = scratch_get(kept, bytes);
    if (!scratch) return false;
    attn_job j = {k, hwa__data(tq), hwa__data(tk), hwa__data(tv), hwa__data(dst), scratch, qs, ks, vs, ds, at,
                  per, Hq, Tq, D, Tk, Dv, group, nqb, scale, causal, q_copy, o_copy};
    hwa__par_for(ntr, items, ntr > 1 ? 1 : items, attn_items, &j);
    return true;
}

/* ---- attention backward ------------------------------------------------ */

/* A [B, H, T, D] f32 tensor whose rows are contiguous (any other strides). */
typedef struct rows4 {
    float *p;
    int64_t ne[4], st[4];
} rows4;

static bool rows4_of(const hwa_tensor *t, rows4 *r) {
    if (t->dtype != HWA_F32) return false;
    hwa__shape4(t, r->ne, r->st);
    r->p = hwa__data(t);
    return r->ne[3] <= 1 || r->st[3] == 1;
}

static inline float *row4(const rows4 *r, int64_t b, int64_t h, int64_t i) {
    return r->p + b * r->st[0] + h * r->st[1] + i * r->st[2];
}

typedef struct attn_back {
    const hwa__simd *k;
    rows4 g, q, kk, v, d;
    int64_t Hq, Tq, Tk, D, Dv, group;
    float scale;
    bool causal;
} attn_back;

/* Query i of head h (batch b): p[0..seen) its probabilities (the
 * reference's max-subtracted softmax of the scaled scores) and ds[0..seen)
 * its score gradients dS_j = P_j (dP_j - sum_l P_l dP_l), dP_j = g_i . v_j;
 * returns seen (the keys it sees). */
static int64_t attn_back_row(const attn_back *a, int64_t b, int64_t h, int64_t i, float *p, float *ds) {
    int64_t seen = a->causal ? a->Tk - a->Tq + i + 1 : a->Tk;
    seen = seen < 0 ? 0 : seen > a->Tk ? a->Tk : seen;
    if (seen == 0) return 0;
    const int64_t kh = h / a->group;
    float *s = ds; /* the scores first, then the gradients */
    a->k->gemv_nt(row4(&a->q, b, h, i), a->D, 1, row4(&a->kk, b, kh, 0), a->kk.st[2], a->D, 0, seen, s, seen);
    a->k->unary(HWA_OP_SCALE, s, s, seen, a->scale);
    a->k->softmax_row(s, p, seen, false);
    a->k->gemv_nt(row4(&a->g, b, h, i), a->Dv, 1, row4(&a->v, b, kh, 0), a->v.st[2], a->Dv, 0, seen, ds, seen);
    double dot = 0.0;
    for (int64_t j = 0; j < seen; j++) dot += (double)p[j] * ds[j];
    for (int64_t j = 0; j < seen; j++) ds[j] = p[j] * (ds[j] - (float)dot);
    return seen;
}

typedef struct attn_back_job {
    const attn_back *a;
    float *scratch;
    int64_t per, Hkv;
    int which;
} attn_back_job;

/* Items [it0, it1): one query row each for dq, one (b, kv head) each for
 * dk and dv. */
static void attn_back_items(void *ctx, int64_t it0, int64_t it1, int tid) {
    const attn_back_job *jb = ctx;
    const attn_back *a = jb->a;
    const hwa__simd *k = a->k;
    const int64_t Hkv = jb->Hkv;
    const int which = jb->which;
    float *p = jb->scratch + jb->per * tid, *ds = p + a->Tk;
    for (int64_t it = it0; it < it1; it++) {
        if (which == 0) {
            const int64_t b = it / (a->Hq * a->Tq), h = it / a->Tq % a->Hq, i = it % a->Tq;
            float *o = row4(&a->d, b, h, i);
            for (int64_t c = 0; c < a->D; c++) o[c] = 0.0f;
            const int64_t seen = attn_back_row(a, b, h, i, p, ds);
            for (int64_t j = 0; j < seen; j++) {
                const float *kj = row4(&a->kk, b, h / a->group, j);
                for (int64_t c = 0; c < a->D; c++) o[c] += ds[j] * kj[c];
            }
            k->unary(HWA_OP_SCALE, o, o, a->D, a->scale);
            continue;
        }
        const int64_t b = it / Hkv, kh = it % Hkv, width = which == 1 ? a->D : a->Dv;
        for (int64_t j = 0; j < a->Tk; j++) memset(row4(&a->d, b, kh, j), 0, (size_t)width * sizeof(float));
        for (int64_t h = kh * a->group; h < (kh + 1) * a->group; h++)
            for (int64_t i = 0; i < a->Tq; i++) {
                const int64_t seen = attn_back_row(a, b, h, i, p, ds);
                const float *x = which == 1 ? row4(&a->q, b, h, i) : row4(&a->g, b, h, i), *w = which == 1 ? ds : p;
                for (int64_t j = 0; j < seen; j++) {
                    float *dj = row4(&a->d, b, kh, j);
                    for (int64_t c = 0; c < width; c++) dj[c] += w[j] * x[c];
                }
            }
        if (which == 1)
            for (int64_t j = 0; j < a->Tk; j++)
                k->unary(HWA_OP_SCALE, row4(&a->d, b, kh, j), row4(&a->d, b, kh, j), width, a->scale);
    }
}

/* ATTENTION_BACK in f32 (p.i[1]: 0 dq, 1 dk, 2 dv): dQ_i = scale sum_j dS_ij
 * K_j; dK_j = scale sum_i dS_ij Q_i and dV_j = sum_i P_ij g_i over the query
 * heads of the kv head's group, in the reference's order of i and h. */
static bool attention_back(const hwa__simd *k, hwa_tensor *dst, int nt, hwa__cpu_scratch *kept) {
    attn_back a = {.k = k};
    const int which = dst->p.i[1];
    if (which < 0 || which > 2 || !rows4_of(dst->src[0], &a.g) || !rows4_of(dst->src[1], &a.q) ||
        !rows4_of(dst->src[2], &a.kk) || !rows4_of(dst->src[3], &a.v) || !rows4_of(dst, &a.d))
        return false;
    const int64_t B = a.q.ne[0], Hkv = a.kk.ne[1];
    a.Hq = a.q.ne[1], a.Tq = a.q.ne[2], a.D = a.q.ne[3], a.Tk = a.kk.ne[2], a.Dv = a.v.ne[3];
    if (Hkv <= 0 || a.Hq % Hkv != 0 || a.Tk <= 0) return false;
    a.group = a.Hq / Hkv;
    a.scale = dst->p.f[0] > 0.0f ? dst->p.f[0] : (float)(1.0 / sqrt((double)a.D));
    a.causal = dst->p.i[0] != 0;
    const int64_t items = which == 0 ? B * a.Hq * a.Tq : B * Hkv;
    const int ntr = threads_for(B * a.Hq * a.Tq * a.Tk * (a.D + a.Dv) / 4, nt);
    const int64_t per = (2 * a.Tk + 15) & ~(int64_t)15;
    size_t bytes;
    if (!hwa__mul_size((size_t)per * sizeof(float), (size_t)ntr, &bytes)) return false;
    float *scratch = scratch_get(kept, bytes);
    if (!scratch) return false;
attn_back_job j = {&a, scratch, per, Hkv, which};
    hwa__par_for(ntr, items, ntr > 1 ? 1 : items, attn_back_items, &j);
    return true;
}

/* ---- rotary position embedding ----------------------------------------- */

typedef struct rope_job {
    const int32_t *pos;
    float *cs, *sn;            /* [T, half] */
    const float *x;
    float *d;
    const int64_t *xs, *ds;
    int64_t T, H, D, half, ia_step, ib_off;
    double theta, sign;
} rope_job;

static void rope_angles(void *ctx, int64_t t0, int64_t t1, int tid) {
    const rope_job *j = ctx;
    for (int64_t t = t0; t < t1; t++) {
        const double p = j->pos[t];
        for (int64_t i = 0; i < j->half; i++) {
            const double angle = j->sign * p * pow(j->theta, -2.0 * (double)i / (double)j->D);
            j->cs[t * j->half + i] = (float)cos(angle);
            j->sn[t * j->half + i] = (float)sin(angle);
        }
    }
}

/* Rows (b, t) [bt0, bt1): every head of one position. */
static void rope_rows(void *ctx, int64_t bt0, int64_t bt1, int tid) {
    const rope_job *j = ctx;
    const int64_t *xs = j->xs, *ds = j->ds;
    for (int64_t bt = bt0; bt < bt1; bt++) {
        const int64_t b = bt / j->T, t = bt % j->T;
        const float *co = j->cs + t * j->half, *si = j->sn + t * j->half;
        for (int64_t h = 0; h < j->H; h++) {
            const float *xr = j->x + b * xs[0] + t * xs[1] + h * xs[2];
            float *dr = j->d + b * ds[0] + t * ds[1] + h * ds[2];
            for (int64_t i = 0; i < j->half; i++) {
                const int64_t ia = i * j->ia_step, ib = ia + j->ib_off;
                const float va = xr[ia * xs[3]], vb = xr[ib * xs[3]];
                dr[ia * ds[3]] = va * co[i] - vb * si[i];
                dr[ib * ds[3]] = va * si[i] + vb * co[i];
            }
        }
    }
}

/* x [B,T,H,D] f32 with any strides. The angles are computed once per call
 * and position, in double exactly as the reference does, and stored as
 * float cos/sin tables [T, D/2]; the rotation then runs in float. Bad
 * input (unknown mode, negative positions) is left to the reference, which
 * reports it. */
static bool rope(hwa_tensor *dst, int nt) {
    const hwa_tensor *tx = dst->src[0], *tp = dst->src[1];
    if (dst->dtype != HWA_F32 || tx->dtype != HWA_F32 || tp->dtype != HWA_I32 || !hwa_tensor_is_contiguous(tp))
        return false;
    const int mode = dst->p.i[0];
    if (mode != HWA_ROPE_INTERLEAVED && mode != HWA_ROPE_HALVES) return false;
    int64_t xn[4], xs[4], dn[4], ds[4];
    hwa__shape4(tx, xn, xs);
    hwa__shape4(dst, dn, ds);
    const int64_t B = xn[0], T = xn[1], H = xn[2], D = xn[3], half = D / 2;
    const int32_t *pos = hwa__data(tp);
    for (int64_t t = 0; t < T; t++)
        if (pos[t] < 0) return false;
    const double theta = dst->p.f[0], sign = dst->p.i[1] == 1 ? -1.0 : 1.0;
    float *tab = hwa__malloc(dst->ctx, (size_t)(2 * T * half + 1) * sizeof(float));
    if (!tab) return false;
    rope_job j = {pos, tab, tab + T * half, hwa__data(tx), hwa__data(dst), xs, ds, T, H, D, half,
                  mode == HWA_ROPE_INTERLEAVED ? 2 : 1, mode == HWA_ROPE_INTERLEAVED ? 1 : half, theta, sign};
    par_items(T, T * half * 16, nt, rope_angles, &j);
    par_items(B * T, B * T * H * D, nt, rope_rows, &j);
    hwa__free(dst->ctx, tab);
    return true;
}

void hwa__cpu_scratch_free(hwa__cpu_scratch *s) {
    hwa__free(s->ctx, s->p);
    s->p = NULL, s->cap = 0;
}

bool hwa__half_shadow_begin(const hwa__simd *k, hwa_tensor *dst, int nt, hwa__cpu_scratch *scratch,
                            hwa__half_shadow *sh) {
    if ((dst->dtype != HWA_F16 && dst->dtype != HWA_BF16) || !hwa_tensor_is_contiguous(dst)) return false;
    int nsrc = 0;
    while (nsrc < HWA_MAX_SRC && dst->src[nsrc]) nsrc++;
    size_t total = (size_t)hwa_tensor_nelements(dst);
    for (int i = 0; i < nsrc; i++) {
        const hwa_tensor *a = dst->src[i];
        if ((a->dtype != HWA_F32 && a->dtype != dst->dtype) || !hwa_tensor_is_contiguous(a)) return false;
        if (a->dtype != HWA_F32) total += (size_t)hwa_tensor_nelements(a);
    }
    size_t bytes;
    if (!hwa__mul_size(total, sizeof(float), &bytes)) return false;
    if (!(sh->out = scratch_get(scratch, bytes))) return false;
    const bool bf16 = dst->dtype == HWA_BF16;
    sh->dst = *dst;
    float *next = sh->out + hwa_tensor_nelements(dst);
    for (int i = 0; i < nsrc; i++) {
        const hwa_tensor *a = dst->src[i];
        sh->src[i] = *a;
        if (a->dtype != HWA_F32) {
            const int64_t na = hwa_tensor_nelements(a);
            float *w = next;
            ew e = {.k = k, .bf16 = bf16, .ha = hwa__data(a), .d = w};
            PAR_CHUNKS(na, nt, ew_widen, &e);
            sh->src[i].dtype = HWA_F32;
            sh->src[i].view_src = NULL;
            sh->src[i].data = w;
            next += na;
        }
        sh->dst.src[i] = &sh->src[i];
    }
    sh->dst.dtype = HWA_F32;
    sh->dst.view_src = NULL;
    sh->dst.data = sh->out;
    return true;
}

void hwa__half_shadow_end(const hwa__simd *k, hwa_tensor *dst, int nt, hwa__half_shadow *sh, bool computed) {
    if (!computed) return;
    ew e = {.k = k, .bf16 = dst->dtype == HWA_BF16, .a = sh->out, .hd = hwa__data(dst)};
    PAR_CHUNKS(hwa_tensor_nelements(dst), nt, ew_round, &e);
}

/* CROSS_ENTROPY (the mean over rows of logsumexp(x) - x[label]) and its
 * gradient g / N * (softmax(x) - onehot(label)), row by row with the
 * softmax kernel: logits f32, f16 or bf16 (a half row is widened into the
 * thread's scratch, a half gradient row rounded from it), labels i32, all
 * contiguous. The labels are checked first: with one out of range the
 * reference runs and reports it. Without memory for the scratch the node
 * fails (scratch->failure). The loss sums the rows' terms in one
 * fixed order, in double, whatever the thread count. */
typedef struct xent_job {
    const hwa__simd *k;
    const void *x;
    void *d;
    const int32_t *labels;
    double *terms;
    float *rows;
    int64_t per, C;
    hwa_dtype dl, dd;
    float scale;
    bool back;
} xent_job;

static void xent_rows(void *ctx, int64_t n0, int64_t n1, int tid) {
    const xent_job *j = ctx;
    const hwa__simd *k = j->k;
    const int64_t C = j->C;
    for (int64_t n = n0; n < n1; n++) {
        float *x = j->rows + j->per * tid;
        float *y = x + C;
        if (j->dl == HWA_F32) x = (float *)j->x + n * C;
        else k->half_to_f32((const uint16_t *)j->x + n * C, x, C, j->dl == HWA_BF16);
        if (j->back && j->dd == HWA_F32) y = (float *)j->d + n * C;
        k->softmax_row(x, y, C, !j->back);
        if (!j->back) {
            j->terms[n] = -(double)y[j->labels[n]]; /* log-softmax at the label */
            continue;
        }
        k->unary(HWA_OP_SCALE, y, y, C, j->scale);
        y[j->labels[n]] -= j->scale;
        if (j->dd != HWA_F32) k->f32_to_half(y, (uint16_t *)j->d + n * C, C, j->dd == HWA_BF16);
    }
}

static bool xent(const hwa__simd *k, hwa_tensor *dst, int nt, hwa__cpu_scratch *scratch) {
    const bool back = dst->op == HWA_OP_CROSS_ENTROPY_BACK;
    const hwa_tensor *lg = dst->src[back ? 1 : 0], *lb = dst->src[back ? 2 : 1], *g = back ? dst->src[0] : NULL;
    const hwa_dtype dl = lg->dtype, dd = dst->dtype;
    if (!hwa_dtype_is_float(dl) || !hwa_dtype_is_float(dd) || !hwa_tensor_is_contiguous(lg) || !contig(lb, HWA_I32) ||
        !hwa_tensor_is_contiguous(dst) || (g && (!hwa_dtype_is_float(g->dtype) || !hwa_tensor_is_contiguous(g))))
        return false;
    const int64_t C = lg->shape[lg->ndim - 1], N = C > 0 ? hwa_tensor_nelements(lg) / C : 0;
    if (N < 1 || hwa_tensor_nelements(lb) != N || (back && hwa_tensor_nelements(dst) != N * C)) return false;
    const int32_t *labels = hwa__data(lb);
    for (int64_t n = 0; n < N; n++)
        if (labels[n] < 0 || labels[n] >= C) return false;
    const int ntr = threads_for(N * C * 4, nt);
    /* per thread: a widened row and a result row; the forward's row terms */
    const int64_t per = (2 * C + 15) & ~(int64_t)15;
    size_t row_bytes, term_bytes, bytes;
    if (!hwa__mul_size((size_t)per * sizeof(float), (size_t)ntr, &row_bytes) ||
        !hwa__mul_size(back ? 0 : (size_t)N, sizeof(double), &term_bytes) ||
        !hwa__add_size(row_bytes, term_bytes, &bytes))
        return false;
    double *terms = scratch_get(scratch, bytes);
    if (!terms) return false;
    float *rows = (float *)(terms + (back ? 0 : N));
    const void *px = hwa__data(lg);
    void *pd = hwa__data(dst);
    const float scale = back ? (float)((double)hwa__load_f32(hwa__data(g), g->dtype, 0) / (double)N) : 0.0f;
    xent_job j = {k, px, pd, labels, terms, rows, per, C, dl, dd, scale, back};
    par_items(N, N * C * 4, nt, xent_rows, &j);
    if (!back) {
        double loss = 0.0;
        for (int64_t n = 0; n < N; n++) loss += terms[n];
        hwa__store_f32(pd, dd, 0, (float)(loss / (double)N));
    }
    return true;
}

/* Elementwise ops on f16 / bf16 (binary with b of a's size or one value,
 * unary): each thread widens blocks of its range that stay in L1, runs the
 * f32 kernel on them and rounds the block back, so the data crosses memory
 * once rather than through a full-size f32 copy. */
#define HALF_BLOCK 1024

typedef struct half_job {
    const hwa__simd *k;
    int op;
    float s;                  /* SCALE's factor */
    const uint16_t *a, *b;    /* b NULL: unary */
    float one_b;              /* b of one value, widened */
    bool b_one, bf16;
    uint16_t *d;
} half_job;

static void half_range(void *ctx, int64_t i0, int64_t i1, int tid) {
    const half_job *h = ctx;
    float xa[HALF_BLOCK], xb[HALF_BLOCK];
    for (int64_t o = i0; o < i1; o += HALF_BLOCK) {
        const int64_t m = i1 - o < HALF_BLOCK ? i1 - o : HALF_BLOCK;
        h->k->half_to_f32(h->a + o, xa, m, h->bf16);
        if (!h->b) {
            h->k->unary(h->op, xa, xa, m, h->s);
        } else if (h->b_one) {
            h->k->binary(h->op, xa, &h->one_b, 0, xa, m);
        } else {
            h->k->half_to_f32(h->b + o, xb, m, h->bf16);
            h->k->binary(h->op, xa, xb, 1, xa, m);
        }
        h->k->f32_to_half(xa, h->d + o, m, h->bf16);
    }
}

static bool half_elementwise(const hwa__simd *k, hwa_tensor *dst, int nt, bool binary_op) {
    const hwa_tensor *a = dst->src[0], *b = binary_op ? dst->src[1] : NULL;
    const hwa_dtype dt = dst->dtype;
    if (!contig(dst, dt) || !contig(a, dt) || (b && !contig(b, dt))) return false;
    const int64_t n = hwa_tensor_nelements(dst), nb = b ? hwa_tensor_nelements(b) : 0;
    if (b && nb != n && nb != 1) return false;
    half_job h = {k, dst->op, dst->op == HWA_OP_SCALE ? dst->p.f[0] : 1.0f, hwa__data(a), b ? hwa__data(b) : NULL,
                  0.0f, b && nb == 1, dt == HWA_BF16, hwa__data(dst)};
    if (h.b_one) k->half_to_f32(h.b, &h.one_b, 1, h.bf16);
    PAR_CHUNKS(n, nt, half_range, &h);
    return true;
}

/* The op's f32 path, or for f16 / bf16 tensors the same through f32. */
static bool f32_or_half(const hwa__simd *k, hwa_tensor *dst, int nt, hwa__cpu_scratch *scratch,
                        bool (*run)(const hwa__simd *, hwa_tensor *, int)) {
    if (dst->dtype == HWA_F32) return run(k, dst, nt);
    hwa__half_shadow sh;
    if (!hwa__half_shadow_begin(k, dst, nt, scratch, &sh)) return false;
    const bool ok = run(k, &sh.dst, nt);
    hwa__half_shadow_end(k, dst, nt, &sh, ok);
    return ok;
}

bool hwa__cpu_fast_run(const hwa__simd *k, hwa_tensor *dst, int nthreads, hwa__cpu_scratch *scratch) {
    if (!k) return false;
    switch (dst->op) {
    case HWA_OP_ADD:
    case HWA_OP_SUB:
    case HWA_OP_MUL:
    case HWA_OP_DIV:
        return (dst->dtype != HWA_F32 && half_elementwise(k, dst, nthreads, true)) ||
               f32_or_half(k, dst, nthreads, scratch, binary);
    case HWA_OP_SCALE:
    case HWA_OP_RELU:
    case HWA_OP_GELU:
    case HWA_OP_SILU:
    case HWA_OP_SIGMOID:
    case HWA_OP_TANH:
        return (dst->dtype != HWA_F32 && half_elementwise(k, dst, nthreads, false)) ||
               f32_or_half(k, dst, nthreads, scratch, unary);
    case HWA_OP_SOFTMAX:
    case HWA_OP_LOG_SOFTMAX:
    case HWA_OP_NORM:
    case HWA_OP_RMS_NORM: return f32_or_half(k, dst, nthreads, scratch, rows_op);
    case HWA_OP_SOFTMAX_BACK:
    case HWA_OP_NORM_BACK:
    case HWA_OP_RMS_NORM_BACK: return f32_or_half(k, dst, nthreads, scratch, rows_back);
    case HWA_OP_CONT: return cont(k, dst, nthreads);
    case HWA_OP_WRITE_SLICE: return write_slice(dst, nthreads);
    case HWA_OP_REPEAT: return repeat(dst, nthreads);
    case HWA_OP_CONCAT:
    case HWA_OP_SLICE_BACK: return concat_or_slice_back(dst, nthreads);
    case HWA_OP_EMBEDDING: return embedding(k, dst, nthreads);
    case HWA_OP_EMBEDDING_BACK: return embedding_back(k, dst);
    case HWA_OP_SUM_TO: return f32_or_half(k, dst, nthreads, scratch, sum_to);
    case HWA_OP_ATTENTION: case HWA_OP_CACHE_ATTENTION: return attention(k, dst, nthreads, scratch);
    case HWA_OP_CACHE_WRITE: return cache_write(dst, nthreads);
    case HWA_OP_ATTENTION_BACK: return attention_back(k, dst, nthreads, scratch);
    case HWA_OP_ROPE: return rope(dst, nthreads);
    case HWA_OP_UNARY_BACK: return f32_or_half(k, dst, nthreads, scratch, unary_back);
    case HWA_OP_CROSS_ENTROPY:
    case HWA_OP_CROSS_ENTROPY_BACK: return xent(k, dst, nthreads, scratch);
    case HWA_OP_MAP:
    case HWA_OP_MAP_BACK:
    case HWA_OP_BINARY:
    case HWA_OP_WHERE: return hwa__cpu_eltops_run(dst, nthreads);
    default: return false;
    }
}
