/* Data-parallel training steps. Each global batch of R rows is cut into U
 * slices of rows in order (slice u holds rows [u R / U, (u+1) R / U)); this
 * rank computes slices [u0, u1). The batch's gradient, the mean over its
 * rows, is the sum over slices of (slice rows / R) times the slice's mean
 * gradient, so each slice's gradient is weighted by its share and the
 * weighted gradients are summed over the ranks.
 *
 * Two ways to sum:
 * - one slice per rank (U = ranks): each rank's gradients go out in
 *   buckets, each started (MPI_Iallreduce) as soon as the backward pass has
 *   written its gradients: the graph runs in parts, the last layer's
 *   gradients first, and the allreduce of one bucket proceeds while the
 *   next part computes;
 * - a fixed order (U = shards): every slice's weighted gradient is
 *   gathered on every rank and added in slice order, so that the sum has
 *   the same bits for any number of ranks, one process included. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train/train_internal.h"

typedef struct bucket {
    int first, n;       /* its gradients: dp->grads[first .. first + n) */
    bool in_place;      /* one gradient, summed where it lies when that is host memory (else
                           through stage); every rank cuts the same buckets, whatever its device */
    int64_t count;      /* floats */
    float *stage;       /* packed gradients (NULL in place) */
    void *req;
} bucket;

typedef struct hwa__dp {
    int n_grads;
    hwa_tensor **grads;   /* in the order the backward pass finishes them */
    int64_t *counts;      /* elements of each */
    int64_t total;        /* P: elements of every gradient */
    int n_buckets;
    bucket *b;
    /* per training graph (train_full, train_rest, unit_g[0..1]): after which
     * node each bucket's gradients are final, and the loss's node */
    int *ends[HWA__DP_MAX_GRAPHS];
    int loss_node[HWA__DP_MAX_GRAPHS];
    bool segmented;       /* the graphs run in parts (one backend, not placed) */
    double loss_red[2];   /* one slice per rank: weighted loss, non-finite count */
    /* fixed order */
    int per_rank;         /* slots each rank sends: the most slices a rank has */
    float *send, *recv;   /* [per_rank][P + 1], [ranks * per_rank][P + 1] (slot: gradients, loss) */
    float *acc;           /* [P] */
    bool mixed;           /* the ranks compute on different devices (or placements) */
} hwa__dp;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t slice_lo(int64_t R, int U, int u) { return (int64_t)u * R / U; }
static int64_t slice_rows(int64_t R, int U, int u) { return slice_lo(R, U, u + 1) - slice_lo(R, U, u); }

hwa_status hwa__train_dp_setup(hwa_trainer *t, int64_t n_train) {
    const hwa_train_config *c = &t->cfg;
    t->dist = c->dist;
    t->units = 1;
    t->u0 = 0;
    t->u1 = 1;
    const int N = hwa_dist_size(t->dist), r = hwa_dist_rank(t->dist), K = c->shards;
    if (K < 0) return hwa__err(NULL, HWA_E_INVALID, "train: --shards %d must be >= 0", K);
    if (c->bucket_bytes < 0)
        return hwa__err(NULL, HWA_E_INVALID, "train: a bucket of %lld bytes", (long long)c->bucket_bytes);
    if (N == 1 && K <= 1) return HWA_OK; /* one process, one slice: the plain path */
    if (K && K < N)
        return hwa__err(NULL, HWA_E_INVALID, "train: --shards %d must be at least the %d ranks (each rank computes "
                        "whole slices)", K, N);
    const int U = K ? K : N;
    if (U > c->batch) {
        if (K) return hwa__err(NULL, HWA_E_INVALID, "train: --shards %d exceeds --batch %lld", K, (long long)c->batch);
        return hwa__err(NULL, HWA_E_INVALID,
                        "train: %d ranks but a global batch of %lld: every rank needs at least one sample of each "
                        "batch (a larger --batch, or fewer ranks)", N, (long long)c->batch);
    }
    if (n_train < c->batch)
        return hwa__err(NULL, HWA_E_INVALID, "train: %lld training samples, fewer than one global batch of %lld: "
                        "data-parallel training needs at least one", (long long)n_train, (long long)c->batch);
    t->units = U;
    t->u0 = (int)((int64_t)r * U / N);
    t->u1 = (int)((int64_t)(r + 1) * U / N);
    return HWA_OK;
}

