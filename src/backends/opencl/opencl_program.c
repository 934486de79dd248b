/* The opencl backend's kernel program: built from the embedded sources of
 * backends/gpu/kernels at first use, its binary cached on disk under
 * <cache dir>/opencl/<key>.bin, where the key hashes the device's name, its
 * driver version, the build options and the source. A cached binary that
 * does not validate or does not load is rebuilt from source, with a
 * warning, and replaced. Files are replaced atomically (temporary file and
 * rename), so a reader never sees half of one. */
#include <string.h>

#include "backends/opencl/opencl_internal.h"
#include "core/file.h"

#define BUILD_OPTIONS "-cl-std=CL1.2"
#define CACHE_MAGIC "HWACLBIN"
#define CACHE_FORMAT 1u
#define HEADER_BYTES 40 /* magic 8, format 4, reserved 4, key 8, size 8, checksum 8 */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * UINT64_C(0x100000001b3);
    return (h ^ 0xff) * UINT64_C(0x100000001b3); /* a field separator */
}

static uint64_t cache_key(const hwa__cl_dev *d) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv1a(h, d->name, strlen(d->name));
    h = fnv1a(h, d->driver, strlen(d->driver));
    h = fnv1a(h, BUILD_OPTIONS, sizeof BUILD_OPTIONS - 1);
    return fnv1a(h, hwa__gpu_kernels_src, hwa__gpu_kernels_len);
}

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static hwa_status make_kernels(hwa_ctx *ctx, hwa__cl_dev *d, cl_program prog, cl_kernel k[HWA__GPUK_COUNT]) {
    for (int i = 0; i < HWA__GPUK_COUNT; i++) {
        const char *name = hwa__gpu_kernel_str((hwa__gpu_kernel)i);
        cl_int rc = CL_SUCCESS;
        k[i] = d->cl.CreateKernel(prog, name, &rc);
        if (!k[i] || rc != CL_SUCCESS) {
            for (int j = 0; j < i; j++) d->cl.ReleaseKernel(k[j]);
            return hwa__cl_fail(ctx, d, name, rc ? rc : -48 /* CL_INVALID_KERNEL */);
        }
    }
    return HWA_OK;
}

/* The program from a cached binary, or NULL with why set. */
static cl_program from_cache(hwa__cl_dev *d, const char *path, uint64_t key, char *why, size_t cap) {
    hwa__mapped_file m = {0};
    if (hwa__map_file(path, &m) != HWA_OK) return NULL; /* absent: not corrupt */
    const unsigned char *p = m.data;
    cl_program prog = NULL;
    if (m.size < HEADER_BYTES || memcmp(p, CACHE_MAGIC, 8) != 0) {
        snprintf(why, cap, "not a kernel cache file");
    } else if (get64(p + 8) != CACHE_FORMAT || get64(p + 16) != key) {
        snprintf(why, cap, "written for another format or key");
    } else if (get64(p + 24) != m.size - HEADER_BYTES) {
        snprintf(why, cap, "%zu bytes, its header says %llu", m.size - HEADER_BYTES, (unsigned long long)get64(p + 24));
    } else if (fnv1a(UINT64_C(0xcbf29ce484222325), p + HEADER_BYTES, m.size - HEADER_BYTES) != get64(p + 32)) {
        snprintf(why, cap, "its checksum does not match");
    } else {
        const size_t n = m.size - HEADER_BYTES;
        const unsigned char *bin = p + HEADER_BYTES;
        cl_int rc = CL_SUCCESS, bin_rc = CL_SUCCESS;
        prog = d->cl.CreateProgramWithBinary(d->cx, 1, &d->dev, &n, &bin, &bin_rc, &rc);
        if (prog && rc == CL_SUCCESS && bin_rc == CL_SUCCESS)
            rc = d->cl.BuildProgram(prog, 1, &d->dev, BUILD_OPTIONS, NULL, NULL);
        if (!prog || rc != CL_SUCCESS || bin_rc != CL_SUCCESS) {
            char b1[48], b2[48];
            snprintf(why, cap, "the driver rejects it (%s, %s)", hwa__cl_error_name(rc, b1, sizeof b1),
                     hwa__cl_error_name(bin_rc, b2, sizeof b2));
            if (prog) d->cl.ReleaseProgram(prog);
            prog = NULL;
        }
    }
    hwa__unmap_file(&m);
    return prog;
}

