/* GET /sdapi/v1/loras and POST /sdapi/v1/refresh-loras: the LoRA folder
 * (--lora-dir) as A1111's Lora extension lists it, [{name, alias, path,
 * metadata}]. mend reads the folder on every listing and every job, so a
 * refresh has nothing to reload; it answers as A1111's does (null). */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

/* A1111's read_metadata_from_safetensors: string values that start with
 * '{' and parse as JSON are given as the parsed object. */
static cJSON *metadata_object(const char *text)
{
    cJSON *m = cJSON_Parse(text);
    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return cJSON_CreateObject();
    }
    for (cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v) || v->valuestring[0] != '{')
            continue;
        cJSON *parsed = cJSON_Parse(v->valuestring);
        if (parsed)
            cJSON_ReplaceItemViaPointer(m, v, parsed), v = parsed;
    }
    return m;
}

void h_loras(srv_response *r)
{
    mend_lora_info *list = NULL;
    int count = 0;
    mend_err err = {0};
    if (mend_lora_list(mend_lora_dir(), &list, &count, &err) != MEND_OK) {
        srv_reply_error(r, 500, "OSError", "%s", err.msg);
        return;
    }
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", list[i].name);
        cJSON_AddStringToObject(o, "alias", list[i].alias);
        cJSON_AddStringToObject(o, "path", list[i].path);
        cJSON_AddItemToObject(o, "metadata", metadata_object(list[i].metadata));
        cJSON_AddItemToArray(a, o);
    }
    mend_lora_list_free(list, count);
    srv_reply_json(r, 200, a);
}

void h_refresh_loras(srv_response *r)
{
    srv_reply_json(r, 200, cJSON_CreateNull());
}
