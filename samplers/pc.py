"""Predictor--corrector sampling of the reverse-time SDE (Song et al. 2021, Algorithms 1-3).

Each predictor and corrector is one pure function of (sde, score_fn, x, t, z) returning
(x, x_mean); the sampler alternates them over the grid t_i = linspace(T, eps, N) in a
`lax.fori_loop`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from common import checks
from samplers import _common
from sde_lib import SDE, batch_mul


# ----- predictors ---------------------------------------------------------------------------------
def euler_maruyama(sde: SDE, score_fn, x, t, z):
    """x <- x + [f - g^2 s] dt + g sqrt(|dt|) z with dt = -T / N."""
    dt = -sde.T / sde.N
    drift, diffusion = sde.reverse(score_fn).sde(x, t)
    x_mean = x + drift * dt
    return x_mean + batch_mul(diffusion * math.sqrt(-dt), z), x_mean


def reverse_diffusion(sde: SDE, score_fn, x, t, z):
    """The reverse of the SDE's own discretisation (Song et al. 2021, Eq. 46)."""
    f, G = sde.reverse(score_fn).discretize(x, t)
    x_mean = x - f
    return x_mean + batch_mul(G, z), x_mean


def ancestral_sampling(sde: SDE, score_fn, x, t, z):
    """Ancestral sampling of DDPM / SMLD (Song et al. 2021, Eqs. 47 and 60)."""
    x_mean, std = sde.ancestral_step(x, t, score_fn(x, t))
    return x_mean + batch_mul(std, z), x_mean


PREDICTORS = {
    "euler_maruyama": euler_maruyama,
    "reverse_diffusion": reverse_diffusion,
    "ancestral_sampling": ancestral_sampling,
    "none": None,
}


# ----- correctors ---------------------------------------------------------------------------------
def _norm(v):
    return jnp.linalg.norm(jnp.reshape(v, (v.shape[0], -1)), axis=-1)


def langevin(sde: SDE, score_fn, x, t, z, snr):
    """One Langevin step with the step size set by a signal-to-noise ratio (Algorithm 5).

    The norms of score and noise are averaged over the whole batch, as in the paper.
    """
    grad = score_fn(x, t)
    grad_norm = jnp.mean(_norm(grad))
    noise_norm = jnp.mean(_norm(z))
    step_size = (snr * noise_norm / grad_norm) ** 2 * 2 * sde.langevin_scale(t)
    x_mean = x + batch_mul(step_size, grad)
    return x_mean + batch_mul(jnp.sqrt(2 * step_size), z), x_mean


def ald(sde: SDE, score_fn, x, t, z, snr):
    """Annealed Langevin dynamics of NCSN (Song & Ermon 2019): step size from the noise level."""
    grad = score_fn(x, t)
    step_size = (snr * sde.sigma(t)) ** 2 * 2 * sde.langevin_scale(t)
    x_mean = x + batch_mul(step_size, grad)
    return x_mean + batch_mul(jnp.sqrt(2 * step_size), z), x_mean


CORRECTORS = {"langevin": langevin, "ald": ald, "none": None}


# ----- the sampler --------------------------------------------------------------------------------
def get_pc_sampler(
    sde: SDE,
    shape,
    *,
    predictor: str = "reverse_diffusion",
    corrector: str = "langevin",
    snr: float = 0.16,
    corrector_steps: int = 1,
    denoise: bool = True,
    eps: float | None = None,
) -> _common.SampleFn:
    """Predictor--corrector sampler over N = sde.N noise levels (Song et al. 2021, Algorithm 1).

    NFE per trajectory: N * (predictor != 'none') + N * corrector_steps * (corrector != 'none') + denoise;
    `corrector_steps` corrector steps precede the predictor step at each noise level.
    With `denoise`, a final Tweedie step x <- E[x_0 | x_eps] is applied.

    `sample_fn(key, score_fn, x_init=None, *, project=None)`: with `project(x, t, z) -> x` (z a fresh
    standard normal draw [B, ...] of each sample's own noise), x_T and the result of every
    predictor or corrector step are passed through it, t being the time the step reached; this is
    how the controllable samplers (`samplers.controllable`) condition the PC loop.
    """
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, eps)
    checks.choice("predictor", predictor, PREDICTORS)
    checks.choice("corrector", corrector, CORRECTORS)
    snr = checks.positive("snr", snr)
    corrector_steps = checks.positive_int("corrector_steps", corrector_steps)
    denoise = checks.boolean("denoise", denoise)
    predictor_fn, corrector_fn = PREDICTORS[predictor], CORRECTORS[corrector]
    if predictor_fn is None and corrector_fn is None:
        raise checks.ArgumentError("corrector", corrector, message="predictor and corrector cannot both be 'none'")
    if predictor_fn is ancestral_sampling:  # raises for SDEs without an ancestral step
        dummy = jnp.zeros(shape)
        try:
            jax.eval_shape(lambda: sde.ancestral_step(dummy, jnp.ones(shape[:1]), dummy))
        except ValueError as e:
            raise checks.ArgumentError("predictor", predictor, message=str(e)) from e

    n_corrector = corrector_steps if corrector_fn is not None else 0
    nfe = sde.N * (n_corrector + (predictor_fn is not None)) + int(denoise)
    slots = n_corrector + 1  # noise draws of a level: its corrector steps, then its predictor step

    def sample_fn(key, score_fn, x_init=None, *, project=None):
        x, noise_keys = _common.init_samples(sde, shape, key, x_init)
        _common.check_score_output(score_fn, x)
        timesteps = jnp.linspace(sde.T, eps, sde.N)
        draws = 1 if project is None else 2  # per slot: the step's noise, then the projection's

        def noise(index):
            return _common.step_noise(noise_keys, index, shape[1:])

        def level(i, x):
            t, t_next = timesteps[i], timesteps[jnp.minimum(i + 1, sde.N - 1)]
            vec_t = jnp.full(shape[:1], t)
            for j in range(n_corrector):
                x, _ = corrector_fn(sde, score_fn, x, vec_t, noise(draws * (i * slots + j)), snr)
                if project is not None:
                    x = project(x, t, noise(draws * (i * slots + j) + 1))
            if predictor_fn is not None:
                x, _ = predictor_fn(sde, score_fn, x, vec_t, noise(draws * (i * slots + n_corrector)))
                if project is not None:
                    x = project(x, t_next, noise(draws * (i * slots + n_corrector) + 1))
            return x

        if project is not None:  # x_T, with a draw past the steps' own
            x = project(x, sde.T, noise(draws * sde.N * slots))
        x = jax.lax.fori_loop(0, sde.N, level, x)
        if denoise:
            x = _common.data_prediction(sde, score_fn, x, eps)
        return x, nfe

    return sample_fn
