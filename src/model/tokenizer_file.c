/* Reading a CLIP vocabulary file whole (plain or gzip), with the checks
 * that make a wrong file a clear error. */
#include "model/tokenizer_internal.h"
#include "core/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define VOCAB_MAX_BYTES ((size_t)256 << 20)

/* Reads a file whole, decompressing gzip; the buffer is NUL-terminated. */
mend_status mend_tok_read_text(const char *path, int gzipped, char **out, size_t *len, mend_err *err)
{
    if (!mend_is_file(path))
        return mend_fail(err, MEND_E_IO, "%s: cannot open CLIP vocabulary file (missing or not a regular file)",
                         path);
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return mend_fail(err, MEND_E_IO, "%s: cannot open CLIP vocabulary file", path);
    if (gzipped && gzdirect(gz)) { /* zlib would read a non-gzip file as is */
        gzclose_r(gz);
        return mend_fail(err, MEND_E_FORMAT, "%s: not a gzip file", path);
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    int got = 1;
    while (buf && got > 0) {
        if (n == cap) {
            char *nb = cap < VOCAB_MAX_BYTES ? realloc(buf, 2 * cap + 1) : NULL;
            if (!nb) {
                free(buf);
                gzclose_r(gz);
                return mend_fail(err, MEND_E_FORMAT, "%s: too large for a CLIP vocabulary", path);
            }
            buf = nb;
            cap *= 2;
        }
        got = gzread(gz, buf + n, (unsigned)(cap - n));
        if (got > 0)
            n += (size_t)got;
    }
    int zerr = Z_OK;
    const char *zmsg = buf ? gzerror(gz, &zerr) : "";
    char msg[256];
    size_t plen = strlen(path); /* zlib prefixes its message with the path */
    if (zmsg && strncmp(zmsg, path, plen) == 0 && zmsg[plen] == ':')
        zmsg += plen + (zmsg[plen + 1] == ' ' ? 2 : 1);
    snprintf(msg, sizeof msg, "%s", zmsg ? zmsg : "");
    int close_status = gzclose_r(gz);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading the vocabulary", path);
    if (got < 0 || (zerr != Z_OK && zerr != Z_STREAM_END) || close_status != Z_OK) {
        free(buf);
        return mend_fail(err, MEND_E_FORMAT, "%s: corrupt or truncated %s (%s)", path, gzipped ? "gzip file" : "file",
                         msg[0] ? msg : "read error");
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        return mend_fail(err, MEND_E_FORMAT, "%s: contains NUL bytes; not a CLIP vocabulary", path);
    }
    *out = buf;
    *len = n;
    return MEND_OK;
}
