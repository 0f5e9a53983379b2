#include "CMyelinKernels.h"
#include <stdio.h>

int myelin_cpu_simd_level(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
#endif
    return 0;
}

void myelin_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
