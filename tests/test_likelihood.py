"""Probability-flow likelihoods and bits/dim against closed-form densities of Gaussian data."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import io_callback

from samplers import get_bpd_fn, get_likelihood_fn
from samplers.likelihood import bits_per_dim, dequantize, divergence, trace_noise
from sde_lib import VESDE, VPSDE, GaussianMixture, subVPSDE

EPS = 1e-5
# VE keeps the class default sigma_max = 50: with data within ~0.5 of the origin the prior
# N(0, sigma_max^2 I) differs from the true p_T by at most ~|mean| / sigma_max nats per dim.
SDES = {"vp": VPSDE, "subvp": subVPSDE, "ve": VESDE}


def gaussian() -> GaussianMixture:
    """A correlated 3-D Gaussian near the origin."""
    cov = jnp.array([[0.30, 0.12, -0.05], [0.12, 0.20, 0.04], [-0.05, 0.04, 0.15]])
    return GaussianMixture(jnp.ones((1,)), jnp.array([[0.2, -0.3, 0.1]]), cov[None])


def mixture() -> GaussianMixture:
    """Two overlapping, correlated 2-D components of unequal weight."""
    means = jnp.array([[0.3, -0.2], [-0.25, 0.15]])
    covs = jnp.array([[[0.3, 0.1], [0.1, 0.2]], [[0.1, -0.05], [-0.05, 0.2]]])
    return GaussianMixture(jnp.array([0.3, 0.7]), means, covs)


DATA = {"gaussian": gaussian, "mixture": mixture}


def data_at_eps(gm, sde, n, key):
    """n exact draws from p_eps = alpha(eps) p_0 * N(0, sigma(eps)^2 I)."""
    k0, k1 = jax.random.split(key)
    x0 = gm.sample(k0, n)
    return sde.alpha(EPS) * x0 + sde.sigma(EPS) * jax.random.normal(k1, x0.shape)


def likelihood(sde, gm, **options):
    """The jitted likelihood_fn with the exact score; `.traces` counts how often it was traced."""
    fn = get_likelihood_fn(sde, eps=EPS, **options)

    def run(key, x):
        jitted.traces += 1
        return fn(key, gm.score_fn(sde), x)

    jitted = jax.jit(run)
    jitted.traces = 0
    return jitted


EXACT_CASES = [("vp", "mixture"), ("subvp", "mixture"), ("ve", "mixture"), ("vp", "gaussian")]


@pytest.mark.parametrize(
    "sde_name,data",
    EXACT_CASES
    + [pytest.param(s, "gaussian", marks=pytest.mark.slow) for s in ("subvp", "ve")],
)
def test_exact_trace_matches_closed_form(sde_name, data):
    sde, gm = SDES[sde_name](), DATA[data]()
    x = data_at_eps(gm, sde, 6, jax.random.PRNGKey(0))
    fn = likelihood(sde, gm, trace="exact")
    logp, z, nfe = fn(jax.random.PRNGKey(1), x)
    exact = gm.log_prob(x, sde, jnp.full(x.shape[:1], EPS))
    # The bound: 0.01 nats per dimension from log p_eps(x), prior mismatch included.
    np.testing.assert_array_less(jnp.abs(logp - exact), 0.01 * gm.dim)
    # With the prior's mismatch log p_T(z) - log pi(z) put back, only the ODE solve's error is
    # left (measured ~3e-5 nats per dimension at rtol = atol = 1e-5).
    mismatch = gm.log_prob(z, sde, jnp.full(x.shape[:1], sde.T)) - sde.prior_logp(z)
    np.testing.assert_array_less(jnp.abs(logp + mismatch - exact), 1e-3 * gm.dim)
    assert nfe.shape == (6,) and jnp.all(nfe > 1)
    # A second call with new values does not recompile.
    fn(jax.random.PRNGKey(2), x + 0.01)
    assert fn.traces == 1


HUTCHINSON_CASES = [("vp", "rademacher"), ("ve", "gaussian")]
SLOW_CASES = [
    (s, t) for s in sorted(SDES) for t in ("rademacher", "gaussian") if (s, t) not in HUTCHINSON_CASES
]


def check_hutchinson(sde_name, trace):
    """K independent estimates of log p_eps(x) for one x: their mean matches the closed form."""
    sde, gm = SDES[sde_name](), gaussian()
    k = 128
    x = jnp.repeat(data_at_eps(gm, sde, 1, jax.random.PRNGKey(3)), k, axis=0)
    logp, _, _ = likelihood(sde, gm, trace=trace)(jax.random.PRNGKey(4), x)
    exact = gm.log_prob(x[:1], sde, jnp.full((1,), EPS))[0]
    spread = float(jnp.std(logp))
    assert spread > 0  # the K probes differ
    # Monte-Carlo: the mean of K i.i.d. estimates has standard error std / sqrt(K); allow 5 of
    # them (two-sided false-alarm rate ~6e-7 under the CLT), plus 0.01 nats/dim of solver and
    # prior error as in the exact-trace test.
    assert abs(float(jnp.mean(logp)) - float(exact)) < 5 * spread / math.sqrt(k) + 0.01 * gm.dim


@pytest.mark.parametrize("sde_name,trace", HUTCHINSON_CASES)
def test_hutchinson_likelihood_is_unbiased(sde_name, trace):
    check_hutchinson(sde_name, trace)


@pytest.mark.slow
@pytest.mark.parametrize("sde_name,trace", SLOW_CASES)
def test_hutchinson_likelihood_is_unbiased_all(sde_name, trace):
    check_hutchinson(sde_name, trace)


@pytest.mark.parametrize("trace", ["rademacher", "gaussian"])
def test_hutchinson_divergence_mean_is_the_trace(trace):
    """The estimator's mean over many probes is tr(J), its variance the closed form for v's law."""
    a = jnp.array([[0.9, -0.4, 0.3, 0.0], [0.5, 1.2, -0.2, 0.1], [0.1, 0.7, -0.6, 0.4], [-0.3, 0.2, 0.5, 0.8]])
    fn = lambda x: jnp.tanh(a @ x) + 0.5 * x**2  # noqa: E731 (a non-symmetric Jacobian)
    x = jnp.array([0.3, -0.5, 0.8, 0.1])
    jac = jax.jacfwd(fn)(x)
    fx, div_exact = divergence(fn, x)
    np.testing.assert_allclose(fx, fn(x), rtol=1e-6)
    np.testing.assert_allclose(div_exact, jnp.trace(jac), rtol=1e-5)

    m = 20000
    keys = jax.random.split(jax.random.PRNGKey(5), m)
    est = jax.vmap(lambda k: divergence(fn, x, trace_noise(k, x.shape, trace))[1])(keys)
    sym = 0.5 * (jac + jac.T)
    off = sym - jnp.diag(jnp.diag(sym))
    # Var[v^T J v] = 2 ||S||_F^2 for Gaussian v and 2 ||S - diag S||_F^2 for Rademacher v,
    # with S = (J + J^T) / 2.
    var = 2 * jnp.sum((sym if trace == "gaussian" else off) ** 2)
    assert abs(jnp.mean(est) - jnp.trace(jac)) < 5 * jnp.sqrt(var / m)
    # The sample variance's relative standard error is ~sqrt(2 / m) (Gaussian) to a few percent
    # (Rademacher, heavier-tailed products); 10% is several of them.
    np.testing.assert_allclose(jnp.var(est), var, rtol=0.1)


def counted_score(gm, sde, calls):
    """The exact score, logging each real evaluation through io_callback (with a JVP rule so
    the divergence can differentiate through it; the tangent part does not count)."""
    base = gm.score_fn(sde)

    @jax.custom_jvp
    def score(x, t):
        io_callback(lambda: calls.append(1), None, ordered=False)
        return base(x, t)

    @score.defjvp
    def score_jvp(primals, tangents):
        x, t = primals
        return score(x, t), jax.jvp(lambda y: base(y, t), (x,), (tangents[0],))[1]

    return score


@pytest.mark.parametrize(
    "solver,trace",
    [("tsit5", "rademacher"), ("dopri8", "exact"), pytest.param("bosh3", "gaussian", marks=pytest.mark.slow)],
)
def test_nfe_is_exact(solver, trace):
    sde, gm = VPSDE(), gaussian()
    calls = []
    fn = get_likelihood_fn(sde, trace=trace, solver=solver, rtol=1e-4, atol=1e-4)
    x = data_at_eps(gm, sde, 1, jax.random.PRNGKey(6))  # one sample: the batched loop is its own
    _, _, nfe = jax.jit(lambda k, x: fn(k, counted_score(gm, sde, calls), x))(jax.random.PRNGKey(7), x)
    jax.effects_barrier()
    assert int(nfe[0]) == len(calls) > 1


@pytest.mark.parametrize(
    "options,match",
    [
        ({"trace": "hutchinson"}, "trace"),
        ({"rtol": 0.0}, "rtol"),
        ({"atol": -1.0}, "atol"),
        ({"eps": 0.0}, "eps"),
        ({"eps": 1.0}, "eps"),
        ({"solver": "euler"}, "solver"),
        ({"max_steps": 0}, "max_steps"),
    ],
)
def test_bad_options_raise(options, match):
    with pytest.raises(ValueError, match=match):
        get_likelihood_fn(VPSDE(), **options)


def test_bad_inputs_raise():
    gm = gaussian()
    fn = get_likelihood_fn(VPSDE())
    with pytest.raises(ValueError, match="x.shape"):
        fn(jax.random.PRNGKey(0), gm.score_fn(VPSDE()), jnp.zeros(3))
    with pytest.raises(ValueError, match="score_fn"):
        fn(jax.random.PRNGKey(0), lambda x, t: x[:, :1], jnp.zeros((2, 3)))
    bpd = get_bpd_fn(VPSDE())
    with pytest.raises(ValueError, match="images.dtype"):
        bpd(jax.random.PRNGKey(0), gm.score_fn(VPSDE()), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_bits"):
        get_bpd_fn(VPSDE(), n_bits=0)


# ----- bits per dimension -------------------------------------------------------------------------
def test_dequantize_stays_in_its_bin():
    images = jax.random.randint(jax.random.PRNGKey(8), (64, 2, 3), 0, 32)
    x01 = dequantize(jax.random.PRNGKey(9), images, n_bits=5, centered=False)
    np.testing.assert_array_equal(jnp.floor(x01 * 32), images)
    x = dequantize(jax.random.PRNGKey(9), images, n_bits=5, centered=True)
    np.testing.assert_allclose(x, 2 * x01 - 1, atol=1e-6)
    # u ~ U[0, 1): mean 1/2 with standard error sqrt(1/12 / 384) ~ 0.015.
    assert abs(float(jnp.mean(x01 * 32 - images)) - 0.5) < 0.06


def image_model(centered):
    """A Gaussian density on 2x2 one-channel images: N(mu, C) in [-1, 1] coordinates, or the
    same distribution mapped to [0, 1] (mean (mu + 1) / 2, covariance C / 4)."""
    cov = jnp.array(
        [[0.05, 0.02, 0.01, 0.0], [0.02, 0.04, 0.0, 0.01], [0.01, 0.0, 0.06, 0.02], [0.0, 0.01, 0.02, 0.05]]
    )
    mean = jnp.array([0.1, -0.2, 0.3, 0.0])
    if not centered:
        mean, cov = (mean + 1) / 2, cov / 4
    return GaussianMixture(jnp.ones((1,)), mean[None], cov[None])


def test_bits_per_dim_closed_form_and_data_scaling():
    """bits/dim of integer images against the closed form, for a model on [-1, 1] and for the
    same distribution modelled on [0, 1]: the two must agree (the scaling's Jacobian is 1 bit/dim).
    (Eight 4-pixel images: compiling is the time, so most XLA optimisations are off.)"""
    sde, key, n_bits = VPSDE(), jax.random.PRNGKey(11), 8
    x01 = (image_model(True).sample(jax.random.PRNGKey(10), 8) + 1) / 2
    images = jnp.clip(jnp.floor(x01 * 2**n_bits), 0, 2**n_bits - 1).astype(jnp.uint8).reshape(8, 2, 2)
    bpds = []
    for centered in (True, False):
        gm = image_model(centered)
        score = gm.score_fn(sde)
        score_images = lambda x, t: score(x.reshape(-1, 4), t).reshape(x.shape)  # noqa: E731
        bpd_fn = get_bpd_fn(sde, centered=centered, n_bits=n_bits, trace="exact", eps=EPS)
        bpd, nfe = jax.jit(lambda k, im: bpd_fn(k, score_images, im))(key, images)
        assert nfe.shape == (8,) and bpd.shape == (8,)
        # The same dequantized x (first half of the split key), and its bits/dim in closed form:
        # -log2 p(y) / D for y = 2^n x01, with p(x01) = p(x) s^D for x = s x01 (+ shift).
        x = dequantize(jax.random.split(key)[0], images, n_bits=n_bits, centered=centered).reshape(8, 4)
        logp_x = gm.log_prob(x, sde, jnp.full((8,), EPS))
        scale = 2.0 if centered else 1.0
        expected = -(logp_x + 4 * math.log(scale) - 4 * n_bits * math.log(2)) / (4 * math.log(2))
        # 0.01 nats per dim of likelihood error is 0.0144 bits per dim. (Measured: ~2e-3, the
        # prior's mismatch alpha(T) mu . z with alpha(T) = 6.6e-3 for the VP SDE.)
        np.testing.assert_allclose(bpd, expected, atol=0.0144)
        np.testing.assert_allclose(bits_per_dim(logp_x, 4, centered=centered, n_bits=n_bits), expected, rtol=1e-6)
        bpds.append(bpd)
    # A wrong or missing log-scale term would be off by 1 bit/dim; the two models differ only by
    # the unscaled sigma(eps)^2 ~ 1e-6 and by their prior mismatch (~2e-3 bits/dim).
    np.testing.assert_allclose(bpds[0], bpds[1], atol=0.01)
