/* The HTML report's inputs: bench reports, passports and training logs,
 * told apart by their content (html.h). Files are hostile: every field is
 * checked for its type, numbers that cannot be (negative throughput) are
 * dropped with a note rather than drawn, and a file that is none of the
 * three kinds is an error that names it. */
#include "bench/html.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/file.h"

void hwa__hr_note(hwa__hr_doc *doc, const char *fmt, ...) {
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    char *p = realloc(doc->notes, doc->notes_len + (size_t)n + 2);
    if (!p) return; /* a note lost to memory is not worth failing the report for */
    memcpy(p + doc->notes_len, line, (size_t)n);
    doc->notes_len += (size_t)n + 1;
    p[doc->notes_len - 1] = '\n';
    p[doc->notes_len] = 0;
    doc->notes = p;
}

void hwa__hr_free(hwa__hr_doc *doc) {
    if (!doc) return;
    for (int i = 0; i < doc->n_benches; i++) {
        free(doc->benches[i].rows);
        free(doc->benches[i].recs);
    }
    for (int i = 0; i < doc->n_trains; i++) free(doc->trains[i].ep);
    for (int i = 0; i < doc->n_plans; i++) {
        free(doc->plans[i].alts);
        free(doc->plans[i].meas);
    }
    for (int i = 0; i < doc->n_tunes; i++) {
        for (int k = 0; k < doc->tunes[i].n_lr; k++) free(doc->tunes[i].lr[k].pts);
        free(doc->tunes[i].trials);
    }
    free(doc->plans);
    free(doc->tunes);
    free(doc->pps);
    free(doc->benches);
    free(doc->trains);
    free(doc->notes);
    memset(doc, 0, sizeof *doc);
}

static void add_input(hwa__hr_doc *doc, const char *path, const char *kind) {
    size_t n = strlen(doc->inputs);
    snprintf(doc->inputs + n, sizeof doc->inputs - n, "%s%s (%s)", n ? "; " : "", path, kind);
}

/* Grows *arr (of *n elements of size sz) by one zeroed element. */
static void *grow(void *arr_ptr, int *n, size_t sz) {
    void **arr = arr_ptr;
    char *p = realloc(*arr, (size_t)(*n + 1) * sz);
    if (!p) return NULL;
    *arr = p;
    memset(p + (size_t)*n * sz, 0, sz);
    return p + (size_t)(*n)++ * sz;
}

#ifdef HWA_HAVE_JANSSON
#include <jansson.h>

/* ---- fields ------------------------------------------------------------ */

static void get_str(json_t *o, const char *key, char *buf, size_t cap) {
    const char *s = json_string_value(json_object_get(o, key));
    snprintf(buf, cap, "%s", s ? s : "");
}

/* A number that is missing, null or not a number: NAN. One the input
 * cannot have had (negative where only >= 0 makes sense): NAN and a note
 * naming where it was. */
static double get_num(hwa__hr_doc *doc, json_t *o, const char *key, const char *where) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return NAN;
    double x = json_number_value(v);
    if (!isfinite(x) || x < 0) {
        hwa__hr_note(doc, "%s: %s %g is not possible; left out", where, key, x);
        return NAN;
    }
    return x;
}

static int64_t get_int(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
}

/* ---- passports --------------------------------------------------------- */

static void load_device(hwa__hr_doc *doc, json_t *d, hwa__hr_device *dv, const char *where) {
    get_str(d, "id", dv->id, sizeof dv->id);
    get_str(d, "name", dv->name, sizeof dv->name);
    get_str(d, "kind", dv->kind, sizeof dv->kind);
    get_str(d, "type", dv->type, sizeof dv->type);
    get_str(d, "peak_method", dv->peak_method, sizeof dv->peak_method);
    dv->memory_bytes = get_int(d, "memory_bytes");
    char w[400];
    snprintf(w, sizeof w, "%s: device %s", where, dv->id);
    dv->bandwidth_gbs = get_num(doc, d, "bandwidth_gbs", w);
    const char *key;
    json_t *v;
    json_t *peaks = json_object_get(d, "peak_gflops");
    json_object_foreach(peaks, key, v) {
        double g = get_num(doc, peaks, key, w);
        if (isnan(g) || g == 0 || dv->n_peaks == HWA__HR_MAX_PEAKS) continue;
        snprintf(dv->peaks[dv->n_peaks].dtype, sizeof dv->peaks[0].dtype, "%s", key);
        dv->peaks[dv->n_peaks++].gflops = g;
    }
}

