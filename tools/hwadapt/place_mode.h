/* --mode MODE and --split F for the commands that place a graph across
 * devices (plan, train --device auto). */
#ifndef HWADAPT_TOOLS_PLACE_MODE_H
#define HWADAPT_TOOLS_PLACE_MODE_H

#include "hwadapt/hwadapt.h"

/* Fills *o for mode (hwa_place_opts_parse: "auto", "layers", "layers:F",
 * "single:DEVICE", DEVICE one of the comma list devices) and split (when
 * > 0, the first stage's share; it wins over layers:F). 0, or -1 after
 * printing "hwadapt CMD: --mode MODE: ..." on stderr (args.h). */
int cli_place_mode(const char *cmd, const char *mode, double split, const char *devices, hwa_place_opts *o);

#endif
