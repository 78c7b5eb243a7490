/* Golden tests of the A1111 image operations against every case in
 * ../shared/testdata/image_ops/ (every .safetensors) (tolerances from the jsons:
 * exact for blur, resize, masking and the mask pipeline). Test inputs are
 * the input/ tensors of each file; the crop-region cases and the RGBA mask
 * come from images/ (loaded with mend's PNG reader). */
#include "test.h"

#include "inpaint/imageops.h"
#include "inpaint/mask_prep.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Reference tensor (uint8 [h, w] or [h, w, c]) as an image; 0 if absent. */
static int ref_image(const mend_tf *f, const char *name, mend_image *img)
{
    const mend_tf_tensor *t = mend_tf_find(f, name);
    CHECK_MSG(t != NULL, "tensor '%s' missing in %s", name, f->path);
    if (!t)
        return 0;
    CHECK_MSG(t->dtype == MEND_DT_U8 && (t->ndim == 2 || t->ndim == 3), "tensor '%s' is not uint8 HW[C]", name);
    int ch = t->ndim == 3 ? (int)t->shape[2] : 1;
    mend_err err = {0};
    if (mend_image_alloc(img, (int)t->shape[1], (int)t->shape[0], ch, &err) != MEND_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return 0;
    }
    memcpy(img->data, t->data, mend_image_size(img));
    return 1;
}

/* Compares got with reference tensor `name`; a 1-channel result matches an
 * RGB reference with three equal channels (A1111's RGB masks). Returns the
 * max abs difference (or 999 on shape mismatch). */
static int compare(const mend_image *got, const mend_tf *f, const char *name, int tol)
{
    mend_image ref;
    if (!ref_image(f, name, &ref))
        return 999;
    int max_diff = 999;
    if (got->width == ref.width && got->height == ref.height &&
        (got->channels == ref.channels || got->channels == 1)) {
        max_diff = 0;
        size_t n = (size_t)ref.width * ref.height;
        long mismatches = 0;
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < ref.channels; c++) {
                int g = got->data[i * got->channels + (got->channels == 1 ? 0 : c)];
                int d = abs(g - ref.data[i * ref.channels + c]);
                mismatches += d > tol;
                if (d > max_diff)
                    max_diff = d;
            }
        CHECK_MSG(max_diff <= tol, "%s: max diff %d (tol %d), %ld values off", name, max_diff, tol, mismatches);
    } else {
        CHECK_MSG(0, "%s: got %dx%dx%d, reference %dx%dx%d", name, got->width, got->height, got->channels, ref.width,
                  ref.height, ref.channels);
    }
    mend_image_free(&ref);
    return max_diff;
}

static int compare_f32(const float *got, const mend_tf *f, const char *name, int64_t n)
{
    int64_t rn = 0;
    float *ref = test_load_f32(f, name, &rn);
    if (!ref)
        return 0;
    CHECK_MSG(rn == n, "%s: %lld values, expected %lld", name, (long long)rn, (long long)n);
    double d = rn == n ? test_max_abs_diff(got, ref, n) : INFINITY;
    CHECK_MSG(d == 0.0, "%s: max abs diff %g (exact expected)", name, d);
    free(ref);
    return rn == n && d == 0.0;
}

