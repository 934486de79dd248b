/* The device-kernel dialect: a few macros over which every GPU-like
 * backend's portable kernels are written once. The same kernel bodies
 * compile as OpenCL C (at run time, by the device's OpenCL compiler) and as
 * CUDA C (by nvcc, for the CUDA backend).
 *
 * How the sources are put together: the OpenCL backend builds one program
 * from core/ops_list.h, this header and every *.cl file of this folder,
 * concatenated in that order (CMake embeds the text in libhwadapt), so the
 * kernel files do not #include anything. A CUDA translation unit does the
 * same with #include.
 *
 * Conventions of the kernels:
 *  - every tensor argument is a byte pointer to its buffer plus a hwa_view
 *    (element offset, dtype, shape and strides padded to 4 dims, outermost
 *    first), so one kernel serves every rank, every strided view and every
 *    float storage type;
 *  - float data is loaded and stored through f32 (hwa_ld / hwa_st):
 *    f16 and bf16 are storage only, arithmetic is f32;
 *  - op codes are the op table's (HWA_OP_RELU, ...), from core/ops_list.h.
 *
 * The CUDA side below compiles: nvcc 13 builds every *.cl file of this
 * folder through this header without a warning. It has not yet run on a
 * GPU; the host side that launches these kernels for both APIs is
 * backends/gpu/gpu_run.c. */
#ifndef HWA_GPU_DIALECT_H
#define HWA_GPU_DIALECT_H

#ifdef __CUDACC__
/* ---- CUDA C (compiled, not yet run: see above) ---- */
#include <cuda_fp16.h>
#define HWA_KERNEL extern "C" __global__
#define HWA_FN static __device__ inline
#define HWA_GLOBAL
#define HWA_LOCAL
#define HWA_LOCAL_MEM(type, name, n) __shared__ type name[n]
#define HWA_BARRIER() __syncthreads()
#define HWA_LID(d) ((d) == 0 ? threadIdx.x : (d) == 1 ? threadIdx.y : threadIdx.z)
#define HWA_GRP(d) ((d) == 0 ? blockIdx.x : (d) == 1 ? blockIdx.y : blockIdx.z)
#define HWA_LSIZE(d) ((d) == 0 ? blockDim.x : (d) == 1 ? blockDim.y : blockDim.z)
#define HWA_NGRP(d) ((d) == 0 ? gridDim.x : (d) == 1 ? gridDim.y : gridDim.z)
#define HWA_GID(d) ((hwa_long)HWA_GRP(d) * HWA_LSIZE(d) + HWA_LID(d))
typedef long long hwa_long;
typedef unsigned int hwa_uint;
typedef unsigned short hwa_ushort;
#define HWA_AS_UINT(f) __float_as_uint(f)
#define HWA_AS_FLOAT(u) __uint_as_float(u)
#define HWA_LD_F16(p, i) __half2float(((const __half *)(p))[i])
#define HWA_ST_F16(p, i, v) (((__half *)(p))[i] = __float2half_rn(v))
#else
/* ---- OpenCL C 1.2 ---- */
#define HWA_KERNEL __kernel
#define HWA_FN static inline
#define HWA_GLOBAL __global
#define HWA_LOCAL __local
#define HWA_LOCAL_MEM(type, name, n) __local type name[n]
#define HWA_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define HWA_LID(d) ((hwa_long)get_local_id(d))
#define HWA_GRP(d) ((hwa_long)get_group_id(d))
#define HWA_LSIZE(d) ((hwa_long)get_local_size(d))
#define HWA_NGRP(d) ((hwa_long)get_num_groups(d))
#define HWA_GID(d) ((hwa_long)get_global_id(d))
typedef long hwa_long;
typedef uint hwa_uint;
typedef ushort hwa_ushort;
#define HWA_AS_UINT(f) as_uint(f)
#define HWA_AS_FLOAT(u) as_float(u)
/* half as storage: vload_half / vstore_half need no cl_khr_fp16 */
#define HWA_LD_F16(p, i) vload_half((size_t)(i), (HWA_GLOBAL const half *)(p))
#define HWA_ST_F16(p, i, v) vstore_half_rte((v), (size_t)(i), (HWA_GLOBAL half *)(p))
#endif

/* ---- common to both ---- */

#define HWA__K_OP_ENUM(name, str, nsrc, diff) HWA_OP_##name,
enum hwa_k_op { HWA_OP_LIST(HWA__K_OP_ENUM) HWA_K_OP_COUNT };
#undef HWA__K_OP_ENUM

