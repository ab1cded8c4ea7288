"""Sample-quality metrics: FID, KID, sliced Wasserstein and the 2-D toy-data metrics.

All of them compare two sets of vectors (features of images, or the points themselves) on the
host in float64 NumPy; none knows where the vectors came from.

* Fréchet distance (Heusel et al., NeurIPS 2017, "GANs trained by a two time-scale update rule"):
  between the Gaussian fits N(mu1, C1), N(mu2, C2) of two feature sets,
      d^2 = |mu1 - mu2|^2 + tr C1 + tr C2 - 2 tr (C1^{1/2} C2 C1^{1/2})^{1/2},
  the squared 2-Wasserstein distance of the two Gaussians. The trace term is computed from
  symmetric eigendecompositions, so it is real and needs no `sqrtm` of a non-symmetric product.
* KID (Bińkowski et al., ICLR 2018, "Demystifying MMD GANs", eq. 3): the unbiased estimator of
  MMD^2 with the cubic polynomial kernel k(x, y) = (x . y / d + 1)^3, averaged over random subsets.
* Sliced 2-Wasserstein (Rabin et al. 2011; Bonneel et al. 2015):
      SW_2(P, Q)^2 = E_theta W_2(theta # P, theta # Q)^2, theta uniform on the unit sphere,
  with the 1-D distances between the projected empirical distributions computed exactly.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import numpy as np

from common import checks


def _as_features(name: str, f) -> np.ndarray:
    f = np.asarray(f, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"{name} must be features [N, F] with N >= 2, got {name}.shape={f.shape}")
    if not np.isfinite(f).all():
        first = int(np.argmax(~np.isfinite(f).all(axis=1)))
        raise ValueError(f"{name} holds NaN or inf values (first bad row {first})")
    return f


def _as_pair(f1, f2) -> tuple[np.ndarray, np.ndarray]:
    f1, f2 = _as_features("f1", f1), _as_features("f2", f2)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"f1 and f2 must have the same feature size, got {f1.shape=}, {f2.shape=}")
    return f1, f2


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    d = mu1.shape[0]
    checks = (("mu1", mu1, (d,)), ("mu2", mu2, (d,)), ("cov1", cov1, (d, d)), ("cov2", cov2, (d, d)))
    for name, a, shape in checks:
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} (from mu1), got {name}.shape={a.shape}")
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    tr_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (middle + middle.T)), 0.0, None)))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)


def gaussian_fit(f) -> tuple[np.ndarray, np.ndarray]:
    """Mean [F] and unbiased covariance [F, F] of features [N, F]."""
    f = _as_features("f", f)
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def fid_from_features(f1, f2) -> float:
    """FID: the Fréchet distance between the Gaussian fits of two feature sets [N1, F], [N2, F]."""
    f1, f2 = _as_pair(f1, f2)
    return frechet_distance(*gaussian_fit(f1), *gaussian_fit(f2))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^3 for all pairs: [N, F], [M, F] -> [N, M]."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y) -> float:
    """The unbiased MMD^2 estimate with the cubic polynomial kernel (Bińkowski et al. 2018, eq. 3):
    mean of k(x_i, x_j) over i != j, plus that of k(y_i, y_j), minus twice the mean of k(x_i, y_j)."""
    x, y = _as_pair(x, y)
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off_xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    off_yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(off_xx + off_yy - 2.0 * kxy.mean())


class KID(NamedTuple):
    """Mean and standard deviation over subsets of the unbiased MMD^2 estimates."""

    mean: float
    std: float


def kid_from_features(f1, f2, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> KID:
    """KID: `subsets` draws of `subset_size` rows (without replacement) from each feature set, the
    unbiased polynomial-kernel MMD^2 of each pair; returns their mean and standard deviation."""
    f1, f2 = _as_pair(f1, f2)
    checks.positive_int("subsets", subsets)
    checks.positive_int("subset_size", subset_size)
    if not 2 <= subset_size <= min(len(f1), len(f2)):
        raise ValueError(
            f"subset_size must lie in [2, min(len(f1), len(f2))] = [2, {min(len(f1), len(f2))}], "
            f"got {subset_size=}"
        )
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(
            f1[rng.choice(len(f1), subset_size, replace=False)],
            f2[rng.choice(len(f2), subset_size, replace=False)],
        )
        for _ in range(subsets)
    ])
    return KID(float(values.mean()), float(values.std()))


def _directions(key_or_seed, n: int, d: int) -> np.ndarray:
    """n directions uniform on the unit sphere in R^d, from a JAX key or an integer seed."""
    if isinstance(key_or_seed, (int, np.integer)) and not isinstance(key_or_seed, bool):
        g = np.random.default_rng(int(key_or_seed)).standard_normal((n, d))
    else:
        try:
            g = np.asarray(jax.random.normal(key_or_seed, (n, d)), np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"key_or_seed must be a JAX PRNG key or an integer, got {key_or_seed=!r}") from e
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def wasserstein2_1d_squared(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Exact W_2^2 between empirical distributions along the last axis: [..., N], [..., M] -> [...].

    W_2^2 = int_0^1 (F^{-1}(u) - G^{-1}(u))^2 du with both quantile functions piecewise constant;
    the integral is summed exactly over the union of their breakpoints {i/N} and {j/M}.
    """
    xs, ys = np.sort(xs, axis=-1), np.sort(ys, axis=-1)
    n, m = xs.shape[-1], ys.shape[-1]
    u = np.union1d(np.arange(n + 1) / n, np.arange(m + 1) / m)
    mid, width = 0.5 * (u[1:] + u[:-1]), np.diff(u)
    ix = np.minimum((mid * n).astype(np.int64), n - 1)
    iy = np.minimum((mid * m).astype(np.int64), m - 1)
    return np.sum(width * (xs[..., ix] - ys[..., iy]) ** 2, axis=-1)


