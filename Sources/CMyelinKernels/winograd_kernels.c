// Winograd F(2×2, 3×3) transforms for float32 3×3 stride-1 convolutions (the GEMMs
// between them are BLAS / the built-in GEMM, called from Swift: MyelinNN/Functional/Winograd.swift).
//
// Written in C for the same reason as recurrent_kernels.c: in Swift these loops stayed
// scalar (stride-2 reads, many pointers the optimiser cannot prove apart), and cost as
// much as the GEMMs they feed. Here every pointer is `restrict`, the loops run over
// contiguous tiles of a tile row, and the functions are compiled per ISA (baseline,
// AVX2+FMA, AVX-512F) and picked at run time by cpuid.
//
// Layouts: input x [n][c][h][w]; tiles are numbered along tile rows (r = image·th + ty),
// a block holds tile rows r0 ..< r0 + rn, nt = rn·tw tiles; V [16][c][nt], M [16][o][nt],
// U [16][o][c], ξ = 4i + j. Only adds, subtracts and halvings: no rounding beyond float32's.

#include "CMyelinKernels.h"

// U[ξ][o][c] = (G·g·Gᵀ)[ξ], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], for output channels o0 ..< o1.
#define WINO_WEIGHTS_BODY                                                                   \
    const int64_t oc = o * c;                                                               \
    for (int64_t oi = o0; oi < o1; oi++) {                                                  \
        const float *restrict p = w + oi * c * 9;                                           \
        float *restrict d = u + oi * c;                                                     \
        for (int64_t ci = 0; ci < c; ci++) {                                                \
            const float *restrict q = p + ci * 9;                                           \
            float p0 = q[0], p1 = q[1], p2 = q[2], p3 = q[3], p4 = q[4], p5 = q[5];         \
            float p6 = q[6], p7 = q[7], p8 = q[8];                                          \
            float r[4][3] = {                                                               \
                { p0, p1, p2 },                                                             \
                { (p0 + p3 + p6) * 0.5f, (p1 + p4 + p7) * 0.5f, (p2 + p5 + p8) * 0.5f },    \
                { (p0 - p3 + p6) * 0.5f, (p1 - p4 + p7) * 0.5f, (p2 - p5 + p8) * 0.5f },    \
                { p6, p7, p8 } };                                                           \
            for (int i = 0; i < 4; i++) {                                                   \
                float a0 = r[i][0], a1 = r[i][1], a2 = r[i][2];                             \
                d[(4 * i) * oc + ci] = a0;                                                  \
                d[(4 * i + 1) * oc + ci] = (a0 + a1 + a2) * 0.5f;                           \
                d[(4 * i + 2) * oc + ci] = (a0 - a1 + a2) * 0.5f;                           \
                d[(4 * i + 3) * oc + ci] = a2;                                              \
            }                                                                               \
        }                                                                                   \
    }

