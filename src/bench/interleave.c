/* Measuring a block of rows -- one (workload, device, batch) in every
 * configuration and scenario. Every configuration is built and validated
 * first and kept alive; then the rows of the block are measured in turn, one
 * short visit each, over R repetitions (A B C A B C ...), so that a change
 * in the machine's load reaches every configuration of a repetition alike
 * and cancels in their paired ratios (hwa_bench_paired_ratio). A peak search
 * is a search, not a comparison: its rows run one at a time after the rest. */
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench_device.h"
#include "sched/sched_internal.h"
#include "bench/scenario.h"
#include "bench/sweep.h"
#include "bench/text.h"
#include "bench/workload.h"
#include "hwadapt/compress.h"
#include "backends/cpu/cpu_load.h"
#include "hwadapt/train.h"

#define note_add(row, ...) hwa__bench_catf((row)->note, sizeof (row)->note, "; ", __VA_ARGS__)

/* A configuration while its block runs. */
typedef struct member {
    hwa__workload w;
    bool built, skipped;
    double first; /* the validation query's seconds */
} member;

/* What a row gathers over its visits. */
typedef struct row_acc {
    hwa__bench_samples pool;
    hwa_bench_result runs[HWA_BENCH_MAX_REPS];
    double joules, wall; /* the meter's energy and the wall time over the visits; NAN unknown */
    hwa_load_sample load; /* the sum of the visits' load deltas, as a sample taken from zero */
    int load_visits;      /* visits whose two samples were taken */
    uint64_t computes, cut; /* the CPU backend's computes over the visits, and those given fewer threads */
} row_acc;

/* Adds the interval a..b to the row's sum. A figure unknown in any visit
 * stays unknown (NAN propagates); a change in the CPUs counted makes the
 * /proc/stat figures unknown. */
static void load_add(row_acc *acc, const hwa_load_sample *a, const hwa_load_sample *b) {
    hwa_load_sample *s = &acc->load;
    if (acc->load_visits++ == 0) {
        memset(s, 0, sizeof *s);
        s->have_stat = true, s->have_cgroup = true;
        s->cpus_counted = a->cpus_counted;
        s->cgroup_version = a->cgroup_version;
    }
    s->wall_s += b->wall_s - a->wall_s;
    s->self_cpu_s += b->self_cpu_s - a->self_cpu_s;
    s->have_stat = s->have_stat && a->have_stat && b->have_stat && a->cpus_counted == s->cpus_counted &&
                   b->cpus_counted == s->cpus_counted;
    s->busy_s += b->busy_s - a->busy_s;
    s->total_s += b->total_s - a->total_s;
    s->steal_s += b->steal_s - a->steal_s;
    s->have_cgroup = s->have_cgroup && a->have_cgroup && b->have_cgroup;
    s->cgroup_usage_s += b->cgroup_usage_s - a->cgroup_usage_s;
    s->cgroup_throttled_s += b->cgroup_throttled_s - a->cgroup_throttled_s;
    s->cgroup_nr_throttled = b->cgroup_nr_throttled;
    s->loadavg1 = b->loadavg1;
    s->procs_running = b->procs_running;
}

/* The row's load figures from its summed visits, and a note when others
 * took a share of the CPUs worth saying. */
static void set_load(hwa_bench_row *row, const row_acc *acc) {
    row->load_self_share = row->load_others_cpus = row->load_others_share = row->load_throttled_s = NAN;
    row->threads_cut_share = acc->computes ? (double)acc->cut / (double)acc->computes : NAN;
    if (!acc->load_visits) return;
    hwa_load_sample zero = acc->load;
    zero.wall_s = zero.self_cpu_s = zero.busy_s = zero.total_s = zero.steal_s = 0;
    zero.cgroup_usage_s = zero.cgroup_throttled_s = 0;
    hwa_load_delta d;
    /* shares over the CPUs the samples counted (the affinity mask's) */
    if (hwa_load_delta_compute(&zero, &acc->load, row->threads, acc->load.cpus_counted, 0.10, &d)) return;
    row->load_self_share = d.self_share;
    row->load_others_cpus = d.others_cpus;
    row->load_others_share = d.others_share;
    row->load_throttled_s = d.throttled_s;
    row->contended = d.contended;
    if (d.contended) note_add(row, "contended: %s while it was measured", d.why);
    if (row->threads_cut_share > 0)
        note_add(row, "%.0f%% of its computes ran on fewer than its %d threads while others held CPUs "
                 "(HWA_ADAPT_THREADS=0 keeps them all)", 100 * row->threads_cut_share, row->threads);
}

/* A block's power meter and the idle power measured before its rows. */
typedef struct block_meter {
    hwa__bdev_meter *m;
    double idle_w;
    char why[256]; /* without a meter: why the device has none ("" when it need not say) */
} block_meter;

static bool is_peak(const hwa_bench_sweep *s, hwa_bench_scenario sc) { return sc == HWA_SCENARIO_SERVER && s->find_peak; }

