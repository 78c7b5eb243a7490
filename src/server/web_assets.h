/* The web page (the files of web/), compiled into the binary by cmake/embed_web.cmake
 * so `mend serve` can serve it without files beside the executable. */
#ifndef MEND_SERVER_WEB_ASSETS_H
#define MEND_SERVER_WEB_ASSETS_H

#include <stddef.h>

typedef struct mend_web_asset {
    const char *path;                /* file name inside web/, e.g. "app.js" */
    const unsigned char *data;       /* the bytes, followed by one NUL not counted in size */
    size_t size;
    const char *content_type;        /* e.g. "text/javascript; charset=utf-8" */
} mend_web_asset;

/* URL path -> asset: "/" and "/web/" give index.html, "/web/NAME" gives NAME.
 * A query string or fragment is ignored. NULL for anything else (no
 * directories, so no path can leave the embedded set). */
const mend_web_asset *mend_web_asset_find(const char *path);

size_t mend_web_asset_count(void);
const mend_web_asset *mend_web_asset_at(size_t i);

#endif
