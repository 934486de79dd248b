/* placeholder while the command is written in this session */
#include <stdio.h>
#include "commands.h"
int cmd_probe(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "hwadapt probe: not built yet\n"); return 2; }
