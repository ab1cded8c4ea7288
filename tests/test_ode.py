"""The probability-flow ODE sampler: distribution, determinism, invertibility, exact NFE."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import io_callback

import samplers
from conftest import assert_matches_gaussian, assert_matches_mixture, gaussian_data, make_sde, mixture_data
from samplers.ode import SOLVERS


def _ode_sample(sde, gm, n, key=0, x_init=None, **options):
    sample_fn = samplers.get_sampler(sde, (n, 2), "ode", **options)
    return jax.jit(lambda k, x: sample_fn(k, gm.score_fn(sde), x))(jax.random.PRNGKey(key), x_init)


def test_ode_reproduces_gaussian_and_mixture(sde_name):
    sde = make_sde(sde_name)
    x, nfe = _ode_sample(sde, gaussian_data(), 1500, rtol=1e-4, atol=1e-4)
    # The flow map is exact up to the solver tolerance: only Monte-Carlo error (n = 1500) remains,
    # ~0.025 on the mean and ~0.035 on covariance entries.
    assert_matches_gaussian(x, gaussian_data(), mean_tol=0.1, cov_tol=0.12)
    assert nfe.shape == (1500,) and jnp.all(nfe > 1)
    x, _ = _ode_sample(sde, mixture_data(), 1500, key=1, rtol=1e-4, atol=1e-4)
    # Mode weights: standard error <= 0.013.
    assert_matches_mixture(x, mixture_data(), weight_tol=0.055, mean_tol=0.1)


def test_flow_is_deterministic_and_invertible(sde_name):
    sde, gm = make_sde(sde_name), mixture_data()
    x = gm.sample(jax.random.PRNGKey(3), 64)
    eps = sde.sampling_eps
    forward = jax.jit(lambda x: samplers.flow(sde, gm.score_fn(sde), x, t0=eps, t1=sde.T, rtol=1e-6, atol=1e-6))
    backward = jax.jit(lambda z: samplers.flow(sde, gm.score_fn(sde), z, t0=sde.T, t1=eps, rtol=1e-6, atol=1e-6))
    z, _ = forward(x)
    np.testing.assert_array_equal(z, forward(x)[0])
    x_back, _ = backward(z)
    scale = float(jnp.std(z))
    assert jnp.max(jnp.abs(x_back - x)) < 2e-3 * max(scale, 1.0)


def test_sampler_is_deterministic_given_x_init():
    sde, gm = make_sde("vp"), gaussian_data()
    x_init = sde.prior_sampling(jax.random.PRNGKey(0), (8, 2))
    a, _ = _ode_sample(sde, gm, 8, key=1, x_init=x_init)
    b, _ = _ode_sample(sde, gm, 8, key=2, x_init=x_init)
    np.testing.assert_array_equal(a, b)


def test_samples_do_not_depend_on_the_batch():
    sde, gm = make_sde("ve"), mixture_data()
    big, nfe_big = _ode_sample(sde, gm, 6, key=4)
    small, nfe_small = _ode_sample(sde, gm, 2, key=4)
    np.testing.assert_allclose(big[:2], small, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(nfe_big[:2], nfe_small)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("denoise", [False, True])
def test_nfe_is_exact(solver, denoise):
    """Counts the real calls of score_fn for one trajectory and compares with the reported NFE."""
    sde, gm = make_sde("vp"), gaussian_data()
    calls = []

    def counting_score(x, t):
        io_callback(lambda: calls.append(1) or np.int32(0), jax.ShapeDtypeStruct((), jnp.int32), ordered=False)
        return gm.score_fn(sde)(x, t)

    sample_fn = samplers.get_sampler(sde, (1, 2), "ode", solver=solver, rtol=1e-3, atol=1e-3, denoise=denoise)
    _, nfe = sample_fn(jax.random.PRNGKey(0), counting_score)
    jax.effects_barrier()
    assert int(nfe[0]) == len(calls)


@pytest.mark.parametrize(
    "options, match",
    [(dict(solver="rk4"), "solver"), (dict(rtol=0.0), "rtol"), (dict(eps=0.0), "eps"), (dict(order=2), "unknown"),
     (dict(max_steps=0), "max_steps=0"), (dict(max_steps=True), "max_steps=True")],
)
def test_bad_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        samplers.get_sampler(make_sde("vp"), (4, 2), "ode", **options)