/* The training graphs, by the order dp's arrays use. */
static hwa__batch_graph *graph_k(hwa_trainer *t, int k) {
    hwa__batch_graph *g[HWA__DP_MAX_GRAPHS] = {&t->train_full, &t->train_rest, &t->unit_g[0], &t->unit_g[1]};
    return g[k];
}

static hwa__batch_graph *graph_of_rows(hwa_trainer *t, int64_t rows, int *k) {
    for (int i = 0; i < HWA__DP_MAX_GRAPHS; i++)
        if (graph_k(t, i)->g && graph_k(t, i)->rows == rows) {
            if (k) *k = i;
            return graph_k(t, i);
        }
    return NULL;
}

hwa_status hwa__train_dp_graphs(hwa_trainer *t) {
    const int64_t n = hwa_dataset_n(t->train), B = t->cfg.batch, R = t->cfg.drop_last ? 0 : n % B;
    int64_t want[HWA__DP_MAX_GRAPHS];
    int n_want = 0;
    const int64_t batches[2] = {B, R};
    for (int k = 0; k < 2; k++)
        for (int u = t->u0; u < t->u1 && batches[k]; u++) {
            const int64_t rows = slice_rows(batches[k], t->units, u);
            bool have = rows == 0;
            for (int j = 0; j < n_want; j++) have |= want[j] == rows;
            if (!have) want[n_want++] = rows; /* at most 2 sizes per batch size */
        }
    hwa_status st = HWA_OK;
    for (int j = 0; j < n_want && st == HWA_OK; j++)
        st = hwa__train_build_batch_graph(t, want[j], true, graph_k(t, j));
    return st;
}

/* The node after which g's gradient of parameter p is final: the copy into
 * its storage that the backward pass ends with. */
static int ready_node(hwa_graph *g, const hwa_tensor *grad) {
    int at = -1;
    for (int i = 0; i < hwa_graph_n_nodes(g); i++) {
        const hwa_tensor *n = hwa_graph_node(g, i);
        if ((n->flags & HWA_TF_INPLACE) && n->view_src == grad) at = i;
    }
    return at;
}

static int node_index(hwa_graph *g, const hwa_tensor *x) {
    for (int i = 0; i < hwa_graph_n_nodes(g); i++)
        if (hwa_graph_node(g, i) == x) return i;
    return -1;
}

