/* Option values: integers, numbers, sizes, enumerations, output paths; and
 * the one form of a usage error (args.h). */
#include "args.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

bool cli_word_in(const char *w, const char *const *words) {
    for (int i = 0; words[i]; i++)
        if (!strcmp(w, words[i])) return true;
    return false;
}

static int vreport(const char *cmd, const char *opt, const char *val, const char *from, const char *fmt, va_list ap) {
    char why[512];
    vsnprintf(why, sizeof why, fmt, ap);
    fprintf(stderr, "hwadapt%s%s: %s%s%s%s%s%s (see hwadapt%s%s --help)\n", cmd[0] ? " " : "", cmd, opt ? opt : "",
            val ? " " : "", val ? val : "", from ? from : "", opt || val ? ": " : "", why, cmd[0] ? " " : "", cmd);
    return 2;
}

int cli_usage_error(const char *cmd, const char *opt, const char *val, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int rc = vreport(cmd, opt, val, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_usage_error_from(const char *cmd, const char *opt, const char *val, const char *from, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int rc = vreport(cmd, opt, val, from, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_unknown_option(const char *cmd, const char *opt) {
    return cli_usage_error(cmd, opt, NULL, "unknown option");
}

int cli_missing_value(const char *cmd, const char *opt, const char *what) {
    if (!what) return cli_usage_error(cmd, opt, NULL, "missing its value");
    return cli_usage_error(cmd, opt, NULL, "missing its value; allowed: %s", what);
}

int cli_positional(const char *cmd, const char **slot, const char *arg, const char *what) {
    if (*slot) return cli_usage_error(cmd, arg, NULL, "extra argument after %s; allowed: one %s", *slot, what);
    *slot = arg;
    return 0;
}

int cli_missing_arg(const char *cmd, const char *what, const char *allowed) {
    return cli_usage_error(cmd, what, NULL, "missing; allowed: %s", allowed);
}

int cli_one_of(const char *cmd, const char **seen, const char *opt) {
    if (*seen && strcmp(*seen, opt)) return cli_conflict(cmd, opt, *seen);
    *seen = opt;
    return 0;
}

int cli_conflict(const char *cmd, const char *opt, const char *other) {
    return cli_usage_error(cmd, opt, NULL, "conflicts with %s; allowed: one of them", other);
}

int cli_once(const char *cmd, const char *opt, const char **slot, const char *v) {
    if (*slot && strcmp(*slot, v)) return cli_usage_error(cmd, opt, v, "given twice (first %s); allowed: one", *slot);
    *slot = v;
    return 0;
}

int cli_int_opt(const char *cmd, const char *opt, const char *v, const char *from, int64_t lo, int64_t hi,
                int64_t *out) {
    if (cli_parse_int(v, lo, hi, out)) return 0;
    char range[64];
    if (hi >= (int64_t)1 << 53) snprintf(range, sizeof range, "an integer >= %lld", (long long)lo);
    else snprintf(range, sizeof range, "%lld..%lld", (long long)lo, (long long)hi);
    int64_t any;
    return cli_usage_error_from(cmd, opt, v, from, "%s; allowed: %s",
                                cli_parse_int(v, INT64_MIN, INT64_MAX, &any) ? "out of range" : "not an integer", range);
}

/* "(0, 1)" into its bounds and whether each is open; false for a malformed
 * range (a bug in the caller). */
static bool parse_range(const char *r, double *lo, double *hi, bool *lo_open, bool *hi_open) {
    char *end;
    if (r[0] != '(' && r[0] != '[') return false;
    *lo_open = r[0] == '(';
    *lo = strtod(r + 1, &end);
    if (*end != ',') return false;
    *hi = strtod(end + 1, &end);
    if (*end != ')' && *end != ']') return false;
    *hi_open = *end == ')';
    return true;
}

int cli_num_opt(const char *cmd, const char *opt, const char *v, const char *from, const char *range, double *out) {
    double lo = 0, hi = 0, d;
    bool lo_open = false, hi_open = false;
    if (!parse_range(range, &lo, &hi, &lo_open, &hi_open))
        return cli_usage_error_from(cmd, opt, v, from, "internal error: bad range '%s'", range);
    const bool number = cli_parse_num(v, -INFINITY, INFINITY, &d);
    if (number && (lo_open ? d > lo : d >= lo) && (isinf(hi) || (hi_open ? d < hi : d <= hi))) {
        *out = d;
        return 0;
    }
    char allowed[64];
    if (isinf(hi)) snprintf(allowed, sizeof allowed, "%s %g", lo_open ? ">" : ">=", lo);
    else snprintf(allowed, sizeof allowed, "%s", range);
    return cli_usage_error_from(cmd, opt, v, from, "%s; allowed: %s", number ? "out of range" : "not a number",
                                allowed);
}

int cli_enum_opt(const char *cmd, const char *opt, const char *v, const char *from, const char *const *words,
                 int *out) {
    char allowed[256] = "";
    for (int i = 0; words[i]; i++) {
        if (!strcmp(v, words[i])) {
            *out = i;
            return 0;
        }
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", i ? ", " : "", words[i]);
    }
    return cli_usage_error_from(cmd, opt, v, from, "not one of the allowed values; allowed: %s", allowed);
}

/* Why a file or folder cannot be made at path (its folder missing, not a
 * folder, or not writable), or NULL when it can; dir receives the folder. */
static const char *parent_problem(const char *path, char *dir, size_t cap) {
    char *copy = strdup(path);
    snprintf(dir, cap, "%s", copy ? dirname(copy) : ".");
    free(copy);
    struct stat sb;
    if (stat(dir, &sb) != 0) return "does not exist";
    if (!S_ISDIR(sb.st_mode)) return "is not a folder";
    if (access(dir, W_OK) != 0) return "is not writable";
    return NULL;
}

int cli_output_file(const char *cmd, const char *opt, const char *path) {
    struct stat sb;
    char dir[4096];
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_usage_error(cmd, opt, path, "is a folder; allowed: a file path in an existing, writable folder");
    const char *why = parent_problem(path, dir, sizeof dir);
    if (why)
        return cli_usage_error(cmd, opt, path, "folder %s %s; allowed: a file path in an existing, writable folder",
                               dir, why);
    return 0;
}

int cli_output_dir(const char *cmd, const char *opt, const char *path) {
    struct stat sb;
    char dir[4096];
    if (stat(path, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return cli_usage_error(cmd, opt, path, "not a folder; allowed: a writable folder, or one that can be made");
        if (access(path, W_OK) != 0)
            return cli_usage_error(cmd, opt, path, "the folder is not writable; allowed: a writable folder");
        return 0;
    }
    const char *why = parent_problem(path, dir, sizeof dir);
    if (why)
        return cli_usage_error(cmd, opt, path, "folder %s %s; allowed: a writable folder, or one that can be made",
                               dir, why);
    return 0;
}
