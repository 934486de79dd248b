/* placeholder while the command is written in this session */
#include <stdio.h>
#include "commands.h"
int cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hwadapt inspect: not built yet\n"); return 2; }
