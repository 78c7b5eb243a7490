/* mend — A1111 prompt styles (styles.csv), public C API.
 *
 * A1111 1.10's modules/styles.py: a CSV file (utf-8, optional BOM) whose
 * header row names the columns name, prompt (or text, the old layout) and
 * negative_prompt; one style a row, rows whose name starts with '#' and
 * blank lines skipped, a repeated name replacing the earlier style in its
 * place. Quoting is Python csv's (skipinitialspace): "..." fields with ""
 * for a quote, commas and newlines inside; spaces after a comma dropped.
 *
 * A style is applied to a prompt as merge_prompts does: a style text with
 * "{prompt}" has every "{prompt}" replaced by the prompt; any other is
 * appended after ", " (both stripped of surrounding whitespace, an empty
 * one left out). The negative prompt takes the styles' negative texts the
 * same way. Styles apply in the order given. */
#ifndef MEND_STYLES_H
#define MEND_STYLES_H

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mend_style {
    char *name, *prompt, *negative_prompt;
    int divider; /* a "----- STEM -----" row between the files of several (prompt and negative ""; A1111's null) */
} mend_style;

typedef struct mend_styles {
    int count;
    mend_style *items; /* in the file's order */
} mend_styles;

/* Reads a styles.csv. A file that does not exist holds no styles (MEND_OK:
 * A1111 starts without one); one that cannot be read, is over 16 MiB, or
 * has no name or prompt/text column is MEND_E_IO / MEND_E_FORMAT naming
 * the path. */
mend_status mend_styles_load(const char *path, mend_styles *out, mend_err *err);
void mend_styles_free(mend_styles *s);

/* A1111's StyleDatabase over several files (its --styles-file, given more
 * than once; a '*' or '?' in a path's file name is a wildcard over its
 * folder, matches in name order). A wildcard first path puts its first
 * match, or its folder's styles.csv, in front (A1111's default path). Each
 * file once, in order; when the list had more than one entry (before the
 * repeats were dropped, as A1111 counts) each file gets a divider row
 * named ' STEM '.center(40, '-') with STEM upper-cased, before its styles,
 * even a file that does not exist (which holds no styles). A name repeated
 * in a later file replaces the earlier style in its place. */
mend_status mend_styles_load_files(const char *const *paths, int n, mend_styles *out, mend_err *err);
/* The style of that name (exact, case-sensitive), or NULL. */
const mend_style *mend_styles_find(const mend_styles *s, const char *name);

/* merge_prompts(style_text, prompt), malloc'd; NULL when out of memory. */
char *mend_style_merge(const char *style_text, const char *prompt);

/* The named styles applied to prompt and negative (either may be NULL =
 * ""): *prompt_out and *negative_out are malloc'd. A name the database
 * lacks is MEND_E_ARG naming it and listing the styles there are (A1111
 * would apply an empty style and strip the prompt without a word). */
mend_status mend_styles_apply(const mend_styles *s, const char *const *names, int n, const char *prompt,
                              const char *negative, char **prompt_out, char **negative_out, mend_err *err);

/* A1111's extract_styles_from_prompt (what parse_generation_parameters does
 * with a pasted infotext): while some style not taken yet matches (its text
 * ends the stripped prompt, ", " before it dropped; a "{prompt}" style's
 * text around it; the negative prompt likewise; a style with neither text
 * never), its text is taken off both prompts. *names_out (malloc'd array of
 * pointers into s, NULL when none) lists them in the order they apply;
 * *prompt_out and *negative_out are malloc'd. */
mend_status mend_styles_extract(const mend_styles *s, const char *prompt, const char *negative,
                                const char ***names_out, int *n_out, char **prompt_out, char **negative_out,
                                mend_err *err);

#ifdef __cplusplus
}
#endif
#endif
