/* A host emulation of the CUDA features src/backends/cuda/cuda_fast.cu
 * uses, so that tests/test_cuda_fast_emu.cpp runs its kernels on machines
 * with no GPU (this one). Compiled with __CUDACC__ defined and this folder
 * first on the include path, in place of the toolkit's headers.
 *
 * Each CUDA thread of a block is an OS thread; the blocks of a grid run one
 * after another, so __shared__ arrays (function statics here) are the block's;
 * __syncthreads is a barrier of the block, __syncwarp one of the warp, a
 * shuffle goes through the warp's exchange array between two warp
 * barriers. This checks the kernels' indexing, masking, reductions and
 * barriers; not their speed, nor anything the emulation is stricter about
 * than a GPU (every lane of a warp must reach each shuffle, as CUDA's full
 * mask demands anyway). A launch the device would refuse (a block over 1024
 * threads or not whole warps, dynamic shared memory over 48 KiB without the
 * opt-in, or over HWA_EMU_SMEM_OPTIN) is an error of cudaGetLastError and
 * does not run. */
#ifndef HWA_CUDA_EMU_RUNTIME_H
#define HWA_CUDA_EMU_RUNTIME_H

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9 };
typedef void *cudaStream_t;
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };

/* the opt-in limit of an H100 */
#define HWA_EMU_SMEM_OPTIN (227 * 1024)

struct hwa_emu_barrier {
    std::mutex m;
    std::condition_variable cv;
    int n, count = 0;
    long gen = 0;
    explicit hwa_emu_barrier(int parties) : n(parties) {}
    void wait() {
        std::unique_lock<std::mutex> l(m);
        const long g = gen;
        if (++count == n) {
            count = 0;
            gen++;
            cv.notify_all();
        } else {
            cv.wait(l, [&] { return gen != g; });
        }
    }
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline thread_local hwa_emu_barrier *hwa_emu_block_bar, *hwa_emu_warp_bar;
inline thread_local float *hwa_emu_xchg;
inline thread_local int hwa_emu_lane;
inline std::vector<char> hwa_emu_dynamic;
inline std::map<const void *, int> hwa_emu_smem_attr;
inline cudaError_t hwa_emu_last_error = cudaSuccess;
inline long hwa_emu_launches = 0;

inline void __syncthreads() { hwa_emu_block_bar->wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { hwa_emu_warp_bar->wait(); }
inline float __shfl_xor_sync(unsigned, float v, int lane_mask) {
    hwa_emu_xchg[hwa_emu_lane] = v;
    __syncwarp();
    const float r = hwa_emu_xchg[hwa_emu_lane ^ lane_mask];
    __syncwarp();
    return r;
}
inline uint32_t __float_as_uint(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
inline float __uint_as_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

template <class F> cudaError_t cudaFuncSetAttribute(F f, cudaFuncAttribute, int v) {
    if (v < 0 || v > HWA_EMU_SMEM_OPTIN) return cudaErrorInvalidValue;
    hwa_emu_smem_attr[(const void *)f] = v;
    return cudaSuccess;
}
struct cudaFuncAttributes {
    int maxThreadsPerBlock;
};
template <class F> cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, F) {
    a->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}
inline cudaError_t cudaGetLastError() {
    const cudaError_t e = hwa_emu_last_error;
    hwa_emu_last_error = cudaSuccess;
    return e;
}

inline void *hwa_emu_dynamic_shared() { return hwa_emu_dynamic.data(); }

template <class K, class A> void hwa_emu_launch(K kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t, A arg) {
    const unsigned nt = block.x * block.y * block.z;
    const size_t allowed = smem <= 48 * 1024 ? smem : (size_t)hwa_emu_smem_attr[(const void *)kernel];
    if (nt == 0 || nt > 1024 || nt % 32 || grid.x == 0 || smem > allowed) {
        hwa_emu_last_error = cudaErrorInvalidConfiguration;
        return;
    }
    hwa_emu_launches++;
    /* not zeroed, as on a GPU: 0x7f7f7f7f is a huge float, so a read of an
     * element nobody wrote shows in the results */
    hwa_emu_dynamic.assign(smem, (char)0x7f);
    blockDim = block;
    gridDim = grid;
    /* one OS thread per CUDA thread of a block, running the blocks in turn,
     * with a barrier between blocks: a block's shared memory is free when
     * the next one starts */
    hwa_emu_barrier bar((int)nt);
    std::vector<std::unique_ptr<hwa_emu_barrier>> warps;
    for (unsigned w = 0; w < nt / 32; w++) warps.emplace_back(new hwa_emu_barrier(32));
    std::vector<float> xchg(nt);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < nt; t++)
        threads.emplace_back([&, t] {
            threadIdx = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
            hwa_emu_block_bar = &bar;
            hwa_emu_warp_bar = warps[t / 32].get();
            hwa_emu_xchg = &xchg[t / 32 * 32];
            hwa_emu_lane = (int)(t % 32);
            for (unsigned bz = 0; bz < grid.z; bz++)
                for (unsigned by = 0; by < grid.y; by++)
                    for (unsigned bx = 0; bx < grid.x; bx++) {
                        blockIdx = dim3(bx, by, bz);
                        kernel(arg);
                        bar.wait();
                    }
        });
    for (auto &th : threads) th.join();
}

#define HWA_CU_LAUNCH(kernel, grid, block, smem, stream, arg) hwa_emu_launch(kernel, grid, block, smem, stream, arg)
#define HWA_CU_DYNAMIC_SHARED(type, name) type *name = (type *)hwa_emu_dynamic_shared()

#endif
