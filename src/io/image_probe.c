/* The size of a PNG, JPEG or WebP from its header alone, so that a front end can
 * refuse a 16384 x 16384 image (a small file, 3 GiB of pixels) before
 * decoding a single row. */
#include "io/image.h"
#include "io/image_codec.h"

#include <stdint.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

/* PNG: IHDR is the first chunk, its width and height the first 8 bytes. */
static mend_status probe_png(const uint8_t *p, size_t len, const char *name, int *w, int *h, mend_err *err)
{
    if (len < 24 || memcmp(p + 12, "IHDR", 4) != 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: PNG without an IHDR chunk", name);
    uint32_t pw = be32(p + 16), ph = be32(p + 20);
    if (pw == 0 || ph == 0 || pw > 0x7fffffffu || ph > 0x7fffffffu)
        return mend_fail(err, MEND_E_FORMAT, "%s: PNG of %u x %u pixels", name, pw, ph);
    *w = (int)pw, *h = (int)ph;
    return MEND_OK;
}

/* A start-of-frame marker (SOF0..SOF15 but DHT C4, JPG C8 and DAC CC). */
static int is_sof(uint8_t m)
{
    return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

/* JPEG: walk the marker segments to the first SOF. */
static mend_status probe_jpeg(const uint8_t *p, size_t len, const char *name, int *w, int *h, mend_err *err)
{
    size_t pos = 2;
    while (pos + 4 <= len) {
        if (p[pos] != 0xff)
            return mend_fail(err, MEND_E_FORMAT, "%s: JPEG marker expected at byte %zu", name, pos);
        uint8_t m = p[pos + 1];
        if (m == 0xff) { /* fill byte */
            pos++;
            continue;
        }
        if (m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01) { /* no length */
            pos += 2;
            continue;
        }
        if (m == 0xd9 || m == 0xda)
            break; /* end of image or start of scan before any frame */
        size_t seg = be16(p + pos + 2);
        if (seg < 2 || pos + 2 + seg > len)
            break;
        if (is_sof(m)) {
            if (seg < 7)
                break;
            uint32_t ph = be16(p + pos + 5), pw = be16(p + pos + 7);
            if (pw == 0 || ph == 0)
                return mend_fail(err, MEND_E_FORMAT, "%s: JPEG of %u x %u pixels", name, pw, ph);
            *w = (int)pw, *h = (int)ph;
            return MEND_OK;
        }
        pos += 2 + seg;
    }
    return mend_fail(err, MEND_E_FORMAT, "%s: JPEG without a frame header (SOF) before its data", name);
}

mend_status mend_image_probe(const void *buf, size_t len, const char *name, int *width, int *height, mend_err *err)
{
    const uint8_t *p = buf;
    *width = *height = 0;
    if (!name)
        name = "image";
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (p && len >= 8 && memcmp(p, png_sig, 8) == 0)
        return probe_png(p, len, name, width, height, err);
    if (p && len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return probe_jpeg(p, len, name, width, height, err);
    if (p && mend_webp_signature(p, len)) /* VP8X canvas, VP8 frame or VP8L header: libwebp reads no pixels here */
        return mend_webp_probe(p, len, name, width, height, err);
    return mend_fail(err, MEND_E_FORMAT, "%s: not a PNG, JPEG or WebP image (unrecognised signature)", name);
}
