/* The SentencePiece-style BPE tokenizer against ids the reference script
 * computed (tests/golden/llama_golden.h; the 32000-token cases include the
 * well-known Llama-2 ids of "Hello world": 1, 15043, 3186), and round trips of
 * English with punctuation and non-ASCII text. */
#include <stdlib.h>

#include "golden/llama_golden.h"
#include "harness.h"

#define TINY "llama-2-tiny-random/llama-2-tiny-random.gguf"

/* The tokenizer of data file rel; NULL after recording a skip (the file is
 * absent) or a failure (it is there but does not load). */
static hwa_tokenizer *load_tok(const char *rel, int32_t n) {
    char buf[1024];
    if (!hwa_test_data_path(rel, buf, sizeof buf)) {
        hwa_test_skip_for("data", "%s is absent (HWA_DATA_DIR, ../shared/data)", buf);
        return NULL;
    }
    hwa_tokenizer *t = NULL;
    hwa_status st = hwa_tokenizer_load(buf, n, &t);
    if (st != HWA_OK) hwa_test_fail(__FILE__, __LINE__, "tokenizer %s: %s: %s", rel, hwa_status_name(st), hwa_last_error());
    return t;
}

static void check_cases(const hwa_tokenizer *t, const golden_encoding *cases, size_t n_cases) {
    for (size_t c = 0; c < n_cases; c++) {
        int32_t ids[256], n = 0;
        CHECK_OK(hwa_tokenizer_encode(t, cases[c].text, true, false, ids, 256, &n));
        CHECK_MSG(n == cases[c].n, "\"%s\": %d tokens, the reference has %d", cases[c].text, n, cases[c].n);
        for (int i = 0; i < n; i++)
            CHECK_MSG(ids[i] == cases[c].ids[i], "\"%s\": token %d is %d, the reference has %d", cases[c].text, i, ids[i],
                      cases[c].ids[i]);
    }
}

TEST(encode_matches_the_reference_on_the_512_token_vocabulary_from_both_files) {
    hwa_tokenizer *a = load_tok("stories260K/tok512.bin", 512), *b = load_tok("stories260K/stories260K.gguf", 512);
    if (!a || !b) {
        hwa_tokenizer_free(a);
        hwa_tokenizer_free(b);
        return;
    }
    CHECK_INT_EQ(hwa_tokenizer_size(a), 512);
    CHECK_INT_EQ(hwa_tokenizer_bos(a), 1);
    CHECK_INT_EQ(hwa_tokenizer_eos(b), 2);
    check_cases(a, golden_enc_512, sizeof golden_enc_512 / sizeof golden_enc_512[0]);
    check_cases(b, golden_enc_512, sizeof golden_enc_512 / sizeof golden_enc_512[0]);
    hwa_tokenizer_free(a);
    hwa_tokenizer_free(b);
}

TEST(encode_matches_the_reference_on_the_llama2_32000_token_vocabulary) {
    hwa_tokenizer *t = load_tok(TINY, 32000);
    if (!t) return; /* load_tok recorded why */
    check_cases(t, golden_enc_32000, sizeof golden_enc_32000 / sizeof golden_enc_32000[0]);
    /* With EOS, and without BOS. */
    int32_t ids[8], n;
    CHECK_OK(hwa_tokenizer_encode(t, "Hello world", false, true, ids, 8, &n));
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(ids[0], 15043);
    CHECK_INT_EQ(ids[2], 2);
    hwa_tokenizer_free(t);
}

static void check_round_trip(const hwa_tokenizer *t, const char *text) {
    const size_t len = strlen(text);
    int32_t *ids = malloc((len + 3) * sizeof *ids);
    char *back = malloc(len + 1);
    int32_t n = 0;
    size_t blen = 0;
    CHECK_OK(hwa_tokenizer_encode(t, text, true, true, ids, (int32_t)len + 3, &n));
    CHECK(n < (int32_t)len); /* merges happened */
    CHECK_OK(hwa_tokenizer_decode(t, ids, n, back, len + 1, &blen));
    CHECK_MSG(blen == len && !strcmp(back, text), "round trip:\n  \"%s\"\nbecame\n  \"%s\"", text, back);
    free(ids);
    free(back);
}

