/* llama_bench MODEL [--prefill N] [--decode N] [--threads N] [--bw-mib N] [--dtype T]
 * (--dtype: the matrices converted at load: f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k)
 *
 * Decode tokens/s of a Llama model against the bound memory bandwidth sets:
 * a decode step reads every weight once (and the KV cache so far), so it can
 * go no faster than bandwidth / bytes per token. The bandwidth is measured
 * here, with the same threads, by summing a buffer far larger than the
 * caches. Also prefill tokens/s for an N-token prompt.
 *
 * Validates first (a decode step must give the logits a batched pass gives
 * at the same position), then times; reports medians and the spread. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "hwadapt/hwadapt.h"

/* The short prompt before the first decode run. */
#define SHORT_PROMPT 16

/* Read bandwidth in GB/s over 9 passes summing n_mib MiB: the median in
 * *med, the fastest pass returned (the bound: a machine shared with other
 * work is slower than it can be, never faster). Sixteen
 * independent sums per thread keep the adds off the critical path (the
 * compiler vectorises them), so the loads are what limits the pass. */
static double read_bandwidth(size_t n_mib, int threads, double *med) {
    const size_t n = n_mib * 1048576 / sizeof(float), blocks = n / 16;
    float *buf = aligned_alloc(64, n * sizeof *buf);
    if (!buf) return 0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    double t[9], sink = 0;
    for (int r = 0; r < 9; r++) {
        float total = 0;
        const double t0 = bench_now_s();
#pragma omp parallel num_threads(threads) reduction(+ : total)
        {
            float acc[16] = {0};
#pragma omp for schedule(static)
            for (size_t b = 0; b < blocks; b++)
                for (int j = 0; j < 16; j++) acc[j] += buf[b * 16 + j];
            for (int j = 0; j < 16; j++) total += acc[j];
        }
        t[r] = bench_now_s() - t0;
        sink += total;
    }
    free(buf);
    if (sink < 0) printf("%g\n", sink); /* keeps the sums alive */
    const double bytes = (double)(blocks * 16 * sizeof(float));
    *med = bytes / bench_median(t, 9) / 1e9; /* sorts t */
    return bytes / t[0] / 1e9;
}

