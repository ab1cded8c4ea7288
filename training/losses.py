"""Denoising score-matching objectives (Song et al. 2021, Eq. 7; Ho et al. 2020; Song & Ermon 2019).

Every loss is built from an SDE and a `score_fn(params, x, t) -> score` and returns the pure
function `loss_fn(params, key, batch) -> scalar`. Nothing here knows about configs or networks.

Options of the continuous loss, all written through the SDE's alpha(t), sigma(t) and log-SNR
lambda(t) = log(alpha / sigma) only:

* the times of a batch: independent t ~ U(t_min, T) ("uniform"), or "stratified": one u_0 ~ U(0, 1)
  and t_i = t_min + (T - t_min) ((u_0 + i / B) mod 1), each t_i still uniform but the batch spread
  evenly over [t_min, T] (the low-discrepancy sampler of Kingma et al. 2021, "Variational diffusion
  models", App. I.1), which lowers the variance of the batch loss;
* likelihood weighting lambda(t) = g(t)^2 (Song et al. 2021b, "Maximum likelihood training of
  score-based diffusion models"), optionally with importance sampling of t: for these SDEs
  g^2 = d sigma^2 / dt - 2 f sigma^2 with f = d log alpha / dt, so g(t)^2 / sigma(t)^2 = -2 lambda'(t),
  and drawing t with density proportional to g^2 / sigma^2 is drawing lambda uniformly on
  [lambda(T), lambda(t_min)]. The estimate 2 (lambda(t_min) - lambda(T)) / (T - t_min) |sigma s + z|^2 is
  then unbiased for the likelihood-weighted loss under t ~ U(t_min, T), with far lower variance;
* EDM's loss weight (`edm_sigma_data`, with `models.Preconditioned` networks).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from common import checks
from sde_lib import SDE, batch_mul
from sde_lib.base import Array

ParamScoreFn = Callable[[object, Array, Array], Array]

T_SAMPLING = ("uniform", "stratified")
T_DENSITIES = ("uniform_t", "uniform_logsnr")


def _reducer(reduce_mean: bool):
    # The paper's convention: mean over dimensions, or half the sum.
    if reduce_mean:
        return lambda v: jnp.mean(jnp.reshape(v, (v.shape[0], -1)), axis=-1)
    return lambda v: 0.5 * jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


def uniform_draws(key: Array, n: int, t_sampling: str = "uniform") -> Array:
    """n draws in [0, 1), each U(0, 1): independent ("uniform"), or "stratified" ((u_0 + i / n) mod 1)."""
    if t_sampling == "uniform":
        return jax.random.uniform(key, (n,))
    if t_sampling == "stratified":
        return jnp.mod(jax.random.uniform(key, ()) + jnp.arange(n) / n, 1.0)
    raise ValueError(f"t_sampling must be one of {T_SAMPLING}, got t_sampling={t_sampling!r}")


def importance_times(sde: SDE, u: Array, t_min: float) -> Array:
    """Times with density -lambda'(t) / (lambda(t_min) - lambda(T)) on [t_min, T] (proportional to
    g(t)^2 / sigma(t)^2) from uniform draws u: lambda = lambda(t_min) - u (lambda(t_min) - lambda(T))."""
    lam_min, lam_T = sde.log_snr(jnp.float32(t_min)), sde.log_snr(jnp.float32(sde.T))
    return jnp.clip(sde.t_from_log_snr(lam_min - u * (lam_min - lam_T)), t_min, sde.T)


def importance_density(sde: SDE, t: Array, t_min: float) -> Array:
    """The density of `importance_times` at t in [t_min, T]: -lambda'(t) / (lambda(t_min) - lambda(T))."""
    dlam = jax.vmap(jax.grad(lambda s: sde.log_snr(s)))(jnp.ravel(t)).reshape(jnp.shape(t))
    return -dlam / (sde.log_snr(jnp.float32(t_min)) - sde.log_snr(jnp.float32(sde.T)))


