/* Exported weights, checkpoints (weights, optimizer state, counters,
 * schedule and RNG state) as safetensors files written atomically, and
 * resuming from the newest valid checkpoint of a directory. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/train_internal.h"

#define CKPT_FORMAT "hwadapt-train-checkpoint"
#define CKPT_PREFIX "ckpt-"
#define CKPT_SUFFIX ".safetensors"

/* Host copies of tensors that a writer borrows until it has written. */
typedef struct host_copies {
    void **bufs;
    int n, cap;
} host_copies;

static void copies_free(host_copies *c) {
    for (int i = 0; i < c->n; i++) free(c->bufs[i]);
    free(c->bufs);
    c->bufs = NULL;
    c->n = c->cap = 0;
}

/* A host copy of t's bytes, kept in c. */
static void *host_copy(host_copies *c, const hwa_tensor *t, hwa_status *st) {
    const size_t nb = hwa_tensor_nbytes(t);
    if (c->n == c->cap) {
        const int cap = c->cap ? 2 * c->cap : 16;
        void **m = realloc(c->bufs, (size_t)cap * sizeof *m);
        if (!m) {
            *st = hwa__err(NULL, HWA_E_NOMEM, "checkpoint: out of memory");
            return NULL;
        }
        c->bufs = m;
        c->cap = cap;
    }
    void *buf = malloc(nb ? nb : 1);
    if (!buf) {
        *st = hwa__err(NULL, HWA_E_NOMEM, "checkpoint: out of memory");
        return NULL;
    }
    c->bufs[c->n++] = buf;
    *st = hwa_tensor_get_bytes(t, buf, nb);
    return *st ? NULL : buf;
}

/* Adds tensor t (f32, contiguous) to w under name, through a host copy. */
static hwa_status add_tensor(hwa_st_writer *w, host_copies *c, const char *name, const hwa_tensor *t,
                             const hwa_tensor *shape_of) {
    hwa_status st;
    void *buf = host_copy(c, t, &st);
    if (!buf) return st;
    int64_t shape[HWA_MAX_DIMS];
    for (int d = 0; d < shape_of->ndim; d++) shape[d] = hwa_tensor_dim(shape_of, d);
    return hwa_st_writer_add(w, name, HWA_FDT_F32, shape_of->ndim, shape, buf, hwa_tensor_nbytes(t));
}

/* Adds buffer b ([n] F32) to w. */
static hwa_status add_buffer(hwa_st_writer *w, host_copies *c, const hwa__train_buffer *b) {
    hwa_status st;
    float *buf = host_copy(c, b->t, &st);
    if (!buf) return st;
    return hwa_st_writer_add(w, b->name, HWA_FDT_F32, 1, &b->n, buf + b->offset, (size_t)b->n * sizeof(float));
}

