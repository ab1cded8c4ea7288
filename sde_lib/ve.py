"""The variance-exploding SDE: the continuous limit of SMLD / NCSN (Song et al. 2021, Sec. 3.4)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from common import checks
from sde_lib.base import SDE, batch_mul
from sde_lib.vp import standard_normal_logp


@dataclasses.dataclass(frozen=True, kw_only=True)
class VESDE(SDE):
    """dx = sqrt(d sigma^2 / dt) dw with sigma(t) = sigma_min (sigma_max / sigma_min)^t.

    As in the paper, the kernel's std is taken to be sigma(t) (the data are treated as already
    perturbed at level sigma_min), so alpha(t) = 1 and lambda(t) = -log sigma(t).
    """

    sigma_min: float = 0.01
    sigma_max: float = 50.0
    N: int = 1000

    sampling_eps = 1e-5

    def __post_init__(self):
        checks.positive_int("N", self.N)
        checks.increasing("sigma_min", self.sigma_min, "sigma_max", self.sigma_max)

    @property
    def _log_ratio(self) -> float:
        return math.log(self.sigma_max) - math.log(self.sigma_min)

    @property
    def discrete_sigmas(self):
        return jnp.exp(jnp.linspace(math.log(self.sigma_min), math.log(self.sigma_max), self.N))

    def sde(self, x, t):
        diffusion = self.sigma(t) * math.sqrt(2.0 * self._log_ratio)
        return jnp.zeros_like(x), diffusion

    def log_alpha(self, t):
        return jnp.zeros_like(t)

    def log_sigma(self, t):
        return math.log(self.sigma_min) + t * self._log_ratio

    def t_from_log_snr(self, lam):
        return (-lam - math.log(self.sigma_min)) / self._log_ratio

    def prior_sampling(self, key, shape):
        return jax.random.normal(key, shape) * self.sigma_max

    def prior_logp(self, z):
        return standard_normal_logp(z, self.sigma_max)

    def _adjacent_sigmas(self, t):
        i = self.discrete_index(t)
        sigmas = self.discrete_sigmas
        return sigmas[i], jnp.where(i == 0, 0.0, sigmas[jnp.maximum(i - 1, 0)])

    def discretize(self, x, t):
        """The SMLD update: x_{i+1} = x_i + sqrt(sigma_{i+1}^2 - sigma_i^2) z."""
        sigma, adjacent = self._adjacent_sigmas(t)
        return jnp.zeros_like(x), jnp.sqrt(sigma**2 - adjacent**2)

    def discrete_marginal(self, x, i):
        return x, self.discrete_sigmas[i]

    def ancestral_step(self, x, t, score):
        sigma, adjacent = self._adjacent_sigmas(t)
        x_mean = x + batch_mul(sigma**2 - adjacent**2, score)
        std = jnp.sqrt(adjacent**2 * (sigma**2 - adjacent**2) / sigma**2)
        return x_mean, std

    def noise_label(self, t):
        # NCSN-style networks are conditioned on the noise level itself.
        return self.sigma(t)

    def score_from_output(self, output, t):
        # The network predicts sigma(t) * score.
        return batch_mul(1.0 / self.sigma(t), output)
