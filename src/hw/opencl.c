/* OpenCL platforms and devices through the ICD loader, opened with dlopen at
 * run time so that hwadapt has no build-time dependency on OpenCL. The few
 * types and constants used are those of the Khronos OpenCL 1.2 API. */
#include <dlfcn.h>
#include <string.h>

#include "hw/hw_internal.h"

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef uint64_t cl_ulong;
typedef cl_ulong cl_bitfield;
typedef struct cl_platform_s *cl_platform_id;
typedef struct cl_device_s *cl_device_id;

#define CL_SUCCESS 0
#define CL_PLATFORM_VERSION 0x0901
#define CL_PLATFORM_NAME 0x0902
#define CL_PLATFORM_VENDOR 0x0903
#define CL_DEVICE_TYPE_CPU (1u << 1)
#define CL_DEVICE_TYPE_GPU (1u << 2)
#define CL_DEVICE_TYPE_ACCELERATOR (1u << 3)
#define CL_DEVICE_TYPE_ALL 0xFFFFFFFFu
#define CL_DEVICE_TYPE 0x1000
#define CL_DEVICE_MAX_COMPUTE_UNITS 0x1002
#define CL_DEVICE_MAX_CLOCK_FREQUENCY 0x100C
#define CL_DEVICE_MAX_MEM_ALLOC_SIZE 0x1010
#define CL_DEVICE_GLOBAL_MEM_SIZE 0x101F
#define CL_DEVICE_NAME 0x102B
#define CL_DEVICE_VENDOR 0x102C
#define CL_DRIVER_VERSION 0x102D
#define CL_DEVICE_EXTENSIONS 0x1030
#define CL_DEVICE_DOUBLE_FP_CONFIG 0x1032
#define CL_DEVICE_HALF_FP_CONFIG 0x1033

typedef struct cl_api {
    cl_int (*get_platform_ids)(cl_uint, cl_platform_id *, cl_uint *);
    cl_int (*get_platform_info)(cl_platform_id, cl_uint, size_t, void *, size_t *);
    cl_int (*get_device_ids)(cl_platform_id, cl_bitfield, cl_uint, cl_device_id *, cl_uint *);
    cl_int (*get_device_info)(cl_device_id, cl_uint, size_t, void *, size_t *);
} cl_api;

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

static void platform_str(const cl_api *cl, cl_platform_id pl, cl_uint what, char *buf, size_t cap) {
    buf[0] = '\0';
    if (cl->get_platform_info(pl, what, cap - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[cap - 1] = '\0';
}

static void device_str(const cl_api *cl, cl_device_id dev, cl_uint what, char *buf, size_t cap) {
    buf[0] = '\0';
    if (cl->get_device_info(dev, what, cap - 1, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[cap - 1] = '\0';
}

/* A scalar device property of exactly the size the API defines. */
static bool device_val(const cl_api *cl, cl_device_id dev, cl_uint what, void *out, size_t n) {
    size_t got = 0;
    return cl->get_device_info(dev, what, n, out, &got) == CL_SUCCESS && got == n;
}

static bool has_extension(const cl_api *cl, cl_device_id dev, const char *ext) {
    size_t n = 0;
    if (cl->get_device_info(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS || n == 0 || n > (1u << 20))
        return false;
    char *s = malloc(n + 1);
    if (!s) return false;
    bool found = false;
    if (cl->get_device_info(dev, CL_DEVICE_EXTENSIONS, n, s, NULL) == CL_SUCCESS) {
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
    hwa__lib_path(opts->opencl_lib, "HWA_OPENCL_LIB", "libOpenCL.so.1", rt->library, sizeof rt->library);
    void *lib = dlopen(rt->library, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        hwa__strlcpy(rt->note, e ? e : "cannot be loaded", sizeof rt->note);
        return HWA_OK;
    }
    cl_api cl;
    *(void **)&cl.get_platform_ids = dlsym(lib, "clGetPlatformIDs");
    *(void **)&cl.get_platform_info = dlsym(lib, "clGetPlatformInfo");
    *(void **)&cl.get_device_ids = dlsym(lib, "clGetDeviceIDs");
    *(void **)&cl.get_device_info = dlsym(lib, "clGetDeviceInfo");
    if (!cl.get_platform_ids || !cl.get_platform_info || !cl.get_device_ids || !cl.get_device_info) {
        hwa__strlcpy(rt->note, "the library lacks the OpenCL 1.2 entry points", sizeof rt->note);
        dlclose(lib);
        return HWA_OK;
    }
    rt->loaded = true;
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint n_pl = 0;
    cl_int rc = cl.get_platform_ids(MAX_PLATFORMS, platforms, &n_pl);
    if (rc != CL_SUCCESS || n_pl == 0) {
        /* -1001 (CL_PLATFORM_NOT_FOUND_KHR): the loader found no ICD. */
        snprintf(rt->note, sizeof rt->note, "no OpenCL platform (clGetPlatformIDs returned %d)", (int)rc);
        dlclose(lib);
        return HWA_OK;
    }
    if (n_pl > MAX_PLATFORMS) n_pl = MAX_PLATFORMS;
    hwa_status st = HWA_OK;
    for (cl_uint i = 0; i < n_pl && st == HWA_OK; i++) {
        char pname[128];
        platform_str(&cl, platforms[i], CL_PLATFORM_NAME, pname, sizeof pname);
        cl_device_id devs[MAX_DEVICES];
        cl_uint n_dev = 0;
        if (cl.get_device_ids(platforms[i], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &n_dev) != CL_SUCCESS) continue;
        if (n_dev > MAX_DEVICES) n_dev = MAX_DEVICES;
        for (cl_uint j = 0; j < n_dev && st == HWA_OK; j++) {
            st = add_device(p, &cl, devs[j], pname, rt->n_devices);
            if (st == HWA_OK) rt->n_devices++;
        }
    }
    if (st == HWA_OK && rt->n_devices == 0) snprintf(rt->note, sizeof rt->note, "platforms found but no devices");
    /* The ICD loader and its drivers stay loaded: some drivers (PoCL's LLVM)
     * do not survive being unloaded and loaded again in one process. */
    return st;
}
