/* The launchers of the CUDA-only kernels (cuda_fast.cu), for the host side
 * of the fast paths (cuda_blas.c). Plain C types only, so that the header
 * reads the same to gcc and to nvcc. The caller has checked every shape
 * against the limits below; the launchers do not check them again.
 *
 * Each launcher queues its kernels on stream (a cudaStream_t) and returns
 * the cudaError_t of cudaGetLastError after each launch (0: cudaSuccess),
 * with *kernel set to the name of the kernel it launched last (static).
 * Not a published API. */
#ifndef HWADAPT_BACKENDS_CUDA_FAST_KERNELS_H
#define HWADAPT_BACKENDS_CUDA_FAST_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the kernels up on the current device, once, before any launch (and
 * before any stream capture): loads every kernel, and lets the flash
 * instances have up to smem_cap bytes of shared memory per block (the
 * device's opt-in limit). */
int hwa__cu_kernels_init(size_t smem_cap, const char **kernel);

/* Storage types, as hwa_dtype numbers them. */
enum { HWA__CU_F32 = 0, HWA__CU_F16 = 1, HWA__CU_BF16 = 2 };

/* The row ops. */
enum { HWA__CU_SOFTMAX, HWA__CU_LOG_SOFTMAX, HWA__CU_NORM, HWA__CU_RMS_NORM };

/* Rows of one warp's kernel at most; wider rows get a block each. */
#define HWA__CU_WARP_ROW_MAX 1024

/* A row op over rows = ne0 * ne1 * ne2 rows of n elements. x and y point at
 * element (0, 0, 0, 0) of their views; row (i0, i1, i2) starts at
 * i0 * s[0] + i1 * s[1] + i2 * s[2] elements from there and its elements
 * are adjacent. x and y have the same dtype; y may be x. */
typedef struct hwa__cu_rows {
    const void *x;
    void *y;
    int64_t rows, n, ne1, ne2;
    int64_t xs[3], ys[3];
    float eps; /* NORM, RMS_NORM */
    int op;    /* HWA__CU_SOFTMAX ... */
    int dt;    /* HWA__CU_F32 ... */
} hwa__cu_rows;
int hwa__cu_rows_launch(const hwa__cu_rows *a, void *stream, const char **kernel);

/* The widest head (D and Dv) the attention kernels take. */
#define HWA__CU_ATT_MAX_D 256

/* ATTENTION of q [B, Hq, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv] into
 * o [B, Hq, Tq, Dv], as the op table defines it (query head h reads kv head
 * h / (Hq / Hkv); with causal, query i sees keys 0 .. Tk - Tq + i; one that
 * sees none gets 0). The pointers are at element (0, 0, 0, 0) of their
 * views; strides of dims 0-2 in elements, the last dim's is 1. Every
 * tensor has dtype dt. D and Dv are 1 .. HWA__CU_ATT_MAX_D; Hq a multiple
 * of Hkv. */
typedef struct hwa__cu_attn {
    const void *q, *k, *v;
    void *o;
    int64_t B, Hq, Hkv, Tq, Tk, D, Dv;
    int64_t qs[3], ks[3], vs[3], os[3];
    float scale;
    int causal;
    int dt;
    /* attention_splitk only: the key range is cut into n_split chunks of
     * chunk keys (the last may be shorter, none is empty); part holds
     * B * Hq * n_split * (Dv + 2) floats of device memory */
    int n_split;
    int64_t chunk;
    float *part;
} hwa__cu_attn;

/* The most chunks attention_splitk cuts the keys into. */
#define HWA__CU_SPLIT_MAX 1024

/* Bytes of shared memory flash_attention takes for heads of D and Dv. */
size_t hwa__cu_flash_smem(int64_t D, int64_t Dv);
/* The queries of one flash_attention block (the grid has
 * ceil(Tq / this) * Hq * B blocks). */
int hwa__cu_flash_queries(void);
/* Prefill (any Tq): tiles of keys and values in shared memory, online
 * softmax. Needs hwa__cu_flash_smem(D, Dv) bytes of shared memory per
 * block (the caller checks the device allows it). */
int hwa__cu_flash_attention(const hwa__cu_attn *a, void *stream, const char **kernel);
/* Decode (Tq == 1): partial max, sum and output of every chunk of keys
 * into part, then a second kernel combining them into o. */
int hwa__cu_attention_splitk(const hwa__cu_attn *a, void *stream, const char **kernel);

#ifdef __cplusplus
}
#endif
#endif
