/* The VAE choice from the front ends, end to end on a tiny checkpoint and
 * VAE files written here: `mend txt2img --vae` (the checkpoint's own
 * weights: the same pixels; other weights: other pixels; a bad file: a
 * non-zero exit naming it, nothing written), `--taesd` (TAESD decodes,
 * "VAE Decoder: TAESD"), and `mend serve --vae-dir` (GET sd-vae in A1111's
 * shape, refresh-vae, sd_vae in options and override_settings restored
 * afterwards, a bad file's error with the VAE kept, "Automatic" with a
 * NAME.vae.safetensors beside the checkpoint, sd_vae_decode_method). */
#include "test.h"

#include "make_model.h"
#include "mend/mend.h"
#include "server_fixture.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED 3

static char g_vocab[1024], g_taesd[1024], g_models[1024], g_vaes[1024], g_model[1100];

static const char *in_dir(const char *dir, const char *name)
{
    static char bufs[8][1200];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

static int make_vae(const char *path, int seed)
{
    mend_make_model_opts o = {MEND_MM_SD1, MEND_MM_TINY, MEND_DT_F16, (uint64_t)seed, MEND_MM_SINGLE,
                              MEND_MM_PART_VAE, 0};
    mend_err err = {0};
    mend_status s = mend_make_model(&o, path, &err);
    CHECK_MSG(s == MEND_OK, "make-model %s: %s", path, err.msg);
    return s == MEND_OK;
}

/* models/m.safetensors and VAE/{own,other,bad}.safetensors, once. */
static int have_inputs(void)
{
    static int state; /* 0 not yet, 1 ready, -1 not possible */
    if (state)
        return state > 0;
    state = -1;
    const char *v = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    const char *t = test_shared("taesd/taesd_decoder.random.f16.safetensors");
    if (!v || !t)
        return 0;
    snprintf(g_vocab, sizeof g_vocab, "%s", v);
    snprintf(g_taesd, sizeof g_taesd, "%s", t);
    snprintf(g_models, sizeof g_models, "%s/models", test_tmpdir());
    snprintf(g_vaes, sizeof g_vaes, "%s/VAE", test_tmpdir());
    snprintf(g_model, sizeof g_model, "%s/m.safetensors", g_models);
    int ok = mkdir(g_models, 0755) == 0 && mkdir(g_vaes, 0755) == 0 && test_make_tiny_model(g_model, SEED) &&
             make_vae(in_dir(g_vaes, "own.safetensors"), SEED) &&
             make_vae(in_dir(g_vaes, "other.safetensors"), SEED + 1) &&
             test_write_text(in_dir(g_vaes, "bad.safetensors"), "not a weights file");
    CHECK_MSG(ok, "inputs in %s", test_tmpdir());
    state = ok ? 1 : -1;
    return ok;
}

/* `mend txt2img` on the tiny model, 64x64, 2 steps, seed 7. */
static int txt2img(const char *opts, const char *png, char **out)
{
    char args[6000];
    unlink(png);
    snprintf(args, sizeof args,
             "txt2img -q --model '%s' --vocab '%s' %s -W 64 -H 64 --steps 2 --seed 7 -o '%s' 'a cat'", g_model,
             g_vocab, opts, png);
    return test_run_mend(args, out);
}

static int same_png_pixels(const char *a, const char *b)
{
    mend_image x = {0}, y = {0};
    mend_err err = {0};
    int same = mend_image_load(a, &x, &err) == MEND_OK && mend_image_load(b, &y, &err) == MEND_OK &&
               x.width == y.width && x.height == y.height && x.channels == y.channels &&
               !memcmp(x.data, y.data, (size_t)x.width * x.height * x.channels);
    mend_image_free(&x);
    mend_image_free(&y);
    return same;
}

TEST(cli)
{
    if (!have_inputs())
        return;
    char base[1100], png[1100], opts[3000], *o = NULL;
    snprintf(base, sizeof base, "%s/base.png", test_tmpdir());
    snprintf(png, sizeof png, "%s/vae.png", test_tmpdir());
    CHECK(txt2img("", base, NULL) == 0);
    snprintf(opts, sizeof opts, "--vae '%s'", in_dir(g_vaes, "own.safetensors"));
    int rc = txt2img(opts, png, &o);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, o ? o : "");
    CHECK_MSG(same_png_pixels(base, png), "--vae with the checkpoint's own weights changed the image");
    char *info = test_png_parameters(png);
    CHECK_MSG(info && strstr(info, ", Model: m, VAE hash: ") && strstr(info, ", VAE: own.safetensors, "), "%s",
              info ? info : "(none)");
    free(info), free(o), o = NULL;
    snprintf(opts, sizeof opts, "--vae '%s'", in_dir(g_vaes, "other.safetensors"));
    CHECK(txt2img(opts, png, NULL) == 0 && test_path_exists(png) && !same_png_pixels(base, png));
    snprintf(opts, sizeof opts, "--vae '%s'", in_dir(g_vaes, "bad.safetensors"));
    rc = txt2img(opts, png, &o);
    CHECK_MSG(rc != 0 && o && strstr(o, "bad.safetensors") && !test_path_exists(png), "rc %d: %s", rc, o ? o : "");
    free(o), o = NULL;
    snprintf(opts, sizeof opts, "--taesd '%s'", g_taesd);
    rc = txt2img(opts, png, &o);
    mend_image img = {0};
    mend_err err = {0};
    CHECK_MSG(rc == 0 && mend_image_load(png, &img, &err) == MEND_OK && img.width == 64 && img.height == 64,
              "rc %d: %s", rc, o ? o : "");
    info = test_png_parameters(png);
    CHECK_MSG(info && strstr(info, ", VAE Decoder: TAESD, "), "%s", info ? info : "(none)");
    CHECK(!same_png_pixels(base, png));
    mend_image_free(&img);
    free(info), free(o);
    /* A1111's Automatic: NAME.vae.safetensors beside the checkpoint, unless --vae None */
    const char *near = in_dir(g_models, "m.vae.safetensors");
    CHECK(make_vae(near, SEED + 1));
    CHECK(txt2img("", png, NULL) == 0);
    info = test_png_parameters(png);
    CHECK_MSG(info && strstr(info, ", VAE: m.vae.safetensors, "), "%s", info ? info : "(none)");
    free(info);
    CHECK(txt2img("--vae None", png, NULL) == 0 && same_png_pixels(base, png));
    unlink(near);
}

