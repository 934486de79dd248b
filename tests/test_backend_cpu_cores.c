/* CPU core sets ("cpu:A-B"): the specs and their errors; a compute on a
 * core set runs its calling thread, the pool's workers and OpenMP's threads
 * on those CPUs and puts them back after; libgomp reuses the threads the
 * binding relies on; a core set's passport figures are its share of the
 * CPU's; and a layer split across two core sets computes what the whole CPU
 * does. Checks of a binding read the threads' masks (and sched_getcpu) from
 * inside the compute, through the CPU backend's test probe. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_cores.h"
#include "backends/cpu/cpu_isa.h"
#include "core/internal.h"
#include "core/pool.h"
#include "harness.h"
#include "sched/sched_internal.h"

/* The binding checks need the thread counts they ask for: another process's
 * load must not cut a team of two to one (cpu_load.c reads this once). */
__attribute__((constructor)) static void no_thread_cuts(void) { setenv("HWA_ADAPT_THREADS", "0", 0); }

/* ---- masks ----------------------------------------------------------------- */

static cpu_set_t mask_now(void) {
    cpu_set_t m;
    CPU_ZERO(&m);
    pthread_getaffinity_np(pthread_self(), sizeof m, &m);
    return m;
}

static cpu_set_t cpus(int a, int b) {
    cpu_set_t m;
    CPU_ZERO(&m);
    for (int c = a; c <= b; c++) CPU_SET(c, &m);
    return m;
}

static int first_cpu(const cpu_set_t *m) {
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, m)) return c;
    return -1;
}

static int last_cpu(const cpu_set_t *m) {
    for (int c = CPU_SETSIZE - 1; c >= 0; c--)
        if (CPU_ISSET(c, m)) return c;
    return -1;
}

static void set_mask(const cpu_set_t *m) { pthread_setaffinity_np(pthread_self(), sizeof *m, m); }

static bool on(const cpu_set_t *want) {
    const cpu_set_t m = mask_now();
    const int c = sched_getcpu();
    return CPU_EQUAL(&m, want) && c >= 0 && CPU_ISSET(c, want);
}

/* ---- what a compute's threads saw (the CPU backend's probe) -------------------- */

typedef struct seen {
    cpu_set_t want;            /* the CPUs the compute should run on */
    bool region, omp;          /* also run a pool region of 2 threads / an OpenMP region */
    int computes, caller_off, max_threads;
    atomic_int chunks, worker_chunks, chunks_off;
    int omp_threads, omp_off;
    int first[16], count[16];  /* per compute: the caller's first CPU and how many it had */
} seen;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Each chunk checks its thread's mask and CPU; the caller's first chunk
 * waits (up to 2 s) until a worker has taken one, so a worker always runs. */
static void chunk_fn(void *ctx, int64_t i0, int64_t i1, int tid) {
    seen *s = ctx;
    if (tid == 0) {
        for (double t0 = now_s(); !atomic_load(&s->worker_chunks) && now_s() - t0 < 2.0;) usleep(100);
    } else {
        atomic_fetch_add(&s->worker_chunks, 1);
    }
    if (!on(&s->want)) atomic_fetch_add(&s->chunks_off, 1);
    atomic_fetch_add(&s->chunks, 1);
}

static void probe(void *ud) {
    seen *s = ud;
    const cpu_set_t m = mask_now();
    if (s->computes < 16) s->first[s->computes] = first_cpu(&m), s->count[s->computes] = CPU_COUNT(&m);
    s->computes++;
    if (!on(&s->want)) s->caller_off++;
#if defined(_OPENMP)
    s->max_threads = omp_get_max_threads();
    if (s->omp) {
        int n = 0, off = 0;
#pragma omp parallel num_threads(s->max_threads) reduction(+ : n, off)
        {
            n++;
            off += !on(&s->want);
        }
        s->omp_threads = n, s->omp_off = off;
    }
#endif
    if (s->region) hwa__par_for(2, 64, 1, chunk_fn, s);
}

