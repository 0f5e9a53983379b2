// zlib, the system's well-kept inflate/deflate (gzip MNIST files, PNG output).
#include <zlib.h>
