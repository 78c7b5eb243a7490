/* A small fork-join pool. mend_parallel_for(n, fn, ctx) splits [0, n) into
 * at most mend_get_threads() contiguous chunks and runs fn(ctx, begin, end,
 * thread_index) on each, the caller taking chunk 0. The split depends only on
 * n and the thread count, and every kernel writes disjoint outputs per chunk,
 * so results do not depend on scheduling. Nested calls run serially. */
#ifndef MEND_CORE_THREADS_H
#define MEND_CORE_THREADS_H

#include <stdint.h>

typedef void (*mend_range_fn)(void *ctx, int64_t begin, int64_t end, int thread);

void mend_parallel_for(int64_t n, mend_range_fn fn, void *ctx);

/* Like mend_parallel_for but with at most max_chunks chunks (>= 1). */
void mend_parallel_for_max(int64_t n, int max_chunks, mend_range_fn fn, void *ctx);

#endif
