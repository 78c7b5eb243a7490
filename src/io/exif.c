/* EXIF UserComment: A1111's infotext in JPEG and WebP files (io/exif.h). */
#include "io/exif.h"
#include "io/png_text.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t exif_prefix[6] = {'E', 'x', 'i', 'f', 0, 0};
static const uint8_t unicode_prefix[8] = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};
static const uint8_t ascii_prefix[8] = {'A', 'S', 'C', 'I', 'I', 0, 0, 0};

enum { TAG_EXIF_IFD = 0x8769, TAG_USER_COMMENT = 0x9286, TYPE_LONG = 4, TYPE_UNDEFINED = 7 };

/* ---------------- UTF-8 <-> UTF-16BE ---------------- */

/* The code point at s[*i] (advancing *i); U+FFFD for a malformed sequence. */
static uint32_t next_utf8(const uint8_t *s, size_t n, size_t *i)
{
    uint8_t c = s[(*i)++];
    int extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    if (extra < 0)
        return 0xfffd;
    uint32_t cp = extra ? c & (0x3f >> extra) : c;
    for (int k = 0; k < extra; k++) {
        if (*i >= n || (s[*i] & 0xc0) != 0x80)
            return 0xfffd;
        cp = cp << 6 | (s[(*i)++] & 0x3f);
    }
    static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0xfffd;
    return cp;
}

static size_t put_utf8(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80)
        return o[0] = (uint8_t)cp, 1;
    if (cp < 0x800)
        return o[0] = (uint8_t)(0xc0 | cp >> 6), o[1] = (uint8_t)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12), o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        return o[2] = (uint8_t)(0x80 | (cp & 0x3f)), 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18), o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* UTF-16BE (an odd last byte ignored, unpaired surrogates as U+FFFD) -> UTF-8. */
static char *utf16be_to_utf8(const uint8_t *s, size_t n)
{
    char *out = malloc(n / 2 * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t u = (uint32_t)s[i] << 8 | s[i + 1];
        if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
            uint32_t lo = (uint32_t)s[i + 2] << 8 | s[i + 3];
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            }
        }
        if (u >= 0xd800 && u <= 0xdfff)
            u = 0xfffd;
        o += put_utf8(u, (uint8_t *)o);
    }
    *o = 0;
    return out;
}

/* Bytes as UTF-8 with the malformed sequences dropped (Python's
 * decode('utf8', errors="ignore")). */
static char *utf8_ignoring_errors(const uint8_t *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t start = i;
        uint32_t cp = next_utf8(s, n, &i);
        int genuine = cp != 0xfffd || (i - start == 3 && !memcmp(s + start, "\xef\xbf\xbd", 3));
        if (genuine && cp != 0) {
            memcpy(o, s + start, i - start);
            o += i - start;
        }
    }
    *o = 0;
    return out;
}

/* ---------------- writing ---------------- */

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, v & 0xffff); }

mend_status mend_exif_user_comment(const char *text, uint8_t **out, size_t *len, mend_err *err)
{
    const uint8_t *s = (const uint8_t *)(text ? text : "");
    size_t n = strlen((const char *)s), units = 0;
    for (size_t i = 0; i < n;)
        units += next_utf8(s, n, &i) >= 0x10000 ? 2 : 1;
    /* "Exif\0\0", TIFF header (8), IFD0 (2 + 12 + 4), Exif IFD (2 + 12): piexif writes no next-IFD link there */
    const size_t head = 6 + 8 + 18 + 14, value = 8 + 2 * units;
    if (units > (UINT32_MAX - head) / 2)
        return mend_fail(err, MEND_E_ARG, "infotext of %zu bytes is too long for EXIF", n);
    uint8_t *b = calloc(head + value, 1);
    if (!b)
        return mend_fail(err, MEND_E_NOMEM, "out of memory for the EXIF block");
    memcpy(b, exif_prefix, 6);
    memcpy(b + 6, "MM\0*", 4);
    put32(b + 10, 8);                                               /* IFD0 right after the header */
    put16(b + 14, 1);                                               /* IFD0: one entry */
    put16(b + 16, TAG_EXIF_IFD), put16(b + 18, TYPE_LONG), put32(b + 20, 1), put32(b + 24, 8 + 18);
    put32(b + 28, 0);                                               /* no IFD1 */
    put16(b + 32, 1);                                               /* Exif IFD: one entry */
    put16(b + 34, TAG_USER_COMMENT), put16(b + 36, TYPE_UNDEFINED), put32(b + 38, (uint32_t)value);
    put32(b + 42, 8 + 18 + 14);                                     /* the value follows */
    uint8_t *v = b + head;
    memcpy(v, unicode_prefix, 8);
    v += 8;
    for (size_t i = 0; i < n;) {
        uint32_t cp = next_utf8(s, n, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put16(v, 0xd800 + (cp >> 10)), put16(v + 2, 0xdc00 + (cp & 0x3ff));
            v += 4;
        } else {
            put16(v, cp);
            v += 2;
        }
    }
    *out = b;
    *len = head + value;
    return MEND_OK;
}

