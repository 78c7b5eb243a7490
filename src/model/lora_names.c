/* Key names of LoRA files -> A1111 layer names (networks.load_network order):
 * kohya's diffusers-style names are converted to compvis paths; LDM-style
 * kohya names only have their prefix replaced. */
#include <stdio.h>
#include <string.h>

#include "model/lora.h"

mend_status mend_lora_layer_of_key(const char *key, char *out, size_t size, mend_err *err) {
    static const char *const pre[2][2] = {{"model.diffusion_model.", "diffusion_model_"},
                                          {"cond_stage_model.transformer.", "transformer_"}};
    size_t klen = strlen(key);
    if (klen < 7 || strcmp(key + klen - 7, ".weight") != 0)
        return mend_fail(err, MEND_E_ARG, "%s: not a weight key", key);
    for (int i = 0; i < 2; i++) {
        size_t pl = strlen(pre[i][0]);
        if (strncmp(key, pre[i][0], pl) != 0) continue;
        int n = snprintf(out, size, "%s%.*s", pre[i][1], (int)(klen - 7 - pl), key + pl);
        if (n < 0 || (size_t)n >= size) return mend_fail(err, MEND_E_ARG, "%s: name too long", key);
        for (char *p = out; *p; p++)
            if (*p == '.') *p = '_';
        return MEND_OK;
    }
    return mend_fail(err, MEND_E_ARG, "%s: not a UNet or text-encoder weight", key);
}

