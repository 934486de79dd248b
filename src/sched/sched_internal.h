/* Internal to src/sched: the schedule's state, the cost model, the profile
 * cache, placement and execution. Not a published API. */
#ifndef HWADAPT_SCHED_INTERNAL_H
#define HWADAPT_SCHED_INTERNAL_H

#include "core/internal.h"
#include "hwadapt/sched.h"

/* Where a tensor's storage is: a device index, or host memory that no
 * device of the schedule owns (a leaf bound to the caller's memory, or one
 * not allocated yet in a dry run). */
#define HWA__LOC_HOST (-1)
#define HWA__LOC_NONE (-2) /* views, which compute nothing */

/* Why a node runs where it does. */
typedef enum hwa__reason {
    HWA__R_ONLY = 0,    /* the only device given */
    HWA__R_FASTER,      /* the fastest device for it (estimate or measurement) */
    HWA__R_FOLLOWS,     /* a slower device, chosen to save copies (follows its inputs or weights) */
    HWA__R_INPLACE,     /* writes in place into storage that lives there */
    HWA__R_LACKS,       /* the preferred device lacks the op */
    HWA__R_STAGE,       /* its stage of a layer split */
    HWA__R_SINGLE,      /* the whole graph was asked on that device */
    HWA__R_COUNT
} hwa__reason;

const char *hwa__reason_code(hwa__reason r); /* "faster", "follows", ... */

/* One candidate placement with its estimate. */
typedef struct hwa__cand {
    char what[96];      /* "cpu:0", "opencl:0", "layers cpu:0 | opencl:0 at node 12", "mixed (list + search)" */
    int8_t *where;      /* per node: device, HWA__LOC_NONE for views */
    double est_s;       /* per run */
    double dev_s[HWA_PLACE_MAX_DEVICES];
    double copy_s;      /* per run */
    double copy_bytes;  /* per run */
    double once_bytes;  /* copied once (constant leaves) */
    int64_t need[HWA_PLACE_MAX_DEVICES];
    int64_t arena[HWA_PLACE_MAX_DEVICES];
    int64_t shadow[HWA_PLACE_MAX_DEVICES];
    int64_t grads[HWA_PLACE_MAX_DEVICES];
    int64_t leaves[HWA_PLACE_MAX_DEVICES]; /* unallocated leaves it will hold */
    bool fits;
    char why_not[200];  /* the shortfall, or why it lost */
    int cut;            /* layer splits: the first node of the second stage; -1 otherwise */
} hwa__cand;

typedef struct hwa__cached_copy {
    uint64_t uid;       /* the owner's (a freed tensor's address may come back; its uid does not) */
    hwa_backend *be;
    uint64_t last_used; /* the cache's generation when a placement last used it */
    hwa_buffer *buf;    /* owned by the cache, not tracked by the context */
    uint64_t version;
    bool valid;
} hwa__cached_copy;

typedef struct hwa__prof_entry {
    uint64_t h;
    const char *dev, *key; /* into the cache's profile text */
    double secs;
} hwa__prof_entry;

struct hwa_place_cache {
    hwa_ctx *ctx;
    hwa__cached_copy *e;
    int n;
    uint64_t gen;       /* bumped by every placement's allocation */
    char *profile;      /* the profile cache file's text, read once (malloc'd) */
    hwa__prof_entry *prof; /* its lines indexed (NULL: not read yet) */
    size_t prof_cap;
    char profile_path[4096];
};

typedef struct hwa__shadow {
    hwa_tensor *owner;  /* storage owner copied */
    int dev;            /* the device holding the copy */
    hwa_buffer *buf;
    uint64_t version;   /* owner's version when copied */
    bool valid;
    int cached;         /* index into the cache's entries (which own buf), or -1 */
    hwa_buffer *real_buf; /* the owner's own binding while a segment reads the copy */
    size_t real_offs;
    void *real_data;
} hwa__shadow;

typedef struct hwa__segment {
    int dev;
    int n;              /* compute nodes */
    hwa_tensor **nodes;
    int n_in;
    int *in;            /* indices into the schedule's shadows that this segment reads */
} hwa__segment;