hwa_status hwa__train_dp_prepare(hwa_trainer *t) {
    hwa__dp *dp = calloc(1, sizeof *dp);
    if (!dp) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    t->dp = dp;
    hwa_graph *g0 = t->train_full.g;
    const int np = hwa_graph_n_params(g0);
    dp->grads = calloc((size_t)np, sizeof *dp->grads);
    dp->counts = calloc((size_t)np, sizeof *dp->counts);
    int *ready = calloc((size_t)np, sizeof *ready);
    if (!dp->grads || !dp->counts || !ready) {
        free(ready);
        return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    }
    /* the gradients in the order the first graph finishes them */
    for (int i = 0; i < np; i++) {
        hwa_tensor *gr = hwa_tensor_grad(hwa_graph_param(g0, i));
        const int at = ready_node(g0, gr);
        int j = i;
        for (; j > 0 && ready[j - 1] > at; j--) {
            ready[j] = ready[j - 1];
            dp->grads[j] = dp->grads[j - 1];
        }
        ready[j] = at;
        dp->grads[j] = gr;
    }
    free(ready);
    dp->n_grads = np;
    for (int i = 0; i < np; i++) {
        dp->counts[i] = hwa_tensor_nelements(dp->grads[i]);
        dp->total += dp->counts[i];
    }
    /* Buckets: a gradient of half the bucket size or more alone (in place
     * where it is in host memory), smaller ones packed until the bucket
     * fills. By size alone: the ranks' collectives must match, and ranks
     * may compute on different devices. */
    const int64_t cap = t->cfg.bucket_bytes > 0 ? t->cfg.bucket_bytes : (int64_t)4 << 20;
    if (!(dp->b = calloc((size_t)np, sizeof *dp->b))) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    int first = -1;
    int64_t pend = 0;
    for (int i = 0; i <= np; i++) {
        const bool alone = i < np && dp->counts[i] * 4 >= cap / 2;
        if (first >= 0 && (i == np || alone || pend * 4 >= cap)) {
            dp->b[dp->n_buckets++] = (bucket){.first = first, .n = i - first, .count = pend};
            first = -1;
            pend = 0;
        }
        if (i == np) break;
        if (alone) {
            dp->b[dp->n_buckets++] = (bucket){.first = i, .n = 1, .in_place = true, .count = dp->counts[i]};
            continue;
        }
        if (first < 0) first = i;
        pend += dp->counts[i];
    }
    for (int k = 0; k < dp->n_buckets; k++)
        if (!(dp->b[k].in_place && hwa_tensor_data(dp->grads[dp->b[k].first])) &&
            !(dp->b[k].stage = malloc((size_t)dp->b[k].count * sizeof(float))))
            return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    /* Where each graph's buckets are final: in parts only when every graph
     * finishes the gradients in the same order, on one backend. */
    dp->segmented = !t->placed && t->cfg.shards == 0 && hwa__backend_runs_parts(t->be);
    for (int k = 0; k < HWA__DP_MAX_GRAPHS; k++) {
        hwa_graph *g = graph_k(t, k)->g;
        if (!g) continue;
        if (!(dp->ends[k] = calloc((size_t)dp->n_buckets, sizeof(int))))
            return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
        dp->loss_node[k] = node_index(g, graph_k(t, k)->loss);
        int prev = dp->loss_node[k];
        for (int b = 0; b < dp->n_buckets; b++) {
            int end = -1;
            for (int j = dp->b[b].first; j < dp->b[b].first + dp->b[b].n; j++) {
                const int at = ready_node(g, dp->grads[j]);
                if (at > end) end = at;
            }
            dp->ends[k][b] = end + 1;
            if (end < prev) dp->segmented = false;
            prev = end;
        }
    }
    /* Ranks on different devices (or placed, each by its own choice) round
     * the optimizer's update differently: their weights are made rank 0's
     * after each epoch instead of compared. */
    if (hwa_dist_size(t->dist) > 1) {
        const int N = hwa_dist_size(t->dist);
        char mine[64] = "", *all = calloc((size_t)N, sizeof mine);
        snprintf(mine, sizeof mine, "%s", t->device);
        void *req = NULL;
        hwa_status st = all ? hwa__dist_allgather_start(t->dist, mine, all, sizeof mine, &req)
                            : hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
        if (st == HWA_OK) st = hwa__dist_wait(t->dist, &req, 1, "the ranks' devices");
        for (int r = 0; st == HWA_OK && r < N; r++)
            dp->mixed |= strcmp(all + r * sizeof mine, all) != 0 || !strcmp(all + r * sizeof mine, "auto");
        free(all);
        if (st) return st;
    }
    if (t->cfg.shards > 0) {
        const int N = hwa_dist_size(t->dist), U = t->units;
        dp->per_rank = (U + N - 1) / N;
        const size_t slot = (size_t)(dp->total + 1);
        dp->send = calloc((size_t)dp->per_rank * slot, sizeof(float));
        dp->recv = N > 1 ? calloc((size_t)N * (size_t)dp->per_rank * slot, sizeof(float)) : dp->send;
        dp->acc = malloc((size_t)dp->total * sizeof(float));
        if (!dp->send || !dp->recv || !dp->acc) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    }
    return HWA_OK;
}

void hwa__train_dp_free(hwa_trainer *t) {
    hwa__dp *dp = t ? t->dp : NULL;
    if (!dp) return;
    for (int k = 0; k < dp->n_buckets; k++) free(dp->b[k].stage);
    for (int k = 0; k < HWA__DP_MAX_GRAPHS; k++) free(dp->ends[k]);
    if (dp->recv != dp->send) free(dp->recv);
    free(dp->send);
    free(dp->acc);
    free(dp->b);
    free(dp->grads);
    free(dp->counts);
    free(dp);
    t->dp = NULL;
}

/* Gradient j into dst (count floats): from host memory, or read from the
 * device. */
static hwa_status grad_out(hwa__dp *dp, int j, float *dst) {
    const float *src = hwa_tensor_data(dp->grads[j]);
    if (!src) return hwa_tensor_get_f32(dp->grads[j], dst, dp->counts[j]);
    if (src != dst) memcpy(dst, src, (size_t)dp->counts[j] * sizeof(float));
    return HWA_OK;
}

/* Sets a slice's share of its batch's rows (n of R) into its graph, whose
 * loss and gradients then come out weighted by it. */
static hwa_status share_set(hwa__batch_graph *bg, int64_t n, int64_t R) {
    const float w = (float)((double)n / (double)R);
    return hwa_tensor_set_f32(bg->share, &w, 1);
}

