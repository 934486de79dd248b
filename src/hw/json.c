/* The passport as JSON; docs/passport.schema.json is its contract. Unknown
 * values are null rather than a sentinel number. */
#include <string.h>

#include "hw/hw_internal.h"

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>

#define PASSPORT_SCHEMA_VERSION 1

/* json_object_set_new that remembers a failure. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok) {
    if (!v || json_object_set_new(obj, key, v) != 0) *ok = false;
}

static json_t *int_or_null(int64_t v, int64_t unknown_below) {
    return v < unknown_below ? json_null() : json_integer((json_int_t)v);
}

static json_t *num_or_null(double v) { return v < 0 ? json_null() : json_real(v); }

/* A string from a driver or a file; bytes that are not valid UTF-8 become '?'. */
static json_t *text(const char *s) {
    json_t *v = json_string(s);
    if (v) return v;
    char buf[512];
    size_t i = 0;
    for (; s[i] && i < sizeof buf - 1; i++) buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    buf[i] = '\0';
    return json_string(buf);
}

static json_t *str_or_null(const char *s) { return s[0] ? text(s) : json_null(); }

static json_t *cpu_json(const hwa_cpu_info *c, bool *ok) {
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "arch", json_string(c->arch), ok);
    put(o, "vendor", str_or_null(c->vendor), ok);
    put(o, "model_name", str_or_null(c->model_name), ok);
    put(o, "family", int_or_null(c->family, 0), ok);
    put(o, "model", int_or_null(c->model, 0), ok);
    put(o, "stepping", int_or_null(c->stepping, 0), ok);
    json_t *f = json_array();
    for (int i = 0; f && i < c->n_features; i++)
        if (json_array_append_new(f, json_string(c->features[i])) != 0) *ok = false;
    put(o, "features", f, ok);
    put(o, "sockets", int_or_null(c->sockets, 1), ok);
    put(o, "physical_cores", int_or_null(c->physical_cores, 1), ok);
    put(o, "logical_cpus", int_or_null(c->logical_cpus, 1), ok);
    put(o, "numa_nodes", int_or_null(c->numa_nodes, 1), ok);
    json_t *caches = json_array();
    for (int i = 0; caches && i < c->n_caches; i++) {
        const hwa_cache_level *k = &c->caches[i];
        json_t *e = json_pack("{s:i, s:s, s:I, s:i, s:i}", "level", k->level, "type", k->type, "size_bytes",
                              (json_int_t)k->size_bytes, "instances", k->instances, "shared_by", k->shared_by);
        if (!e || json_array_append_new(caches, e) != 0) *ok = false;
    }
    put(o, "caches", caches, ok);
    json_t *mem = json_object();
    if (mem) {
        put(mem, "total_bytes", int_or_null(c->mem_total_bytes, 0), ok);
        put(mem, "available_bytes", int_or_null(c->mem_available_bytes, 0), ok);
    }
    put(o, "memory", mem, ok);
    json_t *cg = json_object();
    if (cg) {
        put(cg, "version", json_integer(c->cgroup_version), ok);
        put(cg, "memory_max_bytes", int_or_null(c->cgroup_memory_max_bytes, 0), ok);
        put(cg, "cpu_limit", c->cgroup_cpu_limit > 0 ? json_real(c->cgroup_cpu_limit) : json_null(), ok);
    }
    put(o, "cgroup", cg, ok);
    json_t *aff = json_object();
    if (aff) {
        put(aff, "cpus", int_or_null(c->affinity_cpus, 1), ok);
        put(aff, "list", str_or_null(c->affinity_list), ok);
    }
    put(o, "affinity", aff, ok);
    put(o, "amx_permitted", json_boolean(c->amx_permitted), ok);
    return o;
}

