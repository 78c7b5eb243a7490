/* GET /sdapi/v1/prompt-styles: A1111's styles.csv (in the working
 * directory, as A1111 reads it from its own): a header row naming the
 * columns (name, prompt or text, negative_prompt), then one style a row;
 * rows without a name or whose name starts with '#' are skipped. Quoting is
 * Python csv's: "..." fields with "" for a quote, commas and newlines
 * inside. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STYLE_COLS 8
#define STYLES_MAX_BYTES ((size_t)16 << 20)

typedef struct csv_row {
    char *cols[STYLE_COLS];
    int n;
} csv_row;

/* Reads one record from *p (advanced past it), unquoting in place. 0 at the end. */
static int csv_next(char **p, csv_row *row)
{
    char *s = *p;
    if (!*s)
        return 0;
    row->n = 0;
    for (;;) {
        char *out = s, *start = s;
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
            while (*s && *s != ',' && *s != '\n' && *s != '\r') /* text after the closing quote is kept */
                *out++ = *s++;
        } else {
            while (*s && *s != ',' && *s != '\n' && *s != '\r')
                *out++ = *s++;
        }
        char sep = *s; /* saved: the NUL below may land on it */
        *out = '\0';
        if (row->n < STYLE_COLS)
            row->cols[row->n++] = start;
        if (sep)
            s++;
        if (sep == ',')
            continue;
        if (sep == '\r' && *s == '\n')
            s++;
        *p = s;
        return 1;
    }
}

static int column(const csv_row *head, const char *name)
{
    for (int i = 0; i < head->n; i++)
        if (!strcmp(head->cols[i], name))
            return i;
    return -1;
}

static const char *cell(const csv_row *row, int i)
{
    return i >= 0 && i < row->n ? row->cols[i] : "";
}

static char *read_styles(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(STYLES_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, STYLES_MAX_BYTES, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

void h_prompt_styles(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    cJSON *a = cJSON_CreateArray();
    char *text = read_styles("styles.csv");
    char *p = text;
    if (p && !strncmp(p, "\xEF\xBB\xBF", 3)) /* utf-8-sig */
        p += 3;
    csv_row head = {0}, row;
    if (p && csv_next(&p, &head)) {
        int name = column(&head, "name"), neg = column(&head, "negative_prompt");
        int prompt = column(&head, "prompt") >= 0 ? column(&head, "prompt") : column(&head, "text");
        while (name >= 0 && csv_next(&p, &row)) {
            const char *nm = cell(&row, name);
            if (!nm[0] || nm[0] == '#')
                continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", nm);
            cJSON_AddStringToObject(o, "prompt", cell(&row, prompt));
            cJSON_AddStringToObject(o, "negative_prompt", cell(&row, neg));
            cJSON_AddItemToArray(a, o);
        }
    }
    free(text);
    srv_reply_json(r, 200, a);
}
