/* make-model's diffusers config files (unet/, vae/, text_encoder/,
 * scheduler/ config.json and model_index.json), as diffusers writes them. */
#include "make_model_impl.h"

static cJSON *int_array(const int *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *str_array(const char *const *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, v[i] ? cJSON_CreateString(v[i]) : cJSON_CreateNull());
    return a;
}

/* A diffusers config.json object: its class and the diffusers version the
 * files imitate. */
static cJSON *diffusers_config(const char *class_name)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "_class_name", class_name);
    cJSON_AddStringToObject(j, "_diffusers_version", "0.27.2");
    return j;
}

/* [s, s, ..., s] (n times). */
static cJSON *repeated_str(const char *s, int n)
{
    const char *v[MM_LEVELS];
    for (int i = 0; i < n && i < MM_LEVELS; i++)
        v[i] = s;
    return str_array(v, n < MM_LEVELS ? n : MM_LEVELS);
}

cJSON *mm_unet_config(const mm_config *c)
{
    int ch[MM_LEVELS];
    const char *down[MM_LEVELS], *up[MM_LEVELS];
    for (int i = 0; i < MM_LEVELS; i++) {
        ch[i] = c->model_channels * c->mult[i];
        down[i] = c->attn[i] ? "CrossAttnDownBlock2D" : "DownBlock2D";
        up[MM_LEVELS - 1 - i] = c->attn[i] ? "CrossAttnUpBlock2D" : "UpBlock2D";
    }
    cJSON *j = diffusers_config("UNet2DConditionModel");
    cJSON_AddStringToObject(j, "act_fn", "silu");
    cJSON_AddNumberToObject(j, "attention_head_dim", c->num_heads); /* diffusers' name for the head count */
    cJSON_AddItemToObject(j, "block_out_channels", int_array(ch, MM_LEVELS));
    cJSON_AddBoolToObject(j, "center_input_sample", 0);
    cJSON_AddNumberToObject(j, "cross_attention_dim", c->context_dim);
    cJSON_AddItemToObject(j, "down_block_types", str_array(down, MM_LEVELS));
    cJSON_AddNumberToObject(j, "downsample_padding", 1);
    cJSON_AddBoolToObject(j, "flip_sin_to_cos", 1);
    cJSON_AddNumberToObject(j, "freq_shift", 0);
    cJSON_AddNumberToObject(j, "in_channels", c->in_channels);
    cJSON_AddNumberToObject(j, "layers_per_block", c->num_res_blocks);
    cJSON_AddNumberToObject(j, "mid_block_scale_factor", 1);
    cJSON_AddNumberToObject(j, "norm_eps", 1e-5);
    cJSON_AddNumberToObject(j, "norm_num_groups", 32);
    cJSON_AddNumberToObject(j, "out_channels", 4);
    cJSON_AddNumberToObject(j, "sample_size", 64);
    cJSON_AddItemToObject(j, "up_block_types", str_array(up, MM_LEVELS));
    cJSON_AddBoolToObject(j, "use_linear_projection", 0);
    return j;
}

cJSON *mm_vae_config(const mm_config *c)
{
    int ch[MM_LEVELS];
    for (int i = 0; i < MM_LEVELS; i++)
        ch[i] = c->vae_ch * c->vae_mult[i];
    cJSON *j = diffusers_config("AutoencoderKL");
    cJSON_AddStringToObject(j, "act_fn", "silu");
    cJSON_AddItemToObject(j, "block_out_channels", int_array(ch, MM_LEVELS));
    cJSON_AddItemToObject(j, "down_block_types", repeated_str("DownEncoderBlock2D", MM_LEVELS));
    cJSON_AddNumberToObject(j, "in_channels", 3);
    cJSON_AddNumberToObject(j, "latent_channels", c->z_channels);
    cJSON_AddNumberToObject(j, "layers_per_block", c->vae_res);
    cJSON_AddNumberToObject(j, "norm_num_groups", 32);
    cJSON_AddNumberToObject(j, "out_channels", 3);
    cJSON_AddNumberToObject(j, "sample_size", 512);
    cJSON_AddNumberToObject(j, "scaling_factor", 0.18215);
    cJSON_AddItemToObject(j, "up_block_types", repeated_str("UpDecoderBlock2D", MM_LEVELS));
    return j;
}

cJSON *mm_text_encoder_config(const mm_config *c)
{
    static const char *const arch[] = {"CLIPTextModel"};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "architectures", str_array(arch, 1));
    cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
    cJSON_AddNumberToObject(j, "bos_token_id", 0);
    cJSON_AddNumberToObject(j, "dropout", 0.0);
    cJSON_AddNumberToObject(j, "eos_token_id", 2);
    cJSON_AddStringToObject(j, "hidden_act", "quick_gelu");
    cJSON_AddNumberToObject(j, "hidden_size", c->clip_width);
    cJSON_AddNumberToObject(j, "initializer_factor", 1.0);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "intermediate_size", c->clip_mlp);
    cJSON_AddNumberToObject(j, "layer_norm_eps", 1e-5);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_pos);
    cJSON_AddStringToObject(j, "model_type", "clip_text_model");
    cJSON_AddNumberToObject(j, "num_attention_heads", c->clip_heads);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->clip_layers);
    cJSON_AddNumberToObject(j, "pad_token_id", 1);
    cJSON_AddNumberToObject(j, "projection_dim", c->clip_width);
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab);
    return j;
}

cJSON *mm_scheduler_config(void)
{
    cJSON *j = diffusers_config("PNDMScheduler");
    cJSON_AddNumberToObject(j, "beta_end", 0.012);
    cJSON_AddStringToObject(j, "beta_schedule", "scaled_linear");
    cJSON_AddNumberToObject(j, "beta_start", 0.00085);
    cJSON_AddNumberToObject(j, "num_train_timesteps", 1000);
    cJSON_AddBoolToObject(j, "set_alpha_to_one", 0);
    cJSON_AddBoolToObject(j, "skip_prk_steps", 1);
    cJSON_AddNumberToObject(j, "steps_offset", 1);
    return j;
}

cJSON *mm_model_index(const mend_make_model_opts *o)
{
    static const char *const none[] = {NULL, NULL};
    static const char *const sched[] = {"diffusers", "PNDMScheduler"}, *const te[] = {"transformers", "CLIPTextModel"},
                             *const tok[] = {"transformers", "CLIPTokenizer"},
                             *const unet[] = {"diffusers", "UNet2DConditionModel"},
                             *const vae[] = {"diffusers", "AutoencoderKL"};
    cJSON *j = diffusers_config(o->arch == MEND_MM_SD1_INPAINT ? "StableDiffusionInpaintPipeline"
                                                                : "StableDiffusionPipeline");
    cJSON_AddItemToObject(j, "feature_extractor", str_array(none, 2));
    cJSON_AddBoolToObject(j, "requires_safety_checker", 0);
    cJSON_AddItemToObject(j, "safety_checker", str_array(none, 2));
    cJSON_AddItemToObject(j, "scheduler", str_array(sched, 2));
    cJSON_AddItemToObject(j, "text_encoder", str_array(te, 2));
    cJSON_AddItemToObject(j, "tokenizer", str_array(tok, 2)); /* tokenizer/ itself is not written */
    cJSON_AddItemToObject(j, "unet", str_array(unet, 2));
    cJSON_AddItemToObject(j, "vae", str_array(vae, 2));
    return j;
}

/* Writes and frees j. */
