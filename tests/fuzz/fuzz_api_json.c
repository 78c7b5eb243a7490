/* libFuzzer target: a request body as the server's JSON layer meets it —
 * parsed (Python json's error shape on failure), its fields coerced as
 * pydantic v1 does (json_req.c) and the parameter table's fields and
 * override_settings set and checked (params_api.c), then echoed back.
 * The first byte picks txt2img or img2img. No network, no model. */
#include "server/json_req.c"
#include "server/params_api.c"

#include <stdint.h>

static void coerce_every_field(const cJSON *body)
{
    static const srv_ftype types[] = {SRV_INT, SRV_INT64, SRV_FLOAT, SRV_BOOL, SRV_STR, SRV_STR_LIST, SRV_DICT,
                                      SRV_ANY};
    for (const cJSON *f = body->child; f; f = f->next) {
        for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
            union {
                long long i64;
                int i;
                double d;
                char *s;
                cJSON *j;
            } out;
            memset(&out, 0, sizeof out);
            cJSON *errors = cJSON_CreateArray();
            if (srv_coerce(f, types[t], f->string, &out, errors) && types[t] == SRV_STR)
                free(out.s); /* only strings are copies */
            cJSON_Delete(errors);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int img2img = data[0] & 1;
    srv_response r = {0};
    cJSON *body = srv_parse_body((const char *)data + 1, size - 1, 1, &r);
    free(r.body);
    if (!body)
        return 0;
    coerce_every_field(body);
    mend_gen_params p;
    mend_gen_params_default(&p);
    srv_param_state st = {0};
    srv_response resp = {0};
    cJSON *settings = cJSON_GetObjectItemCaseSensitive(body, "override_settings");
    if (!settings || srv_params_apply_settings(settings, "override_settings", &p, &st, &resp)) {
        cJSON *errors = cJSON_CreateArray();
        srv_params_read(body, img2img, &p, &st, errors);
        cJSON *echo = cJSON_CreateObject();
        srv_params_echo(echo, img2img, &p, &st);
        char *text = cJSON_PrintUnformatted(echo);
        free(text);
        cJSON_Delete(echo);
        cJSON_Delete(errors);
    }
    free(resp.body);
    srv_param_state_free(&st);
    cJSON_Delete(body);
    return 0;
}
