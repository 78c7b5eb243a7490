/* JPEG decoding with libjpeg(-turbo). Fatal errors longjmp back into the
 * guarded helper; "premature end of JPEG file" is only a warning in
 * libjpeg (it pads with grey) but PIL refuses truncated images, so mend
 * treats it as an error too. */
#include "io/image_codec.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

typedef struct jpeg_job {
    struct jpeg_error_mgr mgr; /* first: libjpeg hands us a pointer to it */
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX + 64];
    int truncated;
} jpeg_job;

static void on_jpeg_error(j_common_ptr cinfo)
{
    jpeg_job *job = (jpeg_job *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, job->msg);
    longjmp(job->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int level)
{
    jpeg_job *job = (jpeg_job *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        job->truncated = 1;
}

/* A fresh job whose fatal errors longjmp back (see the guarded helpers). */
static struct jpeg_error_mgr *job_errors(jpeg_job *job)
{
    memset(job, 0, sizeof *job);
    struct jpeg_error_mgr *mgr = jpeg_std_error(&job->mgr);
    mgr->error_exit = on_jpeg_error;
    mgr->emit_message = on_jpeg_message;
    return mgr;
}

static int jpeg_decode_guarded(jpeg_job *job, struct jpeg_decompress_struct *cinfo, const uint8_t *buf, size_t len,
                               const char *name, mend_image *out, mend_err *err, mend_status *status)
{
    if (setjmp(job->jump))
        return -1;
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, buf, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    unsigned w = cinfo->image_width, h = cinfo->image_height;
    if (w == 0 || h == 0 || w > MEND_IMAGE_MAX_SIDE || h > MEND_IMAGE_MAX_SIDE) {
        *status = mend_fail(err, MEND_E_FORMAT, "%s: JPEG declares %ux%u pixels (allowed 1..%d per side)", name, w, h,
                            MEND_IMAGE_MAX_SIDE);
        return 0;
    }
    int channels;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        channels = 3;
        break;
    default:
        *status = mend_fail(err, MEND_E_FORMAT, "%s: JPEG colour space %d (CMYK/YCCK) is not supported", name,
                            (int)cinfo->jpeg_color_space);
        return 0;
    }
    *status = mend_image_alloc(out, (int)w, (int)h, channels, err);
    if (*status != MEND_OK)
        return 0;
    jpeg_start_decompress(cinfo);
    size_t stride = (size_t)w * (size_t)channels;
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = out->data + stride * cinfo->output_scanline;
        jpeg_read_scanlines(cinfo, &row, 1);
        if (job->truncated)
            return 0;
    }
    jpeg_finish_decompress(cinfo);
    return 0;
}

mend_status mend_jpeg_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err)
{
    jpeg_job job;
    struct jpeg_decompress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = job_errors(&job);
    mend_status status = MEND_OK;
    if (jpeg_decode_guarded(&job, &cinfo, buf, len, name, out, err, &status) != 0)
        status = mend_fail(err, MEND_E_FORMAT, "%s: invalid JPEG: %s", name, job.msg);
    else if (status == MEND_OK && job.truncated)
        status = mend_fail(err, MEND_E_FORMAT, "%s: invalid JPEG: truncated file (premature end of data)", name);
    if (status != MEND_OK)
        mend_image_free(out);
    jpeg_destroy_decompress(&cinfo);
    return status;
}

/* ---------------- encoding ---------------- */

typedef struct jpeg_out {
    unsigned char *buf;
    unsigned long len;
} jpeg_out;

/* RGB (or grey) rows of img; RGBA drops its alpha, as A1111's
 * convert("RGB") before a JPEG. */
static void jpeg_row(const mend_image *img, int y, uint8_t *row)
{
    const uint8_t *src = img->data + (size_t)y * img->width * img->channels;
    if (img->channels != 4) {
        memcpy(row, src, (size_t)img->width * img->channels);
        return;
    }
    for (int x = 0; x < img->width; x++)
        memcpy(row + 3 * x, src + 4 * x, 3);
}

static int jpeg_encode_guarded(jpeg_job *job, struct jpeg_compress_struct *c, const mend_image *img,
                               const uint8_t *exif, size_t exif_len, int quality, jpeg_out *o, uint8_t *row)
{
    if (setjmp(job->jump))
        return -1;
    jpeg_create_compress(c);
    jpeg_mem_dest(c, &o->buf, &o->len);
    c->image_width = (JDIMENSION)img->width;
    c->image_height = (JDIMENSION)img->height;
    c->input_components = img->channels == 1 ? 1 : 3;
    c->in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality, TRUE);
    /* piexif.insert puts the EXIF APP1 in place of the JFIF APP0 */
    c->write_JFIF_header = exif ? FALSE : TRUE;
    jpeg_start_compress(c, TRUE);
    if (exif)
        jpeg_write_marker(c, JPEG_APP0 + 1, exif, (unsigned)exif_len);
    while (c->next_scanline < c->image_height) {
        jpeg_row(img, (int)c->next_scanline, row);
        JSAMPROW r = row;
        jpeg_write_scanlines(c, &r, 1);
    }
    jpeg_finish_compress(c);
    return 0;
}

mend_status mend_jpeg_encode(const mend_image *img, const uint8_t *exif, size_t exif_len, int quality,
                             uint8_t **out, size_t *out_len, mend_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (exif_len > 65533)
        return mend_fail(err, MEND_E_ARG, "JPEG: EXIF block of %zu bytes exceeds a JPEG segment (65533)", exif_len);
    jpeg_job job;
    struct jpeg_compress_struct c;
    memset(&c, 0, sizeof c);
    c.err = job_errors(&job);
    jpeg_out o = {NULL, 0};
    uint8_t *row = malloc((size_t)img->width * 3);
    mend_status s = MEND_OK;
    if (!row)
        s = mend_fail(err, MEND_E_NOMEM, "out of memory encoding a JPEG");
    else if (jpeg_encode_guarded(&job, &c, img, exif, exif_len, quality, &o, row) != 0)
        s = mend_fail(err, MEND_E_FORMAT, "JPEG encoding failed: %s", job.msg);
    jpeg_destroy_compress(&c);
    free(row);
    if (s != MEND_OK) {
        free(o.buf); /* libjpeg-turbo's memory destination mallocs its buffer */
        return s;
    }
    *out = o.buf;
    *out_len = o.len;
    return MEND_OK;
}
