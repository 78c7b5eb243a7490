/* Networks applied to a loaded model for one run, as A1111's
 * network_apply_weights does it per layer: for each layer any network
 * names, the live weight plus each network's delta in prompt order (times
 * its te or unet multiplier); a delta whose shape does not fit leaves that
 * layer's weight without it and counts an error for the network. Restoring
 * puts every original matrix back exactly (lora_apply.h). */
#ifndef MEND_MODEL_LORA_MODEL_H
#define MEND_MODEL_LORA_MODEL_H

#include "model/lora_apply.h"
#include "model/sd_model.h"

typedef struct mend_lora_net {
    const mend_tf *file; /* kohya names (PEFT files renamed by the caller) */
    const char *name;    /* as the prompt named it (for messages) */
    float te, unet;
    int dyn_dim;
    int modules; /* out: file modules that matched a layer of the model */
    int errors;  /* out: layers whose delta did not fit */
} mend_lora_net;

typedef struct mend_lora_applied {
    mend_lora_saved *saved; /* one per changed layer */
    int count;
    char *log; /* one line per layer error: network, checkpoint key, both shapes; NULL if none */
} mend_lora_applied;

/* Applies nets[0..n) to m's text encoder and UNet. Any failure other than a
 * shape mismatch (a malformed module, out of memory) restores what was
 * changed and returns the error: the model is as it was. */
mend_status mend_lora_apply_model(mend_sd_model *m, mend_lora_net *nets, int n, mend_lora_applied *a, mend_err *err);

/* Puts every changed layer back and frees the record (a may be zeroed). */
void mend_lora_restore_model(mend_lora_applied *a);

#endif
