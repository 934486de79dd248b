/* Benchmark reports: JSON validates against docs/bench-report.schema.json
 * (checked by a small validator for the subset of JSON Schema the schema
 * uses), CSV and Markdown have the documented shape, rows are compared with
 * their baseline and the verdicts follow the intervals, and a real sweep's
 * rows make sense and are measured interleaved. */
#include <stdlib.h>

#include "bench/bench_device.h"
#include "bench/workload.h"
#include "core/text.h"
#include "harness.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>
#endif

/* ---- reports to test --------------------------------------------------- */

/* How the machine drifted over five repetitions: every row of a report
 * built here slows and speeds up alike unless a test says otherwise. */
static const double drift[5] = {1.00, 0.90, 1.10, 0.95, 1.05};

/* Gives row r the repetitions sps * drift[k] * noise[k] (noise NULL: 1). */
static void set_reps(hwa_bench_row *r, double sps, const double *noise) {
    double sum = 0, ss = 0;
    r->reps = 5;
    for (int k = 0; k < 5; k++) sum += r->rep_samples_per_s[k] = sps * drift[k] * (noise ? noise[k] : 1);
    r->samples_per_s = sum / 5;
    for (int k = 0; k < 5; k++) ss += pow(r->rep_samples_per_s[k] - r->samples_per_s, 2);
    r->samples_per_s_sd = sqrt(ss / 4);
}

static hwa_bench_row make_row(const char *wl, const char *dtype, double sps, double err) {
    hwa_bench_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.workload, sizeof r.workload, "%s", wl);
    snprintf(r.device, sizeof r.device, "cpu");
    snprintf(r.dtype, sizeof r.dtype, "%s", dtype);
    snprintf(r.kernel, sizeof r.kernel, "reference");
    snprintf(r.scenario, sizeof r.scenario, "single");
    r.batch = 64;
    r.threads = 1;
    r.r.queries = 10;
    r.r.warmup_queries = 2;
    r.r.duration_s = 10 * 64 / sps;
    r.r.queries_per_s = sps / 64;
    r.r.latency = (hwa_bench_stats){.n = 10, .min = 0.1, .max = 0.2, .mean = 0.15, .stddev = 0.01, .cv = 0.0667,
                                    .p50 = 0.15, .p90 = 0.18, .p99 = 0.199};
    r.r.service = r.r.latency;
    r.r.target_rate = NAN;
    r.samples_per_s = sps;
    r.gflops = 1.5;
    r.gbps = 0.2;
    r.pct_of_peak = NAN;
    r.planned_bytes = 256000;
    r.peak_rss_bytes = 1 << 20;
    r.power_w = r.idle_power_w = r.energy_j_per_sample = NAN;
    r.max_abs_error_vs_f32 = err;
    r.p99_bound_ms = r.peak_rate_qps = r.peak_upper_qps = NAN;
    set_reps(&r, sps, NULL);
    return r;
}

static bool fill_report(hwa_bench_report *rep) {
    if (hwa_bench_report_init(rep, NULL)) return false;
    char *argv[] = {"bench", "linear1000", "--dtype", "all"};
    hwa_bench_row rows[4] = {make_row("linear1000", "f32", 100, 0), make_row("linear1000", "bf16", 250, 0.005),
                             make_row("linear1000", "f16", 300, 0.02), make_row("mlp1000", "f32", 0, NAN)};
    rows[3].skipped = true;
    rows[3].r.queries = 0;
    snprintf(rows[3].note, sizeof rows[3].note, "skipped: over the budget, \"quoted\", with | a pipe");
    snprintf(rows[2].scenario, sizeof rows[2].scenario, "server");
    rows[2].r.target_rate = 40;
    rows[2].r.meets_bound = true;
    rows[2].p99_bound_ms = 10;
    rows[2].peak_rate_qps = 41.5;
    rows[2].peak_upper_qps = 42.3;
    rows[3].reps = 0;
    bool ok = !hwa_bench_report_set_command(rep, 4, argv);
    for (int i = 0; ok && i < 4; i++) ok = !hwa_bench_report_add(rep, &rows[i]);
    hwa_bench_report_compare(rep);
    return ok;
}

/* The report written in fmt, as a string the caller frees. */
static char *write_to_string(const hwa_bench_report *rep, hwa_bench_format fmt) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    hwa_status st = hwa_bench_report_write(rep, fmt, f);
    fclose(f);
    if (st) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- a validator for the JSON Schema subset the schema uses ----------- *
 * type (a name or a list), enum, minimum, required, properties,
 * additionalProperties: false, items, and $ref to "#/$defs/NAME". */
#ifdef HWA_HAVE_JANSSON
static bool type_matches(const char *t, const json_t *v) {
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "integer")) return json_is_integer(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "null")) return json_is_null(v);
    return false;
}

static bool validate(const json_t *root, const json_t *schema, const json_t *v, const char *path, char *err,
                     size_t cap) {
    const json_t *ref = json_object_get(schema, "$ref");
    if (ref) {
        const char *r = json_string_value(ref);
        const json_t *def = r && !strncmp(r, "#/$defs/", 8) ? json_object_get(json_object_get(root, "$defs"), r + 8) : NULL;
        if (!def) return snprintf(err, cap, "%s: unresolvable $ref", path), false;
        return validate(root, def, v, path, err, cap);
    }
    const json_t *type = json_object_get(schema, "type");
    if (type) {
        bool ok = false;
        if (json_is_string(type)) ok = type_matches(json_string_value(type), v);
        for (size_t i = 0; json_is_array(type) && i < json_array_size(type); i++)
            ok |= type_matches(json_string_value(json_array_get(type, i)), v);
        if (!ok) return snprintf(err, cap, "%s: wrong type", path), false;
    }
    const json_t *en = json_object_get(schema, "enum");
    if (en) {
        bool ok = false;
        for (size_t i = 0; i < json_array_size(en); i++) ok |= json_equal(json_array_get(en, i), (json_t *)v);
        if (!ok) return snprintf(err, cap, "%s: not one of the enum values", path), false;
    }
    const json_t *mn = json_object_get(schema, "minimum");
    if (mn && json_is_number(v) && json_number_value(v) < json_number_value(mn))
        return snprintf(err, cap, "%s: %g below the minimum %g", path, json_number_value(v), json_number_value(mn)), false;
    if (json_is_object(v)) {
        const json_t *req = json_object_get(schema, "required"), *props = json_object_get(schema, "properties");
        for (size_t i = 0; i < json_array_size(req); i++)
            if (!json_object_get(v, json_string_value(json_array_get(req, i))))
                return snprintf(err, cap, "%s: missing '%s'", path, json_string_value(json_array_get(req, i))), false;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            const json_t *ps = json_object_get(props, key);
            if (!ps) {
                if (json_is_false(json_object_get(schema, "additionalProperties")))
                    return snprintf(err, cap, "%s: not allowed", sub), false;
                continue;
            }
            if (!validate(root, ps, val, sub, err, cap)) return false;
        }
    }
    const json_t *items = json_object_get(schema, "items");
    for (size_t i = 0; items && json_is_array(v) && i < json_array_size(v); i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (!validate(root, items, json_array_get(v, i), sub, err, cap)) return false;
    }
    return true;
}

