"""Denoising score-matching objectives (Song et al. 2021, Eq. 7; Ho et al. 2020; Song & Ermon 2019).

Every loss is built from an SDE and a `score_fn(params, x, t) -> score` and returns the pure
function `loss_fn(params, key, batch) -> scalar`. Nothing here knows about configs or networks.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from sde_lib import SDE, batch_mul
from sde_lib.base import Array

ParamScoreFn = Callable[[object, Array, Array], Array]


def _reducer(reduce_mean: bool):
    # The paper's convention: mean over dimensions, or half the sum.
    if reduce_mean:
        return lambda v: jnp.mean(jnp.reshape(v, (v.shape[0], -1)), axis=-1)
    return lambda v: 0.5 * jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


def get_sde_loss_fn(
    sde: SDE,
    score_fn: ParamScoreFn,
    *,
    reduce_mean: bool = True,
    likelihood_weighting: bool = False,
    eps: float = 1e-5,
):
    """Continuous-time DSM with t ~ U(eps, T).

    Weighting lambda(t) = sigma(t)^2 by default: E || sigma(t) s(x_t, t) + z ||^2; with
    `likelihood_weighting`, lambda(t) = g(t)^2 (Song et al. 2021b): E g(t)^2 || s(x_t, t) + z / sigma(t) ||^2.
    """
    if not 0 < eps < sde.T:
        raise ValueError(f"eps must lie in (0, T={sde.T}), got eps={eps!r}")
    reduce = _reducer(reduce_mean)

    def loss_fn(params, key, batch):
        k_t, k_z = jax.random.split(key)
        t = jax.random.uniform(k_t, batch.shape[:1], minval=eps, maxval=sde.T)
        z = jax.random.normal(k_z, batch.shape)
        mean, std = sde.marginal_prob(batch, t)
        score = score_fn(params, mean + batch_mul(std, z), t)
        if likelihood_weighting:
            g2 = sde.sde(jnp.zeros_like(batch), t)[1] ** 2
            losses = reduce(jnp.square(score + batch_mul(1.0 / std, z))) * g2
        else:
            losses = reduce(jnp.square(batch_mul(std, score) + z))
        return jnp.mean(losses)

    return loss_fn


def get_discrete_loss_fn(sde: SDE, score_fn: ParamScoreFn, *, reduce_mean: bool = True):
    """DSM over the SDE's N discrete noise levels: the DDPM loss for VP, the SMLD loss for VE.

    With level i ~ U{0..N-1}, both read E || std_i s(x_i, t_i) + z ||^2 (the eps-matching loss of
    DDPM, and the sigma_i^2-weighted loss of NCSN).
    """
    dummy = jnp.zeros((1, 1))
    jax.eval_shape(lambda: sde.discrete_marginal(dummy, jnp.zeros((1,), jnp.int32)))  # raises if none
    reduce = _reducer(reduce_mean)

    def loss_fn(params, key, batch):
        k_i, k_z = jax.random.split(key)
        i = jax.random.randint(k_i, batch.shape[:1], 0, sde.N)
        z = jax.random.normal(k_z, batch.shape)
        mean, std = sde.discrete_marginal(batch, i)
        score = score_fn(params, mean + batch_mul(std, z), sde.discrete_time(i))
        return jnp.mean(reduce(jnp.square(batch_mul(std, score) + z)))

    return loss_fn


def get_loss_fn(
    sde: SDE,
    score_fn: ParamScoreFn,
    *,
    continuous: bool = True,
    likelihood_weighting: bool = False,
    reduce_mean: bool = True,
    eps: float = 1e-5,
):
    """The training objective: continuous DSM, or the discrete DDPM / SMLD loss."""
    if continuous:
        return get_sde_loss_fn(
            sde, score_fn, reduce_mean=reduce_mean, likelihood_weighting=likelihood_weighting, eps=eps
        )
    if likelihood_weighting:
        raise ValueError(
            "likelihood_weighting=True needs continuous training, got continuous=False"
        )
    return get_discrete_loss_fn(sde, score_fn, reduce_mean=reduce_mean)
