/* Reference kernels: embedding lookup, rotary position embedding and scaled
 * dot-product attention, with their backward helpers. */
#include <math.h>

#include "backends/cpu/ref/ref_common.h"

static double at4(const hwa__rt *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
    const int64_t idx[4] = {i0, i1, i2, i3};
    return hwa__rt_at(t, hwa__rt_off4(t, idx));
}

static void put4(const hwa__rt *t, int64_t i0, int64_t i1, int64_t i2, int64_t i3, double v) {
    const int64_t idx[4] = {i0, i1, i2, i3};
    hwa__rt_put(t, hwa__rt_off4(t, idx), (float)v);
}

/* ---- embedding --------------------------------------------------------- */

/* table [V, D] (padded [1, 1, V, D]); dst row j is table row ids[j]. */
hwa_status hwa__ref_EMBEDDING(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), table = hwa__rt_of(dst->src[0]), ids = hwa__rt_of(dst->src[1]);
    const int64_t V = table.ne[2], D = table.ne[3];
    const bool quantized = hwa_dtype_is_quantized(table.dtype);
    float *row = NULL;
    if (quantized) {
        hwa_status st = hwa__ref_check_quant(dst, dst->src[0]);
        if (st != HWA_OK) return st;
        if (!(row = hwa__ref_scratch(dst, D, sizeof *row))) return HWA_E_NOMEM;
    }
    hwa_status st = HWA_OK;
    for (int64_t j = 0; j < ids.n && st == HWA_OK; j++) {
        const int32_t id = hwa__rt_i32(&ids, j);
        if (id < 0 || id >= V) {
            st = hwa__ref_range_err(dst, "id", id, j, V);
            break;
        }
        if (quantized) st = hwa__ref_dequant_rows(&table, id, 1, row);
        const int64_t od = hwa__rt_row(&d, j);
        for (int64_t c = 0; c < D && st == HWA_OK; c++)
            hwa__rt_put(&d, od + c * d.st[3], quantized ? row[c] : (float)at4(&table, 0, 0, id, c));
    }
    hwa__free(dst->ctx, row);
    return st;
}

/* g [..., D] with one row per id; dst [V, D]. Accumulates in dst's dtype in
 * the ids' order, exactly as the op is specified. */
hwa_status hwa__ref_EMBEDDING_BACK(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), g = hwa__rt_of(dst->src[0]), ids = hwa__rt_of(dst->src[1]);
    const int64_t V = d.ne[2], D = d.ne[3];
    for (int64_t i = 0; i < d.n; i++) hwa__rt_set(&d, i, 0.0f);
    for (int64_t j = 0; j < ids.n; j++) {
        const int32_t id = hwa__rt_i32(&ids, j);
        if (id < 0 || id >= V) return hwa__ref_range_err(dst, "id", id, j, V);
        const int64_t og = hwa__rt_row(&g, j), od = hwa__rt_row(&d, id);
        for (int64_t c = 0; c < D; c++) {
            const int64_t o = od + c * d.st[3];
            hwa__rt_put(&d, o, hwa__rt_at(&d, o) + hwa__rt_at(&g, og + c * g.st[3]));
        }
    }
    return HWA_OK;
}

/* ---- rotary position embedding ----------------------------------------- */

/* x [B, T, H, D] (padded), pos i32 [T]. Both members of a pair are read
 * before either is written, so dst may alias x. */
