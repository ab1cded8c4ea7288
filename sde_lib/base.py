"""The abstract forward SDE and its reverse.

A forward SDE dx = f(x, t) dt + g(t) dw on t in [0, T] whose perturbation kernel is Gaussian,

    x_t = alpha(t) * x_0 + sigma(t) * z,    z ~ N(0, I),

so every quantity a sampler needs (drift, diffusion, kernel coefficients, log-SNR and its
inverse, prior) is a question asked of the SDE object. Samplers never ask what type it is.

Shapes: `x` is batched, `[B, ...]`; `t` is `[B]`. Functions of time alone (`alpha`, `sigma`,
`log_snr`, ...) are elementwise on any shape.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
ScoreFn = Callable[[Array, Array], Array]


def batch_mul(a: Array, x: Array) -> Array:
    """Multiplies a per-sample scalar `a` of shape [B] into `x` of shape [B, ...]."""
    return jnp.reshape(a, a.shape + (1,) * (x.ndim - a.ndim)) * x


def check_batch(x: Array, t: Array, T: float) -> None:
    """The (x, t) of a batched SDE method, at trace time: x a floating batch [B, ...], t floating of
    shape [B] (one time per sample) and, where t is concrete (not traced), within [0, T]."""
    x_shape, t_shape = jnp.shape(x), jnp.shape(t)
    if len(x_shape) < 1:
        raise ValueError(f"x must be a batch [B, ...], got x.shape={x_shape}")
    if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
        raise ValueError(f"x must have a floating dtype, got x.dtype={jnp.result_type(x)}")
    if t_shape != x_shape[:1]:
        raise ValueError(f"t must have shape [B] = {x_shape[:1]} (one time per sample of x), got "
                         f"t.shape={t_shape}; a single example x needs a batch axis: x[None]")
    if not jnp.issubdtype(jnp.result_type(t), jnp.floating):
        raise ValueError(f"t must have a floating dtype, got t.dtype={jnp.result_type(t)}")
    if not isinstance(t, jax.core.Tracer):
        values = np.asarray(t)
        lo, hi = float(values.min()), float(values.max())
        if lo < 0 or hi > T:
            raise ValueError(f"t must lie in [0, T={T}], got values in [{lo}, {hi}]")


class SDE(abc.ABC):
    """Abstract forward SDE with a Gaussian perturbation kernel. Subclasses are frozen dataclasses."""

    T: float = 1.0
    N: int

    # Default end time of samplers: the reverse process is integrated from T down to this.
    sampling_eps: float = 1e-3

    # ----- the process ------------------------------------------------------------------------
    @abc.abstractmethod
    def sde(self, x: Array, t: Array) -> tuple[Array, Array]:
        """Drift f(x, t) of shape [B, ...] and diffusion g(t) of shape [B]."""

    @abc.abstractmethod
    def log_alpha(self, t: Array) -> Array:
        """log alpha(t), the log of the kernel's mean coefficient."""

    @abc.abstractmethod
    def log_sigma(self, t: Array) -> Array:
        """log sigma(t), the log of the kernel's standard deviation; stable in float32."""

    @abc.abstractmethod
    def t_from_log_snr(self, lam: Array) -> Array:
        """The inverse of `log_snr`: the time t with lambda(t) = lam."""

    @abc.abstractmethod
    def prior_sampling(self, key: Array, shape: tuple[int, ...]) -> Array:
        """A draw from the prior p_T of the given shape."""

    @abc.abstractmethod
    def prior_logp(self, z: Array) -> Array:
        """Log-density of the prior in nats, one value per sample: shape [B]."""

    @abc.abstractmethod
    def discretize(self, x: Array, t: Array) -> tuple[Array, Array]:
        """One step of the SDE's discretisation: x_{i+1} = x_i + f + G z. Returns (f, G)."""

    # ----- discrete noise levels (DDPM / SMLD training and ancestral sampling) -----------------
    def discrete_marginal(self, x: Array, i: Array) -> tuple[Array, Array]:
        """Mean and std of the discrete perturbation kernel at integer noise level i in [0, N)."""
        raise ValueError(
            f"discrete training (continuous=False) is not defined for {type(self).__name__}; "
            "use continuous=True"
        )

    def ancestral_step(self, x: Array, t: Array, score: Array) -> tuple[Array, Array]:
        """Mean and std of one ancestral-sampling step from level t (Ho et al. 2020; Song et al. 2021)."""
        raise ValueError(
            f"ancestral sampling is not defined for {type(self).__name__}; "
            "use predictor='reverse_diffusion' or 'euler_maruyama'"
        )

    def langevin_scale(self, t: Array) -> Array:
        """The factor alpha_i that Langevin step sizes are multiplied by (1 where undefined)."""
        return jnp.ones_like(t)

    # ----- derived quantities (the same for every SDE) ----------------------------------------
    def alpha(self, t: Array) -> Array:
        return jnp.exp(self.log_alpha(t))

    def sigma(self, t: Array) -> Array:
        return jnp.exp(self.log_sigma(t))

    def log_snr(self, t: Array) -> Array:
        """lambda(t) = log(alpha(t) / sigma(t)), decreasing in t."""
        return self.log_alpha(t) - self.log_sigma(t)

    def marginal_prob(self, x: Array, t: Array) -> tuple[Array, Array]:
        """Mean [B, ...] and std [B] of p_0t(x_t | x_0 = x)."""
        check_batch(x, t, self.T)
        return batch_mul(self.alpha(t), x), self.sigma(t)

    def discrete_time(self, i: Array) -> Array:
        """The continuous time of integer noise level i: t_i = i / (N - 1) * T."""
        return i.astype(jnp.float32) * (self.T / max(self.N - 1, 1))

    def discrete_index(self, t: Array) -> Array:
        """The integer noise level i of time t (the inverse of `discrete_time`, rounded down)."""
        return jnp.clip((t * (self.N - 1) / self.T).astype(jnp.int32), 0, self.N - 1)

    # ----- networks ---------------------------------------------------------------------------
    @abc.abstractmethod
    def noise_label(self, t: Array) -> Array:
        """The noise-conditioning input fed to a score network at time t."""

    @abc.abstractmethod
    def score_from_output(self, output: Array, t: Array) -> Array:
        """Converts a network's output at time t into the score of p_t."""

    # ----- reverse time -----------------------------------------------------------------------
    def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> "ReverseSDE":
        """The reverse-time SDE (or its probability-flow ODE) driven by `score_fn(x, t)`."""
        return ReverseSDE(forward=self, score_fn=score_fn, probability_flow=probability_flow)


