/* A small test harness: TEST(name) { ... } blocks, checks that print both
 * values on failure, skips with a reason, and a closing line
 * "N passed, N failed, N skipped" that ctest's log keeps. */
#ifndef HWA_TEST_HARNESS_H
#define HWA_TEST_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hwadapt/hwadapt.h"

typedef void (*hwa_test_fn)(void);
void hwa_test_register(const char *name, hwa_test_fn fn);
void hwa_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void hwa_test_skip(const char *reason);
/* A skip for want of something a machine may lack. kind names it: "data"
 * (../shared/data), "fmnist", "opencl", "amx", "avx512", "jansson", "python",
 * "qemu", "mpi", "pjrt", "cuda" (a CUDA GPU), "smollm2" (hwa_test_need_smollm2). When HWA_REQUIRE
 * lists kind (comma-separated; "all" lists every
 * kind), the skip is a failure instead, with the same message: CI sets it for
 * what its machine has, so a missing file or a broken driver cannot pass as
 * a skip. */
void hwa_test_skip_for(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether HWA_REQUIRE lists kind. */
bool hwa_test_required(const char *kind);
int hwa_test_failed_now(void);   /* the current test has failed */

#define TEST(name)                                                            \
    static void test_##name(void);                                            \
    __attribute__((constructor)) static void register_##name(void) {          \
        hwa_test_register(#name, test_##name);                                \
    }                                                                         \
    static void test_##name(void)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) { hwa_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); return; } \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (!(cond)) { hwa_test_fail(__FILE__, __LINE__, __VA_ARGS__); return; }      \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                           \
    do {                                                                             \
        long long va_ = (long long)(a), vb_ = (long long)(b);                        \
        if (va_ != vb_) {                                                            \
            hwa_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, va_, vb_); \
            return;                                                                  \
        }                                                                            \
    } while (0)

/* Asserts an hwa_status is HWA_OK, printing the recorded message otherwise. */
#define CHECK_OK(expr)                                                               \
    do {                                                                             \
        hwa_status st_ = (expr);                                                     \
        if (st_ != HWA_OK) {                                                         \
            hwa_test_fail(__FILE__, __LINE__, "%s returned %s: %s", #expr,           \
                          hwa_status_name(st_), hwa_last_error());                   \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_STATUS(expr, want)                                                     \
    do {                                                                             \
        hwa_status st_ = (expr);                                                     \
        if (st_ != (want)) {                                                         \
            hwa_test_fail(__FILE__, __LINE__, "%s returned %s, expected %s (%s)", #expr, \
                          hwa_status_name(st_), hwa_status_name(want), hwa_last_error()); \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                        \
    do {                                                                             \
        double va_ = (double)(a), vb_ = (double)(b), t_ = (double)(tol);             \
        if (!(fabs(va_ - vb_) <= t_)) {                                              \
            hwa_test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (|diff| %.3g > %.3g)", \
                          #a, #b, va_, vb_, fabs(va_ - vb_), t_);                    \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                              \
    do {                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                      \
        if (!h_ || !strstr(h_, n_)) {                                                \
            hwa_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",      \
                          h_ ? h_ : "(null)", n_);                                   \
            return;                                                                  \
        }                                                                            \
    } while (0)

#define SKIP(reason) do { hwa_test_skip(reason); return; } while (0)
#define SKIP_FOR(kind, ...) do { hwa_test_skip_for(kind, __VA_ARGS__); return; } while (0)
/* Sets buf to the data file rel (under ../shared/data or $HWA_DATA_DIR), or
 * skips for "data" naming the missing file. */
#define NEED_DATA(rel, buf)                                                          \
    do {                                                                             \
        if (!hwa_test_data_path(rel, buf, sizeof buf)) {                             \
            hwa_test_skip_for("data", "%s is absent (HWA_DATA_DIR, ../shared/data)", buf); \
            return;                                                                  \
        }                                                                            \
    } while (0)

/* Helpers. */
/* SmolLM2-135M-Instruct.Q4_1.gguf ($HWA_SMOLLM2, else in $HWA_MODELS_DIR,
 * which CMake sets to the cache folder scripts/install-deps.sh fetches it
 * into) in buf: true when it exists, else false after recording a skip for
 * "smollm2". */
bool hwa_test_need_smollm2(char *buf, size_t cap);
/* ../shared/data (or $HWA_DATA_DIR) joined with rel; NULL if it does not exist. */
const char *hwa_test_data_path(const char *rel, char *buf, size_t cap);
/* A fresh temporary directory (removed at exit). */
const char *hwa_test_tmpdir(void);
/* The OpenCL device the tests run on: $HWA_TEST_OPENCL ("opencl:1", say,
 * where a GPU is not the first OpenCL device),
 * else "opencl:0". */
const char *hwa_test_opencl_spec(void);
/* Whether that device opens; when it does not, skips for "opencl" first
 * (the test then returns). */
bool hwa_test_have_opencl(void);
/* "cpu," and that device: a list to place across. */
const char *hwa_test_cpu_and_opencl(void);
/* Max |a[i] - b[i]|. */
double hwa_test_max_abs_diff(const float *a, const float *b, int64_t n);
/* The model file at path on device spec: the logits after the prompt (one
 * batched pass) into first_logits (vocab floats), then n greedy tokens into
 * out (one decode step each); false after recording a failure. */
bool hwa_test_greedy_tokens(const char *path, const char *spec, const int32_t *prompt, int32_t n_prompt, int32_t n,
                            int32_t *out, float *first_logits);

#endif
