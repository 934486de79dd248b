/* decode_reuse_bench MODEL [--steps N] [--reps R] [--dtype T] [--threads N]
 *
 * Decode tokens/s of a Llama model with the decode graph built once and
 * reused across positions (the default) against a graph built, planned and
 * allocated afresh for every step (hwa_llama_params.rebuild_graphs, the way
 * every step ran before). Both models are loaded side by side; each
 * repetition runs N greedy decode steps from a short prompt on one, then on
 * the other (interleaved, so that a machine's drift reaches both), and the
 * medians and the spread over R repetitions are reported with their ratio.
 *
 * Validates first: the two give bit-identical logits at every step of the
 * first repetition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hwadapt/hwadapt.h"

/* steps decode steps after a 4-token prompt: with follow, the tokens toks
 * holds (another run's); without, greedy ones, written to toks. Each step's
 * logits go to all_logits[step] when it is not NULL. Returns tokens/s of
 * the decode steps, or -1 on error. */
static double run(hwa_llama *m, int steps, int vocab, int32_t *toks, bool follow, float *all_logits) {
    static const int32_t prompt[4] = {1, 403, 407, 261};
    float *logits = malloc((size_t)vocab * sizeof *logits);
    if (!logits) return -1;
    hwa_llama_reset(m);
    double t = -1;
    if (hwa_llama_eval(m, prompt, 4, false, logits) == HWA_OK) {
        const double t0 = bench_now_s();
        int s = 0;
        for (; s < steps; s++) {
            const int32_t tok = follow ? toks[s] : bench_argmax(logits, vocab);
            if (!follow) toks[s] = tok;
            if (hwa_llama_eval(m, &tok, 1, false, logits) != HWA_OK) break;
            if (all_logits) memcpy(all_logits + (size_t)s * vocab, logits, (size_t)vocab * sizeof *logits);
        }
        if (s == steps) t = steps / (bench_now_s() - t0);
    }
    if (t < 0) fprintf(stderr, "decode_reuse_bench: %s\n", hwa_last_error());
    free(logits);
    return t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: decode_reuse_bench MODEL [--steps N] [--reps R] [--dtype T] [--threads N]\n");
        return 2;
    }
    int steps = 100, reps = 7, threads = 0;
    const char *dtype = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype")) dtype = argv[i + 1];
        else {
            fprintf(stderr, "decode_reuse_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (steps < 1 || reps < 1 || reps > 64 || threads < 0) {
        fprintf(stderr, "decode_reuse_bench: --steps >= 1, --reps 1..64, --threads >= 0\n");
        return 2;
    }
    hwa_llama *m[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        const hwa_llama_params p = {.n_ctx = steps + 4, .n_threads = threads, .weight_dtype = dtype,
                                    .rebuild_graphs = k == 1};
        if (hwa_llama_load(argv[1], &p, &m[k]) != HWA_OK) {
            fprintf(stderr, "decode_reuse_bench: %s: %s\n", argv[1], hwa_last_error());
            return 1;
        }
    }
    const int vocab = hwa_llama_get_config(m[0])->vocab_size;
    int32_t *toks = malloc((size_t)steps * sizeof *toks);
    float *la = malloc((size_t)steps * vocab * sizeof *la), *lb = malloc((size_t)steps * vocab * sizeof *lb);
    if (!toks || !la || !lb) return 1;
    /* validate: the same tokens, bit-identical logits */
    if (run(m[0], steps, vocab, toks, false, la) < 0 || run(m[1], steps, vocab, toks, true, lb) < 0) return 1;
    if (memcmp(la, lb, (size_t)steps * vocab * sizeof *la) != 0) {
        fprintf(stderr, "decode_reuse_bench: the reused graph's logits differ from a fresh graph's\n");
        return 1;
    }
    double tps[2][64];
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < 2; k++)
            if ((tps[k][r] = run(m[k], steps, vocab, toks, true, NULL)) < 0) return 1;
    printf("%s, %s weights, %d thread(s): %d decode steps from position 4, %d interleaved repetitions\n", argv[1],
           hwa_dtype_name(hwa_llama_get_config(m[0])->weight_dtype), hwa_llama_n_threads(m[0]), steps, reps);
    printf("logits bit-identical at every step\n");
    double med[2];
    for (int k = 0; k < 2; k++) {
        med[k] = bench_median(tps[k], reps);
        printf("  %-28s median %9.1f tok/s  (min %.1f, max %.1f)\n",
               k ? "graph rebuilt every step:" : "decode graph reused:", med[k], tps[k][0], tps[k][reps - 1]);
    }
    printf("  speed-up of reuse: %.2fx\n", med[0] / med[1]);
    free(toks);
    free(la);
    free(lb);
    hwa_llama_free(m[0]);
    hwa_llama_free(m[1]);
    return 0;
}