static void join_array(json_t *arr, const char *field, const char *sep, char *buf, size_t cap) {
    size_t i;
    json_t *v;
    buf[0] = 0;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(field ? json_object_get(v, field) : v);
        size_t n = strlen(buf);
        if (s) snprintf(buf + n, cap - n, "%s%s", n ? sep : "", s);
    }
}

/* A passport (docs/passport.schema.json): the same fingerprint twice is
 * kept once. Returns its index, -1 (with a note) when it is not one. */
static int load_passport(hwa__hr_doc *doc, json_t *root, const char *source) {
    json_t *cpu = json_object_get(root, "cpu"), *devs = json_object_get(root, "devices");
    if (!json_is_object(cpu) || !json_is_array(devs)) {
        hwa__hr_note(doc, "%s: the passport has no cpu or devices; left out", source);
        return -1;
    }
    char fp[32];
    get_str(root, "fingerprint", fp, sizeof fp);
    for (int i = 0; fp[0] && i < doc->n_pps; i++)
        if (!strcmp(doc->pps[i].fingerprint, fp)) return i;
    hwa__hr_passport *p = grow(&doc->pps, &doc->n_pps, sizeof *p);
    if (!p) return -1;
    snprintf(p->source, sizeof p->source, "%s", source);
    snprintf(p->fingerprint, sizeof p->fingerprint, "%s", fp);
    get_str(cpu, "model_name", p->cpu, sizeof p->cpu);
    get_str(cpu, "arch", p->arch, sizeof p->arch);
    get_str(cpu, "vendor", p->vendor, sizeof p->vendor);
    p->logical_cpus = (int)get_int(cpu, "logical_cpus");
    p->physical_cores = (int)get_int(cpu, "physical_cores");
    p->sockets = (int)get_int(cpu, "sockets");
    p->memory_bytes = get_int(json_object_get(cpu, "memory"), "total_bytes");
    join_array(json_object_get(cpu, "features"), NULL, " ", p->features, sizeof p->features);
    join_array(json_object_get(root, "power_meters"), "name", ", ", p->meters, sizeof p->meters);
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d) {
        if (p->n_devs == HWA__HR_MAX_DEVS) break;
        if (json_is_object(d)) load_device(doc, d, &p->devs[p->n_devs++], source);
    }
    return (int)(p - doc->pps);
}

/* ---- bench reports ----------------------------------------------------- */

static void load_latency(hwa__hr_doc *doc, json_t *lat, double out[5], const char *where) {
    static const char *const keys[5] = {"p50", "p90", "p99", "max", "mean"};
    for (int k = 0; k < 5; k++) out[k] = get_num(doc, lat, keys[k], where);
}

static void load_row(hwa__hr_doc *doc, json_t *o, hwa__hr_row *r, const char *where) {
    get_str(o, "workload", r->workload, sizeof r->workload);
    get_str(o, "device", r->device, sizeof r->device);
    get_str(o, "dtype", r->dtype, sizeof r->dtype);
    get_str(o, "scenario", r->scenario, sizeof r->scenario);
    get_str(o, "optimizer", r->optimizer, sizeof r->optimizer);
    get_str(o, "note", r->note, sizeof r->note);
    r->batch = get_int(o, "batch");
    r->threads = json_is_false(json_object_get(o, "threads_apply")) ? -1 : (int)get_int(o, "threads");
    r->skipped = json_is_true(json_object_get(o, "skipped"));
    r->sps = get_num(doc, o, "samples_per_s", where);
    r->gflops = get_num(doc, o, "gflops", where);
    r->gbps = get_num(doc, o, "gbps", where);
    r->pct = get_num(doc, o, "pct_of_peak", where);
    load_latency(doc, json_object_get(o, "latency_ms"), r->lat_ms, where);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "samples_per_s_reps"), i, v) {
        double x = json_number_value(v);
        if (json_is_number(v) && isfinite(x) && x > 0 && r->n_reps < HWA__HR_MAX_REPS) r->reps[r->n_reps++] = x;
    }
    json_t *sp = json_object_get(o, "speedup");
    r->speedup = get_num(doc, sp, "ratio", where);
    r->lo = get_num(doc, sp, "lo", where);
    r->hi = get_num(doc, sp, "hi", where);
    r->baseline_row = (int)get_int(sp, "baseline_row");
}

