/* Output formats (include/mend/image.h): the format of a name or an
 * extension, and encoding with A1111's infotext in each format's place. */
#include "io/exif.h"
#include "io/image.h"
#include "io/image_codec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    mend_image_format format;
} format_names[] = {{"png", MEND_FORMAT_PNG}, {"jpg", MEND_FORMAT_JPEG}, {"jpeg", MEND_FORMAT_JPEG},
                    {"webp", MEND_FORMAT_WEBP}};

int mend_image_format_from_name(const char *name, mend_image_format *format)
{
    for (size_t i = 0; name && i < sizeof format_names / sizeof *format_names; i++)
        if (!strcasecmp(name, format_names[i].name)) {
            *format = format_names[i].format;
            return 1;
        }
    return 0;
}

int mend_image_format_from_path(const char *path, mend_image_format *format)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || strchr(dot, '/'))
        return 0;
    return mend_image_format_from_name(dot + 1, format);
}

const char *mend_image_format_name(mend_image_format format)
{
    return format == MEND_FORMAT_JPEG ? "jpg" : format == MEND_FORMAT_WEBP ? "webp" : "png";
}

mend_status mend_image_encode(const mend_image *img, mend_image_format format, const char *infotext, uint8_t **out,
                              size_t *out_len, mend_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (format == MEND_FORMAT_PNG) {
        mend_png_text text = {"parameters", infotext};
        return mend_image_encode_png(img, &text, infotext ? 1 : 0, out, out_len, err);
    }
    if (!img->data || img->width < 1 || img->height < 1)
        return mend_fail(err, MEND_E_ARG, "cannot encode an empty image");
    uint8_t *exif = NULL;
    size_t exif_len = 0;
    if (infotext)
        MEND_TRY(mend_exif_user_comment(infotext, &exif, &exif_len, err));
    mend_status s = format == MEND_FORMAT_JPEG
                        ? mend_jpeg_encode(img, exif, exif_len, MEND_JPEG_QUALITY, out, out_len, err)
                        : mend_webp_encode(img, exif, exif_len, MEND_JPEG_QUALITY, 0, out, out_len, err);
    free(exif);
    return s;
}

mend_status mend_image_save(const char *path, const mend_image *img, mend_image_format format, const char *infotext,
                            mend_err *err)
{
    uint8_t *buf;
    size_t len;
    if (mend_image_encode(img, format, infotext, &buf, &len, err) != MEND_OK)
        return mend_err_wrap(err, "%s", path);
    mend_status s = mend_write_file_atomic(path, buf, len, err);
    free(buf);
    return s;
}
