/* include/mend/preview.h: previews of the x0 prediction, and finding TAESD
 * weight files (shared by `mend serve --taesd` and `mend-dev eval taesd-*`). */
#include "mend/preview.h"

#include "io/image.h"
#include "io/tensorfile.h"
#include "model/taesd.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* sd_vae_approx.cheap_approximation's factors for SD 1.x latents. */
static const float latent_rgb[4][3] = {
    {0.298f, 0.207f, 0.208f},
    {0.187f, 0.286f, 0.173f},
    {-0.158f, 0.189f, 0.264f},
    {-0.184f, -0.271f, -0.473f},
};

mend_status mend_preview_cheap(const float *latent, int index, int h, int w, mend_image *out, mend_err *err)
{
    MEND_TRY(mend_image_alloc(out, w, h, 3, err));
    int64_t hw = (int64_t)h * w;
    const float *x = latent + (int64_t)index * 4 * hw;
    for (int64_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) {
            float v = 0;
            for (int l = 0; l < 4; l++)
                v += x[l * hw + i] * latent_rgb[l][c];
            v = (v + 1.0f) * 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            out->data[i * 3 + c] = (uint8_t)(255.0f * v);
        }
    return MEND_OK;
}

struct mend_preview_taesd {
    mend_tf *file; /* the decoder reads its weights from here */
    mend_taesd *taesd;
};

mend_status mend_preview_taesd_load(const char *path, mend_preview_taesd **out, mend_err *err)
{
    char file[4096];
    MEND_TRY(mend_taesd_weights_path(path, "taesd_decoder", file, sizeof file, err));
    mend_preview_taesd *t = calloc(1, sizeof *t);
    if (!t)
        return mend_fail(err, MEND_E_NOMEM, "out of memory for the TAESD decoder");
    mend_status s = mend_tf_open(file, &t->file, err);
    if (s == MEND_OK)
        s = mend_taesd_load(NULL, t->file, &t->taesd, err);
    return MEND_HAND_OVER(s, t, out, mend_preview_taesd_free);
}

const mend_taesd *mend_preview_taesd_model(const mend_preview_taesd *t)
{
    return t ? t->taesd : NULL;
}

void mend_preview_taesd_free(mend_preview_taesd *t)
{
    if (!t)
        return;
    mend_taesd_free(t->taesd);
    mend_tf_close(t->file);
    free(t);
}

mend_status mend_preview_taesd_decode(const mend_preview_taesd *t, const float *latent, int index, int h, int w,
                                      mend_image *out, mend_err *err)
{
    int64_t hw = (int64_t)h * w, px = 64 * hw;
    float *rgb = malloc((size_t)(3 * px) * sizeof *rgb);
    if (!rgb)
        return mend_fail(err, MEND_E_NOMEM, "out of memory for the preview");
    mend_status s = mend_taesd_decode(t->taesd, latent + (int64_t)index * 4 * hw, 1, h, w, rgb, err);
    if (s == MEND_OK)
        s = mend_image_alloc(out, 8 * w, 8 * h, 3, err);
    for (int64_t i = 0; s == MEND_OK && i < px; i++)
        for (int c = 0; c < 3; c++) {
            float v = rgb[c * px + i];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            out->data[i * 3 + c] = (uint8_t)(255.0f * v + 0.5f);
        }
    free(rgb);
    return s;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

mend_status mend_taesd_weights_path(const char *path, const char *stem, char *out, size_t size, mend_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mend_fail(err, MEND_E_IO, "%s: cannot access TAESD weights", path);
    if (!S_ISDIR(st.st_mode)) {
        snprintf(out, size, "%s", path);
        return MEND_OK;
    }
    DIR *d = opendir(path);
    if (!d)
        return mend_fail(err, MEND_E_IO, "%s: cannot read folder", path);
    char best[1024] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, stem, strlen(stem)) != 0 || !(has_suffix(n, ".safetensors") || has_suffix(n, ".pth")))
            continue;
        if (!best[0] || strcmp(n, best) < 0)
            snprintf(best, sizeof best, "%s", n);
    }
    closedir(d);
    if (!best[0])
        return mend_fail(err, MEND_E_IO, "%s: no %s*.safetensors or %s*.pth in this folder", path, stem, stem);
    snprintf(out, size, "%s/%s", path, best);
    return MEND_OK;
}