/* ---------------- reading ---------------- */

typedef struct tiff {
    const uint8_t *d;
    size_t n;
    int big; /* "MM" */
} tiff;

static uint32_t rd16(const tiff *t, size_t o)
{
    return t->big ? (uint32_t)t->d[o] << 8 | t->d[o + 1] : (uint32_t)t->d[o + 1] << 8 | t->d[o];
}

static uint32_t rd32(const tiff *t, size_t o)
{
    return t->big ? rd16(t, o) << 16 | rd16(t, o + 2) : rd16(t, o + 2) << 16 | rd16(t, o);
}

/* The entry of `tag` in the IFD at `ifd`: its offset in *entry, 0 if absent. */
static mend_status find_tag(const tiff *t, uint32_t ifd, uint32_t tag, const char *where, size_t *entry,
                            mend_err *err)
{
    *entry = 0;
    if ((uint64_t)ifd + 2 > t->n)
        return mend_fail(err, MEND_E_FORMAT, "%s: EXIF directory at %u is past the end of the block", where, ifd);
    uint32_t count = rd16(t, ifd);
    if ((uint64_t)ifd + 2 + 12ull * count > t->n)
        return mend_fail(err, MEND_E_FORMAT, "%s: EXIF directory of %u entries runs past the end", where, count);
    for (uint32_t i = 0; i < count; i++) {
        size_t e = ifd + 2 + 12 * (size_t)i;
        if (rd16(t, e) == tag) {
            *entry = e;
            return MEND_OK;
        }
    }
    return MEND_OK;
}

static char *decode_comment(const uint8_t *v, size_t n)
{
    if (n >= 8 && !memcmp(v, unicode_prefix, 8))
        return utf16be_to_utf8(v + 8, n - 8);
    if (n >= 8 && !memcmp(v, ascii_prefix, 8))
        return utf8_ignoring_errors(v + 8, n - 8);
    return utf8_ignoring_errors(v, n); /* A1111's fallback when piexif cannot tell the encoding */
}

mend_status mend_exif_read_user_comment(const uint8_t *exif, size_t len, const char *where, char **text,
                                        mend_err *err)
{
    *text = NULL;
    if (len >= 6 && !memcmp(exif, exif_prefix, 6))
        exif += 6, len -= 6;
    tiff t = {exif, len, len >= 2 && exif[0] == 'M'};
    if (len < 8 || !(memcmp(exif, "MM", 2) == 0 || memcmp(exif, "II", 2) == 0) || rd16(&t, 2) != 42)
        return mend_fail(err, MEND_E_FORMAT, "%s: EXIF block without a TIFF header", where);
    size_t e;
    MEND_TRY(find_tag(&t, rd32(&t, 4), TAG_EXIF_IFD, where, &e, err));
    if (!e)
        return MEND_OK;
    MEND_TRY(find_tag(&t, rd32(&t, e + 8), TAG_USER_COMMENT, where, &e, err));
    if (!e)
        return MEND_OK;
    uint32_t type = rd16(&t, e + 2), count = rd32(&t, e + 4);
    if (type != TYPE_UNDEFINED && type != 1 && type != 2) /* bytes of some kind */
        return mend_fail(err, MEND_E_FORMAT, "%s: EXIF UserComment of type %u, not bytes", where, type);
    size_t at = count <= 4 ? e + 8 : rd32(&t, e + 8);
    if ((uint64_t)at + count > len)
        return mend_fail(err, MEND_E_FORMAT, "%s: EXIF UserComment of %u bytes runs past the end", where, count);
    *text = decode_comment(exif + at, count);
    return *text ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory reading EXIF");
}

