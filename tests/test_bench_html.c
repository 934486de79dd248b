/* The HTML report from small hand-written inputs: strings are escaped, bad
 * inputs are errors that name the file (and the line of a training log),
 * placement plans and tune results get their charts and tables,
 * a chart without data is a one-line note, impossible values are left out
 * with a note, and the axes' ticks and units read right. */
#include <stdlib.h>
#include <unistd.h>

#include "bench/html.h"
#include "bench/svg.h"
#include "harness.h"

/* Writes text to a fresh temporary file; the path goes to path. */
static bool write_tmp(const char *text, char *path, size_t cap) {
    snprintf(path, cap, "/tmp/hwa_test_html.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return false;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

/* The page from one input text, or NULL with *st set. Caller frees. */
static char *page_of(const char *text, hwa_status *st, char *path, size_t cap) {
    char *buf = NULL;
    size_t len = 0;
    if (!write_tmp(text, path, cap)) return NULL;
    FILE *f = open_memstream(&buf, &len);
    const char *in[1] = {path};
    *st = hwa_report_html_write(in, 1, NULL, f);
    fclose(f);
    unlink(path);
    if (*st) {
        free(buf);
        return NULL;
    }
    return buf;
}

#define ROW(WL, DT, BATCH, THREADS, SPS, GF, GB)                                                              \
    "{\"workload\": \"" WL "\", \"device\": \"cpu\", \"dtype\": \"" DT "\", \"batch\": " #BATCH              \
    ", \"threads\": " #THREADS ", \"scenario\": \"single\", \"optimizer\": null, \"skipped\": false,"         \
    "\"samples_per_s\": " #SPS ", \"samples_per_s_reps\": [" #SPS ", " #SPS "], \"gflops\": " #GF             \
    ", \"gbps\": " #GB ", \"pct_of_peak\": 50, \"speedup\": null, \"note\": \"\","                            \
    "\"latency_ms\": {\"p50\": 1, \"p90\": 1.5, \"p99\": 2, \"max\": 3, \"mean\": 1.2}}"

static const char bench_head[] = "{\"schema\": \"hwadapt-bench-report/2\", \"hwadapt_version\": \"0.1.0\", "
                                 "\"created\": \"2026-01-01T00:00:00Z\", \"command_line\": \"bench\", "
                                 "\"machine\": {\"cpu\": \"Test CPU\", \"peak_gflops_f32\": 100, \"memory_gbps\": 10},"
                                 "\"recommendations\": [], \"results\": [";

#ifdef HWA_HAVE_JANSSON
#define NEED_JANSSON() ((void)0)
#else
#define NEED_JANSSON()                                                        \
    do {                                                                      \
        hwa_test_skip_for("jansson", "no JSON support in this build");        \
        return;                                                               \
    } while (0)
#endif

/* The page of a bench report with these rows (JSON objects, comma-separated). */
static char *bench_page(const char *rows) {
    char text[8192], path[64];
    hwa_status st;
    snprintf(text, sizeof text, "%s%s]}", bench_head, rows);
    return page_of(text, &st, path, sizeof path);
}

TEST(html_escapes_every_string) {
    NEED_JANSSON();
    char *page = bench_page(ROW("<script>&\\\"x", "f32", 8, 1, 100, 2, 1));
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "&lt;script&gt;&amp;&quot;x"));
    CHECK(!strstr(page, "<script"));
    CHECK(strstr(page, "Content-Security-Policy"));
    free(page);
}

TEST(html_skips_absent_charts_with_a_note) {
    NEED_JANSSON();
    char *page = bench_page(ROW("lin", "f32", 8, 1, 100, 2, 1));
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "Roofline of cpu"));
    /* one batch, one thread count, no training log: notes, not empty frames */
    CHECK(strstr(page, "<p class=\"skip\">Batch sweep: no rows differ only in batch"));
    CHECK(strstr(page, "<p class=\"skip\">Training curves: no training log"));
    CHECK(!strstr(page, "vs batch size"));
    free(page);
}

TEST(html_draws_a_batch_sweep) {
    NEED_JANSSON();
    char *page = bench_page(ROW("lin", "f32", 1, 1, 100, 2, 1) ", " ROW("lin", "f32", 8, 1, 700, 2, 1) ", "
                            ROW("lin", "f32", 64, 1, 3000, 2, 1));
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "lin: throughput vs batch size"));
    CHECK(strstr(page, "lin: p50 latency vs batch size"));
    free(page);
}

