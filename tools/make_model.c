/* Random-weight SD 1.x checkpoints (see make_model.h).
 *
 * The model is first described as a list of tensors (LDM name, diffusers
 * name, shape, how to initialise it); the values are generated only when a
 * writer asks for them, block by block in parallel, from a PRNG stream that
 * depends on the seed, the tensor's LDM name and the block index alone. */
#include "make_model_impl.h"

#include "core/half.h"
#include "core/threads.h"
#include "io/st_writer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void mm_fmt(char *buf, size_t size, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, size, f, ap);
    va_end(ap);
}

static mm_config make_config(const mend_make_model_opts *o)
{
    int tiny = o->size == MEND_MM_TINY;
    mm_config c = {
        .in_channels = o->arch == MEND_MM_SD1_INPAINT ? 9 : 4,
        .model_channels = tiny ? 32 : 320,
        .num_res_blocks = 2,
        .num_heads = 8,
        .context_dim = tiny ? 32 : 768,
        .mult = {1, 2, 4, 4},
        .attn = {1, 1, 1, 0},
        .vae_ch = tiny ? 32 : 128,
        .vae_res = 2,
        .z_channels = 4,
        .vae_mult = {1, 2, 4, 4},
        .clip_width = tiny ? 32 : 768,
        .clip_layers = tiny ? 3 : 12,
        .clip_heads = tiny ? 4 : 12,
        .clip_mlp = tiny ? 37 : 3072,
        .vocab = 49408,
        .max_pos = 77,
    };
    return c;
}

/* ---- value generation ---------------------------------------------------- */

#define FILL_BLOCK 65536

static void init_params(const mm_tensor *t, float *mean, float *std)
{
    int64_t fan_in = 1;
    for (int i = 1; i < t->ndim; i++)
        fan_in *= t->shape[i];
    *mean = 0.0f;
    switch (t->init) {
    case INIT_WEIGHT: *std = 1.0f / sqrtf((float)fan_in); break;
    case INIT_OUT_WEIGHT: *std = 0.5f / sqrtf((float)fan_in); break;
    case INIT_NORM_WEIGHT: *mean = 1.0f; *std = 0.02f; break;
    case INIT_POSITION: *std = 0.01f; break;
    default: *std = 0.02f; break;
    }
}

typedef struct fill_job {
    const mm_tensor *t;
    void *dst;
    int64_t n;
    float mean, half_width;
} fill_job;

static void store(mend_dtype dt, void *dst, int64_t i, float v)
{
    if (dt == MEND_DT_F32)
        ((float *)dst)[i] = v;
    else if (dt == MEND_DT_F16)
        ((uint16_t *)dst)[i] = mend_f32_to_f16(v);
    else
        ((uint16_t *)dst)[i] = mend_f32_to_bf16(v);
}

/* Each block has its own stream, so the values do not depend on the thread
 * count. Uniform on [mean - h, mean + h] has std h/sqrt(3). */
static void fill_blocks(void *ctx, int64_t b0, int64_t b1, int thread)
{
    const fill_job *j = ctx;
    for (int64_t b = b0; b < b1; b++) {
        uint64_t s = j->t->key ^ ((uint64_t)b * 0xD1B54A32D192ED03ull);
        int64_t end = (b + 1) * FILL_BLOCK < j->n ? (b + 1) * FILL_BLOCK : j->n;
        for (int64_t i = b * FILL_BLOCK; i < end; i++) {
            float u = (float)(splitmix64(&s) >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
            store(j->t->dtype, j->dst, i, j->mean + (2.0f * u - 1.0f) * j->half_width);
        }
    }
}

mend_status mm_fill_tensor(void *ctx, const char *name, void *dst, size_t nbytes, mend_err *err)
{
    const mm_tensor *t = ctx;
    int64_t n = (int64_t)(nbytes / mend_dtype_size(t->dtype));
    if (t->init == INIT_POSITION_IDS) {
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)dst)[i] = i;
        return MEND_OK;
    }
    if (t->init == INIT_SCHEDULE) {
        if (n != MM_SCHEDULE_STEPS)
            return mend_fail(err, MEND_E_ARG, "tensor '%s': %lld elements, expected %d", name, (long long)n,
                             MM_SCHEDULE_STEPS);
        mm_schedule_values(t->schedule_index, dst);
        return MEND_OK;
    }
    fill_job j = {.t = t, .dst = dst, .n = n};
    float std;
    init_params(t, &j.mean, &std);
    j.half_width = std * sqrtf(3.0f);
    mend_parallel_for((n + FILL_BLOCK - 1) / FILL_BLOCK, fill_blocks, &j);
    return MEND_OK;
}