mend_status mend_exif_find_jpeg(const uint8_t *p, size_t len, const char *where, const uint8_t **exif,
                                size_t *exif_len, mend_err *err)
{
    *exif = NULL;
    *exif_len = 0;
    for (size_t pos = 2; pos + 4 <= len;) {
        if (p[pos] != 0xff)
            return mend_fail(err, MEND_E_FORMAT, "%s: JPEG marker expected at byte %zu", where, pos);
        uint8_t m = p[pos + 1];
        if (m == 0xff || m == 0x01 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7)) { /* fill, or no length */
            pos += m == 0xff ? 1 : 2;
            continue;
        }
        if (m == 0xd9 || m == 0xda)
            return MEND_OK; /* the image data: metadata comes before it */
        size_t seg = (size_t)p[pos + 2] << 8 | p[pos + 3];
        if (seg < 2 || pos + 2 + seg > len)
            return mend_fail(err, MEND_E_FORMAT, "%s: JPEG segment at byte %zu runs past the end", where, pos);
        if (m == 0xe1 && seg >= 8 && !memcmp(p + pos + 4, exif_prefix, 6)) {
            *exif = p + pos + 4;
            *exif_len = seg - 2;
            return MEND_OK;
        }
        pos += 2 + seg;
    }
    return MEND_OK;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

mend_status mend_exif_find_webp(const uint8_t *p, size_t len, const char *where, const uint8_t **exif,
                                size_t *exif_len, mend_err *err)
{
    *exif = NULL;
    *exif_len = 0;
    if (len < 12 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "WEBP", 4))
        return mend_fail(err, MEND_E_FORMAT, "%s: not a WebP file (no RIFF/WEBP header)", where);
    size_t end = (size_t)le32(p + 4) + 8 < len ? (size_t)le32(p + 4) + 8 : len;
    for (size_t pos = 12; pos + 8 <= end;) {
        size_t n = le32(p + pos + 4);
        if (n > end - pos - 8)
            return mend_fail(err, MEND_E_FORMAT, "%s: WebP chunk at byte %zu runs past the end", where, pos);
        if (!memcmp(p + pos, "EXIF", 4)) {
            *exif = p + pos + 8;
            *exif_len = n;
            return MEND_OK;
        }
        pos += 8 + n + (n & 1);
    }
    return MEND_OK;
}

mend_status mend_exif_text_read_buffer(const uint8_t *buf, size_t len, const char *where, mend_png_text_list *out,
                                       mend_err *err)
{
    const uint8_t *exif = NULL;
    size_t n = 0;
    memset(out, 0, sizeof *out);
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        MEND_TRY(mend_exif_find_jpeg(buf, len, where, &exif, &n, err));
    else if (len >= 12 && !memcmp(buf, "RIFF", 4) && !memcmp(buf + 8, "WEBP", 4))
        MEND_TRY(mend_exif_find_webp(buf, len, where, &exif, &n, err));
    else
        return mend_fail(err, MEND_E_FORMAT, "%s: not a PNG, JPEG or WebP file (unrecognised signature)", where);
    char *text = NULL;
    if (exif)
        MEND_TRY(mend_exif_read_user_comment(exif, n, where, &text, err));
    if (!text)
        return MEND_OK;
    return mend_png_text_push(out, where, "EXIF", strdup("parameters"), text, err);
}
