/* A language model's perplexity over a token stream, and against a
 * reference model the KL divergence of the next-token distributions and
 * their top-1 agreement -- what a quantization costs.
 *
 * As llama.cpp's perplexity tool does: the stream is cut into chunks of ctx
 * tokens, each chunk's first token replaced by BOS, each chunk run in one
 * batched pass from position 0, and only the predictions from the middle of
 * the chunk on are scored (the positions before give them context): the
 * tokens at ctx/2 + 1 .. ctx - 1 of every chunk. Sums in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "hwadapt/bench.h"
#include "hwadapt/nn.h"

/* log-softmax pieces of one row: max and log-sum-exp. */
static double row_lse(const float *x, int32_t n, int32_t *argmax) {
    float mx = x[0];
    int32_t am = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > mx) mx = x[i], am = i;
    double s = 0;
    for (int32_t i = 0; i < n; i++) s += exp((double)x[i] - mx);
    if (argmax) *argmax = am;
    return mx + log(s);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

hwa_status hwa_llama_perplexity(hwa_llama *m, hwa_llama *ref, const int32_t *tokens, int64_t n, int32_t ctx,
                                int32_t bos, int32_t max_chunks, hwa_perplexity_result *out) {
    if (!m || !tokens || !out) return hwa__err(NULL, HWA_E_MISUSE, "perplexity: NULL model, tokens or result");
    memset(out, 0, sizeof *out);
    const hwa_llama_config *c = hwa_llama_get_config(m);
    const int32_t vocab = c->vocab_size;
    if (ctx < 4 || ctx > hwa_llama_n_ctx(m))
        return hwa__err(NULL, HWA_E_RANGE, "perplexity: a context of %d tokens (4 .. the model's %d)", ctx,
                        hwa_llama_n_ctx(m));
    if (ref && (hwa_llama_get_config(ref)->vocab_size != vocab || ctx > hwa_llama_n_ctx(ref)))
        return hwa__err(NULL, HWA_E_INVALID, "perplexity: the reference's vocabulary (%d) or context (%d) does not fit",
                        hwa_llama_get_config(ref)->vocab_size, hwa_llama_n_ctx(ref));
    int64_t chunks = n / ctx;
    if (max_chunks > 0 && chunks > max_chunks) chunks = max_chunks;
    if (chunks < 1)
        return hwa__err(NULL, HWA_E_RANGE, "perplexity: %lld tokens do not fill one chunk of %d", (long long)n, ctx);
    const int32_t first = ctx / 2, scored_per_chunk = ctx - 1 - first;
    const size_t rows = (size_t)ctx * (size_t)vocab;
    float *lg = malloc(rows * sizeof *lg), *lr = ref ? malloc(rows * sizeof *lr) : NULL;
    int32_t *chunk = malloc((size_t)ctx * sizeof *chunk);
    double *nll = malloc((size_t)(chunks * scored_per_chunk) * sizeof *nll);
    double *kl = ref ? malloc((size_t)(chunks * scored_per_chunk) * sizeof *kl) : NULL;
    hwa_status st = (!lg || !chunk || !nll || (ref && (!lr || !kl))) ? hwa__err(NULL, HWA_E_NOMEM, "perplexity: out of memory")
                                                                    : HWA_OK;
    int64_t k = 0, agree = 0;
    double sum_nll = 0, sum_ref = 0, sum_kl = 0;
    for (int64_t ch = 0; !st && ch < chunks; ch++) {
        memcpy(chunk, tokens + ch * ctx, (size_t)ctx * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        hwa_llama_reset(m);
        st = hwa_llama_eval(m, chunk, ctx, true, lg);
        if (!st && ref) {
            hwa_llama_reset(ref);
            st = hwa_llama_eval(ref, chunk, ctx, true, lr);
        }
        for (int32_t j = first; !st && j < ctx - 1; j++, k++) {
            const float *row = lg + (size_t)j * vocab;
            const int32_t next = chunk[j + 1];
            int32_t am;
            const double lse = row_lse(row, vocab, &am);
            nll[k] = lse - row[next];
            sum_nll += nll[k];
            if (!ref) continue;
            const float *rr = lr + (size_t)j * vocab;
            int32_t ram;
            const double rlse = row_lse(rr, vocab, &ram);
            sum_ref += rlse - rr[next];
            /* KL(ref || model) = sum p_ref (log p_ref - log p_model) */
            double d = 0;
            for (int32_t i = 0; i < vocab; i++) {
                const double lp = rr[i] - rlse, lq = row[i] - lse;
                d += exp(lp) * (lp - lq);
            }
            kl[k] = d > 0 ? d : 0; /* rounding can leave -1e-17 */
            sum_kl += kl[k];
            agree += am == ram;
        }
    }
    if (!st) {
        out->n_chunks = (int32_t)chunks;
        out->n_scored = k;
        out->nll = sum_nll / (double)k;
        double var = 0;
        for (int64_t i = 0; i < k; i++) var += (nll[i] - out->nll) * (nll[i] - out->nll);
        var = k > 1 ? var / (double)(k - 1) : 0;
        out->ppl = exp(out->nll);
        /* the standard error of exp(mean) by the delta method */
        out->ppl_se = out->ppl * sqrt(var / (double)k);
        out->ref_ppl = out->kl_mean = out->kl_p99 = out->kl_max = out->top1 = NAN;
        if (ref) {
            out->ref_ppl = exp(sum_ref / (double)k);
            out->kl_mean = sum_kl / (double)k;
            qsort(kl, (size_t)k, sizeof *kl, cmp_double);
            out->kl_p99 = hwa_bench_percentile(kl, k, 99);
            out->kl_max = kl[k - 1];
            out->top1 = (double)agree / (double)k;
        }
    }
    hwa_llama_reset(m);
    if (ref) hwa_llama_reset(ref);
    free(lg);
    free(lr);
    free(chunk);
    free(nll);
    free(kl);
    return st;
}
