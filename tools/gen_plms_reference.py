#!/usr/bin/env python3
"""Reference results of A1111's PLMS for tests/test_unipc.c (plms_matches_a1111).

    python3 tools/gen_plms_reference.py PATH/TO/sd_samplers_timesteps_impl.py tests/data/plms_a1111.json

The file is AUTOMATIC1111/stable-diffusion-webui's modules/sd_samplers_timesteps_impl.py (fetched, not part of
mend; its first line names the commit): its plms() runs on A1111's timesteps (CompVisSampler.get_timesteps:
range(0, 1000, 1000 // steps) + 1, clipped to 999; img2img: the first t_enc of them) with SD 1.x's
alphas_cumprod and the closed-form model of tools/gen_unipc_reference.py in place of the CFG denoiser."""
import importlib.util
import json
import sys
import types

import numpy as np
import torch

if len(sys.argv) != 3:
    sys.exit(__doc__)
tqdm = types.ModuleType("tqdm")
tqdm.trange = lambda n, disable=None: range(n)
sys.modules["tqdm"] = tqdm
spec = importlib.util.spec_from_file_location("timesteps_impl", sys.argv[1])
impl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(impl)
source_line = open(sys.argv[1]).readline().strip()

betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
alphas_cumprod = torch.tensor(np.cumprod(1.0 - betas.numpy(), axis=0), dtype=torch.float32)


class ToyModel:
    """Stands in for CFGDenoiserTimesteps: eps at the integer timestep t."""

    def __init__(self):
        self.inner_model = types.SimpleNamespace(inner_model=types.SimpleNamespace(alphas_cumprod=alphas_cumprod))
        self.calls = 0

    def __call__(self, x, t):
        self.calls += 1
        return 0.5 * torch.tanh(0.9 * x + 0.002 * t[:, None, None, None] - 0.3) + 0.05 * x


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

json.dump({"what": "A1111 PLMS results on SD 1.x's schedule with the toy model "
                   "eps(x, t) = 0.5 * tanh(0.9 * x + 0.002 * t - 0.3) + 0.05 * x",
           "source": source_line, "generator": "tools/gen_plms_reference.py", "torch": torch.__version__,
           "tolerance": "max abs err 1e-4", "cases": cases}, open(sys.argv[2], "w"))
print(f"{len(cases)} cases written to {sys.argv[2]}")
