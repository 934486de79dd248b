/* The OpenCL ICD loader, opened with dlopen (see opencl_api.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "hw/hw_internal.h"
#include "hw/opencl_api.h"

void hwa__cl_lib_path(const char *opencl_lib, char *buf, size_t cap) {
    hwa__lib_path(opencl_lib, "HWA_OPENCL_LIB", "libOpenCL.so.1", buf, cap);
}

bool hwa__cl_open(const char *path, hwa__cl_api *api, char *why, size_t cap) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(why, cap, "%s", e ? e : "cannot be loaded");
        return false;
    }
    static const struct {
        const char *name;
        size_t at;
    } syms[] = {
#define SYM(f) {"cl" #f, offsetof(hwa__cl_api, f)}
        SYM(GetPlatformIDs), SYM(GetPlatformInfo), SYM(GetDeviceIDs), SYM(GetDeviceInfo),
        SYM(CreateContext), SYM(ReleaseContext), SYM(CreateCommandQueue), SYM(ReleaseCommandQueue),
        SYM(CreateBuffer), SYM(ReleaseMemObject), SYM(EnqueueReadBuffer), SYM(EnqueueWriteBuffer),
        SYM(EnqueueCopyBuffer), SYM(EnqueueFillBuffer), SYM(CreateProgramWithSource),
        SYM(CreateProgramWithBinary), SYM(BuildProgram), SYM(GetProgramInfo), SYM(GetProgramBuildInfo),
        SYM(ReleaseProgram), SYM(CreateKernel), SYM(ReleaseKernel), SYM(SetKernelArg),
        SYM(GetKernelWorkGroupInfo), SYM(EnqueueNDRangeKernel), SYM(Finish),
#undef SYM
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        void *f = dlsym(lib, syms[i].name);
        if (!f) {
            /* the library stays open: dlclose would unload a driver that
             * another part of the process may be using */
            snprintf(why, cap, "%s lacks the OpenCL 1.2 entry point %s", path, syms[i].name);
            return false;
        }
        memcpy((char *)api + syms[i].at, &f, sizeof f);
    }
    return true;
}

int hwa__cl_devices(const hwa__cl_api *cl, cl_device_id *devs, cl_platform_id *plats, int cap, cl_int *rc) {
    enum { MAX_PLATFORMS = 16 };
    cl_platform_id pl[MAX_PLATFORMS];
    cl_uint n_pl = 0;
    *rc = cl->GetPlatformIDs(MAX_PLATFORMS, pl, &n_pl);
    if (*rc != CL_SUCCESS || n_pl == 0) return -1;
    if (n_pl > MAX_PLATFORMS) n_pl = MAX_PLATFORMS;
    int n = 0;
    for (cl_uint i = 0; i < n_pl && n < cap; i++) {
        cl_uint got = 0;
        if (cl->GetDeviceIDs(pl[i], CL_DEVICE_TYPE_ALL, (cl_uint)(cap - n), devs + n, &got) != CL_SUCCESS) continue;
        if (got > (cl_uint)(cap - n)) got = (cl_uint)(cap - n);
        for (cl_uint j = 0; j < got; j++) plats[n + (int)j] = pl[i];
        n += (int)got;
    }
    return n;
}

const char *hwa__cl_error_name(cl_int code, char *buf, size_t cap) {
    static const char *const low[] = {
        "CL_SUCCESS", "CL_DEVICE_NOT_FOUND", "CL_DEVICE_NOT_AVAILABLE", "CL_COMPILER_NOT_AVAILABLE",
        "CL_MEM_OBJECT_ALLOCATION_FAILURE", "CL_OUT_OF_RESOURCES", "CL_OUT_OF_HOST_MEMORY",
        "CL_PROFILING_INFO_NOT_AVAILABLE", "CL_MEM_COPY_OVERLAP", "CL_IMAGE_FORMAT_MISMATCH",
        "CL_IMAGE_FORMAT_NOT_SUPPORTED", "CL_BUILD_PROGRAM_FAILURE", "CL_MAP_FAILURE",
        "CL_MISALIGNED_SUB_BUFFER_OFFSET", "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
        "CL_COMPILE_PROGRAM_FAILURE", "CL_LINKER_NOT_AVAILABLE", "CL_LINK_PROGRAM_FAILURE",
        "CL_DEVICE_PARTITION_FAILED", "CL_KERNEL_ARG_INFO_NOT_AVAILABLE"};
    static const char *const invalid[] = {
        "VALUE", "DEVICE_TYPE", "PLATFORM", "DEVICE", "CONTEXT", "QUEUE_PROPERTIES", "COMMAND_QUEUE",
        "HOST_PTR", "MEM_OBJECT", "IMAGE_FORMAT_DESCRIPTOR", "IMAGE_SIZE", "SAMPLER", "BINARY",
        "BUILD_OPTIONS", "PROGRAM", "PROGRAM_EXECUTABLE", "KERNEL_NAME", "KERNEL_DEFINITION", "KERNEL",
        "ARG_INDEX", "ARG_VALUE", "ARG_SIZE", "KERNEL_ARGS", "WORK_DIMENSION", "WORK_GROUP_SIZE",
        "WORK_ITEM_SIZE", "GLOBAL_OFFSET", "EVENT_WAIT_LIST", "EVENT", "OPERATION", "GL_OBJECT",
        "BUFFER_SIZE", "MIP_LEVEL", "GLOBAL_WORK_SIZE", "PROPERTY", "IMAGE_DESCRIPTOR", "COMPILER_OPTIONS",
        "LINKER_OPTIONS", "DEVICE_PARTITION_COUNT"};
    if (code <= 0 && code > -(cl_int)(sizeof low / sizeof low[0])) return low[-code];
    if (code <= -30 && code > -30 - (cl_int)(sizeof invalid / sizeof invalid[0]))
        snprintf(buf, cap, "CL_INVALID_%s", invalid[-30 - code]);
    else if (code == -1001)
        snprintf(buf, cap, "CL_PLATFORM_NOT_FOUND_KHR");
    else
        snprintf(buf, cap, "CL error %d", (int)code);
    return buf;
}
