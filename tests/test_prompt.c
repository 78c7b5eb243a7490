/* A1111 prompt syntax: emphasis parsing, AND, prompt editing schedules
 * against prompt_parser/prompt_parser.json; chunking and multipliers
 * against text_encoder/a1111_cond.safetensors (needs the CLIP tokenizer);
 * chunking rules with a fake tokenizer; hostile input. */
#include "test.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "inpaint/prompt_chunks.h"
#include "inpaint/prompt_parser.h"
#include "model/tokenizer.h"

static int rel_close(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fabs(want) || got == want;
}

/* ---------------------------------------------------------------- */
/* parse_prompt_attention                                             */

/* Prints what a case wanted (want) and got (n items, print_item formats
 * item i of got); prompt is named when not NULL. */
static void report_mismatch(const char *prompt, const cJSON *want, const void *got, int n,
                            void (*print_item)(const void *got, int i))
{
    char *w = cJSON_PrintUnformatted(want);
    if (prompt)
        fprintf(stderr, "  prompt %s\n", prompt);
    fprintf(stderr, "  want %s\n  got  [", w);
    for (int i = 0; i < n; i++) {
        fputs(i ? ", " : "", stderr);
        print_item(got, i);
    }
    fprintf(stderr, "]\n");
    free(w);
}

static void print_piece(const void *got, int i)
{
    const mend_prompt_pieces *p = got;
    fprintf(stderr, "[\"%s\", %.17g]", p->items[i].text, p->items[i].weight);
}

static void print_schedule_entry(const void *got, int i)
{
    const mend_prompt_schedule *s = got;
    fprintf(stderr, "[%d, \"%s\"]", s->items[i].end_at_step, s->items[i].text);
}

/* Compares pieces with the json [[text, weight], ...]; returns 1 if equal. */
static int pieces_match(const mend_prompt_pieces *got, const cJSON *want, const char *prompt)
{
    int n = cJSON_GetArraySize(want), ok = got->n == n;
    for (int i = 0; ok && i < n; i++) {
        const cJSON *pair = cJSON_GetArrayItem(want, i);
        const char *text = cJSON_GetArrayItem(pair, 0)->valuestring;
        double w = cJSON_GetArrayItem(pair, 1)->valuedouble;
        ok = strcmp(got->items[i].text, text) == 0 && rel_close(got->items[i].weight, w, 1e-6);
    }
    if (!ok)
        report_mismatch(prompt, want, got, got->n, print_piece);
    return ok;
}

TEST(attention_matches_a1111)
{
    REQUIRE_SHARED(path, "prompt_parser/prompt_parser.json");
    cJSON *j = test_read_json(path);
    const cJSON *cases = cJSON_GetObjectItem(j, "parse_prompt_attention");
    CHECK_MSG(cJSON_GetArraySize(cases) > 0, "no cases in %s", path);
    int checked = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *prompt = test_json_string(c, "prompt", "prompt_parser.json");
        if (!prompt)
            continue;
        mend_prompt_pieces got;
        mend_err err = {0};
        CHECK_OK(mend_prompt_parse_attention(prompt, &got, &err), &err);
        CHECK_MSG(pieces_match(&got, cJSON_GetObjectItem(c, "parsed"), prompt), "case '%s'", prompt);
        mend_prompt_pieces_free(&got);
        checked++;
    }
    printf("  %d parse_prompt_attention cases\n", checked);
    cJSON_Delete(j);
}

