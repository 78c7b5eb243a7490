/* Base64 for request and response images, and request image decoding as
 * A1111's decode_base64_to_image does it (minus URL fetching). */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

uint8_t *srv_b64_decode(const char *text, size_t len, size_t *out_len)
{
    uint8_t *out = malloc(len / 4 * 3 + 4);
    if (!out)
        return NULL;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = srv_b64_value(c);
        if (v < 0 || pad) { /* a bad character, or data after padding */
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits >= 6 || pad > 2) { /* one dangling character cannot encode a byte */
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

char *srv_b64_encode(const uint8_t *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

uint8_t *srv_image_bytes(const char *text, const char *field, size_t *n, char *msg, size_t msg_size)
{
    if (!text) {
        snprintf(msg, msg_size, "Invalid encoded image: %s is not a string", field);
        return NULL;
    }
    if (!strncmp(text, "http://", 7) || !strncmp(text, "https://", 8)) {
        snprintf(msg, msg_size, "%s: mend does not fetch image URLs; send the image as base64", field);
        return NULL;
    }
    /* data:image/png;base64,XXXX -> the part after the first ';' and then after ',' */
    if (!strncmp(text, "data:", 5)) {
        const char *semi = strchr(text, ';');
        const char *comma = semi ? strchr(semi, ',') : NULL;
        if (!comma) {
            snprintf(msg, msg_size, "Invalid encoded image: %s is a data URL without ';base64,'", field);
            return NULL;
        }
        text = comma + 1;
    }
    uint8_t *bytes = srv_b64_decode(text, strlen(text), n);
    if (!bytes || *n == 0) {
        free(bytes);
        snprintf(msg, msg_size, "Invalid encoded image: %s is not base64", field);
        return NULL;
    }
    return bytes;
}

int srv_decode_image(const char *text, const char *field, mend_image *out, char *msg, size_t msg_size)
{
    size_t n = 0;
    uint8_t *bytes = srv_image_bytes(text, field, &n, msg, msg_size);
    if (!bytes)
        return 0;
    mend_err err = {0};
    int rc = 1;
    mend_status s = mend_image_decode(bytes, n, field, out, &err); /* the pixel limit from the header first */
    free(bytes);
    if (s == MEND_E_LIMIT) {
        snprintf(msg, msg_size, "%s", err.msg);
        rc = -1;
    } else if (s != MEND_OK) {
        snprintf(msg, msg_size, "Invalid encoded image: %s", err.msg);
        rc = 0;
    }
    return rc;
}

char *srv_image_b64(const mend_image *img, const char *parameters, mend_image_format format)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    mend_err err = {0};
    if (mend_image_encode(img, format, parameters, &bytes, &n, &err) != MEND_OK)
        return NULL;
    char *b64 = srv_b64_encode(bytes, n);
    free(bytes);
    return b64;
}

char *srv_png_b64(const mend_image *img, const char *parameters)
{
    return srv_image_b64(img, parameters, MEND_FORMAT_PNG);
}

mend_image_format srv_samples_format(srv_server *s, const cJSON *override_settings)
{
    mend_image_format f = MEND_FORMAT_PNG;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(override_settings, "samples_format");
    if (cJSON_IsString(o))
        return mend_image_format_from_name(o->valuestring, &f) ? f : MEND_FORMAT_PNG;
    pthread_mutex_lock(&s->lock);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s->options, "samples_format");
    if (!cJSON_IsString(v) || !mend_image_format_from_name(v->valuestring, &f))
        f = MEND_FORMAT_PNG;
    pthread_mutex_unlock(&s->lock);
    return f;
}

mend_status srv_path_for_format(char **path, mend_image_format format, mend_err *err)
{
    char *dot = strrchr(*path, '.');
    const char *ext = mend_image_format_name(format);
    size_t stem = dot ? (size_t)(dot - *path) : strlen(*path);
    char *p = malloc(stem + strlen(ext) + 2);
    if (!p)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    snprintf(p, stem + strlen(ext) + 2, "%.*s.%s", (int)stem, *path, ext);
    free(*path);
    *path = p;
    return MEND_OK;
}