/* ---- writing ------------------------------------------------------------- */

/* Adds the tensors of `comp` (all when comp < 0) under their LDM names, or
 * their diffusers names. */
static mend_status add_to_writer(mend_st_writer *w, mm_list *L, int comp, int diffusers, mend_err *err)
{
    for (int i = 0; i < L->n; i++) {
        mm_tensor *t = &L->v[i];
        if (comp >= 0 && (int)t->comp != comp)
            continue;
        if (diffusers && !t->dif[0])
            continue;
        MEND_TRY(mend_st_writer_add_generated(w, diffusers ? t->dif : t->ldm, t->dtype,
                                              diffusers ? t->dif_ndim : t->ndim, t->shape, mm_fill_tensor, t, err));
    }
    return MEND_OK;
}

static mend_status write_safetensors(mm_list *L, int comp, int diffusers, const mend_make_model_opts *o,
                                     const char *path, mend_err *err)
{
    mend_st_writer *w = mend_st_writer_new();
    if (!w)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    char seed[32];
    mm_fmt(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    mend_status s = add_to_writer(w, L, comp, diffusers, err);
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "format", "pt", err);
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "generator", "mend tools make-model", err);
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "seed", seed, err);
    if (s == MEND_OK)
        s = mend_st_writer_write(w, path, err);
    mend_st_writer_free(w);
    return s;
}

static mend_status write_json(cJSON *j, const char *path, mend_err *err)
{
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    FILE *fp = fopen(path, "wb");
    int ok = fp && fputs(text, fp) >= 0 && fputc('\n', fp) != EOF;
    if (fp && fclose(fp) != 0)
        ok = 0;
    free(text);
    if (!ok)
        return mend_fail(err, MEND_E_IO, "%s: cannot write: %s", path, strerror(errno));
    return MEND_OK;
}

static const char *const diffusers_dirs[] = {"unet", "vae", "text_encoder", "scheduler"};
static const char *const diffusers_files[] = {
    "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
    "scheduler/scheduler_config.json"};

/* Removes what write_diffusers_into may have created (nothing else). */
static void remove_diffusers_tree(const char *dir)
{
    char p[4096];
    for (size_t i = 0; i < sizeof diffusers_files / sizeof *diffusers_files; i++) {
        mm_fmt(p, sizeof p, "%s/%s", dir, diffusers_files[i]);
        remove(p);
    }
    for (size_t i = 0; i < sizeof diffusers_dirs / sizeof *diffusers_dirs; i++) {
        mm_fmt(p, sizeof p, "%s/%s", dir, diffusers_dirs[i]);
        rmdir(p);
    }
    rmdir(dir);
}

static mend_status write_diffusers_into(mm_list *L, const mm_config *c, const mend_make_model_opts *o,
                                        const char *dir, mend_err *err)
{
    char p[4096];
    for (size_t i = 0; i < sizeof diffusers_dirs / sizeof *diffusers_dirs; i++) {
        mm_fmt(p, sizeof p, "%s/%s", dir, diffusers_dirs[i]);
        if (mkdir(p, 0777) != 0)
            return mend_fail(err, MEND_E_IO, "%s: cannot create: %s", p, strerror(errno));
    }
    static const struct {
        mm_comp comp;
        const char *file;
    } parts[] = {{COMP_UNET, "unet/diffusion_pytorch_model.safetensors"},
                 {COMP_VAE, "vae/diffusion_pytorch_model.safetensors"},
                 {COMP_CLIP, "text_encoder/model.safetensors"}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        mm_fmt(p, sizeof p, "%s/%s", dir, parts[i].file);
        MEND_TRY(write_safetensors(L, (int)parts[i].comp, 1, o, p, err));
    }
    mm_fmt(p, sizeof p, "%s/unet/config.json", dir);
    MEND_TRY(write_json(mm_unet_config(c), p, err));
    mm_fmt(p, sizeof p, "%s/vae/config.json", dir);
    MEND_TRY(write_json(mm_vae_config(c), p, err));
    mm_fmt(p, sizeof p, "%s/text_encoder/config.json", dir);
    MEND_TRY(write_json(mm_text_encoder_config(c), p, err));
    mm_fmt(p, sizeof p, "%s/scheduler/scheduler_config.json", dir);
    MEND_TRY(write_json(mm_scheduler_config(), p, err));
    mm_fmt(p, sizeof p, "%s/model_index.json", dir);
    return write_json(mm_model_index(o), p, err);
}

