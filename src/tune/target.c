/* Tuning targets: a trainer configuration or a built-in bench workload,
 * planned (the memory planner's dry run), built at a batch, run, and
 * measured (the process's peak resident set, the backend's allocator). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "backends/cpu/cpu_backend.h"
#include "tune/tune_internal.h"

hwa_status hwa__tune_check(const hwa_tune_target *tg) {
    if (!tg) return hwa__err(NULL, HWA_E_MISUSE, "tune: NULL target");
    if (!tg->train == !tg->workload)
        return hwa__err(NULL, HWA_E_INVALID, "tune: a target is a trainer configuration or a workload, not %s",
                        tg->train ? "both" : "neither");
    if (tg->train) {
        if (!tg->train->train_set)
            return hwa__err(NULL, HWA_E_INVALID, "tune: the trainer's data must be loaded once and borrowed "
                            "(train_set, test_set)");
        return hwa_train_config_check(tg->train);
    }
    int index;
    if (hwa_bench_workload_find(tg->workload, &index)) return HWA_E_NOTFOUND;
    if (tg->threads < 0) return hwa__err(NULL, HWA_E_INVALID, "tune: threads %d", tg->threads);
    return HWA_OK;
}

const char *hwa__tune_device(const hwa_tune_target *tg) {
    const char *d = tg->train ? tg->train->device : tg->device;
    return d && *d ? d : "cpu";
}

static int workload_index(const hwa_tune_target *tg) {
    int index = -1;
    hwa_bench_workload_find(tg->workload, &index);
    return index;
}

bool hwa__tune_is_training(const hwa_tune_target *tg) {
    if (tg->train) return true;
    return hwa_bench_workload_trains(workload_index(tg));
}

bool hwa__tune_on_cpu(const hwa_tune_target *tg) { return !strncmp(hwa__tune_device(tg), "cpu", 3); }

int64_t hwa__tune_batch_cap(const hwa_tune_target *tg) {
    return tg->train ? hwa_dataset_n(tg->train->train_set) : (int64_t)1 << 20;
}

/* The optimizer's state a training workload holds: its moments (Adam) or
 * momentum buffer, one f32 per parameter element each. */
static int64_t optim_state_bytes(const hwa__workload *w) {
    if (!w->train || w->optim < 0) return 0;
    int64_t n = 0;
    for (int i = 0; i < w->n_params; i++) n += hwa_tensor_nelements(w->params[i]);
    return hwa_optim_kind_slots((hwa_optim_kind)w->optim) * n * (int64_t)sizeof(float);
}

/* ---- planning ------------------------------------------------------------- */

/* A workload's plan: *run what its graph holds while it runs (leaves, the
 * arena, gradients and optimizer state), *transient the peak of building
 * it (its leaves and the staging buffer through which every leaf gets its
 * synthetic values: the largest leaf, in f32). */
static hwa_status plan_workload(const hwa_tune_target *tg, int64_t batch, int64_t *run, int64_t *transient) {
    hwa__workload w;
    hwa_status st = hwa__workload_build(workload_index(tg), NULL, HWA_F32, batch, 0, 42, HWA_OPTIM_ADAM, &w);
    if (st) return st;
    hwa_plan_stats ps;
    st = hwa_graph_plan(w.g, HWA_PLAN_REUSE, &ps);
    if (st == HWA_OK) {
        int64_t leaves = 0, most = 0;
        for (int i = 0; i < w.g->n_leaves; i++) {
            leaves += (int64_t)hwa_tensor_nbytes(w.g->leaves[i]);
            if (hwa_tensor_nelements(w.g->leaves[i]) > most) most = hwa_tensor_nelements(w.g->leaves[i]);
        }
        *run = leaves + (int64_t)(ps.arena_bytes + ps.persistent_bytes) + optim_state_bytes(&w);
        *transient = leaves + most * (int64_t)sizeof(float);
    }
    /* what the CPU's kernels keep beside the graph (oneDNN's copies of the
     * weights in its own layout) */
    if (st == HWA_OK && hwa__tune_on_cpu(tg)) {
        hwa_backend *be = hwa_backend_new(w.ctx, "cpu");
        int64_t kept = 0;
        st = be ? HWA_OK : hwa_ctx_last_status(w.ctx);
        if (st == HWA_OK && tg->threads > 0) st = hwa_backend_set_threads(be, tg->threads);
        if (st == HWA_OK) st = hwa_backend_plan_kept(be, w.g, &kept);
        hwa_backend_free(be);
        *run += kept;
    }
    hwa__workload_free(&w);
    return st;
}

hwa_status hwa__tune_plan(const hwa_tune_target *tg, int64_t batch, int64_t *run, int64_t *transient,
                          int64_t *device) {
    if (batch < 1) return hwa__err(NULL, HWA_E_INVALID, "tune: batch %lld", (long long)batch);
    hwa_status st;
    if (tg->train) {
        hwa_train_config c = *tg->train;
        c.batch = batch;
        hwa_train_memory m;
        if ((st = hwa_train_memory_plan(&c, &m))) return st;
        *run = m.total;
        *transient = 0;
        *device = m.device;
        return HWA_OK;
    }
    if ((st = plan_workload(tg, batch, run, transient))) return st;
    *device = *run;
    return HWA_OK;
}

