/* --config FILE for train, generate and bench: the settings of the
 * command's section (include/hwadapt/settings.h) turned into command-line
 * flags placed before the command's own, so that the command parses one
 * argument list in which an explicit flag, coming later, wins wherever it
 * stands. */
#ifndef HWADAPT_TOOLS_CONFIG_H
#define HWADAPT_TOOLS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "hwadapt/settings.h"

/* device, dtype, threads, batch; and train's epochs, optimizer, lr, momentum,
 * weight_decay, schedule, step_epochs, gamma */
#define CLI_CONFIG_KEYS 12

typedef struct cli_args {
    int argc;
    char **argv;   /* owned array: argv[0], the flags from the file, argv[1..]; strings borrowed */
    int n_file;    /* argv[1 .. n_file] came from the file */
    char where[CLI_CONFIG_KEYS][256]; /* "FILE:LINE" or "FILE:section.key" of each flag pair from the file */
} cli_args;

/* Loads path; on error prints "hwadapt CMD: <message>" and returns NULL. */
hwa_settings *cli_config_load(const char *cmd, const char *path);
/* Builds out from the keys that section (with its fallbacks) sets, then
 * argv[1..argc-1]; train's own keys only for the section "train". Returns
 * 0, or 1 after printing that memory ran out. */
int cli_config_args(const char *cmd, const hwa_settings *s, const char *section, int argc, char **argv,
                    cli_args *out);
void cli_args_free(cli_args *a);
/* Whether the two sections resolve every key to the same value. */
bool cli_config_same(const hwa_settings *s, const char *section_a, const char *section_b);
/* " (from FILE:LINE)" or " (from FILE:train.lr)" when argument i of a came from the file, else "";
 * a may be NULL. */
const char *cli_args_origin(const cli_args *a, int i);
/* " (from --config: --threads 1 at FILE:2, --dtype bf16 at FILE:5)" into
 * buf (cap bytes), or "" when a holds nothing from the file. Returns buf. */
const char *cli_args_summary(const cli_args *a, char *buf, size_t cap);

#endif
