/* mend — Stable Diffusion inpainting engine: public C API.
 *
 * Every fallible call returns a mend_status and fills a caller-owned
 * mend_err with a message that names the input and what is wrong.
 * Nothing in the library calls exit() or prints to stdout. */
#ifndef MEND_MEND_H
#define MEND_MEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEND_VERSION "0.1.0"

typedef enum mend_status {
    MEND_OK = 0,
    MEND_E_IO,          /* file cannot be opened, read or written */
    MEND_E_FORMAT,      /* file is there but its content is malformed */
    MEND_E_ARCH,        /* weights do not form a known architecture */
    MEND_E_ARG,         /* a caller-supplied argument is out of range */
    MEND_E_NOMEM,       /* allocation failed */
    MEND_E_INTERRUPTED  /* the caller asked to stop */
} mend_status;

typedef struct mend_err {
    mend_status code;
    char msg[1024];
} mend_err;

/* Short, stable name of a status ("io", "format", ...). */
const char *mend_status_name(mend_status s);

/* Thread count used by every kernel; 0 = number of online CPUs. */
void mend_set_threads(int n);
int mend_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif
