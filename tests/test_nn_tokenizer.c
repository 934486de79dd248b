/* The SentencePiece-style BPE tokenizer against ids the reference scripts
 * computed: tests/golden/llama_golden.h (tests/reference/llama_reference.py;
 * the 32000-token cases include the well-known Llama-2 ids of "Hello world":
 * 1, 15043, 3186) and tests/golden/spm_ids_*.txt, SentencePiece's own ids
 * (tests/reference/gen_tokenizer_goldens.py) over thousands of lines; round
 * trips of English with punctuation and non-ASCII text. The byte-level BPE
 * against Hugging Face tokenizers (tests/reference/gen_bpe_goldens.py): the
 * pre-tokenizers' splits, SmolLM2's ids over thousands of lines, and
 * vocabularies that must be refused. */
#include <stdlib.h>
#include <string.h>

#include "golden/llama_golden.h"
#include "harness.h"
#include "nn/tokenizer_bpe.h"

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

/* ---- SentencePiece's ids over many lines --------------------------------- */

/* A file's lines, split in place: each '\n' becomes a NUL. */
typedef struct text_lines {
    char *buf;
    char **line;
    size_t n;
} text_lines;

static void lines_free(text_lines *t) {
    free(t->buf);
    free(t->line);
    memset(t, 0, sizeof *t);
}

static bool lines_read(const char *path, text_lines *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (t->buf = malloc((size_t)size + 1)) &&
        fread(t->buf, 1, (size_t)size, f) != (size_t)size)
        size = -1;
    fclose(f);
    if (size < 0 || !t->buf) {
        lines_free(t);
        return false;
    }
    const size_t len = (size_t)size;
    t->buf[len] = '\0';
    size_t n = len && t->buf[len - 1] != '\n'; /* a last line without '\n' */
    for (size_t i = 0; i < len; i++) n += t->buf[i] == '\n';
    if (!(t->line = malloc((n ? n : 1) * sizeof *t->line))) {
        lines_free(t);
        return false;
    }
    for (char *p = t->buf; t->n < n; p++) {
        t->line[t->n++] = p;
        p += strcspn(p, "\n");
        *p = '\0';
    }
    return true;
}

/* The same hash as the reference script's, to tell changed text from a
 * tokenizer that disagrees. */
static uint32_t fnv1a32(const char *s) {
    uint32_t h = 0x811c9dc5u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x01000193u;
    return h;
}

static void ids_text(const int32_t *ids, int32_t n, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < n && at + 16 < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%d", i ? " " : "", ids[i]);
}

/* Whether a golden row's source (the text before its colon) is name. */
static bool source_is(const char *row, const char *colon, const char *name) {
    return (size_t)(colon - row) == strlen(name) && !memcmp(row, name, strlen(name));
}

/* Encodes every line that golden file rel lists (tinyshakespeare.txt from the
 * data folder, tokenizer_texts.txt from tests/golden) without BOS and
 * requires SentencePiece's ids exactly, naming the first lines that differ. */
