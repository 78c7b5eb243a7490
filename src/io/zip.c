/* The zip reader behind torch.save checkpoints (see zip.h). */
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>


#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The end-of-central-directory record: the last one whose comment length
 * reaches exactly the end of the file. */
static mend_status find_end_record(const zip *z, uint64_t *at, mend_err *err)
{
    if (z->size < 22)
        return mend_fail(err, MEND_E_FORMAT, "%s: too short to be a zip archive (%llu bytes)", z->path,
                         (unsigned long long)z->size);
    uint64_t lowest = z->size > 22 + 65535 ? z->size - 22 - 65535 : 0;
    for (uint64_t i = z->size - 22 + 1; i-- > lowest;) {
        const uint8_t *p = z->base + i;
        if (le(p, 4) == SIG_END && i + 22 + le(p + 20, 2) == z->size) {
            *at = i;
            return MEND_OK;
        }
    }
    return mend_fail(err, MEND_E_FORMAT,
                     "%s: no zip end-of-central-directory record; the file is truncated or not a zip archive",
                     z->path);
}

/* Where the central directory is and how many entries it has, from the end
 * record or, when there is one, its zip64 twin (files over 4 GiB). */
static mend_status locate_central(const zip *z, uint64_t end, uint64_t *off, uint64_t *size, uint64_t *count,
                                  mend_err *err)
{
    const uint8_t *e = z->base + end;
    *count = le(e + 10, 2);
    *size = le(e + 12, 4);
    *off = le(e + 16, 4);
    if (end >= 20 && le(z->base + end - 20, 4) == SIG_LOCATOR64) {
        uint64_t e64 = le(z->base + end - 20 + 8, 8);
        if (end < 20 + 56 || e64 > end - 20 - 56 || le(z->base + e64, 4) != SIG_END64)
            return mend_fail(err, MEND_E_FORMAT, "%s: damaged zip64 end record; the file is corrupt", z->path);
        *count = le(z->base + e64 + 32, 8);
        *size = le(z->base + e64 + 40, 8);
        *off = le(z->base + e64 + 48, 8);
    } else if (le(e + 4, 2) != 0 || le(e + 6, 2) != 0) {
        return mend_fail(err, MEND_E_FORMAT, "%s: multi-part zip archives are not supported", z->path);
    }
    if (*off > end || *size > end - *off)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: the zip central directory lies outside the file; the file is truncated or corrupt",
                         z->path);
    if (*count > *size / 46)
        return mend_fail(err, MEND_E_FORMAT, "%s: the zip central directory claims %llu entries but holds fewer",
                         z->path, (unsigned long long)*count);
    return MEND_OK;
}

/* Sizes and offsets that do not fit 32 bits are 0xFFFFFFFF in the entry and
 * come, in that order, from the zip64 extra field (id 1). */
static int read_zip64_extra(const uint8_t *x, size_t len, zentry *e)
{
    uint64_t *fields[3] = {&e->usize, &e->csize, &e->local};
    while (len >= 4) {
        unsigned id = (unsigned)le(x, 2);
        size_t sz = (size_t)le(x + 2, 2);
        if (sz > len - 4)
            return 0;
        if (id == 1) {
            const uint8_t *q = x + 4;
            size_t left = sz;
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xFFFFFFFFu)
                    continue;
                if (left < 8)
                    return 0;
                *fields[i] = le(q, 8);
                q += 8;
                left -= 8;
            }
        }
        x += 4 + sz;
        len -= 4 + sz;
    }
    return e->usize != 0xFFFFFFFFu && e->csize != 0xFFFFFFFFu && e->local != 0xFFFFFFFFu;
}

static int cmp_entry(const void *a, const void *b)
{
    const zentry *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static mend_status read_central(zip *z, uint64_t off, uint64_t size, uint64_t count, mend_err *err)
{
    z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
    if (!z->e)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory for the zip directory", z->path);
    const uint8_t *p = z->base + off, *end = p + size;
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 46 || le(p, 4) != SIG_CENTRAL)
            return mend_fail(err, MEND_E_FORMAT, "%s: zip central directory entry %llu is damaged", z->path,
                             (unsigned long long)i);
        size_t nlen = (size_t)le(p + 28, 2), xlen = (size_t)le(p + 30, 2), clen = (size_t)le(p + 32, 2);
        if (46 + nlen + xlen + clen > (size_t)(end - p))
            return mend_fail(err, MEND_E_FORMAT, "%s: zip central directory entry %llu is damaged", z->path,
                             (unsigned long long)i);
        zentry *e = &z->e[z->n];
        *e = (zentry){.name = (const char *)p + 46, .name_len = nlen, .flags = (unsigned)le(p + 8, 2),
                      .method = (unsigned)le(p + 10, 2), .csize = le(p + 20, 4), .usize = le(p + 24, 4),
                      .local = le(p + 42, 4)};
        if (!read_zip64_extra(p + 46 + nlen, xlen, e))
            return mend_fail(err, MEND_E_FORMAT, "%s: zip entry '%.*s' has a damaged zip64 extra field", z->path,
                             (int)nlen, e->name);
        z->n++;
        p += 46 + nlen + xlen + clen;
    }
    qsort(z->e, (size_t)z->n, sizeof *z->e, cmp_entry);
    return MEND_OK;
}

mend_status zip_open(zip *z, mend_err *err)
{
    uint64_t end = 0, off = 0, size = 0, count = 0;
    MEND_TRY(find_end_record(z, &end, err));
    MEND_TRY(locate_central(z, end, &off, &size, &count, err));
    return read_central(z, off, size, count, err);
}

const zentry *zip_find(const zip *z, const char *name)
{
    zentry key = {.name = name, .name_len = strlen(name)};
    return bsearch(&key, z->e, (size_t)z->n, sizeof *z->e, cmp_entry);
}

/* The bytes of a stored entry, after checking its local header and span. */
mend_status zip_data(const zip *z, const zentry *e, const uint8_t **out, mend_err *err)
{
    int nl = (int)e->name_len;
    if (e->flags & 1)
        return mend_fail(err, MEND_E_FORMAT, "%s: zip entry '%.*s' is encrypted", z->path, nl, e->name);
    if (e->method != 0)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: zip entry '%.*s' is compressed (method %u); torch.save stores entries uncompressed, "
                         "so re-save the checkpoint with torch.save (or re-zip it with `zip -0`)",
                         z->path, nl, e->name, e->method);
    if (e->csize != e->usize)
        return mend_fail(err, MEND_E_FORMAT, "%s: stored zip entry '%.*s' has two different sizes", z->path, nl,
                         e->name);
    if (z->size < 30 || e->local > z->size - 30 || le(z->base + e->local, 4) != SIG_LOCAL)
        return mend_fail(err, MEND_E_FORMAT, "%s: the local header of zip entry '%.*s' is missing or damaged",
                         z->path, nl, e->name);
    const uint8_t *h = z->base + e->local;
    uint64_t data = e->local + 30 + le(h + 26, 2) + le(h + 28, 2);
    if (data > z->size || e->usize > z->size - data)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: zip entry '%.*s' (%llu bytes) runs past the end of the file; the file is truncated",
                         z->path, nl, e->name, (unsigned long long)e->usize);
    *out = z->base + data;
    return MEND_OK;
}
