/* Workloads across several devices: placed node by node by the scheduler
 * (automatic, one device, or a layer split), or split by batch into one
 * replica per device with the results gathered and, for training, the
 * gradients summed before one update. */
#include <math.h>
#include <string.h>

#include "bench/workload.h"

hwa_status hwa__workload_place(hwa__workload *w, const char *devices, const hwa_place_opts *o, const hwa_passport *p) {
    if (!w->g || w->llama || w->reps) return hwa__err(NULL, HWA_E_MISUSE, "only a built-in workload's graph can be placed");
    hwa_backend *bes[HWA_PLACE_MAX_DEVICES];
    hwa_place_device devs[HWA_PLACE_MAX_DEVICES];
    bool made[HWA_PLACE_MAX_DEVICES];
    int n;
    hwa_status st = hwa_place_devices_open(w->ctx, devices, p, w->be, bes, devs, made, &n);
    if (st) return st;
    for (int k = 0; k < n; k++)
        if (made[k]) w->place_be[w->n_place_be++] = bes[k];
    return hwa__workload_place_with(w, bes, devs, n, o);
}

/* Places w's optimizer over the devices of w's schedule less those left
 * out: automatic, as the trainer's (its updates run where the parameters
 * are). Its bytes are not the schedule's: they join each device's base. */
static hwa_status place_optim(hwa__workload *w) {
    hwa_backend *bes[HWA_PLACE_MAX_DEVICES];
    hwa_place_device devs[HWA_PLACE_MAX_DEVICES];
    int64_t before[HWA_PLACE_MAX_DEVICES];
    int n = 0;
    for (int k = 0; k < w->n_place; k++) {
        before[k] = w->place_bes[k]->mem_used;
        if (!w->place_out[k]) bes[n] = w->place_bes[k], devs[n++] = w->place_devs[k];
    }
    hwa_status st = hwa_optim_place(w->opt, bes, devs, n, &w->place_opts);
    if (st) return hwa__err(NULL, st, "placing the optimizer: %s", hwa_ctx_last_error(w->ctx));
    for (int k = 0; k < w->n_place; k++) w->place_base_used[k] += w->place_bes[k]->mem_used - before[k];
    return HWA_OK;
}

hwa_status hwa__workload_place_with(hwa__workload *w, hwa_backend *const *bes, const hwa_place_device *devs, int n,
                                    const hwa_place_opts *o) {
    hwa_status st;
    /* The graph's own arena and gradients (from building on w->be) give
     * way to the schedule's, device by device: gradients live where they
     * are written. */
    hwa__graph_free_storage(w->g);
    if ((st = hwa_placement_new(w->g, bes, devs, n, o, &w->pl))) {
        if (hwa_ctx_last_error(w->ctx)[0]) hwa__err(NULL, st, "%s", hwa_ctx_last_error(w->ctx));
        return st;
    }
    for (int k = 0; k < n; k++) w->place_base_used[k] = bes[k]->mem_used;
    if (w->be && (st = hwa_placement_alloc(w->pl))) {
        if (hwa_ctx_last_error(w->ctx)[0]) hwa__err(NULL, st, "%s", hwa_ctx_last_error(w->ctx));
        return st;
    }
    if (!w->opt) return HWA_OK;
    w->n_place = n;
    for (int k = 0; k < n; k++) w->place_bes[k] = bes[k], w->place_devs[k] = devs[k], w->place_out[k] = false;
    w->place_opts = (hwa_place_opts){.mem_margin = o ? o->mem_margin : 0, .profile_path = o ? o->profile_path : NULL};
    return place_optim(w);
}

/* ---- batch splits -------------------------------------------------------- */

/* The leaf the workload reads its samples from ("x") and its labels, if any. */
static hwa_tensor *leaf_named(const hwa__workload *w, const char *name) {
    for (int j = 0; j < w->g->n_leaves; j++)
        if (!strcmp(w->g->leaves[j]->name, name)) return w->g->leaves[j];
    return NULL;
}

static hwa_tensor *labels_of(const hwa__workload *w) {
    for (int j = 0; j < w->g->n_leaves; j++)
        if (w->g->leaves[j]->dtype == HWA_I32) return w->g->leaves[j];
    return NULL;
}

/* Copies rows [r0, r0 + rows) of host tensor src (2-d, or 1-d labels) into dst. */
static hwa_status copy_rows(const hwa_tensor *src, hwa_tensor *dst, int64_t r0, int64_t rows) {
    const size_t row_bytes = hwa_tensor_nbytes(src) / (size_t)src->shape[0];
    const char *base = hwa_tensor_data(src);
    if (!base) return hwa__err(NULL, HWA_E_INTERNAL, "batch split: the data is not in host memory");
    return hwa_tensor_set_bytes(dst, base + (size_t)r0 * row_bytes, (size_t)rows * row_bytes);
}

