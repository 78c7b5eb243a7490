/* The few Unicode properties the CLIP tokenizer needs, as sorted range
 * tables generated from the reference's own Python modules
 * (tools/gen_unicode_tables.py -> unicode_tables.c). */
#ifndef MEND_MODEL_UNICODE_H
#define MEND_MODEL_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/utf8.h" /* the tokenizer decodes prompts with it */

extern const uint32_t mend_uc_letter[][2]; /* regex \p{L} */
extern const int mend_uc_letter_count;
extern const uint32_t mend_uc_number[][2]; /* regex \p{N} */
extern const int mend_uc_number_count;
extern const uint32_t mend_uc_space[][2]; /* str.isspace(), i.e. re's \s */
extern const int mend_uc_space_count;
extern const uint32_t mend_uc_lower[][4]; /* str.lower() one-to-one mappings */
extern const int mend_uc_lower_count;
extern const uint32_t mend_uc_width[][3];    /* ftfy fix_character_width */
extern const int mend_uc_width_count;
extern const uint32_t mend_uc_ligature[][4]; /* ftfy fix_latin_ligatures */
extern const int mend_uc_ligature_count;

int mend_uc_is_letter(uint32_t cp);
int mend_uc_is_number(uint32_t cp);
int mend_uc_is_space(uint32_t cp);

/* Lower case of cp where Python's str.lower() gives one code point
 * (U+0130 'İ', the one two-code-point case, is left to the caller). */
uint32_t mend_uc_lower_cp(uint32_t cp);

/* ftfy's character-width and Latin-ligature replacement of cp into out
 * (up to 3 code points); returns how many, or 0 when cp stays. */
int mend_uc_compat_fold(uint32_t cp, uint32_t out[3]);

#endif
