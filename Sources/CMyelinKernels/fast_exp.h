// Shared by the per-ISA C kernels: a branch-free float exp (Cephes-style polynomial, the same
// as FastMath.swift's), inlined into each ISA's target-attributed loops so it vectorises there.
#ifndef MYELIN_FAST_EXP_H
#define MYELIN_FAST_EXP_H

#include <stdint.h>

static inline __attribute__((always_inline)) float mk_exp(float x) {
    const float log2e = 1.44269504088896341f, ln2hi = 0.693359375f, ln2lo = -2.12194440e-4f, magic = 12582912.0f;
    float xc = x > 89.0f ? 89.0f : (x < -110.0f ? -110.0f : x);
    float t = xc * log2e + magic;
    float n = t - magic;
    float r = (xc - n * ln2hi) - n * ln2lo;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    union { float f; int32_t i; uint32_t u; } tb = { t }, s1, s2;
    int32_t ni = (int32_t)(tb.u - 0x4B400000u);
    int32_t n1 = ni >> 1, n2 = ni - n1;
    s1.u = (uint32_t)(n1 + 127) << 23;
    s2.u = (uint32_t)(n2 + 127) << 23;
    return p * s1.f * s2.f;
}

#endif
