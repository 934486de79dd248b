/* Where the probe looks for an accelerator runtime library. */
#include <string.h>
#include <sys/stat.h>

#include "hw/hw_internal.h"

void hwa__lib_path(const char *override_opt, const char *env, const char *soname, char *buf, size_t cap) {
    const char *o = override_opt ? override_opt : getenv(env);
    if (!o || !*o) {
        hwa__strlcpy(buf, soname, cap);
        return;
    }
    struct stat st;
    if (stat(o, &st) == 0 && S_ISDIR(st.st_mode)) {
        int n = snprintf(buf, cap, "%s/%s", o, soname);
        if (n < 0 || (size_t)n >= cap) hwa__strlcpy(buf, o, cap); /* dlopen of a directory fails: none found */
        return;
    }
    hwa__strlcpy(buf, o, cap);
}
