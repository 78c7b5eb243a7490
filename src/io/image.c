/* Image container and the file-level entry points; the codecs live in
 * image_png.c, image_jpeg.c and image_webp.c, the output formats in
 * image_format.c. */
#include "io/image.h"
#include "io/image_codec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mend_status mend_image_alloc(mend_image *img, int width, int height, int channels, mend_err *err)
{
    img->width = img->height = img->channels = 0;
    img->data = NULL;
    if (width <= 0 || height <= 0 || width > MEND_IMAGE_MAX_SIDE || height > MEND_IMAGE_MAX_SIDE)
        return mend_fail(err, MEND_E_ARG, "image size %dx%d out of range (1..%d per side)", width, height,
                         MEND_IMAGE_MAX_SIDE);
    if (channels != 1 && channels != 3 && channels != 4)
        return mend_fail(err, MEND_E_ARG, "image channel count %d not supported (1, 3 or 4)", channels);
    uint8_t *data = calloc((size_t)width * (size_t)height * (size_t)channels, 1);
    if (!data)
        return mend_fail(err, MEND_E_NOMEM, "out of memory for a %dx%dx%d image", width, height, channels);
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->data = data;
    return MEND_OK;
}

void mend_image_free(mend_image *img)
{
    if (!img)
        return;
    free(img->data);
    img->data = NULL;
    img->width = img->height = img->channels = 0;
}

mend_status mend_image_copy(const mend_image *src, mend_image *dst, mend_err *err)
{
    MEND_TRY(mend_image_alloc(dst, src->width, src->height, src->channels, err));
    memcpy(dst->data, src->data, mend_image_size(src));
    return MEND_OK;
}

static int64_t g_max_pixels; /* 0: the default */

void mend_set_max_pixels(int64_t pixels)
{
    __atomic_store_n(&g_max_pixels, pixels > 0 ? pixels : 0, __ATOMIC_RELAXED);
}

int64_t mend_max_pixels(void)
{
    int64_t n = __atomic_load_n(&g_max_pixels, __ATOMIC_RELAXED);
    return n ? n : MEND_DEFAULT_MAX_PIXELS;
}

int mend_parse_pixels(const char *text, int64_t *pixels)
{
    char *end;
    if (!text || *text < '0' || *text > '9')
        return 0;
    unsigned long long a = strtoull(text, &end, 10), b = 1;
    if ((*end == 'x' || *end == 'X') && end[1] >= '0' && end[1] <= '9') /* W x H */
        b = strtoull(end + 1, &end, 10);
    else if (*end == 'K' || *end == 'k' || *end == 'M' || *end == 'm')
        b = (*end++ | 0x20) == 'k' ? 1024 : 1024 * 1024;
    if (*end || a == 0 || b == 0 || a > (1ull << 40) / b)
        return 0;
    *pixels = (int64_t)(a * b);
    return 1;
}

/* The pixel limit, from the header alone; a header the probe cannot read is
 * left to the decoder, whose error is more precise. */
static mend_status check_pixels(const void *buf, size_t len, const char *name, mend_err *err)
{
    int w = 0, h = 0;
    mend_err probe_err = {0};
    if (mend_image_probe(buf, len, name, &w, &h, &probe_err) != MEND_OK || (int64_t)w * h <= mend_max_pixels())
        return MEND_OK;
    return mend_fail(err, MEND_E_LIMIT, "%s is %dx%d pixels: more than the %lld pixels mend accepts (--max-pixels)",
                     name, w, h, (long long)mend_max_pixels());
}

mend_status mend_image_decode(const void *buf, size_t len, const char *name, mend_image *out, mend_err *err)
{
    const uint8_t *p = buf;
    out->width = out->height = out->channels = 0;
    out->data = NULL;
    if (!name)
        name = "image";
    if (!buf || len == 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: empty input, not an image", name);
    MEND_TRY(check_pixels(buf, len, name, err));
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && memcmp(p, png_sig, 8) == 0)
        return mend_png_decode(p, len, name, out, err);
    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return mend_jpeg_decode(p, len, name, out, err);
    if (mend_webp_signature(p, len))
        return mend_webp_decode(p, len, name, out, err);
    return mend_fail(err, MEND_E_FORMAT, "%s: not a PNG, JPEG or WebP image (unrecognised signature)", name);
}

mend_status mend_open_regular_file(const char *path, FILE **out, int64_t *size, mend_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mend_fail(err, MEND_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return mend_fail(err, MEND_E_IO, "%s: not a regular file", path);
    }
    *out = f;
    *size = (int64_t)st.st_size;
    return MEND_OK;
}

mend_status mend_read_whole_file(const char *path, uint8_t **out, size_t *out_len, mend_err *err)
{
    const size_t max_bytes = (size_t)1 << 30;
    *out = NULL;
    *out_len = 0;
    FILE *f;
    int64_t size;
    MEND_TRY(mend_open_regular_file(path, &f, &size, err));
    if ((uint64_t)size > max_bytes) {
        fclose(f);
        return mend_fail(err, MEND_E_FORMAT, "%s: file of %lld bytes is too large for an image", path,
                         (long long)size);
    }
    size_t n = (size_t)size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int read_error = ferror(f);
    fclose(f);
    if (got != n || read_error) {
        free(buf);
        return mend_fail(err, MEND_E_IO, "%s: read error", path);
    }
    *out = buf;
    *out_len = n;
    return MEND_OK;
}

mend_status mend_image_load(const char *path, mend_image *out, mend_err *err)
{
    uint8_t *buf;
    size_t len;
    out->data = NULL;
    MEND_TRY(mend_read_whole_file(path, &buf, &len, err));
    mend_status s = mend_image_decode(buf, len, path, out, err);
    free(buf);
    return s;
}

/* Writes all of buf to fd, retrying short writes. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

mend_status mend_write_file_atomic(const char *path, const uint8_t *buf, size_t len, mend_err *err)
{
    static unsigned counter;
    char tmp[4096];
    unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    int k = snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%u", path, (long)getpid(), n);
    if (k < 0 || (size_t)k >= sizeof tmp)
        return mend_fail(err, MEND_E_ARG, "%s: path too long", path);
    /* 0666 so the final file gets the caller's umask like any new file. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return mend_fail(err, MEND_E_IO, "%s: cannot create: %s", path, strerror(errno));
    int failed = write_all(fd, buf, len) != 0 || fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (!failed && rename(tmp, path) != 0) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(tmp);
        return mend_fail(err, MEND_E_IO, "%s: write failed: %s", path, strerror(saved));
    }
    return MEND_OK;
}

mend_status mend_image_save_png(const char *path, const mend_image *img, const mend_png_text *texts, int ntexts,
                                mend_err *err)
{
    uint8_t *png;
    size_t len;
    mend_status s = mend_image_encode_png(img, texts, ntexts, &png, &len, err);
    if (s != MEND_OK)
        return mend_err_wrap(err, "%s", path);
    s = mend_write_file_atomic(path, png, len, err);
    free(png);
    return s;
}