static void load_rec(hwa__hr_doc *doc, json_t *o, hwa__hr_rec *r, int n_rows, const char *where) {
    get_str(o, "workload", r->workload, sizeof r->workload);
    get_str(o, "verdict", r->verdict, sizeof r->verdict);
    get_str(o, "command", r->command, sizeof r->command);
    get_str(o, "c_call", r->c_call, sizeof r->c_call);
    get_str(o, "text", r->text, sizeof r->text);
    int64_t row = get_int(o, "row");
    r->row = row < n_rows ? (int)row : -1;
    r->speedup = get_num(doc, o, "speedup", where);
    r->lo = get_num(doc, o, "lo", where);
    r->hi = get_num(doc, o, "hi", where);
}

static void load_machine(hwa__hr_doc *doc, json_t *m, hwa__hr_bench *b) {
    get_str(m, "cpu", b->cpu, sizeof b->cpu);
    get_str(m, "isa", b->isa, sizeof b->isa);
    get_str(m, "devices", b->devices, sizeof b->devices);
    get_str(m, "power_meter", b->power_meter, sizeof b->power_meter);
    get_str(m, "calibration", b->calibration, sizeof b->calibration);
    b->logical_cpus = (int)get_int(m, "logical_cpus");
    b->memory_bytes = get_int(m, "memory_bytes");
    b->peak_f32 = get_num(doc, m, "peak_gflops_f32", b->source);
    b->memory_gbps = get_num(doc, m, "memory_gbps", b->source);
}

static hwa_status load_bench(hwa__hr_doc *doc, json_t *root, const char *path) {
    json_t *res = json_object_get(root, "results"), *recs = json_object_get(root, "recommendations");
    if (!json_is_array(res)) return hwa__err(NULL, HWA_E_FORMAT, "%s: a bench report without \"results\"", path);
    hwa__hr_bench *b = grow(&doc->benches, &doc->n_benches, sizeof *b);
    if (!b) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    snprintf(b->source, sizeof b->source, "%s", path);
    get_str(root, "created", b->created, sizeof b->created);
    get_str(root, "command_line", b->command_line, sizeof b->command_line);
    get_str(root, "hwadapt_version", b->version, sizeof b->version);
    load_machine(doc, json_object_get(root, "machine"), b);
    size_t nr = json_array_size(res), nc = json_array_size(recs);
    b->rows = calloc(nr ? nr : 1, sizeof *b->rows);
    b->recs = calloc(nc ? nc : 1, sizeof *b->recs);
    if (!b->rows || !b->recs) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory for %zu rows", path, nr);
    char where[400];
    for (size_t i = 0; i < nr; i++) {
        snprintf(where, sizeof where, "%s: row %zu", path, i);
        json_t *o = json_array_get(res, i);
        if (json_is_object(o)) load_row(doc, o, &b->rows[b->n_rows++], where);
    }
    for (size_t i = 0; i < nc; i++) {
        snprintf(where, sizeof where, "%s: recommendation %zu", path, i);
        json_t *o = json_array_get(recs, i);
        if (json_is_object(o)) load_rec(doc, o, &b->recs[b->n_recs++], b->n_rows, where);
    }
    json_t *pp = json_object_get(root, "passport");
    b->passport = -1;
    if (json_is_object(pp)) {
        snprintf(where, sizeof where, "%s (its passport)", path);
        b->passport = load_passport(doc, pp, where); /* grows pps, not benches: b stays */
    }
    return HWA_OK;
}

/* ---- training logs ----------------------------------------------------- */

static bool is_epoch(json_t *o) {
    return json_is_object(o) && json_is_number(json_object_get(o, "epoch")) &&
           json_is_number(json_object_get(o, "train_loss"));
}

