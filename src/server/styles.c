/* GET /sdapi/v1/prompt-styles and the `styles` request field: A1111's
 * styles.csv (--styles-file, repeatable and with wildcards, default
 * styles.csv in the working directory, as A1111 reads it from its own),
 * read with the library's reader (include/mend/styles.h) each time, so an
 * edited file counts at once. */
#include "server/server.h"

#include "mend/styles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mend_status srv_styles_load(const srv_server *s, mend_styles *db, mend_err *err)
{
    static const char *const default_file[] = {"styles.csv"};
    if (!s->n_styles_files)
        return mend_styles_load_files(default_file, 1, db, err);
    return mend_styles_load_files(s->styles_files, s->n_styles_files, db, err);
}

void h_prompt_styles(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    mend_styles db;
    mend_err err = {0};
    if (srv_styles_load(s, &db, &err) != MEND_OK) /* A1111 logs the error and lists none */
        fprintf(stderr, "mend serve: %s\n", err.msg);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < db.count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", db.items[i].name);
        /* the divider rows between several files have no texts: A1111's None */
        int div = db.items[i].divider;
        cJSON_AddItemToObject(o, "prompt", div ? cJSON_CreateNull() : cJSON_CreateString(db.items[i].prompt));
        cJSON_AddItemToObject(o, "negative_prompt",
                              div ? cJSON_CreateNull() : cJSON_CreateString(db.items[i].negative_prompt));
        cJSON_AddItemToArray(a, o);
    }
    mend_styles_free(&db);
    srv_reply_json(r, 200, a);
}

mend_status srv_apply_styles(const srv_server *s, const cJSON *names, const char *prompt, const char *negative,
                             char **prompt_out, char **negative_out, mend_err *err)
{
    *prompt_out = *negative_out = NULL;
    int n = cJSON_IsArray(names) ? cJSON_GetArraySize(names) : 0;
    if (n == 0)
        return MEND_OK;
    const char **list = calloc((size_t)n, sizeof *list);
    if (!list)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    int k = 0;
    for (const cJSON *v = names->child; v; v = v->next)
        list[k++] = cJSON_IsString(v) ? v->valuestring : ""; /* the field's coercion made them strings */
    mend_styles db;
    mend_status st = srv_styles_load(s, &db, err);
    if (st == MEND_OK)
        st = mend_styles_apply(&db, list, n, prompt, negative, prompt_out, negative_out, err);
    mend_styles_free(&db);
    free(list);
    return st;
}
