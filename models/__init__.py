"""Score networks (Song et al., ICLR 2021, Sec. 4.4 and App. H) and their wrapping into scores.

Every model is a flax.linen module called as

    out = model.apply({"params": p}, x, labels, train=False, rngs={"dropout": key})

with x [B, ...] (NHWC images, or [B, D] for the MLP), labels [B] = `sde.noise_label(t)`, and out
shaped like x. Models take plain keyword arguments; turning a config into one happens in configs/.
`get_score_fn(sde, model)` turns a model into `score_fn(params, x, t)`; `Preconditioned(model)` reads a
model through EDM's preconditioning instead of the SDE's own output conversion.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn

from common import checks

from models.ddpm import DDPM
from models.mlp import ScoreMLP
from models.ncsn import NCSN, NCSNv2, NCSNv2_128, NCSNv2_256
from models.ncsnpp import DDPMPP_DEFAULTS, DDPMpp, NCSNpp
from models.score import (
    PARAMETERIZATIONS, Preconditioned, bind_params, edm_coefficients, edm_loss_weight, get_score_fn, init_params,
)

# The one place model names map to constructors. "ddpmpp" is NCSNpp with DDPMPP_DEFAULTS;
# "ncsnv2" is the paper's "ncsnv2_64" (score_sde picks 64 / 128 / 256 by image size).
MODELS = {
    "mlp": ScoreMLP, "ncsnpp": NCSNpp, "ddpmpp": DDPMpp, "ddpm": DDPM, "ncsn": NCSN, "ncsnv2": NCSNv2,
    "ncsnv2_64": NCSNv2, "ncsnv2_128": NCSNv2_128, "ncsnv2_256": NCSNv2_256,
}


def model_fields(name: str) -> list[str]:
    """The keyword arguments the model called `name` accepts."""
    if name not in MODELS:
        raise checks.ArgumentError("name", name, message=f"unknown model {name!r}; valid names: {sorted(MODELS)}")
    cls = getattr(MODELS[name], "func", MODELS[name])  # unwrap functools.partial
    return sorted(f.name for f in dataclasses.fields(cls) if f.init and f.name not in ("parent", "name"))


def get_model(name: str, **kwargs) -> nn.Module:
    """Builds the model called `name` (a key of MODELS) from keyword arguments."""
    valid = model_fields(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise checks.ArgumentError(unknown[0], kwargs[unknown[0]], message=(
            f"unknown argument(s) {unknown} for model {name!r}; valid: {valid}"))
    return MODELS[name](**kwargs)


__all__ = [
    "MODELS", "get_model", "model_fields", "ScoreMLP", "NCSNpp", "DDPMpp", "DDPMPP_DEFAULTS", "DDPM", "NCSN",
    "NCSNv2", "NCSNv2_128", "NCSNv2_256",
    "get_score_fn", "bind_params", "init_params", "Preconditioned", "PARAMETERIZATIONS", "edm_coefficients",
    "edm_loss_weight",
]