static void check_spm_goldens(const hwa_tokenizer *t, const char *golden_rel) {
    char shakes_path[1024], golden_path[1024], texts_path[1024];
    NEED_DATA("tinyshakespeare.txt", shakes_path);
    const char *src = getenv("HWA_SOURCE_DIR");
    src = src && *src ? src : ".";
    snprintf(golden_path, sizeof golden_path, "%s/%s", src, golden_rel);
    snprintf(texts_path, sizeof texts_path, "%s/tests/golden/tokenizer_texts.txt", src);
    text_lines golden, shakes, texts;
    const bool have_golden = lines_read(golden_path, &golden), have_texts = lines_read(texts_path, &texts),
               have_shakes = lines_read(shakes_path, &shakes);
    size_t compared = 0, differ = 0, cap = 0;
    int32_t *got = NULL, want[4096];
    bool broken = !have_golden || !have_texts || !have_shakes;
    for (size_t g = 0; !broken && g < golden.n; g++) {
        char *row = golden.line[g], *end = row;
        if (row[0] == '#' || row[0] == '\0') continue;
        const char *colon = strchr(row, ':');
        const text_lines *from = NULL;
        if (colon && source_is(row, colon, "tinyshakespeare.txt")) from = &shakes;
        if (colon && source_is(row, colon, "tokenizer_texts.txt")) from = &texts;
        const long no = from ? strtol(colon + 1, &end, 10) : 0;
        const unsigned long hash = from ? strtoul(end, &end, 16) : 0;
        int32_t n_want = 0;
        while (from && *end && n_want < 4096) want[n_want++] = (int32_t)strtol(end, &end, 10);
        if (!from || no < 1 || (size_t)no > from->n || n_want == 4096) {
            hwa_test_fail(__FILE__, __LINE__, "%s: row %zu is malformed: %.60s", golden_rel, g + 1, row);
            broken = true;
            break;
        }
        const char *text = from->line[no - 1];
        if (fnv1a32(text) != hash) {
            hwa_test_fail(__FILE__, __LINE__, "%.*s line %ld is not the text the golden was made from: rerun %s",
                          (int)(colon - row), row, no, "tests/reference/gen_tokenizer_goldens.py");
            broken = true;
            break;
        }
        const size_t need = strlen(text) + 3; /* as many tokens as bytes, plus slack */
        if (need > cap) {
            free(got);
            cap = 2 * need;
            if (!(got = malloc(cap * sizeof *got))) {
                hwa_test_fail(__FILE__, __LINE__, "out of memory");
                broken = true;
                break;
            }
        }
        int32_t n_got = 0;
        hwa_status st = hwa_tokenizer_encode(t, text, false, false, got, (int32_t)cap, &n_got);
        compared++;
        if (st == HWA_OK && n_got == n_want && !memcmp(got, want, (size_t)n_got * sizeof *got)) continue;
        if (++differ <= 5) {
            char a[512], b[512];
            ids_text(got, st == HWA_OK ? n_got : 0, a, sizeof a);
            ids_text(want, n_want, b, sizeof b);
            hwa_test_fail(__FILE__, __LINE__, "%.*s line %ld \"%.80s\":\n      ours          %s%s\n"
                          "      SentencePiece %s", (int)(colon - row), row, no, text,
                          st == HWA_OK ? "" : hwa_status_name(st), a, b);
        }
    }
    free(got);
    lines_free(&golden);
    lines_free(&texts);
    lines_free(&shakes);
    CHECK_MSG(have_golden, "%s is missing: run tests/reference/gen_tokenizer_goldens.py", golden_path);
    CHECK_MSG(have_texts && have_shakes, "cannot read %s or %s", texts_path, shakes_path);
    if (broken) return; /* the failure is recorded */
    CHECK_MSG(differ == 0, "%s: %zu of %zu lines differ from SentencePiece", golden_rel, differ, compared);
    CHECK_MSG(compared > 3000, "%s: only %zu lines compared", golden_rel, compared);
    printf("  %s: %zu lines equal to SentencePiece\n", golden_rel, compared);
}

/* SentencePiece's model here is the one Llama-2's tokenizer.model describes:
 * normalizer "identity" (no NFKC: fullwidth letters, ligatures and combining
 * marks stay as written), a dummy-prefix space, spaces as U+2581, and extra
 * whitespace kept. stories260K's original tok512 model was trained with
 * SentencePiece's default remove_extra_whitespaces; its GGUF copy does not
 * carry that setting and we, like llama.cpp, keep runs of spaces for both
 * vocabularies, so its goldens are made with the Llama-2 settings too. */
TEST(encode_equals_sentencepiece_on_thousands_of_lines_with_the_32000_token_vocabulary) {
    hwa_tokenizer *t = load_tok(TINY, 32000);
    if (!t) return; /* load_tok recorded why */
    check_spm_goldens(t, "tests/golden/spm_ids_32000.txt");
    hwa_tokenizer_free(t);
}

TEST(encode_equals_sentencepiece_on_thousands_of_lines_with_the_512_token_vocabulary) {
    hwa_tokenizer *t = load_tok("stories260K/stories260K.gguf", 512);
    if (!t) return; /* load_tok recorded why */
    check_spm_goldens(t, "tests/golden/spm_ids_512.txt");
    hwa_tokenizer_free(t);
}

/* Where merges of equal score overlap (the "aa" pairs of "aaaa"), the
 * leftmost is made first, as in SentencePiece: " aaaa" is " a" "aa" "a"
 * (263 7340 29874); the rightmost first would give " aa" "aa" (29099 7340). */
