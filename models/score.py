"""From a network to the score: `score(x, t) = sde.score_from_output(model(x, sde.noise_label(t)), t)`.

The SDE decides both what the network is fed (its `noise_label`: the DDPM step index for VP and
sub-VP, sigma(t) for VE) and what its output means (`score_from_output`: an epsilon-prediction for
VP / sub-VP, sigma(t) times the score for VE), so nothing here asks what type of SDE it was given.
"""

from __future__ import annotations

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from sde_lib import SDE
from sde_lib.base import Array, ScoreFn

# score_fn(params, x [B, ...], t [B], dropout_key=None) -> score [B, ...]
ParamScoreFn = Callable[..., Array]


def init_params(model: nn.Module, key: Array, shape) -> dict:
    """Initial parameters of `model` for inputs of `shape` = (batch, *data_shape)."""
    shape = tuple(shape)
    if len(shape) < 2 or not all(isinstance(n, int) and n > 0 for n in shape):
        raise ValueError(f"shape must be (batch, *data_shape) with positive integers, got shape={shape!r}")
    params_key, dropout_key = jax.random.split(key)
    init = jax.jit(functools.partial(model.init, train=False))
    variables = init({"params": params_key, "dropout": dropout_key}, jnp.zeros(shape), jnp.ones(shape[:1]))
    return variables["params"]


def get_score_fn(sde: SDE, model: nn.Module, *, train: bool = False) -> ParamScoreFn:
    """`score_fn(params, x, t, dropout_key=None)`: the score of p_t that `model` with `params`
    represents under `sde`. With `train=True` dropout is active and `dropout_key` is required."""

    def score_fn(params, x: Array, t: Array, dropout_key: Array | None = None) -> Array:
        if train and dropout_key is None:
            raise ValueError("dropout_key is required when train=True, got dropout_key=None")
        rngs = None if dropout_key is None else {"dropout": dropout_key}
        out = model.apply({"params": params}, x, sde.noise_label(t), train=train, rngs=rngs)
        return sde.score_from_output(out, t)

    return score_fn


def bind_params(score_fn: ParamScoreFn, params) -> ScoreFn:
    """The samplers' `score_fn(x, t)`: `score_fn(params, x, t)` with `params` fixed (eval mode)."""
    return lambda x, t: score_fn(params, x, t)
