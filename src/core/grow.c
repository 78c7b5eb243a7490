#include "core/grow.h"

#include <stdint.h>
#include <stdlib.h>

void *mend_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (p && need <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size)
            return NULL;
        c *= 2;
    }
    void *q = realloc(p, c * size);
    if (q)
        *cap = c;
    return q;
}
