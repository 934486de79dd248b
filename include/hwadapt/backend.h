/* hwadapt — devices, backends and buffers.
 *
 * A backend executes graph nodes on one device. Backends are found through a
 * registry and named by device spec strings: "cpu" (also "cpu:0"), "opencl:N",
 * later "cuda:N"; "auto" picks the best device available. "cpu:A-B" is a core
 * set: the CPU backend on CPUs A to B alone ("cpu:0-0" is CPU 0, "cpu:1-1"
 * CPU 1), a device of its own, so that one CPU can be split into devices that
 * a placement (sched.h) runs segments on. "cpu:N" stays the device index it
 * always was: "cpu:1" is an error, never CPU 1. The CPU
 * reference backend ("cpu") implements every op in plain scalar C and is what
 * every other backend and every fast kernel is tested against.
 *
 * Threading: a backend is used by one thread at a time.
 */
#ifndef HWADAPT_BACKEND_H
#define HWADAPT_BACKEND_H

#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hwa_device_kind {
    HWA_DEVICE_CPU = 0,
    HWA_DEVICE_GPU,
    HWA_DEVICE_ACCEL
} hwa_device_kind;

const char *hwa_device_kind_name(hwa_device_kind k); /* "cpu", "gpu", "accel" */

/* The registry: how many backend kinds this build knows, and each one's
 * spec prefix ("cpu", ...). */
int hwa_backend_reg_count(void);
const char *hwa_backend_reg_name(int i);

/* Creates a backend for a device spec. Memory comes from ctx's allocator;
 * the backend must be freed before ctx. NULL on error: an unknown spec is
 * HWA_E_NOTFOUND with a message that lists the known ones. A core set
 * "cpu:A-B" needs every CPU of A..B in the calling thread's affinity mask
 * (HWA_E_NOTFOUND otherwise) and A <= B (else, and for any other text after
 * "cpu:" but a number, HWA_E_INVALID); both messages list the CPUs this
 * process may use. The backend's spec is the one given, normalised
 * ("cpu:0", "cpu:0-3"). While a core set computes, the calling thread, the
 * library's pool workers and, with more than one thread, oneDNN's OpenMP
 * threads run on its CPUs; after it the calling thread and the OpenMP
 * threads are back on the calling thread's CPUs, and the pool's workers
 * follow at their next region of another set. */
hwa_backend *hwa_backend_new(hwa_ctx *ctx, const char *spec);
void hwa_backend_free(hwa_backend *be); /* NULL is a no-op */

const char *hwa_backend_name(const hwa_backend *be);   /* "cpu" */
hwa_device_kind hwa_backend_device_kind(const hwa_backend *be);
/* Whether this backend can compute node (a tensor built by an op). */
bool hwa_backend_supports(const hwa_backend *be, const hwa_tensor *node);
/* Waits until everything queued on the backend has finished. */
hwa_status hwa_backend_synchronize(hwa_backend *be);

/* Allocates storage on be for one tensor without data. */
hwa_status hwa_tensor_alloc(hwa_tensor *t, hwa_backend *be);
/* Binds a leaf without data to memory the caller owns, without copying (a
 * weight in a memory-mapped model file, say). Only for backends whose memory
 * the host addresses (the CPU); HWA_E_UNSUPPORTED otherwise. data must hold
 * nbytes == hwa_tensor_nbytes(t), stay valid while t is used, and be aligned
 * to at least the dtype's element size. Read-only memory is fine as long as
 * nothing writes to t (no hwa_write_slice into it, no set_* calls). */
hwa_status hwa_tensor_bind_host(hwa_tensor *t, hwa_backend *be, const void *data, size_t nbytes);

/* The bytes be holds in buffers now (*used) and the most it has held since
 * it was made (*peak): its allocator's statistics, alignment padding
 * excluded; either pointer may be NULL. HWA_E_MISUSE for NULL be. */
hwa_status hwa_backend_memory(const hwa_backend *be, int64_t *used, int64_t *peak);

