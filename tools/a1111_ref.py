"""What the reference-vector generators of tools/gen_*_reference.py share: loading one of A1111's source files
(fetched, not part of mend) without the rest of A1111, SD 1.x's alphas_cumprod as LDM computes it, and the
closed-form stand-in for the CFG'd UNet that the C tests evaluate too."""
import importlib.util
import sys
import types

import numpy as np
import torch


def load_a1111_file(path, name):
    """The module in `path`, with tqdm (a progress bar only) stubbed; and the file's first line (its commit)."""
    tqdm = types.ModuleType("tqdm")
    tqdm.trange = lambda n, *args, **kwargs: range(n) if isinstance(n, int) else range(*((n,) + args))
    tqdm_auto = types.ModuleType("tqdm.auto")
    tqdm_auto.trange = range
    sys.modules.update({"tqdm": tqdm, "tqdm.auto": tqdm_auto})
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(path) as f:
        return module, f.readline().strip()


def sd1_alphas_cumprod():
    """LDM's register_schedule: linear betas in sqrt space, float64 cumprod, kept as float32."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.tensor(np.cumprod(1.0 - betas.numpy(), axis=0), dtype=torch.float32)


TOY_MODEL = "eps(x, t) = 0.5 * tanh(0.9 * x + 0.002 * t - 0.3) + 0.05 * x"


def toy_eps(x, t):
    """The closed-form model: t the model's timestep, broadcast over x."""
    return 0.5 * torch.tanh(0.9 * x + 0.002 * t - 0.3) + 0.05 * x