static hwa_status add_epoch(hwa__hr_doc *doc, hwa__hr_train *t, json_t *o, const char *where) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        hwa__hr_epoch *e = realloc(t->ep, (size_t)cap * sizeof *e);
        if (!e) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", where);
        t->ep = e;
        t->cap = cap;
    }
    if (!t->n) {
        get_str(o, "device", t->device, sizeof t->device);
        get_str(o, "dtype", t->dtype, sizeof t->dtype);
    }
    hwa__hr_epoch *e = &t->ep[t->n++];
    e->epoch = get_num(doc, o, "epoch", where);
    e->train_loss = get_num(doc, o, "train_loss", where);
    e->test_loss = get_num(doc, o, "test_loss", where);
    e->val_loss = get_num(doc, o, "val_loss", where);
    e->test_acc = get_num(doc, o, "test_accuracy", where);
    e->val_acc = get_num(doc, o, "val_accuracy", where);
    e->seconds = get_num(doc, o, "seconds", where);
    e->sps = get_num(doc, o, "samples_per_s", where);
    /* accuracies are fractions: above 1 is not one */
    if (e->test_acc > 1) e->test_acc = NAN;
    if (e->val_acc > 1) e->val_acc = NAN;
    return HWA_OK;
}

/* One JSON object per line (hwadapt train --json); blank lines allowed,
 * anything else is an error at its line. */
static hwa_status load_train(hwa__hr_doc *doc, const char *text, size_t size, const char *path) {
    hwa__hr_train *t = grow(&doc->trains, &doc->n_trains, sizeof *t);
    if (!t) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    snprintf(t->source, sizeof t->source, "%s", path);
    size_t line = 0;
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(text + at, '\n', size - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : size - at;
        line++;
        size_t k = 0;
        while (k < len && (text[at + k] == ' ' || text[at + k] == '\t' || text[at + k] == '\r')) k++;
        if (k < len) {
            json_error_t err;
            json_t *o = json_loadb(text + at, len, 0, &err);
            char where[400];
            snprintf(where, sizeof where, "%s:%zu", path, line);
            if (!is_epoch(o)) {
                json_decref(o);
                return hwa__err(NULL, HWA_E_FORMAT, "%s: not a training log line (%s)", where,
                                o ? "a JSON object without epoch and train_loss" : err.text);
            }
            hwa_status st = add_epoch(doc, t, o, where);
            json_decref(o);
            if (st) return st;
        }
        at += len + 1;
    }
    if (!t->n) return hwa__err(NULL, HWA_E_FORMAT, "%s: an empty training log", path);
    return HWA_OK;
}

/* ---- placement plans --------------------------------------------------- */

/* An array member of root that must be there: its size, or -1 (an error
 * naming the file). */
static long need_array(json_t *root, const char *key, const char *path, const char *kind) {
    json_t *a = json_object_get(root, key);
    if (!json_is_array(a)) {
        hwa__err(NULL, HWA_E_FORMAT, "%s: %s without \"%s\"", path, kind, key);
        return -1;
    }
    return (long)json_array_size(a);
}

static void load_pdev(hwa__hr_doc *doc, json_t *o, hwa__hr_pdev *d, const char *where) {
    get_str(o, "id", d->id, sizeof d->id);
    get_str(o, "name", d->name, sizeof d->name);
    d->excluded = json_is_true(json_object_get(o, "excluded"));
    d->mem_capped = json_is_true(json_object_get(o, "mem_capped"));
    d->nodes = (int)get_int(o, "nodes");
    d->est_s = get_num(doc, o, "estimate_s", where);
    d->need = get_int(o, "need_bytes");
    d->arena = get_int(o, "arena_bytes");
    d->grads = get_int(o, "gradient_bytes");
    d->shadow = get_int(o, "shadow_bytes");
    d->leaves = get_int(o, "leaf_bytes");
    d->avail = get_int(o, "avail_bytes");
    d->mem = get_int(o, "mem_bytes");
}

