/* The ONNX backend conformance tests (Debian's libonnx-testdata: one folder
 * per test under data/node, each a model.onnx and test_data_set_N folders with
 * input_N.pb and output_N.pb) through the importer on the CPU backend.
 *
 * Each test is classified: pass (every output of every data set within
 * numpy's assert_allclose rule at rtol 1e-3, atol 1e-7; integers and bools
 * exactly), fail (a wrong result, or an error that is not a refusal), or
 * unsupported (the reader or importer said HWA_E_UNSUPPORTED, with its
 * reason). A test whose build is refused because an op needs an input
 * known when the graph is built (a Reshape's shape given as a model input)
 * is built again with its integer inputs fixed (hwa_onnx_net_build_fixed),
 * as a model with those values constant would have them. A table by op
 * and the counts are printed.
 *
 * The committed expectation file (tests/onnx/conformance.txt, "name status"
 * per line) turns this into a test: a listed pass that no longer passes is
 * a regression, and any fail is an error (a supported op must give the
 * right answer, or the importer must refuse the feature); improvements are
 * printed with a suggestion to update the file.
 *
 * usage: onnx_conformance [--update] [--data DIR] [--expect FILE] [--verbose] [FILTER]
 * Exit: 0 ok, 1 regressions or fails, 77 skipped (no test data; a failure
 * when HWA_REQUIRE lists onnx-testdata). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hwadapt/hwadapt.h"
#include "hwadapt/onnx.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data/node"
#define DEFAULT_EXPECT "tests/onnx/conformance.txt"
#define MAX_IO 16

enum { ST_PASS, ST_FAIL, ST_UNSUPPORTED };
static const char *const st_names[] = {"pass", "fail", "unsupported"};

typedef struct result {
    char name[128];
    char op[64];
    int status;
    bool fixed;             /* passed with integer inputs fixed when built */
    char reason[320];
} result;