hwa_status hwa__ref_ROPE(hwa_tensor *dst) {
    const hwa__rt d = hwa__rt_of(dst), x = hwa__rt_of(dst->src[0]), pos = hwa__rt_of(dst->src[1]);
    const int64_t B = x.ne[0], T = x.ne[1], H = x.ne[2], D = x.ne[3], half = D / 2;
    const double theta = dst->p.f[0], sign = dst->p.i[1] == 1 ? -1.0 : 1.0;
    const int mode = dst->p.i[0];
    if (mode != HWA_ROPE_INTERLEAVED && mode != HWA_ROPE_HALVES)
        return hwa__err(dst->ctx, HWA_E_INVALID, "rope: unknown mode %d", mode);
    for (int64_t t = 0; t < T; t++) {
        const int32_t p = hwa__rt_i32(&pos, t);
        if (p < 0)
            return hwa__err(dst->ctx, HWA_E_RANGE, "rope: position %d at index %lld is negative (must be >= 0)", (int)p,
                            (long long)t);
    }
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const double p = hwa__rt_i32(&pos, t);
            for (int64_t h = 0; h < H; h++) {
                for (int64_t i = 0; i < half; i++) {
                    const int64_t ia = mode == HWA_ROPE_INTERLEAVED ? 2 * i : i;
                    const int64_t ib = mode == HWA_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
                    const double angle = sign * p * pow(theta, -2.0 * (double)i / (double)D);
                    const double c = cos(angle), s = sin(angle);
                    const double va = at4(&x, b, t, h, ia), vb = at4(&x, b, t, h, ib);
                    put4(&d, b, t, h, ia, va * c - vb * s);
                    put4(&d, b, t, h, ib, va * s + vb * c);
                }
            }
        }
    }
    return HWA_OK;
}

/* ---- attention --------------------------------------------------------- */

/* q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv]; or, with at
 * (CACHE_ATTENTION), k and v [C, Hkv, Tk, Dv] caches and at [B, 2]. */
typedef struct attn {
    hwa__rt q, k, v, at;
    int64_t B, Hq, Hkv, Tq, Tk, D, Dv, group;
    double scale;
    bool causal, has_at;
} attn;

/* q_src is the index of q among dst's sources (the backward has g first). */
static attn attn_of(const hwa_tensor *dst, int q_src) {
    attn a;
    a.q = hwa__rt_of(dst->src[q_src]);
    a.k = hwa__rt_of(dst->src[q_src + 1]);
    a.v = hwa__rt_of(dst->src[q_src + 2]);
    a.B = a.q.ne[0];
    a.Hq = a.q.ne[1];
    a.Tq = a.q.ne[2];
    a.D = a.q.ne[3];
    a.Hkv = a.k.ne[1];
    a.Tk = a.k.ne[2];
    a.Dv = a.v.ne[3];
    a.group = a.Hq / a.Hkv;
    /* The builder resolves the default; kept here so a node built without it
     * still means what hwa_attention documents (scale <= 0: 1/sqrt(D)). */
    a.scale = dst->p.f[0] > 0.0f ? dst->p.f[0] : 1.0 / sqrt((double)a.D);
    a.causal = dst->p.i[0] != 0;
    a.has_at = false;
    return a;
}

/* The keys query row b reads: their batch row in k and v, and how many
 * there are (the first *len; the rest of Tk is not looked at). */
static void attn_keys(const attn *a, int64_t b, int64_t *kb, int64_t *len) {
    *kb = a->has_at ? hwa__rt_i32(&a->at, 2 * b) : b;
    *len = a->has_at ? hwa__rt_i32(&a->at, 2 * b + 1) + a->Tq : a->Tk;
}

/* The attention probabilities of query i of head h into p[0..Tk): a
 * max-subtracted softmax over the keys it sees, 0 for the others. A causal
 * query that sees no key (Tq > Tk) gets all zeros, so its output is 0. */
static void attn_probs(const attn *a, int64_t b, int64_t h, int64_t i, double *p) {
    const int64_t kh = h / a->group;
    int64_t kb, len;
    attn_keys(a, b, &kb, &len);
    int64_t seen = a->causal ? len - a->Tq + i + 1 : len;
    if (seen < 0) seen = 0;
    if (seen > a->Tk) seen = a->Tk;
    double max = -INFINITY;
    for (int64_t j = 0; j < seen; j++) {
        double s = 0.0;
        for (int64_t c = 0; c < a->D; c++) s += at4(&a->q, b, h, i, c) * at4(&a->k, kb, kh, j, c);
        p[j] = s * a->scale;
        max = fmax(max, p[j]);
    }
    double sum = 0.0;
    for (int64_t j = 0; j < seen; j++) {
        p[j] = exp(p[j] - max);
        sum += p[j];
    }
    for (int64_t j = 0; j < a->Tk; j++) p[j] = j < seen ? p[j] / sum : 0.0;
}

