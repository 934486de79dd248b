/* libhwadapt_mpi.so: the communication module over MPI (dist_module.h).
 * Built only where an MPI implementation is installed, linked against it,
 * and opened by libhwadapt with dlopen when hwadapt runs under mpirun.
 * Every call returns the MPI error instead of aborting: the communicator's
 * error handler is MPI_ERRORS_RETURN. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/dist_module.h"

/* A request and whether it is point to point (which MPI can cancel). */
typedef struct req {
    MPI_Request r;
    int p2p;
} req;

static int fail(int rc, const char *what, char *err, size_t cap) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", rc);
    snprintf(err, cap, "%s: %s", what, msg);
    return rc ? rc : -1;
}

static int count_of(int64_t n, const char *what, int *out, char *err, size_t cap) {
    if (n < 0 || n > INT_MAX) {
        snprintf(err, cap, "%s: %lld elements exceed MPI's int count", what, (long long)n);
        return -1;
    }
    *out = (int)n;
    return 0;
}

static req *new_req(int p2p, char *err, size_t cap) {
    req *q = calloc(1, sizeof *q);
    if (!q) snprintf(err, cap, "out of memory");
    else q->p2p = p2p;
    return q;
}

static int m_init(int *rank, int *size, char *version, size_t version_cap, char *err, size_t cap) {
    int inited = 0, provided = 0, rc;
    MPI_Initialized(&inited);
    /* MPI is called from the thread that computes; OpenMP threads inside
     * the kernels never call it. */
    if (!inited && (rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
        return fail(rc, "MPI_Init_thread", err, cap);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS) return fail(rc, "MPI_Comm_rank", err, cap);
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS) return fail(rc, "MPI_Comm_size", err, cap);
    char v[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(v, &len);
    v[strcspn(v, ",\n")] = 0; /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    snprintf(version, version_cap, "%s", v);
    return 0;
}

static int m_finalize(char *err, size_t cap) {
    int rc = MPI_Finalize();
    return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Finalize", err, cap);
}

static int m_iallreduce_sum(void *buf, int64_t n, hwa_dist_type t, void **out, char *err, size_t cap) {
    int count, rc;
    if (count_of(n, "MPI_Iallreduce", &count, err, cap)) return -1;
    req *q = new_req(0, err, cap);
    if (!q) return -1;
    rc = MPI_Iallreduce(MPI_IN_PLACE, buf, count, t == HWA_DIST_F64 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                        &q->r);
    if (rc != MPI_SUCCESS) {
        free(q);
        return fail(rc, "MPI_Iallreduce", err, cap);
    }
    *out = q;
    return 0;
}

static int m_iallgather(const void *send, void *recv, int64_t bytes, void **out, char *err, size_t cap) {
    int count, rc;
    if (count_of(bytes, "MPI_Iallgather", &count, err, cap)) return -1;
    req *q = new_req(0, err, cap);
    if (!q) return -1;
    rc = MPI_Iallgather(send, count, MPI_BYTE, recv, count, MPI_BYTE, MPI_COMM_WORLD, &q->r);
    if (rc != MPI_SUCCESS) {
        free(q);
        return fail(rc, "MPI_Iallgather", err, cap);
    }
    *out = q;
    return 0;
}

static int m_p2p(int send, void *buf, int64_t bytes, int peer, int tag, void **out, char *err, size_t cap) {
    int count, rc;
    if (count_of(bytes, send ? "MPI_Isend" : "MPI_Irecv", &count, err, cap)) return -1;
    req *q = new_req(1, err, cap);
    if (!q) return -1;
    rc = send ? MPI_Isend(buf, count, MPI_BYTE, peer, tag, MPI_COMM_WORLD, &q->r)
              : MPI_Irecv(buf, count, MPI_BYTE, peer, tag, MPI_COMM_WORLD, &q->r);
    if (rc != MPI_SUCCESS) {
        free(q);
        return fail(rc, send ? "MPI_Isend" : "MPI_Irecv", err, cap);
    }
    *out = q;
    return 0;
}

static int m_isend(const void *buf, int64_t bytes, int peer, int tag, void **out, char *err, size_t cap) {
    return m_p2p(1, (void *)buf, bytes, peer, tag, out, err, cap);
}

static int m_irecv(void *buf, int64_t bytes, int peer, int tag, void **out, char *err, size_t cap) {
    return m_p2p(0, buf, bytes, peer, tag, out, err, cap);
}

static int m_test(void *h, int *done, char *err, size_t cap) {
    req *q = h;
    int flag = 0;
    int rc = MPI_Test(&q->r, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return fail(rc, "MPI_Test", err, cap);
    *done = flag;
    if (flag) free(q);
    return 0;
}

static void m_cancel(void *h) {
    req *q = h;
    if (!q) return;
    /* A collective cannot be cancelled: its handle is dropped (the process
     * is about to stop). */
    if (q->p2p && MPI_Cancel(&q->r) == MPI_SUCCESS) MPI_Request_free(&q->r);
    free(q);
}

static const hwa_dist_module table = {
    .abi_version = HWA_DIST_ABI_VERSION,
    .struct_size = sizeof(hwa_dist_module),
    .name = "mpi",
    .init = m_init,
    .finalize = m_finalize,
    .iallreduce_sum = m_iallreduce_sum,
    .iallgather = m_iallgather,
    .isend = m_isend,
    .irecv = m_irecv,
    .test = m_test,
    .cancel = m_cancel,
};

__attribute__((visibility("default"))) const hwa_dist_module *hwa_dist_module_v1(uint32_t abi_version) {
    return (abi_version >> 16) == HWA_DIST_ABI_MAJOR ? &table : NULL;
}
