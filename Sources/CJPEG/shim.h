// libjpeg-turbo (libjpeg API).
#include <stdio.h>
#include <jpeglib.h>