/* dS of query i of head h into ds[0..Tk), from its probabilities p and the
 * output gradient g: dP_j = g . v_j, dS_j = P_j (dP_j - sum_l P_l dP_l). */
static void attn_dscores(const attn *a, const hwa__rt *g, int64_t b, int64_t h, int64_t i, const double *p,
                         double *ds) {
    const int64_t kh = h / a->group;
    double dot = 0.0;
    for (int64_t j = 0; j < a->Tk; j++) {
        double dp = 0.0;
        for (int64_t c = 0; c < a->Dv; c++) dp += at4(g, b, h, i, c) * at4(&a->v, b, kh, j, c);
        ds[j] = dp;
        dot += p[j] * dp;
    }
    for (int64_t j = 0; j < a->Tk; j++) ds[j] = p[j] * (ds[j] - dot);
}

static hwa_status attention_forward(hwa_tensor *dst, const attn *a) {
    const hwa__rt d = hwa__rt_of(dst);
    double *p = hwa__ref_scratch(dst, a->Tk, sizeof *p);
    if (!p) return HWA_E_NOMEM;
    for (int64_t b = 0; b < a->B; b++) {
        int64_t kb, len;
        attn_keys(a, b, &kb, &len);
        for (int64_t h = 0; h < a->Hq; h++) {
            for (int64_t i = 0; i < a->Tq; i++) {
                attn_probs(a, b, h, i, p);
                for (int64_t c = 0; c < a->Dv; c++) {
                    double o = 0.0;
                    for (int64_t j = 0; j < len; j++) o += p[j] * at4(&a->v, kb, h / a->group, j, c);
                    put4(&d, b, h, i, c, o);
                }
            }
        }
    }
    hwa__free(dst->ctx, p);
    return HWA_OK;
}

hwa_status hwa__ref_ATTENTION(hwa_tensor *dst) {
    const attn a = attn_of(dst, 0);
    return attention_forward(dst, &a);
}

/* Every row of at [B, 2] names a sequence below C and a position p with
 * n positions from p inside T. */
static hwa_status check_cache_at(const hwa_tensor *dst, const hwa__rt *at, int64_t C, int64_t T, int64_t n) {
    for (int64_t b = 0; b < at->ne[2]; b++) {
        const int32_t c = hwa__rt_i32(at, 2 * b), p = hwa__rt_i32(at, 2 * b + 1);
        if (c < 0 || c >= C) return hwa__ref_range_err(dst, "sequence", c, b, C);
        if (p < 0 || p > T - n)
            return hwa__err(dst->ctx, HWA_E_RANGE, "%s: position %d at row %lld: %lld positions from it overflow %lld",
                            hwa__op_name(dst->op), (int)p, (long long)b, (long long)n, (long long)T);
    }
    return HWA_OK;
}

hwa_status hwa__ref_CACHE_ATTENTION(hwa_tensor *dst) {
    attn a = attn_of(dst, 0);
    a.causal = true;
    a.has_at = true;
    a.at = hwa__rt_of(dst->src[3]);
    const hwa_status st = check_cache_at(dst, &a.at, a.k.ne[0], a.Tk, a.Tq);
    return st ? st : attention_forward(dst, &a);
}

hwa_status hwa__ref_CACHE_WRITE(hwa_tensor *dst) {
    /* dst shares src0's storage: only the rows that src1 covers change. */
    const hwa__rt d = hwa__rt_of(dst), v = hwa__rt_of(dst->src[1]), at = hwa__rt_of(dst->src[2]);
    const hwa_status st = check_cache_at(dst, &at, d.ne[0], d.ne[2], v.ne[2]);
    if (st) return st;
    int64_t idx[4];
    for (int64_t i = 0; i < v.n; i++) {
        hwa__ref_unravel(v.ne, i, idx);
        const float x = hwa__rt_at(&v, hwa__rt_off4(&v, idx));
        const int64_t b = idx[0];
        idx[0] = hwa__rt_i32(&at, 2 * b);
        idx[2] += hwa__rt_i32(&at, 2 * b + 1);
        hwa__rt_put(&d, hwa__rt_off4(&d, idx), x);
    }
    return HWA_OK;
}