static json_t *device_json(const hwa_device_info *d, bool *ok) {
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "id", json_string(d->id), ok);
    put(o, "kind", json_string(hwa_hw_kind_name(d->kind)), ok);
    put(o, "type", json_string(d->type), ok);
    put(o, "name", text(d->name), ok);
    put(o, "vendor", str_or_null(d->vendor), ok);
    put(o, "platform", str_or_null(d->platform), ok);
    put(o, "driver", str_or_null(d->driver), ok);
    put(o, "compute_units", int_or_null(d->compute_units, 1), ok);
    put(o, "clock_mhz", int_or_null(d->clock_mhz, 1), ok);
    put(o, "memory_bytes", int_or_null(d->memory_bytes, 0), ok);
    put(o, "max_alloc_bytes", int_or_null(d->max_alloc_bytes, 0), ok);
    put(o, "free_memory_bytes", int_or_null(d->free_memory_bytes, 0), ok);
    put(o, "fp16", json_boolean(d->fp16), ok);
    put(o, "fp64", json_boolean(d->fp64), ok);

    json_t *peak = json_object(), *ridge = json_object(), *fma = json_object();
    double bw = d->bandwidth.triad_gbs;
    for (int t = 0; peak && ridge && fma && t < HWA_DTYPE_COUNT; t++) {
        if (d->fma_peak_gflops[t] > 0) put(fma, hwa_dtype_name((hwa_dtype)t), json_real(d->fma_peak_gflops[t]), ok);
        if (d->peak_gflops[t] <= 0) continue;
        put(peak, hwa_dtype_name((hwa_dtype)t), json_real(d->peak_gflops[t]), ok);
        if (bw > 0) put(ridge, hwa_dtype_name((hwa_dtype)t), json_real(d->peak_gflops[t] / bw), ok);
    }
    put(o, "peak_gflops", peak, ok);
    put(o, "peak_method", str_or_null(d->peak_method), ok);
    put(o, "fma_peak_gflops", fma, ok);
    put(o, "bandwidth_gbs", bw > 0 ? json_real(bw) : json_null(), ok);
    put(o, "bandwidth",
        bw > 0 ? json_pack("{s:f, s:f, s:f, s:I}", "read", d->bandwidth.read_gbs, "copy", d->bandwidth.copy_gbs,
                           "triad", d->bandwidth.triad_gbs, "array_bytes", (json_int_t)d->bandwidth.array_bytes)
               : json_null(),
        ok);
    put(o, "ridge_flop_per_byte", ridge, ok);
    put(o, "transfer_gbs",
        d->h2d_gbs > 0 ? json_pack("{s:f, s:f}", "to_device", d->h2d_gbs, "from_device", d->d2h_gbs) : json_null(), ok);
    put(o, "launch_us", d->launch_us > 0 ? json_real(d->launch_us) : json_null(), ok);
    put(o, "calibration_cached", json_boolean(d->calibration_cached), ok);
    if (d->kind == HWA_HW_PJRT) {
        put(o, "pjrt_id", json_integer(d->pjrt_id), ok);
        put(o, "pjrt_attributes", json_string(d->pjrt_attributes), ok);
    }
    if (d->kind == HWA_HW_CUDA) {
        char cc[16];
        snprintf(cc, sizeof cc, "%d.%d", d->cc_major, d->cc_minor);
        put(o, "compute_capability", json_string(cc), ok);
        put(o, "pci_bus_id", str_or_null(d->pci_bus_id), ok);
        json_t *tel = json_object();
        if (tel) {
            put(tel, "power_w", num_or_null(d->power_w), ok);
            put(tel, "power_limit_w", num_or_null(d->power_limit_w), ok);
            put(tel, "energy_j", num_or_null(d->energy_j), ok);
            put(tel, "temperature_c", num_or_null(d->temperature_c), ok);
            put(tel, "sm_clock_mhz", int_or_null(d->sm_clock_mhz, 0), ok);
            put(tel, "mem_clock_mhz", int_or_null(d->mem_clock_mhz, 0), ok);
        }
        put(o, "telemetry", tel, ok);
    }
    return o;
}

hwa_status hwa_passport_to_json(const hwa_passport *p, char **out) {
    if (!p || !out) return hwa__err(NULL, HWA_E_MISUSE, "passport to JSON: NULL argument");
    *out = NULL;
    bool ok = true;
    json_t *root = json_object();
    if (!root) return hwa__err(NULL, HWA_E_NOMEM, "passport to JSON: out of memory");
    put(root, "schema_version", json_integer(PASSPORT_SCHEMA_VERSION), &ok);
    put(root, "hwadapt_version", json_string(HWA_VERSION_STRING), &ok);
    put(root, "fingerprint", json_string(p->fingerprint), &ok);
    put(root, "cpu", cpu_json(&p->cpu, &ok), &ok);
    json_t *devs = json_array();
    for (int i = 0; devs && i < p->n_devices; i++)
        if (json_array_append_new(devs, device_json(&p->devices[i], &ok)) != 0) ok = false;
    put(root, "devices", devs, &ok);
    json_t *rts = json_array();
    for (int i = 0; rts && i < p->n_runtimes; i++) {
        const hwa_runtime_info *r = &p->runtimes[i];
        json_t *e = json_pack("{s:s, s:s, s:b, s:i, s:o}", "name", r->name, "library", r->library, "loaded", r->loaded,
                              "devices", r->n_devices, "note", str_or_null(r->note));
        if (!e || json_array_append_new(rts, e) != 0) ok = false;
    }
    put(root, "runtimes", rts, &ok);
    json_t *meters = json_array();
    for (int i = 0; meters && i < p->n_meters; i++) {
        const hwa_meter_info *m = &p->meters[i];
        json_t *e = json_pack("{s:s, s:s, s:s}", "name", m->name, "kind", m->kind, "domain", m->domain);
        if (!e || json_array_append_new(meters, e) != 0) ok = false;
    }
    put(root, "power_meters", meters, &ok);
    json_t *warn = json_array();
    for (int i = 0; warn && i < p->n_warnings; i++)
        if (json_array_append_new(warn, json_string(p->warnings[i])) != 0) ok = false;
    put(root, "warnings", warn, &ok);
    char *s = ok ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(root);
    if (!s) return hwa__err(NULL, HWA_E_NOMEM, "passport to JSON: out of memory or invalid UTF-8 in a device string");
    *out = s;
    return HWA_OK;
}

#else

hwa_status hwa_passport_to_json(const hwa_passport *p, char **out) {
    (void)p;
    if (out) *out = NULL;
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "passport to JSON: this build has no JSON support (jansson)");
}

#endif
