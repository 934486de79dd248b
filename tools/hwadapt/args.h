/* Option values as the subcommands read them: integers, numbers and sizes
 * in a range, and output paths checked before the work. */
#ifndef HWADAPT_TOOLS_ARGS_H
#define HWADAPT_TOOLS_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* s as a whole decimal integer in [lo, hi]; false (out untouched) otherwise. */
bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* s as a whole finite number in [lo, hi]. */
bool cli_parse_num(const char *s, double lo, double hi, double *out);
/* s as bytes: digits with an optional K, M or G (powers of 1024, an
 * optional "iB" or "B" after it), at least 1. */
bool cli_parse_size(const char *s, int64_t *out);
/* Whether a file can be created at path: its folder exists and is
 * writable. Otherwise prints "hwadapt CMD: cannot write the WHAT PATH:
 * folder DIR is not writable or does not exist" and returns false. */
bool cli_writable(const char *cmd, const char *what, const char *path);

#endif
