/* Writing JSON by hand: the one string escaper for every JSON the library
 * and the command print without a JSON library. */
#ifndef HWADAPT_CORE_JSON_WRITE_H
#define HWADAPT_CORE_JSON_WRITE_H

#include <stddef.h>
#include <stdio.h>

/* Writes s[0..n) as a JSON string literal: quotes and backslashes escaped,
 * control characters as \uXXXX, valid UTF-8 kept as it is, and every byte
 * that is not part of valid UTF-8 replaced by U+FFFD, so the output is
 * always valid JSON whatever the bytes (names from hostile files). */
void hwa__json_write_str(FILE *f, const char *s, size_t n);

/* The NUL-terminated s (NULL as ""), as above. */
void hwa__json_write_cstr(FILE *f, const char *s);

/* v to 9 significant digits, or null where it is not finite (unknown). */
void hwa__json_write_num(FILE *f, double v);

#endif
