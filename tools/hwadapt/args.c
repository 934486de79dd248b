/* Option values: integers, numbers, sizes, writable paths. */
#include "args.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!s[0] || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!s[0] || *end || errno || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool cli_parse_size(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    int64_t mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = (int64_t)1 << 10; end++; break;
    case 'm': case 'M': mul = (int64_t)1 << 20; end++; break;
    case 'g': case 'G': mul = (int64_t)1 << 30; end++; break;
    default: break;
    }
    if (mul > 1 && (!strcmp(end, "iB") || !strcmp(end, "B"))) end += strlen(end);
    if (*end || errno || v < 1 || v > (unsigned long long)(INT64_MAX / mul)) return false;
    *out = (int64_t)v * mul;
    return true;
}

bool cli_writable(const char *cmd, const char *what, const char *path) {
    char *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    const bool ok = access(dir, W_OK) == 0;
    if (!ok)
        fprintf(stderr, "hwadapt %s: cannot write the %s %s: folder %s is not writable or does not exist\n", cmd, what,
                path, dir);
    free(copy);
    return ok;
}