TEST(equal_score_merges_go_to_the_leftmost_pair) {
    hwa_tokenizer *t = load_tok(TINY, 0);
    if (!t) return; /* load_tok recorded why */
    int32_t ids[8], n = 0;
    CHECK_OK(hwa_tokenizer_encode(t, "aaaa", true, false, ids, 8, &n));
    CHECK_INT_EQ(n, 4);
    CHECK_INT_EQ(ids[1], 263);   /* " a" */
    CHECK_INT_EQ(ids[2], 7340);  /* "aa" */
    CHECK_INT_EQ(ids[3], 29874); /* "a" */
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
    CHECK_OK(hwa_gguf_writer_add_str(w, "tokenizer.ggml.model", "bert"));
    CHECK_OK(hwa_gguf_writer_add_arr_strs(w, "tokenizer.ggml.tokens", toks, 2));
    CHECK_OK(hwa_gguf_writer_write(w, path));
    hwa_gguf_writer_free(w);
    CHECK_STATUS(hwa_tokenizer_load(path, 0, &t), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer model 'bert' is not supported (only 'llama' and 'gpt2')");
}

/* ---- byte-level BPE ---------------------------------------------------------- */

/* The whole of file src-relative rel, or NULL after recording a failure. */
static unsigned char *read_golden(const char *rel, size_t *size) {
    const char *src = getenv("HWA_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src && *src ? src : ".", rel);
    FILE *f = fopen(path, "rb");
    long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char *buf = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f) fclose(f);
    if (!buf) hwa_test_fail(__FILE__, __LINE__, "cannot read %s (tests/reference/gen_bpe_goldens.py writes it)", path);
    *size = buf ? (size_t)n : 0;
    return buf;
}

static unsigned rd16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }

/* The lines the byte-level goldens cover, in their order: tokenizer_texts.txt
 * and bpe_texts.txt, then (with shakes) every 11th non-empty line of
 * tinyshakespeare.txt. */
typedef struct bpe_lines {
    text_lines file[3];
    const char **line;
    size_t n, n_texts;
} bpe_lines;

static void bpe_lines_free(bpe_lines *b) {
    for (int i = 0; i < 3; i++) lines_free(&b->file[i]);
    free(b->line);
}

static bool bpe_lines_read(bpe_lines *b, const char *shakes) {
    memset(b, 0, sizeof *b);
    const char *src = getenv("HWA_SOURCE_DIR");
    char p0[1024], p1[1024];
    snprintf(p0, sizeof p0, "%s/tests/golden/tokenizer_texts.txt", src && *src ? src : ".");
    snprintf(p1, sizeof p1, "%s/tests/golden/bpe_texts.txt", src && *src ? src : ".");
    if (!lines_read(p0, &b->file[0]) || !lines_read(p1, &b->file[1]) || (shakes && !lines_read(shakes, &b->file[2]))) {
        hwa_test_fail(__FILE__, __LINE__, "cannot read the text lines (%s, %s, %s)", p0, p1, shakes ? shakes : "-");
        return false;
    }
    b->line = malloc((b->file[0].n + b->file[1].n + b->file[2].n + 1) * sizeof *b->line);
    for (int f = 0; f < 2; f++)
        for (size_t i = 0; i < b->file[f].n; i++) b->line[b->n++] = b->file[f].line[i];
    b->n_texts = b->n;
    for (size_t i = 0, k = 0; i < b->file[2].n; i++)
        if (b->file[2].line[i][0] && k++ % 11 == 0) b->line[b->n++] = b->file[2].line[i];
    return true;
}

