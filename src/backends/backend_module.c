/* The core's side of loadable backend modules (backend_module.h): opening
 * libhwadapt_<prefix>.so once per process, checking that it was built from
 * the same layouts, and handing it the core's services. */
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "backends/cpu/ref/ref.h"
#include "backends/backend_module.h"
#include "core/module.h"

static void *host_malloc(hwa_ctx *ctx, size_t size) { return hwa__malloc(ctx, size); }
static void *host_calloc(hwa_ctx *ctx, size_t n, size_t size) { return hwa__calloc(ctx, n, size); }
static void host_free(hwa_ctx *ctx, void *p) { hwa__free(ctx, p); }

/* One module slot per prefix a registry entry serves through a module. */
#define MAX_MODULES 4
static struct slot {
    char prefix[16];
    bool tried;
    const hwa_backend_module *m;
    char path[1024];
    char why[1400];
} slots[MAX_MODULES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Opens and checks the module of s->prefix into s (under lock). */
static void load(struct slot *s) {
    char soname[48], env[48], tried[1200];
    snprintf(soname, sizeof soname, "libhwadapt_%s.so", s->prefix);
    size_t n = (size_t)snprintf(env, sizeof env, "HWA_%s_MODULE", s->prefix);
    for (size_t i = 4; i < n; i++) env[i] = (char)toupper((unsigned char)env[i]);
    /* RTLD_LOCAL: the module's runtime (cudart, cuBLASLt) stays out of the
     * global namespace; the module is never closed (its backends' vtables
     * and buffers' free functions live in it). */
    void *h = hwa__module_open(soname, env, RTLD_NOW | RTLD_LOCAL, s->path, sizeof s->path, tried, sizeof tried);
    if (!h) {
        const char *e = getenv(env);
        snprintf(s->path, sizeof s->path, "%s", e && *e ? e : soname);
        if (e && *e && !tried[0])
            snprintf(s->why, sizeof s->why, "%s names %.900s, which does not exist", env, e);
        else if (tried[0])
            snprintf(s->why, sizeof s->why, "hwadapt's %s module does not load: %s", s->prefix, tried);
        else
            snprintf(s->why, sizeof s->why,
                     "this build has no %s module (%s is built where the %s toolkit is found at configure time, and "
                     "looked for beside the executable, in ../lib/hwadapt/ and on the loader's path; %s=PATH "
                     "names one)",
                     s->prefix, soname, s->prefix, env);
        return;
    }
    hwa_backend_module_entry_fn entry = NULL;
    void *sym = dlsym(h, HWA_BACKEND_MODULE_ENTRY);
    memcpy(&entry, &sym, sizeof sym);
    if (!entry) {
        snprintf(s->why, sizeof s->why, "%.1000s exports no %s: not an hwadapt backend module", s->path,
                 HWA_BACKEND_MODULE_ENTRY);
        return;
    }
    static const hwa_backend_host host_tmpl = {
        .abi_version = HWA_BACKEND_MODULE_ABI,
        .struct_size = sizeof(hwa_backend_host),
        .layout = HWA__MODULE_LAYOUT,
        .verr = hwa__verr,
        .malloc = host_malloc,
        .calloc = host_calloc,
        .realloc_array = hwa__realloc_array,
        .free = host_free,
        .host_buffer_new = hwa__host_buffer_new,
        .shape4 = hwa__shape4,
        .op_name = hwa__op_name,
        .op_n_src = hwa__op_n_src,
        .op_is_view = hwa__op_is_view,
        .nelements = hwa_tensor_nelements,
        .block_bytes = hwa_dtype_block_bytes,
        .dtype_name = hwa_dtype_name,
        .spmm_check_rows = hwa__spmm_check_rows,
        .is_contiguous = hwa_tensor_is_contiguous,
    };
    /* the module keeps the pointer: one table per process, never freed */
    static hwa_backend_host hosts[MAX_MODULES];
    static char refusals[MAX_MODULES][512];
    const int k = (int)(s - slots);
    hosts[k] = host_tmpl;
    hosts[k].why = refusals[k];
    hosts[k].why_cap = sizeof refusals[k];
    refusals[k][0] = '\0';
    const hwa_backend_module *m = entry(&hosts[k]);
    if (!m) {
        snprintf(s->why, sizeof s->why, "%.900s refused to start: %.450s", s->path,
                 refusals[k][0] ? refusals[k] : "built for another version of hwadapt");
        return;
    }
    if (m->abi_version != HWA_BACKEND_MODULE_ABI || m->struct_size < sizeof(hwa_backend_module) ||
        m->layout != HWA__MODULE_LAYOUT || !m->prefix || strcmp(m->prefix, s->prefix) || !m->init ||
        !m->device_count) {
        snprintf(s->why, sizeof s->why,
                 "%.900s was built for another version of hwadapt (module ABI %u, layout %llx; this build's ABI %u, "
                 "layout %llx): rebuild hwadapt",
                 s->path, m->abi_version, (unsigned long long)m->layout, HWA_BACKEND_MODULE_ABI,
                 (unsigned long long)HWA__MODULE_LAYOUT);
        return;
    }
    s->m = m;
}

const hwa_backend_module *hwa__backend_module_get(const char *prefix, char *path, size_t path_cap, char *why,
                                                  size_t why_cap) {
    const hwa_backend_module *m = NULL;
    pthread_mutex_lock(&lock);
    struct slot *s = NULL;
    for (int i = 0; i < MAX_MODULES && !s; i++)
        if (!slots[i].prefix[0] || !strcmp(slots[i].prefix, prefix)) s = &slots[i];
    if (!s || strlen(prefix) >= sizeof s->prefix) {
        if (why_cap) snprintf(why, why_cap, "no module slot for '%s'", prefix);
        if (path_cap) path[0] = '\0';
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    if (!s->tried) {
        snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
        load(s);
        s->tried = true;
    }
    m = s->m;
    if (path_cap) snprintf(path, path_cap, "%s", s->path);
    if (why_cap) snprintf(why, why_cap, "%s", m ? "" : s->why);
    pthread_mutex_unlock(&lock);
    return m;
}

hwa_status hwa__module_backend_init(hwa_ctx *ctx, const char *prefix, int index, hwa_backend **out) {
    char why[1400];
    const hwa_backend_module *m = hwa__backend_module_get(prefix, NULL, 0, why, sizeof why);
    if (!m) return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s:%d': no %s device: %s", prefix, index, prefix, why);
    char dwhy[512] = "";
    const int n = m->device_count(dwhy, sizeof dwhy);
    if (n <= 0)
        return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s:%d': no %s device: %s", prefix, index, prefix,
                        dwhy[0] ? dwhy : "the module found none");
    if (index >= n)
        return hwa__err(ctx, HWA_E_NOTFOUND, "device '%s:%d': this machine has %d %s device%s (%s:0 to %s:%d)",
                        prefix, index, n, prefix, n == 1 ? "" : "s", prefix, prefix, n - 1);
    return m->init(ctx, index, out);
}

hwa_status hwa__cuda_backend_init(hwa_ctx *ctx, int index, hwa_backend **out) {
    return hwa__module_backend_init(ctx, "cuda", index, out);
}

bool hwa__backend_module_probe(const char *prefix, char *path, size_t path_cap, int *n_devices, char *why,
                               size_t why_cap) {
    *n_devices = 0;
    const hwa_backend_module *m = hwa__backend_module_get(prefix, path, path_cap, why, why_cap);
    if (!m) return false;
    const int n = m->device_count(why, why_cap);
    *n_devices = n > 0 ? n : 0;
    if (n > 0 && why_cap) why[0] = '\0';
    return true;
}
