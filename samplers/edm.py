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

import numbers

import jax
import jax.numpy as jnp

from common import checks
from samplers import _common, grids
from samplers._common import data_prediction
from samplers.fixed_step import Steps, fixed_step_method
from sde_lib import SDE


def _denoiser(sde: SDE, score_fn):
    """D(x_E; sigma_E) of EDM for the SDE, at a scalar sigma_E."""

    def D(x_e, sigma_e):
        t = grids.t_from_sigma_edm(sde, sigma_e)
        return data_prediction(sde, score_fn, sde.alpha(t) * x_e, t)

    return D


def _heun_steps(n_evals: int, heun_step) -> Steps:
    """N = n_evals // 2 steps x_E <- heun_step(D, x_E, (i, sigma_i, sigma_i+1)) on the sigma_E grid; an odd
    leftover evaluation is not used, and the sampler's nfe counts only those made."""
    n_steps = n_evals // 2

    def solve(sde, score_fn, x, ts, noise_keys):
        D, sigmas = _denoiser(sde, score_fn), grids.sigma_edm(sde, ts)  # sigma_0 = sigma_E(T) > ... > sigma_E(eps)
        step = lambda x_e, args: (heun_step(D, noise_keys, x_e, args), None)  # noqa: E731
        x_e, _ = jax.lax.scan(step, x / sde.alpha(ts[0]), (jnp.arange(n_steps), sigmas[:-1], sigmas[1:]))
        return sde.alpha(ts[-1]) * x_e

    return Steps(n_steps, 2 * n_steps, 2, "one Heun step of 2 evaluations", solve)


def _edm_heun(n_evals: int) -> Steps:
    """Deterministic 2nd-order Heun sampler (Karras et al. 2022, Algorithm 1).

    N = (nfe - denoise) // 2 Heun steps on the sigma_E grid (default: EDM's rho-schedule, Eq. 5);
    an odd leftover evaluation is not used, and the returned nfe counts only those made.
    """

    def heun_step(D, noise_keys, x_e, args):
        _, sigma_i, sigma_next = args
        d_i = (x_e - D(x_e, sigma_i)) / sigma_i  # Algorithm 1, line 4
        x_next = x_e + (sigma_next - sigma_i) * d_i  # line 5
        d_prime = (x_next - D(x_next, sigma_next)) / sigma_next  # line 7
        return x_e + (sigma_next - sigma_i) * (0.5 * d_i + 0.5 * d_prime)  # line 8

    return _heun_steps(n_evals, heun_step)


def _edm_stochastic(n_evals: int, *, s_churn: float = 0.0, s_min: float = 0.0, s_max: float = float("inf"),
                    s_noise: float = 1.0) -> Steps:
    """Stochastic sampler of Karras et al. 2022, Algorithm 2, in sigma_E = sigma / alpha.

    At each of the N = (nfe - denoise) // 2 steps, noise is added to raise sigma_i to
    sigma_hat = (1 + gamma_i) sigma_i, gamma_i = min(s_churn / N, sqrt(2) - 1) when
    sigma_i in [s_min, s_max] (else 0), then one Heun step goes from sigma_hat to sigma_i+1.
    sigma_hat may exceed sigma_E(T): the score is then asked at a time beyond T, as in EDM.
    With s_churn = 0 this is Algorithm 1.
    """
    s_churn = checks.number("s_churn", s_churn, low=0.0)
    s_min = checks.number("s_min", s_min, low=0.0)
    s_noise = checks.number("s_noise", s_noise, low=0.0)
    if not (isinstance(s_max, numbers.Real) and not isinstance(s_max, bool) and s_max >= s_min):
        raise checks.ArgumentError("s_max", s_max, message=f"s_max must be a number >= s_min, got {s_min=}, {s_max=}")
    gamma_max = min(s_churn / max(n_evals // 2, 1), 2**0.5 - 1)

    def heun_step(D, noise_keys, x_e, args):
        i, sigma_i, sigma_next = args
        gamma = jnp.where((sigma_i >= s_min) & (sigma_i <= s_max), gamma_max, 0.0)  # line 4
        noise = s_noise * _common.step_noise(noise_keys, i, x_e.shape[1:])  # line 5
        sigma_hat = sigma_i * (1 + gamma)  # line 6
        # line 7; sqrt(sigma_hat^2 - sigma_i^2) written so that it cannot round below zero
        x_hat = x_e + sigma_i * jnp.sqrt(gamma * (2 + gamma)) * noise
        d = (x_hat - D(x_hat, sigma_hat)) / sigma_hat  # line 8
        x_next = x_hat + (sigma_next - sigma_hat) * d  # line 9
        d_prime = (x_next - D(x_next, sigma_next)) / sigma_next  # line 11
        return x_hat + (sigma_next - sigma_hat) * (0.5 * d + 0.5 * d_prime)  # line 12

    return _heun_steps(n_evals, heun_step)


get_edm_heun_sampler = fixed_step_method(_edm_heun, name="get_edm_heun_sampler", nfe=35, grid="karras")
get_edm_stochastic_sampler = fixed_step_method(_edm_stochastic, name="get_edm_stochastic_sampler", nfe=35,
                                               grid="karras")