/* "a/b/c" → component i (0-based) copied into buf. */
static const char *part(const char *name, int i, char *buf, size_t cap)
{
    const char *s = name;
    for (; i > 0 && s; i--) {
        s = strchr(s, '/');
        if (s)
            s++;
    }
    if (!s)
        return "";
    size_t n = strcspn(s, "/");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* A golden file's cases: how many it lists, how many were checked, and the
 * worst pixel difference seen. */
typedef struct tally {
    int listed, cases, worst;
} tally;

/* One case's result, compared with the reference tensor `name` when the
 * operation succeeded. */
static void tally_case(tally *t, mend_status s, const mend_err *err, const mend_image *out, const mend_tf *f,
                       const char *name)
{
    CHECK_MSG(s == MEND_OK, "%s: %s", name, err->msg);
    if (s != MEND_OK)
        return;
    int d = compare(out, f, name, 0);
    t->worst = d > t->worst ? d : t->worst;
    t->cases++;
}

/* Every listed case was checked, each exactly. */
static void tally_report(const tally *t, const char *what)
{
    printf("%s: %d cases, max diff %d (tolerance exact)\n", what, t->cases, t->worst);
    CHECK_MSG(t->cases > 0 && t->cases == t->listed, "%d of %d cases checked", t->cases, t->listed);
}

static int input_image(const mend_tf *f, const char *img_name, mend_image *img)
{
    char name[256];
    snprintf(name, sizeof name, "input/%s", img_name);
    return ref_image(f, name, img);
}

TEST(blur_every_case)
{
    mend_tf *f = test_open_shared("image_ops/blur.safetensors");
    if (!f)
        return;
    tally t = {0};
    for (int i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name;
        char kind[64], img_name[128], param[64];
        part(name, 0, kind, sizeof kind);
        if (strcmp(kind, "input") == 0)
            continue;
        t.listed++;
        part(name, 1, img_name, sizeof img_name);
        part(name, 2, param, sizeof param);
        mend_image in, out = {0};
        if (!input_image(f, img_name, &in))
            continue;
        mend_err err = {0};
        mend_status s = MEND_E_ARG;
        int a, b;
        if (strcmp(kind, "cv2") == 0 && sscanf(param, "sigma%d", &a) == 1)
            s = mend_cv2_mask_blur(&in, a, a, &out, &err);
        else if (strcmp(kind, "cv2") == 0 && sscanf(param, "x%d_y%d", &a, &b) == 2)
            s = mend_cv2_mask_blur(&in, a, b, &out, &err);
        else if (strncmp(kind, "pil_gaussian", 12) == 0 && sscanf(param, "radius%d", &a) == 1)
            s = mend_pil_gaussian_blur(&in, (float)a, &out, &err);
        else
            CHECK_MSG(0, "unknown blur case %s", name);
        tally_case(&t, s, &err, &out, f, name);
        mend_image_free(&in);
        mend_image_free(&out);
    }
    tally_report(&t, "blur");
    mend_tf_close(f);
}

TEST(resize_every_case)
{
    mend_tf *f = test_open_shared("image_ops/resize.safetensors");
    if (!f)
        return;
    tally t = {0};
    for (int i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name;
        char kind[64], img_name[128], size[64], mode_s[32];
        part(name, 0, kind, sizeof kind);
        if (strcmp(kind, "input") == 0)
            continue;
        t.listed++;
        int lanczos = strcmp(kind, "lanczos") == 0, mode = -1, w, h;
        if (!lanczos)
            sscanf(part(name, 1, mode_s, sizeof mode_s), "mode%d", &mode);
        part(name, lanczos ? 1 : 2, img_name, sizeof img_name);
        part(name, lanczos ? 2 : 3, size, sizeof size);
        if (sscanf(size, "%dx%d", &w, &h) != 2 || (!lanczos && mode < 0)) {
            CHECK_MSG(0, "unknown resize case %s", name);
            continue;
        }
        mend_image in, out = {0};
        if (!input_image(f, img_name, &in))
            continue;
        mend_err err = {0};
        mend_status s = lanczos ? mend_pil_resize(&in, w, h, MEND_PIL_LANCZOS, NULL, &out, &err)
                                : mend_resize_image(mode, &in, w, h, &out, &err);
        if (s == MEND_OK) {
            /* resize_image modes 1/2 return RGB even for L masks */
            const mend_tf_tensor *ref = mend_tf_find(f, name);
            CHECK_MSG(!ref || out.channels == (ref->ndim == 3 ? (int)ref->shape[2] : 1), "%s: %d channels", name,
                      out.channels);
        }
        tally_case(&t, s, &err, &out, f, name);
        mend_image_free(&in);
        mend_image_free(&out);
    }
    tally_report(&t, "resize");
    mend_tf_close(f);
}

TEST(masking_fill_and_binary_mask)
{
    mend_tf *f = test_open_shared("image_ops/masking.safetensors");
    if (!f)
        return;
    tally t = {0};
    for (int i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name;
        char kind[64], a[128], b[128];
        part(name, 0, kind, sizeof kind);
        part(name, 1, a, sizeof a);
        part(name, 2, b, sizeof b);
        mend_image img = {0}, mask = {0}, out = {0};
        mend_err err = {0};
        mend_status s;
        t.listed += strcmp(kind, "fill") == 0 || strcmp(kind, "create_binary_mask") == 0;
        if (strcmp(kind, "fill") == 0) {
            if (!input_image(f, a, &img) || !input_image(f, b, &mask)) {
                mend_image_free(&img);
                continue;
            }
            s = mend_masking_fill(&img, &mask, &out, &err);
        } else if (strcmp(kind, "create_binary_mask") == 0) {
            char rel[256];
            snprintf(rel, sizeof rel, "images/%s", a);
            const char *png = test_shared(rel);
            if (!png)
                continue;
            CHECK_OK(mend_image_load(png, &mask, &err), &err);
            s = mask.data ? mend_create_binary_mask(&mask, strcmp(b, "round1") == 0, &out, &err) : MEND_E_IO;
        } else {
            continue;
        }
        tally_case(&t, s, &err, &out, f, name);
        mend_image_free(&img);
        mend_image_free(&mask);
        mend_image_free(&out);
    }
    tally_report(&t, "masking (fill, binary mask)");
    mend_tf_close(f);
}

static int json_box(const cJSON *arr, int box[4])
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != 4)
        return 0;
    for (int i = 0; i < 4; i++)
        box[i] = cJSON_GetArrayItem(arr, i)->valueint;
    return 1;
}

