/* A separate VAE file in place of the checkpoint's own (A1111's sd_vae and
 * --vae, stable-diffusion.cpp's --vae): include/mend/model.h.
 *
 * The file is a state dict of an AutoencoderKL in one of three layouts:
 * LDM names (encoder.*, decoder.*, quant_conv, post_quant_conv) as A1111's
 * VAE files hold them, the same under first_stage_model. (a VAE cut out of
 * a checkpoint), or diffusers names (encoder.down_blocks...), renamed with
 * the diffusers folder's own renaming. A1111 ignores the keys loss* and
 * model_ema*; any other name that is not a VAE tensor is an error, as
 * A1111's strict load_state_dict refuses it. A file with only a decoder
 * (or only an encoder) replaces that half: the checkpoint's VAE does the
 * other, which is why the checkpoint's own VAE stays loaded. */
#include "model/sd_model.h"

#include "model/diffusers.h"
#include "model/model_hash.h"
#include "mend/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char ldm_prefix[] = "first_stage_model.";

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ignored_key(const char *name)
{
    return starts(name, "loss") || starts(name, "model_ema");
}

static int ldm_vae_key(const char *name)
{
    return starts(name, "encoder.") || starts(name, "decoder.") || starts(name, "quant_conv.") ||
           starts(name, "post_quant_conv.");
}

/* Diffusers names carry down_blocks / up_blocks / mid_block, which LDM
 * names never do. */
static int diffusers_key(const char *name)
{
    return strstr(name, "down_blocks.") || strstr(name, "up_blocks.") || strstr(name, "mid_block.");
}

/* The prefix the VAE's names sit under, after renaming a diffusers file;
 * an LDM file's stray tensors are refused naming the first. */
static mend_status vae_layout(mend_tf *f, const char **prefix, mend_err *err)
{
    int diffusers = 0;
    *prefix = "";
    for (int i = 0; i < f->count; i++) {
        if (starts(f->tensors[i].name, ldm_prefix)) {
            *prefix = ldm_prefix; /* the rest of a checkpoint around it is not looked at */
            return MEND_OK;
        }
        diffusers |= diffusers_key(f->tensors[i].name) != 0;
    }
    if (diffusers)
        return mend_diffusers_rename_vae(f, err);
    for (int i = 0; i < f->count; i++) {
        const char *n = f->tensors[i].name;
        if (!ignored_key(n) && !ldm_vae_key(n))
            return mend_fail(err, MEND_E_FORMAT,
                             "%s: tensor '%s' is not a VAE tensor (a VAE file holds encoder.*, decoder.*, "
                             "quant_conv.* and post_quant_conv.*, or their diffusers names)",
                             f->path, n);
    }
    return MEND_OK;
}

/* The file's latent must be the UNet's: the checkpoint's VAE's z channels. */
static mend_status check_fits(const mend_sd_model *m, const mend_vae *v, const char *path, mend_err *err)
{
    const mend_vae_arch *a = mend_vae_get_arch(v);
    if (m->vae && mend_vae_get_arch(m->vae)->z_channels != a->z_channels)
        return mend_fail(err, MEND_E_ARCH, "%s: VAE with %d latent channels does not fit the model's %d", path,
                         a->z_channels, mend_vae_get_arch(m->vae)->z_channels);
    if (!m->vae && !(a->has_encoder && a->has_decoder))
        return mend_fail(err, MEND_E_ARCH, "%s: the VAE file has no %s and the model has no VAE of its own", path,
                         a->has_encoder ? "decoder" : "encoder");
    return MEND_OK;
}

static mend_status load_vae_file(const mend_sd_model *m, const char *path, mend_vae **out, mend_err *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return mend_fail(err, MEND_E_IO, "%s: no such VAE file", path);
    mend_tf *f = NULL;
    MEND_TRY(mend_tf_open(path, &f, err));
    const char *prefix;
    mend_status s = vae_layout(f, &prefix, err);
    if (s == MEND_OK) {
        mend_wload l = {.file = f, .prefix = prefix};
        s = mend_vae_load(&l, out, err);
    }
    if (s == MEND_OK)
        s = check_fits(m, *out, path, err);
    mend_tf_close(f); /* the loader copied every weight out of the file */
    if (s != MEND_OK) {
        mend_vae_free(*out);
        *out = NULL;
    }
    return s;
}

mend_status mend_model_set_vae(mend_sd_model *m, const char *path, mend_err *err)
{
    if (!path || !*path) {
        mend_vae_free(m->ext_vae);
        free(m->ext_vae_path);
        m->ext_vae = NULL;
        m->ext_vae_path = NULL;
        return MEND_OK;
    }
    if (m->ext_vae_path && !strcmp(m->ext_vae_path, path))
        return MEND_OK; /* loaded already (A1111: loaded_vae_file == vae_file) */
    mend_vae *v = NULL;
    char *copy = strdup(path);
    if (!copy)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = load_vae_file(m, path, &v, err);
    if (s != MEND_OK) { /* the VAE in use stays */
        free(copy);
        return mend_err_wrap(err, "VAE");
    }
    mend_vae_free(m->ext_vae);
    free(m->ext_vae_path);
    m->ext_vae = v;
    m->ext_vae_path = copy;
    m->ext_vae_hash[0] = '\0';
    m->ext_vae_hash_tried = 0;
    return MEND_OK;
}

const char *mend_model_vae_path(const mend_sd_model *m)
{
    return m ? m->ext_vae_path : NULL;
}

char *mend_vae_near_checkpoint(const char *checkpoint)
{
    /* A1111's find_vae_near_checkpoint: os.path.splitext, then its order */
    static const char *const ext[] = {".vae.pt", ".vae.ckpt", ".vae.safetensors"};
    struct stat st;
    if (!checkpoint || stat(checkpoint, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL; /* diffusers folders have their own vae/ */
    const char *slash = strrchr(checkpoint, '/'), *dot = strrchr(checkpoint, '.');
    size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - checkpoint) : strlen(checkpoint);
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t n = stem + strlen(ext[i]) + 1;
        char *p = malloc(n);
        if (!p)
            return NULL;
        snprintf(p, n, "%.*s%s", (int)stem, checkpoint, ext[i]);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            return p;
        free(p);
    }
    return NULL;
}

const mend_vae *mend_sd_vae_encoder(const mend_sd_model *m)
{
    return m->ext_vae && mend_vae_get_arch(m->ext_vae)->has_encoder ? m->ext_vae : m->vae;
}

const mend_vae *mend_sd_vae_decoder(const mend_sd_model *m)
{
    return m->ext_vae && mend_vae_get_arch(m->ext_vae)->has_decoder ? m->ext_vae : m->vae;
}

const char *mend_sd_vae_hash(mend_sd_model *m)
{
    if (!m->ext_vae_path)
        return NULL;
    mend_model_short_hash_once(m->ext_vae_path, &m->ext_vae_hash_tried, m->ext_vae_hash);
    return m->ext_vae_hash[0] ? m->ext_vae_hash : NULL;
}