def get_sde_loss_fn(
    sde: SDE,
    score_fn: ParamScoreFn,
    *,
    reduce_mean: bool = True,
    likelihood_weighting: bool = False,
    importance_sampling: bool = False,
    t_sampling: str = "uniform",
    t_density: str = "uniform_t",
    edm_sigma_data: float | None = None,
    t_min: float = 1e-5,
):
    """Continuous-time DSM with t ~ U(t_min, T), t_min the smallest training time (the config's
    training.eps; see the module docstring for the options).

    Weighting lambda(t) = sigma(t)^2 by default: E || sigma(t) s(x_t, t) + z ||^2; with
    `likelihood_weighting`, lambda(t) = g(t)^2 (Song et al. 2021b): E g(t)^2 || s(x_t, t) + z / sigma(t) ||^2,
    estimated with t drawn proportionally to g^2 / sigma^2 when `importance_sampling`. With
    `edm_sigma_data` = sd, the sigma^2-weighted loss times 1 + sigma^2 / (alpha^2 sd^2) (EDM's weight).
    `t_density="uniform_logsnr"` draws the times of the (unweighted) losses with lambda(t) uniform
    instead of t: a weighting of noise levels in the manner of EDM's p_train, more of the batch at
    low noise.
    """
    if not 0 < checks.number("t_min", t_min) < sde.T:
        raise checks.ArgumentError("t_min", t_min, f"in (0, T={sde.T})")
    checks.choice("t_sampling", t_sampling, T_SAMPLING)
    checks.choice("t_density", t_density, T_DENSITIES)
    if importance_sampling and not likelihood_weighting:
        raise checks.ArgumentError("importance_sampling", importance_sampling, message=(
            "importance_sampling=True samples t for the likelihood weighting; it needs likelihood_weighting=True"))
    if edm_sigma_data is not None and likelihood_weighting:
        raise checks.ArgumentError("edm_sigma_data", edm_sigma_data, message=(
            f"edm_sigma_data={edm_sigma_data!r} (EDM's loss weight) and likelihood_weighting=True are two "
            "weightings; choose one"))
    if edm_sigma_data is not None:
        checks.positive("edm_sigma_data", edm_sigma_data)
    reduce = _reducer(reduce_mean)

    def loss_fn(params, key, batch):
        k_t, k_z = jax.random.split(key)
        u = uniform_draws(k_t, batch.shape[0], t_sampling)
        logsnr_times = importance_sampling or t_density == "uniform_logsnr"
        t = importance_times(sde, u, t_min) if logsnr_times else t_min + (sde.T - t_min) * u
        z = jax.random.normal(k_z, batch.shape)
        mean, std = sde.marginal_prob(batch, t)
        score = score_fn(params, mean + batch_mul(std, z), t)
        if importance_sampling:
            lam_range = sde.log_snr(jnp.float32(t_min)) - sde.log_snr(jnp.float32(sde.T))
            losses = reduce(jnp.square(batch_mul(std, score) + z)) * (2.0 * lam_range / (sde.T - t_min))
        elif likelihood_weighting:
            g2 = sde.sde(jnp.zeros_like(batch), t)[1] ** 2
            losses = reduce(jnp.square(score + batch_mul(1.0 / std, z))) * g2
        else:
            losses = reduce(jnp.square(batch_mul(std, score) + z))
            if edm_sigma_data is not None:
                losses = losses * (1.0 + jnp.exp(-2.0 * sde.log_snr(t)) / edm_sigma_data**2)
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
    importance_sampling: bool = False,
    t_sampling: str = "uniform",
    t_density: str = "uniform_t",
    edm_sigma_data: float | None = None,
    reduce_mean: bool = True,
    t_min: float = 1e-5,
):
    """The training objective: continuous DSM, or the discrete DDPM / SMLD loss."""
    if continuous:
        return get_sde_loss_fn(
            sde, score_fn, reduce_mean=reduce_mean, likelihood_weighting=likelihood_weighting,
            importance_sampling=importance_sampling, t_sampling=t_sampling, t_density=t_density,
            edm_sigma_data=edm_sigma_data, t_min=t_min,
        )
    if likelihood_weighting:
        raise checks.ArgumentError("likelihood_weighting", likelihood_weighting, message=(
            "likelihood_weighting=True needs continuous training, got continuous=False"))
    for name, value, default in (("importance_sampling", importance_sampling, False),
                                 ("t_sampling", t_sampling, "uniform"), ("t_density", t_density, "uniform_t"), ("edm_sigma_data", edm_sigma_data, None)):
        if value != default:
            raise checks.ArgumentError(name, value, message=f"{name}={value!r} needs continuous training, got "
                                       "continuous=False")
    return get_discrete_loss_fn(sde, score_fn, reduce_mean=reduce_mean)
