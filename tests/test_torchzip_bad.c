/* torch.save zip checkpoints (.ckpt / .pth) that are damaged or hostile:
 *   - bad inputs, each refused with a message naming the file;
 *   - 2000 randomly damaged variants of a valid file never crash.
 * The files are written by torchzip_fixture.c. */
#include "torchzip_fixture.h"

#include <string.h>

/* Opening must fail with MEND_E_FORMAT and a message naming the file and
 * containing `phrase`. */
static void expect_error(const char *path, const char *phrase)
{
    mend_err err = {0};
    mend_tf *f = NULL;
    mend_status s = mend_tf_open(path, &f, &err);
    CHECK_MSG(s == MEND_E_FORMAT, "%s opened (%s), expected an error about '%s'", path, mend_status_name(s), phrase);
    CHECK(f == NULL);
    CHECK_MSG(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    CHECK_MSG(strstr(err.msg, phrase) != NULL, "message lacks '%s': %s", phrase, err.msg);
    printf("  %-22s -> %s\n", strrchr(path, '/') + 1, err.msg + strlen(path));
    mend_tf_close(f);
}

/* A file with one pickle and the storages of the small fixture. */
static void expect_pickle_error(const char *name, const uint8_t *pkl, size_t n, const char *phrase)
{
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}};
    const char *path = test_tmp_path(name);
    if (write_torch_file(path, pkl, n, s, 1, 0))
        expect_error(path, phrase);
}

/* One tensor "a" described by t, in a file that holds storage "0" of 6 floats. */
static void expect_tensor_error(const char *name, fx_tensor t, const char *phrase)
{
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}};
    t.name = "a";
    const char *path = test_tmp_path(name);
    if (write_checkpoint(path, &t, 1, s, 1, 0, 0))
        expect_error(path, phrase);
}

TEST(damaged_archives_are_rejected)
{
    const char *good = write_small("good.pth", 0);
    size_t n = 0;
    char *bytes = good ? test_read_file(good, &n) : NULL;
    if (!bytes)
        return;
    const char *p = test_tmp_path("truncated.pth");
    if (save_bytes(p, bytes, n * 2 / 3))
        expect_error(p, "truncated");
    p = test_tmp_path("tiny.pth");
    if (save_bytes(p, bytes, 10))
        expect_error(p, "too short");
    free(bytes);

    pw w = {0};
    make_pickle(&w, (fx_tensor[]){{.name = "a", .storage = "FloatStorage", .key = "0", .storage_numel = 6,
                                   .ndim = 1, .shape = {6}}},
                1, 0);
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}};
    p = test_tmp_path("no_pickle.pth");
    if (write_torch_file(p, w.b.d, w.b.n, s, 1, Z_NO_PKL))
        expect_error(p, "data.pkl");
    p = test_tmp_path("compressed.pth");
    if (write_torch_file(p, w.b.d, w.b.n, s, 1, Z_COMPRESS_PKL))
        expect_error(p, "is compressed");
    p = test_tmp_path("big_endian.pth");
    if (write_torch_file(p, w.b.d, w.b.n, s, 1, Z_BIG_ENDIAN))
        expect_error(p, "little-endian");
    expect_pickle_error("cut_pickle.pth", w.b.d, w.b.n - 40, "truncated");
    /* cut inside the BINUNICODE "storage" (its length is read, not all bytes) */
    for (size_t i = 0; i + 7 <= w.b.n; i++)
        if (!memcmp(w.b.d + i, "storage", 7)) {
            expect_pickle_error("cut_mid_opcode.pth", w.b.d, i + 3, "middle of opcode");
            break;
        }
    free(w.b.d);

    p = test_tmp_path("legacy.pt");
    if (save_bytes(p, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15))
        expect_error(p, "legacy");
}