TEST(attention_break_pieces)
{
    mend_prompt_pieces p;
    mend_err err = {0};
    CHECK_OK(mend_prompt_parse_attention("a BREAK b", &p, &err), &err);
    CHECK(p.n == 3 && mend_prompt_piece_is_break(&p.items[1]) && !mend_prompt_piece_is_break(&p.items[0]));
    mend_prompt_pieces_free(&p);
    /* inside brackets BREAK's weight is multiplied: no longer a chunk break */
    CHECK_OK(mend_prompt_parse_attention("(a BREAK b:1.5)", &p, &err), &err);
    CHECK(p.n == 3 && !mend_prompt_piece_is_break(&p.items[1]) && strcmp(p.items[1].text, "BREAK") == 0);
    mend_prompt_pieces_free(&p);
    /* Python's \b: a CJK letter is a word character, an emoji is not */
    CHECK_OK(mend_prompt_parse_attention("\xe7\x8c\xab" "BREAK x", &p, &err), &err);
    CHECK(p.n == 1);
    mend_prompt_pieces_free(&p);
    CHECK_OK(mend_prompt_parse_attention("\xf0\x9f\x90\xb1" "BREAK x", &p, &err), &err);
    CHECK(p.n == 3);
    mend_prompt_pieces_free(&p);
    /* non-breaking space is Python whitespace: swallowed around BREAK */
    CHECK_OK(mend_prompt_parse_attention("a\xc2\xa0" "BREAK\xc2\xa0" "b", &p, &err), &err);
    CHECK(p.n == 3 && strcmp(p.items[0].text, "a") == 0 && strcmp(p.items[2].text, "b") == 0);
    mend_prompt_pieces_free(&p);
}

TEST(attention_hostile_input)
{
    mend_prompt_pieces p;
    mend_err err = {0};
    /* lone backslash at the end: dropped, as A1111's \\ alternative does */
    CHECK_OK(mend_prompt_parse_attention("abc\\", &p, &err), &err);
    CHECK(p.n == 1 && strcmp(p.items[0].text, "abc") == 0 && p.items[0].weight == 1.0);
    mend_prompt_pieces_free(&p);

    /* weights float() refuses: A1111 raises, so do we, naming the text */
    CHECK(mend_prompt_parse_attention("(a:1.2.3)", &p, &err) == MEND_E_ARG);
    CHECK(strstr(err.msg, "1.2.3") != NULL);
    CHECK(p.n == 0 && p.items == NULL);
    CHECK(mend_prompt_parse_attention("(a:.)", &p, &err) == MEND_E_ARG);
    /* ...but only when a '(' is open: otherwise it is text */
    CHECK_OK(mend_prompt_parse_attention("a:1.2.3)", &p, &err), &err);
    CHECK(p.n == 1 && strcmp(p.items[0].text, "a:1.2.3)") == 0);
    mend_prompt_pieces_free(&p);

    /* invalid UTF-8: overlong, lone continuation, truncated, surrogate */
    const char *bad[] = {"a \xc0\xaf", "\x80", "abc \xe6\x97", "\xed\xa0\x80"};
    for (int i = 0; i < 4; i++) {
        CHECK(mend_prompt_parse_attention(bad[i], &p, &err) == MEND_E_ARG);
        CHECK(strstr(err.msg, "UTF-8") != NULL);
    }
    CHECK(mend_prompt_parse_attention(NULL, &p, &err) == MEND_E_ARG);

    /* 20000 nested brackets, closed and unclosed: weights 1.1^k overflow to inf, no crash */
    enum { DEPTH = 20000 };
    char *deep = malloc(2 * DEPTH + 2);
    memset(deep, '(', DEPTH);
    deep[DEPTH] = 'x';
    memset(deep + DEPTH + 1, ')', DEPTH);
    deep[2 * DEPTH + 1] = '\0';
    CHECK_OK(mend_prompt_parse_attention(deep, &p, &err), &err);
    CHECK(p.n == 1 && strcmp(p.items[0].text, "x") == 0 && isinf(p.items[0].weight));
    mend_prompt_pieces_free(&p);
    memset(deep, '[', DEPTH); /* unclosed: (1/1.1)^20000 sinks to a subnormal, as in Python */
    deep[DEPTH] = 'x';
    deep[DEPTH + 1] = '\0';
    CHECK_OK(mend_prompt_parse_attention(deep, &p, &err), &err);
    CHECK(p.n == 1 && p.items[0].weight < 1e-300);
    mend_prompt_pieces_free(&p);
    free(deep);
}