hwa_status hwa_tune_predict(const hwa_tune_target *tg, int64_t batch, int64_t *total, int64_t *device) {
    hwa_status st = hwa__tune_check(tg);
    if (st) return st;
    int64_t r, t, d;
    if ((st = hwa__tune_plan(tg, batch, &r, &t, &d))) return st;
    if (total) *total = r > t ? r : t;
    if (device) *device = d;
    return HWA_OK;
}

/* ---- building and running ------------------------------------------------- */

hwa_status hwa__tune_open(const hwa_tune_target *tg, int64_t batch, const hwa_optim_config *optim, double lr,
                          hwa__tune_inst *in) {
    memset(in, 0, sizeof *in);
    in->batch = batch;
    in->lr = lr;
    in->last_loss = NAN;
    hwa_status st;
    if (tg->train) {
        hwa_train_config c = *tg->train;
        c.batch = batch;
        if (optim) c.optim = *optim;
        if (lr > 0.0) c.sched = hwa_sched_default(HWA_SCHED_CONSTANT, lr, 1);
        return hwa_trainer_new(&c, &in->tr);
    }
    st = hwa__workload_build(workload_index(tg), hwa__tune_device(tg), HWA_F32, batch, tg->threads, 42,
                             optim ? (int)optim->kind : HWA_OPTIM_ADAM, &in->w);
    if (st == HWA_OK && lr > 0.0) in->w.lr = (float)lr;
    return st;
}

hwa_status hwa__tune_query(hwa__tune_inst *in) {
    if (in->tr) return hwa_trainer_step(in->tr, in->lr > 0.0 ? in->lr : 0.0, &in->last_loss);
    if (in->lr > 0.0) in->w.lr = (float)in->lr;
    hwa_status st = hwa__workload_run(&in->w);
    if (st == HWA_OK && in->w.train) {
        float l;
        st = hwa_tensor_get_f32(in->w.out, &l, 1);
        if (st == HWA_OK) in->last_loss = l;
        if (st == HWA_OK && !isfinite(l))
            st = hwa__err(NULL, HWA_E_RANGE, "tune: the loss is %s", isnan(l) ? "NaN" : "infinite");
    }
    return st;
}

void hwa__tune_close(hwa__tune_inst *in) {
    hwa_trainer_free(in->tr);
    if (in->w.ctx) hwa__workload_free(&in->w);
    memset(in, 0, sizeof *in);
}

/* Every graph once: the trainer's steps and evaluations, the workload's
 * query. */
static hwa_status exercise(hwa__tune_inst *in) {
    return in->tr ? hwa_trainer_exercise(in->tr) : hwa__tune_query(in);
}

static int64_t device_peak(const hwa__tune_inst *in) {
    if (in->tr) return hwa_trainer_device_peak_bytes(in->tr);
    int64_t peak = -1;
    hwa_backend_memory(in->w.be, NULL, &peak);
    return peak;
}

/* ---- the process's resident memory (Linux) --------------------------------- */

/* VmRSS or VmHWM of /proc/self/status in bytes; -1 when unknown. */
static int64_t proc_status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int64_t v = -1;
    const size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            long long kb;
            if (sscanf(line + n + 1, "%lld", &kb) == 1) v = (int64_t)kb * 1024;
            break;
        }
    fclose(f);
    return v;
}

/* Resets the peak resident set to the current one (writing 5 to
 * /proc/self/clear_refs, Linux 4.0 and later). */
static bool reset_peak(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Returns the memory freed so far to the system, so that a measurement's
 * baseline holds no free heap that the measured run would reuse unseen. */
static void trim_heap(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

hwa_status hwa_tune_measure(const hwa_tune_target *tg, int64_t batch, int64_t *measured, int64_t *dev_peak) {
    hwa_status st = hwa__tune_check(tg);
    if (st) return st;
    if (batch < 1) return hwa__err(NULL, HWA_E_INVALID, "tune: batch %lld", (long long)batch);
    *measured = *dev_peak = -1;
    hwa__tune_inst in;
    /* The process's fixed costs (thread pools, the libraries' code and
     * caches) are paid by a small run (up to 8 samples, past the
     * matrix-vector kernels) before the baseline. */
    st = hwa__tune_open(tg, batch < 8 ? batch : 8, NULL, 0.0, &in);
    if (st == HWA_OK) st = exercise(&in);
    hwa__tune_close(&in);
    if (st) return st;
    hwa__cpu_drop_library_caches();
    trim_heap();
    const bool cpu = hwa__tune_on_cpu(tg);
    const bool reset = reset_peak();
    const int64_t base = proc_status_kb("VmRSS");
    st = hwa__tune_open(tg, batch, NULL, 0.0, &in);
    if (st == HWA_OK) st = exercise(&in);
    const int64_t peak = proc_status_kb("VmHWM");
    if (st == HWA_OK) {
        *dev_peak = device_peak(&in);
        if (!cpu) *measured = *dev_peak;
        else if (reset && base >= 0 && peak >= base) *measured = peak - base;
    }
    hwa__tune_close(&in);
    hwa__cpu_drop_library_caches();
    trim_heap();
    return st;
}
