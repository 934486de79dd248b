/* A model file as a benchmark workload: a Llama checkpoint (GGUF or
 * llama2.c .bin) run through hwa_llama. A query at batch 1 is one decode
 * step (a token appended at the current position; the cache is reset when it
 * fills); at batch N > 1 a prefill of N tokens (reset, then one batched eval).
 * Token ids are synthetic (no tokenizer needed). */
#include <string.h>

#include "backends/cpu/cpu_backend.h"
#include "bench/bench_device.h"
#include "bench/workload.h"
#include "hwadapt/compress.h"
#include "hwadapt/nn.h"
#include "sched/sched_internal.h"

/* Matmul weights one token multiplies, from the config: per layer wq, wk,
 * wv, wo and the three feed-forward matrices, then the classifier. */
static double matmul_params(const hwa_llama_config *c) {
    double dim = c->dim, hid = c->hidden_dim, kv = (double)c->dim / c->n_heads * c->n_kv_heads;
    double layer = dim * dim * 2 + dim * kv * 2 + 3 * dim * hid;
    return layer * c->n_layers + (double)c->vocab_size * dim;
}

static hwa_status open_model(const char *path, const char *spec, int threads, int32_t n_seq, hwa_llama **m) {
    hwa_llama_params lp = {.device = spec, .n_threads = threads > 0 ? threads : 0, .n_seq = n_seq};
    hwa_status st = hwa_llama_load(path, &lp, m);
    if (st) hwa__err(NULL, st, "workload file %s: %s", path, hwa_last_error()[0] ? hwa_last_error() : hwa_status_str(st));
    return st;
}

hwa_status hwa__model_dtype(const char *path, const char *spec, hwa_dtype *t) {
    if (hwa__is_onnx_file(path)) {
        /* mapped once without a device, so an unsupported op fails first */
        hwa__workload w;
        *t = HWA_F32;
        hwa_status st = hwa__onnx_workload_build(path, NULL, 1, 0, 0, &w);
        if (!st) hwa__workload_free(&w);
        return st;
    }
    if (hwa_cmodel_is_file(path)) {
        hwa_cmodel *cm = NULL;
        hwa_status st = hwa_cmodel_read(path, &cm);
        hwa_cmodel_free(cm);
        *t = HWA_F32;
        return st;
    }
    hwa_llama *m = NULL;
    hwa_status st = open_model(path, spec, 0, 0, &m);
    if (!st) *t = hwa_llama_get_config(m)->weight_dtype;
    hwa_llama_free(m);
    return st;
}

hwa_status hwa__cmodel_build(const char *path, const char *spec, int64_t batch, int threads, uint64_t seed,
                             hwa__workload *w) {
    memset(w, 0, sizeof *w);
    if (batch < 1) return hwa__err(NULL, HWA_E_RANGE, "batch must be >= 1 (got %lld)", (long long)batch);
    hwa_cmodel *m = NULL;
    hwa_status st = hwa_cmodel_read(path, &m);
    hwa_ctx_params cp = {.allocator = NULL, .seed = seed};
    if (!st && !(w->ctx = hwa_ctx_new(&cp))) st = hwa__err(NULL, HWA_E_NOMEM, "out of memory");
    /* the net runs on its own backend, made with this one's device and threads */
    hwa_backend *be = NULL;
    if (!st && !(be = hwa_backend_new(w->ctx, spec))) st = hwa_ctx_last_status(w->ctx);
    if (!st) st = hwa__bdev_set_threads(be, threads);
    if (!st) st = hwa_cm_net_new(m, be, batch, HWA_CM_FORM_AUTO, &w->cnet);
    hwa_backend_free(be);
    if (!st) {
        w->be = hwa_cm_net_backend(w->cnet);
        w->g = hwa_cm_net_graph(w->cnet);
        w->out = hwa_cm_net_logits(w->cnet);
        w->dtype = HWA_F32;
        hwa__workload_count_flops(w);
        int64_t bytes = 0;
        st = hwa_cmodel_size(m, &bytes);
        /* the file's bytes stand for the weights' traffic, and the input and
         * logits once */
        w->bytes_per_query = (double)bytes + 4.0 * (double)batch * (double)(m->layer[0].in +
                             m->layer[m->n_layers - 1].out);
    }
    /* inputs like normalised pixels: uniform in [-1, 2) */
    if (!st) st = hwa_tensor_fill_uniform(hwa_cm_net_input(w->cnet), -1.0f, 2.0f);
    hwa_cmodel_free(m);
    if (st) {
        if (w->ctx && hwa_ctx_last_error(w->ctx)[0]) hwa__err(NULL, st, "%s: %s", path, hwa_ctx_last_error(w->ctx));
        else if (hwa_last_error()[0]) hwa__err(NULL, st, "%s: %s", path, hwa_last_error());
        hwa__workload_free(w);
    }
    return st;
}