@dataclasses.dataclass(frozen=True)
class ReverseSDE:
    """The reverse-time SDE dx = [f - g^2 s] dt + g dw-bar, or with `probability_flow=True`
    the ODE dx = [f - g^2 s / 2] dt, with the same `sde` / `discretize` interface as the forward.
    """

    forward: SDE
    score_fn: ScoreFn
    probability_flow: bool = False

    @property
    def N(self) -> int:
        return self.forward.N

    @property
    def T(self) -> float:
        return self.forward.T

    def _weight(self) -> float:
        return 0.5 if self.probability_flow else 1.0

    def sde(self, x: Array, t: Array) -> tuple[Array, Array]:
        check_batch(x, t, self.T)
        drift, diffusion = self.forward.sde(x, t)
        score = self.score_fn(x, t)
        drift = drift - batch_mul(diffusion**2 * self._weight(), score)
        diffusion = jnp.zeros_like(diffusion) if self.probability_flow else diffusion
        return drift, diffusion

    def discretize(self, x: Array, t: Array) -> tuple[Array, Array]:
        check_batch(x, t, self.T)
        f, G = self.forward.discretize(x, t)
        rev_f = f - batch_mul(G**2 * self._weight(), self.score_fn(x, t))
        rev_G = jnp.zeros_like(G) if self.probability_flow else G
        return rev_f, rev_G
