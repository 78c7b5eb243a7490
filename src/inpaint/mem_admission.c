/* Memory admission: what a job will need, known before it starts, so that
 * `width=height=8192, batch_size=64` is refused with a clear message
 * instead of the process being killed for memory halfway through.
 *
 * The estimate counts the live fp32 activations of the largest stage, from
 * the architecture: a UNet call holds its skip connections (about 4 x C0
 * channels at full latent size, less below) and the widest block's
 * temporaries (GEGLU's 8 x C0 inner projection, q/k/v, norms), about
 * 24 x C0 channels of latent size per batch row, for 2 x batch rows (CFG).
 * Attention is tiled (no N x N score matrix). The VAE decodes one image at
 * a time; at full resolution its last level holds the upsampled 2 x ch
 * channels, their convolution and the ch-channel resnets: about 8 x ch
 * channels of image size. Images, masks and the init image come on top.
 * The factors are rounded up; tests/test_memory.c checks that the estimate
 * stays above what a job really takes and within a small factor of it. */
#include "core/err.h"
#include "model/sd_model.h"
#include "model/unet.h"
#include "model/vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNET_ACT_CHANNELS 24 /* x model_channels, per row, at latent size */
#define VAE_ACT_CHANNELS 8   /* x VAE base channels, at image size */
#define FIXED_OVERHEAD ((uint64_t)96 << 20)

static uint64_t g_limit; /* 0: automatic */

void mend_set_memory_limit(uint64_t bytes)
{
    g_limit = bytes;
}

/* A "Key: N kB" line of /proc/meminfo, in bytes; 0 if absent. */
static uint64_t meminfo_bytes(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    uint64_t v = 0;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            unsigned long long kb = 0;
            if (sscanf(line + kl + 1, "%llu", &kb) == 1)
                v = (uint64_t)kb * 1024;
            break;
        }
    if (f)
        fclose(f);
    return v;
}

/* A cgroup v2 file holding a byte count ("max" or absent: 0). */
static uint64_t cgroup_bytes(const char *file)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s", file);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

int mend_parse_bytes(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s)
        return 0;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || v > 1e15)
        return 0;
    double unit = (double)(1 << 20); /* a plain number is MiB */
    const char *units = "kmgt";
    const char *u = *end ? strchr(units, *end | 0x20) : NULL;
    if (u) {
        unit = 1024.0;
        for (const char *k = units; k < u; k++)
            unit *= 1024.0;
        end++;
        if (*end == 'i') /* KiB, MiB, ... */
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
    }
    if (*end)
        return 0;
    *out = (uint64_t)(v * unit);
    return *out > 0;
}

uint64_t mend_memory_limit(void)
{
    uint64_t env = 0;
    if (g_limit)
        return g_limit;
    if (mend_parse_bytes(getenv("MEND_MAX_MEMORY"), &env)) /* for services and tests */
        return env;
    uint64_t avail = meminfo_bytes("MemAvailable");
    uint64_t cg_max = cgroup_bytes("memory.max"), cg_cur = cgroup_bytes("memory.current");
    if (cg_max && cg_max > cg_cur && (!avail || cg_max - cg_cur < avail))
        avail = cg_max - cg_cur;
    return avail ? avail : (uint64_t)1 << 40; /* unknown: do not refuse */
}

uint64_t mend_gen_memory_estimate(const mend_sd_model *m, const mend_gen_params *p, int init_width, int init_height)
{
    uint64_t W = p->width > 0 ? (uint64_t)p->width : 0, H = p->height > 0 ? (uint64_t)p->height : 0;
    uint64_t B = p->batch_size > 0 ? (uint64_t)p->batch_size : 1;
    uint64_t lat_hw = (W / 8) * (H / 8), img = W * H;
    uint64_t c0 = m && m->unet ? (uint64_t)mend_unet_get_arch(m->unet)->model_channels : 320;
    uint64_t cv = m && m->vae ? (uint64_t)mend_vae_get_arch(m->vae)->ch : 128;
    if (m && m->ext_vae && (uint64_t)mend_vae_get_arch(m->ext_vae)->ch > cv) /* a wider separate VAE */
        cv = (uint64_t)mend_vae_get_arch(m->ext_vae)->ch;
    uint64_t unet = 4 * (2 * B) * lat_hw * UNET_ACT_CHANNELS * c0;
    uint64_t vae = 4 * img * VAE_ACT_CHANNELS * cv;
    uint64_t latents = 4 * B * lat_hw * 4 * 16;        /* sampler state, masks, image conditioning */
    uint64_t images = B * img * (3 + 4 * 3) + img * 16; /* outputs, float images, mask stages */
    uint64_t init = (uint64_t)(init_width > 0 ? init_width : 0) * (uint64_t)(init_height > 0 ? init_height : 0) * 24;
    uint64_t stage = unet > vae ? unet : vae;
    return stage + latents + images + init + FIXED_OVERHEAD;
}

static double gib(uint64_t b)
{
    return (double)b / (double)((uint64_t)1 << 30);
}

mend_status mend_gen_memory_check(const mend_sd_model *m, const mend_gen_params *p, int init_width, int init_height,
                                  mend_err *err)
{
    const char *env = getenv("MEND_MAX_MEMORY");
    uint64_t env_bytes = 0;
    if (!g_limit && env && *env && !mend_parse_bytes(env, &env_bytes))
        return mend_fail(err, MEND_E_ARG, "MEND_MAX_MEMORY='%s': expected a size such as 6G or 512M", env);
    uint64_t need = mend_gen_memory_estimate(m, p, init_width, init_height), limit = mend_memory_limit();
    if (need <= limit)
        return MEND_OK;
    return mend_fail(err, MEND_E_LIMIT,
                     "this job (%dx%d, batch size %d) needs about %.2f GiB of memory; the limit is %.2f GiB (%s)",
                     p->width, p->height, p->batch_size, gib(need), gib(limit),
                     g_limit || getenv("MEND_MAX_MEMORY") ? "--max-memory" : "what the machine has available now");
}