static double known_rate(const hwa__sweep_runner *r, const char *dev, hwa_dtype t) {
    for (int i = 0; i < r->n_rates; i++)
        if (!strcmp(r->rates[i].dev, dev) && r->rates[i].t == t) return r->rates[i].gflops;
    return NAN;
}

static void learn_rate(hwa__sweep_runner *r, const char *dev, hwa_dtype t, double gflops) {
    if (!isfinite(gflops) || !(gflops > 0) || isfinite(known_rate(r, dev, t)) || r->n_rates == 64) return;
    hwa__rate_entry *e = &r->rates[r->n_rates++];
    snprintf(e->dev, sizeof e->dev, "%s", dev);
    e->t = t;
    e->gflops = gflops;
}

/* Seconds of the time budget left; INFINITY without a budget. */
static double time_left(const hwa__sweep_runner *r) {
    return r->s->time_budget_s > 0 ? r->s->time_budget_s - (hwa_bench_clock_now() - r->t_start) : INFINITY;
}

/* The share of what is left that each row still to run may take. */
static double row_share(const hwa__sweep_runner *r) {
    int rows_left = r->rows_total - r->rows_done;
    return time_left(r) / (rows_left > 0 ? rows_left : 1);
}

static void progress(const hwa__sweep_runner *r, int row, const char *fmt, ...) HWA_PRINTF(3, 4);
static void progress(const hwa__sweep_runner *r, int row, const char *fmt, ...) {
    if (!r->s->progress) return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->s->progress(r->s->progress_ud, row, r->rows_total, msg);
}

static hwa_status run_query_cb(void *ud) { return hwa__workload_run(ud); }

static int64_t peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return -1;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}

static hwa_status build(const hwa__sweep_runner *r, const hwa__sweep_block *b, const hwa__sweep_config *c,
                        hwa__workload *w) {
    if (!strcmp(b->dev, "auto")) {
        /* an ONNX model is a graph like a built-in workload's: placed the same way */
        const bool onnx = b->wl < 0 && hwa__is_onnx_file(b->file);
        if (b->wl < 0 && !onnx)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "device auto: model files run on one device (--device cpu or opencl:N)");
        hwa_status st = onnx ? hwa__onnx_workload_build(b->file, "cpu", b->batch, c->threads, 42, w)
                             : hwa__workload_build(b->wl, "cpu", c->dtype, b->batch, c->threads, 42, b->optim, w);
        char list[256];
        if (r->s->place_devices && *r->s->place_devices) snprintf(list, sizeof list, "%s", r->s->place_devices);
        else hwa_place_device_list(r->s->passport, list, sizeof list);
        hwa_place_opts o;
        if (!st && r->s->place_mode && !strcmp(r->s->place_mode, "batch")) {
            st = hwa__workload_split_batch(w, list, NULL, r->s->passport);
        } else {
            if (!st) st = hwa_place_opts_parse(r->s->place_mode, list, &o);
            if (!st) st = hwa__workload_place(w, list, &o, r->s->passport);
        }
        if (!st) w->fallback = r->s->fallback;
        if (st) hwa__workload_free(w);
        return st;
    }
    return b->wl < 0 ? hwa__model_build(b->file, b->dev, c->dtype, b->batch, r->s->sequences > 0, c->threads, 42, w)
                     : hwa__workload_build(b->wl, b->dev, c->dtype, b->batch, c->threads, 42, b->optim, w);
}

/* Whether the block runs on the CPU, whose f32 output is every block's
 * reference: another device's f32 rows are compared with it too. */
static bool on_cpu(const hwa__sweep_block *b) { return !strcmp(b->dev, "cpu") || !strcmp(b->dev, "cpu:0"); }

/* The f32 output for the current block, computed on demand from a fresh f32
 * build on the CPU on the same seed (threads 0: the CPU's default). A
 * training step's output is the loss before its update: the reference needs
 * no optimizer. */
static hwa_status ensure_ref(hwa__sweep_runner *r, const hwa__sweep_block *b, int threads) {
    if (r->have_ref) return HWA_OK;
    hwa__workload w;
    /* a model file that is a graph (an ONNX or compressed model) builds
     * from the file, on the same seed's inputs */
    hwa_status st = b->wl < 0 ? hwa__model_build(b->file, "cpu", HWA_F32, b->batch, false, on_cpu(b) ? threads : 0, 42, &w)
                              : hwa__workload_build(b->wl, "cpu", HWA_F32, b->batch, on_cpu(b) ? threads : 0, 42,
                                                    HWA__OPTIM_NONE, &w);
    if (st) return st;
    r->ref_n = hwa__workload_out_n(&w);
    free(r->ref);
    r->ref = malloc((size_t)r->ref_n * sizeof *r->ref);
    if (!r->ref) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for the f32 reference");
    if (!st) st = hwa__workload_run(&w);
    if (!st) st = hwa__workload_output(&w, r->ref, r->ref_n);
    hwa__workload_free(&w);
    r->have_ref = st == HWA_OK;
    return st;
}

/* The largest query (weights x tokens x 2) whose f32 error a model file's
 * row measures against the scalar reference kernels. */
