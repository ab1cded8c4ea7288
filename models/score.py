"""From a network to the score.

The paper's parameterisation (the default): `score(x, t) = sde.score_from_output(model(x, sde.noise_label(t)), t)`.
The SDE decides both what the network is fed (its `noise_label`: the DDPM step index for VP and
sub-VP, sigma(t) for VE) and what its output means (`score_from_output`: an epsilon-prediction for
VP / sub-VP, sigma(t) times the score for VE), so nothing here asks what type of SDE it was given.

`Preconditioned(net, sigma_data)` instead wraps a network in the preconditioning of EDM (Karras et
al., NeurIPS 2022, "Elucidating the design space of diffusion-based generative models", Table 1),
written for any SDE through its alpha(t) and sigma(t) only: with x_t = alpha x_0 + sigma z, the
scaled input x^ = x_t / alpha = x_0 + s z has noise level s(t) = sigma / alpha = exp(-lambda(t)), and

    D(x^, s) = c_skip(s) x^ + c_out(s) F(c_in(s) x^, c_noise(s)),
    c_skip = sd^2 / (s^2 + sd^2),  c_out = s sd / sqrt(s^2 + sd^2),  c_in = 1 / sqrt(s^2 + sd^2),

(sd = sigma_data), with the noise label c_noise = s (the networks' Fourier embedding takes its log,
EDM's c_noise = log(s) / 4 up to the embedding's scale). D estimates E[x_0 | x_t], so the score is
(alpha D - x_t) / sigma^2 = (D - x^) / (alpha s^2). The loss weight that goes with it is
`edm_loss_weight` (training/losses.py applies it).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import checks
from sde_lib import SDE, batch_mul
from sde_lib.base import Array, ScoreFn

# score_fn(params, x [B, ...], t [B], dropout_key=None) -> score [B, ...]
ParamScoreFn = Callable[..., Array]

PARAMETERIZATIONS = ("sde", "edm")


@dataclasses.dataclass(frozen=True)
class Preconditioned:
    """A network `net` to be read through EDM's preconditioning (see the module docstring).

    It has `net`'s parameters (the same tree: `init` and `apply` are `net`'s); `get_score_fn` feeds
    it c_in x^ and the label s and combines its output with c_skip and c_out.
    """

    net: nn.Module
    sigma_data: float = 0.5

    def __post_init__(self):
        checks.positive("sigma_data", self.sigma_data)

    def init(self, *args, **kwargs):
        return self.net.init(*args, **kwargs)

    def apply(self, *args, **kwargs):
        return self.net.apply(*args, **kwargs)


def edm_coefficients(sde: SDE, t: Array, sigma_data: float) -> dict[str, Array]:
    """c_skip, c_out, c_in, c_noise (= s) and s = sigma(t) / alpha(t) at times t (EDM, Table 1)."""
    s = jnp.exp(-sde.log_snr(t))
    norm = jnp.sqrt(s**2 + sigma_data**2)
    return {"s": s, "c_skip": sigma_data**2 / norm**2, "c_out": s * sigma_data / norm, "c_in": 1.0 / norm,
            "c_noise": s}


def edm_loss_weight(sde: SDE, t: Array, sigma_data: float) -> Array:
    """EDM's weight lambda(s) = (s^2 + sd^2) / (s sd)^2 on |D - x_0|^2, relative to the sigma(t)^2
    weighting of the score loss: since sigma s_theta + z = (D - x_0) / s, it is 1 + s^2 / sd^2
    (= 1 / c_skip), and the loss is then |F - F_target|^2 with unit weight at every noise level."""
    return 1.0 + jnp.exp(-2.0 * sde.log_snr(t)) / sigma_data**2


def init_params(model: nn.Module, key: Array, shape) -> dict:
    """Initial parameters of `model` for inputs of `shape` = (batch, *data_shape)."""
    shape = tuple(shape)
    try:
        if len(shape) < 2:
            raise ValueError
        for n in shape:
            checks.positive_int("shape", n)
    except ValueError:
        raise checks.ArgumentError("shape", shape, "(batch, *data_shape) with positive integers") from None
    params_key, dropout_key = jax.random.split(key)
    init = jax.jit(functools.partial(model.init, train=False))
    variables = init({"params": params_key, "dropout": dropout_key}, jnp.zeros(shape), jnp.ones(shape[:1]))
    return variables["params"]


def get_score_fn(sde: SDE, model: nn.Module, *, train: bool = False) -> ParamScoreFn:
    """`score_fn(params, x, t, dropout_key=None)`: the score of p_t that `model` with `params`
    represents under `sde` (through EDM's preconditioning when `model` is `Preconditioned`). With
    `train=True` dropout is active and `dropout_key` is required."""
    precond = isinstance(model, Preconditioned)

    def score_fn(params, x: Array, t: Array, dropout_key: Array | None = None) -> Array:
        if train and dropout_key is None:
            raise ValueError("dropout_key is required when train=True, got dropout_key=None")
        rngs = None if dropout_key is None else {"dropout": dropout_key}
        apply = functools.partial(model.apply, {"params": params}, train=train, rngs=rngs)
        if not precond:
            return sde.score_from_output(apply(x, sde.noise_label(t)), t)
        c = edm_coefficients(sde, t, model.sigma_data)
        alpha = sde.alpha(t)
        x_hat = batch_mul(1.0 / alpha, x)
        out = apply(batch_mul(c["c_in"], x_hat), c["c_noise"])
        # (D - x^) / (alpha s^2) with (c_skip - 1) / s^2 = -c_in^2 and c_out / s^2 = sd c_in / s: no cancellation.
        sd = model.sigma_data
        return batch_mul(-c["c_in"] ** 2 / alpha, x_hat) + batch_mul(sd * c["c_in"] / (c["s"] * alpha), out)

    return score_fn


def bind_params(score_fn: ParamScoreFn, params) -> ScoreFn:
    """The samplers' `score_fn(x, t)`: `score_fn(params, x, t)` with `params` fixed (eval mode)."""
    return lambda x, t: score_fn(params, x, t)
