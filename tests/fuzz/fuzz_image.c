/* libFuzzer target: image decoding (PNG, JPEG, WebP: the header probe,
 * the pixel limit and the decoders) and png-info's text readers, the bytes
 * an API client or a CLI user hands over. A decoded image is encoded back
 * in each output format. */
#include "io/image.h"
#include "io/png_text.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mend_err err = {0};
    mend_image img = {0};
    int w, h;
    (void)mend_image_probe(data, size, "fuzz", &w, &h, &err);
    mend_set_max_pixels(1 << 20); /* a small limit: big headers are refused, not decoded */
    if (mend_image_decode(data, size, "fuzz", &img, &err) == MEND_OK) {
        for (int f = MEND_FORMAT_PNG; f <= MEND_FORMAT_WEBP && img.width * img.height <= 1024; f++) {
            uint8_t *out = NULL;
            size_t n = 0;
            if (mend_image_encode(&img, (mend_image_format)f, "fuzz", &out, &n, &err) == MEND_OK)
                free(out);
        }
        mend_image_free(&img);
    }
    mend_png_text_list texts;
    for (int crc = 0; crc < 2; crc++)
        if (mend_png_text_read_buffer(data, size, "fuzz", crc, &texts, &err) == MEND_OK)
            mend_png_text_list_free(&texts);
    return 0;
}
