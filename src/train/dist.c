/* Data-parallel jobs over MPI: the module that holds MPI (opened with
 * dlopen, dist_module.h), collectives that wait under a timeout, and the
 * heartbeats that name a rank that died or hangs.
 *
 * Heartbeats: every rank sends each peer a counter when it arrives at each
 * exchange (hwa__dist_beat: its share of a step computed) and keeps one
 * receive posted per peer. When a collective has waited past the timeout,
 * the peers whose counter is behind this rank's did not arrive: they are
 * the ones named. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/module.h"
#include "train/dist_module.h"
#include "train/train_internal.h"

#define HB_TAG 7301
#define PING_S 1.0 /* a rank that waits says it is alive this often */

typedef struct peer {
    int64_t pid;
    char host[56];
    int64_t seen;  /* the last counter received from it */
    double heard;  /* when it last sent anything (a counter, or a ping while it waits) */
    int64_t in;    /* receive buffer */
    void *rreq;
    int64_t out;   /* send buffer */
    void *sreq;
} peer;

struct hwa_dist {
    void *lib;
    const hwa_dist_module *m;
    int rank, size;
    char version[128];
    double timeout_s;
    peer *peers;     /* [size]; this rank's own entry holds only pid and host */
    int64_t beat;    /* heartbeats sent */
    char where[96];  /* what the last heartbeat started ("epoch 2, step 57") */
    bool started;    /* MPI was started */
    bool broken;     /* a collective failed: no finalize */
};

/* The record each rank shares at start-up. */
typedef struct who {
    int64_t pid;
    char host[56];
} who;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool hwa_dist_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return true;
    }
    return false;
}

int hwa_dist_rank(const hwa_dist *d) { return d ? d->rank : 0; }
int hwa_dist_size(const hwa_dist *d) { return d ? d->size : 1; }
const char *hwa_dist_version(const hwa_dist *d) { return d ? d->version : ""; }

#define MODULE_SONAME "libhwadapt_mpi.so"

/* Opens the module: the path given, else where hwa__module_open looks
 * ($HWA_MPI_MODULE, beside the executable, ../lib/hwadapt/, the loader's
 * search). */
static hwa_status open_module(hwa_dist *d, const char *path) {
    char tried[1200] = "", opened[4200] = "";
    /* RTLD_GLOBAL: MPI's own plug-ins, opened by MPI later, resolve their
     * symbols against the MPI library the module brought in. */
    if (path && *path) {
        d->lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (!d->lib) {
            const char *e = dlerror();
            snprintf(tried, sizeof tried, "%.300s (%.300s)", path, e ? e : "not found");
        }
        snprintf(opened, sizeof opened, "%s", path);
    } else {
        d->lib = hwa__module_open(MODULE_SONAME, "HWA_MPI_MODULE", RTLD_NOW | RTLD_GLOBAL, opened, sizeof opened, tried,
                                  sizeof tried);
        const char *env = getenv("HWA_MPI_MODULE");
        if (!d->lib && !tried[0]) /* no such file anywhere */
            snprintf(tried, sizeof tried, "%.900s (no such file%s)", env && *env ? env : MODULE_SONAME,
                     env && *env ? "" : " beside the executable, in ../lib/hwadapt/ or on the loader's path");
    }
    if (!d->lib)
        return hwa__err(NULL, HWA_E_NOTFOUND,
                        "mpi: this process was started by an MPI launcher, but hwadapt's MPI module could not be "
                        "opened: %s. It is built with hwadapt where MPI is installed (Debian: libopenmpi-dev); "
                        "HWA_MPI_MODULE=PATH names it",
                        tried);
    hwa_dist_module_entry_fn entry = NULL;
    *(void **)&entry = dlsym(d->lib, HWA_DIST_MODULE_ENTRY);
    if (!entry)
        return hwa__err(NULL, HWA_E_UNSUPPORTED, "mpi: %s exports no %s: not an hwadapt communication module",
                        opened, HWA_DIST_MODULE_ENTRY);
    d->m = entry(HWA_DIST_ABI_VERSION);
    if (!d->m || d->m->abi_version >> 16 != HWA_DIST_ABI_MAJOR || d->m->struct_size < sizeof(hwa_dist_module))
        return hwa__err(NULL, HWA_E_UNSUPPORTED,
                        "mpi: the MPI module was built for another version of hwadapt (module ABI %u.%u, this "
                        "build's %u.%u): rebuild hwadapt",
                        d->m ? d->m->abi_version >> 16 : 0u, d->m ? d->m->abi_version & 0xffffu : 0u,
                        HWA_DIST_ABI_MAJOR, HWA_DIST_ABI_MINOR);
    return HWA_OK;
}

static hwa_status mpi_err(hwa_dist *d, const char *err) {
    d->broken = true;
    return hwa__err(NULL, HWA_E_DEVICE, "mpi (rank %d of %d): %s", d->rank, d->size, err);
}

