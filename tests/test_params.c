/* The parameter table walked end to end: for every entry of
 * include/mend/params.h, the command line ($MEND_BIN), the HTTP API (a
 * `mend serve` child on a free port) and the table's JSON
 * (GET /mend/v1/params) agree on the defaults, accept both range ends and
 * refuse one step past them with the library's one message. With the CLIP
 * vocabulary from ../shared, a real img2img job on a tiny random model
 * also checks the API defaults echoed in `parameters`. */
#include "server_fixture.h"

#include "inpaint/infotext.h"
#include "mend/params.h"

#include <cjson/cJSON.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a server child (server_fixture.c) ----------------------------------- */

static server params_sv;

static void stop_params_server(void)
{
    stop_server(&params_sv);
}

/* `mend serve --port 0 --models-dir DIR [--vocab V]`. */
static int start_params_server(const char *models_dir, const char *vocab)
{
    const char *args[] = {"--models-dir", models_dir, vocab ? "--vocab" : NULL, vocab, NULL};
    return start_server(&params_sv, args);
}

/* The response body (malloc'd) and *status, or NULL. */
static char *http_body(const char *method, const char *path, const char *body, int *status)
{
    reply r = http(&params_sv, method, path, body);
    char *out = r.body;
    *status = r.status;
    r.body = NULL;
    reply_free(&r);
    return out;
}

/* ---- the command line ---------------------------------------------------- */

/* The command whose scope the entry has, with inputs that fail only after
 * every option was checked. */
static const char *cli_command(const mend_param_desc *d)
{
    if (d->scope == MEND_SCOPE_ALL || d->scope == MEND_SCOPE_TXT2IMG)
        return "txt2img --model /nonexistent/model.safetensors -q";
    if (d->scope == MEND_SCOPE_IMG2IMG)
        return "img2img --model /nonexistent/model.safetensors --init /nonexistent/init.png -q";
    return "inpaint --model /nonexistent/model.safetensors --init /nonexistent/init.png "
           "--mask /nonexistent/mask.png -q";
}

/* The CLI spelling that takes a number: the flag, or a BOOL's first alias. */
static int cli_value_flag(const mend_param_desc *d, char *buf, size_t size)
{
    if (!d->cli_flag)
        return 0;
    if (d->type != MEND_PARAM_BOOL) {
        snprintf(buf, size, "%s", d->cli_flag);
        return 1;
    }
    if (!d->cli_aliases)
        return 0; /* a switch only: no value to range-check */
    snprintf(buf, size, "%.*s", (int)strcspn(d->cli_aliases, " "), d->cli_aliases);
    return 1;
}

static void number_text(const mend_param_desc *d, double v, char *buf, size_t size)
{
    snprintf(buf, size, d->type == MEND_PARAM_FLOAT ? "%.10g" : "%.0f", v);
}

/* expect: NULL = accepted, else the message the refusal must carry. */
static void check_cli(const mend_param_desc *d, double v, const char *expect)
{
    char flag[64], val[64], args[1024], *out = NULL;
    if (!cli_value_flag(d, flag, sizeof flag))
        return;
    number_text(d, v, val, sizeof val);
    snprintf(args, sizeof args, "%s --%s %s", cli_command(d), flag, val);
    int rc = test_run_mend(args, &out);
    if (expect)
        CHECK_MSG(rc == 2 && out && strstr(out, expect), "CLI --%s %s: wanted '%s', got rc %d: %s", flag, val, expect,
                  rc, out ? out : "");
    else
        CHECK_MSG(rc != 2 && out && !strstr(out, "parameter '"), "CLI --%s %s refused: %s", flag, val, out ? out : "");
    free(out);
}

/* ---- the API ------------------------------------------------------------- */

static int api_can_send_number(const mend_param_desc *d)
{
    if (!d->api_key || (d->flags & MEND_PARAM_API_CUSTOM) || d->type == MEND_PARAM_STRING)
        return 0;
    /* a JSON bool field takes true/false only: a 2 is a type error, not a range error */
    return d->type != MEND_PARAM_BOOL || (d->flags & MEND_PARAM_API_INT);
}