static hwa_status push_params(hwa__workload *w, hwa__workload *r) {
    for (int i = 0; i < w->n_params; i++) {
        const void *src = hwa_tensor_data(w->params[i]);
        if (!src) return hwa__err(NULL, HWA_E_INTERNAL, "batch split: parameter %d is not in host memory", i);
        hwa_status st = hwa_tensor_set_bytes(r->params[i], src, hwa_tensor_nbytes(w->params[i]));
        if (st) return st;
    }
    return HWA_OK;
}

/* The rows each device gets when none are given: proportional to the rate
 * at which the device would run the whole batch by the cost model. */
static hwa_status estimate_shares(hwa__workload *w, hwa__workload *reps, int n, const hwa_passport *p, int64_t *shares) {
    double rate[HWA_PLACE_MAX_DEVICES];
    for (int k = 0; k < n; k++) {
        hwa_place_device d;
        hwa_status st;
        /* the whole batch's graph, built without data, on the device alone */
        hwa__workload dry;
        st = hwa__workload_build(w->def_index, NULL, w->dtype, leaf_named(w, "x")->shape[0], 0, 1, w->optim, &dry);
        hwa_backend *be = st ? NULL : hwa_backend_new(dry.ctx, reps[k].be->spec);
        if (!st && !be) st = hwa_ctx_last_status(dry.ctx);
        if (!st) st = hwa_place_device_describe(p, be, &d);
        hwa_placement *pl = NULL;
        if (!st) st = hwa_placement_new(dry.g, &be, &d, 1, &(hwa_place_opts){0}, &pl);
        if (!st) rate[k] = 1.0 / hwa_placement_estimate_s(pl);
        hwa_placement_free(pl);
        hwa_backend_free(be);
        hwa__workload_free(&dry);
        if (st) return st;
        if (!(rate[k] > 0) || !isfinite(rate[k])) rate[k] = 1; /* nothing known: equal shares */
    }
    return hwa_place_batch_shares(rate, n, leaf_named(w, "x")->shape[0], shares);
}

hwa_status hwa__workload_split_batch(hwa__workload *w, const char *devices, const int64_t *shares,
                                     const hwa_passport *p) {
    if (!w->g || w->llama || w->pl || w->reps) return hwa__err(NULL, HWA_E_MISUSE, "only a built-in workload can be split by batch");
    char specs[HWA_PLACE_MAX_DEVICES][32];
    int n;
    hwa_status st = hwa_place_devices_parse(devices, specs, HWA_PLACE_MAX_DEVICES, &n);
    if (st) return st;
    hwa_tensor *x = leaf_named(w, "x");
    if (!x || !hwa_tensor_data(x)) return hwa__err(NULL, HWA_E_MISUSE, "batch split: the workload's data must be in host memory (build it on cpu)");
    const int64_t batch = x->shape[0];
    if (batch < n) return hwa__err(NULL, HWA_E_RANGE, "batch %lld cannot be split over %d devices", (long long)batch, n);
    w->shares = calloc((size_t)n, sizeof *w->shares);
    w->reps = calloc((size_t)n, sizeof *w->reps);
    w->gathered = calloc((size_t)hwa_tensor_nelements(w->out), sizeof *w->gathered);
    if (!w->shares || !w->reps || !w->gathered) return hwa__err(NULL, HWA_E_NOMEM, "out of memory");
    const int index = w->def_index;
    const int threads = w->be ? hwa_backend_threads(w->be) : 0;
    /* replicas on batch 1 first, to ask each device's estimate; then rebuilt on their shares */
    for (int k = 0; k < n; k++) {
        st = hwa__workload_build(index, specs[k], w->dtype, shares ? shares[k] : 1,
                                 !strncmp(specs[k], "cpu", 3) ? threads : 0, 1, HWA__OPTIM_NONE, &w->reps[k]);
        if (st) {
            w->n_reps = k;
            return st;
        }
        w->n_reps = k + 1;
    }
    if (shares) {
        int64_t sum = 0;
        for (int k = 0; k < n; k++) sum += shares[k] > 0 ? shares[k] : -batch;
        if (sum != batch) return hwa__err(NULL, HWA_E_INVALID, "batch split: the shares do not sum to the batch of %lld", (long long)batch);
        memcpy(w->shares, shares, (size_t)n * sizeof *shares);
    } else {
        if ((st = estimate_shares(w, w->reps, n, p, w->shares))) return st;
        for (int k = 0; k < n; k++) {
            hwa__workload_free(&w->reps[k]);
            st = hwa__workload_build(index, specs[k], w->dtype, w->shares[k], !strncmp(specs[k], "cpu", 3) ? threads : 0,
                                     1, HWA__OPTIM_NONE, &w->reps[k]);
            if (st) {
                for (int q = k + 1; q < n; q++) hwa__workload_free(&w->reps[q]);
                w->n_reps = k;
                return st;
            }
        }
    }
    /* the same data: w's parameters, and each replica's rows of w's samples and labels */
    hwa_tensor *lab = labels_of(w);
    for (int k = 0, r0 = 0; k < n; r0 += (int)w->shares[k], k++) {
        hwa__workload *r = &w->reps[k];
        if ((st = push_params(w, r)) || (st = copy_rows(x, leaf_named(r, "x"), r0, w->shares[k]))) return st;
        if (lab && (st = copy_rows(lab, labels_of(r), r0, w->shares[k]))) return st;
    }
    return HWA_OK;
}