static void load_pnode(hwa__hr_doc *doc, json_t *o, hwa__hr_pnode *n, const char *where) {
    n->index = (int)get_int(o, "index");
    get_str(o, "op", n->op, sizeof n->op);
    get_str(o, "name", n->name, sizeof n->name);
    get_str(o, "dtype", n->dtype, sizeof n->dtype);
    get_str(o, "device", n->device, sizeof n->device);
    get_str(o, "source", n->source, sizeof n->source);
    get_str(o, "reason", n->reason, sizeof n->reason);
    get_str(o, "why", n->why, sizeof n->why);
    n->est_s = get_num(doc, o, "estimate_s", where);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "shape"), i, v) {
        size_t len = strlen(n->shape);
        if (json_is_integer(v)) snprintf(n->shape + len, sizeof n->shape - len, "%s%lld", i ? "×" : "",
                                         (long long)json_integer_value(v));
    }
}

static hwa_status load_plan_single(hwa__hr_doc *doc, json_t *root, hwa__hr_plan *p, const char *path) {
    long nd = need_array(root, "devices", path, "a plan"), na = need_array(root, "alternatives", path, "a plan");
    long nn = need_array(root, "nodes", path, "a plan");
    if (nd < 0 || na < 0 || nn < 0) return HWA_E_FORMAT;
    get_str(root, "mode", p->mode, sizeof p->mode);
    get_str(root, "placement", p->placement, sizeof p->placement);
    p->est_s = get_num(doc, root, "estimate_s", path);
    p->copy_s = get_num(doc, root, "copy_s_per_run", path);
    p->copy_bytes_run = get_num(doc, root, "copy_bytes_per_run", path);
    p->copy_bytes_once = get_num(doc, root, "copy_bytes_once", path);
    char where[400];
    for (long i = 0; i < nd && p->n_devs < HWA__HR_MAX_DEVS; i++) {
        json_t *o = json_array_get(json_object_get(root, "devices"), (size_t)i);
        snprintf(where, sizeof where, "%s: device %ld", path, i);
        if (json_is_object(o)) load_pdev(doc, o, &p->devs[p->n_devs++], where);
    }
    p->alts = calloc(na ? (size_t)na : 1, sizeof *p->alts);
    if (!p->alts) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    for (long i = 0; i < na; i++) {
        json_t *o = json_array_get(json_object_get(root, "alternatives"), (size_t)i);
        if (!json_is_object(o)) continue;
        hwa__hr_palt *a = &p->alts[p->n_alts++];
        snprintf(where, sizeof where, "%s: alternative %ld", path, i);
        get_str(o, "placement", a->placement, sizeof a->placement);
        get_str(o, "why", a->why, sizeof a->why);
        a->chosen = json_is_true(json_object_get(o, "chosen"));
        a->fits = json_is_true(json_object_get(o, "fits"));
        a->est_s = get_num(doc, o, "estimate_s", where);
    }
    for (long i = 0; i < nn; i++) {
        json_t *o = json_array_get(json_object_get(root, "nodes"), (size_t)i);
        if (!json_is_object(o)) continue;
        p->nodes_total++;
        snprintf(where, sizeof where, "%s: node %ld", path, i);
        if (p->n_nodes < HWA__HR_PLAN_NODES) load_pnode(doc, o, &p->nodes[p->n_nodes++], where);
    }
    return HWA_OK;
}

static hwa_status load_plan_measure(hwa__hr_doc *doc, json_t *root, hwa__hr_plan *p, const char *path) {
    long n = need_array(root, "placements", path, "a measured plan");
    if (n < 0) return HWA_E_FORMAT;
    p->measure = true;
    get_str(root, "workload", p->workload, sizeof p->workload);
    get_str(root, "devices", p->devices, sizeof p->devices);
    get_str(root, "auto_before", p->auto_before, sizeof p->auto_before);
    get_str(root, "auto_after", p->auto_after, sizeof p->auto_after);
    p->batch = get_int(root, "batch");
    p->reps = (int)get_int(root, "reps");
    p->auto_measured_s = get_num(doc, root, "auto_measured_s", path);
    p->auto_vs_best = get_num(doc, root, "auto_vs_best", path);
    p->meas = calloc(n ? (size_t)n : 1, sizeof *p->meas);
    if (!p->meas) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    char where[400];
    for (long i = 0; i < n; i++) {
        json_t *o = json_array_get(json_object_get(root, "placements"), (size_t)i);
        if (!json_is_object(o)) continue;
        hwa__hr_pmeas *m = &p->meas[p->n_meas++];
        snprintf(where, sizeof where, "%s: placement %ld", path, i);
        get_str(o, "placement", m->placement, sizeof m->placement);
        m->before_s = get_num(doc, o, "predicted_s_before", where);
        m->after_s = get_num(doc, o, "predicted_s", where);
        m->measured_s = get_num(doc, o, "measured_s", where);
        m->is_auto = json_is_true(json_object_get(o, "auto"));
        m->best = json_is_true(json_object_get(o, "best"));
    }
    return HWA_OK;
}

