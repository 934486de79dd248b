/* --mode and --split: the placement options a command line asks for. */
#include "place_mode.h"

#include <stdio.h>
#include <string.h>

int cli_place_mode(const char *cmd, const char *mode, double split, const char *devices, hwa_place_opts *o) {
    *o = (hwa_place_opts){.split = split};
    if (!strcmp(mode, "auto")) return 0;
    if (!strcmp(mode, "layers")) {
        o->mode = HWA_PLACE_LAYERS;
        return 0;
    }
    if (!strncmp(mode, "single:", 7)) {
        o->mode = HWA_PLACE_SINGLE;
        char want[40], specs[HWA_PLACE_MAX_DEVICES][32];
        snprintf(want, sizeof want, "%s%s", mode + 7, strchr(mode + 7, ':') ? "" : ":0");
        int n = 0;
        if (hwa_place_devices_parse(devices, specs, HWA_PLACE_MAX_DEVICES, &n) == HWA_OK)
            for (int k = 0; k < n; k++)
                if (!strcmp(specs[k], want)) {
                    o->device = k;
                    return 0;
                }
        fprintf(stderr, "hwadapt %s: --mode %s: %s is not among --devices %s\n", cmd, mode, mode + 7, devices);
        return -1;
    }
    fprintf(stderr, "hwadapt %s: --mode must be auto, layers or single:DEVICE (got '%s')\n", cmd, mode);
    return -1;
}
