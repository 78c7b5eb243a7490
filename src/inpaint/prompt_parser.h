/* A1111 prompt syntax (AUTOMATIC1111 v1.10.1 modules/prompt_parser.py),
 * reproduced byte for byte on UTF-8 text:
 *
 *  - emphasis: (a) x1.1, [a] x(1/1.1), (a:1.3), escapes \( \) \[ \] \\,
 *    unbalanced brackets, BREAK markers, merging of runs of equal weight
 *    (parse_prompt_attention);
 *  - composable prompts: "a AND b:0.5" (get_multicond_prompt_list);
 *  - prompt editing and alternation: [from:to:when], [a|b]
 *    (get_learned_conditioning_prompt_schedules).
 *
 * Where A1111's Python regexes use \s, \w and \b on str, this code follows
 * Python's Unicode whitespace exactly; word characters are ASCII
 * letters/digits/_ plus every non-ASCII code point except spaces and the
 * common punctuation/symbol/emoji blocks (Python asks the Unicode database;
 * the difference only shows for BREAK/AND glued to rare symbols). Digits in
 * weights are ASCII only (Python's \d also takes other scripts' digits).
 *
 * Every function rejects invalid UTF-8 with MEND_E_ARG (A1111 only ever sees
 * decoded str). Where A1111 raises an exception (a weight such as "(a:1.2.3)"
 * that float() refuses, an infinite edit step) these functions fail with
 * MEND_E_ARG and say so. */
#ifndef MEND_INPAINT_PROMPT_PARSER_H
#define MEND_INPAINT_PROMPT_PARSER_H

#include "core/err.h"

/* One run of text with its weight. A BREAK marker is the piece
 * {"BREAK", -1} exactly as A1111 emits it (brackets around a BREAK multiply
 * its weight too, and then it is no longer a chunk break). */
typedef struct mend_prompt_piece {
    char *text; /* NUL-terminated UTF-8, owned */
    double weight;
} mend_prompt_piece;

typedef struct mend_prompt_pieces {
    mend_prompt_piece *items;
    int n;
} mend_prompt_pieces;

void mend_prompt_pieces_free(mend_prompt_pieces *p);

/* parse_prompt_attention(prompt): never returns an empty list (an empty
 * prompt gives {"", 1.0}). */
mend_status mend_prompt_parse_attention(const char *prompt, mend_prompt_pieces *out, mend_err *err);

/* A1111's test in tokenize_line: text == "BREAK" and weight == -1. */
int mend_prompt_piece_is_break(const mend_prompt_piece *p);

/* get_multicond_prompt_list for one prompt: split at the word AND, each part
 * with its trailing ":weight" (default 1.0) removed into .weight. Parts are
 * in order and not deduplicated (A1111 deduplicates identical texts across
 * the batch; identical texts give identical conditionings anyway). */
mend_status mend_prompt_split_and(const char *prompt, mend_prompt_pieces *out, mend_err *err);

/* Constructs nested deeper than this are not recognised as prompt editing
 * (their brackets stay literal text); A1111 itself overflows Python's
 * recursion limit somewhere in the hundreds. */
#define MEND_PROMPT_MAX_NESTING 128

typedef struct mend_prompt_step {
    int end_at_step; /* 1-based last sampling step that uses .text */
    char *text;      /* owned */
} mend_prompt_step;

typedef struct mend_prompt_schedule {
    mend_prompt_step *items; /* sorted by end_at_step, the last one == steps */
    int n;
} mend_prompt_schedule;

void mend_prompt_schedule_free(mend_prompt_schedule *s);

/* get_learned_conditioning_prompt_schedules([prompt], steps, hires_steps,
 * use_old_scheduling)[0]. hires_steps <= 0 means None (the first pass);
 * with hires_steps > 0 (and not old scheduling) integer steps count from the
 * start of the first pass and fractions in [1, 2] address the hires pass.
 * A prompt that the grammar rejects (a stray '|', a trailing backslash)
 * gives one entry {steps, prompt} as in A1111. steps must be in
 * [1, 100000]. */
mend_status mend_prompt_schedule_build(const char *prompt, int steps, int hires_steps, int use_old_scheduling,
                                       mend_prompt_schedule *out, mend_err *err);

/* Checks that s is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). Returns the byte offset of the first bad byte, or
 * -1 when it is valid. */
long mend_utf8_invalid_at(const char *s);

#endif
