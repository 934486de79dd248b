/* Placement across devices: the same results whichever placement runs (the
 * built-in workloads on cpu, on opencl:0, split by layers and by batch),
 * choices that follow the cost model, memory caps that split or refuse
 * before anything runs and are never passed, a failing device with and
 * without re-planning, and the profile cache. */
#include <stdlib.h>
#include <unistd.h>

#include "bench/workload.h"
#include "harness.h"
#include "sched/sched_internal.h"

/* ---- pure functions -------------------------------------------------------- */

TEST(batch_shares_follow_the_rates_and_sum_to_the_batch) {
    int64_t sh[3];
    CHECK_OK(hwa_place_batch_shares((const double[]){3, 1}, 2, 100, sh));
    CHECK_INT_EQ(sh[0], 75);
    CHECK_INT_EQ(sh[1], 25);
    CHECK_OK(hwa_place_batch_shares((const double[]){1, 1, 1}, 3, 100, sh));
    CHECK_INT_EQ(sh[0] + sh[1] + sh[2], 100);
    CHECK(sh[0] >= 33 && sh[1] >= 33 && sh[2] >= 33);
    /* a device a thousand times slower still gets a row */
    CHECK_OK(hwa_place_batch_shares((const double[]){1000, 1}, 2, 10, sh));
    CHECK_INT_EQ(sh[0], 9);
    CHECK_INT_EQ(sh[1], 1);
    CHECK_STATUS(hwa_place_batch_shares((const double[]){1, 1}, 2, 1, sh), HWA_E_INVALID);
    CHECK_STATUS(hwa_place_batch_shares((const double[]){1, 0}, 2, 10, sh), HWA_E_INVALID);
    CHECK_STATUS(hwa_place_batch_shares((const double[]){1, NAN}, 2, 10, sh), HWA_E_INVALID);
}

TEST(mem_limit_reads_sizes_per_device_and_rejects_garbage) {
    setenv("HWA_MEM_LIMIT", "opencl:0=64M,cpu=3G,opencl:1=4096", 1);
    CHECK_INT_EQ(hwa__mem_limit_for("opencl:0", NULL), 64LL << 20);
    CHECK_INT_EQ(hwa__mem_limit_for("cpu:0", NULL), 3LL << 30);
    CHECK_INT_EQ(hwa__mem_limit_for("opencl:1", NULL), 4096);
    CHECK_INT_EQ(hwa__mem_limit_for("opencl:2", NULL), -1);
    const char *bad = NULL;
    setenv("HWA_MEM_LIMIT", "opencl:0=64X", 1);
    CHECK_INT_EQ(hwa__mem_limit_for("opencl:0", &bad), -2);
    CHECK(bad != NULL);
    setenv("HWA_MEM_LIMIT", "opencl:0", 1);
    CHECK_INT_EQ(hwa__mem_limit_for("cpu:0", NULL), -2);
    /* a backend is not made under a malformed limit, and the error says why */
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    CHECK(hwa_backend_new(ctx, "cpu") == NULL);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "HWA_MEM_LIMIT");
    hwa_ctx_free(ctx);
    unsetenv("HWA_MEM_LIMIT");
}

TEST(a_backend_never_allocates_past_its_memory_cap) {
    setenv("HWA_MEM_LIMIT", "cpu=1M", 1);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = hwa_backend_new(ctx, "cpu");
    unsetenv("HWA_MEM_LIMIT");
    CHECK(be != NULL);
    hwa_tensor *a = hwa_tensor_new_1d(ctx, HWA_F32, 160 * 1024); /* 640 KiB */
    hwa_tensor *b = hwa_tensor_new_1d(ctx, HWA_F32, 160 * 1024);
    CHECK_OK(hwa_tensor_alloc(a, be));
    CHECK_INT_EQ(be->mem_used, 640 * 1024);
    CHECK_STATUS(hwa_tensor_alloc(b, be), HWA_E_NOMEM);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "cpu:0");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "memory cap");
    CHECK_INT_EQ(be->mem_used, 640 * 1024);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
}

/* ---- the same results on every placement ---------------------------------- */

