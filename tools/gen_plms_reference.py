#!/usr/bin/env python3
"""Reference results of A1111's PLMS for tests/test_unipc.c (plms_matches_a1111).

    python3 tools/gen_plms_reference.py PATH/TO/sd_samplers_timesteps_impl.py tests/data/plms_a1111.json

The file is AUTOMATIC1111/stable-diffusion-webui's modules/sd_samplers_timesteps_impl.py (fetched, not part of
mend; its first line names the commit): its plms() runs on A1111's timesteps (CompVisSampler.get_timesteps:
range(0, 1000, 1000 // steps) + 1, clipped to 999; img2img: the first t_enc of them) with SD 1.x's
alphas_cumprod and the closed-form model of tools/gen_unipc_reference.py in place of the CFG denoiser."""
import json
import os
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from a1111_ref import TOY_MODEL, load_a1111_file, sd1_alphas_cumprod, toy_eps  # noqa: E402

if len(sys.argv) != 3:
    sys.exit(__doc__)
impl, source_line = load_a1111_file(sys.argv[1], "timesteps_impl")
alphas_cumprod = sd1_alphas_cumprod()


class ToyModel:
    """Stands in for CFGDenoiserTimesteps: eps at the integer timestep t."""

    def __init__(self):
        self.inner_model = types.SimpleNamespace(inner_model=types.SimpleNamespace(alphas_cumprod=alphas_cumprod))
        self.calls = 0

    def __call__(self, x, t):
        self.calls += 1
        return toy_eps(x, t[:, None, None, None])


cases = []
torch.manual_seed(1)
x0 = torch.randn(1, 4, 3, 5)
for steps, t_enc in [(10, None), (20, None), (7, None), (20, 13), (50, 6)]:
    timesteps = torch.clip(torch.asarray(list(range(0, 1000, 1000 // steps))) + 1, 0, 999)
    first_index = len(timesteps) - 1 if t_enc is None else t_enc - 1
    if t_enc is not None:
        timesteps = timesteps[:t_enc]
    model = ToyModel()
    out = impl.plms(model, x0.clone(), timesteps)
    cases.append({"steps": steps, "first_index": first_index, "calls": model.calls, "shape": list(x0.shape),
                  "x_in": x0.flatten().tolist(), "x_out": out.flatten().tolist()})

json.dump({"what": "A1111 PLMS results on SD 1.x's schedule with the toy model " + TOY_MODEL,
           "source": source_line, "generator": "tools/gen_plms_reference.py", "torch": torch.__version__,
           "tolerance": "max abs err 1e-4", "cases": cases}, open(sys.argv[2], "w"))
print(f"{len(cases)} cases written to {sys.argv[2]}")