TEST(html_leaves_impossible_values_out_with_a_note) {
    NEED_JANSSON();
    char *page = bench_page(ROW("lin", "f32", 8, 1, 100, -5, 1));
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "gflops -5 is not possible; left out"));
    CHECK(strstr(page, "Roofline of cpu: no measured row has both GFLOP/s and GB/s"));
    free(page);
}

TEST(html_bad_inputs_are_errors_naming_the_file) {
    NEED_JANSSON();
    char path[64];
    hwa_status st;
    CHECK(!page_of("{\"schema\": \"hwadapt-bench-report/2\", \"results\": [", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_FORMAT);
    CHECK(strstr(hwa_last_error(), path) && strstr(hwa_last_error(), "not valid JSON"));
    CHECK(!page_of("{\"epoch\": 1, \"train_loss\": 2.0}\n\n{\"epoch\": 2, \"train_loss\": nan}\n", &st, path,
                   sizeof path));
    CHECK_INT_EQ(st, HWA_E_FORMAT);
    char want[96];
    snprintf(want, sizeof want, "%s:3: not a training log line", path);
    CHECK_MSG(strstr(hwa_last_error(), want), "%s", hwa_last_error());
    CHECK(!page_of("{\"schema\": \"hwadapt-bench-report/9\", \"results\": []}", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_UNSUPPORTED);
    CHECK(!page_of("[1, 2]", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_FORMAT);
    CHECK(!page_of("", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_FORMAT);
    const char *none[1] = {"/nonexistent/hwa.json"};
    CHECK(hwa_report_html_write(none, 1, NULL, stdout) != HWA_OK);
    CHECK(strstr(hwa_last_error(), "/nonexistent/hwa.json"));
    CHECK_INT_EQ(hwa_report_html_write(NULL, 0, NULL, stdout), HWA_E_INVALID);
}

TEST(html_training_log_draws_curves) {
    NEED_JANSSON();
    char path[64];
    hwa_status st;
    char *page = page_of("{\"epoch\": 1, \"train_loss\": 2.0, \"test_loss\": 1.9, \"test_accuracy\": 0.4}\n"
                         "{\"epoch\": 2, \"train_loss\": 1.5, \"test_loss\": 1.6, \"test_accuracy\": 0.55}\n",
                         &st, path, sizeof path);
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "Loss per epoch"));
    CHECK(strstr(page, "Accuracy per epoch"));
    CHECK(strstr(page, "No bench report among the inputs"));
    free(page);
}

#define PLAN_NODE(I)                                                                                          \
    "{\"index\": " #I ", \"op\": \"matmul\", \"name\": \"w<" #I ">\", \"dtype\": \"f32\", \"shape\": [64, 1000], " \
    "\"device\": \"cpu:0\", \"estimate_s\": 0.001, \"source\": \"roofline\", \"reason\": \"faster\", "        \
    "\"why\": \"cpu:0 2x faster than opencl:0 by estimate\", \"flops\": 1, \"bytes\": 1, \"costs\": {}}"

/* A plan of two devices, three candidates (one that does not fit) and
 * n_nodes nodes; dev_est is the first device's estimate (JSON text). */
static char *plan_text(int n_nodes, const char *dev_est) {
    size_t cap = 4096 + (size_t)n_nodes * 400;
    char *t = malloc(cap);
    if (!t) return NULL;
    int n =
        snprintf(t, cap,
                 "{\"schema\": \"hwadapt.plan/1\", \"mode\": \"auto\", \"placement\": \"cpu:0\", \"estimate_s\": "
                 "0.0015, \"copy_s_per_run\": 0, \"copy_bytes_per_run\": 0, \"copy_bytes_once\": 0, "
                 "\"mem_margin\": 0.1, \"devices\": ["
                 "{\"id\": \"cpu:0\", \"name\": \"Test CPU\", \"excluded\": false, \"nodes\": %d, \"estimate_s\": %s, "
                 "\"need_bytes\": 4516032, \"arena_bytes\": 256000, \"gradient_bytes\": 0, \"shadow_bytes\": 0, "
                 "\"leaf_bytes\": 4260032, \"avail_bytes\": 22137370215, \"mem_bytes\": 24597078016, "
                 "\"mem_capped\": false},"
                 "{\"id\": \"opencl:0\", \"name\": \"Test GPU\", \"excluded\": false, \"nodes\": 0, \"estimate_s\": 0, "
                 "\"need_bytes\": 0, \"arena_bytes\": 0, \"gradient_bytes\": 0, \"shadow_bytes\": 0, "
                 "\"leaf_bytes\": 0, \"avail_bytes\": 1000000, \"mem_bytes\": 2000000, \"mem_capped\": true}],"
                 "\"alternatives\": ["
                 "{\"placement\": \"cpu:0\", \"chosen\": true, \"fits\": true, \"estimate_s\": 0.0015, "
                 "\"why\": \"the lowest estimate that fits\", \"need_bytes\": {}},"
                 "{\"placement\": \"opencl:0\", \"chosen\": false, \"fits\": false, \"estimate_s\": 0.0007, "
                 "\"why\": \"opencl:0 is 3.3 MiB short\", \"need_bytes\": {}},"
                 "{\"placement\": \"layers cpu:0 | opencl:0 at node 1\", \"chosen\": false, \"fits\": true, "
                 "\"estimate_s\": 0.0016, \"why\": \"1.07x the chosen estimate\", \"need_bytes\": {}}],"
                 "\"nodes\": [",
                 n_nodes, dev_est);
    for (int i = 0; i < n_nodes && n > 0 && (size_t)n < cap; i++)
        n += snprintf(t + n, cap - (size_t)n, "%s" PLAN_NODE(0), i ? ", " : "");
    if (n > 0 && (size_t)n < cap) snprintf(t + n, cap - (size_t)n, "]}");
    return t;
}

TEST(html_plan_shows_devices_choice_memory_and_nodes) {
    NEED_JANSSON();
    char path[64], *text = plan_text(3, "0.0015");
    hwa_status st;
    char *page = text ? page_of(text, &st, path, sizeof path) : NULL;
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "<h3 id=\"plan0\">Placement plan: "));
    CHECK(strstr(page, "<th>why</th><td>the lowest estimate that fits</td>"));
    CHECK(strstr(page, "Estimated time per run, per device"));
    CHECK(strstr(page, "Estimated time per run, per placement weighed"));
    CHECK(strstr(page, "opencl:0 (does not fit)"));
    CHECK(strstr(page, "opencl:0 is 3.3 MiB short"));
    CHECK(strstr(page, "Memory per device: needed against what it may use"));
    CHECK(strstr(page, "cpu:0 needs 4.3 MiB"));
    CHECK(strstr(page, "opencl:0 has 1.9 MiB (capped by HWA_MEM_LIMIT)"));
    CHECK(strstr(page, "<td>w&lt;0&gt;</td>")); /* node names escaped */
    CHECK(strstr(page, "64×1000"));
    CHECK(!strstr(page, "more nodes, not shown"));
    free(page);
    free(text);
}

