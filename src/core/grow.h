/* Growing an array by doubling: the one rule of the tokenizer's buffers. */
#ifndef MEND_CORE_GROW_H
#define MEND_CORE_GROW_H

#include <stddef.h>

/* p (room for *cap elements of `size` bytes) with room for at least `need`:
 * p itself when it has it, else p reallocated to the next doubling of *cap
 * (64 elements at least) with *cap updated; NULL, with p and *cap
 * untouched, when out of memory. */
void *mend_grow(void *p, size_t *cap, size_t need, size_t size);

#endif