static int fail(const char *what) {
    fprintf(stderr, "llama_bench: %s: %s\n", what, hwa_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: llama_bench MODEL [--prefill N] [--decode N] [--threads N] [--bw-mib N] [--dtype T]\n");
        return 2;
    }
    int prefill = 256, decode = 32, threads = 0, bw_mib = 1024;
    const char *dtype = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        const int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--dtype")) dtype = argv[i + 1];
        if (!strcmp(argv[i], "--prefill")) prefill = v;
        else if (!strcmp(argv[i], "--decode")) decode = v;
        else if (!strcmp(argv[i], "--threads")) threads = v;
        else if (!strcmp(argv[i], "--bw-mib")) bw_mib = v;
    }
    if (prefill < SHORT_PROMPT || decode < 3 || bw_mib < 64) {
        fprintf(stderr, "llama_bench: --prefill >= 16, --decode >= 3 and --bw-mib >= 64\n");
        return 2;
    }
    hwa_llama *m = NULL;
    const hwa_llama_params lp = {.n_ctx = prefill + decode, .n_threads = threads, .weight_dtype = dtype};
    if (hwa_llama_load(argv[1], &lp, &m)) return fail("load");
    const hwa_llama_config *c = hwa_llama_get_config(m);
    const int V = c->vocab_size;
    threads = threads > 0 ? threads : omp_get_max_threads();
    printf("model: dim %d, hidden %d, %d layers, %d/%d heads, vocab %d, %s weights %.1f MiB; %d threads\n", c->dim,
           c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, V, hwa_dtype_name(c->weight_dtype),
           hwa_llama_weight_bytes(m) / 1048576.0, threads);

    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)(prefill + decode));
    float *logits = malloc(sizeof(float) * (size_t)V * 8), *one = malloc(sizeof(float) * (size_t)V);
    if (!tokens || !logits || !one) return 2;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < prefill + decode; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tokens[i] = i == 0 ? 1 : (int32_t)(x % (uint64_t)V);
    }

    /* Validate: 8 positions batched against 8 single steps. */
    if (hwa_llama_eval(m, tokens, 8, true, logits)) return fail("validate (batched)");
    hwa_llama_reset(m);
    double err = 0, mag = 0;
    for (int p = 0; p < 8; p++) {
        if (hwa_llama_eval(m, &tokens[p], 1, false, one)) return fail("validate (steps)");
        for (int j = 0; j < V; j++) {
            err = fmax(err, fabs(one[j] - logits[(size_t)p * V + j]));
            mag = fmax(mag, fabs(logits[(size_t)p * V + j]));
        }
    }
    printf("validate: batched vs step-by-step logits, max |diff| %.3g (max |logit| %.3g)\n", err, mag);
    if (!(err <= 1e-3 * fmax(1.0, mag))) {
        fprintf(stderr, "llama_bench: validation failed\n");
        return 1;
    }

    /* Prefill: the whole prompt in one pass (median of 3). */
    double tp[3];
    for (int r = 0; r < 3; r++) {
        hwa_llama_reset(m);
        const double t0 = bench_now_s();
        if (hwa_llama_eval(m, tokens, prefill, false, one)) return fail("prefill");
        tp[r] = bench_now_s() - t0;
    }
    const double prefill_s = bench_median(tp, 3);

    /* Decode: one greedy token per step, after a short prompt (llama2.c's
     * usual regime) and after the long one (attention then reads more). */
    double *td = malloc(sizeof(double) * (size_t)decode);
    const int starts[2] = {SHORT_PROMPT, prefill};
    double step_s[2];
    for (int run = 0; run < 2; run++) {
        hwa_llama_reset(m);
        if (hwa_llama_eval(m, tokens, starts[run], false, one)) return fail("decode prompt");
        int32_t next = bench_argmax(one, V);
        for (int i = 0; i < decode; i++) {
            const double t0 = bench_now_s();
            if (hwa_llama_eval(m, &next, 1, false, one)) return fail("decode");
            td[i] = bench_now_s() - t0;
            next = bench_argmax(one, V);
        }
        step_s[run] = bench_median(td, decode); /* sorts td */
        printf("decode at positions %d..%d: %.2f tokens/s (median of %d steps; fastest %.2f, slowest %.2f)\n",
               starts[run], starts[run] + decode - 1, 1.0 / step_s[run], decode, 1.0 / td[0], 1.0 / td[decode - 1]);
    }

    /* Bytes one decode step reads: every weight but the embedding table (one
     * row of it, unless it is also the classifier), and the KV cache so far. */
    const double wsize = hwa_dtype_block_bytes(c->weight_dtype);
    double wbytes = (double)hwa_llama_weight_bytes(m);
    if (!c->shared_classifier) wbytes -= (double)V * c->dim * wsize - c->dim * wsize;
    const double kv_pos = 2.0 * c->n_layers * ((double)c->dim / c->n_heads * c->n_kv_heads) * sizeof(float);

    double gbs_med = 0;
    const double gbs = read_bandwidth((size_t)bw_mib, threads, &gbs_med);
    printf("memory bandwidth (read, %d MiB, %d threads): best %.2f GB/s, median %.2f GB/s\n", bw_mib, threads, gbs,
           gbs_med);
    for (int run = 0; run < 2; run++) {
        const double bytes = wbytes + kv_pos * (starts[run] + decode / 2.0);
        const double bound = gbs * 1e9 / bytes, tok_s = 1.0 / step_s[run];
        printf("positions %d..%d: %.1f MB read per token -> bound %.2f tokens/s; decode %.2f tokens/s = %.1f%% of "
               "the bound\n",
               starts[run], starts[run] + decode - 1, bytes / 1e6, bound, tok_s, 100.0 * tok_s / bound);
    }
    printf("prefill: %.2f tokens/s (%d-token prompt, median of 3: %.3f s)\n", prefill / prefill_s, prefill, prefill_s);
    free(td);
    free(tokens);
    free(logits);
    free(one);
    hwa_llama_free(m);
    return 0;
}
