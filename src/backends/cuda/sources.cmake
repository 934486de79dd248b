# The CUDA backend's CUDA-only fast paths (cuBLASLt products, warp-level row
# and attention kernels), for the lead's hwadapt_cuda module target: it links
# CUDA::cublasLt and CUDA::cudart. cuda_fast.h is their interface.
set(HWA_CUDA_FAST_SOURCES ${CMAKE_SOURCE_DIR}/src/backends/cuda/cuda_blas.c
    ${CMAKE_SOURCE_DIR}/src/backends/cuda/cuda_fast.cu)
