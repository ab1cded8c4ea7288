"""The SDE library against closed forms and simulation."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from conftest import make_sde
from sde_lib import VESDE, VPSDE, get_sde, subVPSDE


def simulate_forward(sde, x0, t_end, n_steps, key):
    """Euler--Maruyama of the forward SDE from 0 to t_end, started at x0 + sigma(0) z."""
    dt = t_end / n_steps
    k0, key = jax.random.split(key)
    sigma0 = sde.sigma(jnp.zeros(x0.shape[:1]))
    x = x0 + sigma0[:, None] * jax.random.normal(k0, x0.shape)

    def step(x, inp):
        i, k = inp
        t = jnp.full(x.shape[:1], i * dt)
        drift, diffusion = sde.sde(x, t)
        return x + drift * dt + diffusion[:, None] * math.sqrt(dt) * jax.random.normal(k, x.shape), None

    x, _ = jax.lax.scan(step, x, (jnp.arange(n_steps), jax.random.split(key, n_steps)))
    return x


@pytest.mark.parametrize("t_end", [0.3, 1.0])
def test_marginal_prob_matches_simulation(sde_name, t_end):
    sde = make_sde(sde_name)
    n = 20000
    x0 = jnp.broadcast_to(jnp.array([1.0, -2.0]), (n, 2))
    x = jax.jit(simulate_forward, static_argnums=(0, 2, 3))(sde, x0, t_end, 1000, jax.random.PRNGKey(0))
    mean, std = sde.marginal_prob(x0[:1], jnp.array([t_end]))
    # Monte-Carlo: the mean's standard error is std / sqrt(n) (~0.7% of std); allow 5 of them, and
    # 3% on the std for its standard error (0.5%) plus the O(dt) bias of Euler--Maruyama.
    assert np.allclose(jnp.mean(x, 0), mean[0], atol=5 * float(std[0]) / math.sqrt(n) + 1e-3)
    assert np.allclose(jnp.std(x, 0), std[0], rtol=0.03)


def test_kernel_coefficients_solve_the_linear_sde(sde_name):
    """For dx = f(t) x dt + g(t) dw: d log alpha/dt = f(t) and d sigma^2/dt = 2 f sigma^2 + g^2."""
    sde = make_sde(sde_name)
    ts = jnp.linspace(0.05, 1.0, 9)
    f = jax.vmap(lambda t: sde.sde(jnp.ones((1, 1)), t[None])[0][0, 0])(ts)
    g = jax.vmap(lambda t: sde.sde(jnp.ones((1, 1)), t[None])[1][0])(ts)
    dlog_alpha = jax.vmap(jax.grad(sde.log_alpha))(ts)
    dvar = jax.vmap(jax.grad(lambda t: sde.sigma(t) ** 2))(ts)
    np.testing.assert_allclose(dlog_alpha, f, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dvar, 2 * f * sde.sigma(ts) ** 2 + g**2, rtol=1e-3, atol=1e-5)


def test_marginal_prob_closed_forms():
    t = jnp.linspace(0.0, 1.0, 11)
    x = jnp.ones((11, 3))
    b0, b1 = 0.1, 20.0
    lmc = -0.25 * t**2 * (b1 - b0) - 0.5 * t * b0  # Song et al. 2021, Eqs. 29 and 33
    mean, std = VPSDE(beta_min=b0, beta_max=b1).marginal_prob(x, t)
    np.testing.assert_allclose(mean[:, 0], np.exp(lmc), rtol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(1 - np.exp(2 * lmc)), rtol=1e-5, atol=1e-7)
    mean, std = subVPSDE(beta_min=b0, beta_max=b1).marginal_prob(x, t)
    np.testing.assert_allclose(std, 1 - np.exp(2 * lmc), rtol=1e-5, atol=1e-7)
    mean, std = VESDE(sigma_min=0.01, sigma_max=50.0).marginal_prob(x, t)
    np.testing.assert_allclose(mean, x)
    np.testing.assert_allclose(std, 0.01 * (50 / 0.01) ** t, rtol=1e-5)


def test_log_sigma_is_accurate_in_float32_near_zero(sde_name):
    sde = make_sde(sde_name)
    t = jnp.array([1e-7, 1e-5, 1e-3, 0.5, 1.0], jnp.float32)
    with jax.enable_x64(True):
        ref = np.asarray(sde.log_sigma(jnp.asarray(t, jnp.float64)))
    got = np.asarray(sde.log_sigma(t))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_t_from_log_snr_inverts_log_snr(sde_name):
    sde = make_sde(sde_name)
    t = jnp.linspace(1e-4, 1.0, 50, dtype=jnp.float32)
    lam = sde.log_snr(t)
    assert jnp.all(jnp.diff(lam) < 0), "log-SNR must decrease in t"
    np.testing.assert_allclose(sde.t_from_log_snr(lam), t, rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(sde.log_snr(t), sde.log_alpha(t) - jnp.log(sde.sigma(t)), rtol=1e-4, atol=1e-4)


def test_prior(sde_name):
    sde = make_sde(sde_name)
    z = sde.prior_sampling(jax.random.PRNGKey(1), (4, 3, 2))
    std = {"vp": 1.0, "subvp": 1.0, "ve": sde.sigma_max if sde_name == "ve" else None}[sde_name]
    ref = stats.multivariate_normal(mean=np.zeros(6), cov=std**2 * np.eye(6)).logpdf(np.asarray(z).reshape(4, 6))
    np.testing.assert_allclose(sde.prior_logp(z), ref, rtol=1e-5)
    draws = sde.prior_sampling(jax.random.PRNGKey(2), (20000, 2))
    # Kolmogorov-Smirnov test of the standardised draws against N(0, 1).
    assert stats.kstest(np.asarray(draws[:, 0]) / std, "norm").pvalue > 1e-3


def test_discretize_is_ddpm_for_vp():
    N, b0, b1 = 50, 0.1, 20.0
    sde = VPSDE(beta_min=b0, beta_max=b1, N=N)
    betas = np.linspace(b0 / N, b1 / N, N)  # Ho et al. 2020, written out independently
    x = np.random.default_rng(0).normal(size=(N, 3)).astype(np.float32)
    ts = np.linspace(1.0, 1e-3, N).astype(np.float32)
    f, G = sde.discretize(jnp.asarray(x), jnp.asarray(ts))
    idx = (ts * (N - 1)).astype(int)
    np.testing.assert_allclose(f, (np.sqrt(1 - betas[idx]) - 1)[:, None] * x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(G, np.sqrt(betas[idx]), rtol=1e-5)
    # The discrete chain's cumulative product tends to the continuous alpha(t)^2: the logs differ
    # by sum(beta_i^2)/2 ~ 0.07 out of ~10 at N = 1000.
    np.testing.assert_allclose(
        jnp.log(VPSDE(N=1000).alphas_cumprod[-1]), 2 * VPSDE().log_alpha(jnp.ones(())), rtol=0.01
    )


def test_discretize_is_smld_for_ve():
    N, s0, s1 = 40, 0.01, 50.0
    sde = VESDE(sigma_min=s0, sigma_max=s1, N=N)
    sigmas = np.geomspace(s0, s1, N)  # Song & Ermon 2019's geometric noise levels
    x = np.ones((N, 2), np.float32)
    ts = np.linspace(1.0, 1e-5, N).astype(np.float32)
    f, G = sde.discretize(jnp.asarray(x), jnp.asarray(ts))
    idx = (ts * (N - 1)).astype(int)
    prev = np.where(idx == 0, 0.0, sigmas[np.maximum(idx - 1, 0)])
    np.testing.assert_allclose(f, 0.0)
    np.testing.assert_allclose(G, np.sqrt(sigmas[idx] ** 2 - prev**2), rtol=1e-4)


def test_discretize_is_euler_maruyama_for_subvp():
    sde = subVPSDE(N=100)
    x, t = jnp.ones((3, 2)), jnp.array([0.2, 0.5, 0.9])
    drift, diffusion = sde.sde(x, t)
    f, G = sde.discretize(x, t)
    np.testing.assert_allclose(f, drift / 100, rtol=1e-6)
    np.testing.assert_allclose(G, diffusion / 10, rtol=1e-6)


def test_reverse_sde_and_probability_flow():
    sde = VPSDE(N=10)
    score_fn = lambda x, t: -x * (1 + t[:, None])
    x, t = jnp.ones((2, 3)), jnp.array([0.3, 0.7])
    drift, diffusion = sde.sde(x, t)
    rev_drift, rev_diffusion = sde.reverse(score_fn).sde(x, t)
    np.testing.assert_allclose(rev_drift, drift - diffusion[:, None] ** 2 * score_fn(x, t), rtol=1e-6)
    np.testing.assert_allclose(rev_diffusion, diffusion)
    ode_drift, ode_diffusion = sde.reverse(score_fn, probability_flow=True).sde(x, t)
    np.testing.assert_allclose(ode_drift, drift - 0.5 * diffusion[:, None] ** 2 * score_fn(x, t), rtol=1e-6)
    np.testing.assert_allclose(ode_diffusion, 0.0)
    f, G = sde.discretize(x, t)
    rev_f, rev_G = sde.reverse(score_fn).discretize(x, t)
    np.testing.assert_allclose(rev_f, f - G[:, None] ** 2 * score_fn(x, t), rtol=1e-6)


def test_network_output_conversions(sde_name):
    """eps-prediction for VP / sub-VP, sigma-scaled score for VE: both recover the exact score."""
    sde = make_sde(sde_name)
    x0 = jnp.array([[1.0, -1.0], [0.5, 2.0]])
    t = jnp.array([0.1, 0.8])
    z = jnp.array([[0.3, -0.2], [1.1, 0.4]])
    mean, std = sde.marginal_prob(x0, t)
    true_score = -z / std[:, None]  # score of the kernel p_0t(x_t | x_0) at x_t = mean + std z
    eps_out = sde.score_from_output(z, t)
    scaled_out = sde.score_from_output(-z, t)
    assert np.allclose(eps_out, true_score, rtol=1e-5) or np.allclose(scaled_out, true_score, rtol=1e-5)
    assert sde.noise_label(t).shape == t.shape


def test_jit_vmap_and_immutability(sde_name):
    sde = make_sde(sde_name)
    x, t = jnp.ones((4, 2)), jnp.linspace(0.1, 1.0, 4)
    jitted = jax.jit(lambda x, t: sde.sde(x, t))
    np.testing.assert_allclose(jitted(x, t)[0], sde.sde(x, t)[0], rtol=1e-6)
    per_sample = jax.vmap(lambda xi, ti: sde.marginal_prob(xi[None], ti[None])[1][0])(x, t)
    np.testing.assert_allclose(per_sample, sde.marginal_prob(x, t)[1], rtol=1e-6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sde.N = 3


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("vesde", dict(sigma_min=1.0, sigma_max=0.5), "sigma_min"),
        ("vpsde", dict(beta_min=0.0), "beta_min"),
        ("subvpsde", dict(beta_min=1.0, beta_max=0.5), "beta_max"),
        ("vpsde", dict(N=0), "N"),
        ("nosuchsde", dict(), "valid names"),
    ],
)
def test_bad_arguments_name_the_argument(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_sde(name, **kwargs)
