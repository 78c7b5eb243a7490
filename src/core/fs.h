/* What a path names: the loaders' checks before they open a model folder
 * or file. */
#ifndef MEND_CORE_FS_H
#define MEND_CORE_FS_H

int mend_is_dir(const char *path);
int mend_is_file(const char *path); /* a regular file */

#endif
