/* styles.csv as A1111 reads it (include/mend/styles.h): Python's
 * csv.DictReader(skipinitialspace=True) over a utf-8-sig file. */
#include "mend/styles.h"

#include "core/err.h"
#include "inpaint/styles_db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STYLE_COLS 16
#define STYLES_MAX_BYTES ((size_t)16 << 20)

typedef struct csv_row {
    char *cols[STYLE_COLS];
    int n;
    int blank; /* a line with nothing on it: csv gives [], DictReader skips it */
} csv_row;

/* One field at s, unquoted in place; returns the character that ended it
 * (',', '\n', '\r' or NUL) and leaves *p after the field. */
static char csv_field(char **p, char **start)
{
    char *s = *p;
    while (*s == ' ') /* skipinitialspace */
        s++;
    char *out = s;
    *start = s;
    if (*s == '"') {
        for (s++; *s; s++) {
            if (*s == '"' && s[1] == '"')
                *out++ = *++s;
            else if (*s == '"')
                break;
            else
                *out++ = *s;
        }
        if (*s == '"')
            s++;
    }
    while (*s && *s != ',' && *s != '\n' && *s != '\r') /* text after a closing quote is kept, as csv does */
        *out++ = *s++;
    char sep = *s;
    *out = '\0'; /* may land on sep: saved above */
    *p = sep ? s + 1 : s;
    return sep;
}

/* Reads one record from *p (advanced past it). 0 at the end. */
static int csv_next(char **p, csv_row *row)
{
    if (!**p)
        return 0;
    row->n = 0;
    char *line = *p;
    for (;;) {
        char *start;
        char sep = csv_field(p, &start);
        if (row->n < STYLE_COLS)
            row->cols[row->n++] = start;
        if (sep == ',')
            continue;
        if (sep == '\r' && **p == '\n')
            (*p)++;
        row->blank = row->n == 1 && !start[0] && (*line == '\n' || *line == '\r' || !*line);
        return 1;
    }
}

static int column(const csv_row *head, const char *name)
{
    int found = -1;
    for (int i = 0; i < head->n; i++)
        if (!strcmp(head->cols[i], name))
            found = i; /* a repeated header: the last column, as a dict keeps it */
    return found;
}

static const char *cell(const csv_row *row, int i)
{
    return i >= 0 && i < row->n ? row->cols[i] : "";
}

static mend_status read_file(const char *path, char **text, mend_err *err)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? MEND_OK : mend_fail(err, MEND_E_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(STYLES_MAX_BYTES + 2);
    if (!buf) {
        fclose(f);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, STYLES_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > STYLES_MAX_BYTES) {
        free(buf);
        return bad ? mend_fail(err, MEND_E_IO, "%s: read error", path)
                   : mend_fail(err, MEND_E_FORMAT, "%s: larger than 16 MiB", path);
    }
    buf[n] = '\0';
    *text = buf;
    return MEND_OK;
}

static void free_style(mend_style *st)
{
    free(st->name);
    free(st->prompt);
    free(st->negative_prompt);
}

/* Adds the style, or replaces the one of the same name in its place. */
static mend_status put_style(mend_styles *s, const char *name, const char *prompt, const char *neg, mend_err *err)
{
    mend_style st = {strdup(name), strdup(prompt), strdup(neg), 0};
    if (!st.name || !st.prompt || !st.negative_prompt) {
        free_style(&st);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < s->count; i++)
        if (!strcmp(s->items[i].name, name)) {
            free_style(&s->items[i]);
            s->items[i] = st;
            return MEND_OK;
        }
    mend_style *grown = realloc(s->items, (size_t)(s->count + 1) * sizeof *grown);
    if (!grown) {
        free_style(&st);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    s->items = grown;
    s->items[s->count++] = st;
    return MEND_OK;
}

static mend_status parse_styles(const char *path, char *p, mend_styles *out, mend_err *err)
{
    if (!strncmp(p, "\xEF\xBB\xBF", 3)) /* utf-8-sig */
        p += 3;
    csv_row head = {0}, row;
    int got;
    while ((got = csv_next(&p, &head)) && head.blank)
        ;
    if (!got)
        return MEND_OK; /* an empty file */
    int name = column(&head, "name"), neg = column(&head, "negative_prompt");
    int prompt = column(&head, "prompt") >= 0 ? column(&head, "prompt") : column(&head, "text");
    if (name < 0 || prompt < 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: the header row names no '%s' column", path,
                         name < 0 ? "name" : "prompt (or text)");
    while (csv_next(&p, &row)) {
        if (row.blank || cell(&row, name)[0] == '#')
            continue;
        MEND_TRY(put_style(out, cell(&row, name), cell(&row, prompt), cell(&row, neg), err));
    }
    return MEND_OK;
}

/* One file's styles added to out (a missing file adds none). */
mend_status mend_styles_add_file(const char *path, mend_styles *out, mend_err *err)
{
    char *text;
    MEND_TRY(read_file(path, &text, err));
    if (!text)
        return MEND_OK;
    mend_status s = parse_styles(path, text, out, err);
    free(text);
    return s;
}

/* A divider row: a style whose texts are empty. */
mend_status mend_styles_add_divider(mend_styles *out, const char *name, mend_err *err)
{
    MEND_TRY(put_style(out, name, "", "", err));
    for (int i = 0; i < out->count; i++)
        if (!strcmp(out->items[i].name, name))
            out->items[i].divider = 1;
    return MEND_OK;
}

mend_status mend_styles_load(const char *path, mend_styles *out, mend_err *err)
{
    memset(out, 0, sizeof *out);
    mend_status s = mend_styles_add_file(path, out, err);
    if (s != MEND_OK)
        mend_styles_free(out);
    return s;
}

void mend_styles_free(mend_styles *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++)
        free_style(&s->items[i]);
    free(s->items);
    s->items = NULL;
    s->count = 0;
}
