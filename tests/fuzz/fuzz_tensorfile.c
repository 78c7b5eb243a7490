/* libFuzzer target: weights files (safetensors and torch zip/pickle), as
 * mend_tf_open meets them — read through a memfd so the loader's own file
 * path runs. Every tensor of a file that opens is read as floats. */
#define _GNU_SOURCE
#include "io/tensorfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-weights", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    mend_tf *f = NULL;
    mend_err err = {0};
    if (mend_tf_open(path, &f, &err) == MEND_OK) {
        for (int i = 0; i < f->count; i++) {
            int64_t n = mend_tf_numel(&f->tensors[i]);
            float *v = NULL;
            if (n <= (1 << 20) && mend_tf_load_f32(f, f->tensors[i].name, n, &v, &err) == MEND_OK)
                free(v);
        }
        mend_tf_close(f);
    }
    close(fd);
    return 0;
}
