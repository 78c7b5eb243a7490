/* Inpaint one image with libmend, using only its public header:
 *   cc inpaint.c $(pkg-config --cflags --libs mend) -o inpaint
 *   ./inpaint MODEL VOCAB IMAGE MASK OUT.png ["prompt"]
 * MODEL: an SD 1.x checkpoint (.safetensors, .ckpt or a diffusers folder);
 * VOCAB: CLIP's bpe_simple_vocab_16e6.txt.gz (or "" with a tokenizer/);
 * MASK: white = repaint, the image's size. */
#include <mend/mend.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s MODEL VOCAB IMAGE MASK OUT.png [PROMPT]\n", argv[0]);
        return 2;
    }
    mend_err err = {0};
    mend_sd_model *model = NULL;
    mend_image image = {0}, mask = {0};
    mend_gen_output out = {0};
    int ok = mend_model_load(argv[1], argv[2][0] ? argv[2] : NULL, &model, &err) == MEND_OK &&
             mend_image_load(argv[3], &image, &err) == MEND_OK && mend_image_load(argv[4], &mask, &err) == MEND_OK;
    if (ok) {
        mend_gen_params p;
        mend_gen_params_default(&p); /* A1111's Inpaint tab defaults */
        p.prompt = argc > 6 ? argv[6] : "a red knitted hat";
        p.width = image.width;
        p.height = image.height;
        p.seed = 1234;
        mend_gen_inputs in = {.init_image = &image, .mask = &mask};
        ok = mend_generate(model, &p, &in, NULL, NULL, &out, &err) == MEND_OK;
    }
    if (ok) {
        mend_png_text infotext = {"parameters", out.infotexts[0]};
        ok = mend_image_save_png(argv[5], &out.images[0], &infotext, 1, &err) == MEND_OK;
    }
    if (!ok)
        fprintf(stderr, "inpaint: %s (%s)\n", err.msg, mend_status_name(err.code));
    else
        printf("%s\n", out.infotexts[0]);
    mend_gen_output_free(&out);
    mend_image_free(&image);
    mend_image_free(&mask);
    mend_model_free(model);
    return ok ? 0 : 1;
}