static int load_case_mask(const char *mask_name, mend_image *m)
{
    mend_err err = {0};
    int w, h;
    if (sscanf(mask_name, "blank %dx%d", &w, &h) == 2)
        return mend_image_alloc(m, w, h, 1, &err) == MEND_OK;
    char rel[256];
    snprintf(rel, sizeof rel, "images/%s", mask_name);
    const char *png = test_shared(rel);
    if (!png)
        return 0;
    CHECK_OK(mend_image_load(png, m, &err), &err);
    return m->data != NULL;
}

TEST(crop_regions)
{
    cJSON *j = test_shared_json("image_ops/masking.json");
    if (!j)
        return;
    const cJSON *res = cJSON_GetObjectItem(j, "results_json");
    int cases = 0;
    for (int v2 = 0; v2 < 2; v2++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(res, v2 ? "get_crop_region_v2" : "get_crop_region"))
        {
            const char *mask_name = cJSON_GetObjectItem(c, "mask")->valuestring;
            int pad = cJSON_GetObjectItem(c, "pad")->valueint, want[4], got[4] = {-1, -1, -1, -1};
            mend_image m = {0};
            if (!load_case_mask(mask_name, &m))
                continue;
            if (v2) {
                int found = mend_get_crop_region_v2(&m, pad, got);
                int expect = json_box(cJSON_GetObjectItem(c, "result"), want);
                CHECK_MSG(found == expect, "v2 %s pad %d: found %d", mask_name, pad, found);
                if (found && expect)
                    CHECK_MSG(memcmp(got, want, sizeof got) == 0, "v2 %s pad %d: (%d,%d,%d,%d)", mask_name, pad,
                              got[0], got[1], got[2], got[3]);
            } else {
                mend_get_crop_region(&m, pad, got);
                CHECK(json_box(cJSON_GetObjectItem(c, "result"), want));
                CHECK_MSG(memcmp(got, want, sizeof got) == 0, "%s pad %d: (%d,%d,%d,%d)", mask_name, pad, got[0],
                          got[1], got[2], got[3]);
            }
            mend_image_free(&m);
            cases++;
        }
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(res, "expand_crop_region"))
    {
        int box[4], want[4], got[4];
        CHECK(json_box(cJSON_GetObjectItem(c, "crop_region"), box));
        CHECK(json_box(cJSON_GetObjectItem(c, "result"), want));
        const char *where = "masking.json crop cases";
        mend_expand_crop_region(box, (int)test_json_number(c, "processing_width", 0, where),
                                (int)test_json_number(c, "processing_height", 0, where),
                                (int)test_json_number(c, "image_width", 0, where),
                                (int)test_json_number(c, "image_height", 0, where), got);
        CHECK_MSG(memcmp(got, want, sizeof got) == 0, "expand (%d,%d,%d,%d) -> (%d,%d,%d,%d)", box[0], box[1],
                  box[2], box[3], got[0], got[1], got[2], got[3]);
        cases++;
    }
    printf("crop regions: %d cases\n", cases);
    CHECK_MSG(cases > 0, "no crop-region cases");
    cJSON_Delete(j);
}

