/* SHA-256 against the FIPS 180-2 / NIST example vectors, split updates, and
 * the file helper. */
#include "test.h"

#include "core/sha256.h"

#include <string.h>

static void hash_str(const char *s, char hex[65])
{
    mend_sha256 h;
    uint8_t d[32];
    mend_sha256_init(&h);
    mend_sha256_update(&h, s, strlen(s));
    mend_sha256_final(&h, d);
    mend_sha256_hex(d, hex);
}

TEST(nist_vectors)
{
    char hex[65];
    hash_str("", hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    hash_str("abc", hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    hash_str("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
}

/* one million 'a', fed in uneven pieces so that block boundaries fall
 * everywhere */
TEST(million_a)
{
    static char buf[1000];
    memset(buf, 'a', sizeof buf);
    mend_sha256 h;
    mend_sha256_init(&h);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        mend_sha256_update(&h, buf, n);
        left -= n;
        step = step % 983 + 7; /* pieces of 7..989 bytes */
    }
    uint8_t d[32];
    char hex[65];
    mend_sha256_final(&h, d);
    mend_sha256_hex(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

/* padding edge cases: 55, 56, 63, 64 bytes hash the same in one piece and
 * byte by byte */
TEST(split_equals_whole)
{
    char msg[130];
    for (int i = 0; i < 129; i++)
        msg[i] = (char)('A' + i % 26);
    msg[129] = 0;
    static const int lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 129};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        mend_sha256 a, b;
        uint8_t da[32], db[32];
        mend_sha256_init(&a);
        mend_sha256_init(&b);
        mend_sha256_update(&a, msg, (size_t)lens[k]);
        for (int i = 0; i < lens[k]; i++)
            mend_sha256_update(&b, msg + i, 1);
        mend_sha256_final(&a, da);
        mend_sha256_final(&b, db);
        CHECK_MSG(memcmp(da, db, 32) == 0, "length %d", lens[k]);
    }
}

TEST(file_hash)
{
    char path[512], hex[65];
    snprintf(path, sizeof path, "%s/sha_abc.txt", test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("abc", f);
    fclose(f);
    mend_err err = {0};
    CHECK_OK(mend_sha256_file(path, hex, &err), &err);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    remove(path);
    CHECK(mend_sha256_file(path, hex, &err) == MEND_E_IO);
    CHECK(strstr(err.msg, "sha_abc.txt") != NULL);
}

int main(void)
{
    RUN(nist_vectors);
    RUN(million_a);
    RUN(split_equals_whole);
    RUN(file_hash);
    return test_summary();
}