static json_t *load_schema(void) {
    const char *src = getenv("HWA_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/bench-report.schema.json", src ? src : ".");
    json_error_t e;
    json_t *s = json_load_file(path, 0, &e);
    if (!s) fprintf(stderr, "    %s: %s (line %d)\n", path, e.text, e.line);
    return s;
}

/* Parses text and validates it; err gets the first failure. */
static bool validates(const char *text, char *err, size_t cap) {
    json_t *schema = load_schema();
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    bool ok = schema && doc;
    if (!doc) snprintf(err, cap, "does not parse: %s (line %d)", e.text, e.line);
    if (ok) ok = validate(schema, schema, doc, "$", err, cap);
    json_decref(doc);
    json_decref(schema);
    return ok;
}
#endif

TEST(json_report_parses_and_validates_against_the_schema) {
#ifndef HWA_HAVE_JANSSON
    SKIP_FOR("jansson", "built without jansson");
#else
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    char *json = write_to_string(&rep, HWA_BENCH_JSON);
    CHECK(json);
    char err[512] = "";
    CHECK_MSG(validates(json, err, sizeof err), "%s\n%s", err, json);
    json_t *doc = json_loads(json, 0, NULL);
    json_t *r0 = json_array_get(json_object_get(doc, "results"), 0);
    CHECK(json_is_null(json_object_get(r0, "energy_j_per_sample"))); /* no meter: null, not 0 */
    CHECK(json_is_null(json_object_get(r0, "pct_of_peak")));
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(r0, "latency_ms"), "p99")), 199, 1e-6);
    json_t *r3 = json_array_get(json_object_get(doc, "results"), 3);
    CHECK(json_is_true(json_object_get(r3, "skipped")));
    CHECK(json_is_null(json_object_get(r3, "samples_per_s")));
    CHECK_STR_CONTAINS(json_string_value(json_object_get(doc, "command_line")), "linear1000 --dtype all");
    /* Repetitions, their spread and the speed-up with its interval. */
    CHECK_INT_EQ(json_integer_value(json_object_get(r0, "reps")), 5);
    json_t *reps = json_object_get(r0, "samples_per_s_reps");
    CHECK_INT_EQ((int64_t)json_array_size(reps), 5);
    CHECK_NEAR(json_number_value(json_array_get(reps, 1)), 90, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(r0, "samples_per_s_sd")), sqrt(62.5), 1e-6);
    json_t *r1 = json_array_get(json_object_get(doc, "results"), 1), *sp = json_object_get(r1, "speedup");
    CHECK_INT_EQ(json_integer_value(json_object_get(sp, "baseline_row")), 0);
    CHECK_NEAR(json_number_value(json_object_get(sp, "ratio")), 2.5, 1e-9);
    CHECK_NEAR(json_number_value(json_object_get(sp, "lo")), 2.5, 1e-9);
    CHECK(json_is_null(json_object_get(json_array_get(json_object_get(doc, "results"), 2), "speedup"))); /* no f32 server row */
    json_t *srv = json_object_get(json_array_get(json_object_get(doc, "results"), 2), "server");
    CHECK_NEAR(json_number_value(json_object_get(srv, "upper_qps")), 42.3, 1e-9);
    CHECK(json_is_false(json_object_get(srv, "at_ceiling")));
    json_t *rec = json_array_get(json_object_get(doc, "recommendations"), 0);
    CHECK(!strcmp(json_string_value(json_object_get(rec, "verdict")), "recommended"));
    CHECK_NEAR(json_number_value(json_object_get(rec, "lo")), 2.5, 1e-9);
    CHECK_STR_CONTAINS(json_string_value(json_object_get(rec, "command")), "hwadapt bench linear1000");
    CHECK_STR_CONTAINS(json_string_value(json_object_get(rec, "c_call")), "HWA_BF16");
    json_decref(doc);
    free(json);
    hwa_bench_report_free(&rep);
#endif
}

TEST(schema_validator_rejects_what_the_schema_forbids) {
#ifndef HWA_HAVE_JANSSON
    SKIP_FOR("jansson", "built without jansson");
#else
    char err[512] = "";
    CHECK(!validates("{\"schema\": \"hwadapt-bench-report/2\"}", err, sizeof err));
    CHECK_STR_CONTAINS(err, "missing");
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    char *json = write_to_string(&rep, HWA_BENCH_JSON);
    CHECK(json);
    /* A wrong scenario name and a negative batch are both caught. */
    char *bad = strdup(json), *p = strstr(bad, "\"single\"");
    CHECK(p);
    memcpy(p, "\"singl_\"", 8);
    CHECK(!validates(bad, err, sizeof err));
    CHECK_STR_CONTAINS(err, "scenario");
    free(bad);
    bad = strdup(json);
    p = strstr(bad, "\"batch\": 64");
    memcpy(p, "\"batch\": -4", 11);
    CHECK(!validates(bad, err, sizeof err));
    CHECK_STR_CONTAINS(err, "batch");
    free(bad);
    free(json);
    hwa_bench_report_free(&rep);
#endif
}

