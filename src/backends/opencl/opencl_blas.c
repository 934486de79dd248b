/* Matrix products of the opencl backend through CLBlast, the tuned OpenCL
 * BLAS. CLBlast links libOpenCL, so it is opened with dlopen at run time
 * like the ICD loader (DESIGN.md, Backends): a binary built here starts
 * where CLBlast is missing, and the portable tiled kernel (matmul.cl) runs
 * the products then, as it does for the layouts CLBlast does not take.
 * Only CLBlast's C API is used, with its enums passed as the int values
 * clblast_c.h gives them. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "backends/opencl/opencl_internal.h"
#include "hw/hw_internal.h"

/* clblast_c.h: CLBlastLayout, CLBlastTranspose */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef int (*sgemm_fn)(int layout, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                        size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc,
                        cl_command_queue *q, cl_event *ev);
typedef int (*sgemm_strided_fn)(int layout, int ta, int tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                                size_t a_off, size_t lda, size_t a_stride, cl_mem b, size_t b_off, size_t ldb,
                                size_t b_stride, float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride,
                                size_t batch, cl_command_queue *q, cl_event *ev);

static struct {
    pthread_once_t once;
    sgemm_fn sgemm;
    sgemm_strided_fn strided;
    char why[1200]; /* "" when both entry points resolved */
} lib = {PTHREAD_ONCE_INIT, NULL, NULL, ""};

static void open_lib(void) {
    char path[1024];
    hwa__lib_path(NULL, "HWA_CLBLAST_LIB", "libclblast.so.1", path, sizeof path);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(lib.why, sizeof lib.why, "CLBlast cannot be opened: %.1000s", e ? e : path);
        return;
    }
    void *f = dlsym(h, "CLBlastSgemm"), *g = dlsym(h, "CLBlastSgemmStridedBatched");
    if (!f || !g) {
        /* stays open: CLBlast's caches may hold driver objects */
        snprintf(lib.why, sizeof lib.why, "%s lacks CLBlastSgemm or CLBlastSgemmStridedBatched", path);
        return;
    }
    memcpy(&lib.sgemm, &f, sizeof f);
    memcpy(&lib.strided, &g, sizeof g);
}

bool hwa__cl_blas_usable(char *why, size_t cap) {
    const char *env = getenv("HWA_OPENCL_BLAS");
    if (env && !strcmp(env, "0")) {
        if (why) snprintf(why, cap, "HWA_OPENCL_BLAS=0");
        return false;
    }
    pthread_once(&lib.once, open_lib);
    if (why) snprintf(why, cap, "%s", lib.why);
    return lib.sgemm != NULL;
}

/* One operand as CLBlast reads it: a row-major matrix with leading
 * dimension ld, transposed or not, plus the stride between batch items. */
typedef struct operand {
    int trans;
    size_t ld, off, batch_stride;
} operand;

/* The stored matrix of v (rows ne[2], columns ne[3]) read as op(X) with
 * trans as the product asks. A column-major matrix is the transposed
 * row-major one. False when neither dim is contiguous or the leading
 * dimension is shorter than a row. */
static bool matrix_of(const hwa__gpu_view *v, bool trans, operand *o) {
    const int64_t rows = v->ne[2], cols = v->ne[3];
    const bool unit_col = cols == 1 || v->st[3] == 1, unit_row = rows == 1 || v->st[2] == 1;
    if (unit_col && (rows == 1 || v->st[2] >= cols)) {
        o->ld = (size_t)(rows == 1 ? cols : v->st[2]);
        o->trans = trans ? TRANS : NO_TRANS;
    } else if (unit_row && (cols == 1 || v->st[3] >= rows)) {
        o->ld = (size_t)(cols == 1 ? rows : v->st[3]);
        o->trans = trans ? NO_TRANS : TRANS;
    } else {
        return false;
    }
    o->off = (size_t)v->off;
    return true;
}