/* ---------------------------------------------------------------- */
/* AND                                                                */

TEST(multicond_matches_a1111)
{
    REQUIRE_SHARED(path, "prompt_parser/prompt_parser.json");
    cJSON *j = test_read_json(path);
    const cJSON *cases = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "get_multicond_prompt_list"), "cases");
    CHECK_MSG(cJSON_GetArraySize(cases) > 0, "no cases in %s", path);
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *prompt = test_json_string(c, "prompt", "prompt_parser.json");
        if (!prompt)
            continue;
        const cJSON *flat = cJSON_GetObjectItem(c, "prompt_flat_list");
        const cJSON *idx = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "res_indexes"), 0);
        mend_prompt_pieces got;
        mend_err err = {0};
        CHECK_OK(mend_prompt_split_and(prompt, &got, &err), &err);
        int ok = got.n == cJSON_GetArraySize(idx);
        for (int i = 0; ok && i < got.n; i++) {
            const cJSON *pair = cJSON_GetArrayItem(idx, i);
            int k = cJSON_GetArrayItem(pair, 0)->valueint;
            const char *text = cJSON_GetArrayItem(flat, k)->valuestring;
            ok = strcmp(got.items[i].text, text) == 0 &&
                 rel_close(got.items[i].weight, cJSON_GetArrayItem(pair, 1)->valuedouble, 1e-6);
        }
        CHECK_MSG(ok, "AND case '%s'", prompt);
        mend_prompt_pieces_free(&got);
    }
    cJSON_Delete(j);
}

/* ---------------------------------------------------------------- */
/* Prompt editing                                                     */

static int schedule_match(const mend_prompt_schedule *got, const cJSON *want)
{
    int ok = got->n == cJSON_GetArraySize(want);
    for (int i = 0; ok && i < got->n; i++) {
        const cJSON *e = cJSON_GetArrayItem(want, i);
        ok = got->items[i].end_at_step == cJSON_GetArrayItem(e, 0)->valueint &&
             strcmp(got->items[i].text, cJSON_GetArrayItem(e, 1)->valuestring) == 0;
    }
    if (!ok)
        report_mismatch(NULL, want, got, got->n, print_schedule_entry);
    return ok;
}

TEST(schedules_match_a1111)
{
    REQUIRE_SHARED(path, "prompt_parser/prompt_parser.json");
    cJSON *j = test_read_json(path);
    const cJSON *cases =
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "get_learned_conditioning_prompt_schedules"), "cases");
    CHECK_MSG(cJSON_GetArraySize(cases) > 0, "no cases in %s", path);
    int checked = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        int steps = (int)test_json_number(c, "steps", 1, "prompt_parser.json");
        const cJSON *hires = cJSON_GetObjectItem(c, "hires_steps");
        int hires_steps = cJSON_IsNumber(hires) ? hires->valueint : 0;
        int old = cJSON_IsTrue(cJSON_GetObjectItem(c, "use_old_scheduling"));
        const cJSON *prompts = cJSON_GetObjectItem(c, "prompts");
        const cJSON *schedules = cJSON_GetObjectItem(c, "schedules");
        for (int i = 0; i < cJSON_GetArraySize(prompts); i++) {
            const char *prompt = cJSON_GetArrayItem(prompts, i)->valuestring;
            mend_prompt_schedule got;
            mend_err err = {0};
            CHECK_OK(mend_prompt_schedule_build(prompt, steps, hires_steps, old, &got, &err), &err);
            CHECK_MSG(schedule_match(&got, cJSON_GetArrayItem(schedules, i)), "'%s' steps %d hires %d old %d",
                      prompt, steps, hires_steps, old);
            mend_prompt_schedule_free(&got);
            checked++;
        }
    }
    printf("  %d schedule prompts\n", checked);
    cJSON_Delete(j);
}