static hwa_status set_meta_fmt(hwa_st_writer *w, const char *key, const char *fmt, ...) HWA_PRINTF(3, 4);
static hwa_status set_meta_fmt(hwa_st_writer *w, const char *key, const char *fmt, ...) {
    char v[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return hwa_st_writer_set_meta(w, key, v);
}

/* The parameters, the buffers and the metadata that describe the model. */
static hwa_status add_model(hwa_trainer *t, hwa_st_writer *w, host_copies *c, const char *format) {
    char name[HWA_MAX_NAME];
    hwa_status st = hwa_st_writer_set_meta(w, "format", format);
    for (int i = 0; st == HWA_OK && i < t->n_meta; i++) st = hwa_st_writer_set_meta(w, t->meta_key[i], t->meta_val[i]);
    for (int i = 0; st == HWA_OK && i < t->n_params; i++) {
        hwa_tensor *p = hwa__train_param(t, i, name, sizeof name);
        st = add_tensor(w, c, name, p, p);
    }
    for (int i = 0; st == HWA_OK && i < t->n_buffers; i++) st = add_buffer(w, c, &t->buffers[i]);
    return st;
}

hwa_status hwa_trainer_export(hwa_trainer *t, const char *path) {
    if (!t || !path) return hwa__err(NULL, HWA_E_MISUSE, "export: NULL argument");
    if (t->model->export_to) return t->model->export_to(t, path);
    hwa_st_writer *w = hwa_st_writer_new();
    if (!w) return HWA_E_NOMEM;
    host_copies c = {0};
    hwa_status st = add_model(t, w, &c, t->model->export_format);
    if (st == HWA_OK) st = hwa_st_writer_write(w, path);
    hwa_st_writer_free(w);
    copies_free(&c);
    return st;
}

/* The graph index of parameter p in the optimizer's order. */
static int optim_index(const hwa_trainer *t, const hwa_tensor *p) {
    hwa_graph *g = t->train_full.g ? t->train_full.g : t->train_rest.g;
    for (int j = 0; j < hwa_graph_n_params(g); j++)
        if (hwa_graph_param(g, j) == p) return j;
    return -1;
}

hwa_status hwa_trainer_save_checkpoint(hwa_trainer *t, const char *path) {
    if (!t || !path) return hwa__err(NULL, HWA_E_MISUSE, "checkpoint: NULL argument");
    hwa_st_writer *w = hwa_st_writer_new();
    if (!w) return HWA_E_NOMEM;
    host_copies c = {0};
    const hwa_optim_config *o = &t->cfg.optim;
    const hwa_sched *s = &t->sched;
    hwa_status st = add_model(t, w, &c, CKPT_FORMAT);
    char name[HWA_MAX_NAME], full[2 * HWA_MAX_NAME];
    for (int i = 0; st == HWA_OK && i < t->n_params; i++) {
        hwa_tensor *p = hwa__train_param(t, i, name, sizeof name);
        for (int k = 0; st == HWA_OK && k < hwa_optim_n_slots(t->opt); k++) {
            snprintf(full, sizeof full, "optim.%s.%s", name, hwa_optim_slot_name(t->opt, k));
            st = add_tensor(w, &c, full, hwa_optim_state(t->opt, optim_index(t, p), k), p);
        }
    }
    if (st == HWA_OK) st = hwa_st_writer_set_meta(w, "version", "1");
    if (st == HWA_OK) st = set_meta_fmt(w, "epoch", "%lld", (long long)t->epoch);
    if (st == HWA_OK) st = set_meta_fmt(w, "step", "%lld", (long long)hwa_optim_steps(t->opt));
    if (st == HWA_OK) st = hwa_st_writer_set_meta(w, "optimizer", hwa_optim_kind_name(o->kind));
    if (st == HWA_OK)
        st = set_meta_fmt(w, "optimizer_params", "momentum=%.9g beta1=%.9g beta2=%.9g eps=%.9g weight_decay=%.9g clip_norm=%.9g",
                          o->momentum, o->beta1, o->beta2, o->eps, o->weight_decay, o->clip_norm);
    if (st == HWA_OK) st = hwa_st_writer_set_meta(w, "schedule", hwa_sched_kind_name(s->kind));
    if (st == HWA_OK)
        st = set_meta_fmt(w, "schedule_params",
                          "lr=%.17g total_steps=%lld step_size=%lld gamma=%.17g warmup_steps=%lld min_lr=%.17g "
                          "pct_start=%.17g div_factor=%.17g final_div_factor=%.17g",
                          s->lr, (long long)s->total_steps, (long long)s->step_size, s->gamma,
                          (long long)s->warmup_steps, s->min_lr, s->pct_start, s->div_factor, s->final_div_factor);
    if (st == HWA_OK) st = set_meta_fmt(w, "seed", "%" PRIu64, t->cfg.seed);
    if (st == HWA_OK) st = hwa_st_writer_set_meta(w, "shuffle", "epoch-seeded: splitmix64(seed, epoch) Fisher-Yates");
    if (st == HWA_OK) st = set_meta_fmt(w, "batch", "%lld", (long long)t->cfg.batch);
    if (st == HWA_OK) st = hwa_st_writer_write(w, path);
    hwa_st_writer_free(w);
    copies_free(&c);
    return st;
}

static bool parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) return false;
    *out = v;
    return true;
}

/* File tensor name, checked to be F32 of shape shape[0..ndim); NULL with an
 * error recorded otherwise. */
static const hwa_file_tensor *find_tensor(hwa_model_file *f, const char *path, const char *name, int ndim,
                                          const int64_t *shape) {
    const hwa_file_tensor *ft = hwa_model_file_find(f, name);
    if (!ft) {
        hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is missing (a checkpoint of another model or optimizer?)", path,
                 name);
        return NULL;
    }
    bool ok = ft->file_dtype == HWA_FDT_F32 && ft->ndim == ndim;
    for (int d = 0; ok && d < ft->ndim; d++) ok = ft->shape[d] == shape[d];
    if (!ok) {
        char want[64] = "[";
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)shape[d]);
        snprintf(want + strlen(want), sizeof want - strlen(want), "]");
        hwa__err(NULL, HWA_E_FORMAT, "%s: tensor '%s' is %s with %d dims; this model needs F32 %s", path, name,
                 hwa_file_dtype_name(ft->file_dtype), ft->ndim, want);
        return NULL;
    }
    return ft;
}