/* The one stride that steps through the batch items (b0, b1) in order, for
 * a view whose batch extents are nb0 x nb1 or 1 (a shared operand: stride
 * 0 there). False when no single stride does. */
static bool batch_stride_of(const hwa__gpu_view *v, int64_t nb0, int64_t nb1, size_t *s) {
    const int64_t s0 = v->ne[0] == 1 ? 0 : v->st[0], s1 = v->ne[1] == 1 ? 0 : v->st[1];
    int64_t r;
    if (nb0 == 1) r = s1;
    else if (nb1 == 1) r = s0;
    else if (s0 == s1 * nb1) r = s1;
    else return false;
    if (r < 0) return false;
    *s = (size_t)r;
    return true;
}

static bool out_of_memory(int rc) {
    return rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES || rc == CL_OUT_OF_HOST_MEMORY;
}

hwa_status hwa__cl_blas_matmul(hwa_ctx *ctx, hwa__cl_dev *d, const hwa_tensor *t, const hwa__gpu_view v[3],
                               const cl_mem m[3], const char **name) {
    *name = NULL;
    if (v[0].dt != HWA_F32 || v[1].dt != HWA_F32 || v[2].dt != HWA_F32 || !hwa__cl_blas_usable(NULL, 0))
        return HWA_OK;
    const bool ta = t->p.i[0] != 0, tb = t->p.i[1] != 0;
    const int64_t M = v[0].ne[2], N = v[0].ne[3], K = ta ? v[1].ne[2] : v[1].ne[3];
    const int64_t nb0 = v[0].ne[0], nb1 = v[0].ne[1], batch = nb0 * nb1;
    if (M <= 0 || N <= 0 || K <= 0 || batch <= 0) return HWA_OK;
    operand a, b;
    /* C must be row-major with unit column stride */
    if (!matrix_of(&v[1], ta, &a) || !matrix_of(&v[2], tb, &b) || (N > 1 && v[0].st[3] != 1) ||
        (M > 1 && v[0].st[2] < N))
        return HWA_OK;
    const size_t ldc = M > 1 ? (size_t)v[0].st[2] : (size_t)N;
    size_t sc = 0;
    if (!batch_stride_of(&v[1], nb0, nb1, &a.batch_stride) || !batch_stride_of(&v[2], nb0, nb1, &b.batch_stride) ||
        !batch_stride_of(&v[0], nb0, nb1, &sc))
        return HWA_OK;
    cl_command_queue q = d->q;
    int rc;
    size_t rows = (size_t)M, items = (size_t)batch;
    /* A weight shared by the batch: one product of batch * M rows when A's
     * and C's items follow one another row after row. */
    if (batch > 1 && b.batch_stride == 0 && a.trans == NO_TRANS && a.batch_stride == (size_t)M * a.ld &&
        sc == (size_t)M * ldc)
        rows *= items, items = 1;
    if (items == 1) {
        rc = lib.sgemm(ROW_MAJOR, a.trans, b.trans, rows, (size_t)N, (size_t)K, 1.0f, m[1], a.off, a.ld, m[2], b.off,
                       b.ld, 0.0f, m[0], (size_t)v[0].off, ldc, &q, NULL);
        *name = "opencl:clblast:sgemm";
    } else {
        rc = lib.strided(ROW_MAJOR, a.trans, b.trans, rows, (size_t)N, (size_t)K, 1.0f, m[1], a.off, a.ld,
                         a.batch_stride, m[2], b.off, b.ld, b.batch_stride, 0.0f, m[0], (size_t)v[0].off, ldc, sc,
                         items, &q, NULL);
        *name = "opencl:clblast:sgemm_strided_batched";
    }
    if (rc == CL_SUCCESS) return HWA_OK;
    *name = NULL;
    if (out_of_memory(rc)) return hwa__cl_fail(ctx, d, items == 1 ? "CLBlastSgemm" : "CLBlastSgemmStridedBatched", rc);
    return HWA_OK; /* a case CLBlast refuses: the portable kernel runs it */
}
