/* Sweeps: every combination of the comma lists becomes a row. Validates the
 * lists first, then hands each (workload, device, batch) to interleave.c,
 * which builds, validates and measures its rows. */
#include <string.h>
#include <unistd.h>

#include "bench/bench_device.h"
#include "bench/sweep.h"
#include "hwadapt/compress.h"
#include "bench/workload.h"
#include "hwadapt/train.h"

#define MAX_ITEMS 32
#define ITEM_LEN HWA__SWEEP_DEV_LEN

typedef struct list {
    char v[MAX_ITEMS][ITEM_LEN];
    int n;
} list;

static hwa_status split(const char *s, const char *dflt, const char *what, list *out) {
    out->n = 0;
    if (!s || !*s) s = dflt;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= ITEM_LEN)
            return hwa__err(NULL, HWA_E_INVALID, "%s list '%s': %s item", what, s, len ? "too long an" : "an empty");
        if (out->n == MAX_ITEMS) return hwa__err(NULL, HWA_E_RANGE, "%s list '%s': more than %d items", what, s, MAX_ITEMS);
        memcpy(out->v[out->n], p, len);
        out->v[out->n++][len] = 0;
        if (!p[len]) return HWA_OK;
        p += len + 1;
    }
}

static bool parse_int(const char *s, long long *out) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end) return false;
    *out = v;
    return true;
}

/* A fully checked sweep. */
typedef struct plan {
    list wl, dev, dt, batch, thr, scen;
    int wl_idx[MAX_ITEMS];         /* -1: wl.v[i] is a model file */
    hwa_dtype wl_file_dt[MAX_ITEMS]; /* a model file's weight dtype */
    bool wl_compressed[MAX_ITEMS];   /* ... a compressed model (compress.h), not a language model */
    bool dt_given;
    hwa_bench_scenario scen_v[MAX_ITEMS];
    bool all_dtypes;
    bool dev_threads[MAX_ITEMS];   /* the device has a thread setting (hwa__bdev_has_threads) */
    hwa_optim_kind optim;          /* the training workloads' update */
} plan;

/* The training workloads' optimizer: NULL or "" is Adam; a name given for
 * a sweep without a training workload is a mistake worth saying. */
static hwa_status check_optimizer(const char *name, plan *p) {
    p->optim = HWA_OPTIM_ADAM;
    if (!name || !*name) return HWA_OK;
    hwa_status st = hwa_optim_kind_from_name(name, &p->optim);
    if (st) return st;
    bool trains = false;
    for (int i = 0; i < p->wl.n; i++) trains |= hwa_bench_workload_trains(p->wl_idx[i]);
    if (trains) return HWA_OK;
    char names[128] = "";
    for (int i = 0; i < hwa_bench_workload_count(); i++)
        if (hwa_bench_workload_trains(i))
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
                     hwa_bench_workload_name(i));
    return hwa__err(NULL, HWA_E_INVALID, "optimizer '%s' applies to training workloads (%s); %s %s forward only", name,
                    names, p->wl.n == 1 ? p->wl.v[0] : "these", p->wl.n == 1 ? "runs" : "run");
}