#define HWA__MODEL_REF_MAX_FLOP 4e9

/* max |a[k] - b[k]| over n values; NaN propagates. */
static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double e = 0;
    for (int64_t k = 0; k < n; k++) {
        double d = fabs((double)a[k] - (double)b[k]);
        if (!(d <= e)) e = d;
    }
    return e;
}

/* A row of configuration c with nothing measured yet. */
static void row_init(const hwa__sweep_block *b, const hwa__sweep_config *c, int32_t r_sequences, hwa_bench_row *row) {
    memset(row, 0, sizeof *row);
    const char *slash = b->wl < 0 ? strrchr(b->file, '/') : NULL;
    snprintf(row->workload, sizeof row->workload, "%s",
             b->wl < 0 ? (slash ? slash + 1 : b->file) : hwa_bench_workload_name(b->wl));
    snprintf(row->device, sizeof row->device, "%s", b->dev);
    snprintf(row->dtype, sizeof row->dtype, "%s", hwa_dtype_name(c->dtype));
    snprintf(row->kernel, sizeof row->kernel, "n/a");
    snprintf(row->unit, sizeof row->unit, "%s", b->wl < 0 && !b->compressed ? "tokens" : "samples");
    if (b->optim != HWA__OPTIM_NONE)
        snprintf(row->optimizer, sizeof row->optimizer, "%s", hwa_optim_kind_name((hwa_optim_kind)b->optim));
    row->batch = b->batch;
    row->threads = c->threads;
    if (b->wl < 0 && r_sequences > 0) row->sequences = (int32_t)b->batch;
    row->r.target_rate = NAN;
    row->samples_per_s = row->gflops = row->gbps = row->pct_of_peak = NAN;
    row->power_w = row->idle_power_w = row->energy_j_per_sample = NAN;
    row->max_abs_error_vs_f32 = row->p99_bound_ms = row->peak_rate_qps = row->peak_upper_qps = NAN;
    row->samples_per_s_sd = row->speedup = row->speedup_lo = row->speedup_hi = NAN;
    row->load_self_share = row->load_others_cpus = row->load_others_share = row->load_throttled_s = NAN;
    row->threads_cut_share = NAN;
    row->baseline_row = -1;
    row->peak_rss_bytes = -1;
    row->no_threads = b->no_threads;
    if (b->no_threads)
        note_add(row, "threads do not apply to %s (its driver spreads the work)%s", b->dev,
                 b->threads_given ? ": the --threads list is for the CPU" : "");
}

/* Marks configuration m skipped (its note says why) and frees it. */
static void skip(hwa__sweep_runner *r, const hwa__sweep_block *b, member *m, hwa_bench_row *tmpl) {
    tmpl->skipped = true;
    m->skipped = true;
    hwa__workload_free(&m->w);
    m->built = false;
    r->rows_done += b->n_scens;
}

/* Builds configuration i and validates it: its first query's output against
 * f32 on the same input. When a time budget is set and the rows of i cannot
 * fit (predicted from the rate already measured for the device and dtype),
 * marks it skipped instead. Fills tmpl, the fields its rows share. */
