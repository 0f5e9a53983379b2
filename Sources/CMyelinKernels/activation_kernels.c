// The exact (erf) GELU, forward and backward, and a row softmax, for float32.
//
// Written as plain branch-free loops compiled once per ISA (baseline SSE2, AVX2+FMA,
// AVX-512F) and picked at run time, as recurrent_kernels.c does, so each loop runs 4, 8
// or 16 lanes wide; libm's erff is a scalar call per element and was 11% of a Transformer
// encoder's inference time.
//
// GELU(x) = x·Φ(x), Φ(x) = ½·erfc(−x/√2). With z = |x|/√2, erfc(z) is evaluated as
// t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, fractional error below
// 1.2e-7 for every z ≥ 0), so Φ is accurate to a few ulp relative even in the far negative
// tail, where 1 + erf(x/√2) would cancel. Φ(x) = 1 − ½·erfc(z) for x ≥ 0, ½·erfc(z) below.

#include "CMyelinKernels.h"

#define INLINE static inline __attribute__((always_inline))

#include "fast_exp.h"

// Φ(x), the standard normal CDF; NaN stays NaN, Φ(+inf) = 1, Φ(−inf) = 0.
INLINE float ak_phi(float x) {
    const float sqrt_half = 0.70710678118654752440f;
    union { float f; uint32_t u; } xb = { x }, ab;
    ab.u = xb.u & 0x7FFFFFFFu;
    float z = ab.f * sqrt_half;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float half_erfc = 0.5f * t * mk_exp(p - z * z);
    return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

// e^(−x²/2)/√(2π), the standard normal density.
INLINE float ak_pdf(float x) {
    return 0.39894228040143267794f * mk_exp(-0.5f * x * x);
}

#define GELU_BODY for (int64_t i = 0; i < n; i++) { float v = x[i]; y[i] = v * ak_phi(v); }
#define GELU_INPLACE_BODY for (int64_t i = 0; i < n; i++) { float v = x[i]; x[i] = v * ak_phi(v); }
#define GELU_BACKWARD_BODY \
    for (int64_t i = 0; i < n; i++) { float v = x[i]; dx[i] = g[i] * (ak_phi(v) + v * ak_pdf(v)); }

// Row softmax in place over `rows` rows of n values, `ld` apart, as the attention kernel's
// Swift softmaxRow: a row whose keys are all masked (maximum −inf) becomes zeros; NaN
// scores are skipped by the maximum and propagate through the sum, as there.
// Sixteen independent accumulators let the max and sum loops vectorise without fast-math.
#define SOFTMAX_BODY                                                                        \
    for (int64_t r = 0; r < rows; r++) {                                                    \
        float *restrict x = p + r * ld;                                                     \
        float mv[16];                                                                       \
        for (int k = 0; k < 16; k++) mv[k] = -__builtin_inff();                             \
        int64_t j = 0;                                                                      \
        for (; j + 16 <= n; j += 16)                                                        \
            for (int k = 0; k < 16; k++) mv[k] = x[j + k] > mv[k] ? x[j + k] : mv[k];       \
        float m = -__builtin_inff();                                                        \
        for (int k = 0; k < 16; k++) m = mv[k] > m ? mv[k] : m;                             \
        for (; j < n; j++) { m = x[j] > m ? x[j] : m; }                                     \
        if (m == -__builtin_inff()) { for (int64_t i = 0; i < n; i++) x[i] = 0.0f; continue; } \
        float sv[16];                                                                       \
        for (int k = 0; k < 16; k++) sv[k] = 0.0f;                                          \
        j = 0;                                                                              \
        for (; j + 16 <= n; j += 16)                                                        \
            for (int k = 0; k < 16; k++) { float e = mk_exp(x[j + k] - m); x[j + k] = e; sv[k] += e; } \
        float s = 0.0f;                                                                     \
        for (; j < n; j++) { float e = mk_exp(x[j] - m); x[j] = e; s += e; }                \
        for (int k = 0; k < 16; k++) s += sv[k];                                            \
        float inv = 1.0f / s;                                                               \
        for (int64_t i = 0; i < n; i++) x[i] *= inv;                                        \
    }

#define GELU_ARGS int64_t n, const float *restrict x, float *restrict y
#define GELU_INPLACE_ARGS int64_t n, float *restrict x
#define GELU_BACKWARD_ARGS int64_t n, const float *restrict g, const float *restrict x, float *restrict dx
#define SOFTMAX_ARGS int64_t rows, int64_t n, float *p, int64_t ld

#define DEFINE_GELU_KERNELS(SUFFIX, ATTR)                                                   \
    ATTR static void gelu_##SUFFIX(GELU_ARGS) { GELU_BODY }                                 \
    ATTR static void gelu_inplace_##SUFFIX(GELU_INPLACE_ARGS) { GELU_INPLACE_BODY }         \
    ATTR static void gelu_backward_##SUFFIX(GELU_BACKWARD_ARGS) { GELU_BACKWARD_BODY }   \
    ATTR static void softmax_rows_##SUFFIX(SOFTMAX_ARGS) { SOFTMAX_BODY }

DEFINE_GELU_KERNELS(base, )
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
DEFINE_GELU_KERNELS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_GELU_KERNELS(avx512, __attribute__((target("avx512f,avx512dq"))))
#define GELU_DISPATCH(NAME, ...)                                                            \
    switch (myelin_cpu_simd_level()) {                                                      \
    case 3: NAME##_avx512(__VA_ARGS__); return;                                             \
    case 2: NAME##_avx2(__VA_ARGS__); return;                                               \
    default: NAME##_base(__VA_ARGS__); return;                                              \
    }
#else
#define GELU_DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__)
#endif

void myelin_gelu_erf_f32(int64_t n, const float *x, float *y) {
    GELU_DISPATCH(gelu, n, x, y)
}

void myelin_gelu_erf_inplace_f32(int64_t n, float *x) {
    GELU_DISPATCH(gelu_inplace, n, x)
}

void myelin_gelu_erf_backward_f32(int64_t n, const float *g, const float *x, float *dx) {
    GELU_DISPATCH(gelu_backward, n, g, x, dx)
}

void myelin_softmax_rows_f32(int64_t rows, int64_t n, float *p, int64_t ld) {
    GELU_DISPATCH(softmax_rows, rows, n, p, ld)
}