/* A device with round figures: peak GFLOP/s, bandwidth GB/s, link GB/s. */
static hwa_place_device fake(const hwa_backend *be, double gflops, double gbs, double link) {
    hwa_place_device d;
    hwa_place_device_describe(NULL, be, &d);
    for (int t = 0; t < HWA_DTYPE_COUNT; t++) d.peak_gflops[t] = gflops;
    d.mem_gbs = gbs;
    d.h2d_gbs = d.d2h_gbs = link;
    d.launch_us = d.host_memory ? 0 : 10;
    return d;
}

enum { STEPS = 3 };

/* Runs w STEPS queries and keeps every query's output (training: the loss
 * before each update, so the updates are checked too). */
static bool outputs(hwa__workload *w, float *out, int64_t n) {
    for (int s = 0; s < STEPS; s++) {
        hwa_status st = hwa__workload_run(w);
        if (!st) st = hwa__workload_output(w, out + (size_t)s * (size_t)n, n);
        if (st) {
            hwa_test_fail(__FILE__, __LINE__, "query %d: %s", s, hwa_last_error());
            return false;
        }
    }
    return true;
}

TEST(every_builtin_workload_gives_the_same_outputs_on_every_placement) {
    if (!hwa_test_have_opencl()) return;
    const int64_t batch = 96; /* mlp1000's 1000 rows would take minutes on PoCL */
    for (int wl = 0; wl < hwa_bench_workload_count(); wl++) {
        /* fmnist-cnn's convolutions, pooling and batchnorm have no OpenCL
         * kernels: "opencl alone" cannot hold it (the scheduler keeps those
         * nodes on the CPU) */
        if (strstr(hwa_bench_workload_name(wl), "cnn")) continue;
        hwa__workload ref;
        CHECK_OK(hwa__workload_build(wl, "cpu", HWA_F32, batch, 0, 7, HWA_OPTIM_ADAM, &ref));
        const int64_t n = hwa__workload_out_n(&ref);
        float *want = malloc((size_t)(n * STEPS) * sizeof *want), *got = malloc((size_t)(n * STEPS) * sizeof *got);
        CHECK(want && got);
        if (!outputs(&ref, want, n)) return;
        hwa__workload_free(&ref);
        const char *names[] = {"opencl alone", "layers cpu | opencl", "layers opencl | cpu", "mixed by the model",
                               "batch 37/59"};
        for (int pl = 0; pl < 5; pl++) {
            hwa__workload w;
            CHECK_OK(hwa__workload_build(wl, "cpu", HWA_F32, batch, 0, 7, HWA_OPTIM_ADAM, &w));
            hwa_place_opts o = {.profile_path = ""};
            char list[64];
            snprintf(list, sizeof list, "%s", hwa_test_cpu_and_opencl());
            if (pl == 0) o.mode = HWA_PLACE_SINGLE, o.device = 1;
            if (pl == 1 || pl == 2) o.mode = HWA_PLACE_LAYERS, o.split = 0.5;
            if (pl == 2) snprintf(list, sizeof list, "%s,cpu", hwa_test_opencl_spec());
            if (pl == 4) {
                CHECK_OK(hwa__workload_split_batch(&w, list, (const int64_t[]){37, 59}, NULL));
            } else if (pl == 3) {
                /* figures that send products to opencl and the rest to the
                 * CPU: a mixed placement with copies both ways every run */
                hwa_backend *cl = hwa_backend_new(w.ctx, hwa_test_opencl_spec());
                CHECK(cl != NULL);
                w.place_be[w.n_place_be++] = cl;
                hwa_backend *bes[2] = {w.be, cl};
                hwa_place_device d[2] = {fake(w.be, 1, 100, 0), fake(cl, 1000, 1, 100)};
                CHECK_OK(hwa__workload_place_with(&w, bes, d, 2, &o));
                CHECK_INT_EQ(hwa_placement_devices_used(w.pl), 2);
            } else {
                CHECK_OK(hwa__workload_place(&w, list, &o, NULL));
            }
            if (pl > 0 && pl < 3) CHECK_INT_EQ(hwa_placement_devices_used(w.pl), 2);
            if (pl == 0) CHECK_INT_EQ(hwa_placement_devices_used(w.pl), 1);
            if (!outputs(&w, got, n)) return;
            /* f32 sums of up to 1000 products in another order: within
             * 1e-5 + 1e-4 |value| (the error over that bound is what counts) */
            double worst = 0, over = 0;
            for (int64_t k = 0; k < n * STEPS; k++) {
                const double d = fabs((double)got[k] - (double)want[k]);
                const double x = d - (1e-5 + 1e-4 * fabs((double)want[k]));
                if (!(d <= worst)) worst = d;
                if (!(x <= over)) over = x;
            }
            printf("    %-17s %-22s max |difference| %.3g\n", hwa_bench_workload_name(wl), names[pl], worst);
            CHECK_MSG(over == 0, "%s on %s: outputs differ by %.3g", hwa_bench_workload_name(wl), names[pl], worst);
            hwa__workload_free(&w);
        }
        free(want);
        free(got);
    }
}

