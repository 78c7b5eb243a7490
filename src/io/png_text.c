#include "io/png_text.h"
#include "io/exif.h"
#include "io/image_codec.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    uint32_t cp;
    for (size_t i = 0, len; i < n; i += len)
        if (!(len = (size_t)mend_utf8_decode(s + i, n - i, &cp)))
            return 0;
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

/* Appends one chunk; the array doubles so that n chunks cost O(n). The
 * total text kept is capped (MEND_PNG_TEXT_MAX_TOTAL) so that a flood of
 * chunks cannot make an answer of hundreds of megabytes. */
mend_status mend_png_text_push(mend_png_text_list *l, const char *where, const char *type, char *key, char *text,
                               mend_err *err)
{
    if (!key || !text) {
        free(key);
        free(text);
        return mend_fail(err, MEND_E_NOMEM, "out of memory reading PNG text");
    }
    size_t bytes = strlen(key) + strlen(text);
    if (bytes > MEND_PNG_TEXT_MAX_TOTAL - l->total_bytes) {
        free(key);
        free(text);
        return mend_fail(err, MEND_E_FORMAT, "%s: the PNG's text chunks hold more than %zu bytes in all (the limit)",
                         where, (size_t)MEND_PNG_TEXT_MAX_TOTAL);
    }
    if (l->count == l->capacity) {
        int cap = l->capacity ? 2 * l->capacity : 8;
        mend_png_text_chunk *grown = realloc(l->items, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(key);
            free(text);
            return mend_fail(err, MEND_E_NOMEM, "out of memory reading PNG text");
        }
        l->items = grown;
        l->capacity = cap;
    }
    mend_png_text_chunk *c = &l->items[l->count++];
    memcpy(c->type, type, 5);
    c->key = key;
    c->text = text;
    l->total_bytes += bytes;
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

static mend_status read_text_chunk(const uint8_t *d, size_t n, const char *where, mend_png_text_list *l,
                                   mend_err *err)
{
    size_t k;
    if (!split_nul(d, n, &k))
        k = n; /* Pillow: the whole chunk is the keyword, the text is empty */
    if (k == 0)
        return MEND_OK;
    size_t rest = k < n ? k + 1 : n;
    return mend_png_text_push(l, where, "tEXt", latin1_to_utf8(d, k), latin1_to_utf8(d + rest, n - rest), err);
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
        return mend_png_text_push(l, where, "zTXt", latin1_to_utf8(d, k), latin1_to_utf8(d, 0), err);
    if (d[k + 1] != 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: unknown compression method %d", where, d[k + 1]);
    uint8_t *raw;
    size_t raw_len;
    MEND_TRY(inflate_text(d + k + 2, n - k - 2, where, &raw, &raw_len, err));
    char *text = latin1_to_utf8(raw, raw_len);
    free(raw);
    return mend_png_text_push(l, where, "zTXt", latin1_to_utf8(d, k), text, err);
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
        s = mend_png_text_push(l, where, "iTXt", copy_bytes(d, k), copy_bytes(text, text_len), err);
    free(raw);
    return s;
}

/* Where the chunks come from: a buffer, or a file read chunk by chunk.
 * From a file only the text chunks are read; image data is skipped (or
 * streamed through the CRC when CRCs are checked), so png-info never holds
 * or decodes the pixels, whatever the image's size. */
typedef struct png_source {
    const uint8_t *buf; /* buffer source, or NULL */
    FILE *f;            /* file source */
    uint64_t size, pos;
    uint8_t *scratch;
    size_t cap;
} png_source;

/* The next n bytes (n <= size - pos, checked by the caller). */
static mend_status src_read(png_source *s, size_t n, const uint8_t **out, const char *where, mend_err *err)
{
    if (s->buf) {
        *out = s->buf + s->pos;
        s->pos += n;
        return MEND_OK;
    }
    if (n > s->cap) {
        uint8_t *grown = realloc(s->scratch, n);
        if (!grown)
            return mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading %zu bytes", where, n);
        s->scratch = grown;
        s->cap = n;
    }
    if (fread(s->scratch, 1, n, s->f) != n)
        return mend_fail(err, MEND_E_IO, "%s: read error", where);
    *out = s->scratch;
    s->pos += n;
    return MEND_OK;
}

/* Skips n bytes, folding them into *crc when crc is not NULL. */
static mend_status src_skip(png_source *s, uint64_t n, uint32_t *crc, const char *where, mend_err *err)
{
    if (s->buf) {
        if (crc)
            *crc = (uint32_t)crc32(*crc, s->buf + s->pos, (uInt)n);
        s->pos += n;
        return MEND_OK;
    }
    if (!crc) {
        if (fseeko(s->f, (off_t)n, SEEK_CUR) != 0)
            return mend_fail(err, MEND_E_IO, "%s: seek error", where);
        s->pos += n;
        return MEND_OK;
    }
    while (n > 0) {
        size_t piece = n < (64u << 10) ? (size_t)n : (64u << 10);
        const uint8_t *d;
        MEND_TRY(src_read(s, piece, &d, where, err));
        *crc = (uint32_t)crc32(*crc, d, (uInt)piece);
        n -= piece;
    }
    return MEND_OK;
}

static int is_text_chunk(const uint8_t type[4])
{
    return !memcmp(type, "tEXt", 4) || !memcmp(type, "zTXt", 4) || !memcmp(type, "iTXt", 4);
}

static mend_status read_text(const uint8_t type[4], const uint8_t *data, uint32_t n, const char *where,
                             mend_png_text_list *l, mend_err *err)
{
    if (!memcmp(type, "tEXt", 4))
        return read_text_chunk(data, n, where, l, err);
    if (!memcmp(type, "zTXt", 4))
        return read_ztxt_chunk(data, n, where, l, err);
    return read_itxt_chunk(data, n, where, l, err);
}

/* One chunk: its text read when it is a text chunk, its CRC checked when
 * asked. Sets *iend at the IEND chunk. */
static mend_status read_chunk(png_source *s, const char *name, int crc_mode, mend_png_text_list *l, int *iend,
                              mend_err *err)
{
    uint64_t at = s->pos;
    if (s->size - at < 12)
        return mend_fail(err, MEND_E_FORMAT, "%s: truncated PNG: no IEND chunk (data ends at byte %llu)", name,
                         (unsigned long long)s->size);
    const uint8_t *head;
    MEND_TRY(src_read(s, 8, &head, name, err));
    uint32_t n = be32(head);
    uint8_t type[4];
    memcpy(type, head + 4, 4);
    char tname[5] = {0}, where[128];
    for (int i = 0; i < 4; i++)
        tname[i] = (type[i] >= 0x20 && type[i] < 0x7f) ? (char)type[i] : '?';
    snprintf(where, sizeof where, "%.80s: %s chunk at byte %llu", name, tname, (unsigned long long)at);
    if (n > 0x7fffffffu)
        return mend_fail(err, MEND_E_FORMAT, "%s: length %u exceeds the PNG limit", where, n);
    if ((uint64_t)n + 4 > s->size - s->pos)
        return mend_fail(err, MEND_E_FORMAT, "%s: truncated PNG: the chunk needs %llu bytes, %llu remain", where,
                         (unsigned long long)n + 12, (unsigned long long)(s->size - at));
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, 4);
    const uint8_t *data = NULL, *stored;
    if (is_text_chunk(type)) {
        if (n > MEND_PNG_TEXT_MAX_INFLATED)
            return mend_fail(err, MEND_E_FORMAT, "%s: a text chunk of %u bytes exceeds the %zu-byte limit", where,
                             n, MEND_PNG_TEXT_MAX_INFLATED);
        MEND_TRY(src_read(s, (size_t)n + 4, &data, where, err));
        crc = (uint32_t)crc32(crc, data, n);
        stored = data + n;
    } else {
        MEND_TRY(src_skip(s, n, crc_mode == MEND_PNG_CRC_CHECK ? &crc : NULL, where, err));
        MEND_TRY(src_read(s, 4, &stored, where, err));
    }
    if (crc_mode == MEND_PNG_CRC_CHECK && be32(stored) != crc)
        return mend_fail(err, MEND_E_FORMAT, "%s: CRC mismatch (stored %08x, computed %08x)", where, be32(stored),
                         crc);
    *iend = !memcmp(type, "IEND", 4);
    return data ? read_text(type, data, n, where, l, err) : MEND_OK;
}

static mend_status walk_chunks(png_source *s, const char *name, int crc_mode, mend_png_text_list *l, mend_err *err)
{
    const uint8_t *sig;
    if (s->size < 8 || src_read(s, 8, &sig, name, err) != MEND_OK || memcmp(sig, png_signature, 8) != 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: not a PNG file (no PNG signature)", name);
    for (int iend = 0; !iend;)
        MEND_TRY(read_chunk(s, name, crc_mode, l, &iend, err));
    return MEND_OK;
}

static void list_init(mend_png_text_list *l)
{
    memset(l, 0, sizeof *l);
}

/* JPEG and WebP keep A1111's infotext in EXIF (io/exif.h). */
static int is_png(const uint8_t *p, size_t len)
{
    return len >= 8 && memcmp(p, png_signature, 8) == 0;
}

mend_status mend_png_text_read_buffer(const void *buf, size_t len, const char *name, int crc_mode,
                                      mend_png_text_list *out, mend_err *err)
{
    list_init(out);
    if (buf && !is_png(buf, len))
        return mend_exif_text_read_buffer(buf, len, name ? name : "image data", out, err);
    png_source s = {.buf = buf, .size = len};
    mend_status st = walk_chunks(&s, name ? name : "PNG data", crc_mode, out, err);
    if (st != MEND_OK)
        mend_png_text_list_free(out);
    return st;
}

mend_status mend_png_text_read_file(const char *path, int crc_mode, mend_png_text_list *out, mend_err *err)
{
    list_init(out);
    FILE *f;
    int64_t size;
    MEND_TRY(mend_open_regular_file(path, &f, &size, err));
    uint8_t sig[8];
    if (fread(sig, 1, 8, f) != 8 || !is_png(sig, 8) || fseeko(f, 0, SEEK_SET) != 0) {
        fclose(f); /* not a PNG: JPEG and WebP are read whole (their EXIF may sit anywhere) */
        uint8_t *all;
        size_t n;
        MEND_TRY(mend_read_whole_file(path, &all, &n, err));
        mend_status s = mend_exif_text_read_buffer(all, n, path, out, err);
        free(all);
        return s;
    }
    png_source s = {.f = f, .size = (uint64_t)size};
    mend_status status = walk_chunks(&s, path, crc_mode, out, err);
    free(s.scratch);
    fclose(f);
    if (status != MEND_OK)
        mend_png_text_list_free(out);
    return status;
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
    memset(l, 0, sizeof *l);
}