static void check_api(const mend_param_desc *d, double v, const char *expect)
{
    if (!api_can_send_number(d))
        return;
    char val[64], body[512];
    number_text(d, v, val, sizeof val);
    int setting = (d->flags & MEND_PARAM_SETTING) != 0;
    int txt2img = d->scope == MEND_SCOPE_ALL || d->scope == MEND_SCOPE_TXT2IMG;
    const char *init = txt2img ? "" : "\"init_images\": [\"x\"], ";
    if (setting)
        snprintf(body, sizeof body, "{%s\"override_settings\": {\"%s\": %s}}", init, d->api_key, val);
    else
        snprintf(body, sizeof body, "{%s\"%s\": %s}", init, d->api_key, val);
    int status;
    char *out = http_body("POST", txt2img ? "/sdapi/v1/txt2img" : "/sdapi/v1/img2img", body, &status);
    if (expect)
        CHECK_MSG(out && status == (setting ? 400 : 422) && strstr(out, expect), "API %s: wanted '%s', got %d %s",
                  body, expect, status, out ? out : "");
    else
        CHECK_MSG(out && status != 422 && !strstr(out, "parameter '"), "API %s refused: %d %s", body, status,
                  out ? out : "");
    free(out);
}

/* ---- the walk ------------------------------------------------------------ */

static cJSON *fetch_table(void)
{
    int status;
    char *text = http_body("GET", "/mend/v1/params", NULL, &status);
    cJSON *j = status == 200 && text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static const cJSON *json_entry(const cJSON *table, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(table, "params"))
    {
        const cJSON *n = cJSON_GetObjectItem(e, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return e;
    }
    return NULL;
}

/* A JSON default against the struct's value. */
static int json_default_is(const cJSON *v, const mend_param_desc *d, const mend_gen_params *p)
{
    if (d->type == MEND_PARAM_STRING)
        return cJSON_IsString(v) && !strcmp(v->valuestring, mend_param_get_label(p, d));
    if (d->type == MEND_PARAM_BOOL)
        return cJSON_IsBool(v) && cJSON_IsTrue(v) == (mend_param_get_number(p, d) != 0);
    return cJSON_IsNumber(v) && v->valuedouble == mend_param_get_number(p, d);
}

TEST(table_json_matches_the_library)
{
    cJSON *table = fetch_table();
    CHECK_MSG(table != NULL, "GET /mend/v1/params");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(table, "params")) == mend_param_count());
    mend_gen_params ui, api;
    mend_gen_params_default(&ui);
    mend_gen_params_api_default(&api);
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        const cJSON *e = json_entry(table, d->name);
        CHECK_MSG(e != NULL, "%s missing from /mend/v1/params", d->name);
        if (!e)
            continue;
        CHECK_MSG(d->label && d->label[0] && d->help && d->help[0], "%s: label and help", d->name);
        CHECK_MSG(mend_param_find(d->name) == d, "%s: lookup by name", d->name);
        CHECK_MSG(json_default_is(cJSON_GetObjectItem(e, "default"), d, &ui), "%s: UI default", d->name);
        const cJSON *ad = cJSON_GetObjectItem(e, "api_default");
        CHECK_MSG((d->flags & MEND_PARAM_API_NULL) ? cJSON_IsNull(ad) : json_default_is(ad, d, &api), "%s: API default",
                  d->name);
        if (d->type != MEND_PARAM_STRING) {
            double api_min, api_max;
            mend_param_api_range(d, &api_min, &api_max);
            CHECK_MSG(cJSON_GetObjectItem(e, "min")->valuedouble == d->min &&
                          cJSON_GetObjectItem(e, "max")->valuedouble == d->max &&
                          cJSON_GetObjectItem(e, "api_min")->valuedouble == api_min &&
                          cJSON_GetObjectItem(e, "api_max")->valuedouble == api_max &&
                          cJSON_GetObjectItem(e, "step")->valuedouble == d->step,
                      "%s: ranges in the JSON", d->name);
            /* the page's sliders offer nothing the API refuses */
            CHECK_MSG(api_min <= d->min && d->max <= api_max, "%s: UI range %g..%g outside the API's %g..%g",
                      d->name, d->min, d->max, api_min, api_max);
            /* the defaults themselves are in range */
            CHECK_MSG(mend_param_check(&ui, d, NULL) == MEND_OK && mend_param_check(&api, d, NULL) == MEND_OK,
                      "%s: a default out of its own range", d->name);
        }
    }
    cJSON_Delete(table);
}