TEST(html_plan_collapses_a_long_node_list_and_notes_impossible_values) {
    NEED_JANSSON();
    char path[64], *text = plan_text(HWA__HR_PLAN_NODES + 5, "-2");
    hwa_status st;
    char *page = text ? page_of(text, &st, path, sizeof path) : NULL;
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "… and 5 more nodes, not shown"));
    CHECK(strstr(page, "estimate_s -2 is not possible; left out"));
    free(page);
    free(text);
}

TEST(html_plan_measured_draws_predicted_against_measured) {
    NEED_JANSSON();
    char path[64];
    hwa_status st;
    char *page =
        page_of("{\"schema\": \"hwadapt.plan-measure/1\", \"workload\": \"linear1000\", \"batch\": 64, "
                "\"devices\": \"cpu,opencl:0\", \"reps\": 3, \"auto_before\": \"cpu:0\", \"auto_after\": "
                "\"cpu:0\", \"placements\": [{\"placement\": \"cpu:0\", \"predicted_s_before\": 0.0015, "
                "\"predicted_s\": 0.0012, \"measured_s\": 0.001, \"prediction_error\": 0.2, \"auto\": true, "
                "\"best\": true}, {\"placement\": \"opencl:0\", \"predicted_s_before\": null, \"predicted_s\": "
                "0.003, \"measured_s\": 0.004, \"prediction_error\": -0.25, \"auto\": false, \"best\": false}], "
                "\"auto_measured_s\": 0.001, \"auto_vs_best\": 1}",
                &st, path, sizeof path);
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "Predicted against measured time per run, per placement"));
    CHECK(strstr(page, "cpu:0 (auto) (fastest)"));
    CHECK(strstr(page, "predicted with its nodes timed: 1.2 ms (+20 % against measured)"));
    CHECK(strstr(page, "1.00× the fastest placement measured"));
    free(page);
}

