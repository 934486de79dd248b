/* Option values as the subcommands read them, and the one form of a usage
 * error (docs/cli.md): exit 2 and one line on stderr,
 *
 *   hwadapt CMD: OPTION VALUE: why; allowed: RANGE or VALUES (see hwadapt CMD --help)
 *
 * Every cli_* function below that returns int returns 0 when the value is
 * good, else 2 after printing that line; FROM is "" or where a value came
 * from (" (from cfg.ini:3)", config.h's cli_args_origin) and may be NULL. */
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

/* Whether w is one of the NULL-terminated words. */
bool cli_word_in(const char *w, const char *const *words);

/* Prints "hwadapt CMD: OPT VAL: <fmt> (see hwadapt CMD --help)" and returns
 * 2. opt and val may be NULL (left out); fmt says why and, where there is
 * one, "; allowed: ..." (CMD "" for the command itself: "hwadapt: ..."). */
int cli_usage_error(const char *cmd, const char *opt, const char *val, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with FROM after VAL. */
int cli_usage_error_from(const char *cmd, const char *opt, const char *val, const char *from, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "OPT: unknown option". */
int cli_unknown_option(const char *cmd, const char *opt);
/* "OPT: missing its value; allowed: WHAT" (what: "N", "FILE", ...; NULL: no
 * "allowed"). */
int cli_missing_value(const char *cmd, const char *opt, const char *what);
/* A positional argument: the first fills *slot; another is "ARG: extra
 * argument; allowed: one WHAT". */
int cli_positional(const char *cmd, const char **slot, const char *arg, const char *what);
/* "WHAT: missing; allowed: ALLOWED" for a required argument not given. */
int cli_missing_arg(const char *cmd, const char *what, const char *allowed);

/* For a group of options of which one at most may be given (--json, --csv,
 * --md): *seen holds the first given; another is "OPT: conflicts with SEEN;
 * allowed: one of them". The same option again is no conflict. */
int cli_one_of(const char *cmd, const char **seen, const char *opt);
/* "OPT: conflicts with OTHER; allowed: one of them" (for conflicts found
 * after parsing). */
int cli_conflict(const char *cmd, const char *opt, const char *other);
/* A path option that names one file (-o, --export, --config): *slot takes
 * v; a second, different one is "OPT V: given twice (first FIRST);
 * allowed: one". */
int cli_once(const char *cmd, const char *opt, const char **slot, const char *v);

/* v as an integer in [lo, hi] ("allowed: lo..hi", or ">= lo" for a bound
 * past 2^53). */
int cli_int_opt(const char *cmd, const char *opt, const char *v, const char *from, int64_t lo, int64_t hi,
                int64_t *out);
/* v as a number in range, an interval like "(0, 1)", "[0, 0.9]", "(0, inf)"
 * that is both the check and the message ("> 0" for "(0, inf)"). */
int cli_num_opt(const char *cmd, const char *opt, const char *v, const char *from, const char *range, double *out);
/* v as one of the NULL-terminated words; *out its index. */
int cli_enum_opt(const char *cmd, const char *opt, const char *v, const char *from, const char *const *words,
                 int *out);

/* A file the command will write at path (by OPT): its folder exists and is
 * writable, and path is not a folder. Checked before any work. */
int cli_output_file(const char *cmd, const char *opt, const char *path);
/* A folder the command will write into (by OPT): a writable folder, or a
 * path that can be made one (its parent exists and is writable). */
int cli_output_dir(const char *cmd, const char *opt, const char *path);

#endif