/* src (count floats) into gradient j. */
static hwa_status grad_in(hwa__dp *dp, int j, const float *src) {
    float *dst = hwa_tensor_data(dp->grads[j]);
    if (!dst) return hwa_tensor_set_f32(dp->grads[j], src, dp->counts[j]);
    if (dst != src) memcpy(dst, src, (size_t)dp->counts[j] * sizeof(float));
    hwa_tensor_mark_modified(dp->grads[j]);
    return HWA_OK;
}

/* Starts the sum over the ranks of bucket b's (weighted) gradients. */
static hwa_status bucket_start(hwa_trainer *t, bucket *b) {
    hwa__dp *dp = t->dp;
    hwa_status st = HWA_OK;
    float *buf = b->stage;
    if (!b->stage) { /* in place, in host memory */
        buf = hwa_tensor_data(dp->grads[b->first]);
    } else {
        int64_t off = 0;
        for (int j = b->first; j < b->first + b->n && st == HWA_OK; j++) {
            st = grad_out(dp, j, b->stage + off);
            off += dp->counts[j];
        }
    }
    const double t0 = now_s();
    if (st == HWA_OK) st = hwa__dist_allreduce_start(t->dist, buf, b->count, false, &b->req);
    t->comm_s += now_s() - t0;
    return st;
}

/* Lets the started collectives progress (MPI moves them on when called). */
static hwa_status progress(hwa_trainer *t, int started) {
    hwa__dp *dp = t->dp;
    const double t0 = now_s();
    hwa_status st = HWA_OK;
    for (int k = 0; k < started && st == HWA_OK; k++) st = hwa__dist_progress(t->dist, &dp->b[k].req, 1, NULL);
    t->comm_s += now_s() - t0;
    return st;
}

/* Tells the other ranks that this one has computed its share of the step
 * and waits for theirs: a rank that never says so is the one a timeout
 * names. */
static hwa_status arrived(hwa_trainer *t) {
    char where[96];
    snprintf(where, sizeof where, "epoch %lld, step %lld", (long long)t->epoch + 1,
             (long long)hwa_optim_steps(t->opt) + 1);
    const double t0 = now_s();
    hwa_status st = hwa__dist_beat(t->dist, where);
    t->comm_s += now_s() - t0;
    return st;
}

/* One slice per rank: compute, weight, and sum in buckets while the
 * backward pass runs. */
static hwa_status step_ranks(hwa_trainer *t, int64_t R, double *loss, bool *finite) {
    hwa__dp *dp = t->dp;
    const int64_t lo = slice_lo(R, t->units, t->u0), n = slice_rows(R, t->units, t->u0);
    void *loss_req = NULL;
    hwa_status st = HWA_OK;
    int k = 0, started = 0;
    hwa__batch_graph *bg = n ? graph_of_rows(t, n, &k) : NULL;
    dp->loss_red[0] = dp->loss_red[1] = 0.0;
    if (n && !bg) return hwa__err(NULL, HWA_E_INTERNAL, "train: no graph of %lld rows", (long long)n);
    if (bg) st = hwa__train_set_inputs(t, bg, lo);
    if (bg && st == HWA_OK) st = share_set(bg, n, R);
    /* the loss's sum starts once the forward pass has run */
    int done = 0;
    const int n_nodes = bg ? hwa_graph_n_nodes(bg->g) : 0;
    if (bg && !dp->segmented) {
        if (st == HWA_OK) st = hwa__train_compute(t, bg);
        done = n_nodes;
    } else if (bg && st == HWA_OK) {
        done = dp->loss_node[k] + 1;
        st = hwa__graph_compute_range(bg->g, t->be, 0, done);
    }
    if (st == HWA_OK && bg) {
        float l;
        if ((st = hwa_tensor_get_f32(bg->loss, &l, 1))) return st;
        dp->loss_red[0] = l; /* weighted by the slice's share */
        dp->loss_red[1] = isfinite(l) ? 0.0 : 1.0;
    }
    if (st == HWA_OK && !bg) st = hwa_graph_zero_grads(t->train_full.g); /* no rows: a zero share */
    if (st == HWA_OK) {
        const double t0 = now_s();
        st = hwa__dist_allreduce_start(t->dist, dp->loss_red, 2, true, &loss_req);
        t->comm_s += now_s() - t0;
    }
    for (int b = 0; b < dp->n_buckets && st == HWA_OK; b++) {
        if (bg && done < dp->ends[k][b]) {
            st = hwa__graph_compute_range(bg->g, t->be, done, dp->ends[k][b]);
            done = dp->ends[k][b];
        }
        if (st == HWA_OK) st = bucket_start(t, &dp->b[b]);
        started = b + 1;
        if (st == HWA_OK) st = progress(t, started);
    }
    if (st == HWA_OK && bg && done < n_nodes) st = hwa__graph_compute_range(bg->g, t->be, done, n_nodes);
    if (st == HWA_OK) st = arrived(t);
    const double t0 = now_s();
    if (st == HWA_OK) st = hwa__dist_wait(t->dist, &loss_req, 1, "the batch's loss");
    for (int b = 0; b < started && st == HWA_OK; b++) st = hwa__dist_wait(t->dist, &dp->b[b].req, 1, "the gradients");
    t->comm_s += now_s() - t0;
    for (int b = 0; b < started && st == HWA_OK; b++) {
        const bucket *bk = &dp->b[b];
        int64_t off = 0;
        for (int j = bk->first; j < bk->first + bk->n && st == HWA_OK; j++) {
            st = grad_in(dp, j, bk->stage ? bk->stage + off : hwa_tensor_data(dp->grads[j]));
            off += dp->counts[j];
        }
    }
    if (st) return st;
    *loss = dp->loss_red[0];
    *finite = dp->loss_red[1] == 0.0;
    return HWA_OK;
}

