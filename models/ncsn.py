"""NCSN (Song & Ermon, NeurIPS 2019) and NCSNv2 (Song & Ermon, NeurIPS 2020): the RefineNet score
networks of score matching with Langevin dynamics (SMLD), as in the paper's code (score_sde
`models/ncsnv2.py`; Song et al. 2021 train them with the SMLD loss and sample them with
annealed Langevin dynamics, `configs/ve/ncsn/*`, `configs/ve/ncsnv2/*`).

    out = model.apply({"params": p}, x, labels, train=False)

x is [B, H, W, C] (NHWC), labels [B] the VE SDE's noise labels sigma(t); out has x's shape.

The paper's networks index a descending table of noise levels,
sigmas = exp(linspace(log sigma_max, log sigma_min, num_scales)), with integer labels
i = round((1 - t)(N - 1)) (half to even): NCSN (v1) embeds i in its conditional normalisation
and outputs the score itself (`scale_by_sigma=False`); NCSNv2 is unconditional and outputs
h / sigmas[i] (`scale_by_sigma=True`, Song & Ermon 2020, Technique 3). Here the labels are
sigma(t) like every network's under the VE SDE, whose `score_from_output` divides the output by
sigma(t). So each module maps sigma(t) back to the paper's index i from its own sigma_min,
sigma_max and num_scales (`noise_index`) and returns

    out = sigma(t) * (paper's score) = sigma(t) * h / sigmas[i]   (or sigma(t) * h for NCSN v1),

so that our score out / sigma(t) equals the paper's score, and with the paper's weights its raw
output is ours divided by sigma(t). Under any other SDE the labels are not noise levels and these
networks do not apply. Parameter names are the paper's (see models/refinenet.py), so its
checkpoints load without renaming.
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import checks
from models.layers import ACTIVATIONS, check_labels, get_act
from models.normalization import NORMALIZATIONS, ConditionalInstanceNorm2dPlus, InstanceNorm2dPlus
from models.refinenet import (
    INTERPOLATIONS, CondRefineBlock, ConditionalResidualBlock, RefineBlock, ResidualBlock, ncsn_conv,
)

Array = jax.Array

# The encoder of each paper variant: after two blocks of width nf at full resolution, one stage
# (width multiplier, dilation) per entry, each a 'down' block then a plain one. Stages with
# dilation 1 halve H and W, dilated ones keep them. Then one RefineBlock per stage, deepest first,
# of these width multipliers.
ARCHITECTURES = {
    "64": dict(stages=((2, 1), (2, 2), (2, 4)), refine=(2, 2, 2, 1)),  # NCSNv2 <= 64 px, NCSN v1
    "128": dict(stages=((2, 1), (2, 1), (4, 2), (4, 4)), refine=(4, 2, 2, 1, 1)),  # 96-128 px
    "256": dict(stages=((2, 1), (2, 1), (2, 1), (4, 2), (4, 4)), refine=(4, 2, 2, 2, 1, 1)),  # 129-256 px
}


def paper_sigmas(sigma_min: float, sigma_max: float, num_scales: int) -> Array:
    """The paper's descending noise levels (score_sde `models/utils.py` get_sigmas)."""
    return jnp.exp(jnp.linspace(jnp.log(sigma_max), jnp.log(sigma_min), num_scales))


def noise_index(sigma: Array, sigma_min: float, sigma_max: float, num_scales: int) -> Array:
    """The paper's label round((1 - t)(N - 1)) (half to even) of the t with sigma(t) = sigma,
    as int32 [B]; levels outside [sigma_min, sigma_max] clip to the end indices.

    u = (1 - t)(N - 1) is recovered from log sigma, within about 2.5e-7 (N - 1) of the paper's
    float32 value. Values within `tie_tol` = 1e-6 (N - 1) of a half are taken to be that half, so
    that the exact ties the paper rounds to even (t = 0.5 with N - 1 odd, as in its NCSNv2 CIFAR-10
    config) are not tipped either way by that error; a t within tie_tol of a tie that is not one
    (a band of width 2e-6 (N - 1) in u per level) may get the neighbouring index.
    """
    log_ratio = math.log(sigma_max) - math.log(sigma_min)
    u = (num_scales - 1) * (math.log(sigma_max) - jnp.log(sigma)) / log_ratio
    half = jnp.floor(u) + 0.5
    u = jnp.where(jnp.abs(u - half) < tie_tol(num_scales), half, u)
    return jnp.clip(jnp.round(u), 0, num_scales - 1).astype(jnp.int32)


def tie_tol(num_scales: int) -> float:
    """The distance from a half-integer within which `noise_index` treats u as a tie."""
    return 1e-6 * max(num_scales - 1, 1)


def _check_fields(m) -> None:
    checks.positive_int("nf", m.nf)
    checks.choice("nonlinearity", m.nonlinearity, ACTIVATIONS)
    checks.choice("normalization", m.normalization, NORMALIZATIONS)
    checks.choice("interpolation", m.interpolation, INTERPOLATIONS)
    checks.positive_int("num_scales", m.num_scales)
    checks.increasing("sigma_min", m.sigma_min, "sigma_max", m.sigma_max)


