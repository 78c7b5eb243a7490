#include "model/unicode.h"

/* Index of the last row whose first column is <= cp, or -1. Rows are sorted
 * by their first column; `stride` is the row length in uint32s. */
static int last_row_at_or_below(const uint32_t *rows, int count, int stride, uint32_t cp)
{
    int lo = 0, hi = count - 1, found = -1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (rows[(size_t)mid * stride] <= cp) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static int in_ranges(const uint32_t (*ranges)[2], int count, uint32_t cp)
{
    int i = last_row_at_or_below(&ranges[0][0], count, 2, cp);
    return i >= 0 && cp <= ranges[i][1];
}

int mend_uc_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(mend_uc_letter, mend_uc_letter_count, cp);
}

int mend_uc_is_number(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    return in_ranges(mend_uc_number, mend_uc_number_count, cp);
}

int mend_uc_is_space(uint32_t cp) { return in_ranges(mend_uc_space, mend_uc_space_count, cp); }

uint32_t mend_uc_lower_cp(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    int i = last_row_at_or_below(&mend_uc_lower[0][0], mend_uc_lower_count, 4, cp);
    if (i < 0)
        return cp;
    const uint32_t *r = mend_uc_lower[i];
    if (cp > r[1])
        return cp;
    if (r[2] == 0 ? cp != r[0] : (cp - r[0]) % r[2] != 0)
        return cp;
    return cp + r[3]; /* the delta is stored modulo 2^32 */
}

static int copy_replacement(const uint32_t *repl, int max, uint32_t out[3])
{
    int n = 0;
    while (n < max && repl[n])
        out[n] = repl[n], n++;
    return n;
}

int mend_uc_compat_fold(uint32_t cp, uint32_t out[3])
{
    if (cp < 0x132)
        return 0;
    int i = last_row_at_or_below(&mend_uc_width[0][0], mend_uc_width_count, 3, cp);
    if (i >= 0 && mend_uc_width[i][0] == cp)
        return copy_replacement(&mend_uc_width[i][1], 2, out);
    i = last_row_at_or_below(&mend_uc_ligature[0][0], mend_uc_ligature_count, 4, cp);
    if (i >= 0 && mend_uc_ligature[i][0] == cp)
        return copy_replacement(&mend_uc_ligature[i][1], 3, out);
    return 0;
}
