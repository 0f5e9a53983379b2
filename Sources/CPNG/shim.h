// libpng: the reference PNG codec (8/16-bit, gray, RGB, RGBA, palette).
#include <png.h>
