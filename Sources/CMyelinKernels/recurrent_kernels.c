// Fused gate arithmetic of one LSTM or GRU time step, for float32.
//
// The per-step GEMM (h·W_hhᵀ) is BLAS; what remains per step is element-wise: three
// sigmoids, two tanhs and a handful of products per unit. Written in Swift, that loop
// touches eight pointers and the vectoriser gives up (scalar addss/mulss in profiles,
// as costly as the GEMM itself). Here every pointer is `restrict` and the functions are
// compiled once per ISA (baseline, AVX2+FMA, AVX-512F) and picked at run time, so each
// unit loop runs 4, 8 or 16 lanes wide. The exp/tanh/sigmoid polynomials are those of
// MyelinCore's FastMath (Cephes), so results agree with the Swift path to a few ulp.

#include "CMyelinKernels.h"

#define INLINE static inline __attribute__((always_inline))

#include "fast_exp.h"

INLINE float fm_tanh(float x) {
    union { float f; uint32_t u; } xb = { x }, ab, bb;
    ab.u = xb.u & 0x7FFFFFFFu;
    float a = ab.f, z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float e = mk_exp(2.0f * (a > 9.1f ? 9.1f : a));
    bb.f = 1.0f - 2.0f / (e + 1.0f);
    bb.u |= xb.u & 0x80000000u;
    return a < 0.625f ? small : bb.f;
}

// σ(x) = 1/(1 + e^−|x|), mirrored for x < 0; inputs clamped to ±80 as the Swift cells do.
INLINE float fm_sigmoid(float x) {
    x = x > 80.0f ? 80.0f : (x < -80.0f ? -80.0f : x);
    union { float f; uint32_t u; } nb = { x };
    nb.u |= 0x80000000u;
    float e = mk_exp(nb.f);
    float s = 1.0f / (1.0f + e);
    return x < 0.0f ? e * s : s;
}

// One definition of each kernel body, instantiated per ISA below.
#define LSTM_FORWARD_BODY                                                                   \
    for (int64_t b = 0; b < rows; b++) {                                                    \
        const float *restrict s = state + b * 2 * H;                                        \
        float *restrict o = next + b * 2 * H;                                               \
        if (valid && !valid[b]) { for (int64_t j = 0; j < 2 * H; j++) o[j] = s[j]; continue; } \
        const float *restrict x = xp + b * ldx;                                             \
        const float *restrict g = gh + b * 4 * H;                                           \
        float *restrict a = acts + b * 4 * H;                                               \
        for (int64_t j = 0; j < H; j++) {                                                   \
            float i = fm_sigmoid(x[j] + g[j]);                                              \
            float f = fm_sigmoid(x[H + j] + g[H + j]);                                      \
            float gg = fm_tanh(x[2 * H + j] + g[2 * H + j]);                                \
            float og = fm_sigmoid(x[3 * H + j] + g[3 * H + j]);                             \
            float c = f * s[H + j] + i * gg;                                                \
            o[j] = og * fm_tanh(c);                                                         \
            o[H + j] = c;                                                                   \
            a[j] = i; a[H + j] = f; a[2 * H + j] = gg; a[3 * H + j] = og;                   \
        }                                                                                   \
    }

#define LSTM_BACKWARD_BODY                                                                  \
    for (int64_t b = 0; b < rows; b++) {                                                    \
        if (valid && !valid[b]) continue;                                                   \
        const float *restrict gr = dnext + b * 2 * H;                                       \
        const float *restrict s = state + b * 2 * H;                                        \
        const float *restrict o = next + b * 2 * H;                                         \
        const float *restrict a = acts + b * 4 * H;                                         \
        float *restrict dx = dgates + b * 4 * H;                                            \
        float *restrict dc = dprev + b * 2 * H + H;                                         \
        for (int64_t j = 0; j < H; j++) {                                                   \
            float i = a[j], f = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];             \
            float tc = fm_tanh(o[H + j]);                                                   \
            float d = gr[H + j] + gr[j] * og * (1.0f - tc * tc);                            \
            dx[j] = d * gg * i * (1.0f - i);                                                \
            dx[H + j] = d * s[H + j] * f * (1.0f - f);                                      \
            dx[2 * H + j] = d * i * (1.0f - gg * gg);                                       \
            dx[3 * H + j] = gr[j] * tc * og * (1.0f - og);                                  \
            dc[j] = d * f;                                                                  \
        }                                                                                   \
    }