/* The spec's worked examples of expand_crop_region (§3.4), which need no
 * reference files: pad then expand on a 1024x768 image. */
TEST(expand_crop_region_spec_examples)
{
    static const int cases[][11] = {
        /* bbox, W, H, pad, expected */
        {300, 200, 400, 260, 512, 512, 32, 268, 148, 432, 312},
        {300, 200, 400, 260, 512, 768, 32, 268, 107, 432, 353},
        {0, 700, 100, 768, 512, 512, 32, 0, 636, 132, 768},
        {10, 10, 1000, 60, 512, 512, 0, 10, 0, 1000, 768},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *c = cases[i];
        int pad = c[6];
        int box[4] = {c[0] - pad < 0 ? 0 : c[0] - pad, c[1] - pad < 0 ? 0 : c[1] - pad,
                      c[2] + pad > 1024 ? 1024 : c[2] + pad, c[3] + pad > 768 ? 768 : c[3] + pad};
        int got[4];
        mend_expand_crop_region(box, c[4], c[5], 1024, 768, got);
        CHECK_MSG(memcmp(got, c + 7, sizeof got) == 0, "example %zu: (%d,%d,%d,%d)", i, got[0], got[1], got[2],
                  got[3]);
    }
}

static void run_pipeline_case(const mend_tf *f, const cJSON *c, int idx)
{
    char key[128], pre[16];
    snprintf(pre, sizeof pre, "p%d/", idx);
#define KEY(s) (snprintf(key, sizeof key, "%s%s", pre, s), key)
    mend_mask_opts o = {0};
    o.width = cJSON_GetObjectItem(c, "W")->valueint;
    o.height = cJSON_GetObjectItem(c, "H")->valueint;
    o.blur_x = o.blur_y = cJSON_GetObjectItem(c, "blur")->valueint;
    o.full_res = cJSON_IsTrue(cJSON_GetObjectItem(c, "full_res"));
    o.full_res_padding = cJSON_GetObjectItem(c, "pad")->valueint;
    o.invert = cJSON_IsTrue(cJSON_GetObjectItem(c, "invert"));
    o.round = 1;
    o.resize_mode = 0;
    mend_image image = {0}, mask = {0}, overlay = {0}, processing = {0}, filled = {0}, generated = {0},
               composited = {0};
    mend_mask_prep p = {0};
    mend_err err = {0};
    if (!ref_image(f, KEY("image"), &image) || !ref_image(f, KEY("mask_input"), &mask))
        goto done;
    if (mend_mask_prepare(&mask, &o, &p, &err) != MEND_OK) {
        CHECK_MSG(0, "case %d: %s", idx, err.msg);
        goto done;
    }
    /* 1_binary is before the invert in A1111's dump, 2_inverted after. */
    if (o.invert) {
        mend_image_invert(&p.binary);
        compare(&p.binary, f, KEY("1_binary"), 0);
        mend_image_invert(&p.binary);
        compare(&p.binary, f, KEY("2_inverted"), 0);
    } else {
        compare(&p.binary, f, KEY("1_binary"), 0);
    }
    compare(&p.blurred, f, KEY("3_blurred"), 0);
    CHECK_MSG(p.active, "case %d: mask unexpectedly blank", idx);
    const cJSON *exp_box = cJSON_GetObjectItem(c, "crop_region_expanded");
    int want[4];
    CHECK(p.has_crop == (exp_box != NULL));
    if (exp_box) {
        CHECK(json_box(cJSON_GetObjectItem(c, "crop_region_padded"), want) &&
              memcmp(want, p.crop_padded, sizeof want) == 0);
        CHECK(json_box(exp_box, want) && memcmp(want, p.crop, sizeof want) == 0);
        CHECK(json_box(cJSON_GetObjectItem(c, "paste_to"), want) && memcmp(want, p.paste_to, sizeof want) == 0);
    }
    compare(&p.image_mask, f, KEY("4_image_mask"), 0);
    if (mend_init_image_prepare(&p, &o, &image, 0, &overlay, &processing, &err) != MEND_OK) {
        CHECK_MSG(0, "case %d: %s", idx, err.msg);
        goto done;
    }
    compare(&p.mask_for_overlay, f, KEY("5_mask_for_overlay"), 0);
    compare(&overlay, f, KEY("6_overlay_rgba"), 0);
    compare(&processing, f, KEY("7_processing_image"), 0);
    CHECK_OK(mend_masking_fill(&processing, &p.image_mask, &filled, &err), &err);
    if (filled.data)
        compare(&filled, f, KEY("8_filled_image"), 0);

    int lw = o.width / 8, lh = o.height / 8;
    float *lat = malloc(sizeof *lat * (size_t)lw * lh * 2);
    float *full = malloc(sizeof *full * (size_t)o.width * o.height);
    if (lat && full) {
        CHECK_OK(mend_latent_mask(&p.image_mask, lw, lh, 0, lat, &err), &err);
        compare_f32(lat, f, KEY("9_latent_mask_unrounded"), (int64_t)lw * lh);
        CHECK_OK(mend_latent_mask(&p.image_mask, lw, lh, 1, lat, &err), &err);
        compare_f32(lat, f, KEY("9_latent_mask"), (int64_t)lw * lh);
        CHECK_OK(mend_inpaint_cond_mask(&p.image_mask, full, lw, lh, lat + lw * lh, &err), &err);
        compare_f32(full, f, KEY("10_inpaint_cond_mask_fullres"), (int64_t)o.width * o.height);
        compare_f32(lat + lw * lh, f, KEY("10_inpaint_cond_mask_latent"), (int64_t)lw * lh);
    }
    free(lat);
    free(full);

    /* the composite, fed with the reference's stand-in generation */
    if (ref_image(f, KEY("11_generated_fake"), &generated)) {
        CHECK_OK(mend_apply_overlay(&generated, p.has_crop ? p.paste_to : NULL, &overlay, &composited, &err), &err);
        if (composited.data)
            compare(&composited, f, KEY("12_composited"), 0);
    }
done:
    mend_mask_prep_free(&p);
    mend_image_free(&image);
    mend_image_free(&mask);
    mend_image_free(&overlay);
    mend_image_free(&processing);
    mend_image_free(&filled);
    mend_image_free(&generated);
    mend_image_free(&composited);
#undef KEY
}