// V[ξ][ci][t] = (Bᵀ·d·B)[ξ], Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], for channels
// c0 ..< c1. lines: 4·(2·tw + 2) + w floats of scratch (the last w must be zero).
#define WINO_INPUT_BODY                                                                     \
    const int64_t wp = 2 * tw + 2, nt = rn * tw;                                            \
    float *restrict t0 = lines, *restrict t1 = lines + wp;                                  \
    float *restrict t2 = lines + 2 * wp, *restrict t3 = lines + 3 * wp;                     \
    const float *zero = lines + 4 * wp;                                                     \
    const int64_t lo = pl < wp ? pl : wp, hi = pl + w < wp ? pl + w : wp;                   \
    for (int64_t ci = c0; ci < c1; ci++) {                                                  \
        for (int64_t rr = 0; rr < rn; rr++) {                                               \
            int64_t row = r0 + rr, n = row / th, ty = row % th;                             \
            const float *xc = x + (n * c + ci) * h * w;                                     \
            const float *d[4];                                                              \
            for (int k = 0; k < 4; k++) {                                                   \
                int64_t ih = 2 * ty - pt + k;                                               \
                d[k] = (ih >= 0 && ih < h) ? xc + ih * w : zero;                            \
            }                                                                               \
            const float *restrict d0 = d[0] - pl, *restrict d1 = d[1] - pl;                 \
            const float *restrict d2 = d[2] - pl, *restrict d3 = d[3] - pl;                 \
            for (int64_t q = 0; q < lo; q++) { t0[q] = 0; t1[q] = 0; t2[q] = 0; t3[q] = 0; } \
            for (int64_t q = hi; q < wp; q++) { t0[q] = 0; t1[q] = 0; t2[q] = 0; t3[q] = 0; } \
            for (int64_t q = lo; q < hi; q++) {                                             \
                float a0 = d0[q], a1 = d1[q], a2 = d2[q], a3 = d3[q];                       \
                t0[q] = a0 - a2; t1[q] = a1 + a2; t2[q] = a2 - a1; t3[q] = a1 - a3;         \
            }                                                                               \
            const float *restrict ts[4] = { t0, t1, t2, t3 };                               \
            for (int i = 0; i < 4; i++) {                                                   \
                const float *restrict t = ts[i];                                            \
                float *restrict v0 = v + ((4 * i) * c + ci) * nt + rr * tw;                 \
                float *restrict v1 = v + ((4 * i + 1) * c + ci) * nt + rr * tw;             \
                float *restrict v2 = v + ((4 * i + 2) * c + ci) * nt + rr * tw;             \
                float *restrict v3 = v + ((4 * i + 3) * c + ci) * nt + rr * tw;             \
                for (int64_t tx = 0; tx < tw; tx++) {                                       \
                    float a0 = t[2 * tx], a1 = t[2 * tx + 1], a2 = t[2 * tx + 2], a3 = t[2 * tx + 3]; \
                    v0[tx] = a0 - a2; v1[tx] = a1 + a2; v2[tx] = a2 - a1; v3[tx] = a1 - a3; \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    }

// y = Aᵀ·M·A + bias, Aᵀ = [1 1 1 0; 0 1 −1 −1], for output channels o0 ..< o1.
// lines: 4·tw floats of scratch.
#define WINO_OUTPUT_BODY                                                                    \
    const int64_t nt = rn * tw, step = o * nt;                                              \
    float *restrict out0 = lines, *restrict out1 = lines + 2 * tw;                          \
    for (int64_t oi = o0; oi < o1; oi++) {                                                  \
        const float bv = bias ? bias[oi] : 0.0f;                                            \
        for (int64_t rr = 0; rr < rn; rr++) {                                               \
            int64_t row = r0 + rr, n = row / th, ty = row % th;                             \
            const float *restrict m = mat + oi * nt + rr * tw;                              \
            for (int64_t tx = 0; tx < tw; tx++) {                                           \
                float s[4], e[4];                                                           \
                for (int j = 0; j < 4; j++) {                                               \
                    float m0 = m[j * step + tx], m1 = m[(4 + j) * step + tx];               \
                    float m2 = m[(8 + j) * step + tx], m3 = m[(12 + j) * step + tx];        \
                    s[j] = m0 + m1 + m2; e[j] = m1 - m2 - m3;                               \
                }                                                                           \
                out0[2 * tx] = (s[0] + s[1] + s[2]) + bv; out0[2 * tx + 1] = (s[1] - s[2] - s[3]) + bv; \
                out1[2 * tx] = (e[0] + e[1] + e[2]) + bv; out1[2 * tx + 1] = (e[1] - e[2] - e[3]) + bv; \
            }                                                                               \
            float *restrict yo = y + (n * o + oi) * oh * ow + 2 * ty * ow;                  \
            for (int64_t q = 0; q < ow; q++) yo[q] = out0[q];                               \
            if (2 * ty + 1 < oh) for (int64_t q = 0; q < ow; q++) yo[ow + q] = out1[q];     \
        }                                                                                   \
    }

#define WINO_WEIGHTS_ARGS int64_t o, int64_t c, int64_t o0, int64_t o1, const float *restrict w, float *restrict u
#define WINO_INPUT_ARGS const float *restrict x, int64_t c, int64_t h, int64_t w, int64_t pt, int64_t pl, \
    int64_t th, int64_t tw, int64_t r0, int64_t rn, int64_t c0, int64_t c1, float *restrict v, float *restrict lines
#define WINO_OUTPUT_ARGS const float *restrict mat, int64_t o, int64_t th, int64_t tw, int64_t r0, int64_t rn, \
    int64_t o0, int64_t o1, const float *restrict bias, float *restrict y, int64_t oh, int64_t ow, float *restrict lines

#define DEFINE_WINOGRAD_KERNELS(SUFFIX, ATTR)                                               \
    ATTR static void wino_weights_##SUFFIX(WINO_WEIGHTS_ARGS) { WINO_WEIGHTS_BODY }         \
    ATTR static void wino_input_##SUFFIX(WINO_INPUT_ARGS) { WINO_INPUT_BODY }               \
    ATTR static void wino_output_##SUFFIX(WINO_OUTPUT_ARGS) { WINO_OUTPUT_BODY }

DEFINE_WINOGRAD_KERNELS(base, )
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
DEFINE_WINOGRAD_KERNELS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_WINOGRAD_KERNELS(avx512, __attribute__((target("avx512f,avx512dq"))))
#define WINO_DISPATCH(NAME, ...)                                                            \
    switch (myelin_cpu_simd_level()) {                                                      \
    case 3: NAME##_avx512(__VA_ARGS__); return;                                             \
    case 2: NAME##_avx2(__VA_ARGS__); return;                                               \
    default: NAME##_base(__VA_ARGS__); return;                                              \
    }
#else
#define WINO_DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__)
#endif

void myelin_wino23_weights_f32(int64_t o, int64_t c, int64_t o0, int64_t o1, const float *w, float *u) {
    WINO_DISPATCH(wino_weights, o, c, o0, o1, w, u)
}

void myelin_wino23_input_f32(const float *x, int64_t c, int64_t h, int64_t w, int64_t pt, int64_t pl,
                             int64_t th, int64_t tw, int64_t r0, int64_t rn, int64_t c0, int64_t c1,
                             float *v, float *lines) {
    WINO_DISPATCH(wino_input, x, c, h, w, pt, pl, th, tw, r0, rn, c0, c1, v, lines)
}

void myelin_wino23_output_f32(const float *mat, int64_t o, int64_t th, int64_t tw, int64_t r0, int64_t rn,
                              int64_t o0, int64_t o1, const float *bias, float *y, int64_t oh, int64_t ow, float *lines) {
    WINO_DISPATCH(wino_output, mat, o, th, tw, r0, rn, o0, o1, bias, y, oh, ow, lines)
}