static const char tune_text[] =
    "{\"hwadapt\": \"tune\", \"version\": 1, \"train\": {\"device\": \"cpu\", \"batch\": 64, \"optimizer\": \"adam\"},"
    "\"tune\": {\"target\": \"fmnist-mlp\", \"device\": \"cpu\", \"training\": true, \"synthetic\": false, "
    "\"seconds\": 20,"
    "\"memory\": {\"avail_bytes\": 100000000, \"capped\": true, \"max_fit\": 128, \"max_fit_bytes\": 90000000,"
    "\"next_bytes\": 110000000, \"confirmed_batch\": 128, \"predicted_bytes\": 90000000, \"measured_bytes\": 88000000,"
    "\"measured_how\": \"peak RSS growth\"},"
    "\"batch\": {\"chosen\": 64, \"why\": \"the smallest batch within 80%\", \"curve\": ["
    "{\"batch\": 8, \"predicted_bytes\": 50000000, \"samples_per_s\": 1000, \"p50_ms\": 4, \"p99_ms\": 6},"
    "{\"batch\": 64, \"predicted_bytes\": 60000000, \"samples_per_s\": 6000, \"p50_ms\": 10, \"p99_ms\": 15},"
    "{\"batch\": 128, \"predicted_bytes\": 90000000, \"samples_per_s\": -6500, \"p50_ms\": 20, \"p99_ms\": 22}]},"
    "\"lr_range\": [{\"optimizer\": \"adam\", \"suggestion\": 0.0003, \"lr_at_min\": 0.003, \"lr_steepest\": 0.001,"
    "\"diverged\": false, \"curve\": [[1e-6, 2.3, 2.3], [1e-4, 2.0, 2.1], [3e-3, 1.0, 1.2], [0.1, 9, 5], [0, 1, 1]]}],"
    "\"search\": {\"rungs\": 1, \"seconds\": 10, \"best\": 1, \"trials\": ["
    "{\"optimizer\": \"adam\", \"lr\": 0.0001, \"steps\": 200, \"rung\": 0, \"val_loss\": 0.5, \"val_accuracy\": 0.8},"
    "{\"optimizer\": \"adam\", \"lr\": 0.0003, \"steps\": 200, \"rung\": 0, \"val_loss\": 0.45, \"val_accuracy\": "
    "0.83}]},"
    "\"recommendation\": {\"optimizer\": \"adam\", \"lr\": 0.0003, \"epochs\": 10, \"schedule\": \"cosine\","
    "\"why_epochs\": \"as many epochs as fit\"}}}";

TEST(html_tune_draws_batch_memory_lr_and_trials) {
    NEED_JANSSON();
    char path[64];
    hwa_status st;
    char *page = page_of(tune_text, &st, path, sizeof path);
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "<h3 id=\"tune0\">Tune result: "));
    CHECK(strstr(page, "Throughput per batch size"));
    CHECK(strstr(page, "Latency per batch size"));
    CHECK(strstr(page, "Planned memory per batch, against the limit"));
    CHECK(strstr(page, "the limit: 95.4 MiB to fit (the device&#39;s HWA_MEM_LIMIT cap)"));
    CHECK(strstr(page, "batch 129, the next: 104.9 MiB planned, does not fit"));
    CHECK(strstr(page, "Learning-rate range test: loss per rate, per optimizer"));
    CHECK(strstr(page, "adam: suggested rate 0.0003"));
    CHECK(strstr(page, "chosen: adam at 0.0003"));
    CHECK(strstr(page, "Optimizer trials: validation loss per rate"));
    CHECK(strstr(page, "adam (winner)"));
    CHECK(strstr(page, "train: device cpu batch 64 optimizer adam"));
    /* impossible values: a negative throughput, a rate of 0 */
    CHECK(strstr(page, "samples_per_s -6500 is not possible; left out"));
    CHECK(strstr(page, "1 point(s) without a learning rate &gt; 0; left out"));
    free(page);
}

TEST(html_tune_of_inference_notes_what_it_lacks) {
    NEED_JANSSON();
    char path[64];
    hwa_status st;
    char *page =
        page_of("{\"hwadapt\": \"tune\", \"version\": 1, \"bench mlp1000\": {\"device\": \"cpu\", \"batch\": 2},"
                "\"tune\": {\"target\": \"mlp1000\", \"device\": \"cpu\", \"training\": false, \"batch\": "
                "{\"chosen\": 2, \"why\": \"the best measured throughput\", \"curve\": [{\"batch\": 1, "
                "\"samples_per_s\": 2700, \"p50_ms\": 0.36, \"p99_ms\": 0.42}, {\"batch\": 2, "
                "\"samples_per_s\": 5400, \"p50_ms\": 0.37, \"p99_ms\": 0.41}]}}}",
                &st, path, sizeof path);
    CHECK_MSG(page, "%s", hwa_last_error());
    CHECK(strstr(page, "Throughput per batch size"));
    CHECK(strstr(page, "<p class=\"skip\">Planned memory per batch: the file has no planned memory."));
    CHECK(strstr(page, "<p class=\"skip\">Learning-rate range test: none in this file"));
    CHECK(strstr(page, "<p class=\"skip\">Optimizer trials: none in this file"));
    free(page);
}