/* ---- choices ------------------------------------------------------------- */

/* linear1000 (weights on the CPU) placed by the model: the node costs and
 * the copies decide, and the reasons say so. */
TEST(auto_follows_the_cost_model_and_says_why) {
    if (!hwa_test_have_opencl()) return;
    hwa__workload w;
    CHECK_OK(hwa__workload_build(0, "cpu", HWA_F32, 64, 0, 1, HWA_OPTIM_ADAM, &w));
    hwa_backend *cl = hwa_backend_new(w.ctx, hwa_test_opencl_spec());
    CHECK(cl != NULL);
    hwa_backend *bes[2] = {w.be, cl};
    for (int faster = 0; faster < 2; faster++) {
        hwa_place_device d[2] = {fake(w.be, faster ? 10 : 1000, faster ? 1 : 100, 0),
                                 fake(cl, faster ? 1000 : 10, faster ? 100 : 1, 10)};
        hwa_placement *p;
        CHECK_OK(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.profile_path = ""}, &p));
        for (int i = 0; i < w.g->n_nodes; i++)
            if (hwa_placement_node_device(p, i) >= 0) CHECK_INT_EQ(hwa_placement_node_device(p, i), faster);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK_OK(hwa_placement_print(p, f, true));
        fclose(f);
        CHECK_STR_CONTAINS(buf, faster ? "faster: opencl:0 " : "faster: cpu:0 ");
        CHECK_STR_CONTAINS(buf, faster ? "x faster than cpu:0 by estimate" : "x faster than opencl:0 by estimate");
        CHECK_STR_CONTAINS(buf, "alternatives:");
        free(buf);
        hwa_placement_free(p);
    }
    hwa_backend_free(cl);
    hwa__workload_free(&w);
}

/* A device that is fast but sits behind a slow link gets nothing when every
 * run would copy to it for little gain: in training the parameters change
 * every step (inputs and weights that do not change are copied once). */
TEST(copies_cost_what_the_link_costs) {
    if (!hwa_test_have_opencl()) return;
    hwa__workload w;
    CHECK_OK(hwa__workload_build(4, "cpu", HWA_F32, 64, 0, 1, HWA_OPTIM_ADAM, &w)); /* fmnist-mlp-train */
    hwa_backend *cl = hwa_backend_new(w.ctx, hwa_test_opencl_spec());
    hwa_backend *bes[2] = {w.be, cl};
    hwa_place_device d[2] = {fake(w.be, 100, 10, 0), fake(cl, 150, 15, 0.001)};
    hwa_placement *p;
    CHECK_OK(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.profile_path = ""}, &p));
    CHECK_INT_EQ(hwa_placement_devices_used(p), 1);
    CHECK_STR_CONTAINS(hwa_placement_choice(p), "cpu:0");
    hwa_placement_free(p);
    /* the same device behind a fast link takes the work */
    d[1].h2d_gbs = d[1].d2h_gbs = 1000;
    CHECK_OK(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.profile_path = ""}, &p));
    CHECK(hwa_placement_devices_used(p) >= 1);
    int on_cl = 0;
    for (int i = 0; i < w.g->n_nodes; i++) on_cl += hwa_placement_node_device(p, i) == 1;
    CHECK(on_cl > 0);
    hwa_placement_free(p);
    hwa_backend_free(cl);
    hwa__workload_free(&w);
}

