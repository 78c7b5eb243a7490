/* Diffusers folder layout support: the tensors of a diffusers unet/ or vae/
 * file are renamed, in the loaded table, to the LDM single-file names the
 * model code uses ("down_blocks.0.resnets.0.conv1.weight" ->
 * "input_blocks.1.0.in_layers.2.weight"). Text encoders need no renaming
 * (both layouts use HF CLIP names under "text_model."). */
#ifndef MEND_MODEL_DIFFUSERS_H
#define MEND_MODEL_DIFFUSERS_H

#include "io/tensorfile.h"

mend_status mend_diffusers_rename_unet(mend_tf *f, mend_err *err);
mend_status mend_diffusers_rename_vae(mend_tf *f, mend_err *err);

#endif
