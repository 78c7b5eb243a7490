/* A1111's checkpoint hash (SHA-256 of the file) with a cache, as A1111
 * keeps one: hashing a 2 GB checkpoint takes seconds, so the result is
 * stored in <cache>/hashes.tsv keyed by the file's real path, size and
 * modification time, where <cache> is $MEND_CACHE_DIR, else
 * $XDG_CACHE_HOME/mend, else ~/.cache/mend. A cache that cannot be read or
 * written only costs the recomputation. */
#ifndef MEND_MODEL_MODEL_HASH_H
#define MEND_MODEL_MODEL_HASH_H

#include "core/err.h"

mend_status mend_model_hash(const char *path, char hex[65], mend_err *err);

/* A1111's short hash (the first 10 hex digits) into short_hash[11], worked out once: *tried is set on the
 * first call; a file that cannot be read leaves short_hash empty (the infotext then goes without it). */
void mend_model_short_hash_once(const char *path, int *tried, char short_hash[11]);

#endif