/* ---- memory -------------------------------------------------------------- */

TEST(a_capped_device_gets_a_split_and_too_little_memory_is_refused_before_anything_runs) {
    if (!hwa_test_have_opencl()) return;
    char lim[128];
    /* fmnist-mlp's weights: 3.1 MiB for the first layer, 3.8 MiB for the second */
    snprintf(lim, sizeof lim, "%s=6M", hwa_test_opencl_spec());
    setenv("HWA_MEM_LIMIT", lim, 1);
    hwa__workload w;
    hwa_status st = hwa__workload_build(3, "cpu", HWA_F32, 64, 0, 1, HWA_OPTIM_ADAM, &w);
    hwa_backend *cl = st ? NULL : hwa_backend_new(w.ctx, hwa_test_opencl_spec());
    unsetenv("HWA_MEM_LIMIT");
    CHECK_OK(st);
    CHECK(cl != NULL);
    hwa_backend *bes[2] = {w.be, cl};
    /* opencl:0 a hundred times faster: it would take everything, but the
     * weights do not fit in 6 MiB less the margin */
    hwa_place_device d[2] = {fake(w.be, 10, 1, 0), fake(cl, 1000, 100, 100)};
    hwa_placement *p;
    CHECK_STATUS(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.mode = HWA_PLACE_SINGLE, .device = 1, .profile_path = ""}, &p),
                 HWA_E_NOMEM);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(w.ctx), "opencl:0 is");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(w.ctx), "MiB short");
    CHECK_INT_EQ(cl->mem_used, 0); /* refused before anything was allocated */
    CHECK_OK(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.profile_path = ""}, &p));
    CHECK_INT_EQ(hwa_placement_devices_used(p), 2);
    CHECK(hwa_placement_device_need_bytes(p, 1) <= hwa_placement_device_avail_bytes(p, 1));
    /* it runs, and the device never holds more than its cap */
    CHECK_OK(hwa_placement_compute(p));
    CHECK(cl->mem_used <= 6 << 20);
    float got[64 * 10], want[64 * 10];
    CHECK_OK(hwa_tensor_get_f32(w.out, got, 640));
    hwa_placement_free(p);
    CHECK_OK(hwa_graph_compute(w.g, w.be));
    CHECK_OK(hwa_tensor_get_f32(w.out, want, 640));
    CHECK(hwa_test_max_abs_diff(got, want, 640) < 1e-4);
    /* the CPU capped too: no placement fits, and the error names both */
    w.be->mem_cap = w.be->mem_used + (64 << 10);
    d[0].mem_bytes = w.be->mem_cap;
    CHECK_STATUS(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.profile_path = ""}, &p), HWA_E_NOMEM);
    CHECK_STR_CONTAINS(hwa_ctx_last_error(w.ctx), "no placement fits");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(w.ctx), "cpu:0 is");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(w.ctx), "opencl:0 is");
    hwa_backend_free(cl);
    hwa__workload_free(&w);
}

/* ---- faults -------------------------------------------------------------- */