TEST(bpe_pre_tokenizers_split_as_hugging_face_tokenizers_does) {
    static const struct {
        const char *name;
        hwa__bpe_pre pre;
    } pres[] = {{"smollm", HWA__PRE_SMOLLM}, {"gpt2", HWA__PRE_GPT2}, {"llama3", HWA__PRE_LLAMA3}, {"qwen2", HWA__PRE_QWEN2}};
    bpe_lines L;
    size_t size, at = 0;
    unsigned char *g = read_golden("tests/golden/bpe_splits.bin", &size);
    if (!g || !bpe_lines_read(&L, NULL)) {
        free(g);
        return;
    }
    size_t compared = 0, differ = 0;
    for (size_t k = 0; k < sizeof pres / sizeof pres[0]; k++) {
        hwa__bpe_pre pre;
        CHECK_OK(hwa__bpe_pre_from_name(pres[k].name, "test", &pre));
        CHECK_INT_EQ(pre, pres[k].pre);
        for (size_t i = 0; i < L.n && at + 2 <= size; i++) {
            const unsigned n = rd16(g + at);
            const unsigned char *want = g + at + 2;
            at += 2 + 2 * (size_t)n;
            if (at > size) break;
            const char *s = L.line[i];
            const size_t len = strlen(s);
            size_t p = 0, j = 0;
            bool same = true;
            for (; p < len && same; j++) {
                const size_t piece = hwa__bpe_split(pre, s + p, len - p);
                same = j < n && piece == rd16(want + 2 * j);
                p += piece;
            }
            compared++;
            if (same && j == n) continue;
            if (++differ <= 5)
                hwa_test_fail(__FILE__, __LINE__, "%s: line %zu \"%.80s\": piece %zu differs from tokenizers'",
                              pres[k].name, i + 1, s, j ? j - 1 : 0);
        }
    }
    CHECK_MSG(at == size, "bpe_splits.bin: %zu of %zu bytes read: the text lines changed? rerun gen_bpe_goldens.py", at,
              size);
    CHECK_MSG(differ == 0, "%zu of %zu splits differ", differ, compared);
    printf("  %zu lines split as tokenizers does (4 pre-tokenizers)\n", compared / 4);
    bpe_lines_free(&L);
    free(g);
}

TEST(an_unknown_pre_tokenizer_is_an_error_listing_the_known_ones) {
    hwa__bpe_pre pre;
    CHECK_STATUS(hwa__bpe_pre_from_name("deepseek-coder", "m.gguf", &pre), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "m.gguf: tokenizer.ggml.pre 'deepseek-coder' is not supported (known: default");
    CHECK_STR_CONTAINS(hwa_last_error(), "qwen2, smollm)");
}

/* SmolLM2's tokenizer, or NULL after a skip or a failure. */
static hwa_tokenizer *load_smollm2(void) {
    char path[1024];
    if (!hwa_test_need_smollm2(path, sizeof path)) return NULL;
    hwa_tokenizer *t = NULL;
    hwa_status st = hwa_tokenizer_load(path, 49152, &t);
    if (st != HWA_OK) hwa_test_fail(__FILE__, __LINE__, "SmolLM2 tokenizer: %s: %s", hwa_status_name(st), hwa_last_error());
    return t;
}

TEST(smollm2_encode_equals_hugging_face_tokenizers_on_thousands_of_lines) {
    char shakes[1024];
    NEED_DATA("tinyshakespeare.txt", shakes);
    hwa_tokenizer *t = load_smollm2();
    if (!t) return;
    CHECK(!strcmp(hwa_tokenizer_model(t), "gpt2"));
    bpe_lines L;
    size_t size, at = 0, differ = 0, compared = 0;
    unsigned char *g = read_golden("tests/golden/smollm2_ids.bin", &size);
    if (g && bpe_lines_read(&L, shakes)) {
        int32_t got[4096];
        for (size_t i = 0; i < L.n && at + 6 <= size; i++) {
            const uint32_t hash = rd32(g + at);
            const unsigned n = rd16(g + at + 4);
            const unsigned char *want = g + at + 6;
            at += 6 + 2 * (size_t)n;
            if (at > size) break;
            CHECK_MSG(hash == fnv1a32(L.line[i]), "line %zu \"%.60s\" is not the one the golden was made from", i + 1,
                      L.line[i]);
            int32_t k = 0;
            hwa_status st = hwa_tokenizer_encode(t, L.line[i], false, false, got, 4096, &k);
            bool same = st == HWA_OK && k == (int32_t)n;
            for (int32_t j = 0; same && j < k; j++) same = got[j] == (int32_t)rd16(want + 2 * j);
            compared++;
            if (!same && ++differ <= 5) {
                char a[512], b[512];
                int32_t w[256];
                for (unsigned j = 0; j < n && j < 256; j++) w[j] = (int32_t)rd16(want + 2 * j);
                ids_text(got, st == HWA_OK ? k : 0, a, sizeof a);
                ids_text(w, n < 256 ? (int32_t)n : 256, b, sizeof b);
                hwa_test_fail(__FILE__, __LINE__, "line %zu \"%.80s\":\n      ours       %s\n      tokenizers %s", i + 1,
                              L.line[i], a, b);
            }
        }
        CHECK_MSG(at == size, "smollm2_ids.bin: %zu of %zu bytes read", at, size);
        CHECK_MSG(differ == 0, "%zu of %zu lines differ from tokenizers", differ, compared);
        CHECK_MSG(compared > 3000, "only %zu lines compared", compared);
        printf("  %zu lines equal to tokenizers' ids\n", compared);
        bpe_lines_free(&L);
    }
    free(g);
    hwa_tokenizer_free(t);
}