static hwa_status load_plan(hwa__hr_doc *doc, json_t *root, const char *path, bool measure) {
    hwa__hr_plan *p = grow(&doc->plans, &doc->n_plans, sizeof *p);
    if (!p) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    snprintf(p->source, sizeof p->source, "%s", path);
    p->auto_measured_s = p->auto_vs_best = NAN;
    return measure ? load_plan_measure(doc, root, p, path) : load_plan_single(doc, root, p, path);
}

/* ---- tune results ------------------------------------------------------ */

static void load_tune_memory(json_t *m, hwa__hr_tune *t) {
    t->has_memory = json_is_object(m);
    t->avail = get_int(m, "avail_bytes");
    t->capped = json_is_true(json_object_get(m, "capped"));
    t->max_fit = get_int(m, "max_fit");
    t->max_fit_bytes = get_int(m, "max_fit_bytes");
    t->next_bytes = get_int(m, "next_bytes");
    t->confirmed = get_int(m, "confirmed_batch");
    t->predicted = get_int(m, "predicted_bytes");
    t->measured = get_int(m, "measured_bytes");
    get_str(m, "measured_how", t->measured_how, sizeof t->measured_how);
}

static void load_tune_curve(hwa__hr_doc *doc, json_t *b, hwa__hr_tune *t, const char *path) {
    t->chosen = get_int(b, "chosen");
    get_str(b, "why", t->why, sizeof t->why);
    size_t i;
    json_t *o;
    char where[400];
    json_array_foreach(json_object_get(b, "curve"), i, o) {
        if (!json_is_object(o) || t->n_curve == HWA__AXIS_MAX_TICKS) continue;
        hwa__hr_tpoint *pt = &t->curve[t->n_curve];
        snprintf(where, sizeof where, "%s: batch curve point %zu", path, i);
        pt->batch = get_int(o, "batch");
        pt->planned = get_num(doc, o, "predicted_bytes", where);
        pt->sps = get_num(doc, o, "samples_per_s", where);
        pt->p50_ms = get_num(doc, o, "p50_ms", where);
        pt->p99_ms = get_num(doc, o, "p99_ms", where);
        if (pt->batch < 1) hwa__hr_note(doc, "%s: a batch below 1 is not possible; left out", where);
        else t->n_curve++;
    }
}

/* One range test: its points [rate, loss, smoothed]; a point whose rate
 * is not > 0 is left out with a note, a loss that is not finite (the test
 * stops there) is kept as NAN. */
static hwa_status load_tune_lr(hwa__hr_doc *doc, json_t *o, hwa__hr_tlr *l, const char *where) {
    get_str(o, "optimizer", l->optimizer, sizeof l->optimizer);
    l->suggestion = get_num(doc, o, "suggestion", where);
    l->lr_at_min = get_num(doc, o, "lr_at_min", where);
    l->lr_steepest = get_num(doc, o, "lr_steepest", where);
    l->diverged = json_is_true(json_object_get(o, "diverged"));
    json_t *c = json_object_get(o, "curve");
    size_t n = json_array_size(c), i;
    json_t *v;
    l->pts = calloc(n ? n : 1, sizeof *l->pts);
    if (!l->pts) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", where);
    int dropped = 0;
    json_array_foreach(c, i, v) {
        double r = json_number_value(json_array_get(v, 0));
        if (!json_is_number(json_array_get(v, 0)) || !isfinite(r) || r <= 0) {
            dropped++;
            continue;
        }
        double *pt = l->pts[l->n++];
        pt[0] = r;
        for (int k = 1; k < 3; k++) {
            json_t *x = json_array_get(v, (size_t)k);
            pt[k] = json_is_number(x) && isfinite(json_number_value(x)) ? json_number_value(x) : NAN;
        }
    }
    if (dropped) hwa__hr_note(doc, "%s: %d point(s) without a learning rate > 0; left out", where, dropped);
    return HWA_OK;
}