static bool required(const char *kind) {
    const char *e = getenv("HWA_REQUIRE");
    if (!e) return false;
    for (const char *p = e; *p;) {
        const size_t n = strcspn(p, ", ");
        if ((n == strlen(kind) && !strncmp(p, kind, n)) || (n == 3 && !strncmp(p, "all", 3))) return true;
        p += n;
        p += strspn(p, ", ");
    }
    return false;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted names of dir's entries starting with prefix (NULL: all but dot files). */
static int list_dir(const char *dir, const char *prefix, char ***out) {
    DIR *d = opendir(dir);
    *out = NULL;
    if (!d) return -1;
    int n = 0, cap = 0;
    char **v = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || (prefix && strncmp(e->d_name, prefix, strlen(prefix)))) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void set_reason(result *r, int status, const char *fmt, const char *msg) {
    r->status = status;
    snprintf(r->reason, sizeof r->reason, fmt, msg);
    for (char *p = r->reason; *p; p++)
        if (*p == '\n') *p = ' ';
}

/* numpy's assert_allclose: |a - e| <= atol + rtol * |e|, NaN equal to NaN. */
static bool compare(const hwa_onnx_array *got, const hwa_onnx_array *want, char *why, size_t cap) {
    if (got->type != want->type) {
        snprintf(why, cap, "output '%s' is %s; expected %s", want->name, hwa_onnx_type_name(got->type),
                 hwa_onnx_type_name(want->type));
        return false;
    }
    bool same = got->ndim == want->ndim;
    for (int d = 0; same && d < got->ndim; d++) same = got->dims[d] == want->dims[d];
    if (!same || got->n != want->n) {
        snprintf(why, cap, "output '%s' has rank %d (%lld elements); expected rank %d (%lld)", want->name, got->ndim,
                 (long long)got->n, want->ndim, (long long)want->n);
        return false;
    }
    const size_t es = hwa_onnx_type_size(want->type);
    const bool exact = want->type != HWA_ONNX_FLOAT && want->type != HWA_ONNX_DOUBLE &&
                       want->type != HWA_ONNX_FLOAT16 && want->type != HWA_ONNX_BFLOAT16;
    for (int64_t i = 0; i < want->n; i++) {
        const uint8_t *pg = (const uint8_t *)got->data + (size_t)i * es, *pw = (const uint8_t *)want->data + (size_t)i * es;
        if (exact) {
            if (memcmp(pg, pw, es)) {
                snprintf(why, cap, "output '%s' element %lld differs (exact type %s)", want->name, (long long)i,
                         hwa_onnx_type_name(want->type));
                return false;
            }
            continue;
        }
        double g, w;
        switch (want->type) {
        case HWA_ONNX_FLOAT: g = *(const float *)pg, w = *(const float *)pw; break;
        case HWA_ONNX_DOUBLE: g = *(const double *)pg, w = *(const double *)pw; break;
        case HWA_ONNX_FLOAT16: g = hwa_f16_to_f32(*(const uint16_t *)pg), w = hwa_f16_to_f32(*(const uint16_t *)pw); break;
        default: g = hwa_bf16_to_f32(*(const uint16_t *)pg), w = hwa_bf16_to_f32(*(const uint16_t *)pw); break;
        }
        if (isnan(g) && isnan(w)) continue;
        if (isinf(w) && g == w) continue;
        if (!(fabs(g - w) <= 1e-7 + 1e-3 * fabs(w))) {
            snprintf(why, cap, "output '%s' element %lld: %.9g, expected %.9g", want->name, (long long)i, g, w);
            return false;
        }
    }
    return true;
}

/* One data set of one test: build for its input shapes, run, compare. */
static void run_set(const char *model_path, const char *set_dir, result *r) {
    hwa_onnx *m = NULL;
    hwa_ctx *ctx = NULL;
    hwa_backend *be = NULL;
    hwa_onnx_net *net = NULL;
    hwa_onnx_array *in[MAX_IO] = {0}, *want[MAX_IO] = {0};
    char path[1400];
    hwa_status st = hwa_onnx_load(model_path, &m);
    if (st) {
        set_reason(r, st == HWA_E_UNSUPPORTED ? ST_UNSUPPORTED : ST_FAIL, "reader: %s", hwa_last_error());
        return;
    }
    const int ni = hwa_onnx_n_inputs(m), no = hwa_onnx_n_outputs(m);
    if (ni > MAX_IO || no > MAX_IO) {
        set_reason(r, ST_UNSUPPORTED, "%s", "too many inputs or outputs for the runner");
        goto done;
    }
    /* the importer first: a refused op or feature is unsupported whatever
     * its test data holds */
    ctx = hwa_ctx_new(NULL);
    be = ctx ? hwa_backend_new(ctx, "cpu") : NULL;
    if (!be) {
        set_reason(r, ST_FAIL, "%s", "no CPU backend");
        goto done;
    }
    hwa_backend_set_threads(be, 1);
    if ((st = hwa_onnx_net_new(m, ctx, NULL, &net))) {
        set_reason(r, st == HWA_E_UNSUPPORTED ? ST_UNSUPPORTED : ST_FAIL, "%s", hwa_ctx_last_error(ctx));
        goto done;
    }
    hwa_onnx_shape shapes[MAX_IO];
    for (int i = 0; i < ni; i++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", set_dir, i);
        if ((st = hwa_onnx_array_load_pb(path, &in[i]))) {
            set_reason(r, ST_FAIL, "test data: %s", hwa_last_error());
            goto done;
        }
        shapes[i].ndim = in[i]->ndim;
        memcpy(shapes[i].dims, in[i]->dims, sizeof shapes[i].dims);
    }
    for (int i = 0; i < no; i++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", set_dir, i);
        if ((st = hwa_onnx_array_load_pb(path, &want[i]))) {
            set_reason(r, ST_FAIL, "test data: %s", hwa_last_error());
            goto done;
        }
    }
    hwa_onnx_io *ins, *outs;
    st = hwa_onnx_net_build(net, shapes, 0, &ins, &outs);
    if (st == HWA_E_UNSUPPORTED && strstr(hwa_ctx_last_error(ctx), "when the graph is built")) {
        /* an input the importer needs known (a Reshape's shape): the test
         * again with its integer inputs fixed when built, as a model with
         * those values constant would have them */
        const hwa_onnx_array *fixed[MAX_IO] = {0};
        for (int i = 0; i < ni; i++)
            if (in[i]->type == HWA_ONNX_INT64 || in[i]->type == HWA_ONNX_INT32) fixed[i] = in[i];
        st = hwa_onnx_net_build_fixed(net, shapes, 0, fixed, &ins, &outs);
        if (!st) r->fixed = true;
    }
    if (st) {
        set_reason(r, st == HWA_E_UNSUPPORTED ? ST_UNSUPPORTED : ST_FAIL, "%s", hwa_ctx_last_error(ctx));
        goto done;
    }
    hwa_graph *g = hwa_graph_new(ctx);
    for (int i = 0; !st && i < no; i++)
        if (outs[i].t) st = hwa_graph_build_forward(g, outs[i].t); /* an empty output has none */
    if (!st) st = hwa_ctx_alloc_leaves(ctx, be);
    if (!st) st = hwa_onnx_net_load_params(net);
    for (int i = 0; !st && i < ni; i++) st = hwa_onnx_io_set(&ins[i], in[i]);
    if (st) {
        set_reason(r, st == HWA_E_UNSUPPORTED || st == HWA_E_DTYPE ? ST_UNSUPPORTED : ST_FAIL, "%s",
                   hwa_ctx_last_error(ctx));
        goto done;
    }
    if ((st = hwa_graph_compute(g, be))) {
        set_reason(r, ST_FAIL, "compute: %s", hwa_ctx_last_error(ctx));
        goto done;
    }
    for (int i = 0; i < no; i++) {
        hwa_onnx_array *got = NULL;
        char why[256];
        if ((st = hwa_onnx_io_get(&outs[i], &got))) {
            set_reason(r, ST_FAIL, "read: %s", hwa_ctx_last_error(ctx));
            goto done;
        }
        const bool ok = compare(got, want[i], why, sizeof why);
        hwa_onnx_array_free(got);
        if (!ok) {
            set_reason(r, ST_FAIL, "%s", why);
            goto done;
        }
    }
done:
    for (int i = 0; i < MAX_IO; i++) hwa_onnx_array_free(in[i]), hwa_onnx_array_free(want[i]);
    hwa_onnx_net_free(net);
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    hwa_onnx_free(m);
}

static void run_test(const char *data, const char *name, result *r) {
    char dir[1100], model[1200], set[1300];
    snprintf(dir, sizeof dir, "%s/%s", data, name);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->status = ST_PASS;
    r->fixed = false;
    r->reason[0] = 0;
    /* the op: the single node's type, else "<first op>+" for a subgraph */
    hwa_onnx *m = NULL;
    snprintf(r->op, sizeof r->op, "?");
    if (!hwa_onnx_load(model, &m) && hwa_onnx_n_nodes(m) > 0)
        snprintf(r->op, sizeof r->op, "%s%s", hwa_onnx_node_at(m, 0)->op_type, hwa_onnx_n_nodes(m) > 1 ? "+" : "");
    hwa_onnx_free(m);
    char **sets;
    const int ns = list_dir(dir, "test_data_set_", &sets);
    if (ns <= 0) {
        set_reason(r, ST_FAIL, "%s", "no test_data_set_* folder");
        return;
    }
    for (int i = 0; i < ns && r->status == ST_PASS; i++) {
        snprintf(set, sizeof set, "%s/%s", dir, sets[i]);
        run_set(model, set, r);
    }
    free_list(sets, ns);
}

/* ---- the expectation file ---------------------------------------------------- */

typedef struct expect {
    char **names;
    int *status;
    int n;
} expect;

static int status_of(const char *s) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, st_names[i])) return i;
    return -1;
}