TEST(recommendation_is_a_row_faster_than_f32_beyond_the_noise) {
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    CHECK_INT_EQ(rep.n_recs, 1);
    const hwa_bench_recommendation *r = &rep.recs[0];
    CHECK(r->verdict == HWA_BENCH_RECOMMENDED);
    CHECK_INT_EQ(r->row, 1);          /* bf16: 250 samples/s, error 0.005 */
    CHECK_INT_EQ(r->fastest_row, 1);
    CHECK_INT_EQ(r->baseline_row, 0); /* f32 */
    CHECK_INT_EQ(r->reps, 5);
    /* Every repetition is 2.5x: no width. */
    CHECK_NEAR(r->speedup, 2.5, 1e-12);
    CHECK_NEAR(r->lo, 2.5, 1e-12);
    CHECK_NEAR(r->hi, 2.5, 1e-12);
    CHECK_STR_CONTAINS(r->text, "2.50x [2.50, 2.50]");
    CHECK_STR_CONTAINS(r->text, "over the tolerance: f16, 1 thread (max abs error vs f32 0.02)");
    CHECK(!strcmp(r->command, "hwadapt bench linear1000 --device cpu --dtype bf16 --threads 1 --batch 64"));
    CHECK_STR_CONTAINS(r->c_call, "hwa_backend_new(ctx, \"cpu\")");
    CHECK_STR_CONTAINS(r->c_call, "hwa_backend_set_threads(be, 1)");
    CHECK_STR_CONTAINS(r->c_call, "hwa_tensor_new(ctx, HWA_BF16");
    /* f16 at 300 is within 0.05, but its server row has no f32 row to be
     * compared with. */
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.05));
    CHECK(rep.recs[1].verdict == HWA_BENCH_NO_BASELINE);
    CHECK_INT_EQ(rep.recs[1].row, 2);
    CHECK_STR_CONTAINS(rep.recs[1].text, "no f32 row");
    CHECK_STR_CONTAINS(rep.recs[1].command, "--scenario server --find-peak --p99-ms 10");
    CHECK_STATUS(hwa_bench_recommend(&rep, "mlp1000", 0.01), HWA_E_NOTFOUND); /* only a skipped row */
    hwa_bench_report_free(&rep);
}

/* A report of rows measured together: f32 and the others, each with its
 * own noise on top of the machine's drift. */
static void add_rows(hwa_bench_report *rep, const char *wl, int n, const char *const *dtypes, const int *threads,
                     const double *sps, const double *const *noise) {
    for (int i = 0; i < n; i++) {
        hwa_bench_row r = make_row(wl, dtypes[i], sps[i], strcmp(dtypes[i], "f32") ? 0.001 : 0);
        r.threads = threads[i];
        set_reps(&r, sps[i], noise[i]);
        hwa_bench_report_add(rep, &r);
    }
}

TEST(recommendation_is_f32_tied_when_the_interval_includes_one) {
    /* f16 is faster on average (109 against 100 samples/s), but its
     * repetitions go both ways: log-ratios 0.26, -0.22, 0.22, -0.16, 0.18,
     * mean 0.056, sd 0.22, so the interval is about [0.82, 1.39]. */
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    const double f16_noise[5] = {1.3, 0.8, 1.25, 0.85, 1.2};
    add_rows(&rep, "mlp1000-train", 2, (const char *const[]){"f32", "f16"}, (const int[]){1, 1},
             (const double[]){100, 100}, (const double *const[]){NULL, f16_noise});
    rep.rows[1].r.spread_warning = true;
    rep.rows[1].r.service.cv = 0.89;
    CHECK_OK(hwa_bench_recommend(&rep, "mlp1000-train", 0.01));
    const hwa_bench_recommendation *r = &rep.recs[0];
    CHECK(r->verdict == HWA_BENCH_TIED);
    CHECK_INT_EQ(r->row, 0);
    CHECK_INT_EQ(r->fastest_row, 1);
    CHECK(r->lo < 1 && r->hi > 1);
    /* The interval by hand, from the log-ratios and t975(4) = 2.776445. */
    double l[5], mean = 0, ss = 0;
    for (int k = 0; k < 5; k++) mean += (l[k] = log(f16_noise[k])) / 5;
    for (int k = 0; k < 5; k++) ss += (l[k] - mean) * (l[k] - mean);
    CHECK_NEAR(r->lo, exp(mean - 2.776445 * sqrt(ss / 4 / 5)), 1e-5);
    CHECK_NEAR(r->hi, exp(mean + 2.776445 * sqrt(ss / 4 / 5)), 1e-5);
    CHECK_STR_CONTAINS(r->text, "the f32 baseline: tied within the noise");
    CHECK_STR_CONTAINS(r->text, "too noisy to trust");
    CHECK_STR_CONTAINS(r->text, "f16, 1 thread (CV 89%)");
    CHECK(!strcmp(r->command, "hwadapt bench mlp1000-train --device cpu --dtype f32 --threads 1 --batch 64"));
    CHECK_STR_CONTAINS(r->c_call, "HWA_F32");
    hwa_bench_report_free(&rep);
}

TEST(recommendation_of_the_baseline_itself_says_nothing_is_faster) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    add_rows(&rep, "mlp1000", 2, (const char *const[]){"f32", "f16"}, (const int[]){1, 1}, (const double[]){100, 60},
             (const double *const[]){NULL, NULL});
    CHECK_OK(hwa_bench_recommend(&rep, "mlp1000", 0.01));
    CHECK(rep.recs[0].verdict == HWA_BENCH_TIED);
    CHECK_INT_EQ(rep.recs[0].row, 0);
    CHECK_INT_EQ(rep.recs[0].fastest_row, 0);
    CHECK_STR_CONTAINS(rep.recs[0].text, "nothing within tolerance is faster");
    hwa_bench_report_free(&rep);
}

TEST(recommendation_among_rows_tied_with_the_fastest_is_the_simplest) {
    /* Both beat f32 by far; f16 looks 4 % faster than bf16, but its own
     * noise puts their paired interval around 1: bf16, the simpler, wins.
     * A second bf16 row on two threads, as fast, loses to one thread. */
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    const double f16_noise[5] = {1.1, 0.92, 1.08, 0.93, 1.0}, bf16_2t_noise[5] = {1.02, 0.99, 1.01, 0.98, 1.0};
    add_rows(&rep, "linear1000", 4, (const char *const[]){"f32", "f16", "bf16", "bf16"}, (const int[]){1, 1, 2, 1},
             (const double[]){100, 260, 250, 250}, (const double *const[]){NULL, f16_noise, bf16_2t_noise, NULL});
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    const hwa_bench_recommendation *r = &rep.recs[0];
    CHECK(r->verdict == HWA_BENCH_RECOMMENDED);
    CHECK_INT_EQ(r->fastest_row, 1);
    CHECK_INT_EQ(r->row, 3); /* bf16, one thread */
    CHECK_NEAR(r->speedup, 2.5, 1e-12);
    CHECK_STR_CONTAINS(r->text, "the faster-looking f16, 1 thread");
    CHECK(!strcmp(r->command, "hwadapt bench linear1000 --device cpu --dtype bf16 --threads 1 --batch 64"));
    hwa_bench_report_free(&rep);
}