TEST(forbidden_globals_are_refused)
{
    /* GLOBAL posix.system called with "echo pwned" */
    static const char sys[] = "\x80\x02" "cposix\nsystem\nq\x00X\x0a\x00\x00\x00" "echo pwnedq\x01\x85q\x02Rq\x03.";
    expect_pickle_error("posix_system.pth", (const uint8_t *)sys, sizeof sys - 1, "'posix.system'");
    /* protocol 4: STACK_GLOBAL builtins.eval */
    static const char ev[] = "\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08" "builtins\x94\x8c\x04"
                             "eval\x94\x93\x94\x8c\x04" "1+1)\x94\x85\x94R\x94.";
    expect_pickle_error("builtins_eval.pth", (const uint8_t *)ev, sizeof ev - 1, "'builtins.eval'");
    /* a state dict whose tensor is built by os.system instead of torch */
    static const char os[] = "\x80\x02}q\x00X\x01\x00\x00\x00" "aq\x01" "cos\nsystem\nq\x02X\x02\x00\x00\x00lsq\x03"
                             "\x85Rq\x04s.";
    expect_pickle_error("os_system.pth", (const uint8_t *)os, sizeof os - 1, "not allowed");
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK(mend_tf_open(test_tmp_path("os_system.pth"), &f, &err) == MEND_E_FORMAT);
    CHECK(strstr(err.msg, "no code in them is ever run") != NULL);
}

TEST(bad_tensors_are_rejected)
{
    fx_tensor base = {.storage = "FloatStorage", .key = "0", .storage_numel = 6, .ndim = 2, .shape = {2, 3}};
    fx_tensor t = base;
    t.key = "9";
    expect_tensor_error("missing_storage.pth", t, "storage 'archive/data/9' is missing");
    t = base;
    t.offset = 2;
    expect_tensor_error("past_storage.pth", t, "extends past the end of its storage");
    t = base;
    t.storage_numel = 7; /* 7 floats declared, 6 stored */
    expect_tensor_error("short_storage.pth", t, "holds 24 bytes");
    t = base;
    t.stride = (const int64_t[]){1, 2};
    expect_tensor_error("transposed.pth", t, "not contiguous");
    t = base;
    t.storage = "ComplexFloatStorage";
    expect_tensor_error("complex.pth", t, "storage type 'torch.ComplexFloatStorage'");
    t = base;
    t.storage = "QInt8Storage";
    expect_tensor_error("qint8.pth", t, "not supported");
    t = base;
    t.storage = "UntypedStorage";
    expect_tensor_error("untyped_v2.pth", t, "untyped storage");
    t = base;
    t.how = FX_V3;
    t.v3_dtype = "float16";
    expect_tensor_error("v3_mismatch.pth", t, "is F16 but its storage is F32");
}

TEST(hostile_pickle_structure_is_rejected)
{
    buf b = {0};
    PUT_LIT(&b, "\x80\x02");
    for (int i = 0; i < 5000; i++)
        put_u8(&b, '(');
    put_u8(&b, '.');
    expect_pickle_error("deep_marks.pth", b.d, b.n, "MARKs more than");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02}r\xf0\xff\xff\xff."); /* LONG_BINPUT 0xfffffff0 */
    expect_pickle_error("huge_memo_put.pth", b.d, b.n, "memo entry 4294967280");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02}q\x00j\x00\x00\x00\x10."); /* LONG_BINGET of nothing */
    expect_pickle_error("huge_memo_get.pth", b.d, b.n, "never stored");
    b.n = 0;
    /* 100000 nested lists: fine for the machine (no recursion), but not a dict */
    PUT_LIT(&b, "\x80\x02");
    for (int i = 0; i < 100000; i++)
        put(&b, "]q\x00", 3);
    for (int i = 0; i < 99999; i++)
        put_u8(&b, 'a');
    put_u8(&b, '.');
    expect_pickle_error("nested_lists.pth", b.d, b.n, "holds a list, not a dict");
    b.n = 0;
    /* a list that contains itself */
    PUT_LIT(&b, "\x80\x02]q\x00h\x00" "a.");
    expect_pickle_error("self_list.pth", b.d, b.n, "not a dict");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02}q\x00" "X\x01\x00\x00\x00nK\x05s."); /* {"n": 5} */
    expect_pickle_error("no_tensors.pth", b.d, b.n, "holds no tensors");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02" "0.");
    expect_pickle_error("pop_empty.pth", b.d, b.n, "no MARK");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02I1\n.");
    expect_pickle_error("text_opcode.pth", b.d, b.n, "opcode 'I'");
    b.n = 0;
    /* an empty list from MARK before anything was pushed: under UBSan this
     * was NULL + 0 in the reader */
    PUT_LIT(&b, "\x80\x02(l.");
    expect_pickle_error("mark_list.pth", b.d, b.n, "not a dict");
    free(b.d);
}

