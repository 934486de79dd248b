/* Paragraphs wrapped for a terminal. */
#include "core/text.h"

#include <stdbool.h>
#include <string.h>

int hwa__text_width(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void hwa__text_wrap(FILE *f, const char *text, int at, int indent, int width) {
    int col = at;
    bool first = true;
    for (const char *s = text;;) {
        while (*s == ' ') s++;
        const char *e = s;
        while (*e && *e != ' ') e++;
        if (e == s) break;
        int w = 0; /* the word's columns, as hwa__text_width counts them */
        for (const char *p = s; p < e; p++) w += ((unsigned char)*p & 0xC0) != 0x80;
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