TEST(training_recommendation_names_the_train_command) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    add_rows(&rep, "fmnist-mlp-train", 2, (const char *const[]){"f32", "bf16"}, (const int[]){2, 2},
             (const double[]){500, 1100}, (const double *const[]){NULL, NULL});
    CHECK_OK(hwa_bench_recommend(&rep, "fmnist-mlp-train", 0.01));
    CHECK(rep.recs[0].verdict == HWA_BENCH_RECOMMENDED);
    CHECK(!strcmp(rep.recs[0].command, "hwadapt train --model fmnist-mlp --device cpu --dtype bf16 --threads 2 --batch 64"));
    CHECK_STR_CONTAINS(rep.recs[0].c_call, "c.device = \"cpu\"; c.dtype = HWA_BF16; c.threads = 2; c.batch = 64;");
    hwa_bench_report_free(&rep);
}

/* Rows of a device without a thread setting (opencl:N): threads 1 means
 * nothing there, so the commands set none and the table shows "-". */
TEST(rows_of_a_device_without_threads_name_it_and_set_no_threads) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    for (int i = 0; i < 2; i++) {
        hwa_bench_row r = make_row(i ? "linear1000" : "fmnist-mlp-train", "f32", 300, 2e-6);
        snprintf(r.device, sizeof r.device, "opencl:0");
        r.no_threads = true;
        CHECK_OK(hwa_bench_report_add(&rep, &r));
    }
    CHECK_OK(hwa_bench_recommend(&rep, "fmnist-mlp-train", 0.01));
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    CHECK(!strcmp(rep.recs[0].command, "hwadapt train --model fmnist-mlp --device opencl:0 --dtype f32 --batch 64"));
    CHECK_STR_CONTAINS(rep.recs[0].c_call, "c.device = \"opencl:0\"; c.dtype = HWA_F32; c.batch = 64;");
    CHECK(!strcmp(rep.recs[1].command, "hwadapt bench linear1000 --device opencl:0 --dtype f32 --batch 64"));
    CHECK_STR_CONTAINS(rep.recs[1].c_call, "be = hwa_backend_new(ctx, \"opencl:0\"); inputs");
    CHECK_STR_CONTAINS(rep.recs[1].text, "linear1000: f32 on opencl:0, batch 64, the f32 baseline");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(hwa_bench_report_write(&rep, HWA_BENCH_TABLE_WIDE, f));
    fclose(f);
    CHECK_STR_CONTAINS(buf, "opencl:0  f32       64    -  ");
    free(buf);
    char *t = write_to_string(&rep, HWA_BENCH_TABLE);
    CHECK(t);
    CHECK_STR_CONTAINS(t, "  opencl:0  f32      -  ");
    free(t);
#ifdef HWA_HAVE_JANSSON
    char *json = write_to_string(&rep, HWA_BENCH_JSON), err[512] = "";
    CHECK(json);
    CHECK_MSG(validates(json, err, sizeof err), "%s\n%s", err, json);
    CHECK_STR_CONTAINS(json, "\"threads\": 1, \"threads_apply\": false");
    free(json);
#endif
    hwa_bench_report_free(&rep);
}

TEST(baseline_is_the_f32_row_at_the_default_thread_count_else_the_nearest) {
    const int d = hwa__bdev_default_threads("cpu");
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    add_rows(&rep, "linear1000", 4, (const char *const[]){"f32", "f32", "f32", "bf16"}, (const int[]){d + 3, d, d + 1, d},
             (const double[]){90, 100, 95, 200}, (const double *const[]){NULL, NULL, NULL, NULL});
    hwa_bench_report_compare(&rep);
    for (int i = 0; i < 4; i++) CHECK_INT_EQ(rep.rows[i].baseline_row, 1);
    CHECK_NEAR(rep.rows[0].speedup, 0.9, 1e-12);
    CHECK_NEAR(rep.rows[3].speedup, 2.0, 1e-12);
    rep.rows[1].skipped = true; /* without it: the nearest, d + 1 */
    hwa_bench_report_compare(&rep);
    CHECK_INT_EQ(rep.rows[3].baseline_row, 2);
    CHECK_INT_EQ(rep.rows[1].baseline_row, -1);
    CHECK(isnan(rep.rows[1].speedup));
    hwa_bench_report_free(&rep);
}

/* Splits one CSV record (RFC 4180) in place; returns the field count. */
static int csv_fields(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return -1;
        char *out = p;
        fields[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') *out++ = '"', p += 2;
                else if (*p == '"') { p++; break; }
                else if (!*p) return -1;
                else *out++ = *p++;
            }
        } else {
            while (*p && *p != ',') *out++ = *p++;
        }
        char c = *p;
        *out = 0;
        if (c != ',') return n;
        p++;
    }
}

TEST(csv_has_one_header_and_one_record_per_row_with_empty_unknowns) {
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    char *csv = write_to_string(&rep, HWA_BENCH_CSV);
    CHECK(csv);
    char *save = NULL, *line = strtok_r(csv, "\r\n", &save);
    CHECK_STR_CONTAINS(line, "workload,device,dtype,batch,threads,kernel,scenario,optimizer,reps,queries,samples_per_s,"
                             "samples_per_s_sd,samples_per_s_reps,speedup,speedup_lo,speedup_hi,p50_ms");
    char *f[32];
    int ncols = csv_fields(line, f, 32);
    CHECK_INT_EQ(ncols, 29); /* ... peak_qps, others_share, verdict, note */
    int records = 0;
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", line);
        CHECK_INT_EQ(csv_fields(copy, f, 32), ncols);
        if (records == 0) {
            CHECK(!strcmp(f[0], "linear1000") && !strcmp(f[2], "f32") && !strcmp(f[3], "64"));
            CHECK(f[7][0] == 0);                       /* a forward row: no optimizer */
            CHECK(!strcmp(f[8], "5"));
            CHECK(!strcmp(f[12], "100;90;110;95;105"));
            CHECK_NEAR(atof(f[11]), sqrt(62.5), 1e-3); /* sd */
            CHECK_NEAR(atof(f[18]), 199, 1e-9);        /* p99_ms */
            CHECK(f[22][0] == 0);                      /* pct_of_peak unknown: empty */
        }
        if (records == 1) {
            CHECK_NEAR(atof(f[13]), 2.5, 1e-9);
            CHECK_NEAR(atof(f[14]), 2.5, 1e-9);
            CHECK_NEAR(atof(f[15]), 2.5, 1e-9);
        }
        if (records == 3) {
            CHECK(f[10][0] == 0 && f[13][0] == 0);
            CHECK(!strcmp(f[28], "skipped: over the budget, \"quoted\", with | a pipe"));
        }
        records++;
    }
    CHECK_INT_EQ(records, 4);
    free(csv);
    hwa_bench_report_free(&rep);
}

