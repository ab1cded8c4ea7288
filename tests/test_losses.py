"""Denoising score matching against closed forms for Gaussian data.

For x_0 ~ N(mu, C) and x_t = m x_0 + s z, the exact score is S(x) = -(m^2 C + s^2 I)^{-1} (x - m mu), and
E || s S(x_t) + z ||^2 = D - s^2 tr((m^2 C + s^2 I)^{-1}): the value of the loss at the optimum.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import make_sde
from training.losses import get_loss_fn

MU = jnp.array([0.5, -1.0, 2.0])
C = jnp.array([[1.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 2.0]])
D = 3


def gaussian_score(x, m, s):
    cov = m[:, None, None] ** 2 * C + s[:, None, None] ** 2 * jnp.eye(D)
    return -jnp.linalg.solve(cov, (x - m[:, None] * MU)[..., None])[..., 0]


def optimum(m, s):
    """Per-level value of the sigma^2-weighted, dimension-averaged loss at the exact score."""
    cov = m[:, None, None] ** 2 * np.asarray(C) + s[:, None, None] ** 2 * np.eye(D)
    return 1.0 - s**2 * np.trace(np.linalg.inv(cov), axis1=1, axis2=2) / D


def discrete_schedule(name, sde):
    """(m_i, s_i) of the N discrete levels, written out from DDPM / SMLD independently of sde_lib."""
    if name == "vp":
        abar = np.cumprod(1 - np.linspace(sde.beta_min / sde.N, sde.beta_max / sde.N, sde.N))
        return np.sqrt(abar), np.sqrt(1 - abar)
    return np.ones(sde.N), np.geomspace(sde.sigma_min, sde.sigma_max, sde.N)


def data(key, n):
    return MU + jax.random.normal(key, (n, D)) @ jnp.linalg.cholesky(C).T


def mc_estimate(loss_fn, params, n_keys=8, n=20000):
    """Mean and standard error of the loss over independent keys."""
    vals = np.array([
        float(jax.jit(loss_fn)(params, jax.random.PRNGKey(100 + i), data(jax.random.PRNGKey(i), n)))
        for i in range(n_keys)
    ])
    return vals.mean(), vals.std(ddof=1) / np.sqrt(n_keys)


def test_continuous_loss_at_exact_score_matches_closed_form(sde_name):
    sde = make_sde(sde_name)
    score_fn = lambda params, x, t: gaussian_score(x, sde.alpha(t), sde.sigma(t))
    eps = 1e-5
    mean, se = mc_estimate(get_loss_fn(sde, score_fn, t_min=eps), None)
    t = np.linspace(eps, 1.0, 20001)
    expected = np.trapezoid(optimum(np.asarray(sde.alpha(t)), np.asarray(sde.sigma(t))), t) / (1.0 - eps)
    assert abs(mean - expected) < 5 * se + 2e-3, (mean, expected, se)


@pytest.mark.parametrize("name", ["vp", "ve"])
def test_discrete_loss_at_exact_score_matches_closed_form(name):
    sde = make_sde(name, N=50)
    m, s = discrete_schedule(name, sde)

    def score_fn(params, x, t):
        i = jnp.round(t * (sde.N - 1)).astype(jnp.int32)
        return gaussian_score(x, jnp.asarray(m, jnp.float32)[i], jnp.asarray(s, jnp.float32)[i])

    mean, se = mc_estimate(get_loss_fn(sde, score_fn, continuous=False), None)
    expected = optimum(m, s).mean()
    assert abs(mean - expected) < 5 * se + 2e-3, (mean, expected, se)


@pytest.mark.parametrize(
    "continuous, likelihood_weighting, reduce_mean",
    [(True, False, True), (True, True, True), (True, False, False), (False, False, True)],
)
def test_exact_score_beats_perturbed_score(sde_name, continuous, likelihood_weighting, reduce_mean):
    if not continuous and sde_name == "subvp":
        pytest.skip("no discrete objective for sub-VP (tested below)")
    sde = make_sde(sde_name, N=100)
    score_fn = lambda delta, x, t: gaussian_score(x, sde.alpha(t), sde.sigma(t)) + delta
    loss_fn = jax.jit(get_loss_fn(
        sde, score_fn, continuous=continuous, likelihood_weighting=likelihood_weighting, reduce_mean=reduce_mean
    ))
    key, batch = jax.random.PRNGKey(0), data(jax.random.PRNGKey(1), 20000)
    # Same key and batch for both (common random numbers): the gap is ~E[w(t)] |delta|^2.
    exact = loss_fn(jnp.zeros(D), key, batch)
    for delta in (jnp.full(D, 0.3), jnp.array([0.0, -0.3, 0.1])):
        assert loss_fn(delta, key, batch) > exact


def test_discrete_subvp_and_discrete_likelihood_weighting_are_errors():
    score_fn = lambda params, x, t: x
    with pytest.raises(ValueError, match="continuous"):
        get_loss_fn(make_sde("subvp"), score_fn, continuous=False)
    with pytest.raises(ValueError, match="likelihood_weighting"):
        get_loss_fn(make_sde("vp"), score_fn, continuous=False, likelihood_weighting=True)
    with pytest.raises(ValueError, match="t_min"):
        get_loss_fn(make_sde("vp"), score_fn, t_min=0.0)


def test_no_recompilation_on_second_call():
    sde = make_sde("ve")
    score_fn = lambda w, x, t: x * w
    loss_fn = get_loss_fn(sde, score_fn)
    traces = []

    @jax.jit
    def step(w, key, batch):
        traces.append(1)
        return jax.value_and_grad(loss_fn)(w, key, batch)

    step(jnp.float32(1.0), jax.random.PRNGKey(0), jnp.zeros((8, 3)))
    step(jnp.float32(2.0), jax.random.PRNGKey(1), jnp.ones((8, 3)))
    assert len(traces) == 1