/* The folder is built under OUT.tmp-PID and renamed into place at the end. */
static mend_status write_diffusers(mm_list *L, const mm_config *c, const mend_make_model_opts *o, const char *out,
                                   mend_err *err)
{
    struct stat st;
    if (stat(out, &st) == 0)
        return mend_fail(err, MEND_E_IO, "%s: already exists; remove it or choose another output folder", out);
    char tmp[4096];
    mm_fmt(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    if (mkdir(tmp, 0777) != 0)
        return mend_fail(err, MEND_E_IO, "%s: cannot create: %s", out, strerror(errno));
    mend_status s = write_diffusers_into(L, c, o, tmp, err);
    if (s == MEND_OK && rename(tmp, out) != 0)
        s = mend_fail(err, MEND_E_IO, "%s: cannot rename %s into place: %s", out, tmp, strerror(errno));
    if (s != MEND_OK)
        remove_diffusers_tree(tmp);
    return s;
}

mend_status mend_make_model(const mend_make_model_opts *o, const char *out, mend_err *err)
{
    if (o->dtype != MEND_DT_F32 && o->dtype != MEND_DT_F16 && o->dtype != MEND_DT_BF16)
        return mend_fail(err, MEND_E_ARG, "make-model: dtype %s is not one of F32, F16, BF16",
                         mend_dtype_name(o->dtype));
    mm_config c = make_config(o);
    mm_list L = {.dtype = o->dtype, .seed = o->seed};
    int all = o->part == MEND_MM_PART_ALL;
    if (all)
        mm_build_unet(&L, &c);
    mm_build_vae(&L, &c);
    if (all)
        mm_build_clip(&L, &c);
    if (all && o->layout == MEND_MM_SINGLE)
        mm_build_schedule(&L);
    mend_status s;
    if (L.oom)
        s = mend_fail(err, MEND_E_NOMEM, "make-model: out of memory");
    else if (!all)
        s = mm_write_vae_file(&L, o, out, err);
    else if (o->layout == MEND_MM_SINGLE)
        s = write_safetensors(&L, -1, 0, o, out, err);
    else
        s = write_diffusers(&L, &c, o, out, err);
    free(L.v);
    return s;
}

/* ---- option spellings ---------------------------------------------------- */

typedef struct spelling {
    const char *name;
    int value;
} spelling;

/* The value spelled s in table t, into *out; 0 when s is not there. */
static int spelled(const spelling *t, size_t n, const char *s, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, t[i].name)) {
            *out = t[i].value;
            return 1;
        }
    return 0;
}

#define SPELLED(table, s, out, type)                                    \
    do {                                                                \
        int v_;                                                         \
        if (!spelled(table, sizeof table / sizeof *table, s, &v_))      \
            return 0;                                                   \
        *(out) = (type)v_;                                              \
        return 1;                                                       \
    } while (0)

int mend_mm_parse_arch(const char *s, mend_mm_arch *out)
{
    static const spelling t[] = {{"sd1", MEND_MM_SD1}, {"sd1-inpaint", MEND_MM_SD1_INPAINT}};
    SPELLED(t, s, out, mend_mm_arch);
}

int mend_mm_parse_size(const char *s, mend_mm_size *out)
{
    static const spelling t[] = {{"tiny", MEND_MM_TINY}, {"full", MEND_MM_FULL}};
    SPELLED(t, s, out, mend_mm_size);
}

int mend_mm_parse_dtype(const char *s, mend_dtype *out)
{
    static const spelling t[] = {{"f32", MEND_DT_F32}, {"f16", MEND_DT_F16}, {"bf16", MEND_DT_BF16}};
    SPELLED(t, s, out, mend_dtype);
}

int mend_mm_parse_part(const char *s, mend_mm_part *out)
{
    static const spelling t[] = {
        {"all", MEND_MM_PART_ALL}, {"vae", MEND_MM_PART_VAE}, {"vae-decoder", MEND_MM_PART_VAE_DECODER}};
    SPELLED(t, s, out, mend_mm_part);
}

int mend_mm_parse_layout(const char *s, mend_mm_layout *out)
{
    static const spelling t[] = {{"single", MEND_MM_SINGLE}, {"diffusers", MEND_MM_DIFFUSERS}};
    SPELLED(t, s, out, mend_mm_layout);
}