hwa_status hwa__model_build(const char *path, const char *spec, hwa_dtype t, int64_t batch, bool sequences,
                            int threads, uint64_t seed, hwa__workload *w) {
    if (hwa__is_onnx_file(path)) {
        if (sequences) return hwa__err(NULL, HWA_E_INVALID, "%s: sequences apply to language models", path);
        return hwa__onnx_workload_build(path, spec, batch, threads, seed, w);
    }
    if (hwa_cmodel_is_file(path)) {
        if (sequences) return hwa__err(NULL, HWA_E_INVALID, "%s: sequences apply to language models", path);
        return hwa__cmodel_build(path, spec, batch, threads, seed, w);
    }
    memset(w, 0, sizeof *w);
    if (batch < 1) return hwa__err(NULL, HWA_E_RANGE, "batch must be >= 1 (got %lld)", (long long)batch);
    if (sequences && batch > HWA_LLAMA_MAX_SEQ)
        return hwa__err(NULL, HWA_E_RANGE, "%lld sequences: at most %d", (long long)batch, HWA_LLAMA_MAX_SEQ);
    hwa_status st = open_model(path, spec, threads, sequences ? (int32_t)batch : 0, &w->llama);
    if (st) return st;
    const hwa_llama_config *c = hwa_llama_get_config(w->llama);
    if (t != c->weight_dtype) {
        st = hwa__err(NULL, HWA_E_UNSUPPORTED, "%s holds %s weights, cannot run %s; available: %s", path,
                      hwa_dtype_name(c->weight_dtype), hwa_dtype_name(t), hwa_dtype_name(c->weight_dtype));
        goto fail;
    }
    int32_t n_ctx = hwa_llama_n_ctx(w->llama);
    if (!sequences && batch > n_ctx) {
        st = hwa__err(NULL, HWA_E_RANGE, "batch %lld: a prefill longer than the %d-position context of %s",
                      (long long)batch, n_ctx, path);
        goto fail;
    }
    w->n_tokens = (int32_t)batch;
    w->prefill = batch > 1 && !sequences;
    w->sequences = sequences ? (int32_t)batch : 0;
    w->vocab = c->vocab_size;
    w->tokens = malloc((size_t)batch * sizeof *w->tokens);
    w->seqs = malloc((size_t)batch * sizeof *w->seqs);
    /* a query's logits: the last token's, or every sequence's */
    w->logits = malloc((size_t)c->vocab_size * (sequences ? (size_t)batch : 1) * sizeof *w->logits);
    if (!w->tokens || !w->seqs || !w->logits) {
        st = hwa__err(NULL, HWA_E_NOMEM, "out of memory for %lld tokens", (long long)batch);
        goto fail;
    }
    hwa_bench_rng r;
    hwa_bench_rng_init(&r, seed);
    for (int64_t i = 0; i < batch; i++) {
        w->tokens[i] = (int32_t)(hwa_bench_rng_uniform(&r) * c->vocab_size) % c->vocab_size;
        w->seqs[i] = (int32_t)i;
    }
    w->flops_per_query = 2 * matmul_params(c) * (double)batch;
    w->bytes_per_query = (double)hwa_llama_weight_bytes(w->llama);
    w->planned_bytes = (int64_t)hwa_llama_kv_bytes(w->llama);
    return HWA_OK;
fail:
    hwa__workload_free(w);
    return st;
}

/* One batched decode step of every sequence; sequence s starts s positions
 * in (its cache reset when full), so that they run at different positions. */
static hwa_status sequences_run(hwa__workload *w) {
    const int32_t n_ctx = hwa_llama_n_ctx(w->llama);
    int32_t tok[HWA_LLAMA_MAX_SEQ];
    for (int32_t s = 0; s < w->sequences; s++) {
        int32_t pos = hwa_llama_seq_pos(w->llama, s);
        if (pos >= n_ctx) hwa_llama_seq_reset(w->llama, s);
        while (pos == 0 && hwa_llama_seq_pos(w->llama, s) < s % n_ctx) {
            const int32_t one = w->tokens[s];
            hwa_status st = hwa_llama_eval_seq(w->llama, s, &one, 1, false, NULL);
            if (st) return st;
        }
        pos = hwa_llama_seq_pos(w->llama, s);
        tok[s] = (int32_t)(((int64_t)w->tokens[s] + pos) % w->vocab); /* vary decode tokens */
    }
    return hwa_llama_eval_batch(w->llama, w->sequences, w->seqs, tok, w->logits);
}

hwa_status hwa__model_run(hwa__workload *w) {
    if (w->sequences) return sequences_run(w);
    if (w->prefill || hwa_llama_pos(w->llama) >= hwa_llama_n_ctx(w->llama)) hwa_llama_reset(w->llama);
    int32_t tok = w->tokens[0];
    if (!w->prefill) tok = (int32_t)(((int64_t)tok + hwa_llama_pos(w->llama)) % w->vocab); /* vary decode tokens */
    return hwa_llama_eval(w->llama, w->prefill ? w->tokens : &tok, w->n_tokens, false, w->logits);
}

hwa_status hwa__model_reference_logits(const char *path, const hwa__workload *w, int threads, float *ref) {
    hwa__workload r;
    hwa_status st = hwa__model_build(path, "cpu", hwa_llama_get_config(w->llama)->weight_dtype, w->n_tokens,
                                     w->sequences > 0, threads, 0, &r);
    if (st) return st;
    memcpy(r.tokens, w->tokens, (size_t)w->n_tokens * sizeof *r.tokens); /* the same query */
    hwa__cpu_set_reference_only(true);
    st = hwa__model_run(&r);
    hwa__cpu_set_reference_only(false);
    if (!st) memcpy(ref, r.logits, (size_t)r.vocab * sizeof *ref);
    hwa__workload_free(&r);
    return st;
}