TEST(html_malformed_plan_and_tune_are_errors_naming_the_file) {
    NEED_JANSSON();
    char path[64];
    hwa_status st;
    CHECK(!page_of("{\"schema\": \"hwadapt.plan/1\", \"devices\": [], \"alternatives\": []}", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_FORMAT);
    CHECK_MSG(strstr(hwa_last_error(), path) && strstr(hwa_last_error(), "a plan without \"nodes\""), "%s",
              hwa_last_error());
    CHECK(!page_of("{\"schema\": \"hwadapt.plan/7\"}", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_UNSUPPORTED);
    CHECK(!page_of("{\"hwadapt\": \"tune\", \"version\": 1, \"tune\": {\"target\": \"x\"}}", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_FORMAT);
    CHECK_MSG(strstr(hwa_last_error(), path) && strstr(hwa_last_error(), "a tune result without"), "%s",
              hwa_last_error());
    CHECK(!page_of("{\"hwadapt\": \"tune\", \"version\": 2, \"tune\": {}}", &st, path, sizeof path));
    CHECK_INT_EQ(st, HWA_E_UNSUPPORTED);
}

TEST(svg_log_ticks_are_decades_with_2_and_5_in_short_ranges) {
    hwa__axis a = {0};
    hwa__svg_axis_fit(&a, 3, 700, true);
    CHECK_NEAR(a.lo, 1, 1e-12);
    CHECK_NEAR(a.hi, 1000, 1e-9);
    double t[HWA__AXIS_MAX_TICKS];
    int n = hwa__svg_ticks(&a, t, HWA__AXIS_MAX_TICKS);
    CHECK_INT_EQ(n, 4); /* three decades: 1, 10, 100, 1000 */
    CHECK_NEAR(t[1], 10, 1e-9);
    hwa__svg_axis_fit(&a, 1.5, 60, true);
    n = hwa__svg_ticks(&a, t, HWA__AXIS_MAX_TICKS);
    /* two decades: 1 2 5 10 20 50 100 */
    CHECK_INT_EQ(n, 7);
    CHECK_NEAR(t[5], 50, 1e-9);
    hwa__svg_axis_fit(&a, 1e-3, 1e12, true);
    n = hwa__svg_ticks(&a, t, HWA__AXIS_MAX_TICKS);
    CHECK(n <= 9); /* fifteen decades: every second one */
}

TEST(svg_units_read_as_people_write_them) {
    char b[32];
    hwa__svg_fmt(b, sizeof b, 1.2e9, HWA__UNIT_SI);
    CHECK_MSG(!strcmp(b, "1.2G"), "%s", b);
    hwa__svg_fmt(b, sizeof b, 950, HWA__UNIT_SI);
    CHECK_MSG(!strcmp(b, "950"), "%s", b);
    hwa__svg_fmt(b, sizeof b, 12000, HWA__UNIT_SI);
    CHECK_MSG(!strcmp(b, "12k"), "%s", b);
    hwa__svg_fmt(b, sizeof b, 250e-6, HWA__UNIT_SECONDS);
    CHECK_MSG(!strcmp(b, "250 µs"), "%s", b);
    hwa__svg_fmt(b, sizeof b, 0.0125, HWA__UNIT_SECONDS);
    CHECK_MSG(!strcmp(b, "12.5 ms"), "%s", b);
    hwa__svg_fmt(b, sizeof b, 2, HWA__UNIT_SECONDS);
    CHECK_MSG(!strcmp(b, "2 s"), "%s", b);
    hwa__svg_fmt(b, sizeof b, NAN, HWA__UNIT_SI);
    CHECK_MSG(!strcmp(b, "n/a"), "%s", b);
}

TEST(html_puts_escapes_and_repairs_utf8) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hwa__html_puts(f, "a<b>&'\"\x01 µ \xff");
    fclose(f);
    CHECK_MSG(!strcmp(buf, "a&lt;b&gt;&amp;&#39;&quot; µ \xef\xbf\xbd"), "%s", buf);
    free(buf);
}
