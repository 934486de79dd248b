/* --device SPEC checked by making (and freeing) its backend; the list of
 * devices comes from the passport (no calibration: it takes a tenth of a
 * second) and the backends this build has. */
#include "device_check.h"

#include <stdio.h>
#include <string.h>

#include "args.h"
#include "hwadapt/hwadapt.h"

/* Whether this build has a backend for the passport's device id. */
static bool has_backend(const char *id) {
    const size_t n = strcspn(id, ":");
    for (int i = 0; i < hwa_backend_reg_count(); i++) {
        const char *r = hwa_backend_reg_name(i);
        if (strlen(r) == n && !strncmp(r, id, n)) return true;
    }
    return false;
}

/* "cpu, opencl:0": the passport's devices this build can run. */
static void device_list(char *buf, size_t cap) {
    snprintf(buf, cap, "cpu");
    hwa_passport *p = hwa_passport_probe(&(hwa_probe_opts){.calibrate = HWA_CALIBRATE_NONE});
    for (int i = 0; p && i < hwa_passport_device_count(p); i++) {
        const char *id = hwa_passport_device(p, i)->id;
        if (strcmp(id, "cpu") && has_backend(id)) snprintf(buf + strlen(buf), cap - strlen(buf), ", %s", id);
    }
    hwa_passport_free(p);
}

int cli_device_check(const char *cmd, const char *spec, const char *from) {
    if (!spec || !strcmp(spec, "auto")) return 0; /* the CPU, and the scheduler places across devices */
    hwa_ctx *ctx = hwa_ctx_new(NULL);
    if (!ctx) {
        fprintf(stderr, "hwadapt %s: out of memory\n", cmd);
        return 1;
    }
    hwa_backend *be = hwa_backend_new(ctx, spec);
    if (be) {
        hwa_backend_free(be);
        hwa_ctx_free(ctx);
        return 0;
    }
    const hwa_status st = hwa_ctx_last_status(ctx);
    char why[512], list[256], named[128];
    snprintf(why, sizeof why, "%s", hwa_ctx_last_error(ctx)[0] ? hwa_ctx_last_error(ctx) : hwa_status_str(st));
    /* the backend's message may name the device again: once is enough */
    snprintf(named, sizeof named, "device '%s': ", spec);
    if (!strncmp(why, named, strlen(named))) memmove(why, why + strlen(named), strlen(why + strlen(named)) + 1);
    hwa_ctx_free(ctx);
    device_list(list, sizeof list);
    if (st == HWA_E_NOTFOUND || st == HWA_E_INVALID) /* not there: a usage error */
        return cli_usage_error_from(cmd, "--device", spec, from, "%s; allowed: this machine's devices, %s", why, list);
    fprintf(stderr, "hwadapt %s: --device %s%s: %s; this machine's devices: %s\n", cmd, spec, from ? from : "", why, list);
    return 1;
}

int cli_device_list_check(const char *cmd, const char *list, const char *from) {
    if (!list || !*list) return 0;
    char specs[HWA_PLACE_MAX_DEVICES][32];
    int n, rc = 0;
    if (hwa_place_devices_parse(list, specs, HWA_PLACE_MAX_DEVICES, &n)) {
        return cli_usage_error_from(cmd, "--devices", list, from, "%s", hwa_last_error());
    }
    for (int k = 0; k < n && !rc; k++) rc = cli_device_check(cmd, specs[k], from);
    return rc;
}
