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
import numpy as np

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

    def _eigh(self):
        """Eigen-decomposition of each component covariance, C_k = U_k diag(lam_k) U_k^T.

        C_k(t) = alpha^2 C_k + sigma^2 I shares the eigenvectors, so p_t needs no factorisation
        per sample and time (XLA:CPU can stall on many small batched factorisations in a loop).
        Computed on the host when the covariances are concrete.
        """
        try:
            lam, u = np.linalg.eigh(np.asarray(self.covs, np.float64))
            return jnp.asarray(lam, self.covs.dtype), jnp.asarray(u, self.covs.dtype)
        except jax.errors.TracerArrayConversionError:
            return jnp.linalg.eigh(self.covs)

    def _terms_fn(self, sde: SDE | None):
        """f(x [D], t) -> (log w_k N(x; m_k(t), C_k(t)) [K], C_k(t)^{-1} (m_k(t) - x) [K, D])."""
        lam, u = self._eigh()
        log_w = jnp.log(self.weights)

        def terms(x, t):
            a, s = (1.0, 0.0) if sde is None else (sde.alpha(t), sde.sigma(t))
            var = a**2 * lam + s**2  # [K, D]
            y = jnp.einsum("kji,kj->ki", u, a * self.means - x)  # U_k^T (m_k - x)
            logp = log_w - 0.5 * (jnp.sum(y**2 / var + jnp.log(var), -1) + self.dim * math.log(2 * math.pi))
            return logp, jnp.einsum("kij,kj->ki", u, y / var)

        return terms

    def log_prob(self, x: Array, sde: SDE | None = None, t: Array | None = None) -> Array:
        """log p_t(x) per sample ([B, D] -> [B]); the data density p_0 when `sde` is None."""
        t = jnp.zeros(x.shape[:1]) if t is None else jnp.broadcast_to(t, x.shape[:1])
        terms = self._terms_fn(sde)
        return jax.vmap(lambda xi, ti: jax.scipy.special.logsumexp(terms(xi, ti)[0]))(x, t)

    def responsibilities(self, x: Array, sde: SDE | None = None, t: Array | None = None) -> Array:
        """Posterior component probabilities p(k | x_t) per sample, [B, K]."""
        t = jnp.zeros(x.shape[:1]) if t is None else jnp.broadcast_to(t, x.shape[:1])
        terms = self._terms_fn(sde)
        return jax.vmap(lambda xi, ti: jax.nn.softmax(terms(xi, ti)[0]))(x, t)

    def score_fn(self, sde: SDE):
        """The exact score of p_t under `sde`, as `score_fn(x [B, D], t [B]) -> [B, D]`."""

        terms = self._terms_fn(sde)

        def one(xi, ti):
            logp, prec_diff = terms(xi, ti)
            return jax.nn.softmax(logp) @ prec_diff

        return jax.vmap(one)
