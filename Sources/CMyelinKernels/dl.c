// dladdr is a GNU extension that Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include <dlfcn.h>
#include "CMyelinKernels.h"

const char *myelin_library_path(const void *symbol) {
    Dl_info info;
    if (symbol && dladdr(symbol, &info) != 0) return info.dli_fname;
    return 0;
}
