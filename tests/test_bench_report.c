/* Benchmark reports: JSON validates against docs/bench-report.schema.json
 * (checked by a small validator for the subset of JSON Schema the schema
 * uses), CSV and Markdown have the documented shape, the recommendation
 * picks the fastest row within tolerance, and a real sweep's rows make
 * sense. */
#include <stdlib.h>

#include "bench/workload.h"
#include "harness.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>
#endif

/* ---- reports to test --------------------------------------------------- */

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
    r.p99_bound_ms = r.peak_rate_qps = NAN;
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
    bool ok = !hwa_bench_report_set_command(rep, 4, argv);
    for (int i = 0; ok && i < 4; i++) ok = !hwa_bench_report_add(rep, &rows[i]);
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
    SKIP("built without jansson");
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
    json_decref(doc);
    free(json);
    hwa_bench_report_free(&rep);
#endif
}

TEST(schema_validator_rejects_what_the_schema_forbids) {
#ifndef HWA_HAVE_JANSSON
    SKIP("built without jansson");
#else
    char err[512] = "";
    CHECK(!validates("{\"schema\": \"hwadapt-bench-report/1\"}", err, sizeof err));
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

TEST(recommendation_is_the_fastest_row_within_tolerance) {
    hwa_bench_report rep;
    CHECK(fill_report(&rep));
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.01));
    CHECK_INT_EQ(rep.n_recs, 1);
    CHECK_INT_EQ(rep.recs[0].row, 1);          /* bf16: 250 samples/s, error 0.005 */
    CHECK_INT_EQ(rep.recs[0].baseline_row, 0); /* f32 */
    CHECK_NEAR(rep.recs[0].speedup, 2.5, 1e-12);
    CHECK_STR_CONTAINS(rep.recs[0].text, "2.50x");
    CHECK_OK(hwa_bench_recommend(&rep, "linear1000", 0.05)); /* f16 at 300 is within 0.05 */
    CHECK_INT_EQ(rep.recs[1].row, 2);
    CHECK_STATUS(hwa_bench_recommend(&rep, "mlp1000", 0.01), HWA_E_NOTFOUND); /* only a skipped row */
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
    CHECK_STR_CONTAINS(line, "workload,device,dtype,batch,threads,kernel,scenario,queries,samples_per_s,p50_ms");
    char *f[32];
    int ncols = csv_fields(line, f, 32);
    CHECK_INT_EQ(ncols, 20);
    int records = 0;
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", line);
        CHECK_INT_EQ(csv_fields(copy, f, 32), ncols);
        if (records == 0) {
            CHECK(!strcmp(f[0], "linear1000") && !strcmp(f[2], "f32") && !strcmp(f[3], "64"));
            CHECK_NEAR(atof(f[11]), 199, 1e-9); /* p99_ms */
            CHECK(f[15][0] == 0);               /* pct_of_peak unknown: empty */
        }
        if (records == 3) {
            CHECK(f[8][0] == 0);
            CHECK(!strcmp(f[19], "skipped: over the budget, \"quoted\", with | a pipe"));
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
    CHECK_INT_EQ(bars_first, 21);
    free(md);
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
    CHECK_OK(hwa_bench_sweep_run(&s, &rep));
    CHECK_INT_EQ(rep.n_rows, 6);
    for (int i = 0; i < rep.n_rows; i++) {
        const hwa_bench_row *r = &rep.rows[i];
        CHECK(!r->skipped);
        CHECK_INT_EQ(r->r.queries, 3);
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
    CHECK_INT_EQ(rep.n_rows, 0);
    hwa_bench_report_free(&rep);
}

TEST(half_precision_training_steps_update_every_parameter_by_sgd) {
    /* one fmnist-mlp-train step in f16 and bf16: every parameter becomes
     * round(p - lr * g) from its values and gradient, bit for bit */
    int wi;
    CHECK_OK(hwa_bench_workload_find("fmnist-mlp-train", &wi));
    const hwa_dtype types[2] = {HWA_BF16, HWA_F16};
    for (int ti = 0; ti < 2; ti++) {
        hwa__workload w;
        CHECK_OK(hwa__workload_build(wi, "cpu", types[ti], 8, 2, 5, &w));
        int64_t most = 0;
        for (int i = 0; i < w.n_params; i++)
            if (hwa_tensor_nelements(w.params[i]) > most) most = hwa_tensor_nelements(w.params[i]);
        float *before = malloc((size_t)most * 3 * sizeof(float)), *after = before + most, *grad = after + most;
        CHECK(before != NULL);
        int64_t changed = 0, bad = 0;
        float *all_before[8];
        for (int i = 0; i < w.n_params; i++) {
            const int64_t n = hwa_tensor_nelements(w.params[i]);
            all_before[i] = malloc((size_t)n * sizeof(float));
            CHECK_OK(hwa_tensor_get_f32(w.params[i], all_before[i], n));
        }
        CHECK_OK(hwa__workload_run(&w));
        for (int i = 0; i < w.n_params; i++) {
            hwa_tensor *p = w.params[i];
            const int64_t n = hwa_tensor_nelements(p);
            CHECK(hwa_tensor_dtype(p) == types[ti]);
            memcpy(before, all_before[i], (size_t)n * sizeof(float));
            CHECK_OK(hwa_tensor_get_f32(p, after, n));
            CHECK_OK(hwa_tensor_get_f32(hwa_tensor_grad(p), grad, n));
            for (int64_t j = 0; j < n; j++) {
                const float x = before[j] - w.lr * grad[j];
                const float want = types[ti] == HWA_BF16 ? hwa_bf16_to_f32(hwa_f32_to_bf16(x))
                                                         : hwa_f16_to_f32(hwa_f32_to_f16(x));
                bad += memcmp(&want, &after[j], sizeof want) != 0;
                changed += after[j] != before[j];
            }
            free(all_before[i]);
        }
        CHECK_INT_EQ(bad, 0);
        CHECK(changed > 1000); /* the step moved the weights */
        free(before);
        hwa__workload_free(&w);
    }
}
