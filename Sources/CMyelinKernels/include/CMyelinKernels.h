#ifndef CMYELIN_KERNELS_H
#define CMYELIN_KERNELS_H
// ISA-specific inner kernels for Myelin, selected at run time with cpuid.
// Everything else (blocking, packing, threading, dispatch) is Swift.

/// Highest SIMD level this CPU supports: 0 = baseline, 2 = AVX2+FMA, 3 = AVX-512F.
int myelin_cpu_simd_level(void);

#endif