/* The CLI's --help shows every flag with the table's UI default. */
TEST(cli_help_shows_the_defaults)
{
    char *out = NULL;
    CHECK(test_run_mend("inpaint --help", &out) == 0 && out);
    mend_gen_params ui;
    mend_gen_params_default(&ui);
    for (int i = 0; out && i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!d->cli_flag)
            continue;
        char flag[80], def[80], want[100];
        snprintf(flag, sizeof flag, "  --%s ", d->cli_flag);
        mend_param_format(&ui, d, def, sizeof def);
        snprintf(want, sizeof want, d->type == MEND_PARAM_STRING ? "('%s')" : "(%s)", def);
        const char *line = strstr(out, flag);
        const char *end = line ? strchr(line, '\n') : NULL;
        const char *at = line ? strstr(line, want) : NULL;
        CHECK_MSG(line && at && at < end, "--help: '%s' line with '%s'", flag, want);
    }
    free(out);
}

/* The options the server starts with are the table's API defaults. */
TEST(api_options_are_the_defaults)
{
    int status;
    char *text = http_body("GET", "/sdapi/v1/options", NULL, &status);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    CHECK(status == 200 && o);
    mend_gen_params api;
    mend_gen_params_api_default(&api);
    for (int i = 0; o && i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!(d->flags & (MEND_PARAM_SETTING | MEND_PARAM_ALSO_SETTING)))
            continue;
        const cJSON *v = cJSON_GetObjectItem(o, d->api_key);
        int ok = d->type == MEND_PARAM_CHOICE && (d->flags & MEND_PARAM_API_NAME)
                     ? cJSON_IsString(v) && !strcmp(v->valuestring, mend_param_get_label(&api, d))
                     : json_default_is(v, d, &api);
        CHECK_MSG(ok, "option %s: not the table's API default", d->api_key);
    }
    cJSON_Delete(o);
    free(text);
}

/* Both ends of the API range accepted, one step past each refused with the
 * same message by the library, the CLI and the API (the page's JSON gives
 * both ranges: checked in table_json_matches_the_library). */
TEST(range_ends_everywhere)
{
    int walked = 0;
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (d->type == MEND_PARAM_STRING)
            continue;
        walked++;
        double min, max;
        mend_param_api_range(d, &min, &max);
        double ends[2] = {min, max}, past[2] = {min - d->step, max + d->step};
        for (int k = 0; k < 2; k++) {
            mend_gen_params p;
            mend_gen_params_default(&p);
            mend_err err = {0};
            CHECK_MSG(mend_param_set_number(&p, d, ends[k], &err) == MEND_OK, "%s: end %g: %s", d->name, ends[k],
                      err.msg);
            CHECK_MSG(mend_param_set_number(&p, d, past[k], &err) == MEND_E_ARG && strstr(err.msg, d->name),
                      "%s: %g accepted", d->name, past[k]);
            check_cli(d, ends[k], NULL);
            check_cli(d, past[k], err.msg);
            check_api(d, ends[k], NULL);
            check_api(d, past[k], err.msg);
        }
    }
    CHECK(walked >= 20);
}

/* ---- infotext: written and read back through the table's keys -------------- */

