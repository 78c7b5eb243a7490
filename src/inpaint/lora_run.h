/* LoRA for one job, as A1111 1.10's Lora extension does it: the <lora:...>
 * tags of the (first) positive prompt are taken out of the text, the
 * networks looked up in the LoRA folder and applied to the live text
 * encoder and UNet; after the job every changed layer is put back exactly.
 * Negative prompts keep their tags as text (A1111 parses positives only). */
#ifndef MEND_INPAINT_LORA_RUN_H
#define MEND_INPAINT_LORA_RUN_H

#include "inpaint/lora_tags.h"
#include "model/lora_model.h"

typedef struct mend_lora_run {
    mend_lora_tags tags;  /* tags.text: the prompt the text encoder gets */
    char *hashes;         /* infotext `Lora hashes` value, NULL without networks */
    char *warnings;       /* "Lora not found: a, b" / "Networks with errors: n (1)" lines, or NULL */
    char *log;            /* the layer errors behind them (keys and shapes), or NULL */
    mend_tf **files;      /* one open file per network entry */
    mend_lora_net *nets;
    int nnets;
    mend_lora_applied applied;
} mend_lora_run;

/* Parses prompt, loads and applies its networks from folder dir. Missing
 * networks and layers that do not fit are warnings (the job goes on); a
 * multiplier that is not a number, or a network file that cannot be read
 * or holds malformed modules, is an error and leaves the model unchanged.
 * Call mend_lora_run_end in every case. */
mend_status mend_lora_run_begin(mend_sd_model *m, const char *prompt, const char *dir, mend_lora_run *r,
                                mend_err *err);

/* Hands r's warnings and log over to the caller (who frees them). */
void mend_lora_run_move_notes(mend_lora_run *r, char **warnings, char **log);

/* Restores the model and frees r. */
void mend_lora_run_end(mend_lora_run *r);

#endif