/* y = relu(x w) on be, leaves allocated and filled; NULL on failure. */
static hwa_graph *small_graph(hwa_ctx *ctx, hwa_backend *be) {
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, 16, 32), *w = hwa_tensor_new_2d(ctx, HWA_F32, 32, 32);
    hwa_graph *g = hwa_graph_new(ctx);
    if (!g || hwa_graph_build_forward(g, hwa_relu(ctx, hwa_matmul(ctx, x, w))) || hwa_ctx_alloc_leaves(ctx, be))
        return NULL;
    float v[32 * 32];
    for (int i = 0; i < 32 * 32; i++) v[i] = (float)((i * 7) % 13) / 13.0f - 0.4f;
    if (hwa_tensor_set_f32(x, v, 16 * 32) || hwa_tensor_set_f32(w, v, 32 * 32)) return NULL;
    return g;
}

/* ---- specs ----------------------------------------------------------------- */

TEST(cpu_and_cpu_0_stay_the_whole_cpu) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    const char *specs[] = {"cpu", "cpu:0", "auto"};
    for (int i = 0; i < 3; i++) {
        hwa_backend *be = hwa_backend_new(ctx, specs[i]);
        CHECK_MSG(be, "%s: %s", specs[i], hwa_ctx_last_error(ctx));
        CHECK(!strcmp(be->spec, "cpu:0"));
        CHECK_INT_EQ(hwa__cpu_backend_cores(be), 0);
        CHECK_INT_EQ(hwa_backend_threads(be), hwa__cpu_default_threads());
        hwa_backend_free(be);
    }
    hwa_ctx_free(ctx);
}

TEST(a_core_set_is_named_by_its_range_and_has_one_thread_per_cpu) {
    const cpu_set_t all = mask_now();
    const int a = first_cpu(&all);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    char spec[32], want[32];
    snprintf(spec, sizeof spec, "cpu:0%d-%d", a, a); /* a leading zero is read and dropped */
    snprintf(want, sizeof want, "cpu:%d-%d", a, a);
    hwa_backend *be = hwa_backend_new(ctx, spec);
    CHECK_MSG(be, "%s: %s", spec, hwa_ctx_last_error(ctx));
    CHECK_STR_CONTAINS(be->spec, want);
    CHECK(!strcmp(be->spec, want));
    CHECK_INT_EQ(hwa__cpu_backend_cores(be), 1);
    CHECK_INT_EQ(hwa_backend_threads(be), 1);
    CHECK_OK(hwa_backend_set_threads(be, 8)); /* capped by the set */
    CHECK_INT_EQ(hwa_backend_threads(be), 1);
    CHECK_OK(hwa_backend_set_threads(be, 0));
    CHECK_INT_EQ(hwa_backend_threads(be), 1);
    hwa_backend_free(be);
    /* the whole mask as one set, when it is a range */
    const int b = last_cpu(&all);
    if (CPU_COUNT(&all) == b - a + 1) {
        snprintf(spec, sizeof spec, "cpu:%d-%d", a, b);
        be = hwa_backend_new(ctx, spec);
        CHECK_MSG(be, "%s: %s", spec, hwa_ctx_last_error(ctx));
        CHECK_INT_EQ(hwa__cpu_backend_cores(be), b - a + 1);
        const int n = hwa__cpu_default_threads();
        CHECK_INT_EQ(hwa_backend_threads(be), n < b - a + 1 ? n : b - a + 1);
        hwa_backend_free(be);
    }
    hwa_ctx_free(ctx);
}

TEST(bad_core_sets_are_refused_naming_the_cpus_allowed) {
    char allowed[256];
    hwa__cpu_allowed_list(allowed, sizeof allowed);
    const cpu_set_t all = mask_now();
    int outside = -1;
    for (int c = 0; c < CPU_SETSIZE && outside < 0; c++)
        if (!CPU_ISSET(c, &all)) outside = c;
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    struct {
        const char *spec;
        hwa_status st;
        const char *says;
    } cases[] = {
        {"cpu:1", HWA_E_NOTFOUND, "cpu:1-1 is CPU 1 alone"}, /* an index, not CPU 1 */
        {"cpu:1-0", HWA_E_INVALID, "A <= B"},
        {"cpu:0-", HWA_E_INVALID, "core set A-B"},
        {"cpu:-1", HWA_E_INVALID, "core set A-B"},
        {"cpu:0-1x", HWA_E_INVALID, "core set A-B"},
        {"cpu:", HWA_E_INVALID, "core set A-B"},
        {"cpu:0-99999", HWA_E_INVALID, "core set A-B"},
        {"opencl:0-0", HWA_E_NOTFOUND, "device index"}, /* only the CPU has sets */
        {"gpu:0", HWA_E_NOTFOUND, "cpu:A-B"},           /* the list of kinds shows the form */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_MSG(hwa_backend_new(ctx, cases[i].spec) == NULL, "%s was accepted", cases[i].spec);
        CHECK_MSG(hwa_ctx_last_status(ctx) == cases[i].st, "%s: %s, expected %s", cases[i].spec,
                  hwa_status_name(hwa_ctx_last_status(ctx)), hwa_status_name(cases[i].st));
        CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), cases[i].says);
        if (!strncmp(cases[i].spec, "cpu", 3)) CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), allowed);
    }
    if (outside >= 0) {
        char spec[32];
        snprintf(spec, sizeof spec, "cpu:%d-%d", first_cpu(&all), outside);
        CHECK(hwa_backend_new(ctx, spec) == NULL);
        CHECK_INT_EQ(hwa_ctx_last_status(ctx), HWA_E_NOTFOUND);
        CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), "is not one this process may use");
        CHECK_STR_CONTAINS(hwa_ctx_last_error(ctx), allowed);
        printf("    %s: %s\n", spec, hwa_ctx_last_error(ctx));
    }
    hwa_ctx_free(ctx);
}

