/* The CLI's A1111 generation fields (issue 11 item 2): --styles from a
 * styles.csv (--styles-file), --tiling, a --mask of another size than the image,
 * several --init images; and the library's styles reader and merge
 * (include/mend/styles.h) against A1111 1.10's modules/styles.py. Runs that
 * load the tiny model made here need the CLIP vocabulary from ../shared. */
#include "test.h"

#include "mend/styles.h"

#include <stdlib.h>
#include <string.h>

/* ---- the library: merge_prompts and the CSV reader ---------------------------- */

TEST(merge_prompts_as_a1111)
{
    static const struct {
        const char *style, *prompt, *want;
    } cases[] = {
        {"{prompt}, cinematic", "a cat", "a cat, cinematic"},
        {"art of {prompt} and {prompt}", " x ", "art of  x  and  x "}, /* replaced as it is, every time */
        {"  film grain ", "  a cat\n", "a cat, film grain"},           /* both stripped, ", " between */
        {"", " a cat ", "a cat"},                                     /* an empty style strips the prompt */
        {"words", "", "words"},
        {"", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = mend_style_merge(cases[i].style, cases[i].prompt);
        CHECK_MSG(got && !strcmp(got, cases[i].want), "merge('%s', '%s') = '%s', want '%s'", cases[i].style,
                  cases[i].prompt, got ? got : "(null)", cases[i].want);
        free(got);
    }
}

TEST(styles_csv_as_python_csv_reads_it)
{
    const char *path = test_tmp_path("lib-styles.csv");
    CHECK(test_write_text(path, "\xEF\xBB\xBFname, prompt ,negative_prompt\n"
                                "\"a, b\", \"x \"\"y\"\"\",\"multi\nline\"\n"
                                "\n"
                                "#hidden,h,h\n"
                                "short,only\n"
                                "a, b,replaced,neg\n"));
    mend_styles db;
    mend_err err = {0};
    /* " prompt " is not "prompt": no prompt column (skipinitialspace keeps trailing spaces) */
    CHECK(mend_styles_load(path, &db, &err) == MEND_E_FORMAT && strstr(err.msg, "prompt") && strstr(err.msg, path));
    CHECK(test_write_text(path, "\xEF\xBB\xBFname, prompt,negative_prompt\n"
                                "\"a, b\", \"x \"\"y\"\"\",\"multi\nline\"\n"
                                "\n"
                                "#hidden,h,h\n"
                                "short,only\n"
                                "\"a, b\",replaced,neg\n"));
    CHECK_OK(mend_styles_load(path, &db, &err), &err);
    CHECK_MSG(db.count == 2, "%d styles", db.count);
    if (db.count == 2) {
        CHECK(!strcmp(db.items[0].name, "a, b") && !strcmp(db.items[0].prompt, "replaced") &&
              !strcmp(db.items[0].negative_prompt, "neg")); /* a repeated name replaces the style in its place */
        CHECK(!strcmp(db.items[1].name, "short") && !strcmp(db.items[1].prompt, "only") &&
              !strcmp(db.items[1].negative_prompt, ""));
    }
    char *p = NULL, *n = NULL;
    const char *names[] = {"short", "a, b"};
    CHECK_OK(mend_styles_apply(&db, names, 2, "cat", NULL, &p, &n, &err), &err);
    CHECK_MSG(p && n && !strcmp(p, "cat, only, replaced") && !strcmp(n, "neg"), "'%s' / '%s'", p ? p : "", n ? n : "");
    free(p), free(n);
    const char *unknown[] = {"nope"};
    CHECK(mend_styles_apply(&db, unknown, 1, "cat", "", &p, &n, &err) == MEND_E_ARG && strstr(err.msg, "'nope'") &&
          strstr(err.msg, "'short'") && !p && !n);
    mend_styles_free(&db);
    /* no file: no styles, as A1111 starts without one */
    CHECK_OK(mend_styles_load(test_tmp_path("absent.csv"), &db, &err), &err);
    CHECK(db.count == 0);
}

static int style_is(const mend_styles *db, int i, const char *name, const char *prompt, int divider)
{
    return i < db->count && !strcmp(db->items[i].name, name) && !strcmp(db->items[i].prompt, prompt) &&
           db->items[i].divider == divider;
}

/* StyleDatabase over several files: dividers named after each file, a later file's style replacing an
 * earlier one in its place, wildcards, A1111's default path in front of a wildcard. */
TEST(several_styles_files_as_a1111_reads_them)
{
    char a[512], b[512], pattern[512], none[512], missing[512];
    snprintf(a, sizeof a, "%s", test_tmp_path("sf-a.csv"));
    snprintf(b, sizeof b, "%s", test_tmp_path("sf-b.csv"));
    snprintf(pattern, sizeof pattern, "%s", test_tmp_path("sf-*.csv"));
    snprintf(none, sizeof none, "%s", test_tmp_path("nomatch-*.csv"));
    snprintf(missing, sizeof missing, "%s", test_tmp_path("sf-gone.csv"));
    remove(missing);
    CHECK(test_write_text(a, "name,prompt,negative_prompt\nA,pa,\nS,from a,\n"));
    CHECK(test_write_text(b, "name,prompt,negative_prompt\nB,pb,\nS,from b,\n"));
    const char *div_a = "----------------- SF-A -----------------", *div_b = "----------------- SF-B -----------------";
    mend_styles db;
    mend_err err = {0};
    const char *two[] = {a, b};
    CHECK_OK(mend_styles_load_files(two, 2, &db, &err), &err);
    CHECK_MSG(db.count == 5 && style_is(&db, 0, div_a, "", 1) && style_is(&db, 1, "A", "pa", 0) &&
                  style_is(&db, 2, "S", "from b", 0) && style_is(&db, 3, div_b, "", 1) && style_is(&db, 4, "B", "pb", 0),
              "%d styles, first '%s'", db.count, db.count ? db.items[0].name : "");
    mend_styles_free(&db);
    /* the wildcard matches both in name order; its first match is also A1111's default path, listed once */
    const char *glob1[] = {pattern};
    CHECK_OK(mend_styles_load_files(glob1, 1, &db, &err), &err);
    CHECK_MSG(db.count == 5 && style_is(&db, 0, div_a, "", 1) && style_is(&db, 3, div_b, "", 1), "%d styles",
              db.count);
    mend_styles_free(&db);
    /* one file: no dividers; a wildcard without a match: the folder's styles.csv (absent here): nothing */
    CHECK_OK(mend_styles_load_files(two, 1, &db, &err), &err);
    CHECK(db.count == 2 && style_is(&db, 0, "A", "pa", 0));
    mend_styles_free(&db);
    const char *nomatch[] = {none};
    CHECK_OK(mend_styles_load_files(nomatch, 1, &db, &err), &err);
    CHECK(db.count == 0);
    mend_styles_free(&db);
    /* a missing file still gets its divider, as in A1111 */
    const char *with_missing[] = {a, missing};
    CHECK_OK(mend_styles_load_files(with_missing, 2, &db, &err), &err);
    CHECK_MSG(db.count == 4 && style_is(&db, 3, "--------------- SF-GONE ----------------", "", 1), "%d: '%s'",
              db.count, db.count == 4 ? db.items[3].name : "");
    mend_styles_free(&db);
    /* a broken file names itself */
    CHECK(test_write_text(b, "title,words\nB,pb\n"));
    CHECK(mend_styles_load_files(two, 2, &db, &err) == MEND_E_FORMAT && strstr(err.msg, b));
}

/* extract_styles_from_prompt: A1111's docstring cases, and apply then extract gives the styles back. */
TEST(styles_come_back_out_of_prompts)
{
    static const struct {
        const char *style, *prompt, *left; /* left NULL: no match */
    } cases[] = {
        {"masterpiece", "1girl, art by greg, masterpiece", "1girl, art by greg"},
        {"masterpiece, {prompt}", "masterpiece, 1girl, art by greg", "1girl, art by greg"},
        {"masterpiece, {prompt}", "exquisite, 1girl, art by greg", NULL},
        {"{prompt}, x, {prompt}", "a, x, a", NULL}, /* two placeholders: A1111's split fails, no match */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mend_style st = {"s", (char *)cases[i].style, "neg", 0};
        mend_styles db = {1, &st};
        const char **names = NULL;
        int n = -1;
        char *p = NULL, *q = NULL;
        mend_err err = {0};
        CHECK_OK(mend_styles_extract(&db, cases[i].prompt, " neg", &names, &n, &p, &q, &err), &err);
        if (cases[i].left)
            CHECK_MSG(n == 1 && names && p && !strcmp(p, cases[i].left) && q && !strcmp(q, ""), "case %zu: %d '%s'", i,
                      n, p ? p : "");
        else
            CHECK_MSG(n == 0 && !names && p && !strcmp(p, cases[i].prompt), "case %zu: %d '%s'", i, n, p ? p : "");
        free(names), free(p), free(q);
    }
    mend_style two[2] = {{"Cine", "{prompt}, cinematic", "blurry", 0}, {"plain", "just words", "", 0}};
    mend_styles db = {2, two};
    const char *order[] = {"Cine", "plain"}, **names = NULL;
    char *p, *q, *p2, *q2;
    int n = 0;
    mend_err err = {0};
    CHECK_OK(mend_styles_apply(&db, order, 2, "a cat", "dog", &p, &q, &err), &err);
    CHECK_OK(mend_styles_extract(&db, p, q, &names, &n, &p2, &q2, &err), &err);
    CHECK_MSG(n == 2 && !strcmp(names[0], "Cine") && !strcmp(names[1], "plain") && !strcmp(p2, "a cat") &&
                  !strcmp(q2, "dog"),
              "%d '%s' '%s'", n, p2, q2);
    free(names), free(p), free(q), free(p2), free(q2);
}

/* ---- the CLI ---------------------------------------------------------------------- */

static char model[1024], vocab[1024];

static void save(const char *path, const mend_image *img)
{
    mend_err err = {0};
    CHECK_OK(mend_image_save_png(path, img, NULL, 0, &err), &err);
}

/* `mend ARGS` with the model; exit status, output into *out. */
static int run(const char *args, char **out)
{
    char *cmd = malloc(strlen(args) + 4096);
    if (!cmd)
        return -1;
    sprintf(cmd, "%s --model '%s' --vocab '%s' --width 64 --height 64 --steps 1 --threads 2 -q", args, model, vocab);
    int rc = test_run_mend(cmd, out);
    free(cmd);
    return rc;
}

TEST(cli_styles_merge_into_the_prompts)
{
    const char *styles = test_tmp_path("cli-styles.csv");
    CHECK(test_write_text(styles, "name,prompt,negative_prompt\nCine,\"{prompt}, cinematic\",blurry\n"));
    char *out = NULL, args[2048];
    const char *png = strdup(test_tmp_path("styled.png"));
    snprintf(args, sizeof args, "txt2img -p 'a cat' -n dog --styles Cine --styles-file '%s' -o '%s' --seed 1", styles,
             png);
    int rc = run(args, &out);
    CHECK_MSG(rc == 0, "%d %s", rc, out ? out : "");
    free(out);
    char *params = test_png_parameters(png);
    CHECK_MSG(params && !strncmp(params, "a cat, cinematic\nNegative prompt: dog, blurry\n", 46), "%s",
              params ? params : "(none)");
    free(params);
    /* two styles files: a style of each, the second file's from --styles-file=FILE */
    const char *more = test_tmp_path("cli-styles-2.csv");
    CHECK(test_write_text(more, "name,prompt,negative_prompt\nWarm,warm light,cold\n"));
    snprintf(args, sizeof args, "txt2img -p 'a cat' --styles Cine --styles Warm --styles-file '%s' --styles-file='%s' "
             "-o '%s' --seed 1", styles, more, png);
    rc = run(args, &out);
    CHECK_MSG(rc == 0, "%d %s", rc, out ? out : "");
    free(out);
    params = test_png_parameters(png);
    CHECK_MSG(params && !strncmp(params, "a cat, cinematic, warm light\nNegative prompt: blurry, cold\n", 58), "%s",
              params ? params : "(none)");
    free(params);
    snprintf(args, sizeof args, "txt2img -p x --tiling -o '%s'", png);
    rc = run(args, &out);
    free(out);
    params = test_png_parameters(png);
    CHECK_MSG(rc == 0 && params && strstr(params, ", Tiling: True, "), "--tiling: %d %s", rc, params ? params : "");
    free(params);
    snprintf(args, sizeof args, "txt2img -p x --styles Cine --styles nope --styles-file '%s' -o '%s'", styles, png);
    rc = run(args, &out);
    CHECK_MSG(rc != 0 && out && strstr(out, "'nope'") && strstr(out, "--styles"), "%d %s", rc, out ? out : "");
    free(out);
    free((char *)png);
}

TEST(cli_mask_of_another_size_and_several_inits)
{
    mend_image a = {0}, b = {0}, mask = {0};
    mend_err err = {0};
    test_make_gradient(&a, 64, 64);
    test_make_gradient(&b, 64, 64);
    for (size_t k = 2; k < (size_t)64 * 64 * 3; k += 3)
        b.data[k] = 7;
    test_make_square_mask(&mask, 40, 40); /* another size than the images */
    char pa[1100], pb[1100], pm[1100], po[1100], args[6000];
    snprintf(pa, sizeof pa, "%s", test_tmp_path("a.png"));
    snprintf(pb, sizeof pb, "%s", test_tmp_path("b.png"));
    snprintf(pm, sizeof pm, "%s", test_tmp_path("m40.png"));
    snprintf(po, sizeof po, "%s", test_tmp_path("two.png"));
    save(pa, &a), save(pb, &b), save(pm, &mask);
    char *out = NULL;
    snprintf(args, sizeof args, "inpaint --init '%s' -i '%s' --mask '%s' --batch-size 2 -o '%s' --seed 3", pa, pb, pm,
             po);
    int rc = run(args, &out);
    CHECK_MSG(rc == 0 && out && strstr(out, "two.png") && strstr(out, "two-1.png"), "%d %s", rc, out ? out : "");
    free(out);
    /* image i keeps init i's pixels outside the mask */
    const mend_image *inits[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        mend_image got = {0};
        CHECK_OK(mend_image_load(i ? test_tmp_path("two-1.png") : po, &got, &err), &err);
        CHECK(got.width == 64 && got.height == 64 && !memcmp(got.data, inits[i]->data, 3 * 64)); /* the first row */
        mend_image_free(&got);
    }
    snprintf(args, sizeof args, "img2img --init '%s' --init '%s' --batch-size 1 -o '%s'", pa, pb, po);
    rc = run(args, &out);
    CHECK_MSG(rc != 0 && out && strstr(out, "2 init images") && strstr(out, "--batch-size"), "%d %s", rc,
              out ? out : "");
    free(out);
    mend_image_free(&a), mend_image_free(&b), mend_image_free(&mask);
}

int main(void)
{
    RUN(merge_prompts_as_a1111);
    RUN(styles_csv_as_python_csv_reads_it);
    RUN(several_styles_files_as_a1111_reads_them);
    RUN(styles_come_back_out_of_prompts);
    const char *v = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (v) {
        snprintf(vocab, sizeof vocab, "%s", v);
        snprintf(model, sizeof model, "%s", test_tmp_path("tiny.safetensors"));
        CHECK(test_make_tiny_model(model, 1));
        RUN(cli_styles_merge_into_the_prompts);
        RUN(cli_mask_of_another_size_and_several_inits);
    }
    return test_summary();
}
