/* Output file names of the generate commands: the library's naming
 * (src/inpaint/outputs.c), which the server uses too. */
#include "cli/generate.h"

char *cli_numbered_path(const char *file, int index)
{
    return mend_numbered_path(file, index);
}

mend_status cli_default_path(const char *outdir, const char *kind, int64_t seed, char **out, mend_err *err)
{
    return mend_output_path(outdir, kind, seed, out, err);
}

mend_status cli_make_parent_dirs(const char *path, mend_err *err)
{
    return mend_make_parent_dirs(path, err);
}
