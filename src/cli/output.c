/* Output files of the generate commands: the library's naming
 * (src/inpaint/outputs.c), which the server uses too, and the format that
 * -o's extension picks. */
#include "cli/generate.h"
#include "mend/image.h"

#include <string.h>

char *cli_numbered_path(const char *file, int index)
{
    return mend_numbered_path(file, index);
}

mend_status cli_default_path(const char *outdir, const char *kind, int64_t seed, char **out, mend_err *err)
{
    return mend_output_path(outdir, kind, seed, out, err);
}

mend_status cli_make_parent_dirs(const char *path, mend_err *err)
{
    return mend_make_parent_dirs(path, err);
}

mend_status cli_output_format(const char *path, mend_image_format *format, mend_err *err)
{
    if (mend_image_format_from_path(path, format))
        return MEND_OK;
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && slash > dot))
        return mend_fail(err, MEND_E_ARG, "%s: no image extension (use .png, .jpg, .jpeg or .webp)", path);
    return mend_fail(err, MEND_E_ARG, "%s: unknown image extension '%s' (use .png, .jpg, .jpeg or .webp)", path,
                     dot);
}

mend_status cli_save_image(const char *path, const mend_image *img, const char *infotext, mend_err *err)
{
    mend_image_format format;
    MEND_TRY(cli_output_format(path, &format, err));
    return mend_image_save(path, img, format, infotext, err);
}