/* Posts the next heartbeat receive from peer p. */
static hwa_status post_recv(hwa_dist *d, int p) {
    char err[256];
    if (d->m->irecv(&d->peers[p].in, sizeof(int64_t), p, HB_TAG, &d->peers[p].rreq, err, sizeof err))
        return mpi_err(d, err);
    return HWA_OK;
}

/* Takes every heartbeat that has arrived. */
static hwa_status poll_beats(hwa_dist *d) {
    char err[256];
    for (int p = 0; p < d->size; p++) {
        peer *q = &d->peers[p];
        while (p != d->rank && q->rreq) {
            int done = 0;
            if (d->m->test(q->rreq, &done, err, sizeof err)) return mpi_err(d, err);
            if (!done) break;
            q->rreq = NULL;
            q->heard = now_s();
            if (q->in > q->seen) q->seen = q->in;
            hwa_status st = post_recv(d, p);
            if (st) return st;
        }
        if (p != d->rank && q->sreq) {
            int done = 0;
            if (d->m->test(q->sreq, &done, err, sizeof err)) return mpi_err(d, err);
            if (done) q->sreq = NULL;
        }
    }
    return HWA_OK;
}

/* Sends every peer this rank's counter (again, while it waits: a ping
 * that says it is alive). */
static hwa_status send_beats(hwa_dist *d) {
    char err[256];
    hwa_status st = poll_beats(d);
    for (int p = 0; st == HWA_OK && p < d->size; p++) {
        peer *q = &d->peers[p];
        if (p == d->rank || q->sreq) continue; /* a peer's previous one still in flight: skipped */
        q->out = d->beat;
        if (d->m->isend(&q->out, sizeof(int64_t), p, HB_TAG, &q->sreq, err, sizeof err)) st = mpi_err(d, err);
    }
    return st;
}

hwa_status hwa__dist_beat(hwa_dist *d, const char *where) {
    if (!d || d->size < 2) return HWA_OK;
    d->beat++;
    snprintf(d->where, sizeof d->where, "%s", where);
    return send_beats(d);
}

hwa_status hwa__dist_allreduce_start(hwa_dist *d, void *buf, int64_t n, bool f64, void **req) {
    char err[256];
    *req = NULL;
    if (n <= 0) return HWA_OK;
    if (d->m->iallreduce_sum(buf, n, f64 ? HWA_DIST_F64 : HWA_DIST_F32, req, err, sizeof err)) return mpi_err(d, err);
    return HWA_OK;
}

hwa_status hwa__dist_allgather_start(hwa_dist *d, const void *send, void *recv, int64_t bytes, void **req) {
    char err[256];
    *req = NULL;
    if (d->m->iallgather(send, recv, bytes, req, err, sizeof err)) return mpi_err(d, err);
    return HWA_OK;
}

hwa_status hwa__dist_progress(hwa_dist *d, void **reqs, int n, int *pending) {
    char err[256];
    int left = 0;
    for (int i = 0; i < n; i++) {
        if (!reqs[i]) continue;
        int done = 0;
        if (d->m->test(reqs[i], &done, err, sizeof err)) return mpi_err(d, err);
        if (done) reqs[i] = NULL;
        else left++;
    }
    if (pending) *pending = left;
    return HWA_OK;
}

/* The message for a collective that waited past the timeout: the ranks
 * whose heartbeat is behind, with their process and host. */
static hwa_status timed_out(hwa_dist *d, const char *what, double waited) {
    char late[600] = "";
    size_t off = 0;
    int n_late = 0;
    poll_beats(d);
    /* Ranks that wait ping every PING_S: one silent for half the timeout
     * (and at least 3 pings) has stopped even if it had arrived. */
    const double now = now_s(), silent = fmax(3.0 * PING_S, 0.5 * d->timeout_s);
    bool arrived_all = true;
    for (int p = 0; p < d->size && off < sizeof late; p++) {
        if (p == d->rank) continue;
        const bool absent = d->peers[p].seen < d->beat, quiet = now - d->peers[p].heard > silent;
        arrived_all &= !absent;
        if (!absent && !quiet) continue;
        n_late++;
        int k = snprintf(late + off, sizeof late - off, "%srank %d (pid %lld on %s)%s", off ? ", " : "", p,
                         (long long)d->peers[p].pid, d->peers[p].host, absent ? "" : " (silent since it arrived)");
        if (k > 0) off += (size_t)k;
    }
    d->broken = true;
    if (n_late)
        return hwa__err(NULL, HWA_E_DEVICE,
                        "mpi (rank %d of %d): %s did not %s the exchange of %s within %.0f s (it died or hangs); "
                        "waited for %s",
                        d->rank, d->size, late, arrived_all ? "finish" : "reach",
                        d->where[0] ? d->where : "the first step", waited, what);
    return hwa__err(NULL, HWA_E_DEVICE,
                    "mpi (rank %d of %d): every rank reached %s, but %s did not complete within %.0f s (the "
                    "network between the ranks?)",
                    d->rank, d->size, d->where[0] ? d->where : "the first step", what, waited);
}

