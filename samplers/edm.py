"""The EDM samplers of Karras et al. (NeurIPS 2022), Algorithms 1 (Heun) and 2 (stochastic).

EDM writes the probability-flow ODE for x = x_0 + sigma n as dx/dsigma = (x - D(x; sigma)) / sigma
with the denoiser D. Any SDE here maps onto it (EDM, Sec. 2 and App. B.2): with

    sigma_E(t) = sigma(t) / alpha(t) = exp(-lambda(t)),    x_E = x / alpha(t),
    D(x_E; sigma_E) = x0_hat(alpha(t) x_E, t) = (x + sigma(t)^2 score(x, t)) / alpha(t),

x_E follows exactly EDM's ODE, and t = t_from_log_snr(-log sigma_E) takes each sigma_E back to
the SDE's time. Samples are returned in the SDE's own scale, x = alpha(eps) x_E.

EDM's last step, the Euler step to sigma = 0, is x <- D(x; sigma_N-1): that is the `denoise`
option (Tweedie's formula). Without it every step is a Heun step, ending at sigma_E(eps).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from samplers import _common, grids
from samplers.dpm_solver import data_prediction
from sde_lib import SDE


def _denoiser(sde: SDE, score_fn):
    """D(x_E; sigma_E) of EDM for the SDE, at a scalar sigma_E."""

    def D(x_e, sigma_e):
        t = grids.t_from_sigma_edm(sde, sigma_e)
        return data_prediction(sde, score_fn, sde.alpha(t) * x_e, t)

    return D


def _check_common(sde, shape, nfe, grid, rho, eps, denoise):
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, eps)
    grids.check_nfe(nfe, 2 + int(denoise), "one Heun step of 2 evaluations, plus one for denoise")
    grid = grids.check_grid_options(grid, rho, (nfe - int(denoise)) // 2, sde=sde, eps=eps)
    return shape, eps, grid


def _sigmas(sde, n_steps, grid, eps, rho):
    """sigma_E at the grid's times, sigma_0 = sigma_E(T) > ... > sigma_N = sigma_E(eps)."""
    return grids.sigma_edm(sde, grids.timesteps(sde, n_steps, grid=grid, eps=eps, rho=rho))


def get_edm_heun_sampler(
    sde: SDE,
    shape,
    *,
    nfe: int = 35,
    grid="karras",
    rho: float = 7.0,
    eps: float | None = None,
    denoise: bool = False,
) -> _common.SampleFn:
    """Deterministic 2nd-order Heun sampler (Karras et al. 2022, Algorithm 1).

    N = (nfe - denoise) // 2 Heun steps on the sigma_E grid (default: EDM's rho-schedule, Eq. 5);
    an odd leftover evaluation is not used, and the returned nfe counts only those made.
    """
    shape, eps, grid = _check_common(sde, shape, nfe, grid, rho, eps, denoise)
    n_steps = (nfe - int(denoise)) // 2
    used = 2 * n_steps + int(denoise)

    def sample_fn(key, score_fn, x_init=None):
        x, _ = _common.init_samples(sde, shape, key, x_init)
        _common.check_score_output(score_fn, x)
        D = _denoiser(sde, score_fn)
        sigmas = _sigmas(sde, n_steps, grid, eps, rho)

        def heun_step(x_e, sig):
            sigma_i, sigma_next = sig
            d_i = (x_e - D(x_e, sigma_i)) / sigma_i  # Algorithm 1, line 4
            x_next = x_e + (sigma_next - sigma_i) * d_i  # line 5
            d_prime = (x_next - D(x_next, sigma_next)) / sigma_next  # line 7
            return x_e + (sigma_next - sigma_i) * (0.5 * d_i + 0.5 * d_prime), None  # line 8

        x_e = x / sde.alpha(jnp.asarray(sde.T))
        x_e, _ = jax.lax.scan(heun_step, x_e, (sigmas[:-1], sigmas[1:]))
        x = sde.alpha(jnp.asarray(eps)) * x_e
        if denoise:  # line 5 with sigma_N = 0: x <- D(x; sigma_{N-1})
            x = data_prediction(sde, score_fn, x, eps)
        return x, used

    sample_fn.n_steps = n_steps
    return sample_fn


def get_edm_stochastic_sampler(
    sde: SDE,
    shape,
    *,
    nfe: int = 35,
    grid="karras",
    rho: float = 7.0,
    s_churn: float = 0.0,
    s_min: float = 0.0,
    s_max: float = float("inf"),
    s_noise: float = 1.0,
    eps: float | None = None,
    denoise: bool = False,
) -> _common.SampleFn:
    """Stochastic sampler of Karras et al. 2022, Algorithm 2, in sigma_E = sigma / alpha.

    At each of the N = (nfe - denoise) // 2 steps, noise is added to raise sigma_i to
    sigma_hat = (1 + gamma_i) sigma_i, gamma_i = min(s_churn / N, sqrt(2) - 1) when
    sigma_i in [s_min, s_max] (else 0), then one Heun step goes from sigma_hat to sigma_i+1.
    sigma_hat may exceed sigma_E(T): the score is then asked at a time beyond T, as in EDM.
    With s_churn = 0 this is Algorithm 1.
    """
    shape, eps, grid = _check_common(sde, shape, nfe, grid, rho, eps, denoise)
    for name, value in (("s_churn", s_churn), ("s_min", s_min), ("s_noise", s_noise)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {name}={value!r}")
    if not s_max >= s_min:
        raise ValueError(f"s_max must be >= s_min, got s_min={s_min!r}, s_max={s_max!r}")
    n_steps = (nfe - int(denoise)) // 2
    used = 2 * n_steps + int(denoise)

    def sample_fn(key, score_fn, x_init=None):
        x, noise_keys = _common.init_samples(sde, shape, key, x_init)
        _common.check_score_output(score_fn, x)
        D = _denoiser(sde, score_fn)
        sigmas = _sigmas(sde, n_steps, grid, eps, rho)

        def step(x_e, args):
            i, sigma_i, sigma_next = args
            in_range = (sigma_i >= s_min) & (sigma_i <= s_max)
            gamma = jnp.where(in_range, min(s_churn / n_steps, 2**0.5 - 1), 0.0)  # line 4
            noise = s_noise * _common.step_noise(noise_keys, i, shape[1:])  # line 5
            sigma_hat = sigma_i * (1 + gamma)  # line 6
            # line 7; sqrt(sigma_hat^2 - sigma_i^2) written so that it cannot round below zero
            x_hat = x_e + sigma_i * jnp.sqrt(gamma * (2 + gamma)) * noise
            d = (x_hat - D(x_hat, sigma_hat)) / sigma_hat  # line 8
            x_next = x_hat + (sigma_next - sigma_hat) * d  # line 9
            d_prime = (x_next - D(x_next, sigma_next)) / sigma_next  # line 11
            return x_hat + (sigma_next - sigma_hat) * (0.5 * d + 0.5 * d_prime), None  # line 12

        x_e = x / sde.alpha(jnp.asarray(sde.T))
        x_e, _ = jax.lax.scan(step, x_e, (jnp.arange(n_steps), sigmas[:-1], sigmas[1:]))
        x = sde.alpha(jnp.asarray(eps)) * x_e
        if denoise:
            x = data_prediction(sde, score_fn, x, eps)
        return x, used

    sample_fn.n_steps = n_steps
    return sample_fn