static hwa_status prepare(hwa__sweep_runner *r, const hwa__sweep_block *b, int i, member *m, hwa_bench_row *tmpl) {
    const hwa_bench_sweep *s = r->s;
    const hwa__sweep_config *c = &b->cfgs[i];
    double left = time_left(r), share = row_share(r);
    progress(r, r->rows_done, "%s%s%s%s on %s, %s, batch %lld, %d thread(s): building and validating", tmpl->workload,
             tmpl->optimizer[0] ? " (" : "", tmpl->optimizer, tmpl->optimizer[0] ? ")" : "", b->dev, tmpl->dtype,
             (long long)b->batch, c->threads);
    hwa__workload *w = &m->w;
    hwa_status st = build(r, b, c, w);
    if (st) return st;
    m->built = true;
    /* a graph the device cannot run whole (an ONNX model's op with no
     * kernel there): the row is skipped and says so, the others go on */
    for (int k = 0; w->g && w->be && !w->pl && !w->reps && k < hwa_graph_n_nodes(w->g); k++) {
        const hwa_tensor *node = hwa_graph_node(w->g, k);
        if (hwa_backend_supports(w->be, node)) continue;
        note_add(tmpl, "skipped: %s has no kernel for %s (--device auto places such nodes on another device)", b->dev,
                 hwa__op_name(node->op));
        skip(r, b, m, tmpl);
        return HWA_OK;
    }
    if (w->reps) {
        char shares[160] = "";
        for (int k = 0; k < w->n_reps; k++)
            snprintf(shares + strlen(shares), sizeof shares - strlen(shares), "%s%lld on %s", k ? ", " : "",
                     (long long)w->shares[k], w->reps[k].be->spec);
        note_add(tmpl, "split by batch: %s (shares from each device's estimated throughput)", shares);
        snprintf(tmpl->place_devices, sizeof tmpl->place_devices, "%s", s->place_devices ? s->place_devices : "");
        snprintf(tmpl->placement, sizeof tmpl->placement, "batch split: %.80s", shares);
    }
    if (w->pl) {
        char mem[160] = "";
        for (int d = 0; d < hwa_placement_device_count(w->pl); d++)
            snprintf(mem + strlen(mem), sizeof mem - strlen(mem), "%s%s %.1f MiB", d ? ", " : "",
                     hwa_placement_device_info(w->pl, d)->id, hwa_placement_device_need_bytes(w->pl, d) / 1048576.0);
        note_add(tmpl, "placed by the scheduler across %s: %s (hwadapt plan says why); memory planned: %s",
                 s->place_devices && *s->place_devices ? s->place_devices : "every device", hwa_placement_choice(w->pl),
                 mem);
        snprintf(tmpl->place_devices, sizeof tmpl->place_devices, "%s", s->place_devices ? s->place_devices : "");
        snprintf(tmpl->placement, sizeof tmpl->placement, "%s", hwa_placement_choice(w->pl));
        /* the reason of the node that costs most where it runs */
        int heavy = -1;
        double most = -1;
        for (int k = 0; k < hwa_graph_n_nodes(w->g); k++) {
            if (hwa_placement_node_device(w->pl, k) < 0) continue;
            const double f = hwa__sched_node_flops(hwa_graph_node(w->g, k));
            if (f > most) most = f, heavy = k;
        }
        char why[160] = "";
        if (heavy >= 0) hwa_placement_node_reason(w->pl, heavy, why, sizeof why);
        snprintf(tmpl->placement_why, sizeof tmpl->placement_why, "its heaviest node (%s): %s",
                 heavy >= 0 ? hwa__op_name(hwa_graph_node(w->g, heavy)->op) : "-", why);
    }
    if (w->llama && w->sequences)
        note_add(tmpl, "model file: a query is one decode step of %d sequences in one batch, each at its next "
                 "position (its cache reset when full); tokens/s per sequence = tokens/s / %d",
                 (int)w->sequences, (int)w->sequences);
    else if (w->llama && w->prefill)
        note_add(tmpl, "model file: a query is a prefill of %lld tokens from position 0", (long long)b->batch);
    else if (w->llama)
        note_add(tmpl, "model file: a query is one decode step at the next position (cache reset when full)");
    if (w->cnet) {
        char forms[256] = "";
        for (int l = 0; l < hwa_cm_net_n_layers(w->cnet); l++)
            snprintf(forms + strlen(forms), sizeof forms - strlen(forms), "%s%s", l ? ", " : "",
                     hwa_cm_form_name(hwa_cm_net_form(w->cnet, l)));
        note_add(tmpl, "compressed model: a query is the forward pass of %lld rows; the layers run %s",
                 (long long)b->batch, forms);
    }
    if (w->onet)
        note_add(tmpl, "ONNX model: a query is one forward pass with every symbolic dimension set to %lld, on random "
                 "inputs (floats uniform in [-1, 2), integers and bools 1)", (long long)b->batch);
    tmpl->planned_bytes = w->planned_bytes;

    /* Predict one query's time from what this device did in this dtype. The
     * configuration needs its validation query, one measured query per visit
     * (reps visits for each interleaved row, one for a peak search) and, when
     * no f32 row ran before it, the f32 reference query; its rows may take
     * up to two shares each of what is left (and no more than is left). */
    int n_peak = 0;
    for (int k = 0; k < b->n_scens; k++) n_peak += is_peak(s, b->scens[k]);
    double one = w->flops_per_query / (known_rate(r, b->dev, c->dtype) * 1e9);
    double need = one * (1 + r->reps * (b->n_scens - n_peak) + n_peak);
    double ref_time = w->flops_per_query / (known_rate(r, b->dev, HWA_F32) * 1e9);
    if (c->dtype != HWA_F32 && !r->have_ref && isfinite(ref_time)) need += ref_time;
    double allow = 2 * share * b->n_scens < left ? 2 * share * b->n_scens : left;
    if (s->time_budget_s > 0 && isfinite(need) && need > allow) {
        note_add(tmpl, "skipped: one query would take about %.3g s (predicted from the %.3g GFLOP/s measured for %s %s); "
                 "validating and measuring %d repetition(s) need %.3g s, more than the %.3g s this row may take of the "
                 "time budget", one, known_rate(r, b->dev, c->dtype), b->dev, tmpl->dtype, r->reps, need,
                 allow > 0 ? allow : 0);
        skip(r, b, m, tmpl);
        return HWA_OK;
    }

    double t0 = hwa_bench_clock_now();
    int64_t n_out = hwa__workload_out_n(w);
    float *out = malloc((size_t)n_out * sizeof *out);
    if (!out) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for the output");
    if (!st) st = hwa__workload_run(w);
    m->first = hwa_bench_clock_now() - t0;
    if (!st && w->llama) {
        /* The model's graphs are internal: the provider ran it. A file runs
         * in its own dtype only: an f32 file's first query is compared with
         * the same query through the CPU's scalar reference kernels (once per
         * block: every configuration's first query is the same), and other
         * dtypes have no f32 reference. */
        snprintf(tmpl->kernel, sizeof tmpl->kernel, "%s", b->dev);
        tmpl->max_abs_error_vs_f32 = NAN;
        /* The scalar kernels run a few GFLOP/s: a query over more than
         * HWA__MODEL_REF_MAX_FLOP would hold the bench for tens of seconds,
         * so a large model's f32 row says its error was not measured. */
        double ref_flop = 2.0 * (double)hwa_llama_weight_bytes(w->llama) / 4.0 * (double)w->n_tokens;
        if (c->dtype == HWA_F32 && ref_flop > HWA__MODEL_REF_MAX_FLOP)
            note_add(tmpl, "error vs f32 not measured: the reference query would take %.1f GFLOP on scalar kernels",
                     ref_flop / 1e9);
        else if (c->dtype == HWA_F32) {
            if (!r->have_ref) {
                free(r->ref);
                r->ref_n = w->vocab;
                r->ref = malloc((size_t)r->ref_n * sizeof *r->ref);
                st = r->ref ? hwa__model_reference_logits(b->file, w, c->threads, r->ref)
                            : hwa__err(NULL, HWA_E_NOMEM, "out of memory for the reference logits");
                r->have_ref = st == HWA_OK;
            }
            if (!st) st = hwa__workload_output(w, out, n_out);
            if (!st) {
                tmpl->max_abs_error_vs_f32 = max_abs_diff(out, r->ref, n_out < r->ref_n ? n_out : r->ref_n);
                note_add(tmpl, "error vs f32: the first query's logits against the same query through the CPU's "
                         "scalar reference kernels");
            }
        }
    } else if (!st) {
        snprintf(tmpl->kernel, sizeof tmpl->kernel, "%s", w->kernel[0] ? w->kernel : "n/a");
        st = hwa__workload_output(w, out, n_out);
    }
    if (!st && !w->llama && c->dtype == HWA_F32 && !r->have_ref && on_cpu(b)) {
        free(r->ref);
        r->ref = out;
        r->ref_n = n_out;
        r->have_ref = true;
        out = NULL;
        tmpl->max_abs_error_vs_f32 = 0;
    } else if (!st && !w->llama && !(st = ensure_ref(r, b, c->threads))) {
        tmpl->max_abs_error_vs_f32 = max_abs_diff(out, r->ref, n_out < r->ref_n ? n_out : r->ref_n);
        if (!on_cpu(b)) note_add(tmpl, "error vs f32: against the same inputs in f32 on cpu");
    }
    free(out);
    /* No rate was known for the device and dtype (a device's first rows):
     * a query's time predicts the measurement's instead, and teaches the rows
     * after it. The validation query's includes first-run costs (kernels
     * compiled, weights packed), so when it alone says the rows cannot fit,
     * one more query is timed and decides. Rows that cannot fit are skipped;
     * the error just measured stays in them. */
    const int per_visit = r->reps * (b->n_scens - n_peak) + n_peak;
    double allow_now = 2 * row_share(r) * b->n_scens < time_left(r) ? 2 * row_share(r) * b->n_scens : time_left(r);
    if (!st && s->time_budget_s > 0 && !isfinite(one) && m->first > 0 && m->first * per_visit > allow_now) {
        const double t1 = hwa_bench_clock_now();
        st = hwa__workload_run(w);
        const double second = hwa_bench_clock_now() - t1;
        allow_now = 2 * row_share(r) * b->n_scens < time_left(r) ? 2 * row_share(r) * b->n_scens : time_left(r);
        if (!st && second * per_visit > allow_now) {
            learn_rate(r, b->dev, c->dtype, w->flops_per_query / second * 1e-9);
            note_add(tmpl, "skipped: a query took %.3g s (the validation query %.3g s), so measuring %d repetition(s) "
                     "would take about %.3g s, more than the %.3g s this row may take of the time budget", second,
                     m->first, r->reps, second * per_visit, allow_now > 0 ? allow_now : 0);
            skip(r, b, m, tmpl);
        }
    }
    return st;
}

