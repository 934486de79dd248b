/* PJRT plugins: where they are, and opening one (hw/pjrt_api.h). The
 * plugin is opened with dlopen at run time and never unloaded; its client
 * is made once per process and shared by the probe and the backend. */
#include <glob.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hw/hw_internal.h"
#include "hw/pjrt_api.h"

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The first file matching pattern, into buf. */
static bool first_match(const char *pattern, char *buf, size_t cap) {
    glob_t g;
    bool found = false;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && !found; i++)
            if (is_file(g.gl_pathv[i]) && strlen(g.gl_pathv[i]) < cap) {
                hwa__strlcpy(buf, g.gl_pathv[i], cap);
                found = true;
            }
    }
    globfree(&g);
    return found;
}

bool hwa__pjrt_plugin_path(char *buf, size_t cap, char *why, size_t why_cap) {
    const char *env = getenv("HWA_PJRT_PLUGIN");
    if (env && *env) {
        hwa__strlcpy(buf, env, cap);
        return true;
    }
    /* Folders that hold plugins: hwadapt's cache (scripts/install-deps.sh),
     * the one the build found the header in, Python's site-packages. */
    char dirs[8][512];
    int n = 0;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME"), *venv = getenv("VIRTUAL_ENV");
    if (xdg && *xdg) snprintf(dirs[n++], sizeof dirs[0], "%s/hwadapt/pjrt", xdg);
    if (home && *home) snprintf(dirs[n++], sizeof dirs[0], "%s/.cache/hwadapt/pjrt", home);
#ifdef HWA_PJRT_BUILD_DIR
    snprintf(dirs[n++], sizeof dirs[0], "%s", HWA_PJRT_BUILD_DIR);
#endif
    if (venv && *venv) snprintf(dirs[n++], sizeof dirs[0], "%s/lib/python3*/site-packages", venv);
    if (home && *home) snprintf(dirs[n++], sizeof dirs[0], "%s/.local/lib/python3*/site-packages", home);
    snprintf(dirs[n++], sizeof dirs[0], "/usr/local/lib/python3*/*-packages");
    snprintf(dirs[n++], sizeof dirs[0], "/usr/lib/python3*/*-packages");
    static const char *const plugins[] = {"xla_plugins/*/*.so", "jax_plugins/*/*.so", "libtpu/libtpu.so"};
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < sizeof plugins / sizeof plugins[0]; j++) {
            char pat[640];
            if (snprintf(pat, sizeof pat, "%.560s/%s", dirs[i], plugins[j]) >= (int)sizeof pat) continue;
            if (first_match(pat, buf, cap)) return true;
        }
    snprintf(why, why_cap,
             "no PJRT plugin found (HWA_PJRT_PLUGIN is unset; looked in hwadapt's cache folder and Python's "
             "site-packages for xla_plugins/*/*.so, jax_plugins/*/*.so, libtpu/libtpu.so; "
             "scripts/install-deps.sh installs the XLA CPU plugin)");
    buf[0] = '\0';
    return false;
}

#if HWA_HAVE_PJRT
#include <dlfcn.h>

#define MAX_PLUGINS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static hwa__pjrt *opened[MAX_PLUGINS];
static int n_opened;

hwa_status hwa__pjrt_check(hwa_ctx *ctx, const hwa__pjrt *p, PJRT_Error *e, const char *what) {
    if (!e) return HWA_OK;
    const PJRT_Api *api = p->api;
    PJRT_Error_Message_Args m = {.struct_size = PJRT_Error_Message_Args_STRUCT_SIZE, .error = e};
    api->PJRT_Error_Message(&m);
    hwa_status st = HWA_E_DEVICE;
    if (HWA__PJRT_HAS(api, PJRT_Error_GetCode)) {
        PJRT_Error_GetCode_Args c = {.struct_size = PJRT_Error_GetCode_Args_STRUCT_SIZE, .error = e};
        if (!api->PJRT_Error_GetCode(&c) && c.code == PJRT_Error_Code_RESOURCE_EXHAUSTED) st = HWA_E_NOMEM;
    }
    hwa__err(ctx, st, "%s: %.*s", what, (int)(m.message_size < 400 ? m.message_size : 400),
             m.message ? m.message : "(no message)");
    PJRT_Error_Destroy_Args d = {.struct_size = PJRT_Error_Destroy_Args_STRUCT_SIZE, .error = e};
    api->PJRT_Error_Destroy(&d);
    return st;
}

