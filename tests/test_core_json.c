/* The JSON string escaper: valid JSON whatever the bytes. */
#include <stdlib.h>

#include "core/json_write.h"
#include "harness.h"

static char *escaped(const char *s, size_t n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    hwa__json_write_str(f, s, n);
    fclose(f);
    return buf;
}

#define CHECK_ESCAPE(in, n, want)                                                        \
    do {                                                                                 \
        char *got_ = escaped((in), (n));                                                 \
        CHECK(got_);                                                                     \
        int same_ = strcmp(got_, (want)) == 0;                                           \
        if (!same_) hwa_test_fail(__FILE__, __LINE__, "escaped %s, expected %s", got_, (want)); \
        free(got_);                                                                      \
        if (!same_) return;                                                              \
    } while (0)

TEST(quotes_backslashes_and_controls_are_escaped) {
    CHECK_ESCAPE("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    CHECK_ESCAPE("l1\nl2\tx\x01\x7f", 9, "\"l1\\nl2\\tx\\u0001\\u007f\"");
    CHECK_ESCAPE("nul\0in", 6, "\"nul\\u0000in\"");
}

TEST(valid_utf8_passes_through) {
    const char *s = "\xe2\x96\x81the \xc3\xa9t\xc3\xa9 \xf0\x9f\x99\x82"; /* U+2581, é, U+1F642 */
    char want[64];
    snprintf(want, sizeof want, "\"%s\"", s);
    CHECK_ESCAPE(s, strlen(s), want);
}

TEST(invalid_utf8_becomes_replacement_characters) {
    CHECK_ESCAPE("\xff", 1, "\"\\ufffd\"");
    CHECK_ESCAPE("a\xc3", 2, "\"a\\ufffd\"");              /* truncated sequence */
    CHECK_ESCAPE("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");      /* overlong '/' */
    CHECK_ESCAPE("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate */
    CHECK_ESCAPE(NULL, 3, "\"\"");
}
