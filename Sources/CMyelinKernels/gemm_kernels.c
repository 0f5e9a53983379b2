// GEMM micro-kernels: C[m×n] = alpha·Ã·B̃ + beta·C for one register tile.
//
// Ã is a packed micro-panel of MR rows stored k-major (MR values per k step),
// B̃ a packed micro-panel of NR columns stored k-major (NR values per k step);
// both are zero-padded to full MR/NR by the Swift packing code. C is row-major
// with leading dimension ldc. Rows of C are vectors, so each k step is NR/W
// vector loads of B̃, MR broadcasts of Ã and MR·NR/W fused multiply-adds.
// When beta == 0, C is never read (it may hold uninitialised memory).
// A partial tile (m < MR or n < NR) is computed in a local tile, then merged.

#include "CMyelinKernels.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MYELIN_X86 1
#endif

// Merges a full local tile `t` (ld = nr) into the valid m×n corner of C.
#define MERGE_TILE(T, t, nr, c, ldc, m, n, beta)                               \
    do {                                                                       \
        for (int64_t i = 0; i < (m); i++) {                                    \
            T *ci = (c) + i * (ldc);                                           \
            const T *ti = (t) + i * (nr);                                      \
            if ((beta) == 0) { for (int64_t j = 0; j < (n); j++) ci[j] = ti[j]; } \
            else { for (int64_t j = 0; j < (n); j++) ci[j] = (beta) * ci[j] + ti[j]; } \
        }                                                                      \
    } while (0)

// ---------------------------------------------------------------------------
// Portable kernels (any CPU, any compiler with GCC vector extensions): 4 rows ×
// 2 vectors of 16 bytes (float 4×8, double 4×4), 8 accumulators that fit the
// 16 registers of SSE2 or NEON.

#define PORTABLE_MR 4
#define DEFINE_PORTABLE_KERNEL(NAME, T, W)                                     \
    typedef T NAME##_v __attribute__((vector_size(16)));                       \
    void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, T alpha,  \
              T beta, int64_t m, int64_t n) {                                  \
        NAME##_v c0a = {0}, c0b = {0}, c1a = {0}, c1b = {0};                   \
        NAME##_v c2a = {0}, c2b = {0}, c3a = {0}, c3b = {0};                   \
        for (int64_t p = 0; p < kc; p++) {                                     \
            NAME##_v b0, b1;                                                   \
            memcpy(&b0, b, sizeof b0); memcpy(&b1, b + W, sizeof b1);          \
            c0a += a[0] * b0; c0b += a[0] * b1;                                \
            c1a += a[1] * b0; c1b += a[1] * b1;                                \
            c2a += a[2] * b0; c2b += a[2] * b1;                                \
            c3a += a[3] * b0; c3b += a[3] * b1;                                \
            a += PORTABLE_MR; b += 2 * W;                                      \
        }                                                                      \
        T t[PORTABLE_MR][2 * W];                                               \
        memcpy(t[0], &c0a, sizeof c0a); memcpy(t[0] + W, &c0b, sizeof c0b);    \
        memcpy(t[1], &c1a, sizeof c1a); memcpy(t[1] + W, &c1b, sizeof c1b);    \
        memcpy(t[2], &c2a, sizeof c2a); memcpy(t[2] + W, &c2b, sizeof c2b);    \
        memcpy(t[3], &c3a, sizeof c3a); memcpy(t[3] + W, &c3b, sizeof c3b);    \
        for (int64_t i = 0; i < m; i++) {                                      \
            T *ci = c + i * ldc;                                               \
            for (int64_t j = 0; j < n; j++) {                                  \
                T r = alpha * t[i][j];                                         \
                ci[j] = beta == 0 ? r : beta * ci[j] + r;                      \
            }                                                                  \
        }                                                                      \
    }

DEFINE_PORTABLE_KERNEL(myelin_sgemm_kernel_scalar, float, 4)
DEFINE_PORTABLE_KERNEL(myelin_dgemm_kernel_scalar, double, 2)

#if MYELIN_X86

// ---------------------------------------------------------------------------
// AVX-512F: float 12×32 (24 zmm accumulators), double 12×16.

#define AVX512_MR 12