/* ---- binding ----------------------------------------------------------------- */

TEST(a_compute_on_one_cpu_runs_the_caller_and_pool_workers_there_and_restores_the_caller) {
    const cpu_set_t all = mask_now();
    if (CPU_COUNT(&all) < 2) SKIP("one CPU: a core set is the whole mask, so its binding cannot be told apart");
    const int ends[2] = {first_cpu(&all), last_cpu(&all)};
    for (int k = 0; k < 2; k++) {
        const int c = ends[k];
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        char spec[32];
        snprintf(spec, sizeof spec, "cpu:%d-%d", c, c);
        hwa_backend *be = hwa_backend_new(ctx, spec);
        CHECK_MSG(be, "%s: %s", spec, hwa_ctx_last_error(ctx));
        hwa_graph *g = small_graph(ctx, be);
        CHECK_MSG(g, "%s", hwa_ctx_last_error(ctx));
        seen s = {.want = cpus(c, c), .region = true};
        hwa__cpu_set_compute_probe(probe, &s);
        const hwa_status st = hwa_graph_compute(g, be);
        hwa__cpu_set_compute_probe(NULL, NULL);
        CHECK_OK(st);
        const cpu_set_t after = mask_now();
        printf("    %s: %d chunks, %d on a worker, %d off the set; the caller off the set in %d of %d computes\n",
               spec, atomic_load(&s.chunks), atomic_load(&s.worker_chunks), atomic_load(&s.chunks_off),
               s.caller_off, s.computes);
        CHECK_INT_EQ(s.computes, 1);
        CHECK_INT_EQ(s.caller_off, 0);
        CHECK_INT_EQ(atomic_load(&s.chunks), 64);
        CHECK_MSG(atomic_load(&s.worker_chunks) > 0, "no pool worker took a chunk: the check would be the caller's alone");
        CHECK_INT_EQ(atomic_load(&s.chunks_off), 0);
#if defined(_OPENMP)
        CHECK_INT_EQ(s.max_threads, 1); /* oneDNN's team is the (bound) caller alone */
#endif
        CHECK_MSG(CPU_EQUAL(&after, &all), "the caller's mask was not restored (%d CPUs from %d)", CPU_COUNT(&after),
                  CPU_COUNT(&all));
        /* a region outside any core set puts the workers back on the caller's CPUs */
        seen back = {.want = all};
        hwa__par_for(2, 64, 1, chunk_fn, &back);
        CHECK_MSG(atomic_load(&back.worker_chunks) > 0, "no pool worker took a chunk after the compute");
        CHECK_INT_EQ(atomic_load(&back.chunks_off), 0);
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
}

/* Computes that alternate between two sets move a pool worker once per
 * switch, and not at all while the set stays the same. */
TEST(alternating_core_sets_move_workers_only_on_a_switch) {
    const cpu_set_t all = mask_now();
    if (CPU_COUNT(&all) < 2) SKIP("one CPU: there are not two core sets to alternate between");
    const int ends[2] = {first_cpu(&all), last_cpu(&all)};
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *bes[2];
    for (int k = 0; k < 2; k++) {
        char spec[32];
        snprintf(spec, sizeof spec, "cpu:%d-%d", ends[k], ends[k]);
        bes[k] = hwa_backend_new(ctx, spec);
        CHECK_MSG(bes[k], "%s: %s", spec, hwa_ctx_last_error(ctx));
    }
    hwa_graph *g = small_graph(ctx, bes[0]);
    CHECK(g != NULL);
    const int order[5] = {0, 0, 1, 1, 0}, moves[5] = {-1, 0, 1, 0, 1}; /* -1: whatever came before */
    for (int i = 0; i < 5; i++) {
        const int c = ends[order[i]];
        seen s = {.want = cpus(c, c), .region = true};
        hwa__pool_stats before, after;
        hwa__pool_get_stats(&before);
        hwa__cpu_set_compute_probe(probe, &s);
        const hwa_status st = hwa_graph_compute(g, bes[order[i]]);
        hwa__cpu_set_compute_probe(NULL, NULL);
        hwa__pool_get_stats(&after);
        CHECK_OK(st);
        CHECK_INT_EQ(atomic_load(&s.chunks_off), 0);
        if (moves[i] >= 0)
            CHECK_MSG(after.binds - before.binds == (uint64_t)moves[i], "compute %d on CPU %d moved %llu workers, not %d",
                      i, c, (unsigned long long)(after.binds - before.binds), moves[i]);
    }
    for (int k = 0; k < 2; k++) hwa_backend_free(bes[k]);
    hwa_ctx_free(ctx);
}

TEST(openmp_threads_bound_in_one_region_are_the_next_regions_threads) {
#if !defined(_OPENMP)
    SKIP("built without OpenMP");
#else
    const cpu_set_t all = mask_now();
    if (CPU_COUNT(&all) < 2) SKIP("one CPU: nothing to bind to but the whole mask");
    const cpu_set_t one = cpus(last_cpu(&all), last_cpu(&all));
    hwa__cpu_omp_bind(2, &one);
    int off = 0, n = 0;
#pragma omp parallel num_threads(2) reduction(+ : off, n)
    {
        if (omp_get_thread_num() != 0) off += !on(&one);
        n++;
    }
    /* a smaller team between does not lose them */
#pragma omp parallel num_threads(1)
    { (void)0; }
    int off1 = 0;
#pragma omp parallel num_threads(2) reduction(+ : off1)
    {
        if (omp_get_thread_num() != 0) off1 += !on(&one);
    }
    hwa__cpu_omp_bind(2, &all);
    int back = 0;
#pragma omp parallel num_threads(2) reduction(+ : back)
    {
        if (omp_get_thread_num() != 0) back += !on(&all);
    }
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(off, 0);
    CHECK_INT_EQ(off1, 0);
    CHECK_INT_EQ(back, 0);
#endif
}

/* The caller pinned to one CPU computes on a set of two: during the compute
 * the caller, a pool worker and OpenMP's second thread run on both (all of
 * them were on the one CPU before), and after it every one is back on it. */
TEST(a_compute_on_a_set_moves_openmp_threads_for_the_compute_and_back) {
#if !defined(_OPENMP)
    SKIP("built without OpenMP");
#else
    const cpu_set_t all = mask_now();
    const int a = first_cpu(&all);
    if (CPU_COUNT(&all) < 2 || !CPU_ISSET(a + 1, &all)) SKIP("needs two CPUs with consecutive numbers");
    const cpu_set_t pin = cpus(a, a), set = cpus(a, a + 1);
    if (hwa__cpu_default_threads() < 2) SKIP("HWA_NUM_THREADS or a CPU quota allows one thread");
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    char spec[32];
    snprintf(spec, sizeof spec, "cpu:%d-%d", a, a + 1);
    hwa_backend *be = hwa_backend_new(ctx, spec);
    CHECK_MSG(be, "%s: %s", spec, hwa_ctx_last_error(ctx));
    CHECK_INT_EQ(hwa_backend_threads(be), 2);
    hwa_graph *g = small_graph(ctx, be);
    CHECK(g != NULL);
    set_mask(&pin);
    hwa__cpu_omp_bind(2, &pin);
    seen s = {.want = set, .region = true, .omp = true};
    hwa__cpu_set_compute_probe(probe, &s);
    const hwa_status st = hwa_graph_compute(g, be);
    hwa__cpu_set_compute_probe(NULL, NULL);
    const cpu_set_t after = mask_now();
    int omp_after = 0;
#pragma omp parallel num_threads(2) reduction(+ : omp_after)
    {
        if (omp_get_thread_num() != 0) omp_after += !on(&pin);
    }
    seen back = {.want = pin};
    hwa__par_for(2, 64, 1, chunk_fn, &back);
    /* the process as it was, whatever failed */
    set_mask(&all);
    hwa__cpu_omp_bind(2, &all);
    hwa__par_for(2, 64, 1, chunk_fn, &(seen){.want = all});
    CHECK_OK(st);
    CHECK_INT_EQ(s.caller_off, 0);
    CHECK_INT_EQ(s.max_threads, 2);
    CHECK_INT_EQ(s.omp_threads, 2);
    CHECK_INT_EQ(s.omp_off, 0);
    CHECK_MSG(atomic_load(&s.worker_chunks) > 0, "no pool worker took a chunk");
    CHECK_INT_EQ(atomic_load(&s.chunks_off), 0);
    CHECK(CPU_EQUAL(&after, &pin));
    CHECK_INT_EQ(omp_after, 0);
    CHECK_INT_EQ(atomic_load(&back.chunks_off), 0);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
#endif
}

/* ---- placement ------------------------------------------------------------- */

TEST(a_core_sets_passport_figures_are_its_share_of_the_cpus) {
    hwa_probe_opts o = {.opencl_lib = "/nonexistent", .cuda_lib = "/nonexistent", .nvml_lib = "/nonexistent", .pjrt_plugin = "/nonexistent"};
    hwa_passport *p = hwa_passport_probe(&o);
    CHECK_MSG(p, "probe: %s", hwa_last_error());
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    const cpu_set_t all = mask_now();
    char spec[32];
    snprintf(spec, sizeof spec, "cpu:%d-%d", first_cpu(&all), first_cpu(&all));
    hwa_backend *whole = hwa_backend_new(ctx, "cpu"), *one = hwa_backend_new(ctx, spec);
    CHECK(whole && one);
    hwa_place_device dw, d1;
    CHECK_OK(hwa_place_device_describe(p, whole, &dw));
    CHECK_OK(hwa_place_device_describe(p, one, &d1));
    CHECK(!strcmp(d1.id, spec));
    CHECK(d1.host_memory);
    CHECK_INT_EQ(d1.threads, 1);
    CHECK(dw.peak_gflops[HWA_F32] > 0 && dw.mem_gbs > 0);
    const double share = 1.0 / hwa__cpu_usable_count();
    CHECK_NEAR(d1.peak_gflops[HWA_F32], dw.peak_gflops[HWA_F32] * share, 1e-9 * dw.peak_gflops[HWA_F32]);
    CHECK_NEAR(d1.mem_gbs, dw.mem_gbs * share, 1e-9 * dw.mem_gbs);
    CHECK_INT_EQ(d1.mem_bytes, dw.mem_bytes);
    /* two devices to the profile cache */
    char kw[256], k1[256];
    hwa__sched_device_key(&dw, kw, sizeof kw);
    hwa__sched_device_key(&d1, k1, sizeof k1);
    CHECK(strcmp(kw, k1) != 0);
    hwa_backend_free(whole);
    hwa_backend_free(one);
    hwa_ctx_free(ctx);
    hwa_passport_free(p);
}

enum { ROWS = 32, IN = 64, HID = 128, OUT = 10 };

/* softmax(relu(x w1 + b1) w2 + b2) with fixed values, leaves on be. */
static hwa_tensor *mlp(hwa_ctx *ctx, hwa_backend *be, hwa_graph **g) {
    hwa_tensor *x = hwa_tensor_new_2d(ctx, HWA_F32, ROWS, IN);
    hwa_tensor *w1 = hwa_tensor_new_2d(ctx, HWA_F32, IN, HID), *b1 = hwa_tensor_new_1d(ctx, HWA_F32, HID);
    hwa_tensor *w2 = hwa_tensor_new_2d(ctx, HWA_F32, HID, OUT), *b2 = hwa_tensor_new_1d(ctx, HWA_F32, OUT);
    hwa_tensor *h = hwa_relu(ctx, hwa_bias_add(ctx, hwa_matmul(ctx, x, w1), b1));
    hwa_tensor *y = hwa_softmax(ctx, hwa_bias_add(ctx, hwa_matmul(ctx, h, w2), b2));
    *g = hwa_graph_new(ctx);
    if (!*g || hwa_graph_build_forward(*g, y) || hwa_ctx_alloc_leaves(ctx, be)) return NULL;
    static float v[IN * HID];
    hwa_tensor *leaves[] = {x, w1, b1, w2, b2};
    for (int k = 0; k < 5; k++) {
        const int64_t n = hwa_tensor_nelements(leaves[k]);
        for (int64_t i = 0; i < n; i++) v[i] = (float)(((i + 1) * (k + 3) * 2654435761u) % 1000) / 1000.0f - 0.5f;
        if (hwa_tensor_set_f32(leaves[k], v, n)) return NULL;
    }
    return y;
}

TEST(a_layer_split_across_two_core_sets_computes_what_the_whole_cpu_does) {
    const cpu_set_t all = mask_now();
    if (CPU_COUNT(&all) < 2) SKIP("one CPU: there are not two core sets to split across");
    const int a = first_cpu(&all), b = last_cpu(&all);
    float want[ROWS * OUT], got[ROWS * OUT];
    {
        hwa_ctx *ctx = hwa_ctx_new(NULL);
        hwa_backend *be = hwa_backend_new(ctx, "cpu");
        hwa_graph *g;
        hwa_tensor *y = be ? mlp(ctx, be, &g) : NULL;
        CHECK_MSG(y, "%s", hwa_ctx_last_error(ctx));
        CHECK_OK(hwa_graph_compute(g, be));
        CHECK_OK(hwa_tensor_get_f32(y, want, ROWS * OUT));
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
    }
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    char specs[2][32];
    snprintf(specs[0], sizeof specs[0], "cpu:%d-%d", a, a);
    snprintf(specs[1], sizeof specs[1], "cpu:%d-%d", b, b);
    hwa_backend *bes[2] = {hwa_backend_new(ctx, specs[0]), hwa_backend_new(ctx, specs[1])};
    CHECK_MSG(bes[0] && bes[1], "%s", hwa_ctx_last_error(ctx));
    hwa_place_device d[2];
    CHECK_OK(hwa_place_device_describe(NULL, bes[0], &d[0]));
    CHECK_OK(hwa_place_device_describe(NULL, bes[1], &d[1]));
    hwa_graph *g;
    hwa_tensor *y = mlp(ctx, bes[0], &g);
    CHECK_MSG(y, "%s", hwa_ctx_last_error(ctx));
    hwa_placement *p;
    CHECK_OK(hwa_placement_new(g, bes, d, 2, &(hwa_place_opts){.mode = HWA_PLACE_LAYERS, .split = 0.5, .profile_path = ""},
                               &p));
    CHECK_INT_EQ(hwa_placement_devices_used(p), 2);
    printf("    %s\n", hwa_placement_choice(p));
    seen s = {0};
    hwa__cpu_set_compute_probe(probe, &s);
    s.want = all; /* the probe's own check is not used here: the masks are recorded per compute */
    const hwa_status st = hwa_placement_compute(p);
    hwa__cpu_set_compute_probe(NULL, NULL);
    CHECK_OK(st);
    CHECK_OK(hwa_tensor_get_f32(y, got, ROWS * OUT));
    /* one compute per segment, each on its own CPU */
    CHECK(s.computes >= 2);
    bool saw[2] = {false, false};
    for (int k = 0; k < s.computes && k < 16; k++) {
        CHECK_INT_EQ(s.count[k], 1);
        saw[0] |= s.first[k] == a;
        saw[1] |= s.first[k] == b;
    }
    CHECK_MSG(saw[0] && saw[1], "the segments ran on CPU %d: %s, CPU %d: %s", a, saw[0] ? "yes" : "no", b,
              saw[1] ? "yes" : "no");
    const cpu_set_t after = mask_now();
    CHECK(CPU_EQUAL(&after, &all));
    const double diff = hwa_test_max_abs_diff(got, want, ROWS * OUT);
    printf("    max |difference| from cpu: %.3g over %d computes\n", diff, s.computes);
    CHECK_MSG(diff <= 1e-5, "the split differs from cpu by %.3g", diff);
    hwa_placement_free(p);
    hwa_backend_free(bes[0]);
    hwa_backend_free(bes[1]);
    hwa_ctx_free(ctx);
}