TEST(markdown_is_a_table_with_na_for_unknowns) {
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    char *md = write_to_string(&rep, HWA_BENCH_MARKDOWN);
    CHECK(md);
    CHECK(!strncmp(md, "| workload | device | dtype |", 29));
    int lines = 0, bars_first = -1;
    for (char *p = md; *p; p++)
        if (*p == '\n') lines++;
    CHECK_INT_EQ(lines, 2 + 4);
    /* Every line has the same number of unescaped bars. */
    char *save = NULL;
    for (char *line = strtok_r(md, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int bars = 0;
        for (char *p = line; *p; p++) bars += *p == '|' && (p == line || p[-1] != '\\');
        if (bars_first < 0) bars_first = bars;
        CHECK_INT_EQ(bars, bars_first);
        if (strstr(line, "mlp1000")) {
            CHECK_STR_CONTAINS(line, "| n/a |");
            CHECK_STR_CONTAINS(line, "with \\| a pipe");
        }
    }
    CHECK_INT_EQ(bars_first, 30);
    free(md);
    /* With a verdict: the row says it, and the recommendation follows the table. */
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    md = write_to_string(&rep, HWA_BENCH_MARKDOWN);
    CHECK_STR_CONTAINS(md, "| recommended |");
    CHECK_STR_CONTAINS(md, "- **linear1000** (recommended): linear1000: bf16, 1 thread on cpu, batch 64: 2.50x [2.50, 2.50]");
    CHECK_STR_CONTAINS(md, "run: `hwadapt bench linear1000 --device cpu --dtype bf16 --threads 1 --batch 64`");
    free(md);
    hwa_bench_report_free(&rep);
}

TEST(table_shows_reps_the_spread_and_the_speedup_with_its_interval) {
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    char *t = write_to_string(&rep, HWA_BENCH_TABLE_WIDE);
    CHECK(t);
    CHECK_STR_CONTAINS(t, "reps");
    CHECK_STR_CONTAINS(t, "100 ± 7.9");      /* sd of 100, 90, 110, 95, 105: sqrt(62.5) */
    CHECK_STR_CONTAINS(t, "2.50x [2.50, 2.50]");
    CHECK_STR_CONTAINS(t, "baseline");
    CHECK_STR_CONTAINS(t, "recommended");
    /* Columns line up although "±" is two bytes: the speed-up header starts
     * where the first row's speed-up does. */
    char *nl = strchr(t, '\n'), *head = strstr(t, "speedup"), *cell = strstr(nl, "baseline");
    CHECK(nl && head && cell);
    CHECK_INT_EQ((int64_t)(head - t), (int64_t)(cell - (nl + 1)));
    free(t);
    hwa_bench_report_free(&rep);
}

/* The default table: rows grouped under their workload, readable units,
 * and no line past 100 columns even with long notes and kernel names. */
TEST(table_fits_100_columns_with_readable_units_grouped_by_workload) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    const char *dts[3] = {"f32", "bf16", "f16"};
    const double sps[3] = {74800, 253000, 150000};
    for (int i = 0; i < 6; i++) {
        hwa_bench_row r = make_row(i < 3 ? "linear1000" : "stories260K.bin", dts[i % 3], sps[i % 3] * (i < 3 ? 1 : 20),
                                   i % 3 ? 6.035e-3 : 0);
        snprintf(r.kernel, sizeof r.kernel, "f16>f32:onednn:brg:avx512_core+packed+bias+relu");
        if (i >= 3) snprintf(r.unit, sizeof r.unit, "tokens");
        r.r.latency.p50 = 771e-6;
        r.r.latency.p99 = 2.19e-3;
        r.pct_of_peak = 149.4;
        memset(r.note, 'x', 300);
        for (int k = 7; k < 300; k += 8) r.note[k] = ' ';
        r.note[300] = 0;
        CHECK_OK(hwa_bench_report_add(&rep, &r));
    }
    hwa_bench_report_compare(&rep);
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    char *t = write_to_string(&rep, HWA_BENCH_TABLE);
    CHECK(t);
    CHECK_STR_CONTAINS(t, "linear1000 · batch 64 · single\n");
    CHECK_STR_CONTAINS(t, "stories260K.bin · batch 64 · single\n");
    CHECK_STR_CONTAINS(t, "tokens/s");
    CHECK_STR_CONTAINS(t, "74.8k ±");
    CHECK_STR_CONTAINS(t, "1.5M ±");
    CHECK_STR_CONTAINS(t, "771 µs");
    CHECK_STR_CONTAINS(t, "2.19 ms");
    CHECK_STR_CONTAINS(t, "6.0e-3");
    CHECK_STR_CONTAINS(t, "recommended");
    CHECK_STR_CONTAINS(t, "more columns in the wide table (--wide)");
    CHECK(!strstr(t, "onednn")); /* kernels: the wide table's */
    /* the note all six rows share is said once, lettered, and named by each row's note */
    CHECK_STR_CONTAINS(t, "\n  [a] xxxxxxx xxxxxxx");
    CHECK_STR_CONTAINS(t, "\n  [1] [a]\n");
    CHECK_STR_CONTAINS(t, "\n  [6] [a]\n");
    int lines = 0;
    for (char *l = t, *e; *l; l = e + 1) {
        e = strchr(l, '\n');
        CHECK(e);
        *e = 0;
        CHECK_MSG(hwa__text_width(l) <= 100, "%d columns: %s", hwa__text_width(l), l);
        CHECK_MSG(!*l || l[strlen(l) - 1] != ' ', "trailing space: '%s'", l);
        lines++;
    }
    CHECK(lines > 12);
    free(t);
    hwa_bench_report_free(&rep);
}