/* Runs one schedule and renders it as "step:text|step:text|...". */
static const char *schedule_str(const char *prompt, int steps, int hires)
{
    static char buf[4096];
    mend_prompt_schedule s;
    mend_err err = {0};
    if (mend_prompt_schedule_build(prompt, steps, hires, 0, &s, &err) != MEND_OK) {
        snprintf(buf, sizeof buf, "error: %s", err.msg);
        return buf;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < s.n && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d:%s", i ? "|" : "", s.items[i].end_at_step,
                                s.items[i].text);
    mend_prompt_schedule_free(&s);
    return buf;
}

#define CHECK_SCHEDULE(prompt, steps, hires, want)                                                  \
    do {                                                                                              \
        const char *got_ = schedule_str(prompt, steps, hires);                                       \
        CHECK_MSG(strcmp(got_, want) == 0, "schedule of '%s': got '%s', want '%s'", prompt, got_, want); \
    } while (0)

/* Behaviour documented by A1111's own doctests of
 * get_learned_conditioning_prompt_schedules (v1.10.1). */
TEST(schedules_a1111_doctests)
{
    CHECK_SCHEDULE("test", 10, 0, "10:test");
    CHECK_SCHEDULE("a [b:3]", 10, 0, "3:a |10:a b");
    CHECK_SCHEDULE("a [b: 3]", 10, 0, "3:a |10:a b");
    CHECK_SCHEDULE("a [[[b]]:2]", 10, 0, "2:a |10:a [[b]]");
    CHECK_SCHEDULE("[(a:2):3]", 10, 0, "3:|10:(a:2)");
    CHECK_SCHEDULE("a [b : c : 1] d", 10, 0, "1:a b  d|10:a  c  d");
    CHECK_SCHEDULE("a[b:[c:d:2]:1]e", 10, 0, "1:abe|2:ace|10:ade");
    CHECK_SCHEDULE("a [unbalanced", 10, 0, "10:a [unbalanced");
    CHECK_SCHEDULE("a [b:.5] c", 10, 0, "5:a  c|10:a b c");
    CHECK_SCHEDULE("((a][:b:c [d:3]", 10, 0, "3:((a][:b:c |10:((a][:b:c d");
    CHECK_SCHEDULE("[fe|||]male", 10, 0,
                   "1:female|2:male|3:male|4:male|5:female|6:male|7:male|8:male|9:female|10:male");
    CHECK_SCHEDULE("a [b:.5] c", 10, 10, "10:a b c");
    CHECK_SCHEDULE("a [b:1.5] c", 10, 10, "5:a  c|10:a b c");
}

