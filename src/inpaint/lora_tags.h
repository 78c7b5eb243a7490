/* <lora:...> / <lyco:...> tags of a positive prompt, as A1111 1.10's
 * extra_networks.parse_prompt and extra_networks_lora.activate read them. */
#ifndef MEND_INPAINT_LORA_TAGS_H
#define MEND_INPAINT_LORA_TAGS_H

#include "core/err.h"

typedef struct mend_lora_tag {
    char *name;     /* as written (file stem or ss_output_name alias) */
    double te, unet; /* multipliers (Python floats) */
    int dyn_dim;    /* 0: none */
} mend_lora_tag;

typedef struct mend_lora_tags {
    char *text;          /* the prompt with every <type:args> tag removed */
    mend_lora_tag *tags; /* lora/lyco tags in prompt order */
    int count;
} mend_lora_tags;

/* Removes every extra-network tag (any type; unknown ones are ignored) and
 * collects the lora/lyco ones. A name given twice is one network in A1111:
 * every entry gets the last tag's multipliers. MEND_E_ARG for a multiplier
 * that is not a number (A1111 raises there too). */
mend_status mend_lora_tags_parse(const char *prompt, mend_lora_tags *out, mend_err *err);
void mend_lora_tags_free(mend_lora_tags *t);

/* Looks every tag up in the LoRA folder dir: *hashes = A1111's infotext
 * value `name: shorthash, ...` (each name once, ':' and ',' removed; NULL
 * when no network was found), *missing = the names not found, ", "-joined
 * (NULL when all were found; A1111 goes on and says "Networks not found"). */
mend_status mend_lora_tags_lookup(const mend_lora_tags *t, const char *dir, char **hashes, char **missing, mend_err *err);

#endif