/* Writes prog's binary to path (best effort: a cache that cannot be written
 * costs the next start a build, nothing else). */
static void to_cache(hwa__cl_dev *d, cl_program prog, const char *dir, const char *path, uint64_t key) {
    size_t n = 0;
    if (d->cl.GetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) != CL_SUCCESS || n == 0 ||
        n > ((size_t)1 << 30))
        return;
    unsigned char *buf = malloc(HEADER_BYTES + n);
    if (!buf) return;
    unsigned char *bin = buf + HEADER_BYTES;
    if (d->cl.GetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
        memcpy(buf, CACHE_MAGIC, 8);
        put64(buf + 8, CACHE_FORMAT);
        put64(buf + 16, key);
        put64(buf + 24, n);
        put64(buf + 32, fnv1a(UINT64_C(0xcbf29ce484222325), bin, n));
        if (hwa__make_dirs(dir) != HWA_OK || hwa__atomic_write_bytes(path, buf, HEADER_BYTES + n) != HWA_OK)
            fprintf(stderr, "hwadapt: warning: %s: the kernel cache cannot be written: %s\n", d->spec,
                    hwa_last_error());
    }
    free(buf);
}

/* Builds from source; on a compile failure the error carries the log. */
static hwa_status from_source(hwa_ctx *ctx, hwa__cl_dev *d, cl_program *out) {
    const char *src = hwa__gpu_kernels_src;
    const size_t len = hwa__gpu_kernels_len;
    cl_int rc = CL_SUCCESS;
    cl_program prog = d->cl.CreateProgramWithSource(d->cx, 1, &src, &len, &rc);
    if (!prog || rc != CL_SUCCESS) return hwa__cl_fail(ctx, d, "clCreateProgramWithSource", rc);
    rc = d->cl.BuildProgram(prog, 1, &d->dev, BUILD_OPTIONS, NULL, NULL);
    if (rc != CL_SUCCESS) {
        char log[4096] = "";
        size_t n = 0;
        if (d->cl.GetProgramBuildInfo(prog, d->dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, &n) != CL_SUCCESS)
            snprintf(log, sizeof log, "(no build log)");
        log[sizeof log - 1] = '\0';
        d->cl.ReleaseProgram(prog);
        char b[48];
        fprintf(stderr, "hwadapt: %s: the device kernels do not compile; build log:\n%s\n", d->spec, log);
        return hwa__err(ctx, HWA_E_DEVICE, "%s (%s): clBuildProgram: %s: the device kernels do not compile: %s",
                        d->spec, d->name, hwa__cl_error_name(rc, b, sizeof b), log);
    }
    *out = prog;
    return HWA_OK;
}

hwa_status hwa__cl_program_get(hwa_ctx *ctx, hwa__cl_dev *d, cl_program *prog, cl_kernel k[HWA__GPUK_COUNT]) {
    const uint64_t key = cache_key(d);
    char dir[3800], path[4096];
    bool cache = hwa__cache_dir(NULL, dir, sizeof dir - 8) == HWA_OK;
    if (cache) {
        strcat(dir, "/opencl");
        snprintf(path, sizeof path, "%s/%016llx.bin", dir, (unsigned long long)key);
    }
    char why[160] = "";
    cl_program p = cache ? from_cache(d, path, key, why, sizeof why) : NULL;
    if (p && make_kernels(ctx, d, p, k) == HWA_OK) {
        *prog = p;
        return HWA_OK;
    }
    if (p) {
        snprintf(why, sizeof why, "its kernels cannot be made (%s)", hwa_ctx_last_error(ctx));
        d->cl.ReleaseProgram(p);
    }
    if (why[0]) fprintf(stderr, "hwadapt: warning: %s: the cached kernel binary %s is corrupt (%s); rebuilding it\n",
                        d->spec, path, why);
    hwa_status st = from_source(ctx, d, &p);
    if (st) return st;
    if ((st = make_kernels(ctx, d, p, k))) {
        d->cl.ReleaseProgram(p);
        return st;
    }
    if (cache) to_cache(d, p, dir, path, key);
    *prog = p;
    return HWA_OK;
}