TEST(a_failing_device_fails_the_run_by_name_or_is_replanned_away) {
    if (!hwa_test_have_opencl()) return;
    hwa__workload w;
    CHECK_OK(hwa__workload_build(0, "cpu", HWA_F32, 64, 0, 1, HWA_OPTIM_ADAM, &w));
    hwa_backend *cl = hwa_backend_new(w.ctx, hwa_test_opencl_spec());
    hwa_backend *bes[2] = {w.be, cl};
    hwa_place_device d[2] = {fake(w.be, 10, 1, 0), fake(cl, 1000, 100, 100)};
    hwa_placement *p;
    CHECK_OK(hwa_placement_new(w.g, bes, d, 2, &(hwa_place_opts){.profile_path = ""}, &p));
    CHECK_INT_EQ(hwa_placement_node_device(p, w.g->n_nodes - 1), 1);
    setenv("HWA_FAULT_DEVICE", hwa_test_opencl_spec(), 1);
    CHECK_STATUS(hwa_placement_compute(p), HWA_E_DEVICE);
    unsetenv("HWA_FAULT_DEVICE");
    CHECK_STR_CONTAINS(hwa_ctx_last_error(w.ctx), "opencl:0: injected fault");
    CHECK_INT_EQ(hwa_placement_failed_device(p), 1);
    CHECK_OK(hwa_placement_replan_without(p, 1));
    CHECK_INT_EQ(hwa_placement_devices_used(p), 1);
    CHECK_INT_EQ(hwa_placement_node_device(p, w.g->n_nodes - 1), 0);
    CHECK_OK(hwa_placement_compute(p));
    float got[64 * 1000];
    static float want[64 * 1000];
    CHECK_OK(hwa_tensor_get_f32(w.out, got, 64000));
    hwa_placement_free(p);
    CHECK_OK(hwa_graph_compute(w.g, w.be));
    CHECK_OK(hwa_tensor_get_f32(w.out, want, 64000));
    CHECK(hwa_test_max_abs_diff(got, want, 64000) < 1e-4);
    hwa_backend_free(cl);
    hwa__workload_free(&w);
}

/* ---- the profile cache ----------------------------------------------------- */

TEST(timed_nodes_replace_the_roofline_in_later_plans) {
    char path[4096];
    snprintf(path, sizeof path, "%s/profile.tsv", hwa_test_tmpdir());
    hwa__workload w;
    CHECK_OK(hwa__workload_build(0, "cpu", HWA_F32, 64, 0, 1, HWA_OPTIM_ADAM, &w));
    hwa_place_device d = fake(w.be, 100, 10, 0);
    hwa_placement *p;
    CHECK_OK(hwa_placement_new(w.g, &w.be, &d, 1, &(hwa_place_opts){.profile_path = path}, &p));
    const double before = hwa_placement_estimate_s(p);
    CHECK_OK(hwa_placement_profile(p, 3));
    const double after = hwa_placement_estimate_s(p);
    hwa_placement_free(p);
    CHECK(access(path, R_OK) == 0);
    CHECK_OK(hwa_placement_new(w.g, &w.be, &d, 1, &(hwa_place_opts){.profile_path = path}, &p));
    /* the cache keeps 9 significant digits of each node's time */
    CHECK_NEAR(hwa_placement_estimate_s(p), after, 1e-8 * after);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(hwa_placement_write_json(p, f));
    fclose(f);
    CHECK_STR_CONTAINS(buf, "\"source\": \"measured\"");
    CHECK_STR_CONTAINS(buf, "\"schema\": \"hwadapt.plan/1\"");
    printf("    linear1000 on cpu:0: roofline %.3g s, measured %.3g s\n", before, after);
    free(buf);
    hwa_placement_free(p);
    /* a damaged cache is skipped, not an error */
    FILE *bad = fopen(path, "w");
    fputs("garbage\tline\n\t\t\t\nx\ty\tnan\t1\n", bad);
    fclose(bad);
    CHECK_OK(hwa_placement_new(w.g, &w.be, &d, 1, &(hwa_place_opts){.profile_path = path}, &p));
    CHECK_NEAR(hwa_placement_estimate_s(p), before, 1e-12);
    hwa_placement_free(p);
    hwa__workload_free(&w);
}

/* ---- a language model ------------------------------------------------------- */

/* n greedy tokens of stories260K after a 4-token prompt (one batched pass,
 * then a step at a time), placed by lp; false on failure (recorded). */
static const int32_t prompts[2][4] = {{1, 403, 407, 261}, {1, 261, 290, 354}};

