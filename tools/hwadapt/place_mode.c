/* --mode and --split: the placement options a command line asks for. */
#include "place_mode.h"

#include <stdio.h>

#include "args.h"

int cli_place_mode(const char *cmd, const char *mode, double split, const char *devices, hwa_place_opts *o) {
    if (hwa_place_opts_parse(mode, devices, o) != HWA_OK) {
        cli_usage_error(cmd, "--mode", mode, "%s", hwa_last_error());
        return -1;
    }
    if (split > 0) o->split = split;
    return 0;
}
