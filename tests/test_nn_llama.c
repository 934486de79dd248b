/* Llama inference against the PyTorch reference (tests/reference/
 * llama_reference.py wrote tests/golden/): stories260K from its llama2.c
 * checkpoint and from its GGUF, batched and one token at a time; the F16
 * llama-2-tiny-random GGUF, against a float64 reference that reads the GGUF
 * itself; matrices converted to another dtype at load; and
 * the errors a caller or a file can cause. */
#include <stdlib.h>

#include "golden/llama_golden.h"
#include "golden/llama_tiny_golden.h"
#include "harness.h"

#define STORIES "stories260K/stories260K"

static float *read_golden_logits(void) {
    const char *src = getenv("HWA_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/stories260K_logits.f32", src && *src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    const size_t n = (size_t)GOLDEN_N_POS * GOLDEN_VOCAB;
    float *v = malloc(n * sizeof *v);
    if (v && fread(v, sizeof *v, n, f) != n) {
        free(v);
        v = NULL;
    }
    fclose(f);
    return v;
}

/* Loads a model from the shared data folder; NULL (and a skip) when absent. */
static hwa_llama *load(const char *rel, int32_t n_ctx) {
    char buf[1024];
    if (!hwa_test_data_path(rel, buf, sizeof buf)) return NULL;
    const hwa_llama_params p = {.n_ctx = n_ctx};
    hwa_llama *m = NULL;
    hwa_status st = hwa_llama_load(buf, &p, &m);
    if (st != HWA_OK) fprintf(stderr, "load %s: %s: %s\n", rel, hwa_status_name(st), hwa_last_error());
    return m;
}

static double max_err_rows(const float *got, const float *want, int64_t rows) {
    return hwa_test_max_abs_diff(got, want, rows * GOLDEN_VOCAB);
}

/* The logits of the whole golden run from one batched pass. */
static void check_batched_logits(const char *rel) {
    char buf[1024];
    NEED_DATA(rel, buf);
    float *want = read_golden_logits();
    CHECK_MSG(want, "tests/golden/stories260K_logits.f32 is missing: run tests/reference/llama_reference.py");
    hwa_llama *m = load(rel, 0);
    CHECK(m);
    CHECK_INT_EQ(hwa_llama_get_config(m)->vocab_size, GOLDEN_VOCAB);
    float *got = malloc(sizeof(float) * GOLDEN_N_POS * GOLDEN_VOCAB);
    CHECK_OK(hwa_llama_eval(m, golden_tokens, GOLDEN_N_POS, true, got));
    CHECK_INT_EQ(hwa_llama_pos(m), GOLDEN_N_POS);
    double worst = 0;
    for (int p = 0; p < GOLDEN_N_POS; p++) {
        double e = max_err_rows(got + p * GOLDEN_VOCAB, want + p * GOLDEN_VOCAB, 1);
        CHECK_MSG(e <= 1e-4, "%s: position %d: max |logit - reference| = %.3g > 1e-4", rel, p, e);
        if (e > worst) worst = e;
    }
    printf("  %s: 64 positions batched, max |logit error| %.3g\n", rel, worst);
    free(got);
    free(want);
    hwa_llama_free(m);
}

TEST(stories_bin_logits_match_pytorch_at_every_position) { check_batched_logits(STORIES ".bin"); }
TEST(stories_gguf_logits_match_pytorch_at_every_position) { check_batched_logits(STORIES ".gguf"); }

TEST(stories_prefill_then_decode_steps_match_pytorch) {
    char buf[1024];
    NEED_DATA(STORIES ".bin", buf);
    float *want = read_golden_logits();
    CHECK(want);
    hwa_llama *m = load(STORIES ".bin", GOLDEN_N_POS);
    CHECK(m);
    float logits[GOLDEN_VOCAB];
    double worst = 0;
    /* The prompt in one pass (only its last row is returned), then one token per step. */
    CHECK_OK(hwa_llama_eval(m, golden_tokens, GOLDEN_N_PROMPT, false, logits));
    worst = max_err_rows(logits, want + (GOLDEN_N_PROMPT - 1) * GOLDEN_VOCAB, 1);
    for (int p = GOLDEN_N_PROMPT; p < GOLDEN_N_POS; p++) {
        CHECK_OK(hwa_llama_eval(m, &golden_tokens[p], 1, false, logits));
        double e = max_err_rows(logits, want + p * GOLDEN_VOCAB, 1);
        CHECK_MSG(e <= 1e-4, "decode position %d: max |logit - reference| = %.3g > 1e-4", p, e);
        if (e > worst) worst = e;
    }
    printf("  decode steps: max |logit error| %.3g\n", worst);
    /* The cache is full now: one more token is refused and changes nothing. */
    CHECK_STATUS(hwa_llama_eval(m, golden_tokens, 1, false, logits), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "overflow the context of 64");
    CHECK_INT_EQ(hwa_llama_pos(m), GOLDEN_N_POS);
    free(want);
    hwa_llama_free(m);
}

typedef struct text_buf {
    char s[4096];
    size_t n;
} text_buf;

static int collect(void *ud, const char *text, size_t len) {
    text_buf *b = ud;
    if (b->n + len < sizeof b->s) {
        memcpy(b->s + b->n, text, len);
        b->n += len;
        b->s[b->n] = '\0';
    }
    return 0;
}

/* Greedy generation of the golden run's length with hwa_generate. */
static void greedy_text(hwa_llama *m, const hwa_tokenizer *tok, text_buf *out, hwa_generate_stats *gs) {
    const hwa_sampler_params sp = {.temperature = 0.0f, .top_p = 1.0f};
    hwa_sampler *s = NULL;
    memset(out, 0, sizeof *out);
    if (hwa_sampler_new(&sp, hwa_llama_get_config(m)->vocab_size, &s) != HWA_OK) return;
    hwa_status st = hwa_generate(m, tok, s, GOLDEN_PROMPT, GOLDEN_N_POS, collect, out, gs);
    if (st != HWA_OK) snprintf(out->s, sizeof out->s, "error %s: %s", hwa_status_name(st), hwa_last_error());
    hwa_sampler_free(s);
}

TEST(stories_bin_and_gguf_generate_the_reference_greedy_tokens) {
    char bin[1024], gguf[1024], tokp[1024];
    NEED_DATA(STORIES ".bin", bin);
    NEED_DATA(STORIES ".gguf", gguf);
    NEED_DATA("stories260K/tok512.bin", tokp);
    hwa_llama *mb = load(STORIES ".bin", 0), *mg = load(STORIES ".gguf", 0);
    CHECK(mb && mg);
    hwa_tokenizer *tb = NULL, *tg = NULL;
    CHECK_OK(hwa_tokenizer_load(tokp, 512, &tb));
    CHECK_OK(hwa_tokenizer_from_file(hwa_llama_file(mg), &tg));
    /* The expected text: the reference's tokens after BOS, decoded. */
    char want[4096];
    size_t wlen;
    CHECK_OK(hwa_tokenizer_decode(tb, golden_tokens, GOLDEN_N_POS + 1, want, sizeof want, &wlen));
    text_buf a, b;
    hwa_generate_stats sa, sb;
    greedy_text(mb, tb, &a, &sa);
    greedy_text(mg, tg, &b, &sb);
    CHECK_MSG(!strcmp(a.s, want), "llama2.c file: \"%s\"\n    reference: \"%s\"", a.s, want);
    CHECK_MSG(!strcmp(b.s, want), "GGUF file: \"%s\"\n    reference: \"%s\"", b.s, want);
    /* llama2.c's counting: 64 positions with 5 prompt tokens sample 60. */
    CHECK_INT_EQ(sa.n_prompt, GOLDEN_N_PROMPT);
    CHECK_INT_EQ(sa.n_generated, GOLDEN_N_POS - GOLDEN_N_PROMPT + 1);
    CHECK_INT_EQ(sb.n_generated, sa.n_generated);
    CHECK(sa.prefill_tok_s > 0 && sa.decode_tok_s > 0 && sa.ttft_s > 0);
    hwa_tokenizer_free(tb);
    hwa_tokenizer_free(tg);
    hwa_llama_free(mb);
    hwa_llama_free(mg);
}

TEST(llama2_tiny_random_f16_gguf_loads_and_generates) {
    char buf[1024];
    NEED_DATA("llama-2-tiny-random/llama-2-tiny-random.gguf", buf);
    hwa_llama *m = load("llama-2-tiny-random/llama-2-tiny-random.gguf", 64);
    CHECK(m);
    const hwa_llama_config *c = hwa_llama_get_config(m);
    CHECK_INT_EQ(c->vocab_size, 32000);
    CHECK_INT_EQ(c->dim, 8);
    CHECK_INT_EQ(c->n_layers, 1);
    CHECK_INT_EQ(c->weight_dtype, HWA_F16);
    CHECK(!c->shared_classifier);
    /* f16 matrices are used in place: 2 bytes a weight. */
    CHECK_INT_EQ(hwa_llama_weight_bytes(m), 2 * (2 * 32000 * 8 + 4 * 64 + 3 * 256) + 3 * 4 * 8);
    hwa_tokenizer *tok = NULL;
    CHECK_OK(hwa_tokenizer_from_file(hwa_llama_file(m), &tok));
    const hwa_sampler_params sp = {.temperature = 0.8f, .top_p = 0.9f, .top_k = 40, .seed = 7};
    hwa_sampler *s = NULL;
    CHECK_OK(hwa_sampler_new(&sp, 32000, &s));
    text_buf out = {.n = 0};
    hwa_generate_stats gs;
    CHECK_OK(hwa_generate(m, tok, s, "Hello world", 24, collect, &out, &gs));
    CHECK_INT_EQ(gs.n_prompt, 3);
    CHECK(gs.n_generated >= 1 && gs.n_generated <= 24 - 3 + 1);
    CHECK_MSG(!strncmp(out.s, "Hello world", 11), "output \"%s\" does not start with the prompt", out.s);
    /* Logits are finite at every position of a batched pass. */
    static float logits[4 * 32000];
    const int32_t ids[4] = {1, 15043, 3186, 29991};
    hwa_llama_reset(m);
    CHECK_OK(hwa_llama_eval(m, ids, 4, true, logits));
    for (int i = 0; i < 4 * 32000; i++) CHECK_MSG(isfinite(logits[i]), "logit %d is %g", i, logits[i]);
    hwa_sampler_free(s);
    hwa_tokenizer_free(tok);
    hwa_llama_free(m);
}

/* ---- errors ------------------------------------------------------------- */

TEST(a_gpt2_gguf_is_refused_as_an_unsupported_architecture) {
    char path[512];
    snprintf(path, sizeof path, "%s/gpt2.gguf", hwa_test_tmpdir());
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
    CHECK(w);
    const float wte[4 * 8] = {0};
    CHECK_OK(hwa_gguf_writer_add_str(w, "general.architecture", "gpt2"));
    CHECK_OK(hwa_gguf_writer_add_tensor(w, "token_embd.weight", HWA_F32, 2, (const int64_t[]){4, 8}, wte, sizeof wte));
    CHECK_OK(hwa_gguf_writer_write(w, path));
    hwa_gguf_writer_free(w);
    hwa_llama *m = NULL;
    CHECK_STATUS(hwa_llama_load(path, NULL, &m), HWA_E_UNSUPPORTED);
    CHECK(m == NULL);
    CHECK_STR_CONTAINS(hwa_last_error(), "architecture 'gpt2' is not supported");
}

TEST(a_llama_gguf_with_a_missing_or_misshapen_tensor_is_refused) {
    char path[512];
    snprintf(path, sizeof path, "%s/broken.gguf", hwa_test_tmpdir());
    static float data[4096];
    for (int variant = 0; variant < 2; variant++) {
        hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
        const uint32_t dim = 8, hid = 16, one = 1, heads = 2, ctx = 16;
        CHECK_OK(hwa_gguf_writer_add_str(w, "general.architecture", "llama"));
        CHECK_OK(hwa_gguf_writer_add_scalar(w, "llama.embedding_length", HWA_GGUF_U32, &dim));
        CHECK_OK(hwa_gguf_writer_add_scalar(w, "llama.feed_forward_length", HWA_GGUF_U32, &hid));
        CHECK_OK(hwa_gguf_writer_add_scalar(w, "llama.block_count", HWA_GGUF_U32, &one));
        CHECK_OK(hwa_gguf_writer_add_scalar(w, "llama.attention.head_count", HWA_GGUF_U32, &heads));
        CHECK_OK(hwa_gguf_writer_add_scalar(w, "llama.context_length", HWA_GGUF_U32, &ctx));
        CHECK_OK(hwa_gguf_writer_add_tensor(w, "token_embd.weight", HWA_F32, 2, (const int64_t[]){10, 8}, data, 320));
        CHECK_OK(hwa_gguf_writer_add_tensor(w, "output_norm.weight", HWA_F32, 1, (const int64_t[]){8}, data, 32));
        if (variant == 1) /* the query projection with the wrong width */
            CHECK_OK(hwa_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", HWA_F32, 1, (const int64_t[]){8}, data, 32));
        if (variant == 1)
            CHECK_OK(hwa_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", HWA_F32, 2, (const int64_t[]){8, 4}, data, 128));
        CHECK_OK(hwa_gguf_writer_write(w, path));
        hwa_gguf_writer_free(w);
        hwa_llama *m = NULL;
        CHECK_STATUS(hwa_llama_load(path, NULL, &m), HWA_E_FORMAT);
        CHECK_STR_CONTAINS(hwa_last_error(), variant == 0 ? "tensor 'blk.0.attn_norm.weight' is missing"
                                                          : "'blk.0.attn_q.weight' has shape [8,4], the config needs [8,8]");
    }
}

TEST(eval_and_load_refuse_bad_arguments) {
    char buf[1024];
    NEED_DATA(STORIES ".bin", buf);
    hwa_llama *m = NULL;
    CHECK_STATUS(hwa_llama_load(buf, &(hwa_llama_params){.n_ctx = 513}, &m), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "exceeds the model's 512");
    CHECK_STATUS(hwa_llama_load(NULL, NULL, &m), HWA_E_MISUSE);
    m = load(STORIES ".bin", 8);
    CHECK(m);
    float logits[512];
    const int32_t bad[2] = {1, 512};
    CHECK_STATUS(hwa_llama_eval(m, bad, 2, false, logits), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "token 512 at index 1 is outside the vocabulary of 512");
    CHECK_INT_EQ(hwa_llama_pos(m), 0);
    CHECK_STATUS(hwa_llama_eval(m, bad, 0, false, logits), HWA_E_MISUSE);
    int32_t nine[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK_STATUS(hwa_llama_eval(m, nine, 9, false, logits), HWA_E_RANGE);
    CHECK_OK(hwa_llama_eval(m, nine, 8, false, NULL));
    CHECK_INT_EQ(hwa_llama_pos(m), 8);
    hwa_llama_free(m);
}

TEST(generate_refuses_a_prompt_longer_than_the_context_and_a_foreign_tokenizer) {
    char tokp[1024], big[1024];
    NEED_DATA("stories260K/tok512.bin", tokp);
    NEED_DATA("llama-2-tiny-random/llama-2-tiny-random.gguf", big);
    hwa_llama *m = load(STORIES ".bin", 4);
    CHECK(m);
    hwa_tokenizer *tok = NULL, *tok32k = NULL;
    hwa_sampler *s = NULL;
    CHECK_OK(hwa_tokenizer_load(tokp, 512, &tok));
    CHECK_OK(hwa_tokenizer_load(big, 0, &tok32k));
    CHECK_OK(hwa_sampler_new(&(hwa_sampler_params){.temperature = 0, .top_p = 1}, 512, &s));
    CHECK_STATUS(hwa_generate(m, tok, s, "Once upon a time there was", 0, NULL, NULL, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "but the context holds 4");
    CHECK_STATUS(hwa_generate(m, tok32k, s, "Once", 0, NULL, NULL, NULL), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "the tokenizer has 32000 tokens but the model's vocabulary has 512");
    /* A tokenizer file of another size is refused when the size is given. */
    hwa_tokenizer *t2 = NULL;
    CHECK_STATUS(hwa_tokenizer_load(big, 512, &t2), HWA_E_RANGE);
    hwa_sampler_free(s);
    hwa_tokenizer_free(tok);
    hwa_tokenizer_free(tok32k);
    hwa_llama_free(m);
}

/* ---- sampling ------------------------------------------------------------ */

TEST(sampler_checks_its_parameters) {
    hwa_sampler *s = NULL;
    CHECK_STATUS(hwa_sampler_new(&(hwa_sampler_params){.temperature = 1, .top_p = 2}, 10, &s), HWA_E_RANGE);
    CHECK_STR_CONTAINS(hwa_last_error(), "top-p 2 must be in (0, 1]");
    CHECK_STATUS(hwa_sampler_new(&(hwa_sampler_params){.temperature = 1, .top_p = 0}, 10, &s), HWA_E_RANGE);
    CHECK_STATUS(hwa_sampler_new(&(hwa_sampler_params){.temperature = -1, .top_p = 1}, 10, &s), HWA_E_RANGE);
    CHECK_STATUS(hwa_sampler_new(&(hwa_sampler_params){.temperature = 1, .top_p = 1, .top_k = -1}, 10, &s), HWA_E_RANGE);
    CHECK_STATUS(hwa_sampler_new(&(hwa_sampler_params){.temperature = 1, .top_p = 1}, 0, &s), HWA_E_RANGE);
    CHECK(s == NULL);
}

static void draw(const hwa_sampler_params *p, const float *logits, int n, int draws, int32_t *out) {
    hwa_sampler *s = NULL;
    if (hwa_sampler_new(p, n, &s) != HWA_OK) return;
    for (int i = 0; i < draws; i++) hwa_sampler_sample(s, logits, &out[i]);
    hwa_sampler_free(s);
}

TEST(sampler_is_greedy_at_zero_temperature_seeded_and_honours_top_k_and_top_p) {
    const float logits[5] = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f};
    int32_t a[2000], b[2000];
    draw(&(hwa_sampler_params){.temperature = 0, .top_p = 1}, logits, 5, 10, a);
    for (int i = 0; i < 10; i++) CHECK_INT_EQ(a[i], 1);
    /* top-k 1 is greedy at any temperature. */
    draw(&(hwa_sampler_params){.temperature = 5, .top_p = 1, .top_k = 1, .seed = 3}, logits, 5, 100, a);
    for (int i = 0; i < 100; i++) CHECK_INT_EQ(a[i], 1);
    /* Equal seeds, equal draws; another seed, other draws. */
    const hwa_sampler_params p = {.temperature = 1, .top_p = 1, .seed = 42};
    draw(&p, logits, 5, 2000, a);
    draw(&p, logits, 5, 2000, b);
    CHECK(!memcmp(a, b, sizeof a));
    draw(&(hwa_sampler_params){.temperature = 1, .top_p = 1, .seed = 43}, logits, 5, 2000, b);
    CHECK(memcmp(a, b, sizeof a) != 0);
    /* Frequencies follow softmax: p(1) = e^3 / sum. */
    double sum = 0;
    for (int i = 0; i < 5; i++) sum += exp(logits[i]);
    int count1 = 0;
    for (int i = 0; i < 2000; i++) count1 += a[i] == 1;
    CHECK_NEAR(count1 / 2000.0, exp(3.0) / sum, 0.04);
    /* top-p 0.5: ids 1 (p 0.39) and 4 (p 0.36) cover it; nothing else is drawn. */
    draw(&(hwa_sampler_params){.temperature = 1, .top_p = 0.5f, .seed = 1}, logits, 5, 2000, a);
    int seen[5] = {0};
    for (int i = 0; i < 2000; i++) seen[a[i]]++;
    CHECK(seen[1] > 0 && seen[4] > 0);
    CHECK_INT_EQ(seen[0] + seen[2] + seen[3], 0);
    /* top-k 3 never draws the two least likely. */
    draw(&(hwa_sampler_params){.temperature = 1, .top_p = 1, .top_k = 3, .seed = 9}, logits, 5, 2000, a);
    for (int i = 0; i < 2000; i++) CHECK(a[i] == 1 || a[i] == 2 || a[i] == 4);
}

TEST(sampler_breaks_greedy_ties_to_the_first_id_and_divides_logits_by_the_temperature) {
    const float tie[4] = {1.0f, 3.0f, 3.0f, 0.0f};
    int32_t a[4000];
    draw(&(hwa_sampler_params){.temperature = 0, .top_p = 1}, tie, 4, 1, a);
    CHECK_INT_EQ(a[0], 1);
    /* logits {0, ln 2}: at temperature T, p(1) = 2^(1/T) / (1 + 2^(1/T)):
     * 0.8 at T = 0.5, 0.586 at T = 2 (4000 draws: sd 0.008) */
    const float two[2] = {0.0f, 0.693147181f} /* ln 2 */;
    const float temps[2] = {0.5f, 2.0f};
    for (int k = 0; k < 2; k++) {
        draw(&(hwa_sampler_params){.temperature = temps[k], .top_p = 1, .seed = 11}, two, 2, 4000, a);
        int ones = 0;
        for (int i = 0; i < 4000; i++) ones += a[i] == 1;
        double want = pow(2.0, 1.0 / temps[k]) / (1.0 + pow(2.0, 1.0 / temps[k]));
        CHECK_NEAR(ones / 4000.0, want, 0.04);
    }
}

/* ---- matrices converted at load --------------------------------------------- */

/* stories260K with its matrices converted from f32 to dt at load: the
 * logits of the golden run in one batched pass, their largest distance from
 * the PyTorch f32 reference (at most bound), and at how many positions the
 * argmax (the greedy token) is the reference's (at least min_same). */
static void check_converted(const char *dt, hwa_dtype want, double bound, int min_same) {
    char buf[1024];
    NEED_DATA(STORIES ".bin", buf);
    float *ref = read_golden_logits();
    CHECK(ref);
    hwa_llama *m = NULL;
    CHECK_OK(hwa_llama_load(buf, &(hwa_llama_params){.weight_dtype = dt}, &m));
    const hwa_llama_config *c = hwa_llama_get_config(m);
    CHECK_INT_EQ(c->weight_dtype, want);
    CHECK_INT_EQ(c->file_weight_dtype, HWA_F32);
    /* Matrices at 2 bytes a weight, the 11 norm vectors of 64 still f32. */
    const size_t mat = 512 * 64 + 5 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 172);
    CHECK_INT_EQ(hwa_llama_weight_bytes(m), 2 * mat + 4 * 11 * 64);
    float *got = malloc(sizeof(float) * GOLDEN_N_POS * GOLDEN_VOCAB);
    CHECK(got);
    CHECK_OK(hwa_llama_eval(m, golden_tokens, GOLDEN_N_POS, true, got));
    double worst = 0, largest = 0;
    int same_argmax = 0;
    for (int p = 0; p < GOLDEN_N_POS; p++) {
        const float *g = got + p * GOLDEN_VOCAB, *r = ref + p * GOLDEN_VOCAB;
        int ag = 0, ar = 0;
        for (int v = 0; v < GOLDEN_VOCAB; v++) {
            if (g[v] > g[ag]) ag = v;
            if (r[v] > r[ar]) ar = v;
            if (fabs(r[v]) > largest) largest = fabs(r[v]);
        }
        same_argmax += ag == ar;
        const double e = max_err_rows(g, r, 1);
        if (e > worst) worst = e;
    }
    printf("  %s weights: max |logit - f32 reference| %.4g (largest |logit| %.3g), argmax equal at %d of %d positions\n",
           dt, worst, largest, same_argmax, GOLDEN_N_POS);
    CHECK_MSG(worst <= bound, "%s: max |logit error| %.4g > %.3g", dt, worst, bound);
    CHECK_MSG(same_argmax >= min_same, "%s: argmax equal at %d positions, expected at least %d", dt, same_argmax,
              min_same);
    free(got);
    free(ref);
    hwa_llama_free(m);
}

/* Rounding a weight to f16 changes it by at most 2^-11 of itself; over the
 * five layers this moved the logits by at most 0.0113 (measured on x86-64
 * with AVX-512; the largest logit is 22, so about one f16 rounding unit of
 * it). The bound is 4x that. The reference's smallest gap between a
 * position's two largest logits is 0.071, above twice the measured error, so
 * every greedy token stays the same. */
TEST(stories_with_f16_matrices_converted_at_load_stays_near_the_f32_logits) {
    check_converted("f16", HWA_F16, 0.05, GOLDEN_N_POS);
}
/* bf16 rounds 8x coarser (2^-8): 0.088 measured, bound 4x that. That can
 * exceed the 0.071 gap at one position or two, where the greedy token may
 * then differ (it did not in the measured run). */
TEST(stories_with_bf16_matrices_converted_at_load_stays_near_the_f32_logits) {
    check_converted("bf16", HWA_BF16, 0.4, GOLDEN_N_POS - 2);
}

TEST(a_weight_dtype_the_products_cannot_run_is_refused_at_load) {
    char buf[1024];
    NEED_DATA(STORIES ".bin", buf);
    hwa_llama *m = NULL;
    CHECK_STATUS(hwa_llama_load(buf, &(hwa_llama_params){.weight_dtype = "i32"}, &m), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "cannot run on i32 weights converted at load; available: f32, f16, bf16, q8_0");
    CHECK(!m);
    CHECK_STATUS(hwa_llama_load(buf, &(hwa_llama_params){.weight_dtype = "fp8"}, &m), HWA_E_INVALID);
    CHECK_STR_CONTAINS(hwa_last_error(), "weight dtype 'fp8' is unknown; available: f32, f16, bf16, q8_0");
    /* The file's own dtype asked for explicitly: mapped as without it. */
    CHECK_OK(hwa_llama_load(buf, &(hwa_llama_params){.weight_dtype = "F32"}, &m));
    CHECK_INT_EQ(hwa_llama_get_config(m)->weight_dtype, HWA_F32);
    CHECK_INT_EQ(hwa_llama_weight_bytes(m), 4 * (512 * 64 + 5 * (64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 172) + 11 * 64));
    hwa_llama_free(m);
}

TEST(llama2_tiny_random_f16_matrices_converted_to_f32_give_the_same_logits) {
    char buf[1024];
    NEED_DATA("llama-2-tiny-random/llama-2-tiny-random.gguf", buf);
    hwa_llama *a = NULL, *b = NULL;
    CHECK_OK(hwa_llama_load(buf, &(hwa_llama_params){.n_ctx = 8}, &a));
    CHECK_OK(hwa_llama_load(buf, &(hwa_llama_params){.n_ctx = 8, .weight_dtype = "f32"}, &b));
    CHECK_INT_EQ(hwa_llama_get_config(b)->weight_dtype, HWA_F32);
    CHECK_INT_EQ(hwa_llama_get_config(b)->file_weight_dtype, HWA_F16);
    static float la[4 * 32000], lb[4 * 32000];
    const int32_t ids[4] = {1, 15043, 3186, 29991};
    CHECK_OK(hwa_llama_eval(a, ids, 4, true, la));
    CHECK_OK(hwa_llama_eval(b, ids, 4, true, lb));
    /* f16 -> f32 is exact, and both compute with f32 accumulation: only the
     * kernels' summation order may differ. */
    const double e = hwa_test_max_abs_diff(la, lb, 4 * 32000);
    printf("  llama-2-tiny-random f16 vs converted to f32: max |logit difference| %.3g\n", e);
    CHECK_MSG(e <= 1e-3, "max |logit difference| %.3g > 1e-3", e);
    hwa_llama_free(a);
    hwa_llama_free(b);
}

/* llama-2-tiny-random against the float64 PyTorch reference
 * (llama_tiny_golden.h), which parses the GGUF itself and uses the same F16
 * weights widened to float64. Widening f16 is exact and our products widen
 * the f16 matrices to f32 (activations stay f32), so the only difference from
 * the reference is f32 rounding over one layer's ~20 dependent steps (norms,
 * dim-8 and dim-32 products, rope, an 8-key softmax, residuals). A logit is
 * the dot product of the final normalised hidden state h with a classifier
 * row w, and in the reference sum_k |h_k w_k| <= 0.30 for every logit, so a
 * relative error of 128 f32 units (2^-17) anywhere in h moves a logit by at
 * most 0.30 * 2^-17 = 2.3e-6: that is the bound (the measured error, printed,
 * was 2.9e-8 on x86-64). Rotating halves instead of adjacent pairs (the other
 * rope convention) moves the logits by 6.7e-5, so the bound tells the two
 * apart. Compared at the 1000 sampled ids and the 16 largest logits of each
 * of the 8 positions; each row's sum over the 32000 ids within 32000 times
 * the bound; and the argmax, whose smallest margin in the reference (4e-4,
 * position 3) is far above twice the bound. */
static void check_tiny_against_float64(const char *weight_dtype, hwa_dtype want) {
    char buf[1024];
    NEED_DATA("llama-2-tiny-random/llama-2-tiny-random.gguf", buf);
    const double tol = 2.3e-6;
    hwa_llama *m = NULL;
    CHECK_OK(hwa_llama_load(buf, &(hwa_llama_params){.n_ctx = TINY_N_POS, .weight_dtype = weight_dtype}, &m));
    CHECK_INT_EQ(hwa_llama_get_config(m)->weight_dtype, want);
    CHECK_INT_EQ(hwa_llama_get_config(m)->file_weight_dtype, HWA_F16);
    CHECK_INT_EQ(hwa_llama_get_config(m)->vocab_size, TINY_VOCAB);
    static float got[TINY_N_POS * TINY_VOCAB];
    CHECK_OK(hwa_llama_eval(m, tiny_tokens, TINY_N_POS, true, got));
    double worst = 0, worst_sum = 0;
    for (int p = 0; p < TINY_N_POS; p++) {
        const float *g = got + (size_t)p * TINY_VOCAB;
        const tiny_row *r = &tiny_rows[p];
        for (int i = 0; i < TINY_N_SAMPLE + TINY_N_TOP; i++) {
            const int32_t id = i < TINY_N_SAMPLE ? tiny_sample_ids[i] : r->top_ids[i - TINY_N_SAMPLE];
            const double ref = i < TINY_N_SAMPLE ? r->sample[i] : r->top[i - TINY_N_SAMPLE];
            const double e = fabs((double)g[id] - ref);
            CHECK_MSG(e <= tol, "%s weights: position %d, id %d: logit %.9g, reference %.9g (|diff| %.3g > %.3g)",
                      weight_dtype, p, id, g[id], ref, e, tol);
            if (e > worst) worst = e;
        }
        double sum = 0;
        int argmax = 0;
        for (int v = 0; v < TINY_VOCAB; v++) {
            sum += g[v];
            if (g[v] > g[argmax]) argmax = v;
        }
        const double es = fabs(sum - r->sum);
        CHECK_MSG(es <= TINY_VOCAB * tol, "%s weights: position %d: row sum %.9g, reference %.9g", weight_dtype, p,
                  sum, r->sum);
        if (es > worst_sum) worst_sum = es;
        CHECK_MSG(argmax == r->top_ids[0], "%s weights: position %d: argmax %d, reference %d", weight_dtype, p,
                  argmax, r->top_ids[0]);
    }
    printf("  llama-2-tiny-random, %s weights: max |logit - float64 reference| %.3g over %d ids x %d positions, "
           "max |row sum error| %.3g\n",
           weight_dtype, worst, TINY_N_SAMPLE + TINY_N_TOP, TINY_N_POS, worst_sum);
    hwa_llama_free(m);
}

TEST(llama2_tiny_random_f16_logits_match_a_float64_reference) { check_tiny_against_float64("f16", HWA_F16); }
TEST(llama2_tiny_random_converted_to_f32_logits_match_a_float64_reference) {
    check_tiny_against_float64("f32", HWA_F32);
}
