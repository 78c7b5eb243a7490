/* Inpaint sketch -> (init image, mask): the library's conversion
 * (src/inpaint/sketch.c), which the web page reproduces in JS. */
#include "cli/generate.h"

mend_status cli_sketch_inputs(const mend_image *orig, const mend_image *sketch, int blur, float mask_alpha,
                              mend_image *init_out, mend_image *mask_out, mend_err *err)
{
    return mend_sketch_inputs(orig, sketch, blur, mask_alpha, init_out, mask_out, err);
}