TEST(infotext_round_trip)
{
    mend_gen_params p, back;
    mend_gen_params_default(&p);
    p.prompt = "a cat, (red:1.2)";
    p.negative_prompt = "blurry";
    p.steps = 33;
    p.cfg_scale = 7.5f;
    p.width = 640;
    p.height = 384;
    p.subseed_strength = 0.25f;
    p.denoising_strength = 0.6f;
    p.clip_skip = 2;
    p.rng = MEND_RNG_SOURCE_CPU;
    p.inpainting_mask_invert = 1;
    p.mask_blur_x = p.mask_blur_y = 9;
    p.inpaint_full_res = 1;
    p.inpaint_full_res_padding = 48;
    p.inpainting_fill = MEND_FILL_LATENT_NOISE;
    p.initial_noise_multiplier = 0.9f;
    p.inpainting_mask_weight = 0.5f;
    mend_infotext_ctx c = {&p, "Euler a", "Karras", 1234, 99, "model", NULL, 1, 1, 1, 1, 1, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL};
    char *text = mend_infotext_build(&c);
    CHECK(text != NULL);
    mend_gen_params_default(&back);
    char *storage = NULL;
    mend_err err = {0};
    CHECK_OK(mend_params_from_infotext(text, &back, NULL, NULL, &storage, &err), &err);
    CHECK_MSG(!strcmp(back.prompt, p.prompt) && !strcmp(back.negative_prompt, "blurry"), "%s", text);
    CHECK(!strcmp(back.sampler_name, "Euler a") && !strcmp(back.scheduler, "Karras"));
    CHECK(back.seed == 1234 && back.subseed == 99 && back.subseed_strength == 0.25f);
    CHECK(back.steps == 33 && back.cfg_scale == 7.5f && back.width == 640 && back.height == 384);
    CHECK(back.denoising_strength == 0.6f && back.clip_skip == 2 && back.rng == MEND_RNG_SOURCE_CPU);
    CHECK(back.inpainting_mask_invert == 1 && back.mask_blur_x == 9 && back.mask_blur_y == 9);
    CHECK(back.inpaint_full_res == 1 && back.inpaint_full_res_padding == 48);
    CHECK(back.inpainting_fill == MEND_FILL_LATENT_NOISE && back.initial_noise_multiplier == 0.9f);
    CHECK(back.inpainting_mask_weight == 0.5f);
    free(storage);
    /* a value the table refuses names the key and the parameter */
    mend_gen_params_default(&back);
    CHECK(mend_params_from_infotext("x\nSteps: 10001, Sampler: Euler", &back, NULL, NULL, &storage, &err) == MEND_E_ARG &&
          strstr(err.msg, "infotext 'Steps'") && strstr(err.msg, "parameter 'steps': 10001 is out of range 1..10000"));
    free(storage);
    free(text);
}

/* The API's `infotext` field goes through the same table. */
TEST(api_infotext_field)
{
    int status;
    char *out = http_body("POST", "/sdapi/v1/txt2img", "{\"infotext\": \"a cat\\nSteps: 10001, Sampler: Euler\"}", &status);
    CHECK_MSG(status == 422 && out && strstr(out, "parameter 'steps': 10001 is out of range 1..10000"), "%d %s", status,
              out ? out : "");
    free(out);
    /* the request's own field wins over the infotext's */
    out = http_body("POST", "/sdapi/v1/txt2img", "{\"infotext\": \"a cat\\nSteps: 10001\", \"steps\": 20}", &status);
    CHECK_MSG(status == 503 && out && !strstr(out, "parameter '"), "%d %s", status, out ? out : "");
    free(out);
}

/* ---- the sampler registry ------------------------------------------------- */

