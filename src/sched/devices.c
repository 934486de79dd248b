/* Device lists for a placement: the devices a passport found, and the
 * backends and cost figures of a comma list of device specs. */
#include <string.h>

#include "sched/sched_internal.h"

void hwa_place_device_list(const hwa_passport *p, char *buf, size_t cap) {
    if (!buf || !cap) return;
    buf[0] = '\0';
    for (int i = 0; p && i < hwa_passport_device_count(p); i++) {
        const char *id = hwa_passport_device(p, i)->id;
        if (hwa__backend_registered(id))
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", buf[0] ? "," : "", id);
    }
    if (!buf[0]) snprintf(buf, cap, "cpu");
}

hwa_status hwa_place_devices_parse(const char *list, char (*specs)[32], int max, int *n) {
    if (!specs || !n) return hwa__err(NULL, HWA_E_MISUSE, "hwa_place_devices_parse: NULL argument");
    *n = 0;
    if (!list || !*list) return hwa__err(NULL, HWA_E_INVALID, "no devices given");
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= 30) return hwa__err(NULL, HWA_E_INVALID, "device list '%s': an empty or overlong entry", list);
        if (*n == max) return hwa__err(NULL, HWA_E_INVALID, "device list '%s': more than %d devices", list, max);
        memcpy(specs[*n], p, len);
        specs[*n][len] = '\0';
        if (!strchr(specs[*n], ':')) strcat(specs[*n], ":0");
        for (int k = 0; k < *n; k++)
            if (!strcmp(specs[k], specs[*n])) return hwa__err(NULL, HWA_E_INVALID, "device list '%s' names %s twice", list, specs[k]);
        (*n)++;
        p = comma ? comma + 1 : p + len;
    }
    return HWA_OK;
}

hwa_status hwa_place_devices_open(hwa_ctx *ctx, const char *list, const hwa_passport *p, hwa_backend *reuse,
                                  hwa_backend **bes, hwa_place_device *devs, bool *made, int *n) {
    if (!ctx || !bes || !devs || !made || !n) return hwa__err(ctx, HWA_E_MISUSE, "hwa_place_devices_open: NULL argument");
    *n = 0;
    char all[256];
    if (!list || !*list) {
        hwa_place_device_list(p, all, sizeof all);
        list = all;
    }
    char specs[HWA_PLACE_MAX_DEVICES][32];
    int m;
    hwa_status st = hwa_place_devices_parse(list, specs, HWA_PLACE_MAX_DEVICES, &m);
    for (int k = 0; k < m && !st; k++) {
        made[k] = !reuse || strcmp(reuse->spec, specs[k]);
        bes[k] = made[k] ? hwa_backend_new(ctx, specs[k]) : reuse;
        if (!bes[k]) {
            st = hwa__err(ctx, hwa_ctx_last_status(ctx), "%s", hwa_ctx_last_error(ctx));
            break;
        }
        *n = k + 1;
        if (made[k] && reuse && hwa_backend_device_kind(bes[k]) == HWA_DEVICE_CPU)
            hwa_backend_set_threads(bes[k], hwa_backend_threads(reuse));
        st = hwa_place_device_describe(p, bes[k], &devs[k]);
    }
    if (st) {
        for (int k = 0; k < *n; k++)
            if (made[k]) hwa_backend_free(bes[k]);
        *n = 0;
    }
    return st;
}
