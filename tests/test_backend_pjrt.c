/* The pjrt backend on a whole model: stories260K's greedy tokens on pjrt:0
 * equal the CPU's, and a decode step's graph is compiled once, not once per
 * token (the KV cache's write position and attention's visible keys are
 * run-time arguments). The ops themselves are compared with the reference
 * in test_backend_ops. */
#include "backends/pjrt/pjrt_internal.h"
#include "harness.h"

TEST(stories260K_generates_on_pjrt_exactly_the_cpus_greedy_tokens_compiling_once_per_graph_shape) {
    char path[512];
    NEED_DATA("stories260K/stories260K.bin", path);
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    hwa_backend *be = ctx ? hwa_backend_new(ctx, "pjrt:0") : NULL;
    char why[512];
    snprintf(why, sizeof why, "%s", ctx ? hwa_ctx_last_error(ctx) : "no context");
    hwa_backend_free(be);
    hwa_ctx_free(ctx);
    if (!be) SKIP_FOR("pjrt", "no pjrt:0: %s", why);
    enum { N = 256, VOCAB = 512 };
    const int32_t prompt[4] = {1, 403, 407, 261};
    int32_t cpu[N] = {0}, pj[N] = {0};
    float lc[VOCAB], lp[VOCAB];
    long c0, h0, c1, h1;
    hwa__pjrt_compile_counts(&c0, &h0);
    if (!hwa_test_greedy_tokens(path, "cpu", prompt, 4, N, cpu, lc) ||
        !hwa_test_greedy_tokens(path, "pjrt:0", prompt, 4, N, pj, lp))
        return;
    hwa__pjrt_compile_counts(&c1, &h1);
    int same = 0;
    while (same < N && cpu[same] == pj[same]) same++;
    printf("    %d of %d greedy tokens equal; the prompt's logits differ by at most %.3g\n", same, N,
           hwa_test_max_abs_diff(lc, lp, VOCAB));
    /* N - 1 decode steps after the prompt's pass */
    printf("    %ld compiles and %ld cached runs for the prompt and %d decode steps (%.3f compiles per token)\n",
           c1 - c0, h1 - h0, N - 1, (double)(c1 - c0) / N);
    if (same < N) printf("    token %d: cpu %d, pjrt:0 %d\n", same, cpu[same], pj[same]);
    CHECK_INT_EQ(same, N);
    CHECK(hwa_test_max_abs_diff(lc, lp, VOCAB) < 1e-3);
    /* the prompt's graph and the decode step's: one executable each */
    CHECK(c1 - c0 <= 2);
    CHECK(h1 - h0 >= N - 2);
}
