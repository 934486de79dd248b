/* Finding and opening loadable modules (module.h). */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/module.h"

void *hwa__module_open(const char *soname, const char *env_var, int flags, char *path, size_t path_cap, char *why,
                       size_t why_cap) {
    char cand[3][4200];
    int n = 0;
    const char *env = env_var ? getenv(env_var) : NULL;
    if (env && *env) {
        snprintf(cand[n++], sizeof cand[0], "%s", env);
    } else {
        char exe[4096];
        const ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (k > 0) {
            exe[k] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash) *slash = '\0';
            snprintf(cand[n++], sizeof cand[0], "%s/%s", exe, soname);
            snprintf(cand[n++], sizeof cand[0], "%s/../lib/hwadapt/%s", exe, soname);
        }
        snprintf(cand[n++], sizeof cand[0], "%s", soname);
    }
    if (why_cap) why[0] = '\0';
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        void *h = dlopen(cand[i], flags);
        if (h) {
            if (path_cap) snprintf(path, path_cap, "%s", cand[i]);
            return h;
        }
        const char *e = dlerror();
        /* a path that holds no file, or a name the loader's search does not
         * find, is not worth a word; a file that does not load is */
        const bool is_path = strchr(cand[i], '/') != NULL;
        if (is_path ? access(cand[i], F_OK) != 0 : (e && strstr(e, soname) == e)) continue;
        if (off < why_cap)
            off += (size_t)snprintf(why + off, why_cap - off, "%s%.300s (%.300s)", i ? "; " : "", cand[i],
                                    e ? e : "not found");
    }
    if (path_cap) path[0] = '\0';
    return NULL;
}
