/* Atomic file replacement and read-only mappings. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

static atomic_uint tmp_counter;

static hwa_status fsync_dir_of(const char *path) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return hwa__err(NULL, HWA_E_INVALID, "%s: path too long", path);
    strcpy(buf, path);
    const char *dir = dirname(buf);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return hwa__err(NULL, HWA_E_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) return hwa__err(NULL, HWA_E_IO, "%s: fsync of directory: %s", dir, strerror(e));
    return HWA_OK;
}

hwa_status hwa__atomic_write(const char *path, hwa__write_fn fn, void *ud) {
    if (!path || !fn) return hwa__err(NULL, HWA_E_MISUSE, "atomic write: NULL path or writer");
    char tmp[4200];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
    if (n < 0 || (size_t)n >= sizeof tmp) return hwa__err(NULL, HWA_E_INVALID, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return hwa__err(NULL, HWA_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return hwa__err(NULL, HWA_E_IO, "%s: %s", tmp, strerror(e));
    }
    hwa_status st = fn(ud, f);
    if (st == HWA_OK && fflush(f) != 0) st = hwa__err(NULL, HWA_E_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (st == HWA_OK && fsync(fileno(f)) != 0) st = hwa__err(NULL, HWA_E_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == HWA_OK) st = hwa__err(NULL, HWA_E_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == HWA_OK && rename(tmp, path) != 0)
        st = hwa__err(NULL, HWA_E_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != HWA_OK) {
        unlink(tmp);
        return st;
    }
    return fsync_dir_of(path);
}

typedef struct bytes_ud { const void *data; size_t n; } bytes_ud;

static hwa_status write_bytes(void *ud, void *file) {
    bytes_ud *b = ud;
    if (b->n && fwrite(b->data, 1, b->n, (FILE *)file) != b->n)
        return hwa__err(NULL, HWA_E_IO, "write failed: %s", strerror(errno));
    return HWA_OK;
}

hwa_status hwa__atomic_write_bytes(const char *path, const void *data, size_t n) {
    bytes_ud b = {data, n};
    return hwa__atomic_write(path, write_bytes, &b);
}

hwa_status hwa__map_file(const char *path, hwa__mapped_file *out) {
    if (!path || !out) return hwa__err(NULL, HWA_E_MISUSE, "map file: NULL argument");
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hwa__err(NULL, errno == ENOENT ? HWA_E_NOTFOUND : HWA_E_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hwa__err(NULL, HWA_E_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hwa__err(NULL, HWA_E_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return HWA_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return hwa__err(NULL, HWA_E_IO, "%s: mmap failed: %s", path, strerror(e));
    out->data = p;
    out->size = (size_t)st.st_size;
    return HWA_OK;
}

void hwa__unmap_file(hwa__mapped_file *m) {
    if (m && m->data) munmap((void *)m->data, m->size);
    if (m) {
        m->data = NULL;
        m->size = 0;
    }
}
