/* The calibration cache: one JSON file per hardware fingerprint, peak method
 * and format version under $XDG_CACHE_HOME/hwadapt (or ~/.cache/hwadapt),
 * written atomically: calibration-<fingerprint>-<method>-v<version>.json.
 * With the method and version in the key, a cache of another method (an
 * old "fma-loop" one when the matmul benchmark is set) or format is never
 * read: the machine is measured again. A file that does not parse or holds
 * values out of range is ignored with a warning and replaced by a fresh
 * measurement. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "hw/hw_internal.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>
#endif

/* HWA__CALIBRATION_VERSION (hw_internal.h) changes when the measurement or
 * the file changes meaning: old caches then miss. */
#define CALIBRATION_VERSION HWA__CALIBRATION_VERSION

/* ---- fingerprint ----------------------------------------------------------------- */

static void fnv(uint64_t *h, const char *s) {
    for (; *s; s++) {
        *h ^= (unsigned char)*s;
        *h *= UINT64_C(1099511628211);
    }
    *h ^= 0xff; /* field separator */
    *h *= UINT64_C(1099511628211);
}

void hwa__passport_fingerprint(hwa_passport *p) {
    const hwa_cpu_info *c = &p->cpu;
    uint64_t h = UINT64_C(14695981039346656037);
    char buf[256];
    fnv(&h, c->arch);
    fnv(&h, c->vendor);
    fnv(&h, c->model_name);
    snprintf(buf, sizeof buf, "%d/%d/%d %d %d %d %.2f %lld %s", c->family, c->model, c->stepping, c->physical_cores,
             c->logical_cpus, c->affinity_cpus, c->cgroup_cpu_limit, (long long)(c->mem_total_bytes >> 30),
             HWA_VERSION_STRING);
    fnv(&h, buf);
    for (int i = 0; i < c->n_features; i++) fnv(&h, c->features[i]);
    for (int i = 0; i < c->n_caches; i++) {
        snprintf(buf, sizeof buf, "L%d %s %lld x%d", c->caches[i].level, c->caches[i].type,
                 (long long)c->caches[i].size_bytes, c->caches[i].instances);
        fnv(&h, buf);
    }
    snprintf(p->fingerprint, sizeof p->fingerprint, "%016llx", (unsigned long long)h);
}

#ifdef HWA_HAVE_JANSSON

/* ---- location ---------------------------------------------------------------------- */

static hwa_status cache_dir(const hwa_probe_opts *opts, char *buf, size_t cap) {
    return hwa__cache_dir(opts->cache_dir, buf, cap);
}

static hwa_status cache_file(const char *fp, const hwa_probe_opts *opts, const char *method, char *buf, size_t cap) {
    char dir[3500];
    hwa_status st = cache_dir(opts, dir, sizeof dir);
    if (st != HWA_OK) return st;
    int n = snprintf(buf, cap, "%s/" HWA__CALIBRATION_FILE_FMT, dir, fp, method, CALIBRATION_VERSION);
    if (n < 0 || (size_t)n >= cap) return hwa__err(NULL, HWA_E_INVALID, "cache path too long");
    return HWA_OK;
}

/* A finite, non-negative number below 1e9 from a JSON value. */
static bool get_rate(json_t *obj, const char *key, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!v) return false;
    if (!json_is_number(v)) return false;
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0 || x >= 1e9) return false;
    *out = x;
    return true;
}

/* An object keyed by dtype name into out[dtype]; returns why not, or NULL. */
static const char *get_rates(json_t *obj, double out[HWA_DTYPE_COUNT], const char *bad) {
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        hwa_dtype dt;
        if (hwa_dtype_from_name(key, &dt) != HWA_OK || !get_rate(obj, key, &out[dt])) return bad;
    }
    return NULL;
}

static const char *parse_cache(json_t *root, const char *fp_want, const char *method, hwa_device_info *d, bool *stale) {
    *stale = false;
    if (!json_is_object(root)) return "not a JSON object";
    json_t *ver = json_object_get(root, "version"), *fp = json_object_get(root, "fingerprint");
    json_t *m = json_object_get(root, "method"), *peak = json_object_get(root, "peak_gflops");
    json_t *fma = json_object_get(root, "fma_peak_gflops");
    json_t *bw = json_object_get(root, "bandwidth_gbs"), *ab = json_object_get(root, "array_bytes");
    if (!json_is_integer(ver) || !json_is_string(fp) || !json_is_string(m) || !json_is_object(peak) ||
        !json_is_object(fma) || !json_is_object(bw) || !json_is_integer(ab))
        return "a field is missing or has the wrong type";
    if (json_integer_value(ver) != CALIBRATION_VERSION || strcmp(json_string_value(fp), fp_want) ||
        strcmp(json_string_value(m), method)) {
        *stale = true;
        return "made for other hardware or another method";
    }
    double peaks[HWA_DTYPE_COUNT] = {0}, fma_peaks[HWA_DTYPE_COUNT] = {0};
    const char *why = get_rates(peak, peaks, "peak_gflops has an unknown dtype or a value out of range");
    if (!why) why = get_rates(fma, fma_peaks, "fma_peak_gflops has an unknown dtype or a value out of range");
    if (why) return why;
    hwa_bandwidth b = {0};
    if (!get_rate(bw, "read", &b.read_gbs) || !get_rate(bw, "copy", &b.copy_gbs) || !get_rate(bw, "triad", &b.triad_gbs))
        return "bandwidth_gbs needs read, copy and triad in range";
    json_int_t bytes = json_integer_value(ab);
    if (bytes < 0) return "array_bytes is negative";
    /* a device's transfers and launch latency (OpenCL), when measured */
    json_t *xfer = json_object_get(root, "transfer_gbs"), *lat = json_object_get(root, "launch_us");
    double h2d = 0, d2h = 0, launch = 0;
    if (xfer && (!json_is_object(xfer) || !get_rate(xfer, "to_device", &h2d) || !get_rate(xfer, "from_device", &d2h)))
        return "transfer_gbs needs to_device and from_device in range";
    if (lat && !get_rate(root, "launch_us", &launch)) return "launch_us is out of range";
    b.array_bytes = (int64_t)bytes;
    memcpy(d->peak_gflops, peaks, sizeof peaks);
    memcpy(d->fma_peak_gflops, fma_peaks, sizeof fma_peaks);
    d->bandwidth = b;
    d->h2d_gbs = h2d, d->d2h_gbs = d2h, d->launch_us = launch;
    hwa__strlcpy(d->peak_method, method, sizeof d->peak_method);
    return NULL;
}

