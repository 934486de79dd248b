/* hwadapt plan's work: a workload's placement as a dry run, printed or as
 * JSON; with measure, every placement weighed run and timed side by side,
 * its nodes timed for the profile cache, and the predictions compared with
 * what happened. */
#include <math.h>
#include <string.h>

#include "bench/workload.h"
#include "core/file.h"
#include "core/json_write.h"
#include "hwadapt/nn.h"
#include "hwadapt/train.h"

enum { MAX_C = 16 };

typedef struct measured {
    char name[96];
    signed char *assign;
    double est_before, est_after, secs;
    bool fits;
    hwa__workload w;
    int queries;
} measured;

static hwa_status measure(const hwa_bench_plan *a, int index, const char *devices, const hwa_passport *pp, FILE *out) {
    hwa__workload w0;
    signed char *auto_assign = NULL;
    double *t = NULL;
    const int64_t batch = a->batch ? a->batch : hwa_bench_workload_default_batch(index);
    hwa_status st = hwa__workload_build(index, NULL, a->dtype, batch, 0, 42, HWA_OPTIM_ADAM, &w0);
    if (!st) st = hwa__workload_place(&w0, devices, &(hwa_place_opts){0}, pp);
    if (st) {
        hwa__workload_free(&w0);
        return st;
    }
    const int n_nodes = hwa_graph_n_nodes(w0.g);
    measured m[MAX_C];
    memset(m, 0, sizeof m);
    int nm = 0;
    for (int k = 0; k < hwa_placement_candidate_count(w0.pl) && nm < MAX_C; k++) {
        const char *name;
        measured *c = &m[nm];
        memset(c, 0, sizeof *c);
        c->assign = malloc((size_t)n_nodes);
        if (!c->assign) break;
        hwa_placement_candidate(w0.pl, k, &name, &c->est_before, &c->fits, c->assign);
        snprintf(c->name, sizeof c->name, "%s", name);
        if (c->fits) nm++;
        else free(c->assign);
    }
    char auto_before[96];
    snprintf(auto_before, sizeof auto_before, "%s", hwa_placement_choice(w0.pl));
    hwa__workload_free(&w0);
    /* build each, warm it, time its nodes for the cache */
    for (int k = 0; k < nm && !st; k++) {
        hwa_place_opts o = {.mode = HWA_PLACE_GIVEN, .assign = m[k].assign};
        st = hwa__workload_build(index, "cpu", a->dtype, batch, 0, 42, HWA_OPTIM_ADAM, &m[k].w);
        if (!st) st = hwa__workload_place(&m[k].w, devices, &o, pp);
        double t0 = hwa_bench_clock_now();
        for (int q = 0; q < 2 && !st; q++) st = hwa__workload_run(&m[k].w);
        const double per = (hwa_bench_clock_now() - t0) / 2;
        m[k].queries = per > 0 ? (int)ceil(0.15 / per) : 1;
        if (m[k].queries < 1) m[k].queries = 1;
        if (m[k].queries > 200) m[k].queries = 200;
        if (!st) st = hwa_placement_profile(m[k].w.pl, 3);
        if (a->progress) a->progress(a->progress_ud, m[k].name);
    }
    t = calloc((size_t)(nm * a->reps + 1), sizeof *t);
    /* What the plan predicts is the graph's run: the placement's compute,
     * copies included (a training step's update, the optimizer's own
     * placement, is not part of it). */
    for (int r = 0; r < a->reps && !st && t; r++)
        for (int k = 0; k < nm && !st; k++) {
            const double t0 = hwa_bench_clock_now();
            for (int q = 0; q < m[k].queries && !st; q++) st = hwa_placement_compute(m[k].w.pl);
            t[k * a->reps + r] = (hwa_bench_clock_now() - t0) / m[k].queries;
        }
    if (st) goto done;
    for (int k = 0; k < nm && !st; k++) {
        hwa_bench_stats sk;
        st = hwa_bench_stats_compute(t + k * a->reps, a->reps, &sk);
        m[k].secs = sk.p50;
    }
    if (st) goto done;
    /* the estimates now that the cache has every node of every placement */
    char auto_after[96] = "";
    auto_assign = malloc((size_t)n_nodes);
    for (int k = 0; k <= nm && !st; k++) {
        hwa__workload w;
        hwa_place_opts o = k < nm ? (hwa_place_opts){.mode = HWA_PLACE_GIVEN, .assign = m[k].assign} : (hwa_place_opts){0};
        st = hwa__workload_build(index, NULL, a->dtype, batch, 0, 42, HWA_OPTIM_ADAM, &w);
        if (!st) st = hwa__workload_place(&w, devices, &o, pp);
        if (!st && k < nm) m[k].est_after = hwa_placement_estimate_s(w.pl);
        if (!st && k == nm) {
            snprintf(auto_after, sizeof auto_after, "%s", hwa_placement_choice(w.pl));
            hwa_placement_candidate(w.pl, hwa_placement_chosen(w.pl), NULL, NULL, NULL, auto_assign);
        }
        hwa__workload_free(&w);
    }
    if (st) goto done;
    int best = 0, chosen = -1;
    for (int k = 0; k < nm; k++) {
        if (m[k].secs < m[best].secs) best = k;
        if (auto_assign && !memcmp(auto_assign, m[k].assign, (size_t)n_nodes)) chosen = k;
    }
    if (a->json) {
        fprintf(out, "{\"schema\": \"hwadapt.plan-measure/1\", \"workload\": \"%s\", \"batch\": %lld, \"devices\": ",
                hwa_bench_workload_name(index), (long long)batch);
        hwa__json_write_cstr(out, devices);
        fprintf(out, ", \"reps\": %d, \"auto_before\": ", a->reps);
        hwa__json_write_cstr(out, auto_before);
        fprintf(out, ", \"auto_after\": ");
        hwa__json_write_cstr(out, auto_after);
        fprintf(out, ", \"placements\": [");
        for (int k = 0; k < nm; k++) {
            fprintf(out, "%s\n  {\"placement\": ", k ? "," : "");
            hwa__json_write_cstr(out, m[k].name);
            fprintf(out, ", \"predicted_s_before\": ");
            hwa__json_write_num(out, m[k].est_before);
            fprintf(out, ", \"predicted_s\": ");
            hwa__json_write_num(out, m[k].est_after);
            fprintf(out, ", \"measured_s\": %.9g, \"prediction_error\": ", m[k].secs);
            hwa__json_write_num(out, m[k].est_after / m[k].secs - 1);
            fprintf(out, ", \"auto\": %s, \"best\": %s}", k == chosen ? "true" : "false", k == best ? "true" : "false");
        }
        fprintf(out, "],\n \"auto_measured_s\": ");
        hwa__json_write_num(out, chosen >= 0 ? m[chosen].secs : NAN);
        fprintf(out, ", \"auto_vs_best\": ");
        hwa__json_write_num(out, chosen >= 0 ? m[chosen].secs / m[best].secs : NAN);
        fprintf(out, "}\n");
    } else {
        fprintf(out, "%s, batch %lld, on %s: every placement weighed, %d interleaved repetitions (median per query)\n\n",
                hwa_bench_workload_name(index), (long long)batch, devices, a->reps);
        fprintf(out, "  %-44s %14s %14s %12s %9s\n", "placement", "predicted cold", "predicted warm", "measured", "error");
        for (int k = 0; k < nm; k++)
            fprintf(out, "  %-44s %11.3f ms %11.3f ms %9.3f ms %+8.0f%%%s%s\n", m[k].name, m[k].est_before * 1e3,
                    m[k].est_after * 1e3, m[k].secs * 1e3, (m[k].est_after / m[k].secs - 1) * 100,
                    k == chosen ? "  <- auto" : "", k == best ? "  (fastest)" : "");
        fprintf(out, "\nauto before timing: %s; after: %s", auto_before, auto_after);
        if (chosen >= 0)
            fprintf(out, ", measured %.3f ms = %.2fx the fastest placement (%s)\n", m[chosen].secs * 1e3,
                    m[chosen].secs / m[best].secs, m[best].name);
        else fprintf(out, " (not among the placements measured)\n");
    }
done:
    free(auto_assign);
    free(t);
    for (int k = 0; k < nm; k++) {
        hwa__workload_free(&m[k].w);
        free(m[k].assign);
    }
    return st;
}