hwa_status hwa__pjrt_await(hwa_ctx *ctx, const hwa__pjrt *p, PJRT_Event *ev, const char *what) {
    if (!ev) return HWA_OK;
    PJRT_Event_Await_Args a = {.struct_size = PJRT_Event_Await_Args_STRUCT_SIZE, .event = ev};
    hwa_status st = hwa__pjrt_check(ctx, p, p->api->PJRT_Event_Await(&a), what);
    PJRT_Event_Destroy_Args d = {.struct_size = PJRT_Event_Destroy_Args_STRUCT_SIZE, .event = ev};
    p->api->PJRT_Event_Destroy(&d);
    return st;
}

/* libtpu on a machine that is not a Cloud TPU VM waits on the metadata
 * server unless told not to; a single-host configuration is assumed when
 * the user has not set one. */
static void libtpu_env(const char *path) {
    const char *base = strrchr(path, '/');
    if (!strstr(base ? base + 1 : path, "libtpu")) return;
    setenv("TPU_SKIP_MDS_QUERY", "1", 0);
    setenv("TPU_WORKER_ID", "0", 0);
    setenv("TPU_WORKER_HOSTNAMES", "localhost", 0);
}

/* The slots this code calls: a plugin whose PJRT_Api lacks one is refused. */
#define PJRT_REQUIRED(X)                                                                                 \
    X(PJRT_Error_Destroy) X(PJRT_Error_Message) X(PJRT_Plugin_Initialize) X(PJRT_Event_Destroy)          \
    X(PJRT_Event_Await) X(PJRT_Client_Create) X(PJRT_Client_PlatformName) X(PJRT_Client_AddressableDevices) \
    X(PJRT_Client_Compile) X(PJRT_Client_BufferFromHostBuffer) X(PJRT_Device_GetDescription)             \
    X(PJRT_DeviceDescription_Id) X(PJRT_DeviceDescription_Kind) X(PJRT_LoadedExecutable_Destroy)          \
    X(PJRT_LoadedExecutable_Execute) X(PJRT_LoadedExecutable_GetExecutable) X(PJRT_Executable_NumOutputs) \
    X(PJRT_Executable_Destroy) X(PJRT_Buffer_Destroy) X(PJRT_Buffer_ToHostBuffer)

static hwa_status open_plugin(hwa_ctx *ctx, const char *path, hwa__pjrt *p) {
    if (!is_file(path)) return hwa__err(ctx, HWA_E_NOTFOUND, "PJRT plugin %s: no such file", path);
    libtpu_env(path);
    /* XLA plugins log at INFO to stderr from the first call (an absl
     * warning, then a line per client option): noise on every command. Only
     * warnings and errors, unless the user has chosen a level. */
    setenv("TF_CPP_MIN_LOG_LEVEL", "1", 0);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        return hwa__err(ctx, HWA_E_NOTFOUND, "PJRT plugin %s cannot be loaded: %s", path, e ? e : "dlopen failed");
    }
    const PJRT_Api *(*get)(void);
    *(void **)&get = dlsym(lib, "GetPjrtApi");
    if (!get) return hwa__err(ctx, HWA_E_NOTFOUND, "%s is not a PJRT plugin: it has no GetPjrtApi", path);
    const PJRT_Api *api = get();
    if (!api || api->struct_size < offsetof(PJRT_Api, pjrt_api_version) + sizeof(PJRT_Api_Version))
        return hwa__err(ctx, HWA_E_NOTFOUND, "%s is not a PJRT plugin: GetPjrtApi returned %s", path,
                        api ? "a struct too small to hold a version" : "NULL");
    p->api = api;
    p->api_major = api->pjrt_api_version.major_version;
    p->api_minor = api->pjrt_api_version.minor_version;
    hwa__strlcpy(p->path, path, sizeof p->path);
    if (p->api_major != PJRT_API_MAJOR)
        return hwa__err(ctx, HWA_E_UNSUPPORTED,
                        "PJRT plugin %s has API version %d.%d; this build speaks %d.%d (the major versions must "
                        "match)",
                        path, p->api_major, p->api_minor, PJRT_API_MAJOR, PJRT_API_MINOR);