/* The first image's infotext of a txt2img with extra JSON fields. */
static char *job_infotext(const server *sv, const char *extra, int *status)
{
    char body[2000];
    snprintf(body, sizeof body, "{\"prompt\": \"a cat\", \"steps\": 2, \"width\": 64, \"height\": 64, \"seed\": 3%s}",
             extra);
    reply h = http(sv, "POST", "/sdapi/v1/txt2img", body);
    *status = h.status;
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(h.json, "info");
    cJSON *ij = cJSON_IsString(info) ? cJSON_Parse(info->valuestring) : NULL;
    const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ij, "infotexts"), 0);
    char *text = cJSON_IsString(t0) ? strdup(t0->valuestring) : strdup(h.body ? h.body : "");
    cJSON_Delete(ij);
    reply_free(&h);
    return text;
}

/* The infotext's "VAE: ..." value ("" without one) is want. */
static void check_job_vae(const server *sv, const char *extra, const char *want)
{
    int status = 0;
    char *t = job_infotext(sv, extra, &status), key[200];
    snprintf(key, sizeof key, ", VAE: %s, ", want);
    int ok = status == 200 && t && (*want ? strstr(t, key) != NULL : strstr(t, "VAE") == NULL);
    CHECK_MSG(ok, "%s: want VAE '%s': %d %s", extra, want, status, t ? t : "");
    free(t);
}

static void check_option(const server *sv, const char *key, const char *want)
{
    reply h = http(sv, "GET", "/sdapi/v1/options", NULL);
    const char *got = str(h.json, key);
    CHECK_MSG(h.status == 200 && !strcmp(got, want), "option %s: '%s', want '%s'", key, got, want);
    reply_free(&h);
}

static reply set_option(const server *sv, const char *key, const char *value)
{
    char body[600];
    snprintf(body, sizeof body, "{\"%s\": \"%s\"}", key, value);
    return http(sv, "POST", "/sdapi/v1/options", body);
}