typedef struct out_job {
    const hwa_bench_plan *a;
    int index;
    const char *devices;
    const hwa_passport *pp;
} out_job;

static hwa_status write_out(void *ud, void *file) {
    const out_job *j = ud;
    const hwa_bench_plan *a = j->a;
    FILE *f = file;
    if (a->measure) return measure(a, j->index, j->devices, j->pp, f);
    hwa__workload w;
    const int64_t batch = a->batch ? a->batch : hwa_bench_workload_default_batch(j->index);
    hwa_status st = hwa__workload_build(j->index, NULL, a->dtype, batch, 0, 42, HWA_OPTIM_ADAM, &w);
    if (!st) st = hwa__workload_place(&w, j->devices, &a->opts, j->pp);
    if (!st && a->json) st = hwa_placement_write_json(w.pl, f);
    if (!st && !a->json) {
        fprintf(f, "%s, batch %lld, %s, across %s (a dry run: nothing allocated)\n", hwa_bench_workload_name(j->index),
                (long long)batch, hwa_dtype_name(a->dtype), j->devices);
        st = hwa_placement_print(w.pl, f, a->per_node);
    }
    hwa__workload_free(&w);
    return st;
}

/* An ONNX model's forward pass (symbolic dims = the batch, default 1):
 * the importer's graph, built without a device and placed as a built-in
 * workload's. */