static void load_tune_search(hwa__hr_doc *doc, json_t *s, hwa__hr_tune *t, const char *path) {
    t->searched = json_is_object(s);
    t->rungs = (int)get_int(s, "rungs");
    int64_t best = get_int(s, "best");
    json_t *tr = json_object_get(s, "trials");
    size_t i;
    json_t *o;
    char where[400];
    t->best = -1;
    json_array_foreach(tr, i, o) {
        if (!json_is_object(o)) continue;
        hwa__hr_trial *x = &t->trials[t->n_trials++];
        snprintf(where, sizeof where, "%s: trial %zu", path, i);
        get_str(o, "optimizer", x->optimizer, sizeof x->optimizer);
        x->lr = get_num(doc, o, "lr", where);
        x->val_loss = get_num(doc, o, "val_loss", where);
        x->val_acc = get_num(doc, o, "val_accuracy", where);
        if (x->val_acc > 1) x->val_acc = NAN; /* a fraction */
        x->steps = get_int(o, "steps");
        x->rung = get_int(o, "rung");
        if ((int64_t)i == best) t->best = t->n_trials - 1;
    }
}

/* The settings it writes ("train" or "bench WORKLOAD"), as one line. */
static void tune_settings(json_t *root, hwa__hr_tune *t) {
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!json_is_object(v) || strcmp(key, "tune") == 0) continue;
        const char *k2;
        json_t *x;
        hwa__hr_put(t->settings, sizeof t->settings, "%s:", key);
        json_object_foreach(v, k2, x) {
            if (json_is_string(x)) hwa__hr_cat(t->settings, sizeof t->settings, " %s %s", k2, json_string_value(x));
            else if (json_is_number(x))
                hwa__hr_cat(t->settings, sizeof t->settings, " %s %.4g", k2, json_number_value(x));
        }
        return;
    }
}

static hwa_status load_tune(hwa__hr_doc *doc, json_t *root, const char *path) {
    json_t *tu = json_object_get(root, "tune");
    if (!json_is_object(tu) || !json_is_object(json_object_get(tu, "batch")))
        return hwa__err(NULL, HWA_E_FORMAT, "%s: a tune result without \"tune\" and its \"batch\"", path);
    hwa__hr_tune *t = grow(&doc->tunes, &doc->n_tunes, sizeof *t);
    if (!t) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    snprintf(t->source, sizeof t->source, "%s", path);
    get_str(tu, "target", t->target, sizeof t->target);
    get_str(tu, "device", t->device, sizeof t->device);
    t->training = json_is_true(json_object_get(tu, "training"));
    t->synthetic = json_is_true(json_object_get(tu, "synthetic"));
    t->seconds = get_num(doc, tu, "seconds", path);
    tune_settings(root, t);
    load_tune_memory(json_object_get(tu, "memory"), t);
    load_tune_curve(doc, json_object_get(tu, "batch"), t, path);
    size_t i;
    json_t *o;
    char where[400];
    json_array_foreach(json_object_get(tu, "lr_range"), i, o) {
        if (!json_is_object(o) || t->n_lr == HWA__HR_MAX_LR) continue;
        snprintf(where, sizeof where, "%s: range test %zu", path, i);
        hwa_status st = load_tune_lr(doc, o, &t->lr[t->n_lr++], where);
        if (st) return st;
    }
    json_t *s = json_object_get(tu, "search");
    size_t nt = json_array_size(json_object_get(s, "trials"));
    t->trials = calloc(nt ? nt : 1, sizeof *t->trials);
    if (!t->trials) return hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory", path);
    load_tune_search(doc, s, t, path);
    json_t *r = json_object_get(tu, "recommendation");
    t->has_rec = json_is_object(r);
    get_str(r, "optimizer", t->rec_optimizer, sizeof t->rec_optimizer);
    get_str(r, "schedule", t->rec_schedule, sizeof t->rec_schedule);
    get_str(r, "why_epochs", t->why_epochs, sizeof t->why_epochs);
    t->rec_lr = get_num(doc, r, "lr", path);
    t->rec_epochs = get_int(r, "epochs");
    return HWA_OK;
}

