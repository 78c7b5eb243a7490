/* The pipeline tests' fixtures (pipeline_fixture.h). */
#include "pipeline_fixture.h"

#include <string.h>

static mend_sd_model *g_sd, *g_inp; /* tiny-sd1, tiny-sd1-inpaint from ../shared */
static int g_sd_tried, g_inp_tried;

static mend_sd_model *load_shared(const char *rel, mend_sd_model **slot, int *tried)
{
    if (*tried)
        return *slot;
    *tried = 1;
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    const char *path = vocab ? test_shared(rel) : NULL;
    if (!path)
        return NULL;
    mend_err err = {0};
    CHECK_OK(mend_sd_load(path, vocab, MEND_COMP_ALL, slot, &err), &err);
    return *slot;
}

mend_sd_model *sd_model(void) { return load_shared(SD_MODEL, &g_sd, &g_sd_tried); }
mend_sd_model *inpaint_model(void)
{
    return load_shared(INPAINT_MODEL, &g_inp, &g_inp_tried);
}

mend_image make_image(int w, int h) { return make_image_disc(w, h, 1); }

mend_image make_image_disc(int w, int h, int disc_on)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, w, h, 3, &err), &err);
    for (int y = 0; y < h && img.data; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.data + ((size_t)y * w + x) * 3;
            int dx = x - w / 3, dy = y - h / 2, disc = disc_on && dx * dx + dy * dy < (h / 4) * (h / 4);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(disc ? 230 : y * 200 / (h - 1));
            p[2] = (uint8_t)(((x / 4 + y / 6) & 1) ? 180 : 40);
        }
    return img;
}

/* 1-channel mask, white (repaint) inside the box x0 <= x < x1, y0 <= y < y1. */
mend_image make_mask(int w, int h, int x0, int y0, int x1, int y1)
{
    mend_image m = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&m, w, h, 1, &err), &err);
    for (int y = y0; y < y1 && m.data; y++)
        memset(m.data + (size_t)y * w + x0, 255, (size_t)(x1 - x0));
    return m;
}

mend_gen_params base_params(void)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a cat on a chair";
    p.negative_prompt = "blurry";
    p.width = p.height = 64;
    p.steps = 3;
    p.sampler_name = "Euler";
    p.seed = 1234;
    p.subseed = 99;
    return p;
}

mend_status gen(mend_sd_model *m, const mend_gen_params *p, const mend_image *init, const mend_image *mask,
                       mend_gen_output *out, mend_err *err)
{
    mend_gen_inputs in = {.init_image = init, .mask = mask};
    return mend_generate(m, p, &in, NULL, NULL, out, err);
}

int same_image(const mend_image *a, const mend_image *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           memcmp(a->data, b->data, mend_image_size(a)) == 0;
}

/* The same picture up to float reordering: GEMM blocking depends on the
 * UNet batch (cond + uncond rows of every image), which moves values by
 * ~1e-6 and, after truncation to uint8, a few bytes by one level. */
int near_image(const mend_image *a, const mend_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels)
        return 0;
    size_t n = mend_image_size(a), off = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a->data[i] - (int)b->data[i]);
        if (d > 2)
            return 0;
        off += d != 0;
    }
    return off * 100 <= n; /* at most 1% of the bytes */
}

int pixel_equal(const mend_image *a, const mend_image *b, int x, int y)
{
    size_t i = ((size_t)y * a->width + x) * 3;
    return memcmp(a->data + i, b->data + i, 3) == 0;
}

mend_mask_opts mask_opts(const mend_gen_params *p)
{
    return (mend_mask_opts){p->width,       p->height,         p->resize_mode,           p->mask_blur_x,
                            p->mask_blur_y, p->inpainting_mask_invert, p->mask_round, p->inpaint_full_res,
                            p->inpaint_full_res_padding};
}

float *init_latent(mend_sd_model *m, const mend_gen_params *p, const mend_image *img, const mend_image *mask,
                          float **nmask)
{
    float *lat = NULL, *nm = NULL;
    mend_err err = {0};
    mend_gen_inputs in = {.init_image = img, .mask = mask};
    CHECK_OK(mend_generate_init_latent(m, p, &in, &lat, &nm, &err), &err);
    if (nmask)
        *nmask = nm;
    else
        free(nm);
    return lat;
}


mend_status log_step(void *user, const mend_gen_progress *pr, mend_err *err)
{
    step_log *l = user;
    l->calls++;
    l->last_total = pr->steps;
    for (int64_t i = 0; i < (int64_t)pr->batch * 4 * pr->h * pr->w; i++)
        if (!isfinite(pr->denoised[i]))
            l->finite = 0;
    if (pr->h * pr->w == 64)
        memcpy(l->last, pr->denoised, sizeof l->last);
    if (pr->step == l->interrupt_at)
        return l->fail_with == MEND_E_INTERRUPTED ? MEND_E_INTERRUPTED
                                                  : mend_fail(err, l->fail_with, "progress: test failure");
    return MEND_OK;
}

void pipeline_models_free(void)
{
    mend_sd_free(g_sd);
    mend_sd_free(g_inp);
    g_sd = g_inp = NULL;
    g_sd_tried = g_inp_tried = 0;
}