def sliced_wasserstein(x, y, *, n_projections: int = 256, key_or_seed=0) -> float:
    """SW_2 between the empirical distributions of x [N, D] and y [M, D] (Monte Carlo over
    `n_projections` random directions; each projected 1-D distance is exact)."""
    x, y = _as_pair(x, y)
    checks.positive_int("n_projections", n_projections)
    theta = _directions(key_or_seed, int(n_projections), x.shape[1])
    return float(np.sqrt(np.mean(wasserstein2_1d_squared(theta @ x.T, theta @ y.T))))


def toy_metrics(
    samples, fresh_data, log_prob_fn: Callable | None = None, *, n_projections: int = 256, seed: int = 0
) -> dict[str, float]:
    """Metrics of 2-D (or any vector) samples against fresh draws of the data.

    `sliced_wasserstein` (SW_2) and `frechet` (the Fréchet distance of the Gaussian fits) to
    `fresh_data`; where the data density is known (`log_prob_fn(x [B, D]) -> [B]`, e.g. a toy
    dataset's `log_prob`), `data_log_prob_of_samples` = mean log p_data(samples) next to its
    reference `data_log_prob_of_data` = mean log p_data(fresh_data) (= -entropy of the data, up
    to Monte-Carlo error): samples from the data distribution score the same, off-support
    samples less.
    """
    x, y = _as_pair(samples, fresh_data)
    out = {
        "sliced_wasserstein": sliced_wasserstein(x, y, n_projections=n_projections, key_or_seed=seed),
        "frechet": fid_from_features(x, y),
    }
    if log_prob_fn is not None:
        for name, v in (("samples", x), ("data", y)):
            lp = np.asarray(log_prob_fn(v.astype(np.float32)), np.float64)
            if lp.shape != v.shape[:1]:
                raise ValueError(f"log_prob_fn must return shape {v.shape[:1]}, got {lp.shape}")
            out[f"data_log_prob_of_{name}"] = float(np.mean(lp))
    return out
