/* SHA-256 against the FIPS 180-2 / NIST example vectors, split updates, and
 * the file helper. */
#include "test.h"

#include "core/sha256.h"
#include "model/model_hash.h"

#include <fcntl.h>
#include <sys/stat.h>

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

/* The checkpoint hash cache: a hit skips hashing (proved by planting a fake
 * entry), a changed file (new mtime) is hashed again. */
TEST(model_hash_cache)
{
    char dir[512], model[600], cache[700];
    snprintf(dir, sizeof dir, "%s/cache/deep", test_tmpdir());
    snprintf(model, sizeof model, "%s/model.bin", test_tmpdir());
    snprintf(cache, sizeof cache, "%s/hashes.tsv", dir);
    setenv("MEND_CACHE_DIR", dir, 1);
    FILE *f = fopen(model, "wb");
    fputs("abc", f);
    fclose(f);
    char hex[65], again[65];
    mend_err err = {0};
    CHECK_OK(mend_model_hash(model, hex, &err), &err);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    size_t len = 0;
    char *text = test_read_file(cache, &len);
    CHECK_MSG(text && !strncmp(text, hex, 64), "cache not written: %s", text ? text : "(none)");
    if (text) { /* plant a different hash for the same key: a hit must return it */
        text[0] = text[0] == '0' ? '1' : '0';
        f = fopen(cache, "a");
        fputs(text, f);
        fclose(f);
        CHECK_OK(mend_model_hash(model, again, &err), &err);
        CHECK_MSG(again[0] == text[0] && !strcmp(again + 1, hex + 1), "cache entry not used");
    }
    free(text);
    /* the file changes (content and mtime): hashed again */
    struct timespec ts[2] = {{0, UTIME_NOW}, {12345, 0}};
    f = fopen(model, "wb");
    fputs("abcd", f);
    fclose(f);
    utimensat(AT_FDCWD, model, ts, 0);
    CHECK_OK(mend_model_hash(model, again, &err), &err);
    CHECK(!strcmp(again, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"));
    unsetenv("MEND_CACHE_DIR");
}

int main(void)
{
    RUN(model_hash_cache);
    RUN(nist_vectors);
    RUN(million_a);
    RUN(split_equals_whole);
    RUN(file_hash);
    return test_summary();
}