/* The config of one visit to an interleaved row: the row's minimums and caps
 * split over its reps; the warm-up on the configuration's first visit only
 * (less the validation query, which warmed up too); with a time budget, the
 * row's share of it split likewise. */
static hwa_bench_config visit_config(const hwa__sweep_runner *r, hwa_bench_scenario scen, double share, double first,
                                     bool warm_up) {
    const int reps = r->reps;
    hwa_bench_config c = r->s->cfg;
    c.scenario = scen;
    c.min_time_s /= reps;
    c.min_queries = (c.min_queries + reps - 1) / reps;
    if (c.max_time_s > 0) c.max_time_s /= reps;
    if (c.max_queries > 0) c.max_queries = (c.max_queries + reps - 1) / reps;
    if (!warm_up) c.warmup_s = 0, c.warmup_queries = 0;
    else if (c.warmup_queries > 0) c.warmup_queries--;
    if (r->s->time_budget_s > 0) {
        double cap = share / reps; /* a visit still runs one query when that is longer */
        if (!(cap > 0)) cap = 1e-9; /* the budget is spent (a slow machine): one query a visit */
        if (!(c.max_time_s > 0) || cap < c.max_time_s) c.max_time_s = cap;
        if (c.warmup_s > 0.25 * share) c.warmup_s = share > 0 ? 0.25 * share : 0;
        if (first > 0.25 * share) c.warmup_queries = 0, c.warmup_s = 0;
    }
    return c;
}