TEST(real_sweep_rows_validate_and_report_f32_error_and_rates) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    hwa_bench_sweep s = {.workloads = "linear1000", .dtypes = "f32,bf16", .batches = "8",
                         .scenarios = "single,offline,server", .cfg = hwa_bench_config_default()};
    s.cfg.min_time_s = 0;
    s.cfg.min_queries = 3;
    s.cfg.warmup_s = 0;
    s.cfg.warmup_queries = 1;
    s.cfg.server_rate = 5;   /* queries of ~15 ms at 5/s: the server is mostly idle */
    s.cfg.p99_bound_s = 1.0;
    s.reps = 3;              /* three visits of one query each */
    CHECK_OK(hwa_bench_sweep_run(&s, &rep));
    CHECK_INT_EQ(rep.n_rows, 6);
    for (int i = 0; i < rep.n_rows; i++) {
        const hwa_bench_row *r = &rep.rows[i];
        CHECK(!r->skipped);
        CHECK_INT_EQ(r->r.queries, 3);
        CHECK_INT_EQ(r->reps, 3);
        double mean = 0;
        for (int k = 0; k < 3; k++) {
            CHECK(r->rep_samples_per_s[k] > 0);
            mean += r->rep_samples_per_s[k] / 3;
        }
        CHECK_NEAR(r->samples_per_s, mean, 1e-9 * mean);
        CHECK(r->samples_per_s_sd >= 0);
        /* The f32 row of the same scenario is the baseline; it is its own. */
        CHECK_INT_EQ(r->baseline_row, i % 3);
        CHECK(r->speedup_lo <= r->speedup && r->speedup <= r->speedup_hi);
        if (i < 3) CHECK_NEAR(r->speedup, 1, 1e-12);
        CHECK_INT_EQ(r->batch, 8);
        CHECK(r->samples_per_s > 0 && r->gflops > 0);
        CHECK(r->r.latency.p50 <= r->r.latency.p99 && r->r.latency.p99 <= r->r.latency.max);
        CHECK(isnan(r->energy_j_per_sample));
        CHECK(!strcmp(r->dtype, i < 3 ? "f32" : "bf16"));
        if (i < 3) CHECK_NEAR(r->max_abs_error_vs_f32, 0, 0);
        /* bf16 keeps 8 bits of mantissa: inputs, weights and the output each
         * round by up to 2^-9 relative; outputs here are below about 2. */
        else CHECK(r->max_abs_error_vs_f32 > 0 && r->max_abs_error_vs_f32 < 0.05);
    }
    const hwa_bench_row *srv = &rep.rows[2];
    CHECK(!strcmp(srv->scenario, "server"));
    CHECK_NEAR(srv->r.target_rate, 5, 0);
    CHECK(srv->r.meets_bound == (srv->r.latency.p99 <= 1.0)); /* slow builds may queue */
    CHECK(srv->r.latency.mean >= srv->r.service.mean);       /* latency = waiting + service */
    CHECK_NEAR(srv->p99_bound_ms, 1000, 1e-9);
#ifdef HWA_HAVE_JANSSON
    char *json = write_to_string(&rep, HWA_BENCH_JSON);
    char err[512] = "";
    CHECK_MSG(validates(json, err, sizeof err), "%s", err);
    free(json);
#endif
    hwa_bench_report_free(&rep);
}

typedef struct progress_log {
    char msgs[64][200];
    int n;
} progress_log;

static void log_progress(void *ud, int row, int n_rows, const char *msg) {
    progress_log *l = ud;
    (void)row, (void)n_rows;
    if (l->n < 64) snprintf(l->msgs[l->n++], sizeof l->msgs[0], "%s", msg);
}

TEST(sweep_builds_every_configuration_then_measures_them_in_rounds) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    progress_log log = {0};
    hwa_bench_sweep s = {.workloads = "linear1000", .dtypes = "f32,f16,bf16", .batches = "4",
                         .cfg = hwa_bench_config_default(), .reps = 4, .progress = log_progress, .progress_ud = &log};
    s.cfg.min_time_s = 0;
    s.cfg.min_queries = 8;
    s.cfg.warmup_s = 0;
    CHECK_OK(hwa_bench_sweep_run(&s, &rep));
    /* Three builds, then the four rounds in order. */
    CHECK_INT_EQ(log.n, 3 + 4);
    for (int i = 0; i < 3; i++) CHECK_STR_CONTAINS(log.msgs[i], "building and validating");
    for (int k = 0; k < 4; k++) {
        char want[64];
        snprintf(want, sizeof want, "repetition %d of 4 over 3 row(s)", k + 1);
        CHECK_STR_CONTAINS(log.msgs[3 + k], want);
    }
    /* Eight queries a row in all, two a visit; one warm-up query a row, on
     * its first visit (the validation query was the other). */
    for (int i = 0; i < 3; i++) {
        CHECK_INT_EQ(rep.rows[i].r.queries, 8);
        CHECK_INT_EQ(rep.rows[i].r.warmup_queries, 1);
        CHECK_INT_EQ(rep.rows[i].reps, 4);
    }
    hwa_bench_report_free(&rep);
}

TEST(sweep_errors_name_the_bad_value_and_what_is_available) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    hwa_bench_sweep s = {.workloads = "linear999", .cfg = hwa_bench_config_default()};
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "linear999");
    CHECK_STR_CONTAINS(hwa_last_error(), "available: linear1000, mlp1000");
    s.workloads = "linear1000";
    s.devices = "gpu7";
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "available: cpu");
    s.devices = NULL;
    s.dtypes = "q4_0";
    CHECK(hwa_bench_sweep_run(&s, &rep) != HWA_OK);
    CHECK_STR_CONTAINS(hwa_last_error(), "f32, f16, bf16");
    s.dtypes = NULL;
    s.batches = "64,0";
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "batch '0'");
    s.batches = NULL;
    s.threads = "-1";
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "available: 1..");
    s.threads = NULL;
    s.scenarios = "server";
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "--find-peak");
    s.scenarios = NULL;
    s.reps = HWA_BENCH_MAX_REPS + 1;
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "repetitions 33 outside 1..32");
    s.reps = 0;
    s.workloads = "mlp1000-train";
    s.optimizer = "lion";
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_NOTFOUND);
    CHECK_STR_CONTAINS(hwa_last_error(), "unknown optimizer 'lion' (sgd, momentum, nesterov, adam, adamw)");
    /* an optimizer for forward workloads alone is a mistake too */
    s.workloads = "linear1000,mlp1000";
    s.optimizer = "sgd";
    CHECK_STATUS(hwa_bench_sweep_run(&s, &rep), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "applies to training workloads (mlp1000-train, fmnist-mlp-train, fmnist-cnn-train)");
    CHECK_INT_EQ(rep.n_rows, 0);
    hwa_bench_report_free(&rep);
}