static bool read_expect(const char *path, expect *e) {
    memset(e, 0, sizeof *e);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512], name[256], st[64];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%255s %63s", name, st) != 2) continue;
        if (e->n == cap) {
            cap = cap ? cap * 2 : 256;
            e->names = realloc(e->names, (size_t)cap * sizeof *e->names);
            e->status = realloc(e->status, (size_t)cap * sizeof *e->status);
            if (!e->names || !e->status) break;
        }
        e->names[e->n] = strdup(name);
        e->status[e->n++] = status_of(st);
    }
    fclose(f);
    return true;
}

static int expected(const expect *e, const char *name) {
    for (int i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], name)) return e->status[i];
    return -1;
}

static int write_expect(const char *path, const result *res, int n) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", tmp);
        return 1;
    }
    fprintf(f, "# The ONNX node conformance tests (libonnx-testdata) through the importer: name status.\n"
               "# tests/onnx_conformance fails when a test listed pass no longer passes, or any test fails;\n"
               "# rewrite this file with: build/onnx_conformance --update\n");
    for (int i = 0; i < n; i++) fprintf(f, "%s %s\n", res[i].name, st_names[res[i].status]);
    if (fclose(f) || rename(tmp, path)) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    printf("wrote %s (%d tests)\n", path, n);
    return 0;
}

