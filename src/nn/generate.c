/* Text generation: the prompt in one batched pass, then one sampled token
 * per step, with the timings a user compares against other runtimes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "hwadapt/nn.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Emits token id's text; true when the receiver asked to stop. */
static bool emit_piece(const hwa_tokenizer *tok, int32_t prev, int32_t id, hwa_text_fn emit, void *ud) {
    size_t len;
    const char *p = hwa_tokenizer_piece(tok, prev, id, &len);
    return p && len && emit && emit(ud, p, len) != 0;
}

hwa_status hwa_generate(hwa_llama *m, const hwa_tokenizer *tok, hwa_sampler *s, const char *prompt, int32_t steps,
                        hwa_text_fn emit, void *ud, hwa_generate_stats *stats) {
    hwa_generate_stats st_local;
    if (!stats) stats = &st_local;
    memset(stats, 0, sizeof *stats);
    if (!m || !tok || !s) return hwa__err(NULL, HWA_E_MISUSE, "generate: NULL model, tokenizer or sampler");
    const hwa_llama_config *cfg = hwa_llama_get_config(m);
    if (hwa_tokenizer_size(tok) != cfg->vocab_size)
        return hwa__err(NULL, HWA_E_RANGE, "generate: the tokenizer has %d tokens but the model's vocabulary has %d",
                        hwa_tokenizer_size(tok), cfg->vocab_size);
    const int32_t n_ctx = hwa_llama_n_ctx(m);
    if (steps <= 0 || steps > n_ctx) steps = n_ctx;
    if (!prompt) prompt = "";

    const double t0 = now_s();
    const size_t plen = strlen(prompt);
    int32_t n_prompt = 0;
    /* Each prompt byte gives at most one token, plus BOS and the dummy prefix. */
    if (plen > (size_t)INT32_MAX - 3) return hwa__err(NULL, HWA_E_RANGE, "generate: a prompt of %zu bytes", plen);
    int32_t *ids = malloc((plen + 3) * sizeof *ids);
    float *logits = malloc((size_t)cfg->vocab_size * sizeof *logits);
    hwa_status st = ids && logits ? HWA_OK : hwa__err(NULL, HWA_E_NOMEM, "generate: out of memory");
    /* BOS when the vocabulary wants one, and to start from when there is no prompt */
    const bool bos = hwa_tokenizer_add_bos(tok) || plen == 0;
    if (st == HWA_OK) st = hwa_tokenizer_encode(tok, prompt, bos, false, ids, (int32_t)plen + 3, &n_prompt);
    if (st == HWA_OK && n_prompt > n_ctx)
        st = hwa__err(NULL, HWA_E_RANGE, "generate: the prompt is %d tokens (BOS included) but the context holds %d",
                      n_prompt, n_ctx);
    stats->n_prompt = n_prompt;
    if (st == HWA_OK) {
        hwa_llama_reset(m);
        st = hwa_llama_eval(m, ids, n_prompt, false, logits);
    }
    const double t1 = now_s();
    stats->prefill_s = t1 - t0;
    stats->prefill_tok_s = stats->prefill_s > 0 ? n_prompt / stats->prefill_s : 0;
    bool stop = false;
    for (int32_t i = bos ? 1 : 0; st == HWA_OK && i < n_prompt && !stop; i++)
        stop = emit_piece(tok, i ? ids[i - 1] : -1, ids[i], emit, ud);

    /* Positions run so far; the token sampled after position p sits at p+1. */
    int32_t done = n_prompt, prev = n_prompt > 0 ? ids[n_prompt - 1] : -1, decode_steps = 0;
    double t_dec = now_s();
    while (st == HWA_OK && !stop && done <= steps) {
        int32_t next;
        if ((st = hwa_sampler_sample(s, logits, &next))) break;
        if (stats->n_generated == 0 && stats->ttft_s == 0) {
            stats->ttft_s = now_s() - t0;
            t_dec = now_s();
        }
        if (next == hwa_tokenizer_eos(tok) || next == hwa_tokenizer_bos(tok)) break;
        stats->n_generated++;
        stop = emit_piece(tok, prev, next, emit, ud);
        if (done == steps || stop) break;
        if ((st = hwa_llama_eval(m, &next, 1, false, logits))) break;
        done++;
        decode_steps++;
        prev = next;
    }
    stats->decode_s = decode_steps ? now_s() - t_dec : 0;
    stats->decode_tok_s = decode_steps && stats->decode_s > 0 ? decode_steps / stats->decode_s : 0;
    free(ids);
    free(logits);
    return st;
}