static double meter_joules(hwa__bdev_meter *m) {
    double j;
    return m && !hwa__bdev_meter_joules(m, &j) ? j : NAN;
}

/* One visit: a short run of the row's scenario on m's workload, its samples
 * added to the row's pool and its energy to the row's. */
static hwa_status visit(member *m, const hwa_bench_config *c, hwa__bdev_meter *meter, row_acc *a, int k) {
    hwa_bench_system sys = {.ud = &m->w, .run_query = run_query_cb};
    hwa_load_sample l0, l1;
    uint64_t n0, cut0, n1, cut1;
    const bool have_l0 = hwa_load_sample_take(NULL, &l0) == HWA_OK;
    hwa__cpu_threads_cut_stats(&n0, &cut0);
    double j0 = meter_joules(meter), t0 = hwa_bench_clock_now();
    hwa_status st = hwa__bench_run_into(&sys, c, &a->runs[k], &a->pool);
    a->joules += meter_joules(meter) - j0; /* NAN without a meter, and stays so */
    a->wall += hwa_bench_clock_now() - t0;
    if (st) return st; /* before the sample, which may record messages of its own */
    hwa__cpu_threads_cut_stats(&n1, &cut1);
    if (have_l0 && hwa_load_sample_take(NULL, &l1) == HWA_OK) load_add(a, &l0, &l1);
    a->computes += n1 - n0, a->cut += cut1 - cut0;
    return st;
}

/* The row's throughput per repetition, their mean and spread. */
static void set_reps(hwa_bench_row *row, const hwa_bench_result *runs, int reps) {
    double sum = 0, ss = 0;
    row->reps = reps;
    for (int k = 0; k < reps; k++) sum += row->rep_samples_per_s[k] = runs[k].queries_per_s * (double)row->batch;
    row->samples_per_s = sum / reps;
    for (int k = 0; k < reps; k++) ss += pow(row->rep_samples_per_s[k] - row->samples_per_s, 2);
    row->samples_per_s_sd = reps > 1 ? sqrt(ss / (reps - 1)) : NAN;
}

static void set_energy(hwa_bench_row *row, const block_meter *bm, double joules, double wall) {
    row->idle_power_w = bm->idle_w;
    if (!bm->m && bm->why[0]) note_add(row, "energy n/a: %s", bm->why);
    if (!isfinite(joules) || !isfinite(bm->idle_w) || !(wall > 0) || !(row->r.duration_s > 0)) return;
    /* Average power over the visits (warm-up included: the same steady
     * state) less idle, times the measured duration, shared by the measured
     * samples. */
    row->power_w = joules / wall - bm->idle_w;
    row->energy_j_per_sample = row->power_w * row->r.duration_s / ((double)row->r.queries * (double)row->batch);
}

/* Measures every interleaved row of the block: reps rounds, each visiting
 * every row once in the block's order. */
static hwa_status interleave(hwa__sweep_runner *r, const hwa__sweep_block *b, member *m, hwa_bench_row *rows,
                             row_acc *acc, const block_meter *bm) {
    const hwa_bench_sweep *s = r->s;
    const int ns = b->n_scens, reps = r->reps;
    int n_rows = 0;
    for (int i = 0; i < b->n_cfgs; i++)
        for (int c = 0; c < ns; c++) n_rows += !m[i].skipped && !is_peak(s, b->scens[c]);
    if (!n_rows) return HWA_OK;
    double share = row_share(r);
    hwa_status st = HWA_OK;
    for (int k = 0; !st && k < reps; k++) {
        /* the rows done so far, the group's finished repetitions as a share of its rows */
        progress(r, r->rows_done + k * n_rows / reps, "%s on %s, batch %lld: repetition %d of %d over %d row(s)",
                 rows[0].workload, b->dev,
                 (long long)b->batch, k + 1, reps, n_rows);
        for (int i = 0; !st && i < b->n_cfgs; i++) {
            bool warm_up = k == 0;
            for (int c = 0; !st && c < ns && !m[i].skipped; c++) {
                if (is_peak(s, b->scens[c])) continue;
                hwa_bench_config vc = visit_config(r, b->scens[c], share, m[i].first, warm_up);
                warm_up = false;
                st = visit(&m[i], &vc, bm->m, &acc[i * ns + c], k);
            }
        }
    }
    for (int j = 0; !st && j < b->n_cfgs * ns; j++) {
        if (m[j / ns].skipped || is_peak(s, b->scens[j % ns])) continue;
        hwa_bench_config rc = s->cfg;
        rc.scenario = b->scens[j % ns];
        st = hwa__bench_result_pool(acc[j].runs, reps, &acc[j].pool, &rc, &rows[j].r);
        if (st) break;
        set_reps(&rows[j], acc[j].runs, reps);
        set_energy(&rows[j], bm, acc[j].joules, acc[j].wall);
        set_load(&rows[j], &acc[j]);
    }
    return st;
}

