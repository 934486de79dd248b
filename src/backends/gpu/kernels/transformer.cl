/* Transformer pieces: embedding lookup and its backward, rotary position
 * embedding, and scaled dot-product attention with its backward. The host
 * checks index inputs (ids, positions) before a launch, so these kernels
 * never see one out of range. */

/* EMBEDDING: dst [..., D] (n elements) row j = table [V, D] row ids[j]; one
 * item per element of dst. */
HWA_KERNEL void hwa_k_embedding(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *tab, hwa_view tv,
                                HWA_GLOBAL const char *ids, hwa_view iv, hwa_long n) {
    const hwa_long i = HWA_GID(0);
    if (i >= n) return;
    const hwa_long D = tv.ne[3], j = i / D, c = i % D;
    const int id = hwa_ld_i32(ids, hwa_at_flat(iv, iv.ne, j));
    hwa_st(d, dv.dt, hwa_at_flat(dv, dv.ne, i), hwa_ld(tab, tv.dt, hwa_at4(tv, 0, 0, id, c)));
}

/* EMBEDDING_BACK: dst [V, D] = 0, then dst[ids[j]] += g[j] for every j in
 * order, rounding to dst's dtype after each addition as the reference does.
 * One item per column of dst: it owns that column, so the additions into a
 * row happen in the ids' order with no two items touching one element. */
HWA_KERNEL void hwa_k_embedding_back(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *g, hwa_view gv,
                                     HWA_GLOBAL const char *ids, hwa_view iv, hwa_long n_ids) {
    const hwa_long c = HWA_GID(0), V = dv.ne[2], D = dv.ne[3];
    if (c >= D) return;
    for (hwa_long r = 0; r < V; r++) hwa_st(d, dv.dt, hwa_at4(dv, 0, 0, r, c), 0.0f);
    for (hwa_long j = 0; j < n_ids; j++) {
        const int id = hwa_ld_i32(ids, hwa_at_flat(iv, iv.ne, j));
        const hwa_long o = hwa_at4(dv, 0, 0, id, c);
        hwa_st(d, dv.dt, o, hwa_ld(d, dv.dt, o) + hwa_ld(g, gv.dt, hwa_at_flat(gv, gv.ne, j * D + c)));
    }
}

/* ROPE: x and dst [B, T, H, D]; cs holds cos then sin of every angle,
 * [T, D/2] each, computed by the host in double as the CPU does (an f32
 * angle of a large position would be off by far more than a rounding). One
 * item per pair; both members are read before either is written, so dst
 * may alias x. mode: HWA_ROPE_* (0 interleaved pairs (2i, 2i+1), 1 halves
 * (i, i + D/2)). */
HWA_KERNEL void hwa_k_rope(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *x, hwa_view xv,
                           HWA_GLOBAL const float *cs, int mode, hwa_long n) {
    const hwa_long e = HWA_GID(0);
    if (e >= n) return;
    const hwa_long T = xv.ne[1], H = xv.ne[2], nh = xv.ne[3] / 2;
    const hwa_long i = e % nh, r = e / nh, h = r % H, t = (r / H) % T, b = r / H / T;
    const hwa_long ia = mode == 0 ? 2 * i : i, ib = mode == 0 ? 2 * i + 1 : i + nh;
    const float co = cs[t * nh + i], si = cs[T * nh + t * nh + i];
    const float va = hwa_ld(x, xv.dt, hwa_at4(xv, b, t, h, ia)), vb = hwa_ld(x, xv.dt, hwa_at4(xv, b, t, h, ib));
    hwa_st(d, dv.dt, hwa_at4(dv, b, t, h, ia), va * co - vb * si);
    hwa_st(d, dv.dt, hwa_at4(dv, b, t, h, ib), va * si + vb * co);
}

/* ---- attention ---------------------------------------------------------
 * q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv]; query head h
 * reads kv head h / (Hq / Hkv). With causal, query i sees keys
 * 0 .. Tk - Tq + i; a query that sees none has probabilities 0. Work groups
 * have a power-of-two size up to HWA_K_ROW_GROUP, heads are at most
 * HWA_K_ATT_MAX_D wide (the host checks both). */

/* How many keys query i sees. */
HWA_FN hwa_long hwa_attn_seen(hwa_long Tq, hwa_long Tk, hwa_long i, int causal) {
    const hwa_long n = causal ? Tk - Tq + i + 1 : Tk;
    return n < 0 ? 0 : n > Tk ? Tk : n;
}