static void check_listing(const server *sv, int count)
{
    reply h = http(sv, "GET", "/sdapi/v1/sd-vae", NULL);
    CHECK_MSG(h.status == 200 && cJSON_GetArraySize(h.json) == count, "sd-vae: %d %s", h.status, h.body ? h.body : "");
    static const char *const names[] = {"bad.safetensors", "new.safetensors", "other.safetensors", "own.safetensors"};
    for (int i = 0, k = 0; i < cJSON_GetArraySize(h.json); i++, k++) {
        const cJSON *e = cJSON_GetArrayItem(h.json, i);
        if (count == 3 && k == 1)
            k++; /* new.safetensors comes with the rescan */
        const char *file = str(e, "filename");
        CHECK_MSG(!strcmp(str(e, "model_name"), names[k]) && file[0] == '/' &&
                      !strcmp(file + strlen(file) - strlen(names[k]), names[k]) && strstr(file, "/VAE/"),
                  "entry %d: %s %s", i, str(e, "model_name"), file);
    }
    reply_free(&h);
}

TEST(serve)
{
    if (!have_inputs())
        return;
    const char *args[] = {"--models-dir", g_models, "--vocab", g_vocab, "--vae-dir", g_vaes, "--taesd", g_taesd, NULL};
    server sv = {0};
    CHECK(start_server(&sv, args));
    if (sv.pid <= 0)
        return;
    check_listing(&sv, 3);
    CHECK(make_vae(in_dir(g_vaes, "new.safetensors"), SEED + 2));
    check_listing(&sv, 3); /* until the rescan */
    reply h = http(&sv, "POST", "/sdapi/v1/refresh-vae", NULL);
    CHECK_MSG(h.status == 200 && h.body && !strcmp(h.body, "null"), "refresh-vae: %d", h.status);
    reply_free(&h);
    check_listing(&sv, 4);
    check_option(&sv, "sd_vae", "Automatic");
    check_job_vae(&sv, "", "");
    /* a file that does not load: A1111's error body naming it, nothing changes */
    h = set_option(&sv, "sd_vae", "bad.safetensors");
    CHECK_MSG(h.status == 500 && h.body && strstr(h.body, "\"error\"") && strstr(h.body, "bad.safetensors"), "%d %s",
              h.status, h.body ? h.body : "");
    reply_free(&h);
    h = set_option(&sv, "sd_vae", "nope.safetensors");
    CHECK_MSG(h.status == 404 && h.body && strstr(h.body, "nope.safetensors"), "%d %s", h.status, h.body ? h.body : "");
    reply_free(&h);
    check_option(&sv, "sd_vae", "Automatic");
    h = set_option(&sv, "sd_vae", "other.safetensors");
    CHECK_MSG(h.status == 200, "%d %s", h.status, h.body ? h.body : "");
    reply_free(&h);
    check_option(&sv, "sd_vae", "other.safetensors");
    check_job_vae(&sv, "", "other.safetensors");
    /* override_settings: for the job, then restored */
    check_job_vae(&sv, ", \"override_settings\": {\"sd_vae\": \"own.safetensors\"}", "own.safetensors");
    check_option(&sv, "sd_vae", "other.safetensors");
    check_job_vae(&sv, ", \"override_settings\": {\"sd_vae\": \"None\"}", "");
    check_job_vae(&sv, "", "other.safetensors");
    int status = 0;
    char *t = job_infotext(&sv, ", \"override_settings\": {\"sd_vae\": \"bad.safetensors\"}", &status);
    CHECK_MSG(status == 500 && t && strstr(t, "bad.safetensors"), "%d %s", status, t ? t : "");
    free(t);
    check_option(&sv, "sd_vae", "other.safetensors");
    check_job_vae(&sv, "", "other.safetensors");
    t = job_infotext(&sv, ", \"override_settings\": {\"sd_vae_decode_method\": \"TAESD\"}", &status);
    CHECK_MSG(status == 200 && t && strstr(t, ", VAE Decoder: TAESD, "), "%d %s", status, t ? t : "");
    free(t);
    check_option(&sv, "sd_vae_decode_method", "Full");
    /* Automatic: NAME.vae.safetensors beside the checkpoint */
    CHECK(make_vae(in_dir(g_models, "m.vae.safetensors"), SEED + 3));
    h = set_option(&sv, "sd_vae", "Automatic");
    CHECK_MSG(h.status == 200, "%d %s", h.status, h.body ? h.body : "");
    reply_free(&h);
    check_job_vae(&sv, "", "m.vae.safetensors");
    check_job_vae(&sv, ", \"override_settings\": {\"sd_vae\": \"None\"}", "");
    CHECK(stop_server(&sv) == 0);
}

int main(void)
{
    RUN(cli);
    RUN(serve);
    stop_all();
    test_remove_tmpdir();
    return test_summary();
}
