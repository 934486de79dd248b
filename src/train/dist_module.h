/* The interface between libhwadapt and a loadable communication module
 * (libhwadapt_mpi.so): a versioned table of plain C functions, so that the
 * library and the hwadapt command never link MPI and start on machines
 * without it, and so that any runtime that needs its own libraries at link
 * time (MPI here; CUDA, NCCL) can be built the same way.
 *
 * A module exports one symbol, HWA_DIST_MODULE_ENTRY, a function that takes
 * the ABI version the library was built with and returns its table, or NULL
 * when it was built for another major version. The table starts with its
 * own version and size; slots are only ever appended, and the library reads
 * a slot only when struct_size covers it.
 *
 * Every slot returns 0 on success or the runtime's error code, and writes a
 * one-line message to err (cap bytes) on failure. Requests are opaque
 * handles owned by the module until a test reports them done (the module
 * frees them then) or cancel frees them. Not a published API. */
#ifndef HWADAPT_DIST_MODULE_H
#define HWADAPT_DIST_MODULE_H

#include <stddef.h>
#include <stdint.h>

#define HWA_DIST_ABI_MAJOR 1u
#define HWA_DIST_ABI_MINOR 0u
#define HWA_DIST_ABI_VERSION ((HWA_DIST_ABI_MAJOR << 16) | HWA_DIST_ABI_MINOR)
#define HWA_DIST_MODULE_ENTRY "hwa_dist_module_v1"

typedef enum hwa_dist_type { HWA_DIST_F32 = 0, HWA_DIST_F64 = 1 } hwa_dist_type;

typedef struct hwa_dist_module {
    uint32_t abi_version; /* HWA_DIST_ABI_VERSION of the module's build */
    uint32_t struct_size; /* sizeof(hwa_dist_module) of the module's build */
    const char *name;     /* "mpi" */
    /* Starts the runtime (once per process): *rank of *size, and the
     * runtime's own description ("Open MPI v4.1.4"). */
    int (*init)(int *rank, int *size, char *version, size_t version_cap, char *err, size_t cap);
    /* Ends it after every rank got here (a collective). */
    int (*finalize)(char *err, size_t cap);
    /* Sum of buf[0..n) over every rank into buf on every rank, started now. */
    int (*iallreduce_sum)(void *buf, int64_t n, hwa_dist_type t, void **req, char *err, size_t cap);
    /* Rank r's send[0..bytes) into recv[r * bytes ..) on every rank. */
    int (*iallgather)(const void *send, void *recv, int64_t bytes, void **req, char *err, size_t cap);
    /* Point to point, for heartbeats: bytes to or from rank peer with tag. */
    int (*isend)(const void *buf, int64_t bytes, int peer, int tag, void **req, char *err, size_t cap);
    int (*irecv)(void *buf, int64_t bytes, int peer, int tag, void **req, char *err, size_t cap);
    /* *done = 1 when req completed (req is then freed), else 0. */
    int (*test)(void *req, int *done, char *err, size_t cap);
    /* Drops a request that will never complete (a peer died). */
    void (*cancel)(void *req);
} hwa_dist_module;

typedef const hwa_dist_module *(*hwa_dist_module_entry_fn)(uint32_t abi_version);

#endif
