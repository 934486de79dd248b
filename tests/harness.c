/* The test harness's runner. Usage: test_x [name-substring]. */
#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/cpu/cpu_isa.h"

#define MAX_TESTS 1024

static struct { const char *name; hwa_test_fn fn; } tests[MAX_TESTS];
static int n_tests;
static int cur_failed, cur_skipped;
static char skip_reasons[2048]; /* the distinct reasons, for the closing line */
static char tmpdir[256];

void hwa_test_register(const char *name, hwa_test_fn fn) {
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void hwa_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cur_failed = 1;
}

static void note_reason(const char *reason) {
    if (strstr(skip_reasons, reason)) return;
    size_t len = strlen(skip_reasons);
    snprintf(skip_reasons + len, sizeof skip_reasons - len, "%s%s", len ? "; " : "", reason);
}

void hwa_test_skip(const char *reason) {
    fprintf(stderr, "    skipped: %s\n", reason);
    note_reason(reason);
    cur_skipped = 1;
}

bool hwa_test_required(const char *kind) {
    const char *e = getenv("HWA_REQUIRE");
    if (!e || !*e) return false;
    size_t k = strlen(kind);
    for (const char *p = e; *p;) {
        size_t n = strcspn(p, ", ");
        if ((n == k && strncmp(p, kind, k) == 0) || (n == 3 && strncmp(p, "all", 3) == 0)) return true;
        p += n;
        p += strspn(p, ", ");
    }
    return false;
}

void hwa_test_skip_for(const char *kind, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (hwa_test_required(kind)) {
        fprintf(stderr, "    HWA_REQUIRE lists %s, so this is a failure: %s\n", kind, msg);
        cur_failed = 1;
        return;
    }
    char reason[600];
    snprintf(reason, sizeof reason, "%s: %s", kind, msg);
    hwa_test_skip(reason);
}

/* The machine, in the log: which CPU and which of our ISA levels ran. */
static void print_machine(void) {
    char model[160] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) != 0) continue;
            const char *v = strchr(line, ':');
            if (!v) break;
            v += 1 + strspn(v + 1, " \t");
            snprintf(model, sizeof model, "%.*s", (int)strcspn(v, "\n"), v);
            break;
        }
        fclose(f);
    }
    const char *req = getenv("HWA_REQUIRE");
    fprintf(stderr, "machine: %s; ISA levels: host %s, active %s; HWA_REQUIRE=%s\n", model,
            hwa__isa_name(hwa__isa_host()), hwa__isa_name(hwa__isa_active()), req && *req ? req : "(unset)");
}

int hwa_test_failed_now(void) { return cur_failed; }

const char *hwa_test_data_path(const char *rel, char *buf, size_t cap) {
    const char *dir = getenv("HWA_DATA_DIR");
    if (!dir || !*dir) dir = "../shared/data";
    snprintf(buf, cap, "%s/%s", dir, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

bool hwa_test_need_smollm2(char *buf, size_t cap) {
    const char *file = getenv("HWA_SMOLLM2"), *dir = getenv("HWA_MODELS_DIR");
    if (file && *file) snprintf(buf, cap, "%s", file);
    else snprintf(buf, cap, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dir && *dir ? dir : ".");
    struct stat st;
    if (stat(buf, &st) == 0) return true;
    hwa_test_skip_for("smollm2", "%s is absent (scripts/install-deps.sh fetches it; HWA_SMOLLM2 names another copy)",
                      buf);
    return false;
}

static void rm_tmpdir(void) {
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

const char *hwa_test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/hwa-test-XXXXXX");
        if (!mkdtemp(tmpdir)) return "/tmp";
        atexit(rm_tmpdir);
    }
    return tmpdir;
}

const char *hwa_test_opencl_spec(void) {
    const char *e = getenv("HWA_TEST_OPENCL");
    return e && *e ? e : "opencl:0";
}

bool hwa_test_have_opencl(void) {
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = ctx ? hwa_backend_new(ctx, hwa_test_opencl_spec()) : NULL;
    if (!be) hwa_test_skip_for("opencl", "no %s: %s", hwa_test_opencl_spec(), hwa_ctx_last_error(ctx));
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    return be != NULL;
}

const char *hwa_test_cpu_and_opencl(void) {
    static _Thread_local char list[64];
    snprintf(list, sizeof list, "cpu,%s", hwa_test_opencl_spec());
    return list;
}

double hwa_test_max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

/* The prompt's logits and n greedy tokens of model path on device spec;
 * false on failure (recorded). */
bool hwa_test_greedy_tokens(const char *path, const char *spec, const int32_t *prompt, int32_t n_prompt, int32_t n,
                            int32_t *out, float *first_logits) {
    hwa_llama *m = NULL;
    const hwa_llama_params lp = {.device = spec};
    hwa_status st = hwa_llama_load(path, &lp, &m);
    if (st) {
        hwa_test_fail(__FILE__, __LINE__, "%s: load: %s", spec, hwa_last_error());
        return false;
    }
    const int32_t vocab = hwa_llama_get_config(m)->vocab_size;
    float *logits = malloc((size_t)vocab * sizeof *logits);
    hwa_sampler *smp = NULL;
    const hwa_sampler_params sp = {.temperature = 0.0f, .top_p = 1.0f};
    st = logits ? hwa_sampler_new(&sp, vocab, &smp) : HWA_E_NOMEM;
    /* the prompt in one batched pass (causal attention over Tq > 1), then
     * one token at a time against the cache */
    if (!st) st = hwa_llama_eval(m, prompt, n_prompt, false, logits);
    if (!st) memcpy(first_logits, logits, (size_t)vocab * sizeof *logits);
    for (int32_t i = 0; i < n && !st; i++) {
        st = hwa_sampler_sample(smp, logits, &out[i]);
        if (!st && i + 1 < n) st = hwa_llama_eval(m, &out[i], 1, false, logits);
    }
    if (st) hwa_test_fail(__FILE__, __LINE__, "%s: generation: %s (%s)", spec, hwa_status_str(st), hwa_last_error());
    hwa_sampler_free(smp);
    free(logits);
    hwa_llama_free(m);
    return st == HWA_OK;
}

int main(int argc, char **argv) {
    /* one argument: run the tests whose name holds it; "-TEXT": those whose
     * name does not hold TEXT */
    const char *filter = argc > 1 ? argv[1] : NULL;
    const bool exclude = filter && filter[0] == '-';
    if (exclude) filter++;
    int passed = 0, failed = 0, skipped = 0;
    print_machine();
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter) != exclude) continue;
        cur_failed = cur_skipped = 0;
        fprintf(stderr, "[ RUN  ] %s\n", tests[i].name);
        tests[i].fn();
        if (cur_failed) {
            failed++;
            fprintf(stderr, "[ FAIL ] %s\n", tests[i].name);
        } else if (cur_skipped) {
            skipped++;
            fprintf(stderr, "[ SKIP ] %s\n", tests[i].name);
        } else {
            passed++;
            fprintf(stderr, "[  OK  ] %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (skipped) printf("skipped: %s\n", skip_reasons);
    if (failed) return 1;
    /* One skipped case makes the binary skipped to ctest: passes beside it
     * must not hide what did not run. */
    return skipped > 0 ? 77 : 0;
}