hwa_status hwa__workload_run_split(hwa__workload *w) {
    hwa_status st = HWA_OK;
    const int64_t batch = leaf_named(w, "x")->shape[0];
    if (w->train)
        for (int k = 0; k < w->n_reps && !st; k++) st = push_params(w, &w->reps[k]);
    /* Devices with their own memory first: their queues run while the CPU
     * computes its share. */
    for (int pass = 0; pass < 2 && !st; pass++)
        for (int k = 0; k < w->n_reps && !st; k++) {
            hwa__workload *r = &w->reps[k];
            const bool host = hwa_backend_device_kind(r->be) == HWA_DEVICE_CPU;
            if (host != (pass == 1)) continue;
            if (r->train && (st = hwa_graph_zero_grads(r->g))) break;
            st = hwa__graph_compute_nowait(r->g, r->be);
        }
    for (int k = 0; k < w->n_reps && !st; k++) st = hwa_backend_synchronize(w->reps[k].be);
    if (st) return st;
    /* gather: rows in order; a loss as the share-weighted mean */
    const int64_t out_n = hwa_tensor_nelements(w->out);
    if (w->train) {
        w->gathered[0] = 0;
        for (int k = 0; k < w->n_reps && !st; k++) {
            float l;
            st = hwa_tensor_get_f32(w->reps[k].out, &l, 1);
            w->gathered[0] += l * (float)((double)w->shares[k] / (double)batch);
        }
    } else {
        int64_t off = 0;
        for (int k = 0; k < w->n_reps && !st; k++) {
            const int64_t m = hwa_tensor_nelements(w->reps[k].out);
            if (off + m > out_n) return hwa__err(NULL, HWA_E_INTERNAL, "batch split: the outputs overrun");
            st = hwa_tensor_get_f32(w->reps[k].out, w->gathered + off, m);
            off += m;
        }
    }
    if (st || !w->train) return st;
    /* gradients: d mean / d p = sum_k (share_k / batch) d mean_k / d p */
    for (int i = 0; i < w->n_params && !st; i++) {
        hwa_tensor *g = hwa_tensor_grad(w->params[i]);
        const int64_t m = hwa_tensor_nelements(g);
        float *acc = calloc((size_t)m, sizeof *acc), *part = malloc((size_t)m * sizeof *part);
        if (!acc || !part) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for the gradient sum");
        for (int k = 0; k < w->n_reps && !st; k++) {
            st = hwa_tensor_get_f32(hwa_tensor_grad(w->reps[k].params[i]), part, m);
            const float f = (float)((double)w->shares[k] / (double)batch);
            for (int64_t j = 0; !st && j < m; j++) acc[j] += f * part[j];
        }
        if (!st) st = hwa_tensor_set_f32(g, acc, m);
        free(acc);
        free(part);
    }
    return st || !w->opt ? st : hwa_optim_step(w->opt, w->lr);
}

hwa_status hwa__workload_compute_placed(hwa__workload *w) {
    hwa_status st = hwa_placement_compute(w->pl);
    if (st == HWA_OK || !w->fallback || hwa_placement_failed_device(w->pl) < 0) return st;
    const int bad = hwa_placement_failed_device(w->pl);
    char why[200];
    snprintf(why, sizeof why, "%s", hwa_ctx_last_error(w->ctx));
    hwa_status st2 = hwa_placement_replan_without(w->pl, bad);
    if (st2) return st; /* nothing else can run it: the device's error stands */
    /* the gradients live where the new schedule writes them */
    w->place_out[bad] = true;
    if (w->opt && (st2 = place_optim(w))) return st2;
    snprintf(w->fallback_note, sizeof w->fallback_note, "--fallback: re-planned without %s as %s after its error (%.120s)",
             hwa_placement_device_info(w->pl, bad)->id, hwa_placement_choice(w->pl), why);
    fprintf(stderr, "hwadapt: %s\n", w->fallback_note);
    return hwa_placement_compute(w->pl);
}
