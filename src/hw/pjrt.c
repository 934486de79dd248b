/* PJRT plugins in the passport: the plugin hwa__pjrt_plugin_path finds,
 * opened with its client, and one device "pjrt:N" per addressable device
 * (its kind, id, attributes and, where the plugin reports them, memory). */
#include <string.h>

#include "hw/hw_internal.h"
#include "hw/pjrt_api.h"

#if HWA_HAVE_PJRT
/* "name=value, ..." of a device's attributes, into buf. */
static void attributes(const PJRT_NamedValue *a, size_t n, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        char v[96];
        switch (a[i].type) {
        case PJRT_NamedValue_kString: snprintf(v, sizeof v, "%.*s", (int)a[i].value_size, a[i].string_value); break;
        case PJRT_NamedValue_kInt64: snprintf(v, sizeof v, "%lld", (long long)a[i].int64_value); break;
        case PJRT_NamedValue_kFloat: snprintf(v, sizeof v, "%g", (double)a[i].float_value); break;
        case PJRT_NamedValue_kBool: snprintf(v, sizeof v, "%s", a[i].bool_value ? "true" : "false"); break;
        case PJRT_NamedValue_kInt64List: {
            size_t k = 0;
            v[0] = '\0';
            for (size_t j = 0; j < a[i].value_size && k < sizeof v; j++)
                k += (size_t)snprintf(v + k, sizeof v - k, "%s%lld", j ? "x" : "", (long long)a[i].int64_array_value[j]);
            break;
        }
        default: snprintf(v, sizeof v, "?"); break;
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s%.*s=%s", i ? ", " : "", (int)a[i].name_size, a[i].name, v);
    }
}

static hwa_status add_device(hwa_passport *p, const hwa__pjrt *pj, PJRT_Device *dev, int index) {
    const PJRT_Api *api = pj->api;
    PJRT_Device_GetDescription_Args ga = {.struct_size = PJRT_Device_GetDescription_Args_STRUCT_SIZE, .device = dev};
    if (hwa__pjrt_check(NULL, pj, api->PJRT_Device_GetDescription(&ga), "PJRT_Device_GetDescription")) return HWA_OK;
    hwa_device_info *d = hwa__passport_add_device(p);
    if (!d) return HWA_E_NOMEM;
    snprintf(d->id, sizeof d->id, "pjrt:%d", index);
    d->kind = HWA_HW_PJRT;
    d->memory_bytes = d->max_alloc_bytes = d->free_memory_bytes = -1;
    snprintf(d->platform, sizeof d->platform, "PJRT %s (API %d.%d)", pj->platform, pj->api_major, pj->api_minor);
    hwa__strlcpy(d->vendor, pj->platform, sizeof d->vendor);
    hwa__strlcpy(d->type, !strcmp(pj->platform, "cpu") ? "cpu" : !strcmp(pj->platform, "tpu") ? "accelerator" : "gpu",
                 sizeof d->type);
    PJRT_DeviceDescription_Kind_Args ka = {.struct_size = PJRT_DeviceDescription_Kind_Args_STRUCT_SIZE,
                                           .device_description = ga.device_description};
    if (!hwa__pjrt_check(NULL, pj, api->PJRT_DeviceDescription_Kind(&ka), "PJRT_DeviceDescription_Kind") && ka.device_kind)
        snprintf(d->name, sizeof d->name, "%.*s", (int)ka.device_kind_size, ka.device_kind);
    PJRT_DeviceDescription_Id_Args ia = {.struct_size = PJRT_DeviceDescription_Id_Args_STRUCT_SIZE,
                                         .device_description = ga.device_description};
    if (!hwa__pjrt_check(NULL, pj, api->PJRT_DeviceDescription_Id(&ia), "PJRT_DeviceDescription_Id"))
        d->pjrt_id = ia.id;
    if (HWA__PJRT_HAS(api, PJRT_DeviceDescription_Attributes)) {
        PJRT_DeviceDescription_Attributes_Args aa = {.struct_size = PJRT_DeviceDescription_Attributes_Args_STRUCT_SIZE,
                                                     .device_description = ga.device_description};
        if (!hwa__pjrt_check(NULL, pj, api->PJRT_DeviceDescription_Attributes(&aa), "attributes"))
            attributes(aa.attributes, aa.num_attributes, d->pjrt_attributes, sizeof d->pjrt_attributes);
    }
    if (HWA__PJRT_HAS(api, PJRT_Device_MemoryStats)) {
        PJRT_Device_MemoryStats_Args ma = {.struct_size = PJRT_Device_MemoryStats_Args_STRUCT_SIZE, .device = dev};
        /* the CPU plugin says UNIMPLEMENTED: memory stays unknown */
        if (!hwa__pjrt_check(NULL, pj, api->PJRT_Device_MemoryStats(&ma), "PJRT_Device_MemoryStats") &&
            ma.bytes_limit_is_set && ma.bytes_limit > 0) {
            d->memory_bytes = d->max_alloc_bytes = ma.bytes_limit;
            d->free_memory_bytes = ma.bytes_limit - ma.bytes_in_use;
        }
    }
    return HWA_OK;
}
#endif

hwa_status hwa__probe_pjrt(hwa_passport *p, const hwa_probe_opts *opts) {
    hwa_runtime_info *rt = &p->runtimes[p->n_runtimes++];
    hwa__strlcpy(rt->name, "pjrt", sizeof rt->name);
    if (opts->pjrt_plugin) hwa__strlcpy(rt->library, opts->pjrt_plugin, sizeof rt->library);
    else if (!hwa__pjrt_plugin_path(rt->library, sizeof rt->library, rt->note, sizeof rt->note)) return HWA_OK;
#if HWA_HAVE_PJRT
    hwa__pjrt *pj;
    if (hwa__pjrt_open(NULL, rt->library, &pj)) {
        hwa__strlcpy(rt->note, hwa_last_error(), sizeof rt->note); /* the probe goes on without it */
        return HWA_OK;
    }
    rt->loaded = true;
    hwa_status st = HWA_OK;
    for (int i = 0; i < pj->n_devs && st == HWA_OK; i++) {
        const int before = p->n_devices;
        st = add_device(p, pj, pj->devs[i], rt->n_devices);
        if (p->n_devices > before) rt->n_devices++;
    }
    if (st == HWA_OK && rt->n_devices == 0) snprintf(rt->note, sizeof rt->note, "the plugin has no addressable device");
    return st;
#else
    (void)opts;
    hwa__strlcpy(rt->note, HWA__PJRT_NOT_BUILT, sizeof rt->note);
    return HWA_OK;
#endif
}