/* Storage types, as hwa_dtype numbers them. */
#define HWA_K_F32 0
#define HWA_K_F16 1
#define HWA_K_BF16 2
#define HWA_K_I32 4

/* A tensor as a kernel sees it (the host's hwa__gpu_view of backends/gpu/gpu_run.h has this layout). */
typedef struct hwa_view {
    hwa_long ne[4]; /* extents, outermost first; leading ones are 1 */
    hwa_long st[4]; /* strides in elements; 0 repeats an element (broadcast) */
    hwa_long off;   /* element offset of element 0 in the buffer */
    int dt;         /* HWA_K_* */
    int pad_;
} hwa_view;

/* Element offset of 4-index (i0, i1, i2, i3) of v. */
HWA_FN hwa_long hwa_at4(hwa_view v, hwa_long i0, hwa_long i1, hwa_long i2, hwa_long i3) {
    return v.off + i0 * v.st[0] + i1 * v.st[1] + i2 * v.st[2] + i3 * v.st[3];
}

/* Element offset of flat row-major index i of shape ne (v's strides). */
HWA_FN hwa_long hwa_at_flat(hwa_view v, const hwa_long *ne, hwa_long i) {
    const hwa_long i3 = i % ne[3];
    i /= ne[3];
    const hwa_long i2 = i % ne[2];
    i /= ne[2];
    const hwa_long i1 = i % ne[1];
    return hwa_at4(v, i / ne[1], i1, i2, i3);
}

/* bf16 from f32, rounded to nearest even; NaN stays NaN, quiet (as the
 * host codec, hwa_f32_to_bf16). */
HWA_FN hwa_ushort hwa_bf16_of(float f) {
    const hwa_uint x = HWA_AS_UINT(f);
    const hwa_uint r = (x & 0x7fffffffu) > 0x7f800000u ? ((x >> 16) | 0x40u) : ((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
    return (hwa_ushort)r;
}

HWA_FN float hwa_ld(HWA_GLOBAL const char *p, int dt, hwa_long i) {
    if (dt == HWA_K_F32) return ((HWA_GLOBAL const float *)p)[i];
    if (dt == HWA_K_F16) return HWA_LD_F16(p, i);
    if (dt == HWA_K_BF16) return HWA_AS_FLOAT((hwa_uint)((HWA_GLOBAL const hwa_ushort *)p)[i] << 16);
    return (float)((HWA_GLOBAL const int *)p)[i];
}

/* Index data (ids, labels, positions) is i32. */
HWA_FN int hwa_ld_i32(HWA_GLOBAL const char *p, hwa_long i) { return ((HWA_GLOBAL const int *)p)[i]; }

HWA_FN void hwa_st(HWA_GLOBAL char *p, int dt, hwa_long i, float v) {
    if (dt == HWA_K_F32) ((HWA_GLOBAL float *)p)[i] = v;
    else if (dt == HWA_K_F16) HWA_ST_F16(p, i, v);
    else if (dt == HWA_K_BF16) ((HWA_GLOBAL hwa_ushort *)p)[i] = hwa_bf16_of(v);
}

/* Sum and max over a work group whose size is a power of two, through buf
 * (at least the group's size); every item gets the result. The order of the
 * additions is fixed by the group size: deterministic run to run. */
HWA_FN float hwa_group_sum(HWA_LOCAL float *buf, float v) {
    const hwa_long l = HWA_LID(0);
    buf[l] = v;
    HWA_BARRIER();
    for (hwa_long s = HWA_LSIZE(0) / 2; s > 0; s >>= 1) {
        if (l < s) buf[l] += buf[l + s];
        HWA_BARRIER();
    }
    const float r = buf[0];
    HWA_BARRIER();
    return r;
}

HWA_FN float hwa_group_max(HWA_LOCAL float *buf, float v) {
    const hwa_long l = HWA_LID(0);
    buf[l] = v;
    HWA_BARRIER();
    for (hwa_long s = HWA_LSIZE(0) / 2; s > 0; s >>= 1) {
        if (l < s) buf[l] = buf[l] > buf[l + s] ? buf[l] : buf[l + s];
        HWA_BARRIER();
    }
    const float r = buf[0];
    HWA_BARRIER();
    return r;
}

/* The largest work group the row kernels use (their local arrays). */
#define HWA_K_ROW_GROUP 256

/* The widest head (D and Dv) the attention kernels take: a query row, a
 * key or value row and an output row are staged in local arrays of this
 * many floats. */
#define HWA_K_ATT_MAX_D 512

#endif