/* Every parameter of a training workload, before and after one query, and
 * its gradient from that query (f32, as many values as the parameter). */
typedef struct step_values {
    float *before[8], *after[8], *grad[8];
    int n;
} step_values;

static void read_params(hwa__workload *w, float **vals, bool grads) {
    for (int i = 0; i < w->n_params; i++) {
        hwa_tensor *t = grads ? hwa_tensor_grad(w->params[i]) : w->params[i];
        const int64_t n = hwa_tensor_nelements(t);
        vals[i] = malloc((size_t)n * sizeof(float));
        if (!vals[i] || hwa_tensor_get_f32(t, vals[i], n)) hwa_test_fail(__FILE__, __LINE__, "reading parameter %d", i);
    }
}

static void one_step(hwa__workload *w, step_values *v) {
    v->n = w->n_params;
    read_params(w, v->before, false);
    if (hwa__workload_run(w)) hwa_test_fail(__FILE__, __LINE__, "the step: %s", hwa_last_error());
    read_params(w, v->after, false);
    read_params(w, v->grad, true);
}

static void step_values_free(step_values *v) {
    for (int i = 0; i < v->n; i++) free(v->before[i]), free(v->after[i]), free(v->grad[i]);
}

TEST(training_steps_keep_f32_parameters_and_update_them_by_adam) {
    /* One fmnist-mlp-train step in each dtype: the parameters stay f32 (the
     * graph casts them to the dtype) and move as Adam's first step does,
     * computed here on its own: m and v start at zero, so the bias-corrected
     * moments are g and g^2 and p -= lr * g / (|g| + eps), with PyTorch's
     * lr 1e-3 and eps 1e-8. Wherever |g| is well above eps that is a step
     * of lr against the gradient's sign, whatever its size (SGD's would be
     * 0.01 * g, below 1e-5 here). On an OpenCL device too, where the
     * parameters, their state and the update live. */
    int wi;
    CHECK_OK(hwa_bench_workload_find("fmnist-mlp-train", &wi));
    CHECK(hwa_bench_workload_trains(wi));
    const hwa_dtype types[3] = {HWA_F32, HWA_BF16, HWA_F16};
    for (int ti = 0; ti < 6; ti++) {
        const char *dev = ti < 3 ? "cpu" : hwa_test_opencl_spec();
        if (ti >= 3 && !hwa_test_have_opencl()) break;
        hwa__workload w;
        CHECK_OK(hwa__workload_build(wi, dev, types[ti % 3], 8, 2, 5, HWA_OPTIM_ADAM, &w));
        CHECK(w.opt != NULL);
        CHECK_NEAR(w.lr, 1e-3f, 0);
        step_values v;
        one_step(&w, &v);
        int64_t bad = 0, full_steps = 0;
        double worst = 0;
        for (int i = 0; i < w.n_params; i++) {
            CHECK(hwa_tensor_dtype(w.params[i]) == HWA_F32);
            for (int64_t j = 0; j < hwa_tensor_nelements(w.params[i]); j++) {
                const double g = v.grad[i][j], p0 = v.before[i][j], p1 = v.after[i][j];
                const double d = fabs(p1 - (p0 - 1e-3 * g / (fabs(g) + 1e-8)));
                if (!(d <= 1e-8)) bad++;
                if (d > worst) worst = d;
                if (fabs(g) > 1e-5) {
                    full_steps++;
                    if (fabs(fabs(p1 - p0) - 1e-3) > 1e-5) bad++;
                }
            }
        }
        CHECK_MSG(bad == 0, "%s on %s: %lld values off Adam's first step (worst by %.3g)", hwa_dtype_name(types[ti % 3]),
                  dev, (long long)bad, worst);
        CHECK_MSG(full_steps > 100000, "%s on %s: only %lld gradients above 1e-5", hwa_dtype_name(types[ti % 3]), dev,
                  (long long)full_steps);
        step_values_free(&v);
        hwa__workload_free(&w);
    }
}

TEST(training_steps_update_by_the_optimizer_asked_for) {
    /* SGD at 0.01: p - lr * g in f32, bit for bit (the product rounded,
     * then the difference, as the kernels do). */
    int wi;
    CHECK_OK(hwa_bench_workload_find("mlp1000-train", &wi));
    hwa__workload w;
    CHECK_OK(hwa__workload_build(wi, "cpu", HWA_BF16, 16, 2, 5, HWA_OPTIM_SGD, &w));
    CHECK_NEAR(w.lr, 0.01f, 0);
    step_values v;
    one_step(&w, &v);
    int64_t bad = 0, moved = 0;
    for (int i = 0; i < w.n_params; i++)
        for (int64_t j = 0; j < hwa_tensor_nelements(w.params[i]); j++) {
            volatile float step = 0.01f * v.grad[i][j];
            const float want = v.before[i][j] - step;
            bad += memcmp(&want, &v.after[i][j], sizeof want) != 0;
            moved += v.after[i][j] != v.before[i][j];
        }
    CHECK_INT_EQ(bad, 0);
    CHECK(moved > 100000);
    step_values_free(&v);
    hwa__workload_free(&w);
    /* The same batch every query: each optimizer lowers its loss step by
     * step; their losses part after the first (the same forward pass). */
    float loss[HWA_OPTIM_COUNT][4];
    for (int k = 0; k < HWA_OPTIM_COUNT; k++) {
        CHECK_OK(hwa__workload_build(wi, "cpu", HWA_F32, 16, 2, 5, k, &w));
        for (int q = 0; q < 4; q++) {
            CHECK_OK(hwa__workload_run(&w));
            CHECK_OK(hwa__workload_output(&w, &loss[k][q], 1));
        }
        printf("    %-8s loss %.4f %.4f %.4f %.4f\n", hwa_optim_kind_name((hwa_optim_kind)k), loss[k][0], loss[k][1],
               loss[k][2], loss[k][3]);
        for (int q = 1; q < 4; q++) CHECK_MSG(loss[k][q] < loss[k][q - 1], "%s, query %d", hwa_optim_kind_name((hwa_optim_kind)k), q);
        CHECK_NEAR(loss[k][0], loss[0][0], 0);
        if (k) CHECK(loss[k][3] != loss[0][3]);
        hwa__workload_free(&w);
    }
    /* Without an update the step changes nothing: the same loss again. */
    CHECK_OK(hwa__workload_build(wi, "cpu", HWA_F32, 16, 2, 5, HWA__OPTIM_NONE, &w));
    CHECK(w.opt == NULL);
    float l0, l1;
    CHECK_OK(hwa__workload_run(&w));
    CHECK_OK(hwa__workload_output(&w, &l0, 1));
    CHECK_OK(hwa__workload_run(&w));
    CHECK_OK(hwa__workload_output(&w, &l1, 1));
    CHECK_NEAR(l1, l0, 0);
    hwa__workload_free(&w);
}