/* A server row with a peak search: one search, as many server runs as it
 * takes, on m's workload. */
static hwa_status peak_row(hwa__sweep_runner *r, member *m, hwa_bench_row *row, const block_meter *bm) {
    const hwa_bench_sweep *s = r->s;
    progress(r, r->rows_done, "%s on %s, %s, batch %lld, %d thread(s): peak search", row->workload, row->device,
             row->dtype, (long long)row->batch, row->threads);
    hwa_bench_config cfg = s->cfg;
    cfg.scenario = HWA_SCENARIO_SERVER;
    if (cfg.warmup_queries > 0) cfg.warmup_queries--; /* the validation query warmed up too */
    if (s->time_budget_s > 0) {
        double share = row_share(r), cap = share > m->first ? share : m->first; /* at least one measured query */
        if (!(cfg.max_time_s > 0) || cap < cfg.max_time_s) cfg.max_time_s = cap;
        if (cfg.warmup_s > 0.25 * cap) cfg.warmup_s = 0.25 * cap;
        if (m->first > 0.25 * cap) cfg.warmup_queries = 0, cfg.warmup_s = 0;
    }
    hwa_bench_system sys = {.ud = &m->w, .run_query = run_query_cb};
    row_acc acc = {0};
    hwa_load_sample l0, l1;
    uint64_t n0, cut0, n1, cut1;
    const bool have_l0 = hwa_load_sample_take(NULL, &l0) == HWA_OK;
    hwa__cpu_threads_cut_stats(&n0, &cut0);
    double j0 = meter_joules(bm->m), t0 = hwa_bench_clock_now();
    hwa_bench_peak pk;
    hwa_status st = hwa_bench_find_peak(&sys, &cfg, 0, &pk);
    if (st) return st;
    if (pk.found) {
        row->r = pk.at_peak;
        row->peak_rate_qps = pk.peak_rate;
        row->peak_upper_qps = pk.upper_rate;
        row->peak_at_ceiling = pk.at_ceiling;
        if (pk.at_ceiling)
            note_add(row, "no tested rate violated the bound; the peak is at least %.4g q/s (the search's ceiling)",
                     pk.peak_rate);
        else if ((pk.upper_rate - pk.peak_rate) / pk.upper_rate > cfg.peak_rel_tol)
            note_add(row, "the search stopped after %d runs with the peak between %.4g and %.4g q/s", pk.runs,
                     pk.peak_rate, pk.upper_rate);
    } else {
        row->peak_rate_qps = 0;
        row->peak_upper_qps = pk.upper_rate;
        cfg.scenario = HWA_SCENARIO_SINGLE;
        if ((st = hwa_bench_run(&sys, &cfg, &row->r))) return st;
        note_add(row, "no rate met the p99 bound of %.3g ms (single-query p99 %.3g ms); latencies are from a single run",
                 cfg.p99_bound_s * 1e3, row->r.latency.p99 * 1e3);
        row->r.target_rate = NAN;
    }
    note_add(row, "peak search: %d runs", pk.runs);
    set_reps(row, &row->r, 1);
    set_energy(row, bm, meter_joules(bm->m) - j0, hwa_bench_clock_now() - t0);
    hwa__cpu_threads_cut_stats(&n1, &cut1);
    if (have_l0 && hwa_load_sample_take(NULL, &l1) == HWA_OK) load_add(&acc, &l0, &l1);
    acc.computes = n1 - n0, acc.cut = cut1 - cut0;
    set_load(row, &acc);
    return HWA_OK;
}

/* The metrics that follow from a measured row, its notes, and what it
 * teaches the budget's predictions. */
