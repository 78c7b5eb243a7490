/* libFuzzer target: the A1111 prompt grammar — emphasis, BREAK, AND and
 * prompt editing schedules. The first byte picks the step count. */
#include "inpaint/prompt_parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int steps = 1 + data[0] % 40;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    mend_err err = {0};
    mend_prompt_pieces p;
    if (mend_prompt_parse_attention(text, &p, &err) == MEND_OK)
        mend_prompt_pieces_free(&p);
    if (mend_prompt_split_and(text, &p, &err) == MEND_OK)
        mend_prompt_pieces_free(&p);
    mend_prompt_schedule s;
    if (mend_prompt_schedule_build(text, steps, data[0] & 0x80 ? steps / 2 : 0, data[0] & 0x40, &s, &err) == MEND_OK)
        mend_prompt_schedule_free(&s);
    free(text);
    return 0;
}
