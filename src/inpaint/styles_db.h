/* Building a styles database from files (styles_csv.c), for
 * mend_styles_load_files (styles_files.c). Internal. */
#ifndef MEND_INPAINT_STYLES_DB_H
#define MEND_INPAINT_STYLES_DB_H

#include "mend/styles.h"

/* The file's styles added to out (a file that does not exist adds none);
 * a name already there is replaced in its place. */
mend_status mend_styles_add_file(const char *path, mend_styles *out, mend_err *err);
/* A divider row named `name` (empty texts, divider set). */
mend_status mend_styles_add_divider(mend_styles *out, const char *name, mend_err *err);

#endif
