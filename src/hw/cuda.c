/* NVIDIA GPUs through the driver library (libcuda.so.1) and NVML
 * (libnvidia-ml.so.1), both opened with dlopen at run time: no build-time
 * dependency, and a machine without them simply has no CUDA device. The
 * CUDA and NVML device orders differ, so the two are matched by PCI bus id. */
#include <dlfcn.h>
#include <string.h>

#include "hw/hw_internal.h"

typedef int cu_result;
typedef int cu_device;

/* CUdevice_attribute values (cuda.h). */
#define CU_ATTR_CLOCK_RATE 13           /* kHz */
#define CU_ATTR_MULTIPROCESSOR_COUNT 16
#define CU_ATTR_CC_MAJOR 75
#define CU_ATTR_CC_MINOR 76

typedef struct cu_api {
    cu_result (*init)(unsigned);
    cu_result (*get_count)(int *);
    cu_result (*get)(cu_device *, int);
    cu_result (*get_name)(char *, int, cu_device);
    cu_result (*total_mem)(size_t *, cu_device);
    cu_result (*get_attr)(int *, int, cu_device);
    cu_result (*pci_bus_id)(char *, int, cu_device);
    cu_result (*driver_version)(int *);
} cu_api;

typedef int nvml_return;
typedef struct nvml_device_s *nvml_device;
typedef struct nvml_memory {
    unsigned long long total, free, used;
} nvml_memory;

#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1
#define NVML_CLOCK_MEM 2

struct hwa__nvml {
    void *lib;
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    nvml_return (*get_count)(unsigned *);
    nvml_return (*by_index)(unsigned, nvml_device *);
    nvml_return (*by_pci)(const char *, nvml_device *);
    nvml_return (*power)(nvml_device, unsigned *);           /* mW */
    nvml_return (*power_limit)(nvml_device, unsigned *);     /* mW */
    nvml_return (*energy)(nvml_device, unsigned long long *); /* mJ since driver load */
    nvml_return (*temperature)(nvml_device, int, unsigned *);
    nvml_return (*clock)(nvml_device, int, unsigned *);      /* MHz */
    nvml_return (*memory)(nvml_device, nvml_memory *);
    char note[256];
    nvml_return (*index_of)(nvml_device, unsigned *); /* NVML's own index of a device */
};

static void *sym(void *lib, const char *name) { return dlsym(lib, name); }

hwa__nvml *hwa__nvml_open_path(const char *path, char *note, size_t note_cap) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        hwa__strlcpy(note, e ? e : "cannot be loaded", note_cap);
        return NULL;
    }
    hwa__nvml *n = calloc(1, sizeof *n);
    if (!n) {
        dlclose(lib);
        snprintf(note, note_cap, "out of memory");
        return NULL;
    }
    n->lib = lib;
    *(void **)&n->init = sym(lib, "nvmlInit_v2");
    *(void **)&n->shutdown = sym(lib, "nvmlShutdown");
    *(void **)&n->get_count = sym(lib, "nvmlDeviceGetCount_v2");
    *(void **)&n->by_index = sym(lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->by_pci = sym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&n->power = sym(lib, "nvmlDeviceGetPowerUsage");
    *(void **)&n->power_limit = sym(lib, "nvmlDeviceGetEnforcedPowerLimit");
    *(void **)&n->energy = sym(lib, "nvmlDeviceGetTotalEnergyConsumption");
    *(void **)&n->temperature = sym(lib, "nvmlDeviceGetTemperature");
    *(void **)&n->clock = sym(lib, "nvmlDeviceGetClockInfo");
    *(void **)&n->memory = sym(lib, "nvmlDeviceGetMemoryInfo");
    *(void **)&n->index_of = sym(lib, "nvmlDeviceGetIndex");
    if (!n->init || !n->shutdown || !n->get_count || !n->by_index) {
        snprintf(note, note_cap, "%s lacks the NVML entry points", path);
    } else if (n->init() != 0) {
        snprintf(note, note_cap, "nvmlInit failed (no NVIDIA driver running?)");
    } else {
        return n;
    }
    dlclose(lib);
    free(n);
    return NULL;
}

hwa__nvml *hwa__nvml_open(const hwa_probe_opts *opts) {
    char path[512], note[256];
    hwa__lib_path(opts ? opts->nvml_lib : NULL, "HWA_NVML_LIB", "libnvidia-ml.so.1", path, sizeof path);
    return hwa__nvml_open_path(path, note, sizeof note);
}

int hwa__nvml_count(hwa__nvml *n) {
    unsigned c = 0;
    if (!n || n->get_count(&c) != 0 || c > 1024) return 0;
    return (int)c;
}