/* The bytes be's kernels would keep beside g's own buffers once g has run:
 * on the CPU, oneDNN's copy of every leaf it multiplies by (weights, and a
 * batch of inputs where it is a product's second operand, as in a weight's
 * gradient) reordered into its own layout. 0 for a backend that keeps
 * none or does not say. Nothing runs; kernels may be prepared (and kept
 * for g's runs). HWA_E_MISUSE for NULL arguments. */
hwa_status hwa_backend_plan_kept(hwa_backend *be, const hwa_graph *g, int64_t *bytes);

/* Allocates one buffer on be for every leaf of ctx that has no data yet
 * (inputs and parameters), each aligned for SIMD. */
hwa_status hwa_ctx_alloc_leaves(hwa_ctx *ctx, hwa_backend *be);

/* ---- execution settings ------------------------------------------------ */

/* The number of threads be uses to compute (CPU: the library's own thread
 * pool for its kernels, and oneDNN's OpenMP threads for the products it
 * runs). n >= 1 sets it; n == 0 restores the default:
 * HWA_NUM_THREADS when set, else the CPUs this process may use (its affinity
 * mask, capped by a cgroup CPU quota), as they are when the backend is made
 * or when n == 0 is passed (so a changed mask or quota counts from the next
 * call with n == 0); a core set ("cpu:A-B") has at most one thread per CPU
 * of the set, and that many by default. It is an upper bound: while other processes keep CPUs
 * busy (looked at about every 100 ms), a compute uses only the CPUs they
 * leave, at least one; HWA_ADAPT_THREADS=0 turns that off (docs/threads.md).
 * Backends without threads accept and ignore it. HWA_E_MISUSE for NULL or
 * n < 0. Not thread-safe against a running compute on be.
 *
 * An embedding program whose cores may be shared with other work should
 * set GOMP_SPINCOUNT=10000 (or OMP_WAIT_POLICY=passive) in its environment
 * before it starts, as the hwadapt command does for itself: libgomp, which
 * runs oneDNN's threads, reads it once before main, and its default spin of
 * about 300,000 iterations takes the CPU the working threads need
 * (linear1000 on 2 loaded cores: 8 ms a query by default, 1.3 ms with the
 * short spin). The library's own pool spins 50 us (HWA_SPIN_US) and sleeps. */
hwa_status hwa_backend_set_threads(hwa_backend *be, int n);
/* The thread count be uses now (>= 1). */
int hwa_backend_threads(const hwa_backend *be);

/* What an f32 matrix product may compute in (as PyTorch's
 * set_float32_matmul_precision): F32 is exact f32 (the default); BF16 rounds
 * both operands to bf16 and accumulates in f32; INT8 quantizes weights per
 * output channel (symmetric, once, cached) and activations per row (dynamic,
 * every run) and accumulates in int32; TF32 (PyTorch's "high") lets NVIDIA
 * tensor cores round both operands to TF32's 10-bit mantissa (the cuda
 * backend; CPUs have no TF32 and compute f32). Where the hardware cannot,
 * the product stays f32. Products of bf16/f16 tensors are unaffected. HWA_E_MISUSE for
 * NULL or an unknown value. */
typedef enum hwa_matmul_precision {
    HWA_MATMUL_PRECISION_F32 = 0,
    HWA_MATMUL_PRECISION_BF16 = 1,
    HWA_MATMUL_PRECISION_INT8 = 2,
    HWA_MATMUL_PRECISION_TF32 = 3
} hwa_matmul_precision;
hwa_status hwa_backend_set_matmul_precision(hwa_backend *be, hwa_matmul_precision p);

/* The kernel that computed node in be's last compute, for reports
 * ("onednn:brg:avx512_core_amx+bias", "avx512", "ref", "fused into node 3"),
 * or "" when be did not compute it or does not say. The string is owned by
 * be and valid until its next compute. */
const char *hwa_backend_kernel_name(const hwa_backend *be, const hwa_tensor *node);

#ifdef __cplusplus
}
#endif
#endif