TEST(sampler_registry)
{
    const char *sa, *sc;
    mend_err err = {0};
    CHECK_OK(mend_sampler_resolve("DPM++ 2M Karras", NULL, &sa, &sc, &err), &err);
    CHECK(!strcmp(sa, "DPM++ 2M") && !strcmp(sc, "Karras"));
    CHECK_OK(mend_sampler_resolve("k_euler_a", "sgm_uniform", &sa, &sc, &err), &err);
    CHECK(!strcmp(sa, "Euler a") && !strcmp(sc, "SGM Uniform"));
    CHECK_OK(mend_sampler_resolve("Euler SGMUniform", "Karras", &sa, &sc, &err), &err);
    CHECK(!strcmp(sa, "Euler") && !strcmp(sc, "SGM Uniform")); /* the suffix wins, as in A1111 */
    CHECK(mend_sampler_resolve("Euler z", NULL, &sa, &sc, &err) == MEND_E_ARG && strstr(err.msg, "'Euler z'"));
    CHECK(mend_sampler_resolve("Euler", "Wavy", &sa, &sc, &err) == MEND_E_ARG && strstr(err.msg, "'Wavy'"));
    /* every registered name resolves to itself; the API lists the same ones, --help too */
    int status;
    char *text = http_body("GET", "/sdapi/v1/samplers", NULL, &status), *help = NULL;
    cJSON *list = text ? cJSON_Parse(text) : NULL;
    CHECK(status == 200 && cJSON_GetArraySize(list) == mend_samplers_count());
    CHECK(test_run_mend("txt2img --help", &help) == 0 && help);
    for (int i = 0; i < mend_samplers_count(); i++) {
        mend_sampler_entry e = mend_samplers_at(i);
        CHECK_MSG(mend_sampler_resolve(e.name, NULL, &sa, &sc, &err) == MEND_OK && !strcmp(sa, e.name), "%s", e.name);
        const cJSON *n = cJSON_GetObjectItem(cJSON_GetArrayItem(list, i), "name");
        CHECK_MSG(cJSON_IsString(n) && !strcmp(n->valuestring, e.name), "/sdapi/v1/samplers[%d]", i);
        CHECK_MSG(help && strstr(help, e.name), "--help lacks %s", e.name);
    }
    for (int i = 0; i < mend_schedulers_count(); i++) {
        mend_scheduler_entry e = mend_schedulers_at(i);
        CHECK_MSG(mend_sampler_resolve("Euler", e.label, &sa, &sc, &err) == MEND_OK && !strcmp(sc, e.label), "%s",
                  e.label);
        CHECK_MSG(help && strstr(help, e.label), "--help lacks %s", e.label);
    }
    cJSON_Delete(list);
    free(text);
    free(help);
}

/* The one model-name rule. */
TEST(model_name_rule)
{
    const char *cases[][2] = {{"/m/sd-v1-5-inpainting.safetensors", "sd-v1-5-inpainting"},
                              {"model.v2.ckpt", "model.v2"},
                              {"/models/diffusers-sd1.5/", "diffusers-sd1.5"},
                              {"a.pth", "a"},
                              {"/x/.safetensors", ".safetensors"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *n = mend_model_name(cases[i][0]);
        CHECK_MSG(n && !strcmp(n, cases[i][1]), "%s -> %s", cases[i][0], n ? n : "(null)");
        free(n);
    }
}

/* ---- API defaults in a real job's `parameters` ---------------------------- */

TEST(api_echo_has_the_defaults)
{
    mend_image init, mask;
    test_make_gradient(&init, 64, 64);
    test_make_square_mask(&mask, 64, 64);
    char *i64 = png_b64(&init, 0), *m64 = png_b64(&mask, 0);
    mend_image_free(&init);
    mend_image_free(&mask);
    size_t n = (i64 ? strlen(i64) : 0) + (m64 ? strlen(m64) : 0) + 256;
    char *body = malloc(n);
    CHECK(i64 && m64 && body);
    if (!i64 || !m64 || !body) {
        free(i64), free(m64), free(body);
        return;
    }
    snprintf(body, n, "{\"init_images\": [\"%s\"], \"mask\": \"%s\", \"steps\": 1, \"width\": 64, \"height\": 64}",
             i64, m64);
    int status;
    char *text = http_body("POST", "/sdapi/v1/img2img", body, &status);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    const cJSON *params = cJSON_GetObjectItem(o, "parameters");
    CHECK_MSG(status == 200 && params, "img2img: %d %.300s", status, text ? text : "");
    mend_gen_params api;
    mend_gen_params_api_default(&api);
    int compared = 0;
    for (int i = 0; params && i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!d->api_key || (d->flags & (MEND_PARAM_SETTING | MEND_PARAM_API_CUSTOM)) ||
            !mend_param_scope_applies(d->scope, 1, 1) || !strcmp(d->name, "steps") ||
            !strcmp(d->name, "width") || !strcmp(d->name, "height"))
            continue;
        const cJSON *v = cJSON_GetObjectItem(params, d->api_key);
        int ok = (d->flags & MEND_PARAM_API_NULL) ? cJSON_IsNull(v)
                 : d->type == MEND_PARAM_BOOL && (d->flags & MEND_PARAM_API_INT)
                     ? cJSON_IsNumber(v) && v->valuedouble == mend_param_get_number(&api, d)
                     : json_default_is(v, d, &api);
        CHECK_MSG(ok, "parameters.%s is not the table's API default", d->api_key);
        compared++;
    }
    CHECK(!params || compared >= 15);
    cJSON_Delete(o);
    free(text);
    free(body);
    free(i64);
    free(m64);
}

