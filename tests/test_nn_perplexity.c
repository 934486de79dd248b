/* hwa_llama_perplexity on stories260K over tinyshakespeare: the same figure
 * as an independent count (every prediction recomputed a token at a time
 * through the decode path, log-softmax here); a model against itself has no
 * divergence and agrees everywhere; Q8_0 against f32 stays close; bad
 * arguments are refused. */
#include <stdlib.h>

#include "harness.h"

typedef struct fixture {
    hwa_llama *m;
    hwa_tokenizer *tok;
    int32_t ids[4096];
    int32_t n;
} fixture;

/* stories260K.gguf and the first lines of tinyshakespeare, tokenized. */
static bool setup(fixture *f, const char *dtype) {
    char model[512], text[512];
    memset(f, 0, sizeof *f);
    if (!hwa_test_data_path("stories260K/stories260K.gguf", model, sizeof model) ||
        !hwa_test_data_path("tinyshakespeare.txt", text, sizeof text)) {
        hwa_test_skip_for("data", "stories260K.gguf or tinyshakespeare.txt is absent");
        return false;
    }
    if (hwa_llama_load(model, &(hwa_llama_params){.weight_dtype = dtype}, &f->m) ||
        hwa_tokenizer_from_file(hwa_llama_file(f->m), &f->tok)) {
        hwa_test_fail(__FILE__, __LINE__, "%s", hwa_last_error());
        return false;
    }
    FILE *in = fopen(text, "rb");
    char buf[4096];
    const size_t got = in ? fread(buf, 1, sizeof buf - 1, in) : 0;
    if (in) fclose(in);
    buf[got] = '\0';
    if (hwa_tokenizer_encode(f->tok, buf, false, false, f->ids, 4096, &f->n)) {
        hwa_test_fail(__FILE__, __LINE__, "%s", hwa_last_error());
        return false;
    }
    return true;
}

static void teardown(fixture *f) {
    hwa_tokenizer_free(f->tok);
    hwa_llama_free(f->m);
}

TEST(perplexity_is_the_mean_nll_of_the_scored_predictions_counted_another_way) {
    fixture f;
    if (!setup(&f, NULL)) return;
    enum { CTX = 32, CHUNKS = 3 };
    CHECK(f.n >= CTX * CHUNKS);
    hwa_perplexity_result r;
    const int32_t bos = hwa_tokenizer_bos(f.tok);
    CHECK_OK(hwa_llama_perplexity(f.m, NULL, f.ids, f.n, CTX, bos, CHUNKS, &r));
    CHECK_INT_EQ(r.n_chunks, CHUNKS);
    CHECK_INT_EQ(r.n_scored, CHUNKS * (CTX - 1 - CTX / 2));
    CHECK(isnan(r.kl_mean) && isnan(r.top1));
    /* a token at a time through the decode path, log-softmax in double here */
    double sum = 0;
    int64_t k = 0;
    float logits[512];
    for (int c = 0; c < CHUNKS; c++) {
        hwa_llama_reset(f.m);
        for (int j = 0; j < CTX - 1; j++) {
            const int32_t t = j == 0 ? bos : f.ids[c * CTX + j];
            CHECK_OK(hwa_llama_eval(f.m, &t, 1, false, logits));
            if (j < CTX / 2) continue;
            double mx = logits[0], s = 0;
            for (int v = 1; v < 512; v++) mx = logits[v] > mx ? logits[v] : mx;
            for (int v = 0; v < 512; v++) s += exp(logits[v] - mx);
            sum += mx + log(s) - logits[f.ids[c * CTX + j + 1]];
            k++;
        }
    }
    CHECK_INT_EQ(k, r.n_scored);
    const double ppl = exp(sum / (double)k);
    printf("    perplexity %.5f (+- %.3f), counted a token at a time %.5f\n", r.ppl, r.ppl_se, ppl);
    CHECK_NEAR(r.ppl, ppl, 1e-4 * ppl);
    CHECK(r.ppl_se > 0 && r.ppl_se < r.ppl);
    teardown(&f);
}

TEST(a_model_against_itself_has_no_divergence_and_q8_0_stays_close_to_f32) {
    fixture f, g;
    if (!setup(&f, NULL)) return;
    if (!setup(&g, "q8_0")) return;
    hwa_perplexity_result r;
    const int32_t bos = hwa_tokenizer_bos(f.tok);
    CHECK_OK(hwa_llama_perplexity(f.m, f.m, f.ids, f.n, 64, bos, 4, &r));
    CHECK(r.kl_max <= 1e-12);
    CHECK(r.top1 == 1.0);
    CHECK_NEAR(r.ref_ppl, r.ppl, 1e-12 * r.ppl);
    CHECK_OK(hwa_llama_perplexity(g.m, f.m, f.ids, f.n, 64, bos, 4, &r));
    printf("    q8_0 against f32: perplexity %.4f against %.4f, KL mean %.2g max %.2g, top-1 %.1f%%\n", r.ppl, r.ref_ppl,
           r.kl_mean, r.kl_max, 100 * r.top1);
    CHECK(r.kl_mean > 0 && r.kl_mean < 0.01);
    CHECK(r.top1 >= 0.9);
    CHECK(fabs(r.ppl / r.ref_ppl - 1) < 0.02);
    teardown(&f);
    teardown(&g);
}

TEST(perplexity_refuses_a_bad_context_and_too_few_tokens) {
    fixture f;
    if (!setup(&f, NULL)) return;
    hwa_perplexity_result r;
    CHECK_STATUS(hwa_llama_perplexity(f.m, NULL, f.ids, f.n, 2, 1, 0, &r), HWA_E_RANGE);
    CHECK_STATUS(hwa_llama_perplexity(f.m, NULL, f.ids, f.n, 1 << 20, 1, 0, &r), HWA_E_RANGE);
    CHECK_STATUS(hwa_llama_perplexity(f.m, NULL, f.ids, 20, 32, 1, 0, &r), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "do not fill one chunk");
    CHECK_STATUS(hwa_llama_perplexity(NULL, NULL, f.ids, f.n, 32, 1, 0, &r), HWA_E_MISUSE);
    teardown(&f);
}