TEST(training_counts_and_memory_include_the_optimizer) {
    /* Per parameter element: SGD 2 operations and Adam 13; bytes: the
     * gradient written and the parameter rewritten, Adam's two moments read
     * and written besides; Adam's state, 8 bytes an element, planned. */
    int wi;
    CHECK_OK(hwa_bench_workload_find("fmnist-mlp-train", &wi));
    const double n = 784.0 * 1000 + 1000 + 1000.0 * 1000 + 1000 + 1000.0 * 10 + 10;
    hwa__workload a, s, dry;
    CHECK_OK(hwa__workload_build(wi, "cpu", HWA_F32, 64, 2, 5, HWA_OPTIM_ADAM, &a));
    CHECK_OK(hwa__workload_build(wi, "cpu", HWA_F32, 64, 2, 5, HWA_OPTIM_SGD, &s));
    CHECK_OK(hwa__workload_build(wi, NULL, HWA_BF16, 64, 0, 5, HWA_OPTIM_ADAM, &dry));
    CHECK_NEAR(a.flops_per_query - s.flops_per_query, 11 * n, 1e-6 * n);
    CHECK_NEAR(a.bytes_per_query - s.bytes_per_query, 16 * n, 1e-6 * n);
    CHECK_INT_EQ(a.planned_bytes - s.planned_bytes, (int64_t)(8 * n));
    /* hwadapt plan's graph alone counts the update too, and bf16 training
     * keeps f32 parameters */
    CHECK(dry.opt == NULL && dry.be == NULL);
    CHECK(hwa_tensor_dtype(dry.params[0]) == HWA_F32);
    CHECK(dry.flops_per_query > a.flops_per_query); /* the casts */
    hwa__workload_free(&a);
    hwa__workload_free(&s);
    hwa__workload_free(&dry);
}

TEST(sweep_rows_of_training_name_their_optimizer_and_half_rows_compare_with_f32) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    hwa_bench_sweep s = {.workloads = "linear1000,fmnist-mlp-train", .dtypes = "f32,bf16", .batches = "8",
                         .cfg = hwa_bench_config_default(), .reps = 2};
    s.cfg.min_time_s = 0;
    s.cfg.min_queries = 2;
    s.cfg.warmup_s = 0;
    for (int k = 0; k < 2; k++) {
        s.optimizer = k ? "sgd" : NULL;
        CHECK_OK(hwa_bench_sweep_run(&s, &rep));
    }
    CHECK_INT_EQ(rep.n_rows, 8);
    for (int i = 0; i < rep.n_rows; i++) {
        const hwa_bench_row *r = &rep.rows[i];
        const bool train = !strcmp(r->workload, "fmnist-mlp-train");
        CHECK(!strcmp(r->optimizer, !train ? "" : i < 4 ? "adam" : "sgd"));
        /* the f32 row of the workload and optimizer: linear1000's first */
        CHECK_INT_EQ(r->baseline_row, train ? i & ~1 : 0);
        if (!strcmp(r->dtype, "f32")) {
            CHECK_NEAR(r->max_abs_error_vs_f32, 0, 0);
        } else {
            /* the loss (about 2.3) from bf16 products against f32 */
            CHECK_MSG(r->max_abs_error_vs_f32 > 0 && r->max_abs_error_vs_f32 < 0.05, "%s bf16: %g", r->workload,
                      r->max_abs_error_vs_f32);
        }
    }
    char *json = write_to_string(&rep, HWA_BENCH_JSON);
    CHECK_STR_CONTAINS(json, "\"scenario\": \"single\", \"optimizer\": null,");
    CHECK_STR_CONTAINS(json, "\"scenario\": \"single\", \"optimizer\": \"adam\",");
    CHECK_STR_CONTAINS(json, "\"scenario\": \"single\", \"optimizer\": \"sgd\",");
#ifdef HWA_HAVE_JANSSON
    char err[512] = "";
    CHECK_MSG(validates(json, err, sizeof err), "%s", err);
#endif
    free(json);
    /* the same workload with another optimizer is another group: each
     * recommendation's baseline is its own optimizer's */
    CHECK_OK(hwa_bench_recommend(&rep, "fmnist-mlp-train", 0.05));
    const hwa_bench_recommendation *rec = &rep.recs[0];
    CHECK(!strcmp(rep.rows[rec->row].optimizer, rep.rows[rec->baseline_row].optimizer));
    if (!strcmp(rep.rows[rec->row].optimizer, "sgd")) CHECK_STR_CONTAINS(rec->command, " --optimizer sgd");
    else CHECK(!strstr(rec->command, "--optimizer"));
    hwa_bench_report_free(&rep);
}

TEST(recommended_commands_name_an_optimizer_other_than_adam) {
    hwa_bench_report rep;
    CHECK_OK(hwa_bench_report_init(&rep, NULL));
    const char *const wls[2] = {"mlp1000-train", "fmnist-mlp-train"};
    for (int k = 0; k < 2; k++) {
        hwa_bench_row r = make_row(wls[k], "f32", 300, 0);
        snprintf(r.optimizer, sizeof r.optimizer, "%s", k ? "momentum" : "adamw");
        CHECK_OK(hwa_bench_report_add(&rep, &r));
        CHECK_OK(hwa_bench_recommend(&rep, wls[k], 0.01));
    }
    CHECK(!strcmp(rep.recs[0].command, "hwadapt bench mlp1000-train --device cpu --dtype f32 --threads 1 --batch 64 "
                                       "--optimizer adamw"));
    CHECK_STR_CONTAINS(rep.recs[0].c_call, "hwa_optim_config_default(HWA_OPTIM_ADAMW); hwa_optim_new(g, be, &oc, &opt)");
    CHECK(!strcmp(rep.recs[1].command, "hwadapt train --model fmnist-mlp --device cpu --dtype f32 --threads 1 --batch 64 "
                                       "--optimizer momentum"));
    CHECK_STR_CONTAINS(rep.recs[1].c_call, "c.optim = hwa_optim_config_default(HWA_OPTIM_MOMENTUM);");
    hwa_bench_report_free(&rep);
}