TEST(schedules_hostile_input)
{
    /* the grammar rejects a stray '|' or a trailing backslash: prompt as is */
    CHECK_SCHEDULE("[a:b:0.5] x | y", 10, 0, "10:[a:b:0.5] x | y");
    CHECK_SCHEDULE("[a:b:0.5] \\", 10, 0, "10:[a:b:0.5] \\");
    CHECK_SCHEDULE("[a:b:0.5] \\\\ \\[", 10, 0, "5:a \\\\ \\[|10:b \\\\ \\[");
    CHECK_SCHEDULE("", 4, 0, "4:");
    CHECK_SCHEDULE("[a:b:-3]", 4, 0, "4:b");
    CHECK_SCHEDULE("[a:b:1e1]", 20, 0, "10:a|20:b");
    CHECK(strncmp(schedule_str("[a:b:1e999]", 20, 0), "error:", 6) == 0);
    CHECK(strncmp(schedule_str("x", 0, 0), "error:", 6) == 0);
    CHECK(strncmp(schedule_str("x \xff", 10, 0), "error:", 6) == 0);

    /* deep nesting, valid and not: bounded, never crashes */
    enum { DEPTH = 5000 };
    char *deep = malloc(3 * DEPTH + 16);
    size_t n = 0;
    for (int i = 0; i < DEPTH; i++)
        deep[n++] = '[';
    deep[n++] = 'x';
    deep[n] = '\0';
    mend_prompt_schedule s;
    mend_err err = {0};
    CHECK_OK(mend_prompt_schedule_build(deep, 10, 0, 0, &s, &err), &err);
    CHECK(s.n == 1 && strcmp(s.items[0].text, deep) == 0);
    mend_prompt_schedule_free(&s);
    for (int i = 0; i < DEPTH; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    CHECK_OK(mend_prompt_schedule_build(deep, 10, 0, 0, &s, &err), &err);
    CHECK(s.n == 1 && strcmp(s.items[0].text, deep) == 0);
    mend_prompt_schedule_free(&s);
    /* an edit inside 20 levels of emphasis still works */
    n = 0;
    for (int i = 0; i < 20; i++)
        deep[n++] = '(';
    n += (size_t)sprintf(deep + n, "[a:b:2]");
    for (int i = 0; i < 20; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    CHECK_OK(mend_prompt_schedule_build(deep, 10, 0, 0, &s, &err), &err);
    CHECK(s.n == 2 && s.items[0].end_at_step == 2 && strstr(s.items[0].text, "(a)") && strstr(s.items[1].text, "(b)"));
    mend_prompt_schedule_free(&s);
    free(deep);
}

/* ---------------------------------------------------------------- */
/* Chunking with a fake tokenizer: words split at spaces, "," is the
 * comma id, every other word is 1000 + its length.                   */

static mend_status fake_tokenize(void *user, const char *text, int32_t **ids, int *n, mend_err *err)
{
    (void)user;
    size_t len = strlen(text);
    *ids = malloc((len + 1) * sizeof **ids);
    if (!*ids)
        return mend_fail(err, MEND_E_NOMEM, "fake tokenizer");
    *n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && text[i] == ' ')
            i++;
        size_t j = i;
        while (j < len && text[j] != ' ')
            j++;
        if (j > i)
            (*ids)[(*n)++] = (j - i == 1 && text[i] == ',') ? MEND_CLIP_COMMA : (int32_t)(1000 + (j - i));
        i = j;
    }
    return MEND_OK;
}

static char *repeat_words(const char *word, int count, const char *tail)
{
    size_t wl = strlen(word);
    char *s = malloc(wl * (size_t)count + strlen(tail) + 1);
    size_t n = 0;
    for (int i = 0; i < count; i++, n += wl)
        memcpy(s + n, word, wl);
    strcpy(s + n, tail);
    return s;
}

