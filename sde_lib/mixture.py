"""Gaussian-mixture data: exact samples, densities and scores of p_t under any SDE here.

If x_0 ~ sum_k w_k N(mu_k, C_k) and x_t = alpha(t) x_0 + sigma(t) z, then

    p_t = sum_k w_k N(alpha(t) mu_k, alpha(t)^2 C_k + sigma(t)^2 I),

so the score of p_t is known in closed form. Tests, demos and benchmarks use it as the
ground truth that a trained network only approximates. A single Gaussian is K = 1.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from sde_lib.base import SDE, Array


class GaussianMixture(NamedTuple):
    """weights [K] (summing to 1), means [K, D], covs [K, D, D]."""

    weights: Array
    means: Array
    covs: Array

    @classmethod
    def isotropic(cls, means, std, weights=None) -> "GaussianMixture":
        means = jnp.asarray(means, jnp.float32)
        k, d = means.shape
        weights = jnp.full((k,), 1.0 / k) if weights is None else jnp.asarray(weights, jnp.float32)
        covs = jnp.broadcast_to(jnp.eye(d) * jnp.float32(std) ** 2, (k, d, d))
        return cls(weights, means, covs)

    @property
    def dim(self) -> int:
        return self.means.shape[-1]

    def mean(self) -> Array:
        return self.weights @ self.means

    def covariance(self) -> Array:
        m = self.mean()
        centred = self.means - m
        return jnp.einsum("k,kij->ij", self.weights, self.covs) + jnp.einsum(
            "k,ki,kj->ij", self.weights, centred, centred
        )

    def sample(self, key: Array, n: int, return_labels: bool = False):
        """n exact draws, [n, D] (and the component of each, [n], if asked)."""
        k_comp, k_noise = jax.random.split(key)
        labels = jax.random.choice(k_comp, self.weights.shape[0], (n,), p=self.weights)
        chol = jnp.linalg.cholesky(self.covs)[labels]
        z = jax.random.normal(k_noise, (n, self.dim))
        x = self.means[labels] + jnp.einsum("nij,nj->ni", chol, z)
        return (x, labels) if return_labels else x

    def _perturbed(self, sde: SDE | None, t: Array):
        """Means [K, D] and covariances [K, D, D] of p_t at a scalar time t (p_0 if sde is None)."""
        if sde is None:
            return self.means, self.covs
        a, s = sde.alpha(t), sde.sigma(t)
        return a * self.means, a**2 * self.covs + s**2 * jnp.eye(self.dim)

    def _component_terms(self, x: Array, means: Array, covs: Array):
        """Per-component log w_k N(x; m_k, C_k) [K] and C_k^{-1} (m_k - x) [K, D], for one x [D]."""
        chol = jnp.linalg.cholesky(covs)
        diff = means - x
        y = jax.vmap(lambda L, r: solve_triangular(L, r, lower=True))(chol, diff)
        prec_diff = jax.vmap(lambda L, r: solve_triangular(L.T, r, lower=False))(chol, y)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
        logp = jnp.log(self.weights) - 0.5 * (jnp.sum(y**2, -1) + logdet + self.dim * math.log(2 * math.pi))
        return logp, prec_diff

    def log_prob(self, x: Array, sde: SDE | None = None, t: Array | None = None) -> Array:
        """log p_t(x) per sample ([B, D] -> [B]); the data density p_0 when `sde` is None."""
        t = jnp.zeros(x.shape[:1]) if t is None else jnp.broadcast_to(t, x.shape[:1])

        def one(xi, ti):
            logp, _ = self._component_terms(xi, *self._perturbed(sde, ti))
            return jax.scipy.special.logsumexp(logp)

        return jax.vmap(one)(x, t)

    def responsibilities(self, x: Array, sde: SDE | None = None, t: Array | None = None) -> Array:
        """Posterior component probabilities p(k | x_t) per sample, [B, K]."""
        t = jnp.zeros(x.shape[:1]) if t is None else jnp.broadcast_to(t, x.shape[:1])

        def one(xi, ti):
            logp, _ = self._component_terms(xi, *self._perturbed(sde, ti))
            return jax.nn.softmax(logp)

        return jax.vmap(one)(x, t)

    def score_fn(self, sde: SDE):
        """The exact score of p_t under `sde`, as `score_fn(x [B, D], t [B]) -> [B, D]`."""

        def one(xi, ti):
            logp, prec_diff = self._component_terms(xi, *self._perturbed(sde, ti))
            return jax.nn.softmax(logp) @ prec_diff

        return jax.vmap(one)