/* Resnet sub-layer names of diffusers -> ldm (only whole-name matches). */
static const char *resnet_rest(const char *rest) {
    static const char *const map[][2] = {{"conv1", "in_layers_2"},       {"conv2", "out_layers_3"},
                                         {"norm1", "in_layers_0"},       {"norm2", "out_layers_0"},
                                         {"time_emb_proj", "emb_layers_1"}, {"conv_shortcut", "skip_connection"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(rest, map[i][0]) == 0) return map[i][1];
    return rest;
}

/* Parses "<kind>_<I>_<rest>" where kind is attentions or resnets. */
static int block_part(const char *s, int *is_attn, int *idx, const char **rest) {
    int n = 0;
    if (sscanf(s, "attentions_%d_%n", idx, &n) == 1 && n > 0) *is_attn = 1;
    else if (sscanf(s, "resnets_%d_%n", idx, &n) == 1 && n > 0) *is_attn = 0;
    else return 0;
    *rest = s + n;
    return 1;
}

/* convert_diffusers_name_to_compvis; 0 when no pattern matches. */
static int diffusers_to_compvis(const char *k, char *out, size_t size) {
    int b = 0, i = 0, n = 0, attn = 0;
    const char *rest = NULL;
    if (strcmp(k, "lora_unet_conv_in") == 0) return snprintf(out, size, "diffusion_model_input_blocks_0_0"), 1;
    if (strcmp(k, "lora_unet_conv_out") == 0) return snprintf(out, size, "diffusion_model_out_2"), 1;
    if (sscanf(k, "lora_unet_time_embedding_linear_%d%n", &b, &n) == 1 && k[n] == 0)
        return snprintf(out, size, "diffusion_model_time_embed_%d", 2 * b - 2), 1;
    if (sscanf(k, "lora_unet_down_blocks_%d_%n", &b, &n) == 1 && n > 0) {
        if (block_part(k + n, &attn, &i, &rest)) {
            if (!attn) rest = resnet_rest(rest);
            return snprintf(out, size, "diffusion_model_input_blocks_%d_%d_%s", 1 + 3 * b + i, attn, rest), 1;
        }
        if (strcmp(k + n, "downsamplers_0_conv") == 0)
            return snprintf(out, size, "diffusion_model_input_blocks_%d_0_op", 3 + 3 * b), 1;
        return 0;
    }
    if (strncmp(k, "lora_unet_mid_block_", 20) == 0 && block_part(k + 20, &attn, &i, &rest)) {
        if (!attn) rest = resnet_rest(rest);
        return snprintf(out, size, "diffusion_model_middle_block_%d_%s", attn ? 1 : 2 * i, rest), 1;
    }
    if (sscanf(k, "lora_unet_up_blocks_%d_%n", &b, &n) == 1 && n > 0) {
        if (block_part(k + n, &attn, &i, &rest)) {
            if (!attn) rest = resnet_rest(rest);
            return snprintf(out, size, "diffusion_model_output_blocks_%d_%d_%s", 3 * b + i, attn, rest), 1;
        }
        if (strcmp(k + n, "upsamplers_0_conv") == 0)
            return snprintf(out, size, "diffusion_model_output_blocks_%d_%d_conv", 2 + 3 * b, b > 0 ? 2 : 1), 1;
        return 0;
    }
    if (strncmp(k, "lora_te_text_model_encoder_layers_", 34) == 0)
        return snprintf(out, size, "transformer_text_model_encoder_layers_%s", k + 34), 1;
    return 0;
}

/* Replaces the first `from` in s by `to`; 0 when absent. */
static int replace_once(const char *s, const char *from, const char *to, char *out, size_t size) {
    const char *p = strstr(s, from);
    if (!p) return 0;
    snprintf(out, size, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return 1;
}

int mend_lora_layer_candidates(const char *k, char out[][MEND_LORA_NAME_MAX]) {
    int n = 0;
    if (diffusers_to_compvis(k, out[n], MEND_LORA_NAME_MAX)) n++;
    if (replace_once(k, "lora_unet", "diffusion_model", out[n], MEND_LORA_NAME_MAX)) return n + 1;
    if (replace_once(k, "lora_te1_text_model", "0_transformer_text_model", out[n], MEND_LORA_NAME_MAX)) {
        n++;
        replace_once(k, "lora_te1_text_model", "transformer_text_model", out[n], MEND_LORA_NAME_MAX);
        n++;
    }
    return n;
}

int mend_lora_layer_is_te(const char *layer) {
    char head[21];
    snprintf(head, sizeof head, "%s", layer);
    return strstr(head, "transformer") != NULL;
}

/* unet.<path>.lora_A.weight -> lora_unet_<path_>.lora_down.weight (and
 * text_encoder. -> lora_te1_, lora_B -> lora_up), as diffusers'
 * convert_state_dict_to_kohya; no alpha key, so calc_scale is 1. */
static mend_status peft_name(void *ctx, const char *name, char *out, size_t size, mend_err *err) {
    static const char *const pre[2][2] = {{"unet.", "lora_unet_"}, {"text_encoder.", "lora_te1_"}};
    static const char *const suf[2][2] = {{".lora_A.weight", ".lora_down.weight"}, {".lora_B.weight", ".lora_up.weight"}};
    (void)ctx;
    size_t len = strlen(name);
    for (int p = 0; p < 2; p++) {
        size_t pl = strlen(pre[p][0]);
        if (strncmp(name, pre[p][0], pl) != 0) continue;
        for (int s = 0; s < 2; s++) {
            size_t sl = strlen(suf[s][0]);
            if (len <= pl + sl || strcmp(name + len - sl, suf[s][0]) != 0) continue;
            int n = snprintf(out, size, "%s%.*s%s", pre[p][1], (int)(len - sl - pl), name + pl, suf[s][1]);
            if (n < 0 || (size_t)n >= size) return mend_fail(err, MEND_E_FORMAT, "%s: name too long", name);
            /* dots of the module path (not of the tensor suffix) become '_' */
            size_t mod_end = strlen(out) - strlen(suf[s][1]);
            for (size_t i = 0; i < mod_end; i++)
                if (out[i] == '.') out[i] = '_';
            return MEND_OK;
        }
    }
    return mend_fail(err, MEND_E_FORMAT, "%s: not a diffusers/PEFT LoRA key", name);
}

int mend_lora_is_peft(const mend_tf *f) {
    for (int i = 0; i < f->count; i++)
        if (strncmp(f->tensors[i].name, "unet.", 5) == 0 || strncmp(f->tensors[i].name, "text_encoder.", 13) == 0) return 1;
    return 0;
}

mend_status mend_lora_peft_to_kohya(mend_tf *f, mend_err *err) {
    return mend_tf_rename(f, peft_name, NULL, err);
}
