/* HTTP Basic auth for --api-auth "user:pass[,user2:pass2]". The header is
 * decoded here, strictly and with its exact length, rather than through
 * libmicrohttpd's helper, which hands back C strings: a password "pass\0junk"
 * would compare as "pass". Every configured credential is compared, each in
 * time that depends only on the lengths, so the answer's timing does not
 * tell how many leading bytes were right. */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The standard alphabet only: no URL-safe digits in a Basic header. */
static int b64_value(unsigned char c)
{
    return c == '-' || c == '_' ? -1 : srv_b64_value(c);
}

/* Strict base64 (RFC 4648 with padding, no whitespace). Returns the decoded
 * length, or -1 when the text is not exactly that. out holds len/4*3. */
static long b64_strict(const char *t, size_t len, unsigned char *out)
{
    if (len == 0 || len % 4)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            int last_group = i + 4 == len;
            if (t[i + k] == '=' && last_group && k >= 2 && (k == 3 || t[i + 3] == '=')) {
                v[k] = 0;
                pad++;
            } else if ((v[k] = b64_value((unsigned char)t[i + k])) < 0 || pad) {
                return -1;
            }
        }
        unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[n++] = (unsigned char)(bits >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(bits >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)bits;
    }
    return (long)n;
}

/* 0 when equal; time depends on the longer length only. */
static unsigned ct_differs(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    size_t n = al > bl ? al : bl;
    unsigned d = al != bl;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = i < al ? a[i] : 0, y = i < bl ? b[i] : 0;
        d |= (unsigned)(x ^ y);
    }
    return d;
}

int srv_auth_check(const char *creds, const char *header, size_t header_len)
{
    if (!creds)
        return 1;
    if (!header || header_len < 6 || strncasecmp(header, "Basic ", 6))
        return 0;
    const char *t = header + 6;
    size_t tl = header_len - 6;
    while (tl && *t == ' ')
        t++, tl--;
    while (tl && t[tl - 1] == ' ')
        tl--;
    if (tl > 4096)
        return 0;
    unsigned char plain[3072];
    long pl = b64_strict(t, tl, plain);
    if (pl < 0)
        return 0;
    unsigned ok = 0;
    for (const char *p = creds; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        ok |= !ct_differs((const unsigned char *)p, n, plain, (size_t)pl);
        p += n + (end ? 1 : 0);
    }
    return ok != 0;
}