#define HWA__PJRT_NEED(fn)                                                                                  \
    if (!HWA__PJRT_HAS(api, fn))                                                                           \
        return hwa__err(ctx, HWA_E_UNSUPPORTED, "PJRT plugin %s (API %d.%d) lacks %s", path, p->api_major, \
                        p->api_minor, #fn);
    PJRT_REQUIRED(HWA__PJRT_NEED)
#undef HWA__PJRT_NEED
    char what[640];
    PJRT_Plugin_Initialize_Args ia = {.struct_size = PJRT_Plugin_Initialize_Args_STRUCT_SIZE};
    snprintf(what, sizeof what, "PJRT plugin %s: PJRT_Plugin_Initialize failed", path);
    hwa_status st = hwa__pjrt_check(ctx, p, api->PJRT_Plugin_Initialize(&ia), what);
    if (st) return st;
    PJRT_Client_Create_Args ca = {.struct_size = PJRT_Client_Create_Args_STRUCT_SIZE};
    /* XLA's CPU plugin makes several "devices" of the one CPU (4 here, on 2
     * cores): partitions of the same cores and memory, which placement must
     * not take for separate hardware. One, unless HWA_PJRT_CPU_DEVICES says
     * otherwise. Only for a CPU plugin: another may refuse the option. */
    const char *base = strrchr(path, '/');
    const char *env = getenv("HWA_PJRT_CPU_DEVICES");
    const long cpu_devices = env && atol(env) > 0 ? atol(env) : 1;
    PJRT_NamedValue cpu_opt = {.struct_size = PJRT_NamedValue_STRUCT_SIZE, .name = "cpu_device_count",
                               .name_size = strlen("cpu_device_count"), .type = PJRT_NamedValue_kInt64,
                               .int64_value = cpu_devices, .value_size = 1};
    if (strstr(base ? base + 1 : path, "cpu")) {
        ca.create_options = &cpu_opt;
        ca.num_options = 1;
    }
    snprintf(what, sizeof what, "PJRT plugin %s: PJRT_Client_Create failed", path);
    if ((st = hwa__pjrt_check(ctx, p, api->PJRT_Client_Create(&ca), what))) return st;
    p->client = ca.client;
    PJRT_Client_PlatformName_Args pa = {.struct_size = PJRT_Client_PlatformName_Args_STRUCT_SIZE, .client = p->client};
    if (!hwa__pjrt_check(ctx, p, api->PJRT_Client_PlatformName(&pa), "PJRT_Client_PlatformName") && pa.platform_name)
        snprintf(p->platform, sizeof p->platform, "%.*s", (int)pa.platform_name_size, pa.platform_name);
    PJRT_Client_AddressableDevices_Args da = {.struct_size = PJRT_Client_AddressableDevices_Args_STRUCT_SIZE,
                                              .client = p->client};
    snprintf(what, sizeof what, "PJRT plugin %s: PJRT_Client_AddressableDevices failed", path);
    if ((st = hwa__pjrt_check(ctx, p, api->PJRT_Client_AddressableDevices(&da), what))) return st;
    p->devs = da.addressable_devices;
    p->n_devs = da.num_addressable_devices > 4096 ? 4096 : (int)da.num_addressable_devices;
    return HWA_OK;
}

/* At exit, before the plugins' own destructors run (atexit handlers
 * registered after a dlopen run before that library's): their clients are
 * destroyed, so that no worker thread of a plugin outlives the globals it
 * uses (the XLA CPU plugin crashed at exit without this, one run in two). */
static void destroy_clients(void) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_opened; i++) {
        hwa__pjrt *p = opened[i];
        if (!p->client || !HWA__PJRT_HAS(p->api, PJRT_Client_Destroy)) continue;
        PJRT_Client_Destroy_Args a = {.struct_size = PJRT_Client_Destroy_Args_STRUCT_SIZE, .client = p->client};
        hwa__pjrt_check(NULL, p, p->api->PJRT_Client_Destroy(&a), "PJRT_Client_Destroy");
        p->client = NULL;
    }
    pthread_mutex_unlock(&lock);
}

hwa_status hwa__pjrt_open(hwa_ctx *ctx, const char *path, hwa__pjrt **out) {
    *out = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_opened; i++)
        if (!strcmp(opened[i]->path, path)) {
            *out = opened[i];
            pthread_mutex_unlock(&lock);
            return HWA_OK;
        }
    hwa_status st = HWA_OK;
    hwa__pjrt *p = calloc(1, sizeof *p);
    if (!p) st = hwa__err(ctx, HWA_E_NOMEM, "PJRT plugin %s: out of memory", path);
    else if (n_opened == MAX_PLUGINS)
        st = hwa__err(ctx, HWA_E_UNSUPPORTED, "PJRT plugin %s: a process opens at most %d plugins", path, MAX_PLUGINS);
    else st = open_plugin(ctx, path, p);
    if (st) {
        free(p); /* a client made before a later failure is kept by the plugin: PJRT has no safe teardown here */
    } else {
        if (n_opened == 0) atexit(destroy_clients);
        opened[n_opened++] = p;
        *out = p;
    }
    pthread_mutex_unlock(&lock);
    return st;
}
#endif