hwa_status hwa__calibrate_load(hwa_passport *p, const hwa_probe_opts *opts, const char *fp, const char *method,
                               hwa_device_info *d) {
    char path[4096];
    hwa_status st = cache_file(fp, opts, method, path, sizeof path);
    if (st != HWA_OK) return st;
    hwa__mapped_file mf;
    st = hwa__map_file(path, &mf);
    if (st != HWA_OK) return st;
    json_error_t err;
    json_t *root = mf.size ? json_loadb(mf.data, mf.size, 0, &err) : NULL;
    if (!mf.size) snprintf(err.text, sizeof err.text, "empty file");
    hwa__unmap_file(&mf);
    const char *why = err.text;
    bool stale = false;
    if (root) {
        why = parse_cache(root, fp, method, d, &stale);
        json_decref(root);
        if (!why) return HWA_OK;
    }
    if (stale) return HWA_E_NOTFOUND;
    hwa__passport_warn(p, "ignoring the corrupt calibration cache %s (%s); measuring again", path, why);
    return hwa__err(NULL, HWA_E_FORMAT, "%s: %s", path, why);
}

void hwa__calibrate_save(hwa_passport *p, const hwa_probe_opts *opts, const char *fp, const char *method,
                         const hwa_device_info *d) {
    char path[4096], dir[3500];
    if (cache_file(fp, opts, method, path, sizeof path) != HWA_OK || cache_dir(opts, dir, sizeof dir) != HWA_OK) {
        hwa__passport_warn(p, "calibration not cached: %s", hwa_last_error());
        return;
    }
    json_t *peak = json_object(), *fma = json_object();
    for (int t = 0; t < HWA_DTYPE_COUNT; t++) {
        if (d->peak_gflops[t] > 0) json_object_set_new(peak, hwa_dtype_name((hwa_dtype)t), json_real(d->peak_gflops[t]));
        if (d->fma_peak_gflops[t] > 0)
            json_object_set_new(fma, hwa_dtype_name((hwa_dtype)t), json_real(d->fma_peak_gflops[t]));
    }
    json_t *root = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:o, s:{s:f, s:f, s:f}, s:I}", "format",
                             "hwadapt-calibration", "version", CALIBRATION_VERSION, "fingerprint", fp,
                             "method", method, "device", d->id, "peak_gflops", peak, "fma_peak_gflops", fma,
                             "bandwidth_gbs", "read", d->bandwidth.read_gbs, "copy",
                             d->bandwidth.copy_gbs, "triad", d->bandwidth.triad_gbs, "array_bytes",
                             (json_int_t)d->bandwidth.array_bytes);
    if (root && (d->h2d_gbs > 0 || d->launch_us > 0)) {
        json_object_set_new(root, "transfer_gbs",
                            json_pack("{s:f, s:f}", "to_device", d->h2d_gbs, "from_device", d->d2h_gbs));
        json_object_set_new(root, "launch_us", json_real(d->launch_us));
    }
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    hwa_status st = text ? hwa__make_dirs(dir) : hwa__err(NULL, HWA_E_NOMEM, "out of memory");
    if (st == HWA_OK) st = hwa__atomic_write_bytes(path, text, strlen(text));
    if (st != HWA_OK) hwa__passport_warn(p, "calibration not cached: %s", hwa_last_error());
    free(text);
    hwa_clear_error();
}

#else

hwa_status hwa__calibrate_load(hwa_passport *p, const hwa_probe_opts *opts, const char *fp, const char *method,
                               hwa_device_info *d) {
    (void)p, (void)opts, (void)fp, (void)method, (void)d;
    return HWA_E_NOTFOUND;
}

void hwa__calibrate_save(hwa_passport *p, const hwa_probe_opts *opts, const char *fp, const char *method,
                         const hwa_device_info *d) {
    (void)opts, (void)fp, (void)method, (void)d;
    hwa__passport_warn(p, "calibration not cached: this build has no JSON support (jansson)");
}

#endif