#define DEFINE_AVX512_KERNEL(NAME, T, VEC, W, SET1, LOADU, STOREU, FMADD, MUL) \
    __attribute__((target("avx512f")))                                         \
    static inline void NAME##_full(int64_t kc, const T *restrict a,            \
                                   const T *restrict b, T *restrict c,         \
                                   int64_t ldc, T alpha, T beta) {             \
        VEC c0a = SET1(0), c0b = SET1(0), c1a = SET1(0), c1b = SET1(0);        \
        VEC c2a = SET1(0), c2b = SET1(0), c3a = SET1(0), c3b = SET1(0);        \
        VEC c4a = SET1(0), c4b = SET1(0), c5a = SET1(0), c5b = SET1(0);        \
        VEC c6a = SET1(0), c6b = SET1(0), c7a = SET1(0), c7b = SET1(0);        \
        VEC c8a = SET1(0), c8b = SET1(0), c9a = SET1(0), c9b = SET1(0);        \
        VEC cAa = SET1(0), cAb = SET1(0), cBa = SET1(0), cBb = SET1(0);        \
        for (int64_t p = 0; p < kc; p++) {                                     \
            VEC b0 = LOADU(b), b1 = LOADU(b + W);                              \
            _mm_prefetch((const char *)(b + 8 * 2 * W), _MM_HINT_T0);          \
            VEC x;                                                             \
            x = SET1(a[0]); c0a = FMADD(x, b0, c0a); c0b = FMADD(x, b1, c0b);  \
            x = SET1(a[1]); c1a = FMADD(x, b0, c1a); c1b = FMADD(x, b1, c1b);  \
            x = SET1(a[2]); c2a = FMADD(x, b0, c2a); c2b = FMADD(x, b1, c2b);  \
            x = SET1(a[3]); c3a = FMADD(x, b0, c3a); c3b = FMADD(x, b1, c3b);  \
            x = SET1(a[4]); c4a = FMADD(x, b0, c4a); c4b = FMADD(x, b1, c4b);  \
            x = SET1(a[5]); c5a = FMADD(x, b0, c5a); c5b = FMADD(x, b1, c5b);  \
            x = SET1(a[6]); c6a = FMADD(x, b0, c6a); c6b = FMADD(x, b1, c6b);  \
            x = SET1(a[7]); c7a = FMADD(x, b0, c7a); c7b = FMADD(x, b1, c7b);  \
            x = SET1(a[8]); c8a = FMADD(x, b0, c8a); c8b = FMADD(x, b1, c8b);  \
            x = SET1(a[9]); c9a = FMADD(x, b0, c9a); c9b = FMADD(x, b1, c9b);  \
            x = SET1(a[10]); cAa = FMADD(x, b0, cAa); cAb = FMADD(x, b1, cAb); \
            x = SET1(a[11]); cBa = FMADD(x, b0, cBa); cBb = FMADD(x, b1, cBb); \
            a += AVX512_MR; b += 2 * W;                                        \
        }                                                                      \
        VEC va = SET1(alpha);                                                  \
        VEC lo[AVX512_MR] = {c0a, c1a, c2a, c3a, c4a, c5a, c6a, c7a, c8a, c9a, cAa, cBa}; \
        VEC hi[AVX512_MR] = {c0b, c1b, c2b, c3b, c4b, c5b, c6b, c7b, c8b, c9b, cAb, cBb}; \
        if (beta == 0) {                                                       \
            for (int i = 0; i < AVX512_MR; i++) {                              \
                STOREU(c + i * ldc, MUL(lo[i], va));                           \
                STOREU(c + i * ldc + W, MUL(hi[i], va));                       \
            }                                                                  \
        } else {                                                               \
            VEC vb = SET1(beta);                                               \
            for (int i = 0; i < AVX512_MR; i++) {                              \
                T *ci = c + i * ldc;                                           \
                STOREU(ci, FMADD(lo[i], va, MUL(LOADU(ci), vb)));              \
                STOREU(ci + W, FMADD(hi[i], va, MUL(LOADU(ci + W), vb)));      \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    __attribute__((target("avx512f")))                                         \
    void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, T alpha,  \
              T beta, int64_t m, int64_t n) {                                  \
        if (m == AVX512_MR && n == 2 * W) {                                    \
            NAME##_full(kc, a, b, c, ldc, alpha, beta);                        \
            return;                                                            \
        }                                                                      \
        T t[AVX512_MR * 2 * W] __attribute__((aligned(64)));                   \
        NAME##_full(kc, a, b, t, 2 * W, alpha, 0);                             \
        MERGE_TILE(T, t, 2 * W, c, ldc, m, n, beta);                           \
    }

DEFINE_AVX512_KERNEL(myelin_sgemm_kernel_avx512, float, __m512, 16, _mm512_set1_ps,
                     _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_mul_ps)
DEFINE_AVX512_KERNEL(myelin_dgemm_kernel_avx512, double, __m512d, 8, _mm512_set1_pd,
                     _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_mul_pd)

// An 8-row float variant (8×32, 16 accumulators) for products whose m is a multiple of 8
// but not of 12 (the LSTM's per-step h·W_hhᵀ with a batch of 32 pads 32 rows to 36 with
// MR = 12). Same B̃ panels (NR = 32), so it runs against the same pre-packed operand.
#define AVX512_MR8 8
__attribute__((target("avx512f")))
static inline void sgemm_avx512_8x32_full(int64_t kc, const float *restrict a, const float *restrict b,
                                          float *restrict c, int64_t ldc, float alpha, float beta) {
    __m512 c0a = _mm512_setzero_ps(), c0b = _mm512_setzero_ps(), c1a = _mm512_setzero_ps(), c1b = _mm512_setzero_ps();
    __m512 c2a = _mm512_setzero_ps(), c2b = _mm512_setzero_ps(), c3a = _mm512_setzero_ps(), c3b = _mm512_setzero_ps();
    __m512 c4a = _mm512_setzero_ps(), c4b = _mm512_setzero_ps(), c5a = _mm512_setzero_ps(), c5b = _mm512_setzero_ps();
    __m512 c6a = _mm512_setzero_ps(), c6b = _mm512_setzero_ps(), c7a = _mm512_setzero_ps(), c7b = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        _mm_prefetch((const char *)(b + 8 * 32), _MM_HINT_T0);
        __m512 x;
        x = _mm512_set1_ps(a[0]); c0a = _mm512_fmadd_ps(x, b0, c0a); c0b = _mm512_fmadd_ps(x, b1, c0b);
        x = _mm512_set1_ps(a[1]); c1a = _mm512_fmadd_ps(x, b0, c1a); c1b = _mm512_fmadd_ps(x, b1, c1b);
        x = _mm512_set1_ps(a[2]); c2a = _mm512_fmadd_ps(x, b0, c2a); c2b = _mm512_fmadd_ps(x, b1, c2b);
        x = _mm512_set1_ps(a[3]); c3a = _mm512_fmadd_ps(x, b0, c3a); c3b = _mm512_fmadd_ps(x, b1, c3b);
        x = _mm512_set1_ps(a[4]); c4a = _mm512_fmadd_ps(x, b0, c4a); c4b = _mm512_fmadd_ps(x, b1, c4b);
        x = _mm512_set1_ps(a[5]); c5a = _mm512_fmadd_ps(x, b0, c5a); c5b = _mm512_fmadd_ps(x, b1, c5b);
        x = _mm512_set1_ps(a[6]); c6a = _mm512_fmadd_ps(x, b0, c6a); c6b = _mm512_fmadd_ps(x, b1, c6b);
        x = _mm512_set1_ps(a[7]); c7a = _mm512_fmadd_ps(x, b0, c7a); c7b = _mm512_fmadd_ps(x, b1, c7b);
        a += AVX512_MR8; b += 32;
    }
    __m512 va = _mm512_set1_ps(alpha);
    __m512 lo[AVX512_MR8] = {c0a, c1a, c2a, c3a, c4a, c5a, c6a, c7a};
    __m512 hi[AVX512_MR8] = {c0b, c1b, c2b, c3b, c4b, c5b, c6b, c7b};
    if (beta == 0) {
        for (int i = 0; i < AVX512_MR8; i++) {
            _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(lo[i], va));
            _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(hi[i], va));
        }
    } else {
        __m512 vb = _mm512_set1_ps(beta);
        for (int i = 0; i < AVX512_MR8; i++) {
            float *ci = c + i * ldc;
            _mm512_storeu_ps(ci, _mm512_fmadd_ps(lo[i], va, _mm512_mul_ps(_mm512_loadu_ps(ci), vb)));
            _mm512_storeu_ps(ci + 16, _mm512_fmadd_ps(hi[i], va, _mm512_mul_ps(_mm512_loadu_ps(ci + 16), vb)));
        }
    }
}

