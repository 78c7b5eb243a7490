/* A request's override_settings as A1111's process_images applies them:
 * set in the options for the job (GET /sdapi/v1/options shows them while it
 * runs), the checkpoint the options name loaded before the job when it is
 * not the loaded one, and with override_settings_restore_afterwards (the
 * default) the previous values put back afterwards. The model is not
 * reloaded then: as in A1111, the next job loads the checkpoint the options
 * name again if it is another one, so requests that each override the same
 * checkpoint do not reload it between them. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

/* Read-only options a request cannot change. */
static int read_only(const char *key)
{
    return !strcmp(key, "sd_checkpoint_hash");
}

cJSON *srv_options_override(srv_server *s, const cJSON *ov)
{
    if (!cJSON_IsObject(ov) || !ov->child)
        return NULL;
    cJSON *stored = cJSON_CreateObject();
    if (!stored)
        return NULL;
    pthread_mutex_lock(&s->lock);
    for (const cJSON *v = ov->child; v; v = v->next) {
        cJSON *cur = cJSON_GetObjectItemCaseSensitive(s->options, v->string);
        if (!cur || read_only(v->string) || cJSON_GetObjectItemCaseSensitive(stored, v->string))
            continue; /* unknown keys were refused with the request; a repeated key keeps the first old value */
        cJSON *old = cJSON_Duplicate(cur, 1), *now = cJSON_Duplicate(v, 1);
        if (!old || !now) {
            cJSON_Delete(old);
            cJSON_Delete(now);
            continue;
        }
        cJSON_AddItemToObject(stored, v->string, old);
        cJSON_ReplaceItemInObjectCaseSensitive(s->options, v->string, now);
    }
    pthread_mutex_unlock(&s->lock);
    return stored;
}

void srv_options_restore(srv_server *s, cJSON *stored)
{
    if (!stored)
        return;
    pthread_mutex_lock(&s->lock);
    for (cJSON *v = stored->child; v; v = v->next) {
        cJSON *old = cJSON_Duplicate(v, 1);
        if (old)
            cJSON_ReplaceItemInObjectCaseSensitive(s->options, v->string, old);
    }
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(stored);
}

/* The worker's part of A1111's reload_model_weights(): the checkpoint that
 * the sd_model_checkpoint option names, when it is not the loaded one (an
 * unloaded model of the same path stays unloaded: unload-checkpoint). */
mend_status srv_ensure_model(srv_server *s, mend_err *err)
{
    pthread_mutex_lock(&s->lock);
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->options, "sd_model_checkpoint"));
    const srv_checkpoint *c = NULL;
    mend_err find_err = {0};
    char *path = NULL;
    mend_status st = MEND_OK;
    if (name && srv_models_find(&s->models, name, &c, &find_err) == MEND_OK &&
        !(s->model_path && !strcmp(s->model_path, c->filename)) && !(path = strdup(c->filename)))
        st = mend_fail(err, MEND_E_NOMEM, "out of memory");
    pthread_mutex_unlock(&s->lock);
    if (path && st == MEND_OK)
        st = srv_load_model(s, path, err);
    free(path);
    return st;
}