/* The dot product of the local row x (n floats) with the row of p at
 * element offset o (stride s), in index order. */
HWA_FN float hwa_dot_row(HWA_LOCAL const float *x, HWA_GLOBAL const char *p, int dt, hwa_long o, hwa_long s,
                         hwa_long n) {
    float acc = 0.0f;
    for (hwa_long c = 0; c < n; c++) acc += x[c] * hwa_ld(p, dt, o + c * s);
    return acc;
}

/* A row of p (n elements from offset o, stride s) into the local array x. */
HWA_FN void hwa_stage_row(HWA_LOCAL float *x, HWA_GLOBAL const char *p, int dt, hwa_long o, hwa_long s, hwa_long n) {
    for (hwa_long c = HWA_LID(0); c < n; c += HWA_LSIZE(0)) x[c] = hwa_ld(p, dt, o + c * s);
}

/* ATTENTION: one work group per (b, h, query i). Keys come in chunks of the
 * group's size, one per item: the item computes its key's score, the group
 * its max; the running output (one column per item, in local memory) and
 * each item's running sum are rescaled to the new max (online softmax),
 * then the chunk's probabilities are added into the output in key order. */
HWA_KERNEL void hwa_k_attention(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const char *q, hwa_view qv,
                                HWA_GLOBAL const char *k, hwa_view kv, HWA_GLOBAL const char *v, hwa_view vv,
                                float scale, int causal) {
    HWA_LOCAL_MEM(float, qs, HWA_K_ATT_MAX_D);
    HWA_LOCAL_MEM(float, acc, HWA_K_ATT_MAX_D);
    HWA_LOCAL_MEM(float, p, HWA_K_ROW_GROUP);
    HWA_LOCAL_MEM(float, buf, HWA_K_ROW_GROUP);
    const hwa_long Hq = qv.ne[1], Tq = qv.ne[2], D = qv.ne[3], Tk = kv.ne[2], Dv = vv.ne[3];
    const hwa_long i = HWA_GRP(0) % Tq, h = HWA_GRP(0) / Tq % Hq, b = HWA_GRP(0) / Tq / Hq;
    const hwa_long kh = h / (Hq / kv.ne[1]), l = HWA_LID(0), step = HWA_LSIZE(0);
    const hwa_long seen = hwa_attn_seen(Tq, Tk, i, causal);
    hwa_stage_row(qs, q, qv.dt, hwa_at4(qv, b, h, i, 0), qv.st[3], D);
    for (hwa_long c = l; c < Dv; c += step) acc[c] = 0.0f;
    HWA_BARRIER();
    float m = -INFINITY, sum = 0.0f;
    for (hwa_long j0 = 0; j0 < seen; j0 += step) {
        const hwa_long j = j0 + l, nj = seen - j0 < step ? seen - j0 : step;
        const float s = j < seen ? scale * hwa_dot_row(qs, k, kv.dt, hwa_at4(kv, b, kh, j, 0), kv.st[3], D) : -INFINITY;
        const float mn = fmax(m, hwa_group_max(buf, s));
        const float alpha = exp(m - mn), e = j < seen ? exp(s - mn) : 0.0f;
        p[l] = e;
        sum = sum * alpha + e;
        HWA_BARRIER();
        for (hwa_long c = l; c < Dv; c += step) {
            float o = acc[c] * alpha;
            for (hwa_long jj = 0; jj < nj; jj++) o += p[jj] * hwa_ld(v, vv.dt, hwa_at4(vv, b, kh, j0 + jj, c));
            acc[c] = o;
        }
        HWA_BARRIER();
        m = mn;
    }
    const float total = hwa_group_sum(buf, sum);
    for (hwa_long c = l; c < Dv; c += step) hwa_st(d, dv.dt, hwa_at4(dv, b, h, i, c), seen > 0 ? acc[c] / total : 0.0f);
}

/* For the backward: per (b, h, query i), stats[2 r] = the log of the
 * softmax's denominator with its max, L (so P_j = exp(s_j - L)), and
 * stats[2 r + 1] = sum_j P_j dP_j with dP_j = g_i . v_j; r the query's
 * flat index over [B, Hq, Tq]. One work group per query, two passes over
 * the keys (one item per key). */