__attribute__((target("avx512f")))
void myelin_sgemm_kernel_avx512_8x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha,
                                     float beta, int64_t m, int64_t n) {
    if (m == AVX512_MR8 && n == 32) {
        sgemm_avx512_8x32_full(kc, a, b, c, ldc, alpha, beta);
        return;
    }
    float t[AVX512_MR8 * 32] __attribute__((aligned(64)));
    sgemm_avx512_8x32_full(kc, a, b, t, 32, alpha, 0);
    MERGE_TILE(float, t, 32, c, ldc, m, n, beta);
}

// ---------------------------------------------------------------------------
// AVX2+FMA: float 6×16 (12 ymm accumulators), double 6×8.

#define AVX2_MR 6

#define DEFINE_AVX2_KERNEL(NAME, T, VEC, W, SET1, LOADU, STOREU, FMADD, MUL)   \
    __attribute__((target("avx2,fma")))                                        \
    static inline void NAME##_full(int64_t kc, const T *restrict a,            \
                                   const T *restrict b, T *restrict c,         \
                                   int64_t ldc, T alpha, T beta) {             \
        VEC c0a = SET1(0), c0b = SET1(0), c1a = SET1(0), c1b = SET1(0);        \
        VEC c2a = SET1(0), c2b = SET1(0), c3a = SET1(0), c3b = SET1(0);        \
        VEC c4a = SET1(0), c4b = SET1(0), c5a = SET1(0), c5b = SET1(0);        \
        for (int64_t p = 0; p < kc; p++) {                                     \
            VEC b0 = LOADU(b), b1 = LOADU(b + W);                              \
            VEC x;                                                             \
            x = SET1(a[0]); c0a = FMADD(x, b0, c0a); c0b = FMADD(x, b1, c0b);  \
            x = SET1(a[1]); c1a = FMADD(x, b0, c1a); c1b = FMADD(x, b1, c1b);  \
            x = SET1(a[2]); c2a = FMADD(x, b0, c2a); c2b = FMADD(x, b1, c2b);  \
            x = SET1(a[3]); c3a = FMADD(x, b0, c3a); c3b = FMADD(x, b1, c3b);  \
            x = SET1(a[4]); c4a = FMADD(x, b0, c4a); c4b = FMADD(x, b1, c4b);  \
            x = SET1(a[5]); c5a = FMADD(x, b0, c5a); c5b = FMADD(x, b1, c5b);  \
            a += AVX2_MR; b += 2 * W;                                          \
        }                                                                      \
        VEC va = SET1(alpha);                                                  \
        VEC lo[AVX2_MR] = {c0a, c1a, c2a, c3a, c4a, c5a};                      \
        VEC hi[AVX2_MR] = {c0b, c1b, c2b, c3b, c4b, c5b};                      \
        if (beta == 0) {                                                       \
            for (int i = 0; i < AVX2_MR; i++) {                                \
                STOREU(c + i * ldc, MUL(lo[i], va));                           \
                STOREU(c + i * ldc + W, MUL(hi[i], va));                       \
            }                                                                  \
        } else {                                                               \
            VEC vb = SET1(beta);                                               \
            for (int i = 0; i < AVX2_MR; i++) {                                \
                T *ci = c + i * ldc;                                           \
                STOREU(ci, FMADD(lo[i], va, MUL(LOADU(ci), vb)));              \
                STOREU(ci + W, FMADD(hi[i], va, MUL(LOADU(ci + W), vb)));      \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    __attribute__((target("avx2,fma")))                                        \
    void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, T alpha,  \
              T beta, int64_t m, int64_t n) {                                  \
        if (m == AVX2_MR && n == 2 * W) {                                      \
            NAME##_full(kc, a, b, c, ldc, alpha, beta);                        \
            return;                                                            \
        }                                                                      \
        T t[AVX2_MR * 2 * W] __attribute__((aligned(32)));                     \
        NAME##_full(kc, a, b, t, 2 * W, alpha, 0);                             \
        MERGE_TILE(T, t, 2 * W, c, ldc, m, n, beta);                           \
    }

DEFINE_AVX2_KERNEL(myelin_sgemm_kernel_avx2, float, __m256, 8, _mm256_set1_ps,
                   _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_mul_ps)
DEFINE_AVX2_KERNEL(myelin_dgemm_kernel_avx2, double, __m256d, 4, _mm256_set1_pd,
                   _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_mul_pd)

#else

// Not x86: these entry points exist only so the symbols link; Swift selects
// them only when myelin_cpu_simd_level() reports AVX2 or AVX-512.
void myelin_sgemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n) { (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta; (void)m; (void)n; }
void myelin_dgemm_kernel_avx512(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, double alpha, double beta, int64_t m, int64_t n) { (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta; (void)m; (void)n; }
void myelin_sgemm_kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n) { (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta; (void)m; (void)n; }
void myelin_dgemm_kernel_avx2(int64_t kc, const double *a, const double *b, double *c, int64_t ldc, double alpha, double beta, int64_t m, int64_t n) { (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta; (void)m; (void)n; }
void myelin_sgemm_kernel_avx512_8x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n) { (void)kc; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta; (void)m; (void)n; }

#endif
