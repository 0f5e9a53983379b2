// libjpeg-turbo (libjpeg API).
#include <stdio.h>
#include <jpeglib.h>

// Decoding with libjpeg's error recovery, which needs setjmp (unavailable in Swift): the
// default error handler exits the process, so errors longjmp back into this C frame.
#include <jerror.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct myelin_jpeg_error { struct jpeg_error_mgr pub; jmp_buf jump; int truncated; };

static inline void myelin_jpeg_error_exit(j_common_ptr cinfo) {
    struct myelin_jpeg_error *e = (struct myelin_jpeg_error *)cinfo->err;
    longjmp(e->jump, 1);
}
static inline void myelin_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct myelin_jpeg_error *e = (struct myelin_jpeg_error *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
}
/// The error manager both codecs use: errors jump back to the caller's setjmp, warnings only
/// note a truncated stream. (The setjmp itself must stay in the caller's frame.)
static inline struct jpeg_error_mgr *myelin_jpeg_errors(struct myelin_jpeg_error *jerr) {
    struct jpeg_error_mgr *mgr = jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = myelin_jpeg_error_exit;
    jerr->pub.emit_message = myelin_jpeg_emit_message;
    jerr->truncated = 0;
    return mgr;
}

/// Decodes a JPEG in memory to 8-bit gray (1 channel) or RGB (3 channels). Returns 0 and sets
/// *pixels (free with free()); on a corrupt, truncated or CMYK file returns 1 with a message
/// in `error` (JMSG_LENGTH_MAX = 200 bytes at least; pass 256).
static inline int myelin_jpeg_decode(const unsigned char *data, size_t size, unsigned char **pixels,
                                     unsigned *width, unsigned *height, int *channels, char *error) {
    struct jpeg_decompress_struct cinfo;
    struct myelin_jpeg_error jerr;
    unsigned char *volatile buf = NULL;
    *pixels = NULL;
    error[0] = 0;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = myelin_jpeg_errors(&jerr);
    if (setjmp(jerr.jump)) {
        if (!error[0]) (*jerr.pub.format_message)((j_common_ptr)&cinfo, error);
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        strcpy(error, "CMYK JPEG files are not supported");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    buf = (unsigned char *)malloc(stride * cinfo.output_height);
    if (!buf) { strcpy(error, "out of memory"); longjmp(jerr.jump, 1); }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (jerr.truncated) { strcpy(error, "the file ends early (truncated JPEG data)"); longjmp(jerr.jump, 1); }
    }
    jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) { strcpy(error, "the file ends early (truncated JPEG data)"); longjmp(jerr.jump, 1); }
    *width = cinfo.output_width;
    *height = cinfo.output_height;
    *channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    *pixels = buf;
    return 0;
}

/// Encodes 8-bit interleaved samples, 1 channel (gray) or 3 (RGB), as a baseline JPEG in memory
/// at `quality` 1–100 (libjpeg's scale; PIL's default is 75). Returns 0 and sets *out / *outSize
/// (free with free()); on failure returns 1 with a message in `error` (256 bytes).
static inline int myelin_jpeg_encode(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                                     int quality, unsigned char **out, size_t *outSize, char *error) {
    struct jpeg_compress_struct cinfo;
    struct myelin_jpeg_error jerr;
    // libjpeg fills these through their addresses (so they live in memory across the longjmp).
    unsigned char *dest = NULL;
    unsigned long size = 0;
    *out = NULL;
    *outSize = 0;
    error[0] = 0;
    if ((channels != 1 && channels != 3) || width == 0 || height == 0 || width > 65500 || height > 65500) {
        strcpy(error, "bad arguments (1 or 3 channels, sizes 1-65500)");
        return 1;
    }
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = myelin_jpeg_errors(&jerr);
    if (setjmp(jerr.jump)) {
        if (!error[0]) (*jerr.pub.format_message)((j_common_ptr)&cinfo, error);
        jpeg_destroy_compress(&cinfo);
        free(dest);  // jpeg_mem_dest's buffer is the caller's to free, even on failure
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &dest, &size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = dest;
    *outSize = size;
    return 0;
}