TEST(smollm2_decode_gives_each_line_back_and_pieces_join_inside_utf8_characters) {
    hwa_tokenizer *t = load_smollm2();
    if (!t) return;
    bpe_lines L;
    if (!bpe_lines_read(&L, NULL)) {
        hwa_tokenizer_free(t);
        return;
    }
    int32_t ids[4096];
    char back[8192], joined[8192];
    size_t split_chars = 0;
    for (size_t i = 0; i < L.n; i++) {
        int32_t n = 0;
        size_t len = 0, at = 0;
        CHECK_OK(hwa_tokenizer_encode(t, L.line[i], false, false, ids, 4096, &n));
        CHECK_OK(hwa_tokenizer_decode(t, ids, n, back, sizeof back, &len));
        CHECK_MSG(!strcmp(back, L.line[i]), "line %zu:\n  \"%s\"\nbecame\n  \"%s\"", i + 1, L.line[i], back);
        for (int32_t j = 0; j < n; j++) {
            size_t pl;
            const char *p = hwa_tokenizer_piece(t, j ? ids[j - 1] : -1, ids[j], &pl);
            CHECK(p && at + pl < sizeof joined);
            /* a piece that starts inside a character: the one before began it */
            split_chars += j > 0 && pl > 0 && ((unsigned char)p[0] & 0xc0) == 0x80;
            memcpy(joined + at, p, pl);
            at += pl;
        }
        CHECK_MSG(at == len && !memcmp(joined, back, len), "line %zu: the pieces do not join into the text", i + 1);
    }
    CHECK_MSG(split_chars > 0, "no piece ended inside a UTF-8 character: the lines no longer test it");
    printf("  %zu lines round trip; %zu pieces end inside a character\n", L.n, split_chars);
    bpe_lines_free(&L);
    hwa_tokenizer_free(t);
}

TEST(smollm2_special_tokens_are_matched_whole_and_decode_as_their_text) {
    hwa_tokenizer *t = load_smollm2();
    if (!t) return;
    CHECK(!hwa_tokenizer_add_bos(t)); /* tokenizer.ggml.add_bos_token false */
    CHECK_INT_EQ(hwa_tokenizer_bos(t), 1);
    CHECK_INT_EQ(hwa_tokenizer_eos(t), 2);
    int32_t ids[32], n = 0;
    CHECK_OK(hwa_tokenizer_encode(t, "<|im_start|>user\nHi<|im_end|>", false, false, ids, 32, &n));
    CHECK(n >= 3 && ids[0] == 1 && ids[n - 1] == 2);
    CHECK_OK(hwa_tokenizer_encode(t, "<|im_start|", false, false, ids, 32, &n));
    for (int32_t j = 0; j < n; j++) CHECK_MSG(ids[j] != 1, "a broken special token was matched");
    size_t len;
    const char *p = hwa_tokenizer_piece(t, -1, 2, &len);
    CHECK(p && len == 10 && !memcmp(p, "<|im_end|>", 10));
    hwa_tokenizer_free(t);
}

/* A byte-level vocabulary of the given tokens and merges (nm < 0: no merges
 * key) written to a file; the status of loading it, the tokenizer in *out. */
static hwa_status bpe_vocab(const char *name, const char *pre, const char *const *tokens, size_t nt,
                            const char *const *merges, int nm, hwa_tokenizer **out) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", hwa_test_tmpdir(), name);
    hwa_gguf_writer *w = hwa_gguf_writer_new(3, 32);
    hwa_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre) hwa_gguf_writer_add_str(w, "tokenizer.ggml.pre", pre);
    hwa_gguf_writer_add_arr_strs(w, "tokenizer.ggml.tokens", tokens, nt);
    if (nm >= 0) hwa_gguf_writer_add_arr_strs(w, "tokenizer.ggml.merges", merges, (size_t)nm);
    hwa_status st = hwa_gguf_writer_write(w, path);
    hwa_gguf_writer_free(w);
    *out = NULL;
    return st ? st : hwa_tokenizer_load(path, 0, out);
}

