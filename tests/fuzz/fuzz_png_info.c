/* libFuzzer target: png-info's readers on any bytes — PNG text chunks
 * (with and without CRC checks), and for JPEG and WebP data the EXIF
 * block located and its UserComment decoded; the EXIF reader also on the
 * raw input, as a TIFF block. Nothing is decoded to pixels. */
#include "io/exif.h"
#include "io/png_text.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mend_err err = {0};
    mend_png_text_list texts;
    for (int crc = 0; crc < 2; crc++)
        if (mend_png_text_read_buffer(data, size, "fuzz", crc, &texts, &err) == MEND_OK)
            mend_png_text_list_free(&texts);
    char *comment = NULL;
    if (mend_exif_read_user_comment(data, size, "fuzz", &comment, &err) == MEND_OK)
        free(comment);
    return 0;
}
