#ifndef CMYELIN_KERNELS_H
#define CMYELIN_KERNELS_H
// ISA-specific inner kernels for Myelin, selected at run time with cpuid.
// Everything else (blocking, packing, threading, dispatch) is Swift.

#include <stdint.h>
#include "myelin_activation_kernels.h"

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
/// AVX-512 float 8×32: the same B̃ panels as the 12×32 kernel, for m a multiple of 8 but not of 12.
void myelin_sgemm_kernel_avx512_8x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n);

/// The file of the loaded shared library that holds `symbol` (dladdr), or NULL.
const char *myelin_library_path(const void *symbol);

#endif

/// One LSTM time step over `rows` sequences (float32, gate order i, f, g, o as PyTorch):
/// xp: the input projection rows (leading dimension ldx), gh: h·W_hhᵀ + b_hh [rows, 4H],
/// state/next: [h | c] [rows, 2H], acts: the gates kept for backward [rows, 4H].
/// valid: a flag per row (NULL = all valid); an invalid row copies its state unchanged.
void myelin_lstm_step_forward_f32(int64_t rows, int64_t H, const float *xp, int64_t ldx, const float *gh,
                                  const float *state, float *next, float *acts, const uint8_t *valid);
/// Its backward for valid rows: dnext = d[h | c] of the step's output; writes the gate
/// gradients dgates [rows, 4H] and the c half of dprev [rows, 2H] (the h half is a GEMM).
void myelin_lstm_step_backward_f32(int64_t rows, int64_t H, const float *dnext, const float *state, const float *next,
                                   const float *acts, float *dgates, float *dprev, const uint8_t *valid);
/// One GRU time step (gates r, z, n): gh [rows, 3H], state/next [rows, H], acts [rows, 4H] (r, z, n, W_hn h + b_hn).
void myelin_gru_step_forward_f32(int64_t rows, int64_t H, const float *xp, int64_t ldx, const float *gh,
                                 const float *state, float *next, float *acts, const uint8_t *valid);
/// Its backward for valid rows: the input-side gate gradients dgates and the hidden-side ones dhidden, [rows, 3H] each.
void myelin_gru_step_backward_f32(int64_t rows, int64_t H, const float *dnext, const float *state,
                                  const float *acts, float *dgates, float *dhidden, const uint8_t *valid);

/// Winograd F(2×2, 3×3) transforms for float32 3×3 stride-1 convolutions (winograd_kernels.c):
/// the weights U [16][o][c] (output channels o0..<o1), the input tiles V [16][c][rn·tw] of tile
/// rows r0..<r0+rn (channels c0..<c1; lines: 4·(2tw+2)+w floats, the last w zero), and the
/// outputs y [n][o][oh][ow] from the products M [16][o][rn·tw] (channels o0..<o1; lines: 4·tw floats).
void myelin_wino23_weights_f32(int64_t o, int64_t c, int64_t o0, int64_t o1, const float *w, float *u);
void myelin_wino23_input_f32(const float *x, int64_t c, int64_t h, int64_t w, int64_t pt, int64_t pl,
                             int64_t th, int64_t tw, int64_t r0, int64_t rn, int64_t c0, int64_t c1,
                             float *v, float *lines);
void myelin_wino23_output_f32(const float *mat, int64_t o, int64_t th, int64_t tw, int64_t r0, int64_t rn,
                              int64_t o0, int64_t o1, const float *bias, float *y, int64_t oh, int64_t ow, float *lines);
