/* A request's `infotext` field as A1111 1.10's Api.apply_infotext uses it:
 * parse_generation_parameters of the text (with the defaults it fills in),
 * then every paste field with an API name that the request does not give
 * itself, and the settings the infotext names (Clip skip, RNG, ENSD, ...)
 * unless override_settings names them; those join the job's
 * override_settings (shown in the options while it runs, kept with
 * override_settings_restore_afterwards false).
 *
 * Which fields are pasted is A1111's UI structure: the txt2img tab's paste
 * fields carry API names (prompt, negative prompt, CFG scale, size, batch
 * size, denoising strength); the img2img tab's are plain (component, label)
 * pairs without one, so on img2img only the sampler and seed scripts'
 * fields (steps, sampler, schedule type, seed, variation seed and strength)
 * come from the infotext. The parameters themselves and their infotext keys
 * are the table's (include/mend/params.h). */
#include "server/params_api.h"

#include <stdlib.h>
#include <string.h>

static const char *const pasted_both[] = {"steps", "sampler_name", "scheduler", "seed", "subseed",
                                          "subseed_strength"};
static const char *const pasted_txt2img[] = {"prompt", "negative_prompt", "cfg_scale", "width", "height",
                                             "batch_size", "denoising_strength"};

/* parse_generation_parameters' defaults for keys the text lacks that are
 * settings here: get_override_settings then applies them. */
static const char *const parse_defaults[][2] = {{"Clip skip", "1"}, {"RNG", "GPU"}};

typedef struct keep_ctx {
    const cJSON *body, *ov;
    int img2img;
} keep_ctx;

static int listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name, list[i]))
            return 1;
    return 0;
}

static int given(const cJSON *o, const char *key)
{
    const cJSON *v = key && cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return v && !cJSON_IsNull(v);
}

/* mend_param_keep_fn: nonzero for the parameters the infotext leaves alone. */
static int keeps(void *user, const mend_param_desc *d)
{
    const keep_ctx *k = user;
    if (d->flags & MEND_PARAM_SETTING)
        return given(k->ov, d->api_key);
    if ((d->flags & MEND_PARAM_ALSO_SETTING) && given(k->ov, d->api_key))
        return 1;
    int pasted = listed(d->name, pasted_both, sizeof pasted_both / sizeof *pasted_both) ||
                 (!k->img2img && listed(d->name, pasted_txt2img, sizeof pasted_txt2img / sizeof *pasted_txt2img)) ||
                 (d->flags & MEND_PARAM_ALSO_SETTING);
    return !pasted || given(k->body, d->api_key);
}

static const mend_param_desc *by_infotext_key(const char *key)
{
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (d->infotext_key && !strcmp(d->infotext_key, key))
            return d;
    }
    return NULL;
}

static void reply_infotext_error(srv_response *resp, const char *msg)
{
    cJSON *errors = cJSON_CreateArray();
    srv_add_field_error(errors, "infotext", msg, "value_error");
    srv_reply_validation(resp, errors);
}

static int is_setting(const mend_param_desc *d)
{
    return d->infotext_key && (d->flags & (MEND_PARAM_SETTING | MEND_PARAM_ALSO_SETTING));
}

/* The settings whose values the infotext changed, as options. */
static cJSON *changed_settings(const mend_gen_params *before, const mend_gen_params *after)
{
    cJSON *o = NULL;
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!is_setting(d) || mend_param_get_number(before, d) == mend_param_get_number(after, d))
            continue;
        if (!o && !(o = cJSON_CreateObject()))
            return NULL;
        cJSON_AddItemToObject(o, d->api_key, srv_param_json(d, after));
    }
    return o;
}

/* Keeps text alive while p points into it: 0 (text freed) when no slot is left. */
static int own(srv_param_state *st, char *text)
{
    if (st->nowned == (int)(sizeof st->owned / sizeof *st->owned)) {
        free(text);
        return 0;
    }
    st->owned[st->nowned++] = text;
    return 1;
}

