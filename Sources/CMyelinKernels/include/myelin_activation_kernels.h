#ifndef MYELIN_ACTIVATION_KERNELS_H
#define MYELIN_ACTIVATION_KERNELS_H
// Element-wise activation kernels (activation_kernels.c), compiled per ISA and picked at run time.

#include <stdint.h>

/// y[i] = GELU(x[i]) = x·Φ(x) (the exact, erf form) for i < n; x and y must not overlap.
void myelin_gelu_erf_f32(int64_t n, const float *x, float *y);
/// x[i] = GELU(x[i]) in place.
void myelin_gelu_erf_inplace_f32(int64_t n, float *x);
/// dx[i] = g[i]·(Φ(x[i]) + x[i]·φ(x[i])), GELU's derivative times the incoming gradient.
void myelin_gelu_erf_backward_f32(int64_t n, const float *g, const float *x, float *dx);
/// Softmax in place of each of `rows` rows of n values, rows `ld` apart (the attention
/// kernel's scores); a row whose maximum is −inf (every key masked) becomes zeros.
void myelin_softmax_rows_f32(int64_t rows, int64_t n, float *p, int64_t ld);

#endif