HWA_KERNEL void hwa_k_attn_stats(HWA_GLOBAL float *stats, HWA_GLOBAL const char *g, hwa_view gv,
                                 HWA_GLOBAL const char *q, hwa_view qv, HWA_GLOBAL const char *k, hwa_view kv,
                                 HWA_GLOBAL const char *v, hwa_view vv, float scale, int causal) {
    HWA_LOCAL_MEM(float, qs, HWA_K_ATT_MAX_D);
    HWA_LOCAL_MEM(float, gs, HWA_K_ATT_MAX_D);
    HWA_LOCAL_MEM(float, buf, HWA_K_ROW_GROUP);
    const hwa_long Hq = qv.ne[1], Tq = qv.ne[2], D = qv.ne[3], Tk = kv.ne[2], Dv = vv.ne[3];
    const hwa_long r = HWA_GRP(0), i = r % Tq, h = r / Tq % Hq, b = r / Tq / Hq;
    const hwa_long kh = h / (Hq / kv.ne[1]), l = HWA_LID(0), step = HWA_LSIZE(0);
    const hwa_long seen = hwa_attn_seen(Tq, Tk, i, causal);
    hwa_stage_row(qs, q, qv.dt, hwa_at4(qv, b, h, i, 0), qv.st[3], D);
    hwa_stage_row(gs, g, gv.dt, hwa_at4(gv, b, h, i, 0), gv.st[3], Dv);
    HWA_BARRIER();
    float m = -INFINITY, sum = 0.0f; /* this item's keys, online */
    for (hwa_long j = l; j < seen; j += step) {
        const float s = scale * hwa_dot_row(qs, k, kv.dt, hwa_at4(kv, b, kh, j, 0), kv.st[3], D);
        const float mn = fmax(m, s);
        sum = sum * exp(m - mn) + exp(s - mn);
        m = mn;
    }
    const float gm = hwa_group_max(buf, m);
    const float total = hwa_group_sum(buf, m == -INFINITY ? 0.0f : sum * exp(m - gm));
    const float L = seen > 0 ? gm + log(total) : 0.0f;
    float dot = 0.0f;
    for (hwa_long j = l; j < seen; j += step) {
        const float s = scale * hwa_dot_row(qs, k, kv.dt, hwa_at4(kv, b, kh, j, 0), kv.st[3], D);
        dot += exp(s - L) * hwa_dot_row(gs, v, vv.dt, hwa_at4(vv, b, kh, j, 0), vv.st[3], Dv);
    }
    dot = hwa_group_sum(buf, dot);
    if (l == 0) {
        stats[2 * r] = L;
        stats[2 * r + 1] = dot;
    }
}

/* ATTENTION_BACK with the stats above; which: 0 dq, 1 dk, 2 dv.
 *  dq: one work group per (b, h, query i); keys in chunks, one per item:
 *      dS_j = P_j (dP_j - dot), dq = scale * sum_j dS_j k_j in key order.
 *  dk, dv: one work group per (b, kv head, key j); the (query head of its
 *      group, query) pairs in chunks, one per item, in head-then-query
 *      order: dk = scale * sum dS q, dv = sum P g.
 * Each item owns columns of the output row, kept in local memory. */