/* ------------------------------------------------------------ fuzzing */

/* 2000 variants of a valid checkpoint with random bytes changed (or cut
 * short): each either loads, with every tensor readable, or fails with a
 * message naming the file. Under the sanitizer build any out-of-bounds
 * read shows up here. */
TEST(damaged_variants_never_crash)
{
    float f32[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint16_t h[2] = {0x3c00, 0xc000};
    fx_tensor t[] = {
        {.name = "model.w", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .ndim = 2, .shape = {2, 4}},
        {.name = "model.v", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .offset = 6, .ndim = 1,
         .shape = {2}, .how = FX_PARAM},
        {.name = "model.h", .storage = "UntypedStorage", .key = "1", .storage_numel = 4, .ndim = 1, .shape = {2},
         .how = FX_V3, .v3_dtype = "float16"},
    };
    fx_storage s[] = {{"0", f32, sizeof f32}, {"1", h, sizeof h}};
    pw w = {0};
    make_pickle(&w, t, 3, 1);
    buf z = {0};
    torch_zip(&z, w.b.d, w.b.n, s, 2, Z_ZIP64);
    free(w.b.d);
    const char *path = test_tmp_path("fuzz.ckpt");
    uint8_t *v = malloc(z.n);
    int loaded = 0, failed = 0, unnamed = 0;
    rng_state = 2024;
    for (int k = 0; v && k < 2000; k++) {
        memcpy(v, z.d, z.n);
        size_t n = z.n;
        int flips = 1 + (int)(rnd() % 8);
        for (int i = 0; i < flips; i++) {
            static const uint8_t special[] = {0x00, 0xff, 0x7f, 0x80, '(', '.', 'q', 'h', 'R', 't', 'u', 'Q'};
            size_t at = rnd() % n;
            v[at] = rnd() % 2 ? (uint8_t)rnd() : special[rnd() % sizeof special];
        }
        if (k % 10 == 9)
            n = 1 + rnd() % n;
        if (!save_bytes(path, v, n))
            break;
        mend_err err = {0};
        mend_tf *f = NULL;
        if (mend_tf_open(path, &f, &err) == MEND_OK) {
            loaded++;
            for (int i = 0; i < f->count; i++) {
                float *x = test_load_f32(f, f->tensors[i].name, NULL);
                free(x);
            }
            mend_tf_close(f);
        } else {
            failed++;
            unnamed += strstr(err.msg, path) == NULL;
        }
    }
    printf("  2000 damaged variants: %d loaded, %d rejected\n", loaded, failed);
    CHECK(loaded + failed == 2000);
    CHECK(failed > 0 && loaded > 0); /* the damage reaches both harmless and fatal bytes */
    CHECK_MSG(unnamed == 0, "%d error messages did not name the file", unnamed);
    free(v);
    free(z.d);
}

int main(void)
{
    RUN(damaged_archives_are_rejected);
    RUN(forbidden_globals_are_refused);
    RUN(bad_tensors_are_rejected);
    RUN(hostile_pickle_structure_is_rejected);
    RUN(damaged_variants_never_crash);
    return test_summary();
}
