/* SHA-256 (FIPS 180-4), for A1111's "Model hash" (the first 10 hex digits of
 * the checkpoint file's SHA-256, spec/inpaint-semantics.md §13). */
#ifndef MEND_CORE_SHA256_H
#define MEND_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct mend_sha256 {
    uint32_t h[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used;     /* bytes waiting in block */
} mend_sha256;

void mend_sha256_init(mend_sha256 *s);
void mend_sha256_update(mend_sha256 *s, const void *data, size_t n);
void mend_sha256_final(mend_sha256 *s, uint8_t digest[32]);

/* digest -> 64 lowercase hex digits + NUL */
void mend_sha256_hex(const uint8_t digest[32], char hex[65]);

/* SHA-256 of a whole file, as lowercase hex. */
mend_status mend_sha256_file(const char *path, char hex[65], mend_err *err);

#endif