static hwa_status check_plan(const hwa_bench_sweep *s, plan *p) {
    hwa_status st;
    memset(p, 0, sizeof *p);
    if ((st = split(s->workloads, "linear1000", "workload", &p->wl)) || (st = split(s->devices, "cpu", "device", &p->dev)) ||
        (st = split(s->dtypes, "f32", "dtype", &p->dt)) || (st = split(s->scenarios, "single", "scenario", &p->scen)))
        return st;
    if (s->sequences && s->batches && *s->batches)
        return hwa__err(NULL, HWA_E_INVALID, "sequences (%d) set the batch: give no batches beside them", s->sequences);
    if (s->sequences < 0 || s->sequences > HWA_LLAMA_MAX_SEQ)
        return hwa__err(NULL, HWA_E_RANGE, "sequences %d is outside 1..%d", s->sequences, HWA_LLAMA_MAX_SEQ);
    if (s->sequences) {
        p->batch.n = 1;
        snprintf(p->batch.v[0], ITEM_LEN, "%d", s->sequences);
    }
    if (s->batches && *s->batches && (st = split(s->batches, "", "batch", &p->batch))) return st;
    if (s->threads && *s->threads && (st = split(s->threads, "", "threads", &p->thr))) return st;
    if (p->dev.n == 1 && !strcmp(p->dev.v[0], "all")) {
        p->dev.n = 0;
        for (int i = 0; i < hwa__bdev_count(s->passport) && i < MAX_ITEMS; i++)
            snprintf(p->dev.v[p->dev.n++], ITEM_LEN, "%s", hwa__bdev_spec(s->passport, i));
    }
    for (int i = 0; i < p->dev.n; i++)
        if ((st = hwa__bdev_check(s->passport, p->dev.v[i]))) return st;
    p->dt_given = s->dtypes && *s->dtypes;
    for (int i = 0; i < p->wl.n; i++) {
        const char *w = p->wl.v[i];
        if (!access(w, F_OK)) {
            /* A model file: opened once here so a bad file fails before any row. */
            p->wl_idx[i] = -1;
            if ((st = hwa__model_dtype(w, p->dev.v[0], &p->wl_file_dt[i]))) return st;
            p->wl_compressed[i] = hwa_cmodel_is_file(w) || hwa__is_onnx_file(w); /* rows count samples */
            for (int j = 0; p->dt_given && strcmp(p->dt.v[0], "all") && j < p->dt.n; j++)
                if (strcmp(p->dt.v[j], hwa_dtype_name(p->wl_file_dt[i])))
                    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s holds %s weights, cannot run %s; available: %s", w,
                                    hwa_dtype_name(p->wl_file_dt[i]), p->dt.v[j], hwa_dtype_name(p->wl_file_dt[i]));
        } else if (strchr(w, '/') || strstr(w, ".gguf") || strstr(w, ".bin") || strstr(w, ".hwac") || strstr(w, ".onnx")) {
            return hwa__err(NULL, HWA_E_NOTFOUND, "workload file '%s': no such file", w);
        } else if ((st = hwa_bench_workload_find(w, &p->wl_idx[i]))) {
            return st;
        } else if (s->sequences) {
            return hwa__err(NULL, HWA_E_INVALID, "sequences apply to language model files; %s is a built-in workload",
                            w);
        }
    }
    if ((st = check_optimizer(s->optimizer, p))) return st;
    p->all_dtypes = p->dt.n == 1 && !strcmp(p->dt.v[0], "all");
    for (int j = 0; !p->all_dtypes && j < p->dt.n; j++) {
        hwa_dtype t;
        if (hwa_dtype_from_name(p->dt.v[j], &t)) {
            char avail[64];
            hwa__bdev_dtypes(p->dev.v[0], avail, sizeof avail);
            return hwa__err(NULL, HWA_E_NOTFOUND, "unknown precision '%s'; available on %s: %s (or 'all')", p->dt.v[j],
                            p->dev.v[0], avail);
        }
        for (int i = 0; i < p->dev.n; i++)
            if (!hwa__bdev_supports_dtype(p->dev.v[i], t)) {
                char avail[64];
                hwa__bdev_dtypes(p->dev.v[i], avail, sizeof avail);
                return hwa__err(NULL, HWA_E_UNSUPPORTED, "device %s cannot run %s; available: %s", p->dev.v[i],
                                p->dt.v[j], avail);
            }
    }
    for (int j = 0; j < p->batch.n; j++) {
        long long v;
        if (!parse_int(p->batch.v[j], &v) || v < 1 || v > (1 << 24))
            return hwa__err(NULL, HWA_E_RANGE, "batch '%s' is not a whole number in 1..%d (e.g. --batch 1,64)",
                            p->batch.v[j], 1 << 24);
    }
    for (int i = 0; i < p->dev.n; i++) p->dev_threads[i] = hwa__bdev_has_threads(p->dev.v[i]);
    for (int j = 0; j < p->thr.n; j++) {
        long long v = 0;
        bool num = parse_int(p->thr.v[j], &v);
        for (int i = 0; i < p->dev.n; i++) {
            if (!p->dev_threads[i]) continue; /* its rows say the list does not apply */
            int mx = hwa__bdev_max_threads(p->dev.v[i]);
            if (!num || v < 1 || v > mx)
                return hwa__err(NULL, HWA_E_RANGE, "threads '%s' is not available on %s; available: 1..%d", p->thr.v[j],
                                p->dev.v[i], mx);
        }
    }
    for (int j = 0; j < p->scen.n; j++) {
        if ((st = hwa_bench_scenario_from_name(p->scen.v[j], &p->scen_v[j]))) return st;
        if (p->scen_v[j] == HWA_SCENARIO_SERVER && !s->find_peak && !(s->cfg.server_rate > 0))
            return hwa__err(NULL, HWA_E_INVALID, "the server scenario needs a rate (--rate Q, queries/s) or --find-peak");
    }
    return HWA_OK;
}

