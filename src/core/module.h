/* Finding and opening hwadapt's loadable modules (libhwadapt_mpi.so,
 * libhwadapt_cuda.so): shared objects built with hwadapt for what needs a
 * runtime that libhwadapt and the hwadapt command must not link. Not a
 * published API. */
#ifndef HWADAPT_CORE_MODULE_H
#define HWADAPT_CORE_MODULE_H

#include <stddef.h>

/* Opens module soname with dlopen(flags): the path in $env_var when that is
 * set and not empty (and nothing else), else soname beside the running
 * executable, else in ../lib/hwadapt/ from it (where `make install` puts
 * modules), else wherever the dynamic loader's search finds it. Returns the
 * handle and writes the path opened into path (cap path_cap); NULL with
 * the loader's reason for each file that is there but does not load (a
 * missing dependency, another architecture) in why (cap why_cap): "" when
 * there is no such module anywhere it looked.
 * Thread-safe as dlopen is. */
void *hwa__module_open(const char *soname, const char *env_var, int flags, char *path, size_t path_cap, char *why,
                       size_t why_cap);

#endif
