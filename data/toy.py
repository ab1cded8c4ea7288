"""Two-dimensional toy sets generated on the fly (as in FFJORD, Grathwohl et al., ICLR 2019, and
the score-SDE paper's 2-D demos): checkerboard, swiss roll, eight Gaussians, two moons and a
Gaussian mixture. The last two Gaussian sets are `sde_lib.GaussianMixture`s, so their exact data
log-density (and the exact score of every perturbed marginal) is known.

Each constructor returns an endless `StreamDataset`; with `num_train=n` it instead returns a fixed
finite `ArrayDataset` of n draws (visited epoch by epoch), for studies of memorisation.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from common import checks
from data.base import EVAL_ENTROPY, ArrayDataset, Dataset, DrawFn, StreamDataset
from sde_lib import GaussianMixture


def _check_nonneg(name: str, value) -> float:
    return checks.number(name, value, low=0)


def _make(name: str, draw: DrawFn, num_train, num_eval, density=None, dim: int = 2) -> Dataset:
    num_eval = checks.positive_int("num_eval", num_eval)
    stream = StreamDataset(name, (dim,), draw, num_eval, density)
    if num_train is None:
        return stream
    num_train = checks.positive_int("num_train", num_train)
    # A fixed training set, drawn once from its own entropy (apart from the held-out draws).
    x_train = stream._draw(np.random.default_rng([EVAL_ENTROPY, 1]), num_train)
    return ArrayDataset(name, x_train, None, stream.eval_set(), None, False, density=density)


def checkerboard(*, num_train=None, num_eval: int = 4096) -> Dataset:
    """Uniform on the 8 cells (i, j) of a 4x4 board of side-2 squares on [-4, 4]^2 with i + j even,
    where i = floor(x1 / 2), j = floor(x2 / 2)."""

    def draw(rng, n):
        u = rng.uniform(-2.0, 2.0, (n, 2))
        odd = (np.floor(u[:, 0]) + np.floor(u[:, 1])) % 2 == 1
        # Shifting x2 by one cell (mod the board) maps the odd cells onto the even ones uniformly.
        u[odd, 1] = (u[odd, 1] + 3.0) % 4.0 - 2.0
        return 2.0 * u

    return _make("checkerboard", draw, num_train, num_eval)


def swiss_roll(*, noise: float = 0.2, num_train=None, num_eval: int = 4096) -> Dataset:
    """x = (t cos t, t sin t) / 5 + noise * N(0, I), t ~ U[1.5 pi, 4.5 pi] (sklearn's make_swiss_roll
    in the plane, scaled to unit-ish spread)."""
    noise = _check_nonneg("noise", noise)

    def draw(rng, n):
        t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(size=n))
        x = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0
        return x + noise * rng.standard_normal((n, 2))

    return _make("swiss_roll", draw, num_train, num_eval)


def two_moons(*, noise: float = 0.05, num_train=None, num_eval: int = 4096) -> Dataset:
    """Two interleaved half circles of radius 1 (sklearn's make_moons), each chosen with
    probability 1/2: (cos s, sin s) and (1 - cos s, 0.5 - sin s), s ~ U[0, pi], plus noise * N(0, I)."""
    noise = _check_nonneg("noise", noise)

    def draw(rng, n):
        s = np.pi * rng.uniform(size=n)
        inner = rng.uniform(size=n) < 0.5
        x = np.where(
            inner[:, None],
            np.stack([1.0 - np.cos(s), 0.5 - np.sin(s)], axis=1),
            np.stack([np.cos(s), np.sin(s)], axis=1),
        )
        return x + noise * rng.standard_normal((n, 2))

    return _make("two_moons", draw, num_train, num_eval)


def _mixture_draw(mixture: GaussianMixture) -> DrawFn:
    def draw(rng, n):
        key = jax.random.key(int(rng.integers(2**63 - 1)))
        return np.asarray(mixture.sample(key, n))

    return draw


def _mixture_density(mixture: GaussianMixture):
    return lambda x: mixture.log_prob(jnp.asarray(x))


def eight_gaussians(
    *, radius: float = 2.0, std: float = 0.2, num_train=None, num_eval: int = 4096
) -> Dataset:
    """Equal-weight isotropic Gaussians N(radius (cos 2 pi k/8, sin 2 pi k/8), std^2 I), k = 0..7."""
    checks.positive("radius", radius)
    checks.positive("std", std)
    angles = 2 * np.pi * np.arange(8) / 8
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    mixture = GaussianMixture.isotropic(means, std)
    return _make("eight_gaussians", _mixture_draw(mixture), num_train, num_eval, _mixture_density(mixture))


def default_mixture() -> GaussianMixture:
    """Three modes of unequal weight, spread and orientation."""
    means = jnp.array([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]])
    covs = jnp.array([
        [[0.30, 0.10], [0.10, 0.20]],
        [[0.20, -0.12], [-0.12, 0.25]],
        [[0.50, 0.00], [0.00, 0.10]],
    ])
    return GaussianMixture(jnp.array([0.5, 0.3, 0.2]), means, covs)


def gaussian_mixture(
    *, mixture: GaussianMixture | None = None, num_train=None, num_eval: int = 4096
) -> Dataset:
    """Draws from an `sde_lib.GaussianMixture` (the 2-D `default_mixture()` unless given; any
    dimension D gives shape (D,)); the dataset's `log_prob` is the mixture's exact density."""
    mixture = default_mixture() if mixture is None else mixture
    return _make(
        "gaussian_mixture", _mixture_draw(mixture), num_train, num_eval, _mixture_density(mixture),
        dim=mixture.dim,
    )
