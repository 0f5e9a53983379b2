#ifndef CMYELIN_KERNELS_H
#define CMYELIN_KERNELS_H
// ISA-specific inner kernels for Myelin, selected at run time with cpuid.
// Everything else (blocking, packing, threading, dispatch) is Swift.

#include <stdint.h>

/// Highest SIMD level this CPU supports: 0 = baseline, 2 = AVX2+FMA, 3 = AVX-512F.
int myelin_cpu_simd_level(void);

/// Makes C stdout (which Swift's print writes to) line-buffered, so progress reaches a log file or pipe at once.
void myelin_line_buffer_stdout(void);

/// GEMM micro-kernels: C[m×n] = alpha·Ã·B̃ + beta·C for one register tile of MR×NR,
/// where Ã holds kc steps of MR packed values and B̃ kc steps of NR packed values
/// (zero-padded), C is row-major with leading dimension ldc, m ≤ MR and n ≤ NR.
/// C is not read when beta == 0. Tile sizes (MR×NR): portable float 4×8, double 4×4; AVX2 float 6×16,
/// double 6×8; AVX-512 float 12×32, double 12×16.
void myelin_sgemm_kernel_scalar(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n);
void myelin_dgemm_kernel_scalar(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, double alpha, double beta, int64_t m, int64_t n);
void myelin_sgemm_kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n);
void myelin_dgemm_kernel_avx2(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, double alpha, double beta, int64_t m, int64_t n);
void myelin_sgemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n);
void myelin_dgemm_kernel_avx512(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, double alpha, double beta, int64_t m, int64_t n);

/// The file of the loaded shared library that holds `symbol` (dladdr), or NULL.
const char *myelin_library_path(const void *symbol);

#endif