/* ---- kinds ------------------------------------------------------------- */

static hwa_status load_object(hwa__hr_doc *doc, json_t *root, const char *path, const char *text, size_t size) {
    const char *schema = json_string_value(json_object_get(root, "schema"));
    if (schema && !strncmp(schema, "hwadapt-bench-report/", 21)) {
        if (strcmp(schema, "hwadapt-bench-report/2"))
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: schema '%s' is not one this hwadapt reads (hwadapt-bench-report/2)",
                            path, schema);
        add_input(doc, path, "bench report");
        return load_bench(doc, root, path);
    }
    if (json_is_integer(json_object_get(root, "schema_version")) && json_object_get(root, "devices")) {
        add_input(doc, path, "passport");
        return load_passport(doc, root, path) < 0 ? hwa__err(NULL, HWA_E_FORMAT, "%s: not a whole passport", path)
                                                  : HWA_OK;
    }
    if (schema && !strncmp(schema, "hwadapt.plan", 12)) {
        bool measure = !strcmp(schema, "hwadapt.plan-measure/1");
        if (!measure && strcmp(schema, "hwadapt.plan/1"))
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: schema '%s' is not one this hwadapt reads (hwadapt.plan/1, "
                            "hwadapt.plan-measure/1)", path, schema);
        add_input(doc, path, measure ? "measured placement plan" : "placement plan");
        return load_plan(doc, root, path, measure);
    }
    const char *tool = json_string_value(json_object_get(root, "hwadapt"));
    if (tool && !strcmp(tool, "tune")) {
        json_t *ver = json_object_get(root, "version");
        if (!json_is_integer(ver) || json_integer_value(ver) != 1)
            return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: a tune result of a version this hwadapt does not read (1)",
                            path);
        add_input(doc, path, "tune result");
        return load_tune(doc, root, path);
    }
    if (is_epoch(root)) { /* a training log of one epoch */
        add_input(doc, path, "training log");
        return load_train(doc, text, size, path);
    }
    return hwa__err(NULL, HWA_E_FORMAT,
                    "%s: JSON, but neither a bench report (schema hwadapt-bench-report/2), a passport "
                    "(hwadapt probe --json), a training log (hwadapt train --json), a placement plan (hwadapt plan "
                    "--json) nor a tune result (hwadapt tune --json)", path);
}

hwa_status hwa__hr_load(hwa__hr_doc *doc, const char *path) {
    hwa__mapped_file mf;
    hwa_status st = hwa__map_file(path, &mf);
    if (st) return st;
    const char *text = mf.data;
    json_error_t err;
    json_t *root = mf.size ? json_loadb(text, mf.size, 0, &err) : NULL;
    if (!mf.size) st = hwa__err(NULL, HWA_E_FORMAT, "%s: an empty file", path);
    else if (json_is_object(root)) st = load_object(doc, root, path, text, mf.size);
    else if (root) st = hwa__err(NULL, HWA_E_FORMAT, "%s: JSON, but not an object", path);
    else {
        /* Not one JSON document: a training log of several lines, or a
         * truncated or broken document. A first line that is an epoch
         * decides; otherwise the parser's own message says where. */
        const char *nl = memchr(text, '\n', mf.size);
        json_error_t e1;
        json_t *first = json_loadb(text, nl ? (size_t)(nl - text) : mf.size, 0, &e1);
        if (is_epoch(first)) {
            add_input(doc, path, "training log");
            st = load_train(doc, text, mf.size, path);
        } else {
            st = hwa__err(NULL, HWA_E_FORMAT, "%s: not valid JSON (line %d, column %d: %s) and not a training log",
                          path, err.line, err.column, err.text);
        }
        json_decref(first);
    }
    json_decref(root);
    hwa__unmap_file(&mf);
    return st;
}

#else

hwa_status hwa__hr_load(hwa__hr_doc *doc, const char *path) {
    (void)doc, (void)add_input, (void)grow;
    return hwa__err(NULL, HWA_E_UNSUPPORTED, "%s: this build has no JSON support (jansson): no HTML report", path);
}

#endif
