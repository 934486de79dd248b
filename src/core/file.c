/* Atomic file replacement and read-only mappings. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

static atomic_uint tmp_counter;

/* Fault injection for crash-safety tests: HWA_TEST_KILL_AT names a point of
 * an atomic write where the process kills itself with SIGKILL: "byte:N" (after
 * N bytes of the temporary file), "fsync" (all bytes written, before the
 * fsync), "rename" (before the rename) or "dirsync" (after the rename, before
 * the directory's fsync). Unset in normal use; never set by the library. */
static const char *kill_point(void) {
    const char *s = getenv("HWA_TEST_KILL_AT");
    return s && s[0] ? s : NULL;
}

static void maybe_kill(const char *point) {
    const char *k = kill_point();
    if (k && !strcmp(k, point)) raise(SIGKILL);
}

typedef struct kill_cookie { int fd; long long left; } kill_cookie;

static ssize_t kill_cookie_write(void *c, const char *buf, size_t n) {
    kill_cookie *k = c;
    size_t now = (long long)n > k->left ? (size_t)k->left : n;
    size_t done = 0;
    while (done < now) {
        ssize_t w = write(k->fd, buf + done, now - done);
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    k->left -= (long long)now;
    if (now < n) raise(SIGKILL);
    return (ssize_t)n;
}

static int kill_cookie_close(void *c) {
    kill_cookie *k = c;
    int rc = close(k->fd);
    free(k);
    return rc;
}

/* A FILE* on fd that kills the process after `bytes` bytes. */
static FILE *open_killing(int fd, long long bytes) {
    kill_cookie *k = malloc(sizeof *k);
    if (!k) return NULL;
    k->fd = fd;
    k->left = bytes;
    cookie_io_functions_t io = {.read = NULL, .write = kill_cookie_write, .seek = NULL, .close = kill_cookie_close};
    FILE *f = fopencookie(k, "wb", io);
    if (!f) free(k);
    return f;
}

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
    const char *kp = kill_point();
    FILE *f = kp && !strncmp(kp, "byte:", 5) ? open_killing(fd, atoll(kp + 5)) : fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return hwa__err(NULL, HWA_E_IO, "%s: %s", tmp, strerror(e));
    }
    hwa_status st = fn(ud, f);
    if (st == HWA_OK && fflush(f) != 0) st = hwa__err(NULL, HWA_E_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (st == HWA_OK) maybe_kill("fsync");
    if (st == HWA_OK && fsync(fd) != 0) st = hwa__err(NULL, HWA_E_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == HWA_OK) st = hwa__err(NULL, HWA_E_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == HWA_OK) maybe_kill("rename");
    if (st == HWA_OK && rename(tmp, path) != 0)
        st = hwa__err(NULL, HWA_E_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != HWA_OK) {
        unlink(tmp);
        return st;
    }
    maybe_kill("dirsync");
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

hwa_status hwa__cache_dir(const char *override, char *buf, size_t cap) {
    int n;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (override && *override) n = snprintf(buf, cap, "%s", override);
    else if (xdg && xdg[0] == '/') n = snprintf(buf, cap, "%s/hwadapt", xdg);
    else if (home && home[0] == '/') n = snprintf(buf, cap, "%s/.cache/hwadapt", home);
    else return hwa__err(NULL, HWA_E_NOTFOUND, "no cache directory: neither XDG_CACHE_HOME nor HOME is set");
    if (n < 0 || (size_t)n >= cap) return hwa__err(NULL, HWA_E_INVALID, "cache directory path too long");
    return HWA_OK;
}

hwa_status hwa__make_dirs(const char *path) {
    char tmp[4096];
    const int n = snprintf(tmp, sizeof tmp, "%s", path);
    if (n < 0 || (size_t)n >= sizeof tmp) return hwa__err(NULL, HWA_E_INVALID, "%s: path too long", path);
    for (char *s = tmp + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return hwa__err(NULL, HWA_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        *s = c;
        if (!c) break;
    }
    return HWA_OK;
}
