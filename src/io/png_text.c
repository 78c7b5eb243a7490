#include "io/png_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Latin-1 bytes -> NUL-terminated UTF-8 (each byte >= 0x80 takes two). */
static char *latin1_to_utf8(const uint8_t *s, size_t n)
{
    char *out = malloc(2 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            *o++ = (char)s[i];
        } else {
            *o++ = (char)(0xc0 | s[i] >> 6);
            *o++ = (char)(0x80 | (s[i] & 0x3f));
        }
    }
    *o = '\0';
    return out;
}

/* Strict UTF-8 check (no overlongs, no surrogates, <= U+10FFFF), as
 * Python's bytes.decode("utf-8", "strict"). */
static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static char *copy_bytes(const uint8_t *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* Inflates a complete zlib stream of at most MEND_PNG_TEXT_MAX_INFLATED bytes. */
static mend_status inflate_text(const uint8_t *src, size_t n, const char *what, uint8_t **out, size_t *out_len,
                                mend_err *err)
{
    z_stream z = {0};
    if (inflateInit(&z) != Z_OK)
        return mend_fail(err, MEND_E_NOMEM, "%s: cannot start zlib", what);
    size_t cap = n < MEND_PNG_TEXT_MAX_INFLATED / 4 ? n * 4 + 64 : MEND_PNG_TEXT_MAX_INFLATED, len = 0;
    uint8_t *buf = malloc(cap);
    int zs = Z_OK;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    while (buf && zs == Z_OK) {
        if (len == cap) {
            if (cap >= MEND_PNG_TEXT_MAX_INFLATED)
                break;
            cap = cap * 2 > MEND_PNG_TEXT_MAX_INFLATED ? MEND_PNG_TEXT_MAX_INFLATED : cap * 2;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
        }
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        zs = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (zs == Z_BUF_ERROR && z.avail_out != 0)
            break; /* no progress possible: the input ended early */
        if (zs == Z_BUF_ERROR)
            zs = Z_OK;
    }
    const char *zmsg = z.msg;
    inflateEnd(&z);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory inflating text", what);
    if (zs != Z_STREAM_END) {
        free(buf);
        if (len == cap && cap >= MEND_PNG_TEXT_MAX_INFLATED)
            return mend_fail(err, MEND_E_FORMAT, "%s: compressed text inflates to more than %zu bytes", what,
                             MEND_PNG_TEXT_MAX_INFLATED);
        return mend_fail(err, MEND_E_FORMAT, "%s: compressed text is not a valid zlib stream (%s)", what,
                         zmsg ? zmsg : zs == Z_BUF_ERROR || zs == Z_OK ? "truncated" : "corrupt");
    }
    *out = buf;
    *out_len = len;
    return MEND_OK;
}

static mend_status push(mend_png_text_list *l, const char *type, char *key, char *text, mend_err *err)
{
    mend_png_text_chunk *grown = key && text ? realloc(l->items, (size_t)(l->count + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(key);
        free(text);
        return mend_fail(err, MEND_E_NOMEM, "out of memory reading PNG text");
    }
    l->items = grown;
    mend_png_text_chunk *c = &l->items[l->count++];
    memcpy(c->type, type, 5);
    c->key = key;
    c->text = text;
    return MEND_OK;
}

/* Splits data at its first NUL: key = [0, nul), rest after it. Returns 0
 * when there is no NUL. */
static int split_nul(const uint8_t *d, size_t n, size_t *nul)
{
    const uint8_t *p = memchr(d, 0, n);
    if (!p)
        return 0;
    *nul = (size_t)(p - d);
    return 1;
}

static mend_status read_text_chunk(const uint8_t *d, size_t n, mend_png_text_list *l, mend_err *err)
{
    size_t k;
    if (!split_nul(d, n, &k))
        k = n; /* Pillow: the whole chunk is the keyword, the text is empty */
    if (k == 0)
        return MEND_OK;
    size_t rest = k < n ? k + 1 : n;
    return push(l, "tEXt", latin1_to_utf8(d, k), latin1_to_utf8(d + rest, n - rest), err);
}

static mend_status read_ztxt_chunk(const uint8_t *d, size_t n, const char *where, mend_png_text_list *l,
                                   mend_err *err)
{
    size_t k;
    int has_nul = split_nul(d, n, &k);
    if (!has_nul)
        k = n;
    if (k == 0)
        return MEND_OK;
    if (!has_nul || k + 1 == n) /* no method byte, no data: an empty text */
        return push(l, "zTXt", latin1_to_utf8(d, k), latin1_to_utf8(d, 0), err);
    if (d[k + 1] != 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: unknown compression method %d", where, d[k + 1]);
    uint8_t *raw;
    size_t raw_len;
    MEND_TRY(inflate_text(d + k + 2, n - k - 2, where, &raw, &raw_len, err));
    char *text = latin1_to_utf8(raw, raw_len);
    free(raw);
    return push(l, "zTXt", latin1_to_utf8(d, k), text, err);
}

/* keyword NUL compressed method language NUL translated-keyword NUL text */
static mend_status read_itxt_chunk(const uint8_t *d, size_t n, const char *where, mend_png_text_list *l,
                                   mend_err *err)
{
    size_t k, lang, tkey;
    if (!split_nul(d, n, &k) || k == 0 || n - k - 1 < 2)
        return MEND_OK;
    int compressed = d[k + 1], method = d[k + 2];
    const uint8_t *p = d + k + 3;
    size_t left = n - k - 3;
    if (!split_nul(p, left, &lang) || !split_nul(p + lang + 1, left - lang - 1, &tkey))
        return MEND_OK;
    const uint8_t *text = p + lang + 1 + tkey + 1;
    size_t text_len = left - lang - 1 - tkey - 1;
    if (!valid_utf8(d, k) || !valid_utf8(p, lang) || !valid_utf8(p + lang + 1, tkey) || (compressed && method != 0))
        return MEND_OK;
    uint8_t *raw = NULL;
    if (compressed) {
        MEND_TRY(inflate_text(text, text_len, where, &raw, &text_len, err));
        text = raw;
    }
    mend_status s = MEND_OK;
    if (valid_utf8(text, text_len)) /* otherwise skipped, like Pillow */
        s = push(l, "iTXt", copy_bytes(d, k), copy_bytes(text, text_len), err);
    free(raw);
    return s;
}

static mend_status walk_chunks(const uint8_t *buf, size_t len, const char *name, int crc_mode,
                               mend_png_text_list *l, mend_err *err)
{
    if (len < 8 || memcmp(buf, png_signature, 8) != 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: not a PNG file (no PNG signature)", name);
    size_t pos = 8;
    for (;;) {
        if (len - pos < 12)
            return mend_fail(err, MEND_E_FORMAT, "%s: truncated PNG: no IEND chunk (data ends at byte %zu)", name,
                             len);
        uint32_t n = be32(buf + pos);
        const uint8_t *type = buf + pos + 4, *data = buf + pos + 8;
        char tname[5] = {0}, where[128];
        for (int i = 0; i < 4; i++)
            tname[i] = (type[i] >= 0x20 && type[i] < 0x7f) ? (char)type[i] : '?';
        snprintf(where, sizeof where, "%.80s: %s chunk at byte %zu", name, tname, pos);
        if (n > 0x7fffffffu)
            return mend_fail(err, MEND_E_FORMAT, "%s: length %u exceeds the PNG limit", where, n);
        if ((size_t)n > len - pos - 12)
            return mend_fail(err, MEND_E_FORMAT, "%s: truncated PNG: the chunk needs %u bytes, %zu remain", where,
                             n + 12, len - pos);
        if (crc_mode == MEND_PNG_CRC_CHECK) {
            uint32_t want = be32(data + n);
            uint32_t got = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, n + 4u);
            if (want != got)
                return mend_fail(err, MEND_E_FORMAT, "%s: CRC mismatch (stored %08x, computed %08x)", where, want,
                                 got);
        }
        mend_status s = MEND_OK;
        if (!memcmp(type, "tEXt", 4))
            s = read_text_chunk(data, n, l, err);
        else if (!memcmp(type, "zTXt", 4))
            s = read_ztxt_chunk(data, n, where, l, err);
        else if (!memcmp(type, "iTXt", 4))
            s = read_itxt_chunk(data, n, where, l, err);
        else if (!memcmp(type, "IEND", 4))
            return MEND_OK;
        MEND_TRY(s);
        pos += (size_t)n + 12;
    }
}

mend_status mend_png_text_read_buffer(const void *buf, size_t len, const char *name, int crc_mode,
                                      mend_png_text_list *out, mend_err *err)
{
    out->count = 0;
    out->items = NULL;
    mend_status s = walk_chunks(buf, len, name ? name : "PNG data", crc_mode, out, err);
    if (s != MEND_OK)
        mend_png_text_list_free(out);
    return s;
}

mend_status mend_png_text_read_file(const char *path, int crc_mode, mend_png_text_list *out, mend_err *err)
{
    const size_t max_bytes = (size_t)1 << 30;
    out->count = 0;
    out->items = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mend_fail(err, MEND_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return mend_fail(err, MEND_E_IO, "%s: not a regular file of at most 1 GiB", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading %zu bytes", path, n);
    mend_status s = got == n && !failed ? mend_png_text_read_buffer(buf, n, path, crc_mode, out, err)
                                        : mend_fail(err, MEND_E_IO, "%s: read error", path);
    free(buf);
    return s;
}

const char *mend_png_text_get(const mend_png_text_list *l, const char *key)
{
    for (int i = l->count - 1; i >= 0; i--)
        if (!strcmp(l->items[i].key, key))
            return l->items[i].text;
    return NULL;
}

void mend_png_text_list_free(mend_png_text_list *l)
{
    for (int i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].text);
    }
    free(l->items);
    l->items = NULL;
    l->count = 0;
}
