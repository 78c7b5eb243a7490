/* The embedded web page (web/, see web_assets.h) at / and /web/NAME.
 * Kept apart from routes.c: the only hook there is one call to srv_static. */
#include "server/server.h"
#include "server/web_assets.h"

#include <stdlib.h>
#include <string.h>

int srv_static(const char *method, const char *url, srv_response *r)
{
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return 0;
    const mend_web_asset *a = mend_web_asset_find(url);
    if (!a)
        return 0;
    /* http.c sends bodies as C strings: the page is text only (asserted by
     * tests/test_web_assets.c), and the asset carries a trailing NUL. */
    char *body = malloc(a->size + 1);
    if (!body) {
        srv_reply_error(r, 500, "MemoryError", "out of memory serving %s", a->path);
        return 1;
    }
    memcpy(body, a->data, a->size + 1);
    r->status = 200;
    r->body = body;
    r->content_type = a->content_type;
    return 1;
}
