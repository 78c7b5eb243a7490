/* Text helpers the prompt-parser files share: UTF-8 scanning in Python's
 * terms and a growable string with a sticky out-of-memory flag. Internal
 * to src/inpaint (prompt_parser.c, prompt_schedule.c). */
#ifndef MEND_INPAINT_PROMPT_TEXT_H
#define MEND_INPAINT_PROMPT_TEXT_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

uint32_t pp_utf8_at(const char *str, size_t i, size_t *len);
size_t pp_skip_space(const char *s, size_t i, size_t n);
mend_status pp_check_utf8(const char *what, const char *s, mend_err *err);
double pp_span_to_double(const char *s, size_t len);
void pp_sb_add(sbuf *b, const char *s, size_t n);
char *pp_sb_take(sbuf *b);

#endif