/* Checks (copy false) or copies (copy true) every tensor of the model and
 * optimizer from f. */
static hwa_status load_tensors(hwa_trainer *t, hwa_model_file *f, const char *path, bool copy) {
    char name[HWA_MAX_NAME], full[2 * HWA_MAX_NAME];
    hwa_status st = HWA_OK;
    for (int i = 0; st == HWA_OK && i < t->n_params; i++) {
        hwa_tensor *p = hwa__train_param(t, i, name, sizeof name);
        int64_t shape[HWA_MAX_DIMS];
        for (int d = 0; d < p->ndim; d++) shape[d] = hwa_tensor_dim(p, d);
        for (int k = -1; st == HWA_OK && k < hwa_optim_n_slots(t->opt); k++) {
            hwa_tensor *dst = p;
            if (k >= 0) {
                snprintf(full, sizeof full, "optim.%s.%s", name, hwa_optim_slot_name(t->opt, k));
                dst = hwa_optim_state(t->opt, optim_index(t, p), k);
            }
            const hwa_file_tensor *ft = find_tensor(f, path, k >= 0 ? full : name, p->ndim, shape);
            if (!ft) st = HWA_E_FORMAT;
            else if (copy) st = hwa_tensor_set_bytes(dst, ft->data, ft->nbytes);
        }
    }
    for (int i = 0; st == HWA_OK && i < t->n_buffers; i++) {
        const hwa__train_buffer *b = &t->buffers[i];
        const hwa_file_tensor *ft = find_tensor(f, path, b->name, 1, &b->n);
        if (!ft) st = HWA_E_FORMAT;
        else if (copy) { /* the buffer's elements of its tensor, the others kept */
            host_copies c = {0};
            float *all = host_copy(&c, b->t, &st);
            if (all) {
                memcpy(all + b->offset, ft->data, ft->nbytes);
                st = hwa_tensor_set_bytes(b->t, all, hwa_tensor_nbytes(b->t));
            }
            copies_free(&c);
        }
    }
    return st;
}

static hwa_status meta_must_equal(hwa_model_file *f, const char *path, const char *key, const char *want) {
    const char *v = hwa_model_file_meta_get(f, key);
    if (v && !strcmp(v, want)) return HWA_OK;
    return hwa__err(NULL, HWA_E_FORMAT, "%s: the checkpoint's %s is '%s' but this run's is '%s'", path, key,
                    v ? v : "(none)", want);
}

hwa_status hwa_trainer_load_checkpoint(hwa_trainer *t, const char *path) {
    if (!t || !path) return hwa__err(NULL, HWA_E_MISUSE, "checkpoint: NULL argument");
    hwa_model_file *f = NULL;
    hwa_status st = hwa_model_file_open(path, HWA_FORMAT_SAFETENSORS, &f);
    if (st) return st;
    int64_t epoch = 0, step = 0;
    uint64_t seed = 0;
    const char *seed_s = hwa_model_file_meta_get(f, "seed");
    st = meta_must_equal(f, path, "format", CKPT_FORMAT);
    for (int i = 0; st == HWA_OK && i < t->n_meta; i++) st = meta_must_equal(f, path, t->meta_key[i], t->meta_val[i]);
    if (st == HWA_OK) st = meta_must_equal(f, path, "optimizer", hwa_optim_kind_name(t->cfg.optim.kind));
    if (st == HWA_OK && (!parse_i64(hwa_model_file_meta_get(f, "epoch"), &epoch) ||
                         !parse_i64(hwa_model_file_meta_get(f, "step"), &step) || !seed_s ||
                         sscanf(seed_s, "%" SCNu64, &seed) != 1))
        st = hwa__err(NULL, HWA_E_FORMAT, "%s: metadata epoch, step or seed is missing or not a number", path);
    /* Everything is checked before anything is overwritten. */
    if (st == HWA_OK) st = load_tensors(t, f, path, false);
    if (st == HWA_OK) st = load_tensors(t, f, path, true);
    if (st == HWA_OK && epoch > t->cfg.epochs)
        st = hwa__err(NULL, HWA_E_INVALID, "%s: the checkpoint has %lld epochs done, more than --epochs %lld", path,
                      (long long)epoch, (long long)t->cfg.epochs);
    if (st == HWA_OK && seed != t->cfg.seed) {
        /* The RNG state: the shuffle of every later epoch follows the seed. */
        hwa_loader *l = NULL;
        st = hwa_loader_new(t->train, t->cfg.batch, true, t->cfg.drop_last, seed, &l);
        if (st == HWA_OK) {
            hwa_loader_free(t->loader);
            t->loader = l;
            t->cfg.seed = seed;
        }
    }
    if (st == HWA_OK) {
        t->epoch = epoch;
        hwa_optim_set_steps(t->opt, step);
        snprintf(t->resumed_from, sizeof t->resumed_from, "%s", path);
    }
    hwa_model_file_free(f);
    return st;
}