/* The rank that computes slice u. */
static int owner(int U, int N, int u) {
    int r = 0;
    while ((int64_t)(r + 1) * U / N <= u) r++;
    return r;
}

/* A fixed order: this rank's slices one after the other, every slice
 * gathered on every rank and added in slice order. */
static hwa_status step_fixed(hwa_trainer *t, int64_t R, double *loss, bool *finite) {
    hwa__dp *dp = t->dp;
    const int U = t->units, N = hwa_dist_size(t->dist);
    const int64_t P = dp->total, slot = P + 1;
    hwa_status st = HWA_OK;
    for (int u = t->u0; u < t->u1 && st == HWA_OK; u++) {
        float *s = dp->send + (int64_t)(u - t->u0) * slot;
        const int64_t n = slice_rows(R, U, u);
        hwa__batch_graph *bg = n ? graph_of_rows(t, n, NULL) : NULL;
        if (!n) {
            memset(s, 0, (size_t)slot * sizeof(float));
            continue;
        }
        if (!bg) return hwa__err(NULL, HWA_E_INTERNAL, "train: no graph of %lld rows", (long long)n);
        float l;
        if ((st = hwa__train_set_inputs(t, bg, slice_lo(R, U, u))) || (st = share_set(bg, n, R)) ||
            (st = hwa__train_compute(t, bg)) || (st = hwa_tensor_get_f32(bg->loss, &l, 1)))
            return st;
        int64_t off = 0;
        for (int j = 0; j < dp->n_grads && st == HWA_OK; j++) {
            st = grad_out(dp, j, s + off);
            off += dp->counts[j];
        }
        s[P] = l; /* weighted by the slice's share */
    }
    if (st == HWA_OK) st = arrived(t);
    if (st) return st;
    if (N > 1) {
        void *req = NULL;
        const double t0 = now_s();
        st = hwa__dist_allgather_start(t->dist, dp->send, dp->recv, (int64_t)dp->per_rank * slot * (int64_t)sizeof(float),
                                       &req);
        if (st == HWA_OK) st = hwa__dist_wait(t->dist, &req, 1, "the gradients");
        t->comm_s += now_s() - t0;
        if (st) return st;
    }
    double sum = 0.0;
    bool ok = true;
    for (int u = 0; u < U; u++) {
        const int r = owner(U, N, u);
        const float *s = dp->recv + ((int64_t)r * dp->per_rank + (u - (int)((int64_t)r * U / N))) * slot;
        if (u == 0) memcpy(dp->acc, s, (size_t)P * sizeof(float));
        else
            for (int64_t k = 0; k < P; k++) dp->acc[k] += s[k];
        ok &= isfinite(s[P]) != 0;
        sum += (double)s[P];
    }
    int64_t off = 0;
    for (int j = 0; j < dp->n_grads && st == HWA_OK; j++) {
        st = grad_in(dp, j, dp->acc + off);
        off += dp->counts[j];
    }
    *loss = sum;
    *finite = ok;
    return st;
}