TEST(mask_pipeline_every_case)
{
    cJSON *j = test_shared_json("image_ops/mask_pipeline.json");
    mend_tf *f = test_open_shared("image_ops/mask_pipeline.safetensors");
    if (!j || !f) {
        cJSON_Delete(j);
        mend_tf_close(f);
        return;
    }
    int idx = 0, before = test_failures;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "cases")) run_pipeline_case(f, c, idx++);
    printf("mask pipeline: %d cases, %s\n", idx, test_failures == before ? "all steps exact" : "FAILURES");
    CHECK(idx >= 5);
    cJSON_Delete(j);
    mend_tf_close(f);
}

/* Properties that need no reference data. */
TEST(blank_only_masked_falls_back)
{
    mend_image mask = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&mask, 40, 30, 1, &err), &err);
    mend_mask_opts o = {.width = 64, .height = 64, .blur_x = 4, .blur_y = 4, .round = 1, .full_res = 1,
                        .full_res_padding = 8};
    mend_mask_prep p;
    CHECK_OK(mend_mask_prepare(&mask, &o, &p, &err), &err);
    CHECK(!p.active && !p.has_crop && p.image_mask.data == NULL);
    mend_mask_prep_free(&p);
    mend_image_free(&mask);
}

/* Error diffusion keeps every Q8 tap within 1 of 256 * the exact Gaussian
 * weight, and the running error of the outer taps below 1/2. */