static const char paragraph[] =
    "It was a bright cold day in April, and the clocks were striking thirteen. \"Who's there?\" asked Zo\u00eb "
    "(age 7, a na\u00efve but curious girl) -- she'd read 3.14 pages of \u00abLe Petit Prince\u00bb at the caf\u00e9! "
    "Prices: \u20ac12.50 / \u00a310; temperature -5\u00b0C; \u00bfQu\u00e9 tal? \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8, "
    "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439, \u03b1\u03b2\u03b3 and emoji \U0001f642\U0001f680.\n"
    "Second line:\ttabs,  double  spaces & symbols #@$%^*_+=[]{}|<>~`.";

TEST(a_paragraph_with_punctuation_and_non_ascii_text_round_trips_on_the_32000_vocabulary) {
    hwa_tokenizer *t = load_tok(TINY, 0);
    if (!t) return; /* load_tok recorded why */
    check_round_trip(t, paragraph);
    check_round_trip(t, " leading space and trailing space ");
    hwa_tokenizer_free(t);
}

TEST(text_round_trips_on_the_512_vocabulary_through_byte_fallback) {
    hwa_tokenizer *t = load_tok("stories260K/tok512.bin", 512);
    if (!t) return; /* load_tok recorded why */
    check_round_trip(t, paragraph);
    hwa_tokenizer_free(t);
}

TEST(pieces_drop_the_dummy_prefix_after_bos_and_give_bytes_for_byte_tokens) {
    hwa_tokenizer *t = load_tok(TINY, 0);
    if (!t) return; /* load_tok recorded why */
    size_t len;
    const char *p = hwa_tokenizer_piece(t, 1, 15043, &len); /* " Hello" after BOS */
    CHECK(p && len == 5 && !memcmp(p, "Hello", 5));
    p = hwa_tokenizer_piece(t, 15043, 3186, &len); /* " world" mid-text keeps its space */
    CHECK(p && len == 6 && !memcmp(p, " world", 6));
    p = hwa_tokenizer_piece(t, 15043, 13, &len); /* <0x0A> */
    CHECK(p && len == 1 && p[0] == '\n');
    p = hwa_tokenizer_piece(t, 15043, 2, &len); /* EOS: control, no text */
    CHECK(p && len == 0);
    CHECK(hwa_tokenizer_piece(t, 1, 32000, &len) == NULL);
    hwa_tokenizer_free(t);
}

TEST(encode_and_decode_report_short_buffers_and_bad_ids) {
    hwa_tokenizer *t = load_tok(TINY, 0);
    if (!t) return; /* load_tok recorded why */
    int32_t ids[2], n = 0;
    CHECK_STATUS(hwa_tokenizer_encode(t, "I believe the meaning of life is", true, false, ids, 2, &n), HWA_E_RANGE);
    CHECK_INT_EQ(n, 8); /* the count needed */
    CHECK_OK(hwa_tokenizer_encode(t, "", true, false, ids, 2, &n));
    CHECK_INT_EQ(n, 1);
    CHECK_STATUS(hwa_tokenizer_encode(t, NULL, true, false, ids, 2, &n), HWA_E_MISUSE);
    char buf[4];
    size_t len;
    const int32_t hello[3] = {1, 15043, 3186};
    CHECK_STATUS(hwa_tokenizer_decode(t, hello, 3, buf, sizeof buf, &len), HWA_E_RANGE);
    CHECK_INT_EQ(len, 11);
    const int32_t bad[1] = {-1};
    CHECK_STATUS(hwa_tokenizer_decode(t, bad, 1, buf, sizeof buf, &len), HWA_E_RANGE);
    hwa_tokenizer_free(t);
}

TEST(a_non_llama_tokenizer_or_a_missing_file_is_a_clear_error) {
    hwa_tokenizer *t = NULL;
    CHECK_STATUS(hwa_tokenizer_load("/nonexistent/tok.bin", 0, &t), HWA_E_NOTFOUND);
    char path[512];
    snprintf(path, sizeof path, "%s/gpt2tok.gguf", hwa_test_tmpdir());
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
    const char *toks[2] = {"a", "b"};
    CHECK_OK(hwa_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2"));
    CHECK_OK(hwa_gguf_writer_add_arr_strs(w, "tokenizer.ggml.tokens", toks, 2));
    CHECK_OK(hwa_gguf_writer_write(w, path));
    hwa_gguf_writer_free(w);
    CHECK_STATUS(hwa_tokenizer_load(path, 0, &t), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer model 'gpt2' is not supported");
}