/* parse_generation_parameters with infotext_styles "Apply if any": the
 * styles found in the text's prompts come off them; txt2img pastes the
 * prompts without them and the styles as `styles` where the request gives
 * none (img2img pastes neither). Best effort: a styles file that cannot be
 * read, or a text that does not parse on its own, pastes none. */
static int paste_styles(const srv_server *s, const char *text, const keep_ctx *k, mend_gen_params *p,
                        srv_param_state *st, srv_infotext_names *names)
{
    if (k->img2img)
        return 1;
    mend_gen_params all;
    mend_gen_params_api_default(&all);
    char *storage = NULL, *sp = NULL, *sn = NULL;
    const char **found = NULL;
    int n = 0, ok = 1;
    mend_err err = {0};
    mend_styles db = {0};
    if (mend_params_from_infotext(text, &all, NULL, NULL, &storage, &err) == MEND_OK &&
        srv_styles_load(s, &db, &err) == MEND_OK && db.count &&
        mend_styles_extract(&db, all.prompt, all.negative_prompt, &found, &n, &sp, &sn, &err) == MEND_OK && n) {
        if (!given(k->body, "prompt")) {
            if ((ok = own(st, sp)))
                p->prompt = sp;
            sp = NULL; /* owned or freed */
        }
        if (ok && !given(k->body, "negative_prompt")) {
            if ((ok = own(st, sn)))
                p->negative_prompt = sn;
            sn = NULL;
        }
        if (ok && !given(k->body, "styles"))
            names->styles = cJSON_CreateStringArray(found, n);
    }
    free(sp), free(sn), free(found), free(storage);
    mend_styles_free(&db);
    return ok;
}

int srv_apply_infotext(const srv_server *srv, const cJSON *body, int img2img, mend_gen_params *p, srv_param_state *st,
                       srv_infotext_names *names, srv_response *resp)
{
    names->settings = names->styles = NULL;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(body, "infotext");
    names->sampler = names->scheduler = NULL;
    if (!cJSON_IsString(it) || !it->valuestring[0])
        return 1;
    keep_ctx k = {body, cJSON_GetObjectItemCaseSensitive(body, "override_settings"), img2img};
    mend_err err = {0};
    mend_gen_params before = *p;
    for (size_t i = 0; i < sizeof parse_defaults / sizeof *parse_defaults; i++) {
        const mend_param_desc *d = by_infotext_key(parse_defaults[i][0]);
        if (d && !keeps(&k, d) && mend_param_set_text(p, d, parse_defaults[i][1], &err) != MEND_OK) {
            srv_reply_error(resp, 500, "RuntimeError", "infotext default: %s", err.msg);
            return 0;
        }
    }
    const char *sampler = p->sampler_name, *scheduler = p->scheduler;
    char *storage = NULL;
    mend_status s = mend_params_from_infotext(it->valuestring, p, keeps, &k, &storage, &err);
    if (storage && st->nowned == (int)(sizeof st->owned / sizeof *st->owned)) {
        free(storage); /* no slot left to keep it alive while p points into it */
        srv_reply_error(resp, 500, "RuntimeError", "infotext: too many strings in the request");
        return 0;
    }
    if (storage)
        st->owned[st->nowned++] = storage;
    if (s != MEND_OK) {
        reply_infotext_error(resp, err.msg);
        return 0;
    }
    /* get_sampler_from_infotext / get_scheduler_from_infotext: A1111's
     * first sampler and Automatic when the text names none */
    names->sampler = p->sampler_name != sampler ? p->sampler_name : "DPM++ 2M";
    names->scheduler = p->scheduler != scheduler ? p->scheduler : "Automatic";
    names->settings = changed_settings(&before, p);
    if (!paste_styles(srv, it->valuestring, &k, p, st, names)) {
        srv_reply_error(resp, 500, "RuntimeError", "infotext: too many strings in the request");
        return 0;
    }
    return 1;
}
