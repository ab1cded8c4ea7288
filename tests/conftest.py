"""Shared fixtures: the three SDEs and data whose perturbed marginals are known in closed form."""

import os

# XLA:CPU's concurrency-optimised scheduler can deadlock on many small batched linear-algebra ops
# inside loops (seen with per-sample factorisations); the tests (and their subprocesses) run without it.
_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
if _FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _FLAG).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import pytest  # noqa: E402

from sde_lib import VESDE, VPSDE, GaussianMixture, subVPSDE  # noqa: E402

SDE_CLASSES = {"vp": VPSDE, "subvp": subVPSDE, "ve": VESDE}


def make_sde(name: str, N: int = 1000):
    if name == "ve":
        # sigma_max of the order of the data's spread (Song & Ermon 2020, technique 1).
        return VESDE(sigma_min=0.01, sigma_max=10.0, N=N)
    return SDE_CLASSES[name](N=N)


@pytest.fixture(params=sorted(SDE_CLASSES))
def sde_name(request):
    return request.param


def gaussian_data() -> GaussianMixture:
    """A correlated 2-D Gaussian, N(mu, C)."""
    cov = jnp.array([[1.0, 0.6], [0.6, 0.8]])
    return GaussianMixture(jnp.ones((1,)), jnp.array([[0.5, -1.0]]), cov[None])


def mixture_data() -> GaussianMixture:
    """Three well-separated 2-D modes of unequal weight and spread."""
    means = jnp.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    covs = jnp.stack([0.3**2 * jnp.eye(2), 0.5**2 * jnp.eye(2), jnp.array([[0.4, 0.1], [0.1, 0.2]])])
    return GaussianMixture(jnp.array([0.5, 0.3, 0.2]), means, covs)


def assert_matches_gaussian(x, gm: GaussianMixture, mean_tol: float, cov_tol: float):
    """Sample mean and covariance against the data's (absolute tolerances, in data units)."""
    mean_err = jnp.max(jnp.abs(jnp.mean(x, 0) - gm.mean()))
    cov_err = jnp.max(jnp.abs(jnp.cov(x.T) - gm.covariance()))
    assert mean_err < mean_tol, f"mean error {mean_err:.3f} >= {mean_tol}"
    assert cov_err < cov_tol, f"covariance error {cov_err:.3f} >= {cov_tol}"


def assert_matches_mixture(x, gm: GaussianMixture, weight_tol: float, mean_tol: float):
    """Mode weights (by the exact posterior over components) and per-mode means."""
    labels = jnp.argmax(gm.responsibilities(x), axis=-1)
    k = gm.weights.shape[0]
    weights = jnp.array([jnp.mean(labels == j) for j in range(k)])
    assert jnp.max(jnp.abs(weights - gm.weights)) < weight_tol, f"mode weights {weights} vs {gm.weights}"
    for j in range(k):
        m = jnp.mean(x[labels == j], axis=0)
        err = jnp.max(jnp.abs(m - gm.means[j]))
        assert err < mean_tol, f"mode {j} mean {m} vs {gm.means[j]}"


@pytest.fixture
def x64():
    """Runs a test in float64."""
    with jax.enable_x64(True):
        yield