/* dQ_i = scale * sum_j dS_ij K_j. */
static void attn_back_dq(const attn *a, const hwa__rt *g, const hwa__rt *d, double *p, double *ds) {
    for (int64_t b = 0; b < a->B; b++) {
        for (int64_t h = 0; h < a->Hq; h++) {
            for (int64_t i = 0; i < a->Tq; i++) {
                attn_probs(a, b, h, i, p);
                attn_dscores(a, g, b, h, i, p, ds);
                for (int64_t c = 0; c < a->D; c++) {
                    double s = 0.0;
                    for (int64_t j = 0; j < a->Tk; j++) s += ds[j] * at4(&a->k, b, h / a->group, j, c);
                    put4(d, b, h, i, c, a->scale * s);
                }
            }
        }
    }
}

/* dK_j = scale * sum_i dS_ij Q_i and dV_j = sum_i P_ij g_i, each summed over
 * the query heads of the kv head's group into acc [Tk, width]. */
static void attn_back_dkv(const attn *a, const hwa__rt *g, const hwa__rt *d, bool dk, double *p, double *ds,
                          double *acc) {
    const int64_t width = dk ? a->D : a->Dv;
    for (int64_t b = 0; b < a->B; b++) {
        for (int64_t kh = 0; kh < a->Hkv; kh++) {
            for (int64_t e = 0; e < a->Tk * width; e++) acc[e] = 0.0;
            for (int64_t h = kh * a->group; h < (kh + 1) * a->group; h++) {
                for (int64_t i = 0; i < a->Tq; i++) {
                    attn_probs(a, b, h, i, p);
                    if (dk) attn_dscores(a, g, b, h, i, p, ds);
                    for (int64_t j = 0; j < a->Tk; j++)
                        for (int64_t c = 0; c < width; c++)
                            acc[j * width + c] += dk ? ds[j] * at4(&a->q, b, h, i, c) : p[j] * at4(g, b, h, i, c);
                }
            }
            for (int64_t j = 0; j < a->Tk; j++)
                for (int64_t c = 0; c < width; c++) put4(d, b, kh, j, c, (dk ? a->scale : 1.0) * acc[j * width + c]);
        }
    }
}

/* src0 g [B, Hq, Tq, Dv], src1 q, src2 k, src3 v; p.i[1]: 0 dq, 1 dk, 2 dv. */
hwa_status hwa__ref_ATTENTION_BACK(hwa_tensor *dst) {
    const attn a = attn_of(dst, 1);
    const hwa__rt g = hwa__rt_of(dst->src[0]), d = hwa__rt_of(dst);
    const int which = dst->p.i[1];
    if (which < 0 || which > 2)
        return hwa__err(dst->ctx, HWA_E_INVALID, "attention_back: which is %d, not 0 (dq), 1 (dk) or 2 (dv)", which);
    const int64_t width = a.D > a.Dv ? a.D : a.Dv;
    double *p = hwa__ref_scratch(dst, a.Tk, sizeof *p);
    double *ds = hwa__ref_scratch(dst, a.Tk, sizeof *ds);
    double *acc = which == 0 ? NULL : hwa__ref_scratch(dst, a.Tk * width, sizeof *acc);
    hwa_status st = HWA_OK;
    if (!p || !ds || (which != 0 && !acc)) st = HWA_E_NOMEM;
    else if (which == 0) attn_back_dq(&a, &g, &d, p, ds);
    else attn_back_dkv(&a, &g, &d, which == 1, p, ds, acc);
    hwa__free(dst->ctx, p);
    hwa__free(dst->ctx, ds);
    hwa__free(dst->ctx, acc);
    return st;
}