hwa_status hwa__nvml_energy_mj(hwa__nvml *n, int index, uint64_t *mj) {
    nvml_device dev;
    unsigned long long v;
    if (!n || !n->energy) return hwa__err(NULL, HWA_E_UNSUPPORTED, "NVML has no energy counter");
    if (index < 0 || n->by_index((unsigned)index, &dev) != 0)
        return hwa__err(NULL, HWA_E_NOTFOUND, "NVML has no GPU %d", index);
    if (n->energy(dev, &v) != 0) return hwa__err(NULL, HWA_E_IO, "NVML: GPU %d has no readable energy counter", index);
    *mj = v;
    return HWA_OK;
}

hwa_status hwa__nvml_power_w(hwa__nvml *n, int index, double *watts) {
    nvml_device dev;
    unsigned mw;
    if (!n || !n->power) return hwa__err(NULL, HWA_E_UNSUPPORTED, "NVML has no power reading");
    if (index < 0 || n->by_index((unsigned)index, &dev) != 0)
        return hwa__err(NULL, HWA_E_NOTFOUND, "NVML has no GPU %d", index);
    if (n->power(dev, &mw) != 0) return hwa__err(NULL, HWA_E_IO, "NVML: GPU %d has no readable power draw", index);
    *watts = mw / 1000.0;
    return HWA_OK;
}

hwa_status hwa__nvml_index_of_pci(hwa__nvml *n, const char *pci_bus_id, int *index) {
    nvml_device dev;
    unsigned i;
    if (!n || !pci_bus_id || !index) return hwa__err(NULL, HWA_E_MISUSE, "NVML index: NULL argument");
    if (!n->by_pci || !n->index_of)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "NVML lacks nvmlDeviceGetHandleByPciBusId_v2 or nvmlDeviceGetIndex");
    if (!pci_bus_id[0] || n->by_pci(pci_bus_id, &dev) != 0)
        return hwa__err(NULL, HWA_E_NOTFOUND, "NVML has no GPU at PCI bus id '%.40s'", pci_bus_id);
    if (n->index_of(dev, &i) != 0 || i > 1023)
        return hwa__err(NULL, HWA_E_IO, "NVML cannot say the index of the GPU at PCI bus id %.40s", pci_bus_id);
    *index = (int)i;
    return HWA_OK;
}

void hwa__nvml_close(hwa__nvml *n) {
    if (!n) return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}

/* NVML telemetry of one GPU into d; what NVML cannot say stays negative. */
static void nvml_fill(hwa__nvml *n, nvml_device dev, hwa_device_info *d) {
    unsigned u;
    unsigned long long e;
    nvml_memory m;
    if (n->power && n->power(dev, &u) == 0) d->power_w = u / 1000.0;
    if (n->power_limit && n->power_limit(dev, &u) == 0) d->power_limit_w = u / 1000.0;
    if (n->energy && n->energy(dev, &e) == 0) d->energy_j = (double)e / 1000.0;
    if (n->temperature && n->temperature(dev, NVML_TEMPERATURE_GPU, &u) == 0 && u < 1000) d->temperature_c = u;
    if (n->clock && n->clock(dev, NVML_CLOCK_SM, &u) == 0 && u < 100000) d->sm_clock_mhz = (int)u;
    if (n->clock && n->clock(dev, NVML_CLOCK_MEM, &u) == 0 && u < 100000) d->mem_clock_mhz = (int)u;
    if (n->memory && n->memory(dev, &m) == 0 && m.free <= (unsigned long long)INT64_MAX)
        d->free_memory_bytes = (int64_t)m.free;
}