TEST(cv2_kernel_close_to_gaussian)
{
    int taps[321];
    for (int s = 1; s <= 64; s *= 2) {
        int n = 2 * (int)(2.5 * s + 0.5) + 1, sum = 0;
        mend_cv2_gaussian_kernel_q8(n, s, taps);
        double norm = 0, cum_exact = 0;
        for (int i = 0; i < n; i++)
            norm += exp(-(i - n / 2) * (i - n / 2) / (2.0 * s * s));
        for (int i = 0; i < n; i++) {
            double exact = 256.0 * exp(-(i - n / 2) * (i - n / 2) / (2.0 * s * s)) / norm;
            sum += taps[i];
            CHECK(taps[i] == taps[n - 1 - i]);
            CHECK_MSG(fabs(taps[i] - exact) < 1.0, "sigma %d tap %d: %d vs %g", s, i, taps[i], exact);
            if (i < n / 2) {
                cum_exact += exact;
                int cum = 0;
                for (int j = 0; j <= i; j++)
                    cum += taps[j];
                CHECK_MSG(fabs(cum - cum_exact) <= 0.5 + 1e-9, "sigma %d: running error at %d", s, i);
            }
        }
        CHECK_MSG(sum == 256, "sigma %d: sum %d", s, sum);
    }
}

TEST(bad_arguments)
{
    mend_image img = {0}, out = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, 8, 8, 3, &err), &err);
    CHECK(mend_resize_image(5, &img, 4, 4, &out, &err) == MEND_E_ARG);
    CHECK(mend_pil_resize(&img, 0, 4, MEND_PIL_LANCZOS, NULL, &out, &err) == MEND_E_ARG);
    CHECK(mend_pil_crop(&img, (int[]){0, 0, 9, 4}, &out, &err) == MEND_E_ARG);
    CHECK(mend_cv2_mask_blur(&img, -1, 0, &out, &err) == MEND_E_ARG);
    CHECK(mend_pil_gaussian_blur(&img, -2.0f, &out, &err) == MEND_E_ARG);
    CHECK(out.data == NULL);
    mend_image_free(&img);
}

int main(void)
{
    RUN(blur_every_case);
    RUN(resize_every_case);
    RUN(masking_fill_and_binary_mask);
    RUN(crop_regions);
    RUN(expand_crop_region_spec_examples);
    RUN(mask_pipeline_every_case);
    RUN(blank_only_masked_falls_back);
    RUN(cv2_kernel_close_to_gaussian);
    RUN(bad_arguments);
    return test_summary();
}