static bool greedy_from(const char *path, const hwa_llama_params *lp, const int32_t *prompt, int32_t n, int32_t *out,
                        char *where, size_t cap) {
    hwa_llama *m = NULL;
    hwa_status st = hwa_llama_load(path, lp, &m);
    if (st) {
        hwa_test_fail(__FILE__, __LINE__, "load: %s", hwa_last_error());
        return false;
    }
    const int32_t vocab = hwa_llama_get_config(m)->vocab_size;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    st = logits ? hwa_llama_eval(m, prompt, 4, false, logits) : HWA_E_NOMEM;
    if (!st && where) snprintf(where, cap, "%s", hwa_llama_placement(m, NULL));
    for (int32_t i = 0; i < n && !st; i++) {
        int32_t best = 0;
        for (int32_t v = 1; v < vocab; v++)
            if (logits[v] > logits[best]) best = v;
        out[i] = best;
        if (i + 1 < n) st = hwa_llama_eval(m, &out[i], 1, false, logits);
    }
    if (st) hwa_test_fail(__FILE__, __LINE__, "generation: %s (%s)", hwa_status_str(st), hwa_last_error());
    free(logits);
    hwa_llama_free(m);
    return st == HWA_OK;
}

static bool greedy(const char *path, const hwa_llama_params *lp, int32_t n, int32_t *out, char *where, size_t cap) {
    return greedy_from(path, lp, prompts[0], n, out, where, cap);
}

TEST(stories260K_gives_the_same_greedy_tokens_on_every_placement) {
    char path[512];
    NEED_DATA("stories260K/stories260K.bin", path);
    if (!hwa_test_have_opencl()) return;
    enum { N = 64 };
    int32_t want[N], got[N];
    if (!greedy(path, &(hwa_llama_params){0}, N, want, NULL, 0)) return;
    char rev[64];
    snprintf(rev, sizeof rev, "%s,cpu", hwa_test_opencl_spec());
    struct {
        const char *name, *devices;
        hwa_place_opts o;
    } cases[] = {
        {"opencl alone", hwa_test_cpu_and_opencl(), {.mode = HWA_PLACE_SINGLE, .device = 1, .profile_path = ""}},
        {"layers cpu | opencl", hwa_test_cpu_and_opencl(), {.mode = HWA_PLACE_LAYERS, .split = 0.5, .profile_path = ""}},
        {"layers opencl | cpu", rev, {.mode = HWA_PLACE_LAYERS, .split = 0.3, .profile_path = ""}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char where[96] = "";
        hwa_llama_params lp = {.place_devices = cases[c].devices, .place = cases[c].o};
        if (!greedy(path, &lp, N, got, where, sizeof where)) return;
        int same = 0;
        while (same < N && got[same] == want[same]) same++;
        printf("    %-20s %d of %d greedy tokens equal (the prompt ran as %s)\n", cases[c].name, same, N, where);
        CHECK_INT_EQ(same, N);
        CHECK(strstr(where, c == 0 ? "opencl:0" : "layers") != NULL);
    }
}

/* A batch of two sequences split across the devices: one model replica per
 * device, a sequence each (a single sequence's steps depend on each other,
 * so its own batch is its prompt's tokens, which a layer split covers). */
TEST(stories260K_split_by_batch_gives_each_sequence_its_greedy_tokens) {
    char path[512];
    NEED_DATA("stories260K/stories260K.bin", path);
    if (!hwa_test_have_opencl()) return;
    enum { N = 48 };
    int32_t want[2][N], got[2][N];
    for (int q = 0; q < 2; q++)
        if (!greedy_from(path, &(hwa_llama_params){0}, prompts[q], N, want[q], NULL, 0)) return;
    /* sequence 0 on the CPU, sequence 1 on the OpenCL device */
    const hwa_llama_params on[2] = {
        {0},
        {.place_devices = hwa_test_cpu_and_opencl(), .place = {.mode = HWA_PLACE_SINGLE, .device = 1, .profile_path = ""}},
    };
    for (int q = 0; q < 2; q++) {
        char where[96] = "";
        if (!greedy_from(path, &on[q], prompts[q], N, got[q], where, sizeof where)) return;
        int same = 0;
        while (same < N && got[q][same] == want[q][same]) same++;
        printf("    sequence %d on %-9s %d of %d greedy tokens equal\n", q, q ? hwa_test_opencl_spec() : "cpu", same, N);
        CHECK_INT_EQ(same, N);
    }
    CHECK(memcmp(want[0], want[1], sizeof want[0]) != 0); /* two different sequences */
}
