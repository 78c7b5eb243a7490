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

int mend_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < (size_t)len)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

int mend_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
