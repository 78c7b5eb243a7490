/* The images of an img2img request: init_images (A1111's init(): several
 * are one each of the batch, so at most batch_size of them) and the mask,
 * of any size (the library follows A1111 for that). */
#include "server/server.h"

#include <stdio.h>

static int decode_one(const char *text, const char *name, mend_image *out, srv_response *resp)
{
    char msg[1200];
    int rc = srv_decode_image(text, name, out, msg, sizeof msg);
    if (rc != 1)
        srv_reply_error(resp, rc < 0 ? 413 : 400, "HTTPException", "%s", msg);
    return rc == 1;
}

int srv_decode_gen_images(const cJSON *body, int batch_size, const char *mask, srv_gen_images *g,
                          mend_gen_inputs *in, srv_response *resp)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "init_images");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n == 0) {
        srv_reply_error(resp, 404, "HTTPException", "Init image not found");
        return 0;
    }
    if (n > 1 && n > batch_size) {
        char msg[160];
        snprintf(msg, sizeof msg, "bad number of images passed: %d; expecting %d or less (batch_size)", n,
                 batch_size);
        cJSON *errors = cJSON_CreateArray();
        srv_add_field_error(errors, "init_images", msg, "value_error");
        srv_reply_validation(resp, errors);
        return 0;
    }
    for (const cJSON *v = list->child; v && g->n < SRV_MAX_INIT_IMAGES; v = v->next, g->n++) {
        char name[32];
        snprintf(name, sizeof name, "init_images[%d]", g->n);
        if (!decode_one(cJSON_GetStringValue(v), name, &g->init[g->n], resp))
            return 0;
    }
    in->init_image = &g->init[0];
    in->more_init_images = g->n > 1 ? &g->init[1] : NULL;
    in->n_more_init_images = g->n - 1;
    if (mask && mask[0]) {
        if (!decode_one(mask, "mask", &g->mask, resp))
            return 0;
        in->mask = &g->mask;
    }
    return 1;
}

void srv_gen_images_free(srv_gen_images *g)
{
    for (int i = 0; i < g->n && i < SRV_MAX_INIT_IMAGES; i++)
        mend_image_free(&g->init[i]);
    mend_image_free(&g->mask);
}