/* The dtypes of one device in the plan for workload a: a model file's own
 * dtype only. */
static int device_dtypes(const plan *p, int a, const char *dev, hwa_dtype *out) {
    int n = 0;
    if (p->wl_idx[a] < 0) {
        out[n++] = p->wl_file_dt[a];
    } else if (p->all_dtypes) {
        for (int t = 0; t < HWA_DTYPE_COUNT; t++)
            if (hwa__bdev_supports_dtype(dev, (hwa_dtype)t)) out[n++] = (hwa_dtype)t;
    } else {
        for (int j = 0; j < p->dt.n; j++) hwa_dtype_from_name(p->dt.v[j], &out[n++]);
    }
    return n;
}

/* ---- running ----------------------------------------------------------- */

hwa_status hwa_bench_sweep_run(const hwa_bench_sweep *s, hwa_bench_report *rep) {
    if (!s || !rep) return hwa__err(NULL, HWA_E_INVALID, "sweep: NULL");
    if (s->reps < 0 || s->reps > HWA_BENCH_MAX_REPS)
        return hwa__err(NULL, HWA_E_RANGE, "repetitions %d outside 1..%d (0: the default, %d)", s->reps,
                        HWA_BENCH_MAX_REPS, HWA_BENCH_DEFAULT_REPS);
    plan *p = malloc(sizeof *p);
    if (!p) return hwa__err(NULL, HWA_E_NOMEM, "sweep: out of memory");
    hwa_status st = check_plan(s, p);
    hwa__sweep_runner r = {.s = s, .rep = rep, .reps = s->reps ? s->reps : HWA_BENCH_DEFAULT_REPS,
                           .t_start = hwa_bench_clock_now()};
    hwa_dtype dts[HWA_DTYPE_COUNT > MAX_ITEMS ? HWA_DTYPE_COUNT : MAX_ITEMS];
    hwa__sweep_config *cfgs = malloc(sizeof *cfgs * MAX_ITEMS * (sizeof dts / sizeof dts[0]));
    if (!st && !cfgs) st = hwa__err(NULL, HWA_E_NOMEM, "sweep: out of memory");
    /* A device without a thread setting runs one configuration per dtype. */
    const int nb = p->batch.n ? p->batch.n : 1, nt_list = p->thr.n ? p->thr.n : 1;
    for (int d = 0; !st && d < p->dev.n; d++)
        for (int a = 0; a < p->wl.n; a++)
            r.rows_total += nb * (p->dev_threads[d] ? nt_list : 1) * device_dtypes(p, a, p->dev.v[d], dts) * p->scen.n;
    /* A block per workload, device and batch (one f32 reference each), its
     * configurations threads outer, precision inner, each in every scenario. */
    for (int a = 0; !st && a < p->wl.n; a++)
        for (int d = 0; !st && d < p->dev.n; d++) {
            const char *dev = p->dev.v[d];
            int nd = device_dtypes(p, a, dev, dts), n_cfgs = 0;
            const int nt = p->dev_threads[d] ? nt_list : 1;
            for (int th = 0; th < nt; th++) {
                long long threads = hwa__bdev_default_threads(dev);
                if (p->thr.n && p->dev_threads[d]) parse_int(p->thr.v[th], &threads);
                for (int k = 0; k < nd; k++) cfgs[n_cfgs++] = (hwa__sweep_config){dts[k], (int)threads};
            }
            for (int b = 0; !st && b < nb; b++) {
                long long batch = p->wl_idx[a] < 0 ? 1 : hwa_bench_workload_default_batch(p->wl_idx[a]);
                if (p->batch.n) parse_int(p->batch.v[b], &batch);
                hwa__sweep_block blk = {.wl = p->wl_idx[a],
                                        .optim = hwa_bench_workload_trains(p->wl_idx[a]) ? (int)p->optim : HWA__OPTIM_NONE,
                                        .file = p->wl.v[a], .compressed = p->wl_compressed[a], .dev = dev,
                                        .batch = batch,
                                        .cfgs = cfgs, .n_cfgs = n_cfgs, .scens = p->scen_v, .n_scens = p->scen.n,
                                        .no_threads = !p->dev_threads[d], .threads_given = p->thr.n > 0};
                st = hwa__sweep_block_run(&r, &blk);
            }
        }
    if (!st) hwa_bench_report_compare(rep);
    free(cfgs);
    free(r.ref);
    free(p);
    return st;
}