static void finish_row(hwa__sweep_runner *r, const hwa__sweep_config *c, const hwa__workload *w, hwa_bench_row *row) {
    const hwa_bench_sweep *s = r->s;
    if (!strcmp(row->scenario, "server")) row->p99_bound_ms = s->cfg.p99_bound_s * 1e3;
    double svc = row->r.service.mean;
    row->gflops = svc > 0 ? w->flops_per_query / svc * 1e-9 : NAN;
    row->gbps = svc > 0 ? w->bytes_per_query / svc * 1e-9 : NAN;
    row->pct_of_peak = row->gflops / hwa__bdev_peak_gflops(s->passport, row->device, c->dtype) * 100;
    row->peak_rss_bytes = peak_rss();
    learn_rate(r, row->device, c->dtype, row->gflops);
    if (row->pct_of_peak > 100) {
        const char *method = hwa__bdev_peak_method(s->passport, row->device);
        if (!strcmp(method, "matmul"))
            note_add(row, "above the calibrated %s peak of %.4g GFLOP/s (hwadapt's matmul kernels on a 2048^3 "
                     "product): a product whose weights stay in cache runs faster than that one, or the machine was "
                     "busier during calibration (hwadapt probe --recalibrate measures again)", row->dtype,
                     hwa__bdev_peak_gflops(s->passport, row->device, c->dtype));
        else
            note_add(row, "above the calibrated %s peak of %.4g GFLOP/s (%s): the calibration did not measure the "
                     "instructions this kernel uses", row->dtype,
                     hwa__bdev_peak_gflops(s->passport, row->device, c->dtype), method);
    }
    if (w->pl) {
        /* what the scheduler predicted against what happened, then the
         * nodes timed so that the next plan uses measured times */
        if (w->fallback_note[0]) note_add(row, "%s", w->fallback_note);
        const double pred = hwa_placement_estimate_s(w->pl), med = row->r.service.p50;
        note_add(row, "predicted %.4g ms a query, measured %.4g ms (median; prediction %+.0f%%)", pred * 1e3, med * 1e3,
                 (pred / med - 1) * 100);
        char mem[200] = "";
        for (int d = 0; d < hwa_placement_device_count(w->pl); d++)
            snprintf(mem + strlen(mem), sizeof mem - strlen(mem), "%s%s %.2f MiB (planned %.2f)", d ? ", " : "",
                     hwa_placement_device_info(w->pl, d)->id,
                     (hwa_placement_device_held_bytes(w->pl, d) - w->place_base_used[d]) / 1048576.0,
                     hwa_placement_device_need_bytes(w->pl, d) / 1048576.0);
        note_add(row, "memory the schedule holds: %s", mem);
        if (hwa_placement_profile(w->pl, 3) == HWA_OK) note_add(row, "nodes timed for the profile cache");
        else note_add(row, "timing the nodes failed: %s", hwa_last_error());
    }
    if (row->r.capped)
        note_add(row, "capped at %lld queries in %.3g s (minimum %lld queries, %.3g s) to fit the time budget",
                 (long long)row->r.queries, row->r.duration_s, (long long)s->cfg.min_queries, s->cfg.min_time_s);
    if (row->r.spread_warning)
        note_add(row, "spread too wide to trust: CV %.0f%% over %.0f%%", row->r.service.cv * 100, s->cfg.cv_warn * 100);
    r->rows_done++;
}

static void block_meter_open(const hwa__sweep_runner *r, const char *dev, block_meter *bm) {
    bm->m = hwa__bdev_meter_open(r->s->passport, dev, bm->why, sizeof bm->why);
    bm->idle_w = NAN;
    if (!bm->m) return;
    /* Idle power: the meter over half a second of sleep before the rows. */
    double i0 = meter_joules(bm->m), ts = hwa_bench_clock_now();
    nanosleep(&(struct timespec){0, 500000000L}, NULL);
    bm->idle_w = (meter_joules(bm->m) - i0) / (hwa_bench_clock_now() - ts);
}

hwa_status hwa__sweep_block_run(hwa__sweep_runner *r, const hwa__sweep_block *b) {
    const int ns = b->n_scens, n_rows = b->n_cfgs * ns;
    member *m = calloc((size_t)b->n_cfgs, sizeof *m);
    hwa_bench_row *rows = calloc((size_t)n_rows, sizeof *rows);
    row_acc *acc = calloc((size_t)n_rows, sizeof *acc);
    if (!m || !rows || !acc) {
        free(m), free(rows), free(acc);
        return hwa__err(NULL, HWA_E_NOMEM, "sweep: out of memory for %d rows", n_rows);
    }
    r->have_ref = false;
    hwa_status st = HWA_OK;
    for (int i = 0; !st && i < b->n_cfgs; i++) {
        hwa_bench_row tmpl;
        row_init(b, &b->cfgs[i], r->s->sequences, &tmpl);
        st = prepare(r, b, i, &m[i], &tmpl);
        for (int c = 0; c < ns; c++) {
            rows[i * ns + c] = tmpl;
            snprintf(rows[i * ns + c].scenario, sizeof rows[i].scenario, "%s", hwa_bench_scenario_name(b->scens[c]));
        }
    }
    block_meter bm = {0};
    if (!st) block_meter_open(r, b->dev, &bm);
    if (!st) st = interleave(r, b, m, rows, acc, &bm);
    for (int j = 0; !st && j < n_rows; j++)
        if (!m[j / ns].skipped && is_peak(r->s, b->scens[j % ns])) st = peak_row(r, &m[j / ns], &rows[j], &bm);
    hwa__bdev_meter_close(bm.m);
    for (int j = 0; !st && j < n_rows; j++)
        if (!m[j / ns].skipped) finish_row(r, &b->cfgs[j / ns], &m[j / ns].w, &rows[j]);
    for (int j = 0; !st && j < n_rows; j++) st = hwa_bench_report_add(r->rep, &rows[j]);
    for (int i = 0; i < b->n_cfgs; i++)
        if (m[i].built) hwa__workload_free(&m[i].w);
    for (int j = 0; j < n_rows; j++) hwa__bench_samples_free(&acc[j].pool);
    free(m), free(rows), free(acc);
    return st;
}
