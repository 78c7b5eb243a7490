/* File helpers shared by test_cli_tools.c and test_st_rename.c (static
 * inline: each test binary takes what it uses). */
#ifndef MEND_TEST_FILES_H
#define MEND_TEST_FILES_H

#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* <tmpdir>/name in one of 8 rotating buffers. */
static inline const char *tmp_path(const char *name)
{
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", test_tmpdir(), name);
    return p;
}

static inline int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Number of entries of dir whose name starts with prefix. */
static inline int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

#endif