TEST(chunks_rules)
{
    mend_chunk_opts o;
    mend_chunk_opts_default(&o);
    mend_prompt_chunks c;
    mend_err err = {0};

    /* empty prompt: one chunk BOS + 76 EOS, token count 0 */
    CHECK_OK(mend_prompt_chunks_build("", &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 1 && c.token_count == 0 && c.tokens[0] == MEND_CLIP_BOS && c.tokens[1] == MEND_CLIP_EOS &&
          c.tokens[76] == MEND_CLIP_EOS);
    mend_prompt_chunks_free(&c);

    /* weights land on the tokens of their text, 1 on BOS/EOS */
    CHECK_OK(mend_prompt_chunks_build("aa (bbb:1.5) [c]", &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 1 && c.token_count == 3);
    CHECK(c.tokens[1] == 1002 && c.tokens[2] == 1003 && c.tokens[3] == 1001 && c.tokens[4] == MEND_CLIP_EOS);
    CHECK(c.multipliers[0] == 1.0f && c.multipliers[1] == 1.0f && c.multipliers[2] == 1.5f &&
          c.multipliers[3] == (float)(1 / 1.1) && c.multipliers[4] == 1.0f);
    mend_prompt_chunks_free(&c);

    /* BREAK pads the chunk; token count counts a full chunk for it */
    CHECK_OK(mend_prompt_chunks_build("a BREAK b c", &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 2 && c.token_count == 75 + 2);
    CHECK(c.tokens[1] == 1001 && c.tokens[2] == MEND_CLIP_EOS && c.tokens[77] == MEND_CLIP_BOS &&
          c.tokens[78] == 1001 && c.tokens[80] == MEND_CLIP_EOS);
    mend_prompt_chunks_free(&c);

    /* emphasis "None": no parsing, the brackets reach the tokenizer */
    o.emphasis = MEND_EMPHASIS_NONE;
    CHECK_OK(mend_prompt_chunks_build("a BREAK (b:2)", &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 1 && c.token_count == 3 && c.tokens[2] == 1005 && c.multipliers[3] == 1.0f);
    mend_prompt_chunks_free(&c);
    o.emphasis = MEND_EMPHASIS_ORIGINAL;

    /* 70 words, a comma, 10 words: the chunk fills at token 75 with the
     * comma 5 back (<= 20), so the 4 words after it move to chunk 2 */
    char *s = repeat_words("w ", 70, ", x x x x x x x x x x");
    CHECK_OK(mend_prompt_chunks_build(s, &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 2 && c.tokens[71] == MEND_CLIP_COMMA && c.tokens[72] == MEND_CLIP_EOS);
    CHECK(c.tokens[77 + 1] == 1001 && c.tokens[77 + 10] == 1001 && c.tokens[77 + 11] == MEND_CLIP_EOS);
    CHECK(c.token_count == 75 + 10);
    mend_prompt_chunks_free(&c);
    /* with the back-off disabled the chunk is cut at 75 */
    o.comma_padding_backtrack = 0;
    CHECK_OK(mend_prompt_chunks_build(s, &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 2 && c.tokens[75] == 1001 && c.tokens[77 + 6] == 1001 && c.tokens[77 + 7] == MEND_CLIP_EOS);
    mend_prompt_chunks_free(&c);
    o.comma_padding_backtrack = 20;
    free(s);
    /* a comma 30 back is too far: cut at 75 */
    s = repeat_words("w ", 45, ", x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x");
    CHECK_OK(mend_prompt_chunks_build(s, &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 2 && c.tokens[75] == 1001 && c.tokens[76] == MEND_CLIP_EOS && c.tokens[77 + 1] == 1001);
    mend_prompt_chunks_free(&c);
    free(s);

    /* 1000 tokens: 14 chunks, every one framed */
    s = repeat_words("(word) ", 1000, "");
    CHECK_OK(mend_prompt_chunks_build(s, &o, fake_tokenize, NULL, &c, &err), &err);
    CHECK(c.n_chunks == 14 && c.token_count == 1000);
    int framed = 1;
    for (int k = 0; k < c.n_chunks; k++)
        framed &= c.tokens[k * 77] == MEND_CLIP_BOS && c.tokens[k * 77 + 76] == MEND_CLIP_EOS;
    CHECK(framed);
    CHECK(c.multipliers[77 * 13 + 1] == 1.1f && c.tokens[77 * 13 + 1 + 25] == MEND_CLIP_EOS);
    mend_prompt_chunks_free(&c);
    free(s);

    /* errors from the parser and the tokenizer come back */
    CHECK(mend_prompt_chunks_build("(a:1..2)", &o, fake_tokenize, NULL, &c, &err) == MEND_E_ARG);
    CHECK(c.tokens == NULL && c.n_chunks == 0);
}

TEST(emphasis_modes)
{
    float z[2 * 3] = {1, 2, 3, 4, 5, 6}, mult[2] = {1.0f, 2.0f};
    float a[6];
    memcpy(a, z, sizeof z);
    mend_emphasis_apply(MEND_EMPHASIS_IGNORE, a, mult, 2, 3);
    CHECK(memcmp(a, z, sizeof z) == 0);
    mend_emphasis_apply(MEND_EMPHASIS_NO_NORM, a, mult, 2, 3);
    CHECK(a[0] == 1 && a[3] == 8 && a[5] == 12);
    memcpy(a, z, sizeof z);
    mend_emphasis_apply(MEND_EMPHASIS_ORIGINAL, a, mult, 2, 3);
    /* mean 3.5 before; after x2 on row 2 ({1,2,3,8,10,12}) it is 6, scaled back */
    CHECK_NEAR(a[0], 1 * 3.5 / 6.0, 1e-6);
    CHECK_NEAR(a[5], 12 * 3.5 / 6.0, 1e-6);
    double mean = 0;
    for (int i = 0; i < 6; i++)
        mean += a[i] / 6.0;
    CHECK_NEAR(mean, 3.5, 1e-6);
    mend_emphasis e;
    CHECK(mend_emphasis_from_name("No norm", &e) == 0 && e == MEND_EMPHASIS_NO_NORM);
    CHECK(mend_emphasis_from_name("bogus", &e) == -1);
}

/* ---------------------------------------------------------------- */
/* Against A1111 with the real CLIP tokenizer                          */

TEST(chunks_match_a1111_cond)
{
    const char *json_path = "text_encoder/a1111_cond";
    cJSON *j;
    mend_tf *f;
    if (!test_open_golden(json_path, &j, &f))
        return;
    mend_tokenizer *tok = test_shared_tokenizer();
    mend_err err = {0};
    int checked = 0;
    const cJSON *cases = cJSON_GetObjectItem(j, "cases"), *c;
    cJSON_ArrayForEach(c, cases)
    {
        if (!tok)
            break;
        const char *key = test_json_string(c, "key", json_path), *prompt = test_json_string(c, "prompt", json_path);
        const char *emphasis = test_json_string(c, "emphasis", json_path);
        if (!key || !prompt || !emphasis)
            continue;
        mend_chunk_opts o;
        mend_chunk_opts_default(&o);
        CHECK(mend_emphasis_from_name(emphasis, &o.emphasis) == 0);
        mend_prompt_chunks got;
        CHECK_OK(mend_prompt_chunks_build(prompt, &o, mend_prompt_tokenize_clip, tok, &got, &err), &err);
        int want_chunks = (int)test_json_number(c, "chunks", -1, key);
        CHECK_MSG(got.n_chunks == want_chunks && got.token_count == (int)test_json_number(c, "token_count", -1, key),
                  "%s: %d chunks / %d tokens", key, got.n_chunks, got.token_count);
        char name[256];
        int64_t count = (int64_t)want_chunks * MEND_CHUNK_LEN;
        int32_t *tokens = NULL;
        float *mults = NULL;
        snprintf(name, sizeof name, "%s/tokens", key);
        CHECK_OK(mend_tf_load_i32(f, name, count, &tokens, &err), &err);
        snprintf(name, sizeof name, "%s/multipliers", key);
        CHECK_OK(mend_tf_load_f32(f, name, count, &mults, &err), &err);
        if (tokens && mults && got.n_chunks == want_chunks) {
            int tok_bad = 0, mult_bad = 0;
            for (int64_t i = 0; i < count; i++) {
                tok_bad += got.tokens[i] != tokens[i];
                mult_bad += got.multipliers[i] != mults[i];
            }
            CHECK_MSG(tok_bad == 0 && mult_bad == 0, "%s: %d tokens and %d multipliers differ", key, tok_bad,
                      mult_bad);
        }
        free(tokens);
        free(mults);
        mend_prompt_chunks_free(&got);
        checked++;
    }
    printf("  %d a1111_cond cases: tokens and multipliers compared exactly\n", checked);
    mend_tf_close(f);
    cJSON_Delete(j);
    mend_tokenizer_free(tok);
}

int main(void)
{
    RUN(attention_matches_a1111);
    RUN(attention_break_pieces);
    RUN(attention_hostile_input);
    RUN(multicond_matches_a1111);
    RUN(schedules_match_a1111);
    RUN(schedules_a1111_doctests);
    RUN(schedules_hostile_input);
    RUN(chunks_rules);
    RUN(emphasis_modes);
    RUN(chunks_match_a1111_cond);
    return test_summary();
}