static hwa_status write_onnx(const hwa_bench_plan *a, const char *devices, FILE *f) {
    hwa__workload w;
    const int64_t batch = a->batch ? a->batch : 1;
    hwa_status st = hwa__onnx_workload_build(a->workload, NULL, batch, 0, 42, &w);
    if (st) return st;
    st = hwa__workload_place(&w, devices, &a->opts, a->passport);
    if (!st && a->json) st = hwa_placement_write_json(w.pl, f);
    if (!st && !a->json) {
        fprintf(f, "%s, batch %lld, f32, across %s (a dry run: nothing allocated)\n", a->workload, (long long)batch,
                devices);
        st = hwa_placement_print(w.pl, f, a->per_node);
    }
    hwa__workload_free(&w);
    return st;
}

/* A model file's step: loaded on the CPU (weights mapped), placed across
 * the devices. */
static hwa_status write_model(const hwa_bench_plan *a, const char *devices, FILE *f) {
    if (hwa__is_onnx_file(a->workload)) return write_onnx(a, devices, f);
    if (a->measure)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "plan --measure: built-in workloads only (hwadapt generate --device auto "
                                                 "reports a model's predicted against measured step time)");
    hwa_llama *m = NULL;
    hwa_llama_params lp = {.device = "cpu", .place_devices = devices, .passport = a->passport, .place = a->opts};
    hwa_status st = hwa_llama_load(a->workload, &lp, &m);
    const int32_t n = a->batch > 0 ? (int32_t)(a->batch > INT32_MAX ? INT32_MAX : a->batch) : 1;
    if (!st && !a->json)
        fprintf(f, "%s, %s of %d token%s, %s weights, across %s (a dry run: nothing placed on a device)\n", a->workload,
                n > 1 ? "a prefill" : "a decode step", n, n > 1 ? "s" : "",
                hwa_dtype_name(hwa_llama_get_config(m)->weight_dtype), devices);
    if (!st) st = hwa_llama_plan(m, n, f, a->json, a->per_node);
    hwa_llama_free(m);
    return st;
}

static hwa_status write_model_job(void *ud, void *file) {
    const out_job *j = ud;
    return write_model(j->a, j->devices, file);
}

hwa_status hwa_bench_plan_run(const hwa_bench_plan *a, FILE *out) {
    if (!a || !a->workload || (!out && !a->out_path)) return hwa__err(NULL, HWA_E_MISUSE, "hwa_bench_plan_run: NULL argument");
    char devices[256];
    if (a->devices && *a->devices) snprintf(devices, sizeof devices, "%s", a->devices);
    else hwa_place_device_list(a->passport, devices, sizeof devices);
    int index = -1;
    hwa_status st = hwa_bench_workload_find(a->workload, &index);
    if (st && strchr(a->workload, '/')) { /* a path: a model file */
        out_job j = {a, -1, devices, a->passport};
        return a->out_path ? hwa__atomic_write(a->out_path, write_model_job, &j) : write_model(a, devices, out);
    }
    if (st) {
        FILE *probe = fopen(a->workload, "rb");
        if (!probe) return hwa__err(NULL, st, "%s (or a model file's path)", hwa_last_error());
        fclose(probe);
        out_job j = {a, -1, devices, a->passport};
        return a->out_path ? hwa__atomic_write(a->out_path, write_model_job, &j) : write_model(a, devices, out);
    }
    out_job j = {a, index, devices, a->passport};
    return a->out_path ? hwa__atomic_write(a->out_path, write_out, &j) : write_out(&j, out);
}
