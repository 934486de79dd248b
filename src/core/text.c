/* Paragraphs wrapped for a terminal. */
#include "core/text.h"

#include <stdbool.h>
#include <string.h>

/* Columns of s[0..len): UTF-8 continuation bytes take none. */
static int columns(const char *s, size_t len) {
    int n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

int hwa__text_width(const char *s) { return columns(s, strlen(s)); }

void hwa__text_wrap(FILE *f, const char *text, int at, int indent, int width) {
    int col = at;
    bool first = true;
    for (const char *s = text;;) {
        while (*s == ' ') s++;
        const char *e = s;
        while (*e && *e != ' ') e++;
        if (e == s) break;
        const int w = columns(s, (size_t)(e - s));
        if (!first && col + 1 + w > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fwrite(s, 1, (size_t)(e - s), f);
        col += w;
        first = false;
        s = e;
    }
    fputc('\n', f);
}