#define HWA__MAX_CANDS 16

struct hwa_placement {
    hwa_ctx *ctx;
    hwa_graph *g;
    int n_dev;
    hwa_backend *be[HWA_PLACE_MAX_DEVICES];
    hwa_place_device dev[HWA_PLACE_MAX_DEVICES];
    bool excluded[HWA_PLACE_MAX_DEVICES];
    hwa_place_opts o;
    int8_t *given;           /* GIVEN: the caller's assignment, copied */
    int n;                   /* g->n_nodes */
    double *cost;            /* [n * n_dev] seconds; INFINITY where unsupported or unknown */
    bool *measured;          /* [n * n_dev] the cost is a measured time */
    double *flops, *bytes;   /* [n] */
    int8_t *leaf_loc;        /* [n_leaves] location of each leaf of g (GRAD leaves: NONE until placed) */
    bool *constant_leaf;     /* [n_leaves] copied once, not every run */
    /* the candidates and the choice */
    hwa__cand cand[HWA__MAX_CANDS];
    int n_cand, chosen;
    uint8_t *reason;         /* [n] */
    int8_t *where;           /* [n] the chosen placement (= cand[chosen].where) */
    char choice[96];
    /* execution */
    bool allocated;
    hwa_buffer *arena[HWA_PLACE_MAX_DEVICES];
    hwa_buffer *grads[HWA_PLACE_MAX_DEVICES];
    hwa__shadow *shadows;
    int n_shadows;
    hwa__segment *segs;
    int n_segs;
    uint32_t *saved_flags;   /* [n] node flags before escaping nodes were marked outputs */
    int failed_dev;
    bool fault_used;
    /* the profile cache's path ("" none) */
    char profile_path[4096];
};

/* ---- cost.c -------------------------------------------------------------- */

/* FLOPs (matrix products 2MNK, others one per output element) and bytes
 * (every input's storage read once, the output written once) of node t. */
double hwa__sched_node_flops(const hwa_tensor *t);
double hwa__sched_node_bytes(const hwa_tensor *t);
/* The roofline seconds of node t on device d; INFINITY when d's figures are unknown. */
double hwa__sched_roofline_s(const hwa_place_device *d, const hwa_tensor *t, double flops, double bytes);
/* Seconds to copy n bytes from location `from` to device `to` (0 when `to`
 * reads it in place). */
double hwa__sched_copy_s(const hwa_placement *s, int from, int to, double n);
/* Whether device `to` reads storage at location `from` directly. */
bool hwa__sched_reads_in_place(const hwa_placement *s, int from, int to);
/* The profile cache: looks up (device, node) and records measured times. */
void hwa__sched_profile_key(const hwa_tensor *t, char *buf, size_t cap);
void hwa__sched_device_key(const hwa_place_device *d, char *buf, size_t cap);
hwa_status hwa__sched_profile_load(hwa_placement *s);
hwa_status hwa__sched_profile_store(hwa_placement *s, const double *secs /* [n], NAN: not timed */);

/* ---- place.c ------------------------------------------------------------- */

/* Fills s->cand, s->chosen, s->where and s->reason; HWA_E_NOMEM naming the
 * shortfalls when no candidate fits. */
hwa_status hwa__sched_place(hwa_placement *s);
/* The location of the storage owner o under placement where. */
int hwa__sched_loc(const hwa_placement *s, const int8_t *where, const hwa_tensor *o);
/* The planner's dry run of the nodes placed on device d (keep: nodes read
 * by another device, alive to the end): the arena's size, and with bind_to
 * the nodes bound to their offsets in it. */
hwa_status hwa__sched_plan_device(hwa_placement *s, const int8_t *where, const bool *keep, int d, size_t *arena_bytes,
                                  hwa_buffer *bind_to);
/* Evaluates c->where: times, copies and memory. */
hwa_status hwa__sched_evaluate(hwa_placement *s, hwa__cand *c);

#endif
