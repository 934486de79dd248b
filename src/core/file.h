/* Files: atomic replacement and whole-file mapping. Used by every writer
 * whose output matters (checkpoints, reports, caches) and every reader of
 * files from outside. */
#ifndef HWADAPT_CORE_FILE_H
#define HWADAPT_CORE_FILE_H

#include <stddef.h>

#include "hwadapt/status.h"

/* Writes the file at path atomically: the bytes go to a temporary file in the
 * same directory ("<path>.tmp.<pid>.<n>"), which is fsynced, renamed over
 * path, and the directory fsynced. A crash at any point leaves either the old
 * file or the new one, never a mix; a leftover temporary is never read back.
 * write_fn is called once with an open FILE* and returns HWA_OK or an error. */
typedef hwa_status (*hwa__write_fn)(void *ud, void *file /* FILE* */);
hwa_status hwa__atomic_write(const char *path, hwa__write_fn fn, void *ud);
/* The same for a byte string already in memory. */
hwa_status hwa__atomic_write_bytes(const char *path, const void *data, size_t n);

/* The directory of hwadapt's caches: override when it is non-NULL and not
 * empty, else $XDG_CACHE_HOME/hwadapt, else $HOME/.cache/hwadapt (only
 * absolute variables count). HWA_E_NOTFOUND when there is none. */
hwa_status hwa__cache_dir(const char *override, char *buf, size_t cap);
/* mkdir -p: path and every missing parent (0755). */
hwa_status hwa__make_dirs(const char *path);

/* A read-only mapping of a whole file. An empty file maps to data == NULL,
 * size == 0. Errors name the path and the reason (strerror). */
typedef struct hwa__mapped_file {
    const void *data;
    size_t size;
} hwa__mapped_file;
hwa_status hwa__map_file(const char *path, hwa__mapped_file *out);
void hwa__unmap_file(hwa__mapped_file *m); /* zeroes *m; a zeroed struct is a no-op */

#endif
