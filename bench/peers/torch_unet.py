#!/usr/bin/env python3
"""torch CPU peer for mend-bench: one UNet step with CFG (batch 2) of the
original LDM UNet (CompVis/stable-diffusion's openaimodel.py, from a git
directory given with --ldm-git) on the same checkpoint mend-bench times, in
fp32 and in bf16 autocast. Prints one line per precision:
    torch <fp32|bf16> unet_step_ms=<best of reps> threads=<n>
Run by bench/peers/run.sh; needs Debian's python3-torch and python3-numpy."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

DTYPES = {'F32': np.float32, 'F16': np.float16, 'BF16': np.uint16}


def read_unet(path, prefix='model.diffusion_model.'):
    """The UNet tensors of a safetensors file (safetensors is not in Debian 12)."""
    with open(path, 'rb') as f:
        n = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for key, info in header.items():
            if key == '__metadata__' or not key.startswith(prefix):
                continue
            a, b = info['data_offsets']
            f.seek(base + a)
            raw = np.frombuffer(f.read(b - a), dtype=DTYPES[info['dtype']]).reshape(info['shape'])
            if info['dtype'] == 'BF16':
                t = torch.from_numpy(raw.astype(np.int32) << 16).view(torch.float32)
            else:
                t = torch.from_numpy(raw.astype(np.float32))
            out[key[len(prefix):]] = t
        return out


def ldm_sources(git_dir, commit):
    """Extracts ldm/ of CompVis/stable-diffusion at commit into a temp dir."""
    dest = tempfile.mkdtemp(prefix='mend-ldm-')
    archive = subprocess.run(['git', '--git-dir', git_dir, 'archive', commit, 'ldm'], check=True,
                             capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', dest], input=archive, check=True)
    return dest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--ldm-git', required=True)
    ap.add_argument('--ldm-commit', default='21f890f9da3cfbeaba8e2ac3c425ee9e998d5229')
    ap.add_argument('--size', type=int, default=512)
    ap.add_argument('--reps', type=int, default=2)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--precision', default='fp32,bf16')
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, 'shim'), ldm_sources(args.ldm_git, args.ldm_commit)]
    from ldm.modules.diffusionmodules import util as ldm_util
    from ldm.modules.diffusionmodules.openaimodel import UNetModel

    def group_norm_fp32(self, x):
        # LDM's GroupNorm32 normalises in fp32; under torch 1.13's CPU
        # autocast group_norm refuses a bf16 input with fp32 weights (and
        # fp32 input with them), so every GroupNorm (GroupNorm32 and the
        # SpatialTransformer's plain nn.GroupNorm) runs with autocast off:
        # norms stay fp32, as in mend's bf16 mode.
        with torch.autocast('cpu', enabled=False):
            return torch.nn.functional.group_norm(x.float(), self.num_groups, self.weight, self.bias,
                                                  self.eps).type(x.dtype)
    def layer_norm_fp32(self, x):
        # the same for the transformer blocks' LayerNorms
        with torch.autocast('cpu', enabled=False):
            return torch.nn.functional.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias,
                                                  self.eps).type(x.dtype)
    ldm_util.GroupNorm32.forward = group_norm_fp32
    torch.nn.GroupNorm.forward = group_norm_fp32
    torch.nn.LayerNorm.forward = layer_norm_fp32

    torch.set_num_threads(args.threads)
    sd = read_unet(args.model)
    in_ch = sd['input_blocks.0.0.weight'].shape[1]
    unet = UNetModel(image_size=32, in_channels=in_ch, out_channels=4, model_channels=320,
                     attention_resolutions=[4, 2, 1], num_res_blocks=2, channel_mult=[1, 2, 4, 4], num_heads=8,
                     use_spatial_transformer=True, transformer_depth=1, context_dim=768, use_checkpoint=False,
                     legacy=False)
    missing, unexpected = unet.load_state_dict(sd, strict=False)
    if missing or unexpected:
        sys.exit('torch_unet: checkpoint does not fit the SD 1.x UNet: missing %s, unexpected %s'
                 % (missing[:3], unexpected[:3]))
    unet.eval()
    lat = args.size // 8
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, in_ch, lat, lat, generator=g)
    t = torch.tensor([500.0, 500.0])
    ctx = torch.randn(2, 77, 768, generator=g)
    for prec in args.precision.split(','):
        best = None
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=(prec == 'bf16')):
            for rep in range(args.reps + 1):  # the first call warms up
                t0 = time.perf_counter()
                unet(x, t, context=ctx)
                dt = time.perf_counter() - t0
                if rep and (best is None or dt < best):
                    best = dt
        print('torch %s unet_step_ms=%.1f threads=%d torch=%s ldm=CompVis/stable-diffusion@%s'
              % (prec, best * 1e3, args.threads, torch.__version__, args.ldm_commit[:12]), flush=True)


if __name__ == '__main__':
    main()
