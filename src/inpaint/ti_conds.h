/* A job's two conditionings with its textual-inversion embeddings: the
 * embeddings folder's database for the text encoder's width (rescanned
 * when the folder changed), each loaded name matched in both prompts, and
 * the infotext's `TI hashes` as A1111 1.10.1 writes it: its negative
 * prompt is encoded first and each forward puts its own embeddings in
 * front of those already listed, so the value is the positive prompt's
 * list followed by the negative's. */
#ifndef MEND_INPAINT_TI_CONDS_H
#define MEND_INPAINT_TI_CONDS_H

#include "inpaint/conditioning.h"

/* cond / uncond as mend_cond_build gives them (o->ti is set here);
 * *ti_hashes: malloc'd or NULL; files the folder scan could not read are
 * appended to *log ("Error loading embedding FILE: why" lines), the job
 * goes on without them. */
mend_status mend_cond_build_job(const mend_clip *clip, const mend_tokenizer *tok, const char *prompt,
                                const char *negative, int steps, const mend_cond_opts *o, mend_cond_schedule *cond,
                                mend_cond_schedule *uncond, char **ti_hashes, char **log, mend_err *err);

#endif
