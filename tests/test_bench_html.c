/* The HTML report from small hand-written inputs: strings are escaped, bad
 * inputs are errors that name the file (and the line of a training log),
 * a chart without data is a one-line note, impossible values are left out
 * with a note, and the axes' ticks and units read right. */
#include <stdlib.h>
#include <unistd.h>

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
