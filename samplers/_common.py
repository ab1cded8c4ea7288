"""Pieces every sampler shares: per-sample keys, the prior draw, the checks of shape, end time, key and
score, and the data prediction (Tweedie's formula)."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from common import checks
from sde_lib import SDE
from sde_lib.base import Array, ScoreFn

# sample_fn(key, score_fn, x_init=None) -> (samples, nfe)
SampleFn = Callable[..., tuple[Array, Array]]


def check_shape(shape) -> tuple[int, ...]:
    shape = tuple(shape)
    if len(shape) < 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        raise checks.ArgumentError("shape", shape, "(batch, *data_shape) with positive integers")
    return shape


def check_eps(sde: SDE, eps: float | None) -> float:
    """The sampler's end time `eps`: the SDE's default when None; must lie in (0, T)."""
    eps = sde.sampling_eps if eps is None else eps
    try:
        return checks.number("eps", eps, low=0.0, high=sde.T, low_open=True, high_open=True)
    except checks.ArgumentError:
        raise checks.ArgumentError("eps", eps, message=f"eps must lie in (0, T={sde.T}), got eps={eps!r}") from None


def per_sample_keys(key: Array, batch: int) -> Array:
    """Key b is fold_in(key, b): sample b's randomness does not depend on the batch size."""
    return jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(batch))


def check_key(key) -> None:
    """`key` must be one PRNG key: `jax.random.key(seed)` (shape ()) or `jax.random.PRNGKey(seed)`
    (uint32 [2]). Raised at trace time."""
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    if not ((typed and shape == ()) or (dtype == jnp.uint32 and shape == (2,))):
        got = f"dtype={dtype}, shape={shape}" if shape is not None else type(key).__name__
        raise ValueError(
            f"key must be one PRNG key, jax.random.key(seed) or jax.random.PRNGKey(seed), got key with {got}"
        )


def check_x_init(x_init, shape) -> None:
    """`x_init` must be a floating array of the sampler's `shape`, batch axis included."""
    got = getattr(x_init, "shape", None)
    if got is None:
        raise ValueError(f"x_init must be an array of shape {tuple(shape)}, got {type(x_init).__name__}")
    if tuple(got) != tuple(shape):
        hint = " (no batch axis: pass x_init[None] or a batch)" if tuple(got) == tuple(shape[1:]) else ""
        raise ValueError(f"x_init must have shape (batch, *data_shape) = {tuple(shape)}, got x_init.shape="
                         f"{tuple(got)}{hint}")
    if not jnp.issubdtype(x_init.dtype, jnp.floating):
        raise ValueError(f"x_init must have a floating dtype, got x_init.dtype={x_init.dtype}")


def init_samples(sde: SDE, shape, key: Array, x_init: Array | None) -> tuple[Array, Array]:
    """The starting point x_T ([B, ...]) and one noise key per sample for the steps that follow.

    Sample b draws its prior from fold_in(key, b) split in two; the other half keys its noise.
    A bad `key` or `x_init` raises a ValueError at trace time.
    """
    check_key(key)
    keys = jax.vmap(jax.random.split)(per_sample_keys(key, shape[0]))
    prior_keys, noise_keys = keys[:, 0], keys[:, 1]
    if x_init is None:
        x = jax.vmap(lambda k: sde.prior_sampling(k, shape[1:]))(prior_keys)
    else:
        check_x_init(x_init, shape)
        x = x_init
    return x, noise_keys


def step_noise(noise_keys: Array, i: Array, data_shape) -> Array:
    """Standard normal noise [B, *data_shape] for step i, from each sample's own key."""
    return jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, i), data_shape))(noise_keys)


def data_prediction(sde: SDE, score_fn: ScoreFn, x: Array, t) -> Array:
    """x0_hat(x, t) = E[x_0 | x_t = x] = (x + sigma(t)^2 score(x, t)) / alpha(t) at a scalar time t
    (Tweedie's formula); one NFE. The final denoising step of every sampler, and the data
    prediction of DPM-Solver++, UniPC and EDM's denoiser D."""
    vec_t = jnp.full(x.shape[:1], t)
    return (x + sde.sigma(t) ** 2 * score_fn(x, vec_t)) / sde.alpha(t)


def check_score_output(score_fn: ScoreFn, x: Array) -> None:
    """Traces score_fn once (no computation) and checks it returns a floating array shaped like x."""
    if not callable(score_fn):
        raise ValueError(f"score_fn must be callable as score_fn(x [B, ...], t [B]), got {type(score_fn).__name__}")
    out = jax.eval_shape(score_fn, x, jnp.zeros(x.shape[:1], x.dtype))
    if getattr(out, "shape", None) != x.shape:
        raise ValueError(
            f"score_fn must return an array of shape {x.shape} (that of x), got "
            f"{getattr(out, 'shape', type(out).__name__)}"
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise ValueError(f"score_fn must return a floating array, got dtype {out.dtype}")
