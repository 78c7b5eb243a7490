/* A zip archive held in memory, as torch.save writes it (stored entries,
 * zip64 when large): the central directory read and checked, entries found
 * by name, a stored entry's bytes after checking its local header and span.
 * Internal to src/io (torchzip.c). */
#ifndef MEND_IO_ZIP_H
#define MEND_IO_ZIP_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct zentry {
    const char *name; /* inside the mapped central directory, not NUL-terminated */
    size_t name_len;
    unsigned method, flags;
    uint64_t csize, usize, local;
} zentry;

typedef struct zip {
    const char *path;
    const uint8_t *base;
    uint64_t size;
    zentry *e;
    int n;
} zip;

/* Reads the central directory of z->base[0, z->size) into z->e (sorted by
 * name; the caller frees z->e). */
mend_status zip_open(zip *z, mend_err *err);
const zentry *zip_find(const zip *z, const char *name);
mend_status zip_data(const zip *z, const zentry *e, const uint8_t **out, mend_err *err);

#endif
