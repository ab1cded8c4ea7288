"""Variance-preserving SDEs: VP (the continuous DDPM) and sub-VP (Song et al. 2021, Sec. 3.4)."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from common import checks
from sde_lib.base import SDE, Array, batch_mul


def standard_normal_logp(z: Array, std: float = 1.0) -> Array:
    """Per-sample log-density of N(0, std^2 I) in nats; z is [B, ...], the result [B]."""
    dim = math.prod(z.shape[1:])
    sq = jnp.sum(jnp.reshape(z, (z.shape[0], -1)) ** 2, axis=-1)
    return -0.5 * dim * math.log(2 * math.pi * std**2) - 0.5 * sq / std**2


@dataclasses.dataclass(frozen=True, kw_only=True)
class _LinearBetaSDE(SDE):
    """Shared by VP and sub-VP: beta(t) = beta_min + t (beta_max - beta_min), alpha(t) = exp(-int beta / 2)."""

    beta_min: float = 0.1
    beta_max: float = 20.0
    N: int = 1000

    sampling_eps = 1e-3

    def __post_init__(self):
        checks.positive_int("N", self.N)
        checks.positive("beta_min", self.beta_min)
        checks.number("beta_max", self.beta_max)
        if not self.beta_max >= self.beta_min:
            raise checks.ArgumentError("beta_max", self.beta_max, message=(
                f"beta_max must be >= beta_min, got beta_min={self.beta_min!r}, beta_max={self.beta_max!r}"))

    # The DDPM schedule (Ho et al. 2020): betas linearly spaced from beta_min/N to beta_max/N.
    @property
    def discrete_betas(self) -> Array:
        return jnp.linspace(self.beta_min / self.N, self.beta_max / self.N, self.N)

    @property
    def alphas_cumprod(self) -> Array:
        return jnp.cumprod(1.0 - self.discrete_betas)

    def beta(self, t: Array) -> Array:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def log_alpha(self, t: Array) -> Array:
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def _t_from_log_alpha(self, log_alpha: Array) -> Array:
        # Root of beta_d t^2 / 4 + beta_min t / 2 + log_alpha = 0, written without cancellation.
        s = -2.0 * log_alpha
        d = self.beta_max - self.beta_min
        return 2.0 * s / (self.beta_min + jnp.sqrt(self.beta_min**2 + 2.0 * d * s))

    def prior_sampling(self, key: Array, shape: tuple[int, ...]) -> Array:
        return jax.random.normal(key, shape)

    def prior_logp(self, z: Array) -> Array:
        return standard_normal_logp(z)

    def langevin_scale(self, t: Array) -> Array:
        return 1.0 - self.discrete_betas[self.discrete_index(t)]

    def noise_label(self, t: Array) -> Array:
        # The DDPM timestep index, fractional in continuous time.
        return t * (self.N - 1)

    def score_from_output(self, output: Array, t: Array) -> Array:
        # The network predicts the noise eps = -sigma(t) * score.
        return -batch_mul(1.0 / self.sigma(t), output)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VPSDE(_LinearBetaSDE):
    """dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw; the continuous limit of DDPM."""

    def sde(self, x, t):
        beta_t = self.beta(t)
        return batch_mul(-0.5 * beta_t, x), jnp.sqrt(beta_t)

    def log_sigma(self, t):
        # sigma^2 = 1 - alpha^2, via expm1 so small t stays accurate in float32.
        return 0.5 * jnp.log(-jnp.expm1(2.0 * self.log_alpha(t)))

    def t_from_log_snr(self, lam):
        # alpha^2 = sigmoid(2 lam)  =>  log alpha = -softplus(-2 lam) / 2.
        return self._t_from_log_alpha(-0.5 * jax.nn.softplus(-2.0 * lam))

    def discretize(self, x, t):
        """The DDPM update: x_{i+1} = sqrt(1 - beta_i) x_i + sqrt(beta_i) z."""
        beta = self.discrete_betas[self.discrete_index(t)]
        f = batch_mul(jnp.sqrt(1.0 - beta), x) - x
        return f, jnp.sqrt(beta)

    def discrete_marginal(self, x, i):
        abar = self.alphas_cumprod[i]
        return batch_mul(jnp.sqrt(abar), x), jnp.sqrt(1.0 - abar)

    def ancestral_step(self, x, t, score):
        beta = self.discrete_betas[self.discrete_index(t)]
        x_mean = batch_mul(1.0 / jnp.sqrt(1.0 - beta), x + batch_mul(beta, score))
        return x_mean, jnp.sqrt(beta)


@dataclasses.dataclass(frozen=True, kw_only=True)
class subVPSDE(_LinearBetaSDE):
    """dx = -beta(t) x / 2 dt + sqrt(beta(t) (1 - exp(-2 int_0^t beta))) dw; sigma(t) = 1 - alpha(t)^2."""

    def sde(self, x, t):
        beta_t = self.beta(t)
        discount = -jnp.expm1(4.0 * self.log_alpha(t))
        return batch_mul(-0.5 * beta_t, x), jnp.sqrt(beta_t * discount)

    def log_sigma(self, t):
        return jnp.log(-jnp.expm1(2.0 * self.log_alpha(t)))

    def t_from_log_snr(self, lam):
        # alpha / (1 - alpha^2) = e^lam  =>  alpha = 2 e^lam / (1 + sqrt(1 + 4 e^{2 lam})), in logs.
        log_alpha = lam + math.log(2.0) - jax.nn.softplus(0.5 * jax.nn.softplus(2.0 * lam + math.log(4.0)))
        return self._t_from_log_alpha(log_alpha)

    def discretize(self, x, t):
        """Euler--Maruyama with step T / N."""
        dt = self.T / self.N
        drift, diffusion = self.sde(x, t)
        return drift * dt, diffusion * math.sqrt(dt)