HWA_KERNEL void hwa_k_attn_back(HWA_GLOBAL char *d, hwa_view dv, HWA_GLOBAL const float *stats,
                                HWA_GLOBAL const char *g, hwa_view gv, HWA_GLOBAL const char *q, hwa_view qv,
                                HWA_GLOBAL const char *k, hwa_view kv, HWA_GLOBAL const char *v, hwa_view vv,
                                float scale, int causal, int which) {
    HWA_LOCAL_MEM(float, xs, HWA_K_ATT_MAX_D); /* dq: the query; dk, dv: the key */
    HWA_LOCAL_MEM(float, ys, HWA_K_ATT_MAX_D); /* dq: the output gradient; dk, dv: the value */
    HWA_LOCAL_MEM(float, acc, HWA_K_ATT_MAX_D);
    HWA_LOCAL_MEM(float, w, HWA_K_ROW_GROUP);
    const hwa_long Hq = qv.ne[1], Tq = qv.ne[2], D = qv.ne[3], Hkv = kv.ne[1], Tk = kv.ne[2], Dv = vv.ne[3];
    const hwa_long G = Hq / Hkv, l = HWA_LID(0), step = HWA_LSIZE(0);
    const hwa_long width = which == 2 ? Dv : D;
    if (which == 0) {
        const hwa_long i = HWA_GRP(0) % Tq, h = HWA_GRP(0) / Tq % Hq, b = HWA_GRP(0) / Tq / Hq, kh = h / G;
        const hwa_long seen = hwa_attn_seen(Tq, Tk, i, causal), r = HWA_GRP(0);
        const float L = stats[2 * r], dot = stats[2 * r + 1];
        hwa_stage_row(xs, q, qv.dt, hwa_at4(qv, b, h, i, 0), qv.st[3], D);
        hwa_stage_row(ys, g, gv.dt, hwa_at4(gv, b, h, i, 0), gv.st[3], Dv);
        for (hwa_long c = l; c < D; c += step) acc[c] = 0.0f;
        HWA_BARRIER();
        for (hwa_long j0 = 0; j0 < seen; j0 += step) {
            const hwa_long j = j0 + l, nj = seen - j0 < step ? seen - j0 : step;
            float ds = 0.0f;
            if (j < seen) {
                const float s = scale * hwa_dot_row(xs, k, kv.dt, hwa_at4(kv, b, kh, j, 0), kv.st[3], D);
                const float dp = hwa_dot_row(ys, v, vv.dt, hwa_at4(vv, b, kh, j, 0), vv.st[3], Dv);
                ds = exp(s - L) * (dp - dot);
            }
            w[l] = ds;
            HWA_BARRIER();
            for (hwa_long c = l; c < D; c += step) {
                float o = acc[c];
                for (hwa_long jj = 0; jj < nj; jj++) o += w[jj] * hwa_ld(k, kv.dt, hwa_at4(kv, b, kh, j0 + jj, c));
                acc[c] = o;
            }
            HWA_BARRIER();
        }
        for (hwa_long c = l; c < D; c += step) hwa_st(d, dv.dt, hwa_at4(dv, b, h, i, c), scale * acc[c]);
        return;
    }
    const hwa_long j = HWA_GRP(0) % Tk, kh = HWA_GRP(0) / Tk % Hkv, b = HWA_GRP(0) / Tk / Hkv;
    const hwa_long npairs = G * Tq;
    hwa_stage_row(xs, k, kv.dt, hwa_at4(kv, b, kh, j, 0), kv.st[3], D);
    hwa_stage_row(ys, v, vv.dt, hwa_at4(vv, b, kh, j, 0), vv.st[3], Dv);
    for (hwa_long c = l; c < width; c += step) acc[c] = 0.0f;
    HWA_BARRIER();
    for (hwa_long r0 = 0; r0 < npairs; r0 += step) {
        const hwa_long r = r0 + l, nr = npairs - r0 < step ? npairs - r0 : step;
        float x = 0.0f;
        if (r < npairs) {
            const hwa_long h = kh * G + r / Tq, i = r % Tq, sr = (b * Hq + h) * Tq + i;
            if (j < hwa_attn_seen(Tq, Tk, i, causal)) {
                const float s = scale * hwa_dot_row(xs, q, qv.dt, hwa_at4(qv, b, h, i, 0), qv.st[3], D);
                const float p = exp(s - stats[2 * sr]);
                x = which == 2 ? p : p * (hwa_dot_row(ys, g, gv.dt, hwa_at4(gv, b, h, i, 0), gv.st[3], Dv) -
                                          stats[2 * sr + 1]);
            }
        }
        w[l] = x;
        HWA_BARRIER();
        for (hwa_long c = l; c < width; c += step) {
            float o = acc[c];
            for (hwa_long rr = 0; rr < nr; rr++) {
                const hwa_long h = kh * G + (r0 + rr) / Tq, i = (r0 + rr) % Tq;
                o += w[rr] * (which == 2 ? hwa_ld(g, gv.dt, hwa_at4(gv, b, h, i, c))
                                         : hwa_ld(q, qv.dt, hwa_at4(qv, b, h, i, c)));
            }
            acc[c] = o;
        }
        HWA_BARRIER();
    }
    for (hwa_long c = l; c < width; c += step)
        hwa_st(d, dv.dt, hwa_at4(dv, b, kh, j, c), (which == 1 ? scale : 1.0f) * acc[c]);
}
