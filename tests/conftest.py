"""Shared fixtures: the three SDEs and data whose perturbed marginals are known in closed form."""

import os

# XLA:CPU's concurrency-optimised scheduler can deadlock on many small batched linear-algebra ops
# inside loops (seen with per-sample factorisations); the tests (and their subprocesses) run without it.
#
# XLA:CPU's MLIR fusion emitters cost far more compile time than its older loop emitters for the
# small programs here, and its parallel codegen splits each module into pieces compiled one by one on
# these 2 cores: tests/test_fast_samplers.py's convergence tests took 64 s of CPU with the defaults,
# 29-40 s without the emitters and the split (same results to float rounding; every process of a
# test, subprocesses too, gets the same flags).
_FLAGS = ("--xla_cpu_enable_concurrency_optimized_scheduler=false", "--xla_cpu_use_fusion_emitters=false",
          "--xla_cpu_parallel_codegen_split_count=1")
for _flag in _FLAGS:
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()

# Most of the suite's time is XLA compilation, and XLA:CPU's optimisation passes are most of that for
# the small programs here (the suite's CPU time: -21% on test_ode.py, -34% on test_losses.py with them
# off). The assertions are about the maths, which those passes must not change; the benchmarks run
# with every optimisation on. Set through the environment so that subprocesses inherit it.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

# Many tests (and the main.py subprocesses they start) compile the same programs. A persistent
# compilation cache in a fresh temporary directory, shared through the environment by the xdist
# workers and every subprocess (the multi-device check too), compiles each once per session; it is
# removed when the session that created it ends, so runs stay independent. An existing
# JAX_COMPILATION_CACHE_DIR is respected (and kept).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    _CACHE = tempfile.mkdtemp(prefix="scorejax-test-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

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


# The longest tests (subprocesses, training runs), in decreasing order of their time: run first, so
# that the two xdist workers (`make test`: pytest -n 2, which hands tests out in collection order)
# do not end with one of them alone on a long test. Stable sort: the rest keep their order.
_LONG_FIRST = (
    "test_multidevice.py::test_four_devices_match_one",
    "test_pipeline.py::test_calibrate_then_sample_on_the_fitted_grid",
    "test_pipeline.py::test_main_train_restart_sample[vpsde]",
    "test_pipeline.py::test_sampling_is_reproducible_and_images_work",
    "test_crash_safety.py",
    "test_paper_networks.py::test_train_with_smld_loss_and_sample_with_ald",
    "test_pipeline.py",
    "test_paper_configs.py",
    "test_grids.py::test_calibrated_grid_lowers_the_error_on_fresh_noise",
    "test_likelihood.py::test_bits_per_dim_closed_form_and_data_scaling",
    "test_ode.py::test_ode_reproduces_gaussian_and_mixture",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        return next((i for i, name in enumerate(_LONG_FIRST) if name in item.nodeid), len(_LONG_FIRST))

    items.sort(key=rank)
