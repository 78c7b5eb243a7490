#!/usr/bin/env python3
"""Reference trajectories of A1111's UniPC for tests/test_samplers.c (unipc_matches_a1111).

    python3 tools/gen_unipc_reference.py PATH/TO/uni_pc.py tests/data/unipc_a1111.json

uni_pc.py is AUTOMATIC1111/stable-diffusion-webui's modules/models/diffusion/uni_pc/uni_pc.py (fetched, not
part of mend; its commit goes into the output). It runs with A1111's settings (sd_samplers_timesteps_impl.unipc:
variant bh1, time_uniform, order 3, lower_order_final, predict_x0, multistep) on SD 1.x's alphas_cumprod (the
LDM schedule, float32), with a closed-form stand-in for the CFG'd UNet so the C test can evaluate the same
model: eps(x, t) = 0.5 * tanh(0.9 * x + 0.002 * t - 0.3) + 0.05 * x, t the model's (fractional) timestep
(t_continuous - 1/1000) * 1000 as A1111's UniPCCFG.get_model_input_time gives it. Needs python3-torch."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from a1111_ref import TOY_MODEL, load_a1111_file, sd1_alphas_cumprod, toy_eps  # noqa: E402

if len(sys.argv) != 3:
    sys.exit(__doc__)
uni_pc, source_line = load_a1111_file(sys.argv[1], "uni_pc")
alphas_cumprod = sd1_alphas_cumprod()


class UniPCToy(uni_pc.UniPC):
    """A1111's UniPCCFG with the toy model in place of the CFG denoiser."""

    def __init__(self, *args, **kwargs):
        super().__init__(None, *args, **kwargs)
        self.trace = []
        self.after_update = lambda x, model_x: self.trace.append(
            {"x": x.flatten().tolist(), "model_x": None if model_x is None else model_x.flatten().tolist()})

    def get_model_input_time(self, t_continuous):
        return (t_continuous - 1. / self.noise_schedule.total_N) * 1000.

    def model(self, x, t):
        return toy_eps(x, self.get_model_input_time(t)[:, None, None, None])


def ddim_timestep(steps, k):
    return min(1 + k * (1000 // steps), 999)


cases = []
torch.manual_seed(0)
x0 = torch.randn(1, 4, 3, 5)
for steps, first_index, img2img in [(20, 19, 0), (3, 2, 0), (4, 3, 0), (10, 9, 0), (20, 12, 1), (50, 5, 1)]:
    ns = uni_pc.NoiseScheduleVP('discrete', alphas_cumprod=alphas_cumprod)
    t_start = torch.tensor(ddim_timestep(steps, first_index)) / 1000 + 1 / 1000 if img2img else None
    s = UniPCToy(ns, predict_x0=True, thresholding=False, variant='bh1')
    out = s.sample(x0.clone(), steps=first_index + 1, t_start=t_start, skip_type='time_uniform', method='multistep',
                   order=3, lower_order_final=True)
    cases.append({"steps": steps, "first_index": first_index, "img2img": img2img, "shape": list(x0.shape),
                  "x_in": x0.flatten().tolist(), "trace": s.trace, "x_out": out.flatten().tolist()})

json.dump({"what": "A1111 UniPC (bh1, time_uniform, order 3, lower_order_final) trajectories on SD 1.x's schedule "
                   "with the toy model " + TOY_MODEL,
           "source": source_line, "generator": "tools/gen_unipc_reference.py", "torch": torch.__version__,
           "tolerance": "max abs err 1e-4 (float32 ops in another order)", "cases": cases},
          open(sys.argv[2], "w"), indent=None)
print(f"{len(cases)} cases written to {sys.argv[2]}")