/* ---- the table ----------------------------------------------------------------- */

typedef struct op_row {
    char op[64];
    int count[3];
} op_row;

static void print_table(const result *res, int n) {
    op_row *rows = calloc((size_t)n + 1, sizeof *rows);
    int nr = 0, tot[3] = {0};
    if (!rows) return;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < nr && strcmp(rows[k].op, res[i].op)) k++;
        if (k == nr) snprintf(rows[nr++].op, sizeof rows->op, "%s", res[i].op);
        rows[k].count[res[i].status]++;
        tot[res[i].status]++;
    }
    printf("%-28s %5s %5s %12s\n", "op", "pass", "fail", "unsupported");
    for (int k = 0; k < nr; k++)
        printf("%-28s %5d %5d %12d\n", rows[k].op, rows[k].count[0], rows[k].count[1], rows[k].count[2]);
    printf("%-28s %5d %5d %12d   (%d tests)\n", "total", tot[0], tot[1], tot[2], n);
    free(rows);
}

int main(int argc, char **argv) {
    const char *data = DEFAULT_DATA, *expect_path = DEFAULT_EXPECT, *filter = NULL;
    bool update = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--update")) update = true;
        else if (!strcmp(argv[i], "--verbose")) verbose = true;
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect_path = argv[++i];
        else if (argv[i][0] != '-' && !filter) filter = argv[i];
        else {
            fprintf(stderr, "usage: onnx_conformance [--update] [--data DIR] [--expect FILE] [--verbose] [FILTER]\n");
            return 2;
        }
    }
    struct stat sb;
    if (stat(data, &sb) || !S_ISDIR(sb.st_mode)) {
        printf("%s: no ONNX test data (Debian's libonnx-testdata)\n", data);
        if (required("onnx-testdata")) {
            printf("FAIL: HWA_REQUIRE lists onnx-testdata\n");
            return 1;
        }
        printf("skipped: onnx-testdata\n");
        return 77;
    }
    char **names;
    const int n = list_dir(data, "test_", &names);
    result *res = calloc((size_t)(n > 0 ? n : 1), sizeof *res);
    if (n <= 0 || !res) {
        fprintf(stderr, "%s: no tests\n", data);
        return 1;
    }
    int nres = 0;
    for (int i = 0; i < n; i++) {
        if (filter && !strstr(names[i], filter)) continue;
        run_test(data, names[i], &res[nres]);
        if (verbose || (res[nres].status == ST_FAIL))
            printf("%-60s %s%s%s%s\n", res[nres].name, st_names[res[nres].status],
                   res[nres].fixed ? " (integer inputs fixed when built)" : "", res[nres].reason[0] ? ": " : "",
                   res[nres].reason);
        nres++;
    }
    free_list(names, n);
    print_table(res, nres);
    if (update) {
        const int rc = filter ? (fprintf(stderr, "--update runs every test: drop the filter\n"), 2)
                              : write_expect(expect_path, res, nres);
        free(res);
        return rc;
    }
    expect e;
    const bool have = read_expect(expect_path, &e);
    if (!have) printf("no expectation file %s: nothing to compare against (--update writes it)\n", expect_path);
    int regress = 0, fails = 0, better = 0;
    for (int i = 0; i < nres; i++) {
        const int want = have ? expected(&e, res[i].name) : -1;
        if (res[i].status == ST_FAIL) fails++;
        if (want == ST_PASS && res[i].status != ST_PASS) {
            printf("REGRESSION %s: listed pass, now %s: %s\n", res[i].name, st_names[res[i].status], res[i].reason);
            regress++;
        } else if (res[i].status == ST_PASS && want != ST_PASS) {
            printf("improved %s: now passes (listed %s)\n", res[i].name, want < 0 ? "nowhere" : st_names[want]);
            better++;
        }
    }
    if (better) printf("%d test(s) improved: update %s with onnx_conformance --update\n", better, expect_path);
    for (int i = 0; i < e.n; i++) free(e.names[i]);
    free(e.names);
    free(e.status);
    free(res);
    if (regress || fails) {
        printf("FAILED: %d regression(s), %d failing test(s)\n", regress, fails);
        return 1;
    }
    return 0;
}