/* The bytes one table row describes: its field (two ints for a BOTH_AXES
 * row such as mask_blur, which sets mask_blur_x and mask_blur_y). */
static size_t row_field_size(const mend_param_desc *d)
{
    switch (d->type) {
    case MEND_PARAM_INT64:
        return sizeof(int64_t);
    case MEND_PARAM_FLOAT:
        return sizeof(float);
    case MEND_PARAM_STRING:
        return sizeof(const char *);
    default: /* INT, BOOL, CHOICE (enums included) */
        return (d->flags & MEND_PARAM_BOTH_AXES ? 2 : 1) * sizeof(int);
    }
}

/* mend_gen_params is the C face of the table: every field must have its
 * row, so that nothing can be added to the struct and forgotten by the
 * CLI, the API, the infotext or the page. Each byte of the struct belongs
 * to exactly one row (BOTH_AXES shorthands aside), or is alignment padding: a gap shorter than the
 * alignment of the field after it (the scalar fields' sizes are their
 * alignments), not starting on that alignment. */
TEST(every_field_has_its_row)
{
    enum { SIZE = sizeof(mend_gen_params) };
    unsigned char owner[SIZE] = {0};
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (d->flags & MEND_PARAM_BOTH_AXES)
            continue; /* a shorthand (mask_blur) for the two rows of its fields */
        size_t n = row_field_size(d);
        CHECK_MSG(d->offset + n <= SIZE, "row '%s' lies outside mend_gen_params", d->name);
        for (size_t b = d->offset; b < d->offset + n && b < SIZE; b++) {
            CHECK_MSG(!owner[b], "row '%s' overlaps another row at byte %zu", d->name, b);
            owner[b] = 1;
        }
    }
    for (size_t b = 0; b < SIZE;) {
        if (owner[b]) {
            b++;
            continue;
        }
        size_t end = b;
        while (end < SIZE && !owner[end])
            end++;
        size_t align = end < SIZE ? 0 : _Alignof(mend_gen_params);
        for (int i = 0; !align && i < mend_param_count(); i++)
            if (mend_param_at(i)->offset == end)
                align = mend_param_at(i)->type == MEND_PARAM_INT64 ? _Alignof(int64_t)
                        : mend_param_at(i)->type == MEND_PARAM_STRING ? _Alignof(const char *)
                                                                      : _Alignof(int);
        CHECK_MSG(end - b < align && b % align != 0,
                  "bytes %zu..%zu of mend_gen_params belong to no table row: a field without its row?", b, end - 1);
        b = end;
    }
}

int main(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    mkdir(dir, 0755);
    test_current = "server";
    CHECK_MSG(start_params_server(dir, NULL), "mend serve did not start");
    if (params_sv.port > 0) {
        RUN(table_json_matches_the_library);
        RUN(api_options_are_the_defaults);
        RUN(range_ends_everywhere);
        RUN(api_infotext_field);
        RUN(sampler_registry);
    }
    RUN(every_field_has_its_row);
    RUN(infotext_round_trip);
    RUN(model_name_rule);
    RUN(cli_help_shows_the_defaults);
    stop_params_server();

    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (vocab) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "'%s' tools make-model --arch sd1 --size tiny --dtype f16 --seed 1 '%s/a.safetensors'",
                 test_mend_bin(), dir);
        CHECK(test_run(cmd, NULL) == 0);
        test_current = "server with a model";
        CHECK_MSG(start_params_server(dir, vocab), "mend serve with a model did not start");
        if (params_sv.port > 0)
            RUN(api_echo_has_the_defaults);
        stop_params_server();
    }
    return test_summary();
}
