// libpng: the reference PNG codec (8/16-bit, gray, RGB, RGBA, palette).
#include <png.h>

// Decoding with libpng's error recovery, which needs setjmp (unavailable in Swift):
// the whole read runs inside this C frame, so libpng's longjmp on a corrupt file lands
// here and becomes a return code with a message instead of an abort.
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const unsigned char *data; size_t size, pos; char *error; } myelin_png_source;

static inline void myelin_png_read_fn(png_structp png, png_bytep out, size_t n) {
    myelin_png_source *s = (myelin_png_source *)png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "the file ends early (truncated)");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}
static inline void myelin_png_error_fn(png_structp png, png_const_charp msg) {
    char *buf = (char *)png_get_error_ptr(png);
    strncpy(buf, msg, 255);
    buf[255] = 0;
    png_longjmp(png, 1);
}
static inline void myelin_png_warning_fn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/// Decodes a PNG in memory: palette → RGB(A), gray below 8 bits → 8, tRNS → alpha; 16-bit
/// samples come back in host byte order. On success returns 0 and sets *pixels (free with
/// free()), the size, channels (1–4) and depth (8 or 16); on failure returns 1 with a message
/// in `error` (256 bytes).
static inline int myelin_png_decode(const unsigned char *data, size_t size, unsigned char **pixels,
                                    unsigned *width, unsigned *height, int *channels, int *depth, char *error) {
    myelin_png_source src = { data, size, 0, error };
    unsigned char *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    *pixels = NULL;
    error[0] = 0;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        strcpy(error, "not a PNG file (bad signature)");
        return 1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, error, myelin_png_error_fn, myelin_png_warning_fn);
    if (!png) { strcpy(error, "out of memory"); return 1; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); strcpy(error, "out of memory"); return 1; }
    if (setjmp(png_jmpbuf(png))) {
        free(buf);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        if (!error[0]) strcpy(error, "corrupt PNG data");
        return 1;
    }
    png_set_read_fn(png, &src, myelin_png_read_fn);
    png_read_info(png, info);
    int bitDepth = png_get_bit_depth(png, info), colorType = png_get_color_type(png, info);
    if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (colorType == PNG_COLOR_TYPE_GRAY && bitDepth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bitDepth == 16) png_set_swap(png);
#endif
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    size_t rowBytes = png_get_rowbytes(png, info);
    if (w == 0 || h == 0 || rowBytes == 0 || (size_t)h > ((size_t)1 << 32) / rowBytes) png_error(png, "image too large");
    buf = (unsigned char *)malloc(rowBytes * h);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!buf || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + (size_t)y * rowBytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    *width = w;
    *height = h;
    *channels = png_get_channels(png, info);
    *depth = png_get_bit_depth(png, info);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *pixels = buf;
    return 0;
}

// Encoding, with the same setjmp recovery: libpng's errors (out of memory, bad arguments)
// come back as a return code with a message.
typedef struct { unsigned char *data; size_t size, capacity; int failed; } myelin_png_sink;

static inline void myelin_png_write_fn(png_structp png, png_bytep in, size_t n) {
    myelin_png_sink *s = (myelin_png_sink *)png_get_io_ptr(png);
    if (n > s->capacity - s->size) {
        size_t want = s->capacity ? s->capacity : 4096;
        while (want - s->size < n) want *= 2;
        unsigned char *grown = (unsigned char *)realloc(s->data, want);
        if (!grown) png_error(png, "out of memory");
        s->data = grown;
        s->capacity = want;
    }
    memcpy(s->data + s->size, in, n);
    s->size += n;
}
static inline void myelin_png_flush_fn(png_structp png) { (void)png; }

/// Encodes interleaved (HWC) samples as a PNG in memory: `channels` 1 (gray), 2 (gray + alpha),
/// 3 (RGB) or 4 (RGBA), `depth` 8 or 16 (16-bit samples in host byte order). Returns 0 and sets
/// *out / *outSize (free with free()); on failure returns 1 with a message in `error` (256 bytes).
static inline int myelin_png_encode(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                                    int depth, int compression, unsigned char **out, size_t *outSize, char *error) {
    static const int types[] = { PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA };
    myelin_png_sink sink = { NULL, 0, 0, 0 };
    myelin_png_sink *volatile sinkp = &sink;
    png_bytep *volatile rows = NULL;
    *out = NULL;
    *outSize = 0;
    error[0] = 0;
    if (channels < 1 || channels > 4 || (depth != 8 && depth != 16) || width == 0 || height == 0) {
        strcpy(error, "bad arguments (channels 1-4, depth 8 or 16, non-empty size)");
        return 1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, error, myelin_png_error_fn, myelin_png_warning_fn);
    if (!png) { strcpy(error, "out of memory"); return 1; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_write_struct(&png, NULL); strcpy(error, "out of memory"); return 1; }
    if (setjmp(png_jmpbuf(png))) {
        free(sinkp->data);
        free(rows);
        png_destroy_write_struct(&png, &info);
        if (!error[0]) strcpy(error, "PNG encoding failed");
        return 1;
    }
    png_set_write_fn(png, &sink, myelin_png_write_fn, myelin_png_flush_fn);
    png_set_compression_level(png, compression);
    png_set_IHDR(png, info, width, height, depth, types[channels - 1], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (depth == 16) png_set_swap(png);
#endif
    size_t rowBytes = (size_t)width * channels * (depth / 8);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (unsigned y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * rowBytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *outSize = sink.size;
    return 0;
}