#define GRU_FORWARD_BODY                                                                    \
    for (int64_t b = 0; b < rows; b++) {                                                    \
        const float *restrict s = state + b * H;                                            \
        float *restrict o = next + b * H;                                                   \
        if (valid && !valid[b]) { for (int64_t j = 0; j < H; j++) o[j] = s[j]; continue; }  \
        const float *restrict x = xp + b * ldx;                                             \
        const float *restrict g = gh + b * 3 * H;                                           \
        float *restrict a = acts + b * 4 * H;                                               \
        for (int64_t j = 0; j < H; j++) {                                                   \
            float r = fm_sigmoid(x[j] + g[j]);                                              \
            float z = fm_sigmoid(x[H + j] + g[H + j]);                                      \
            float hn = g[2 * H + j];                                                        \
            float n = fm_tanh(x[2 * H + j] + r * hn);                                       \
            o[j] = (1.0f - z) * n + z * s[j];                                               \
            a[j] = r; a[H + j] = z; a[2 * H + j] = n; a[3 * H + j] = hn;                    \
        }                                                                                   \
    }

#define GRU_BACKWARD_BODY                                                                   \
    for (int64_t b = 0; b < rows; b++) {                                                    \
        if (valid && !valid[b]) continue;                                                   \
        const float *restrict gr = dnext + b * H;                                           \
        const float *restrict s = state + b * H;                                            \
        const float *restrict a = acts + b * 4 * H;                                         \
        float *restrict dx = dgates + b * 3 * H;                                            \
        float *restrict dh = dhidden + b * 3 * H;                                           \
        for (int64_t j = 0; j < H; j++) {                                                   \
            float r = a[j], z = a[H + j], n = a[2 * H + j], hn = a[3 * H + j];              \
            float dn = gr[j] * (1.0f - z) * (1.0f - n * n);                                 \
            float dr = dn * hn * r * (1.0f - r);                                            \
            float dz = gr[j] * (s[j] - n) * z * (1.0f - z);                                 \
            dx[j] = dr; dx[H + j] = dz; dx[2 * H + j] = dn;                                 \
            dh[j] = dr; dh[H + j] = dz; dh[2 * H + j] = dn * r;                             \
        }                                                                                   \
    }

#define LSTM_FORWARD_ARGS int64_t rows, int64_t H, const float *restrict xp, int64_t ldx, const float *restrict gh, \
    const float *restrict state, float *restrict next, float *restrict acts, const uint8_t *restrict valid
#define LSTM_BACKWARD_ARGS int64_t rows, int64_t H, const float *restrict dnext, const float *restrict state, \
    const float *restrict next, const float *restrict acts, float *restrict dgates, float *restrict dprev, const uint8_t *restrict valid
#define GRU_FORWARD_ARGS LSTM_FORWARD_ARGS
#define GRU_BACKWARD_ARGS int64_t rows, int64_t H, const float *restrict dnext, const float *restrict state, \
    const float *restrict acts, float *restrict dgates, float *restrict dhidden, const uint8_t *restrict valid

#define DEFINE_RECURRENT_KERNELS(SUFFIX, ATTR)                                              \
    ATTR static void lstm_forward_##SUFFIX(LSTM_FORWARD_ARGS) { LSTM_FORWARD_BODY }          \
    ATTR static void lstm_backward_##SUFFIX(LSTM_BACKWARD_ARGS) { LSTM_BACKWARD_BODY }       \
    ATTR static void gru_forward_##SUFFIX(GRU_FORWARD_ARGS) { GRU_FORWARD_BODY }             \
    ATTR static void gru_backward_##SUFFIX(GRU_BACKWARD_ARGS) { GRU_BACKWARD_BODY }

DEFINE_RECURRENT_KERNELS(base, )
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
DEFINE_RECURRENT_KERNELS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_RECURRENT_KERNELS(avx512, __attribute__((target("avx512f,avx512dq"))))
#define DISPATCH(NAME, ...)                                                                 \
    switch (myelin_cpu_simd_level()) {                                                      \
    case 3: NAME##_avx512(__VA_ARGS__); return;                                             \
    case 2: NAME##_avx2(__VA_ARGS__); return;                                               \
    default: NAME##_base(__VA_ARGS__); return;                                              \
    }
#else
#define DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__)
#endif

void myelin_lstm_step_forward_f32(int64_t rows, int64_t H, const float *xp, int64_t ldx, const float *gh,
                                  const float *state, float *next, float *acts, const uint8_t *valid) {
    DISPATCH(lstm_forward, rows, H, xp, ldx, gh, state, next, acts, valid)
}

void myelin_lstm_step_backward_f32(int64_t rows, int64_t H, const float *dnext, const float *state, const float *next,
                                   const float *acts, float *dgates, float *dprev, const uint8_t *valid) {
    DISPATCH(lstm_backward, rows, H, dnext, state, next, acts, dgates, dprev, valid)
}

void myelin_gru_step_forward_f32(int64_t rows, int64_t H, const float *xp, int64_t ldx, const float *gh,
                                 const float *state, float *next, float *acts, const uint8_t *valid) {
    DISPATCH(gru_forward, rows, H, xp, ldx, gh, state, next, acts, valid)
}

void myelin_gru_step_backward_f32(int64_t rows, int64_t H, const float *dnext, const float *state,
                                  const float *acts, float *dgates, float *dhidden, const uint8_t *valid) {
    DISPATCH(gru_backward, rows, H, dnext, state, acts, dgates, dhidden, valid)
}