/* "abc": the pair "b c" has the better rank, so "a" + "bc" merge into "abc";
 * merging leftmost first would give "ab" "c". " ab" (one piece): "a b"
 * ranks before " a", so it ends as " " "ab". */
TEST(byte_level_merges_apply_by_rank_not_by_position) {
    static const char *const toks[] = {"a", "b", "c", "\xc4\xa0", "ab", "bc", "abc", "\xc4\xa0" "a"};
    static const char *const merges[] = {"b c", "a b", "a bc", "\xc4\xa0 a"};
    hwa_tokenizer *t;
    CHECK_OK(bpe_vocab("ranks", "gpt2", toks, 8, merges, 4, &t));
    int32_t ids[8], n = 0;
    CHECK_OK(hwa_tokenizer_encode(t, "abc ab", false, false, ids, 8, &n));
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(ids[0], 6); /* abc */
    CHECK_INT_EQ(ids[1], 3); /* " " */
    CHECK_INT_EQ(ids[2], 4); /* "ab" */
    hwa_tokenizer_free(t);
}

TEST(a_byte_level_vocabulary_with_bad_merges_or_tokens_is_refused_naming_the_entry) {
    static const char *const toks[] = {"a", "b", "ab"};
    static const char *const unknown[] = {"a b", "a z"}, *joined[] = {"b a"}, *nospace[] = {"ab"};
    static const char *const bad_text[] = {"a", "b c"}, *bad_utf8[] = {"a", "\xff"};
    hwa_tokenizer *t = NULL;
    CHECK_STATUS(bpe_vocab("unknown", NULL, toks, 3, unknown, 2, &t), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer.ggml.merges[1] 'a z': 'z' is not a token");
    CHECK_STATUS(bpe_vocab("joined", NULL, toks, 3, joined, 1, &t), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "merges[0] 'b a': the two tokens joined are not a token");
    CHECK_STATUS(bpe_vocab("nospace", NULL, toks, 3, nospace, 1, &t), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "merges[0] 'ab' is not two tokens and a space");
    CHECK_STATUS(bpe_vocab("nomerges", NULL, toks, 3, NULL, -1, &t), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer.ggml.merges is missing");
    CHECK_STATUS(bpe_vocab("space", NULL, bad_text, 2, NULL, 0, &t), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer.ggml.tokens[1] 'b c' is not byte-level BPE text");
    CHECK_STATUS(bpe_vocab("utf8", NULL, bad_utf8, 2, NULL, 0, &t), HWA_E_FORMAT);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer.ggml.tokens[1]");
    CHECK_STATUS(bpe_vocab("pre", "falcon", toks, 3, NULL, 0, &t), HWA_E_UNSUPPORTED);
    CHECK_STR_CONTAINS(hwa_last_error(), "tokenizer.ggml.pre 'falcon' is not supported");
    CHECK(t == NULL);
}

TEST(a_byte_level_vocabulary_cut_inside_its_merges_is_refused) {
    static const char *const toks[] = {"a", "b", "ab"}, *merges[] = {"a b"};
    hwa_tokenizer *t = NULL;
    CHECK_OK(bpe_vocab("whole", NULL, toks, 3, merges, 1, &t));
    hwa_tokenizer_free(t);
    char path[512];
    snprintf(path, sizeof path, "%s/whole.gguf", hwa_test_tmpdir());
    FILE *f = fopen(path, "rb");
    CHECK(f);
    unsigned char buf[4096];
    const size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const unsigned char *key = memmem(buf, n, "tokenizer.ggml.merges", 21);
    CHECK(key);
    /* the key, its type, the array's element type and count, and 2 of the 3 bytes of "a b" */
    const size_t cut = (size_t)(key - buf) + 21 + 4 + 4 + 8 + 8 + 2;
    snprintf(path, sizeof path, "%s/cut.gguf", hwa_test_tmpdir());
    f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, cut, f) == cut);
    fclose(f);
    hwa_status st = hwa_tokenizer_load(path, 0, &t);
    CHECK_MSG(st != HWA_OK && t == NULL, "a cut file loaded");
    CHECK_STR_CONTAINS(hwa_last_error(), "cut.gguf");
}
