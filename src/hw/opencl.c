/* OpenCL platforms and devices through the ICD loader, opened with dlopen at
 * run time (hw/opencl_api.c) so that hwadapt has no build-time dependency on
 * OpenCL. */
#include <string.h>

#include "hw/hw_internal.h"
#include "hw/opencl_api.h"

typedef hwa__cl_api cl_api;

#define MAX_DEVICES 64

static void platform_str(const cl_api *cl, cl_platform_id pl, cl_uint what, char *buf, size_t cap) {
    buf[0] = '\0';
    if (cl->GetPlatformInfo(pl, what, cap - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[cap - 1] = '\0';
}

static void device_str(const cl_api *cl, cl_device_id dev, cl_uint what, char *buf, size_t cap) {
    buf[0] = '\0';
    if (cl->GetDeviceInfo(dev, what, cap - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[cap - 1] = '\0';
}

/* A scalar device property of exactly the size the API defines. */
static bool device_val(const cl_api *cl, cl_device_id dev, cl_uint what, void *out, size_t n) {
    size_t got = 0;
    return cl->GetDeviceInfo(dev, what, n, out, &got) == CL_SUCCESS && got == n;
}

static bool has_extension(const cl_api *cl, cl_device_id dev, const char *ext) {
    size_t n = 0;
    if (cl->GetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS || n == 0 || n > (1u << 20))
        return false;
    char *s = malloc(n + 1);
    if (!s) return false;
    bool found = false;
    if (cl->GetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, n, s, NULL) == CL_SUCCESS) {
        s[n] = '\0';
        size_t el = strlen(ext);
        for (const char *q = strstr(s, ext); q && !found; q = strstr(q + 1, ext))
            found = (q == s || q[-1] == ' ') && (q[el] == '\0' || q[el] == ' ');
    }
    free(s);
    return found;
}

static hwa_status add_device(hwa_passport *p, const cl_api *cl, cl_device_id dev, const char *platform, int index) {
    hwa_device_info *d = hwa__passport_add_device(p);
    if (!d) return HWA_E_NOMEM;
    snprintf(d->id, sizeof d->id, "opencl:%d", index);
    d->kind = HWA_HW_OPENCL;
    hwa__strlcpy(d->platform, platform, sizeof d->platform);
    device_str(cl, dev, CL_DEVICE_NAME, d->name, sizeof d->name);
    device_str(cl, dev, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
    device_str(cl, dev, CL_DRIVER_VERSION, d->driver, sizeof d->driver);
    cl_bitfield type = 0;
    device_val(cl, dev, CL_DEVICE_TYPE, &type, sizeof type);
    hwa__strlcpy(d->type,
                 type & CL_DEVICE_TYPE_GPU ? "gpu"
                 : type & CL_DEVICE_TYPE_ACCELERATOR ? "accelerator"
                 : type & CL_DEVICE_TYPE_CPU ? "cpu"
                 : "other",
                 sizeof d->type);
    cl_uint u = 0;
    if (device_val(cl, dev, CL_DEVICE_MAX_COMPUTE_UNITS, &u, sizeof u) && u <= 1u << 20) d->compute_units = (int)u;
    if (device_val(cl, dev, CL_DEVICE_MAX_CLOCK_FREQUENCY, &u, sizeof u) && u <= 1u << 20) d->clock_mhz = (int)u;
    cl_ulong v = 0;
    if (device_val(cl, dev, CL_DEVICE_GLOBAL_MEM_SIZE, &v, sizeof v) && v <= (cl_ulong)INT64_MAX)
        d->memory_bytes = (int64_t)v;
    if (device_val(cl, dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, &v, sizeof v) && v <= (cl_ulong)INT64_MAX)
        d->max_alloc_bytes = (int64_t)v;
    cl_bitfield fpc = 0;
    d->fp16 = (device_val(cl, dev, CL_DEVICE_HALF_FP_CONFIG, &fpc, sizeof fpc) && fpc) ||
              has_extension(cl, dev, "cl_khr_fp16");
    fpc = 0;
    d->fp64 = (device_val(cl, dev, CL_DEVICE_DOUBLE_FP_CONFIG, &fpc, sizeof fpc) && fpc) ||
              has_extension(cl, dev, "cl_khr_fp64");
    return HWA_OK;
}

hwa_status hwa__probe_opencl(hwa_passport *p, const hwa_probe_opts *opts) {
    hwa_runtime_info *rt = &p->runtimes[p->n_runtimes++];
    hwa__strlcpy(rt->name, "opencl", sizeof rt->name);
    hwa__cl_lib_path(opts->opencl_lib, rt->library, sizeof rt->library);
    cl_api cl;
    if (!hwa__cl_open(rt->library, &cl, rt->note, sizeof rt->note)) return HWA_OK;
    rt->loaded = true;
    cl_device_id devs[MAX_DEVICES];
    cl_platform_id plats[MAX_DEVICES];
    cl_int rc = CL_SUCCESS;
    const int n_dev = hwa__cl_devices(&cl, devs, plats, MAX_DEVICES, &rc);
    if (n_dev < 0) {
        /* -1001 (CL_PLATFORM_NOT_FOUND_KHR): the loader found no ICD. */
        snprintf(rt->note, sizeof rt->note, "no OpenCL platform (clGetPlatformIDs returned %d)", (int)rc);
        return HWA_OK;
    }
    hwa_status st = HWA_OK;
    for (int j = 0; j < n_dev && st == HWA_OK; j++) {
        char pname[128];
        platform_str(&cl, plats[j], CL_PLATFORM_NAME, pname, sizeof pname);
        st = add_device(p, &cl, devs[j], pname, rt->n_devices);
        if (st == HWA_OK) rt->n_devices++;
    }
    if (st == HWA_OK && rt->n_devices == 0) snprintf(rt->note, sizeof rt->note, "platforms found but no devices");
    /* The ICD loader and its drivers stay loaded: some drivers (PoCL's LLVM)
     * do not survive being unloaded and loaded again in one process. */
    return st;
}
