/* The command line as A1111 and stable-diffusion.cpp users type it (issue
 * 11): unknown options (also single-dash ones) are errors, "--" ends the
 * options, every registry sampler alias and sd.cpp's sampler names are
 * accepted, sd.cpp's flags (-m -p -n -i --mask -o -s -W -H -b --steps
 * --cfg-scale --sampling-method --strength -t) reach the infotext, a missing
 * -o folder is an error naming it, --version, and the bash completion
 * script generated from the option lists (scripts/mend-completion.bash is
 * that output). The runs with a model need the CLIP vocabulary from
 * ../shared (a tiny random checkpoint is made here). */
#include "test.h"

#include "mend/params.h"
#include "mend/png_text.h"

#include <string.h>
#include <sys/stat.h>

static char out_file[1200];

/* Runs `$MEND_BIN ARGS` (a shell fragment); *text (may be NULL) gets stdout+stderr. */
static int mend(const char *args, char **text)
{
    char cmd[8192];
    snprintf(out_file, sizeof out_file, "%s/cli_out.txt", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' %s", test_mend_bin(), args);
    int rc = test_run(cmd, out_file);
    if (text)
        *text = test_read_file(out_file, NULL);
    return rc;
}

static void expect_failure(const char *args, const char *needle)
{
    char *text = NULL;
    int rc = mend(args, &text);
    CHECK_MSG(rc != 0 && text && strstr(text, needle), "mend %s -> %d, '%s' not in: %s", args, rc, needle,
              text ? text : "(none)");
    free(text);
}

TEST(unknown_options_are_errors)
{
    expect_failure("txt2img --model m.safetensors -x 'a cat'", "unknown option '-x'");
    expect_failure("txt2img --model m.safetensors -Wx 'a cat'", "unknown option '-Wx'");
    expect_failure("inpaint --model m.safetensors --no-such-flag 1 'a cat'", "unknown option '--no-such-flag'");
    expect_failure("info -z m.safetensors", "unknown option '-z'");
    expect_failure("serve -p 7860", "unknown option '-p'");
    expect_failure("png-info -a x.png", "unknown option '-a'");
    /* after "--", '-x' is the prompt: the run gets as far as the missing model */
    expect_failure("txt2img -q --model /nonexistent/m.safetensors -- -x", "/nonexistent/m.safetensors");
    expect_failure("completion zsh", "expected 'bash'");
}

TEST(every_sampler_alias_is_accepted)
{
    char args[512];
    const char *extra[] = {"k_euler_ancestral", "euler_a", "euler", "heun", "dpm2", "dpm++2s_a", "dpm++2m", "lcm"};
    int n = mend_samplers_count();
    for (int i = 0; i < n + (int)(sizeof extra / sizeof *extra); i++) {
        const char *name = i < n ? mend_samplers_at(i).alias : extra[i - n];
        if (!name)
            continue;
        /* the model is checked after the sampler: its error means the name was fine */
        snprintf(args, sizeof args, "txt2img -q -m /nonexistent/m.safetensors --sampler '%s' x", name);
        expect_failure(args, "/nonexistent/m.safetensors");
        snprintf(args, sizeof args, "txt2img -q -m /nonexistent/m.safetensors --sampling-method '%s' x", name);
        expect_failure(args, "/nonexistent/m.safetensors");
    }
    expect_failure("txt2img -q -m /nonexistent/m.safetensors --sampler ipndm x", "unknown sampler 'ipndm'");
}

TEST(a_missing_output_folder_is_named)
{
    char args[1600], dir[1200];
    snprintf(dir, sizeof dir, "%s/no/such/folder", test_tmpdir());
    snprintf(args, sizeof args, "txt2img -q -m /nonexistent/m.safetensors -o '%s/a.png' x", dir);
    char want[1300];
    snprintf(want, sizeof want, "the folder '%s' does not exist", dir);
    expect_failure(args, want);
    struct stat st;
    CHECK(stat(dir, &st) != 0); /* and it was not created */
    expect_failure("txt2img -q -m /nonexistent/m.safetensors -o /etc/hostname/a.png x", "is not a folder");
}

TEST(version)
{
    char *text = NULL;
    CHECK(mend("--version", &text) == 0);
    CHECK_MSG(text && !strcmp(text, "mend " MEND_VERSION "\n"), "%s", text ? text : "(none)");
    free(text);
}

TEST(completion_script_comes_from_the_options)
{
    char *text = NULL;
    CHECK(mend("completion bash", &text) == 0);
    /* the committed script is this output */
    char path[1200];
    const char *slash = strrchr(__FILE__, '/'); /* this file's folder: tests/ of the source tree */
    snprintf(path, sizeof path, "%.*s/../scripts/mend-completion.bash", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
    char *committed = test_read_file(path, NULL);
    CHECK_MSG(committed != NULL, "%s not found", path);
    CHECK_MSG(text && committed && !strcmp(text, committed),
              "%s differs from `mend completion bash`: regenerate it with that command", path);
    free(committed);
    /* every table flag and alias is offered */
    for (int i = 0; text && i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        char word[96];
        snprintf(word, sizeof word, " --%s", d->cli_flag ? d->cli_flag : "");
        CHECK_MSG(!d->cli_flag || strstr(text, word), "%s missing", word);
    }
    free(text);
    /* bash completes a flag and a choice with it */
    char script[1200], cmd[4096];
    snprintf(script, sizeof script, "%s/completion.bash", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' completion bash > '%s' && bash -c \"source '%s'; "
             "COMP_WORDS=(mend inpaint --inpainting-f); COMP_CWORD=2; _mend; echo \\${COMPREPLY[@]}; "
             "COMP_WORDS=(mend inpaint --inpainting-fill latent-noi); COMP_CWORD=3; _mend; echo \\${COMPREPLY[@]}; "
             "COMP_WORDS=(mend se); COMP_CWORD=1; _mend; echo \\${COMPREPLY[@]}\"",
             test_mend_bin(), script, script);
    char out[1200];
    snprintf(out, sizeof out, "%s/completion_out.txt", test_tmpdir());
    CHECK(test_run(cmd, out) == 0);
    char *res = test_read_file(out, NULL);
    CHECK_MSG(res && !strcmp(res, "--inpainting-fill\nlatent-noise\nserve\n"), "completions: %s", res ? res : "(none)");
    free(res);
}

/* ---- with a model --------------------------------------------------------- */

static char model[1200];
static const char *vocab;

static void expect_infotext(const char *png, const char *const *needles, int n)
{
    char *it = test_png_parameters(png);
    CHECK_MSG(it != NULL, "%s has no infotext", png);
    for (int i = 0; it && i < n; i++)
        CHECK_MSG(strstr(it, needles[i]) != NULL, "'%s' not in the infotext: %s", needles[i], it);
    free(it);
}

TEST(stable_diffusion_cpp_flags)
{
    char args[8192], out[1200], init[1200], mask[1200];
    snprintf(out, sizeof out, "%s/sdcpp.png", test_tmpdir());
    snprintf(args, sizeof args,
             "txt2img -m '%s' --vocab '%s' -p 'a cat' -n 'a dog' -s 5 -W 64 -H 64 --steps 1 --cfg-scale 6.6 "
             "--sampling-method euler_a -b 1 -t 1 -o '%s' -q", model, vocab, out);
    CHECK(mend(args, NULL) == 0);
    const char *t2i[] = {"a cat\nNegative prompt: a dog\n", "Steps: 1,", "Sampler: Euler a,", "CFG scale: 6.6,",
                         "Seed: 5,", "Size: 64x64"};
    expect_infotext(out, t2i, 6);
    /* img2img with -i and --strength, inpaint with --mask, the prompt after "--" */
    mend_image img = {0}, m = {0};
    test_make_gradient(&img, 64, 64);
    test_make_square_mask(&m, 64, 64);
    snprintf(init, sizeof init, "%s/init.png", test_tmpdir());
    snprintf(mask, sizeof mask, "%s/mask.png", test_tmpdir());
    mend_err err = {0};
    CHECK_OK(mend_image_save_png(init, &img, NULL, 0, &err), &err);
    CHECK_OK(mend_image_save_png(mask, &m, NULL, 0, &err), &err);
    snprintf(args, sizeof args,
             "inpaint -m '%s' --vocab '%s' -i '%s' --mask '%s' --strength 0.6 --steps 2 -s 7 -o '%s' -q -- "
             "'-a cat-'", model, vocab, init, mask, out);
    CHECK(mend(args, NULL) == 0);
    const char *inp[] = {"-a cat-\nSteps: 2,", "Denoising strength: 0.6,", "Seed: 7,"};
    expect_infotext(out, inp, 3);
    mend_image_free(&img);
    mend_image_free(&m);
}

int main(void)
{
    RUN(unknown_options_are_errors);
    RUN(every_sampler_alias_is_accepted);
    RUN(a_missing_output_folder_is_named);
    RUN(version);
    RUN(completion_script_comes_from_the_options);
    vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (vocab) {
        snprintf(model, sizeof model, "%s/m.safetensors", test_tmpdir());
        CHECK(test_make_tiny_model(model, 4));
        RUN(stable_diffusion_cpp_flags);
    }
    return test_summary();
}