hwa_status hwa__train_dp_step(hwa_trainer *t, int64_t i, double *loss, bool *finite, int64_t *rows) {
    hwa_status st = hwa_loader_batch(t->loader, i, t->xbuf, t->ybuf, rows);
    if (st) return st;
    return t->cfg.shards > 0 ? step_fixed(t, *rows, loss, finite) : step_ranks(t, *rows, loss, finite);
}

/* FNV-1a over the parameters' bytes. */
static uint64_t params_hash(hwa_trainer *t, hwa_status *st) {
    uint64_t h = 1469598103934665603ull;
    for (int l = 0; l < 2 * t->n_layers && *st == HWA_OK; l++) {
        char name[HWA_MAX_NAME];
        hwa_tensor *p = hwa__train_param(t, l, name, sizeof name);
        const int64_t n = hwa_tensor_nelements(p);
        const float *d = hwa_tensor_data(p);
        float *copy = NULL;
        if (!d) {
            if (!(copy = malloc((size_t)n * sizeof(float)))) {
                *st = hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
                break;
            }
            *st = hwa_tensor_get_f32(p, copy, n);
            d = copy;
        }
        const unsigned char *b = (const unsigned char *)d;
        for (int64_t k = 0; *st == HWA_OK && k < n * (int64_t)sizeof(float); k++) h = (h ^ b[k]) * 1099511628211ull;
        free(copy);
    }
    return h;
}

/* Every rank takes rank 0's parameters and optimizer state: a sum over
 * the ranks in which the others give zeros, exact. */
static hwa_status sync_to_rank0(hwa_trainer *t) {
    const int slots = hwa_optim_n_slots(t->opt), me = hwa_dist_rank(t->dist);
    hwa_graph *g = t->train_full.g;
    const int np = hwa_graph_n_params(g);
    int64_t total = 0;
    for (int i = 0; i < np; i++) total += hwa_tensor_nelements(hwa_graph_param(g, i)) * (1 + slots);
    float *buf = calloc((size_t)total, sizeof *buf);
    if (!buf) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    hwa_status st = HWA_OK;
    for (int pass = 0; pass < 2 && st == HWA_OK; pass++) {
        int64_t off = 0;
        for (int i = 0; i < np && st == HWA_OK; i++)
            for (int k = -1; k < slots && st == HWA_OK; k++) {
                hwa_tensor *x = k < 0 ? hwa_graph_param(g, i) : hwa_optim_state(t->opt, i, k);
                const int64_t n = hwa_tensor_nelements(x);
                if (pass == 0 && me == 0) st = hwa_tensor_get_f32(x, buf + off, n);
                if (pass == 1 && me != 0) st = hwa_tensor_set_f32(x, buf + off, n);
                off += n;
            }
        if (pass == 0 && st == HWA_OK) {
            void *req = NULL;
            const double t0 = now_s();
            st = hwa__dist_beat(t->dist, "the weights' copy from rank 0");
            if (st == HWA_OK) st = hwa__dist_allreduce_start(t->dist, buf, total, false, &req);
            if (st == HWA_OK) st = hwa__dist_wait(t->dist, &req, 1, "rank 0's weights");
            t->comm_s += now_s() - t0;
        }
    }
    free(buf);
    return st;
}

hwa_status hwa__train_dp_check(hwa_trainer *t) {
    const int N = hwa_dist_size(t->dist);
    if (N < 2) return HWA_OK;
    if (t->dp->mixed) return sync_to_rank0(t);
    hwa_status st = HWA_OK;
    const uint64_t mine = params_hash(t, &st);
    uint64_t *all = calloc((size_t)N, sizeof *all);
    if (!all) return hwa__err(NULL, HWA_E_NOMEM, "train: out of memory");
    void *req = NULL;
    const double t0 = now_s();
    if (st == HWA_OK) st = hwa__dist_beat(t->dist, "the weights' comparison");
    if (st == HWA_OK) st = hwa__dist_allgather_start(t->dist, &mine, all, sizeof mine, &req);
    if (st == HWA_OK) st = hwa__dist_wait(t->dist, &req, 1, "the weights' comparison");
    t->comm_s += now_s() - t0;
    for (int r = 1; st == HWA_OK && r < N; r++)
        if (all[r] != all[0])
            st = hwa__err(NULL, HWA_E_INTERNAL, "train: after epoch %lld rank %d's weights differ from rank 0's: the "
                          "ranks no longer train the same model", (long long)t->epoch, r);
    free(all);
    return st;
}
