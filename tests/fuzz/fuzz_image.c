/* libFuzzer target: image decoding (PNG, JPEG) and PNG text chunks, the
 * bytes an API client or a CLI user hands over. */
#include "io/image.h"
#include "io/png_text.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mend_err err = {0};
    mend_image img = {0};
    if (mend_image_decode(data, size, "fuzz", &img, &err) == MEND_OK)
        mend_image_free(&img);
    mend_png_text_list texts;
    for (int crc = 0; crc < 2; crc++)
        if (mend_png_text_read_buffer(data, size, "fuzz", crc, &texts, &err) == MEND_OK)
            mend_png_text_list_free(&texts);
    return 0;
}