/* ---- checkpoint directories -------------------------------------------- */

/* The epoch of a file named ckpt-<digits>.safetensors, or -1 (temporary files
 * "<name>.tmp.<pid>.<n>" and anything else do not match). */
static int64_t ckpt_epoch(const char *name) {
    const size_t lp = strlen(CKPT_PREFIX), ls = strlen(CKPT_SUFFIX), n = strlen(name);
    if (n <= lp + ls || strncmp(name, CKPT_PREFIX, lp) || strcmp(name + n - ls, CKPT_SUFFIX)) return -1;
    int64_t e = 0;
    for (size_t i = lp; i < n - ls; i++) {
        if (name[i] < '0' || name[i] > '9' || e > INT64_MAX / 10 - 10) return -1;
        e = e * 10 + (name[i] - '0');
    }
    return e;
}

static int cmp_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* The epochs of the checkpoints in dir, newest first. *out: malloc'ed. */
static hwa_status list_checkpoints(const char *dir, int64_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return HWA_OK;
        return hwa__err(NULL, HWA_E_IO, "%s: cannot list: %s", dir, strerror(errno));
    }
    size_t cap = 0;
    hwa_status st = HWA_OK;
    for (struct dirent *e; (e = readdir(d));) {
        int64_t ep = ckpt_epoch(e->d_name);
        if (ep < 0) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *m = realloc(*out, cap * sizeof *m);
            if (!m) {
                st = hwa__err(NULL, HWA_E_NOMEM, "%s: out of memory listing checkpoints", dir);
                break;
            }
            *out = m;
        }
        (*out)[(*n)++] = ep;
    }
    closedir(d);
    if (st == HWA_OK && *n) qsort(*out, *n, sizeof **out, cmp_desc);
    return st;
}

static void ckpt_path(const hwa_trainer *t, int64_t epoch, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/" CKPT_PREFIX "%06lld" CKPT_SUFFIX, t->ckpt_dir, (long long)epoch);
}

hwa_status hwa__train_resume(hwa_trainer *t) {
    int64_t *eps;
    size_t n;
    hwa_status st = list_checkpoints(t->ckpt_dir, &eps, &n);
    char path[4352];
    for (size_t i = 0; st == HWA_OK && i < n; i++) {
        ckpt_path(t, eps[i], path, sizeof path);
        hwa_model_file *f = NULL;
        /* A file that does not open (damaged outside our atomic writes) is
         * skipped for an older one; one that opens but belongs to another
         * model or optimizer is an error: resuming past it would be wrong. */
        if (hwa_model_file_open(path, HWA_FORMAT_SAFETENSORS, &f) != HWA_OK) continue;
        hwa_model_file_free(f);
        st = hwa_trainer_load_checkpoint(t, path);
        break;
    }
    free(eps);
    return st;
}

hwa_status hwa__train_checkpoint_epoch(hwa_trainer *t) {
    /* Every rank holds the same weights and state (hwa__train_dp_check):
     * rank 0 writes for all. */
    if (hwa_dist_rank(t->dist) != 0) return HWA_OK;
    if (mkdir(t->ckpt_dir, 0755) != 0 && errno != EEXIST)
        return hwa__err(NULL, HWA_E_IO, "%s: cannot create the checkpoint directory: %s", t->ckpt_dir, strerror(errno));
    char path[4352];
    ckpt_path(t, t->epoch, path, sizeof path);
    hwa_status st = hwa_trainer_save_checkpoint(t, path);
    if (st) return st;
    int64_t *eps;
    size_t n;
    if ((st = list_checkpoints(t->ckpt_dir, &eps, &n))) return st;
    for (size_t i = (size_t)t->cfg.keep; i < n; i++) {
        ckpt_path(t, eps[i], path, sizeof path);
        unlink(path);
    }
    free(eps);
    return HWA_OK;
}