hwa_status hwa__dist_wait(hwa_dist *d, void **reqs, int n, const char *what) {
    const double t0 = now_s();
    double pinged = t0;
    int spins = 0;
    for (;;) {
        int left = 0;
        hwa_status st = hwa__dist_progress(d, reqs, n, &left);
        if (st || !left) return st;
        const double now = now_s(), waited = now - t0;
        if (waited > d->timeout_s) return timed_out(d, what, waited);
        if (d->size > 1 && now - pinged > PING_S) {
            pinged = now;
            if ((st = send_beats(d))) return st;
        }
        /* Spin briefly (a collective that is about to finish), then let the
         * other ranks have the CPU: oversubscribed jobs share cores. */
        if (++spins > 2000) nanosleep(&(struct timespec){0, 50000}, NULL);
        if (spins % 256 == 0 && (st = poll_beats(d))) return st;
    }
}

hwa_status hwa_dist_allreduce_f64(hwa_dist *d, double *x, int64_t n) {
    if (!d || (!x && n)) return hwa__err(NULL, HWA_E_MISUSE, "mpi: NULL argument");
    if (d->size < 2) return HWA_OK;
    void *req;
    hwa_status st = hwa__dist_allreduce_start(d, x, n, true, &req);
    return st ? st : hwa__dist_wait(d, &req, 1, "a sum over the ranks");
}

hwa_status hwa_dist_init(const hwa_dist_opts *opts, hwa_dist **out) {
    if (!out) return hwa__err(NULL, HWA_E_MISUSE, "mpi: NULL argument");
    *out = NULL;
    hwa_dist *d = calloc(1, sizeof *d);
    if (!d) return hwa__err(NULL, HWA_E_NOMEM, "mpi: out of memory");
    d->timeout_s = opts && opts->timeout_s > 0 ? opts->timeout_s : HWA_DIST_TIMEOUT_S;
    hwa_status st = open_module(d, opts ? opts->module : NULL);
    char err[256];
    if (st == HWA_OK && d->m->init(&d->rank, &d->size, d->version, sizeof d->version, err, sizeof err))
        st = hwa__err(NULL, HWA_E_DEVICE, "mpi: %s", err);
    d->started = st == HWA_OK;
    if (st == HWA_OK && !(d->peers = calloc((size_t)d->size, sizeof *d->peers)))
        st = hwa__err(NULL, HWA_E_NOMEM, "mpi: out of memory");
    who *all = NULL;
    if (st == HWA_OK && d->size > 1) {
        who me = {.pid = (int64_t)getpid()};
        if (gethostname(me.host, sizeof me.host - 1)) snprintf(me.host, sizeof me.host, "?");
        all = calloc((size_t)d->size, sizeof *all);
        void *req = NULL;
        if (!all) st = hwa__err(NULL, HWA_E_NOMEM, "mpi: out of memory");
        if (st == HWA_OK) st = hwa__dist_allgather_start(d, &me, all, sizeof me, &req);
        snprintf(d->where, sizeof d->where, "start-up");
        if (st == HWA_OK) st = hwa__dist_wait(d, &req, 1, "the other ranks to start");
        for (int p = 0; st == HWA_OK && p < d->size; p++) {
            d->peers[p].pid = all[p].pid;
            d->peers[p].heard = now_s();
            memcpy(d->peers[p].host, all[p].host, sizeof all[p].host);
            d->peers[p].host[sizeof d->peers[p].host - 1] = 0;
            if (p != d->rank) st = post_recv(d, p);
        }
    }
    free(all);
    if (st) { /* MPI may have started: the caller exits non-zero (hwa_dist_leave) */
        d->broken = true;
        hwa_dist_free(d);
        return st;
    }
    *out = d;
    return HWA_OK;
}

void hwa_dist_leave(hwa_dist *d) {
    if (!d) return;
    d->broken = true;
    hwa_dist_free(d);
}

void hwa_dist_free(hwa_dist *d) {
    if (!d) return;
    if (d->started && !d->broken) {
        char err[256];
        /* Every rank sent every peer the same number of heartbeats: take
         * them all, so that none is left unmatched, then finalize. */
        const double t0 = now_s();
        for (bool all = false; !all && now_s() - t0 < d->timeout_s;) {
            if (poll_beats(d)) break;
            all = true;
            for (int p = 0; p < d->size; p++)
                if (p != d->rank && (d->peers[p].seen < d->beat || d->peers[p].sreq)) all = false;
            if (!all) nanosleep(&(struct timespec){0, 100000}, NULL);
        }
        for (int p = 0; p < d->size; p++) {
            if (d->peers[p].rreq) d->m->cancel(d->peers[p].rreq);
            if (d->peers[p].sreq) d->m->cancel(d->peers[p].sreq);
        }
        d->m->finalize(err, sizeof err);
    }
    /* The MPI library stays loaded: unloading it is not safe once started. */
    free(d->peers);
    free(d);
}