hwa_status hwa__probe_cuda(hwa_passport *p, const hwa_probe_opts *opts) {
    hwa_runtime_info *rt = &p->runtimes[p->n_runtimes++];
    hwa_runtime_info *rn = &p->runtimes[p->n_runtimes++];
    hwa__strlcpy(rt->name, "cuda", sizeof rt->name);
    hwa__strlcpy(rn->name, "nvml", sizeof rn->name);
    hwa__lib_path(opts->cuda_lib, "HWA_CUDA_LIB", "libcuda.so.1", rt->library, sizeof rt->library);
    hwa__lib_path(opts->nvml_lib, "HWA_NVML_LIB", "libnvidia-ml.so.1", rn->library, sizeof rn->library);

    hwa_runtime_info *rm = &p->runtimes[p->n_runtimes++];
    hwa__strlcpy(rm->name, "hwadapt_cuda", sizeof rm->name);

    hwa__nvml *nv = hwa__nvml_open_path(rn->library, rn->note, sizeof rn->note);
    if (nv) {
        rn->loaded = true;
        rn->n_devices = hwa__nvml_count(nv);
    }

    void *lib = dlopen(rt->library, RTLD_NOW | RTLD_LOCAL);
    /* The backend module that runs them (libhwadapt_cuda.so), opened only
     * where there is a driver: it brings the CUDA runtime and cuBLASLt in,
     * about 60 ms and 200 MB of mappings that a machine without a GPU need
     * not pay at every probe. */
    if (lib) {
        rm->loaded = hwa__backend_module_probe("cuda", rm->library, sizeof rm->library, &rm->n_devices, rm->note,
                                               sizeof rm->note);
    } else {
        const char *e = dlerror();
        hwa__strlcpy(rt->note, e ? e : "cannot be loaded", sizeof rt->note);
        hwa__strlcpy(rm->library, "libhwadapt_cuda.so", sizeof rm->library);
        snprintf(rm->note, sizeof rm->note, "not opened: no NVIDIA driver (%.200s)", e ? e : "cannot be loaded");
        hwa__nvml_close(nv);
        return HWA_OK;
    }
    cu_api cu;
    *(void **)&cu.init = sym(lib, "cuInit");
    *(void **)&cu.get_count = sym(lib, "cuDeviceGetCount");
    *(void **)&cu.get = sym(lib, "cuDeviceGet");
    *(void **)&cu.get_name = sym(lib, "cuDeviceGetName");
    *(void **)&cu.total_mem = sym(lib, "cuDeviceTotalMem_v2");
    *(void **)&cu.get_attr = sym(lib, "cuDeviceGetAttribute");
    *(void **)&cu.pci_bus_id = sym(lib, "cuDeviceGetPCIBusId");
    *(void **)&cu.driver_version = sym(lib, "cuDriverGetVersion");
    hwa_status st = HWA_OK;
    int count = 0;
    cu_result rc;
    if (!cu.init || !cu.get_count || !cu.get || !cu.get_name || !cu.total_mem || !cu.get_attr) {
        hwa__strlcpy(rt->note, "the library lacks the CUDA driver entry points", sizeof rt->note);
    } else if ((rc = cu.init(0)) != 0) {
        snprintf(rt->note, sizeof rt->note, "cuInit failed with CUDA error %d", rc);
    } else if ((rc = cu.get_count(&count)) != 0 || count <= 0) {
        snprintf(rt->note, sizeof rt->note, "no CUDA device (cuDeviceGetCount: error %d, count %d)", rc, count);
    } else {
        rt->loaded = true;
        int drv = 0;
        char drv_s[32] = "";
        if (cu.driver_version && cu.driver_version(&drv) == 0)
            snprintf(drv_s, sizeof drv_s, "CUDA %d.%d", drv / 1000, (drv % 1000) / 10);
        for (int i = 0; i < count && i < 256 && st == HWA_OK; i++) {
            cu_device dev;
            if (cu.get(&dev, i) != 0) continue;
            hwa_device_info *d = hwa__passport_add_device(p);
            if (!d) {
                st = HWA_E_NOMEM;
                break;
            }
            snprintf(d->id, sizeof d->id, "cuda:%d", rt->n_devices++);
            d->kind = HWA_HW_CUDA;
            hwa__strlcpy(d->type, "gpu", sizeof d->type);
            hwa__strlcpy(d->vendor, "NVIDIA", sizeof d->vendor);
            hwa__strlcpy(d->driver, drv_s, sizeof d->driver);
            if (cu.get_name(d->name, (int)sizeof d->name - 1, dev) != 0) d->name[0] = '\0';
            d->name[sizeof d->name - 1] = '\0';
            size_t mem = 0;
            if (cu.total_mem(&mem, dev) == 0 && mem <= (size_t)INT64_MAX) d->memory_bytes = d->max_alloc_bytes = (int64_t)mem;
            int v;
            if (cu.get_attr(&v, CU_ATTR_MULTIPROCESSOR_COUNT, dev) == 0 && v >= 0) d->compute_units = v;
            if (cu.get_attr(&v, CU_ATTR_CLOCK_RATE, dev) == 0 && v >= 0) d->clock_mhz = v / 1000;
            if (cu.get_attr(&v, CU_ATTR_CC_MAJOR, dev) == 0 && v >= 0) d->cc_major = v;
            if (cu.get_attr(&v, CU_ATTR_CC_MINOR, dev) == 0 && v >= 0) d->cc_minor = v;
            d->fp16 = d->cc_major > 5 || (d->cc_major == 5 && d->cc_minor >= 3);
            d->fp64 = true;
            if (cu.pci_bus_id && cu.pci_bus_id(d->pci_bus_id, (int)sizeof d->pci_bus_id - 1, dev) == 0) {
                d->pci_bus_id[sizeof d->pci_bus_id - 1] = '\0';
                nvml_device nd;
                if (nv && nv->by_pci && nv->by_pci(d->pci_bus_id, &nd) == 0) nvml_fill(nv, nd, d);
            } else {
                d->pci_bus_id[0] = '\0';
            }
        }
    }
    hwa__nvml_close(nv);
    dlclose(lib);
    return st;
}
