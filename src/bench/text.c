/* Building the sentences of notes and recommendations. */
#include <string.h>

#include "bench/text.h"

void hwa__bench_catf(char *buf, size_t cap, const char *sep, const char *fmt, ...) {
    size_t len = strnlen(buf, cap);
    if (len && sep) {
        size_t n = strlen(sep);
        if (len + n >= cap) return;
        memcpy(buf + len, sep, n + 1);
        len += n;
    }
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}