def _check_image(x: Array, halvings: int) -> None:
    if x.ndim != 4:
        raise ValueError(f"x must be an NHWC batch [B, H, W, C], got x.shape={x.shape}")
    f = 2**halvings
    if x.shape[1] % f or x.shape[2] % f:
        raise ValueError(f"H and W must be divisible by {f} (the network halves them {halvings} times), "
                         f"got x.shape={x.shape}")


class _RefineNet(nn.Module):
    """The shared body of NCSN and NCSNv2; see the module docstring for the fields' meaning."""

    nf: int = 128
    nonlinearity: str = "elu"
    normalization: str = "InstanceNorm++"
    interpolation: str = "bilinear"
    sigma_min: float = 0.01
    sigma_max: float = 50.0
    num_scales: int = 232
    scale_by_sigma: bool = True
    centered: bool = False

    architecture = "64"
    conditional = False

    def __post_init__(self):
        _check_fields(self)
        super().__post_init__()

    @classmethod
    def halvings(cls) -> int:
        """How many times the network halves H and W (inputs must be divisible by 2^this)."""
        return sum(d == 1 for _, d in ARCHITECTURES[cls.architecture]["stages"])

    @nn.compact
    def __call__(self, x: Array, labels: Array, train: bool = False) -> Array:
        del train  # no dropout
        _check_image(x, self.halvings())
        check_labels(x, labels)
        arch = ARCHITECTURES[self.architecture]
        act, nf = get_act(self.nonlinearity), self.nf
        idx = noise_index(labels, self.sigma_min, self.sigma_max, self.num_scales)
        if self.conditional:
            norm = functools.partial(ConditionalInstanceNorm2dPlus, num_classes=self.num_scales)
            Res, Refine, y = ConditionalResidualBlock, functools.partial(CondRefineBlock, normalizer=norm), idx
        else:
            norm, Res, Refine, y = InstanceNorm2dPlus, ResidualBlock, RefineBlock, None

        h = x if self.centered else 2.0 * x - 1.0
        h = ncsn_conv(h, nf)
        h = Res(nf, norm, act=act)(h, y)
        layers = [Res(nf, norm, act=act)(h, y)]
        for mult, dilation in arch["stages"]:
            h = Res(mult * nf, norm, resample="down", act=act, dilation=dilation)(layers[-1], y)
            layers.append(Res(mult * nf, norm, act=act, dilation=dilation)(h, y))

        ref = None
        for k, (layer, mult) in enumerate(zip(reversed(layers), arch["refine"])):
            inputs = [layer] if ref is None else [layer, ref]
            ref = Refine(layer.shape[1:3], mult * nf, act=act, interpolation=self.interpolation,
                         start=k == 0, end=k == len(layers) - 1)(inputs, y)

        h = act(norm()(ref) if y is None else norm()(ref, y))
        h = ncsn_conv(h, x.shape[-1])
        # Our VE SDE divides by sigma(t): return sigma(t) times the paper's score.
        scale = labels
        if self.scale_by_sigma:
            scale = scale / paper_sigmas(self.sigma_min, self.sigma_max, self.num_scales)[idx]
        return h * scale.reshape((-1,) + (1,) * (h.ndim - 1))


class NCSNv2(_RefineNet):
    """NCSNv2 for images up to 64 px (the paper's `ncsnv2_64`; Song & Ermon 2020, App. B.1):
    unconditional RefineNet, InstanceNorm++, output divided by the noise level.

    nf: base width. nonlinearity: elu | relu | lrelu | swish. normalization: 'InstanceNorm++'.
    interpolation: 'bilinear' | 'nearest_neighbor' (multi-resolution fusion).
    sigma_min, sigma_max, num_scales: the SMLD noise levels (the VE SDE's; labels are mapped to
      the paper's index with them). scale_by_sigma: the score is h / sigma_i (True, NCSNv2) or h.
    centered: inputs already in [-1, 1]; if False they are mapped from [0, 1] first.
    """


class NCSNv2_128(NCSNv2):  # noqa: N801 (the paper's name)
    """NCSNv2 for 96-128 px images (the paper's `ncsnv2_128`): one more halving stage, wider."""

    architecture = "128"


class NCSNv2_256(NCSNv2):  # noqa: N801
    """NCSNv2 for 129-256 px images (the paper's `ncsnv2_256`)."""

    architecture = "256"


class NCSN(_RefineNet):
    """NCSN v1 (Song & Ermon 2019, App. A): the 64 px RefineNet with conditional InstanceNorm++
    throughout, one embedding row per noise level (num_scales rows), score output (no division;
    `scale_by_sigma=False` as in the paper's configs). Fields as in `NCSNv2`."""

    num_scales: int = 10
    sigma_max: float = 1.0
    scale_by_sigma: bool = False
    conditional = True
