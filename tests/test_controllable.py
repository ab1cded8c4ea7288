"""Inpainting, colorization and class-conditional PC sampling against exact Gaussian conditionals.

With Gaussian data and the exact score, the sought distributions are Gaussian and known in
closed form (Schur complements). Samples are compared by their mean and covariance, with
tolerances of 5 Monte-Carlo standard errors plus a stated allowance for the sampler's bias.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import io_callback

from samplers import (
    get_classifier_grad_fn,
    get_colorization_sampler,
    get_conditional_sampler,
    get_inpaint_sampler,
)
from samplers.controllable import COLOR_BASIS, couple_colors, decouple_colors, to_grayscale
from sde_lib import VESDE, VPSDE, GaussianMixture, subVPSDE

N_SAMPLES = 4000


def gaussian_components(means, covs, sde):
    """Exact log-densities [B, K] and scores [B, K, D] of the components of p_t for data
    sum_k w_k N(means[k], covs[k]), from eigendecompositions of the covs computed once:
    (alpha^2 C + sigma^2 I)^-1 = U diag(1 / (alpha^2 lam + sigma^2)) U^T.

    `GaussianMixture.score_fn` gives the same numbers (checked below) but factorises a matrix
    per sample and step; such batched LAPACK calls inside the sampling loop have deadlocked XLA's
    CPU runtime on a 2-core machine (its concurrency-optimised scheduler), so they stay out."""
    lam, vecs = np.linalg.eigh(np.asarray(covs))  # [K, D], [K, D, D]
    means, lam, vecs = jnp.asarray(means), jnp.asarray(lam), jnp.asarray(vecs)

    def fn(x, t):
        a, s = sde.alpha(t)[:, None, None], sde.sigma(t)[:, None, None]
        var = a**2 * lam + s**2  # [B, K, D], the eigenvalues of alpha^2 C_k + sigma^2 I
        r = jnp.einsum("bkd,kde->bke", x[:, None, :] - a * means, vecs)  # in each eigenbasis
        logp = -0.5 * jnp.sum(r**2 / var + jnp.log(2 * math.pi * var), axis=-1)
        return logp, jnp.einsum("bke,kde->bkd", -r / var, vecs)

    return fn


def mixture_fns(gm, sde):
    """(score_fn, logits_fn) of p_t for the mixture gm: the exact score and log p_t(k | x) + const."""
    components = gaussian_components(gm.means, gm.covs, sde)

    def logits_fn(x, t):
        return jnp.log(gm.weights) + components(x, t)[0]

    def score_fn(x, t):
        logp, scores = components(x, t)
        return jnp.einsum("bk,bkd->bd", jax.nn.softmax(jnp.log(gm.weights) + logp, -1), scores)

    return score_fn, logits_fn


def make_sde(name, n):
    if name == "ve":
        return VESDE(sigma_min=0.01, sigma_max=20.0, N=n)
    return {"vp": VPSDE, "subvp": subVPSDE}[name](N=n)


def conditional_gaussian(mean, cov, obs, value):
    """N(mean, cov) conditioned on obs @ x = value: the exact mean and (singular) covariance."""
    gain = cov @ obs.T @ jnp.linalg.inv(obs @ cov @ obs.T)
    return mean + gain @ (value - obs @ mean), cov - gain @ obs @ cov


def assert_gaussian_moments(x, mean, cov, bias):
    """Sample mean and covariance of x [n, d] against N(mean, cov): each entry within 5 of its
    Monte-Carlo standard errors (sqrt(C_ii / n) for the mean, sqrt((C_ii C_jj + C_ij^2) / n) for
    the covariance) plus `bias`, the allowance for the sampler's own (discretisation) error."""
    n = x.shape[0]
    var = jnp.diag(cov)
    mean_se = jnp.sqrt(var / n)
    cov_se = jnp.sqrt((var[:, None] * var[None, :] + cov**2) / n)
    mean_err = jnp.abs(jnp.mean(x, 0) - mean)
    cov_err = jnp.abs(jnp.cov(x.T) - cov)
    assert jnp.all(mean_err < 5 * mean_se + bias), f"mean error {mean_err} vs 5 SE {5 * mean_se}"
    assert jnp.all(cov_err < 5 * cov_se + bias), f"covariance error {cov_err} vs 5 SE {5 * cov_se}"


# ----- inpainting ---------------------------------------------------------------------------------
INPAINT_COV = jnp.array(
    [[1.0, 0.6, 0.3, 0.1], [0.6, 1.0, 0.5, 0.2], [0.3, 0.5, 1.0, 0.4], [0.1, 0.2, 0.4, 0.8]]
)
INPAINT_MEAN = jnp.array([0.5, -0.5, 0.2, 0.0])


@pytest.mark.parametrize("sde_name", ["vp", "ve", pytest.param("subvp", marks=pytest.mark.slow)])
def test_inpainting_samples_the_exact_conditional(sde_name):
    """2x2 'images' from N(mu, C); pixels (0, 0) and (1, 0) known, the other two sampled."""
    sde = make_sde(sde_name, 200)
    gm = GaussianMixture(jnp.ones((1,)), INPAINT_MEAN[None], INPAINT_COV[None])
    score, _ = mixture_fns(gm, sde)
    score_images = lambda x, t: score(x.reshape(-1, 4), t).reshape(x.shape)  # noqa: E731
    mask = jnp.array([[1.0, 0.0], [1.0, 0.0]])  # broadcasts over the batch
    known_values = jnp.array([1.0, -0.5])  # x[0] and x[2] in flat order
    data = jnp.zeros((N_SAMPLES, 2, 2)).at[:, :, 0].set(known_values)
    data = data.at[:, :, 1].set(jnp.nan)  # unknown values are ignored
    fn = get_inpaint_sampler(sde, (N_SAMPLES, 2, 2))
    samples, nfe = jax.jit(lambda k, d: fn(k, score_images, d, mask))(jax.random.PRNGKey(0), data)
    assert nfe == 2 * 200 + 1
    np.testing.assert_array_equal(samples[:, :, 0], data[:, :, 0])  # the known pixels, exactly
    obs = jnp.eye(4)[jnp.array([0, 2])]
    mean, cov = conditional_gaussian(INPAINT_MEAN, INPAINT_COV, obs, known_values)
    unknown = jnp.array([1, 3])
    # Bias allowance: measured at N = 200 with 40 000 samples, the errors are <= 0.033 (VP),
    # 0.026 (sub-VP), 0.024 (VE). Replacing the known pixels is an approximation of the conditional
    # reverse SDE (App. I.2) that more levels correct (mean errors <= 0.002 at N = 1000); the
    # variances keep ~0.017 (~snr^2 relative), the Langevin corrector's step-size bias.
    assert_gaussian_moments(samples.reshape(-1, 4)[:, unknown], mean[unknown], cov[unknown][:, unknown], bias=0.04)


def test_final_denoising_cleans_the_unknown_region():
    """With independent coordinates the unknown region's denoised value is Tweedie's formula,
    E[x_0 | x_eps] = (x + sigma^2 score) / alpha, applied to the un-denoised sample (same key)."""
    sde, eps = VESDE(sigma_min=0.01, sigma_max=20.0, N=20), 0.3  # sigma(eps) ~ 0.2: visible
    mean, var = jnp.array([0.5, -1.0, 2.0]), jnp.array([0.3, 0.5, 0.2])

    def score(x, t):
        a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
        return -(x - a * mean) / (a**2 * var + s**2)

    data, mask = jnp.full((8, 3), 0.7), jnp.array([0.0, 1.0, 0.0])
    out = {}
    for denoise in (True, False):
        fn = get_inpaint_sampler(sde, (8, 3), denoise=denoise, eps=eps)
        out[denoise], _ = fn(jax.random.PRNGKey(6), score, data, mask)
    t = jnp.full((8,), eps)
    a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
    tweedie = (out[False] + s**2 * score(out[False], t)) / a
    np.testing.assert_allclose(out[True][:, [0, 2]], tweedie[:, [0, 2]], rtol=1e-5, atol=1e-5)
    assert jnp.max(jnp.abs(out[True] - out[False])) > 0.01  # the step did something
    for x in out.values():
        np.testing.assert_array_equal(x[:, 1], data[:, 1])


# ----- colorization -------------------------------------------------------------------------------
def color_data():
    """2 pixels x 3 channels, channels strongly correlated with each other and across pixels."""
    channel_cov = jnp.array([[1.0, 0.7, 0.4], [0.7, 1.0, 0.6], [0.4, 0.6, 1.0]])
    pixel_cov = jnp.array([[1.0, 0.5], [0.5, 1.0]])
    cov = 0.3 * jnp.kron(pixel_cov, channel_cov) + 0.05 * jnp.eye(6)
    mean = jnp.array([0.3, 0.0, -0.3, 0.2, 0.1, -0.1])
    return mean, cov


def test_color_basis_is_orthonormal_and_isolates_gray():
    np.testing.assert_allclose(COLOR_BASIS.T @ COLOR_BASIS, np.eye(3), atol=1e-6)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 2, 3))
    np.testing.assert_allclose(couple_colors(decouple_colors(x)), x, atol=1e-5)
    np.testing.assert_allclose(decouple_colors(x)[..., :1], math.sqrt(3) * to_grayscale(x), atol=1e-5)


@pytest.mark.parametrize("sde_name", ["vp", "ve"])
def test_colorization_samples_the_exact_conditional(sde_name):
    sde = make_sde(sde_name, 200)
    mean, cov = color_data()
    score, _ = mixture_fns(GaussianMixture(jnp.ones((1,)), mean[None], cov[None]), sde)
    score_images = lambda x, t: score(x.reshape(-1, 6), t).reshape(x.shape)  # noqa: E731
    gray_values = jnp.array([0.4, -0.3])
    gray = jnp.broadcast_to(gray_values[:, None], (N_SAMPLES, 2, 1))
    fn = get_colorization_sampler(sde, (N_SAMPLES, 2, 3))
    samples, _ = jax.jit(lambda k, g: fn(k, score_images, g))(jax.random.PRNGKey(2), gray)
    np.testing.assert_allclose(to_grayscale(samples), gray, atol=1e-5)  # the grey level, exactly
    obs = jnp.kron(jnp.eye(2), jnp.full((1, 3), 1.0 / 3.0))  # per-pixel channel mean
    c_mean, c_cov = conditional_gaussian(mean, cov, obs, gray_values)
    # Bias allowance: errors measured at N = 200 with 40 000 samples are <= 0.004.
    assert_gaussian_moments(samples.reshape(-1, 6), c_mean, c_cov, bias=0.01)


# ----- class-conditional sampling -----------------------------------------------------------------
def two_classes():
    means = jnp.array([[-1.0, 0.0], [1.0, 0.5]])
    covs = jnp.array([[[0.5, 0.2], [0.2, 0.4]], [[0.3, -0.1], [-0.1, 0.6]]])
    return GaussianMixture(jnp.array([0.6, 0.4]), means, covs)


def component(gm, k):
    return GaussianMixture(jnp.ones((1,)), gm.means[k : k + 1], gm.covs[k : k + 1])


@pytest.mark.parametrize("sde_name", ["vp", "ve"])
def test_exact_scores_and_classifier_grad(sde_name):
    """The test's scores and logits agree with `GaussianMixture`, and the classifier gradient from
    the posterior's logits is grad log p_t(x | y) - grad log p_t(x) (per-class scores)."""
    sde, gm = make_sde(sde_name, 100), two_classes()
    x = 2 * jax.random.normal(jax.random.PRNGKey(3), (6, 2))
    t = jnp.array([1e-3, 0.1, 0.3, 0.5, 0.8, 1.0])
    labels = jnp.array([0, 1, 0, 1, 0, 1])
    score_fn, logits_fn = mixture_fns(gm, sde)
    np.testing.assert_allclose(score_fn(x, t), gm.score_fn(sde)(x, t), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(jax.nn.softmax(logits_fn(x, t)), gm.responsibilities(x, sde, t), atol=1e-5)
    grad = get_classifier_grad_fn(logits_fn)(x, t, labels)
    per_class = jnp.stack([component(gm, k).score_fn(sde)(x, t) for k in range(2)], 1)
    expected = per_class[jnp.arange(6), labels] - gm.score_fn(sde)(x, t)
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("sde_name", ["vp", "ve"])
def test_conditional_sampling_samples_the_asked_class(sde_name):
    sde, gm = make_sde(sde_name, 200), two_classes()
    score_fn, logits_fn = mixture_fns(gm, sde)
    labels = jnp.arange(N_SAMPLES) % 2
    fn = get_conditional_sampler(sde, (N_SAMPLES, 2))
    samples, nfe = jax.jit(lambda k, y: fn(k, score_fn, get_classifier_grad_fn(logits_fn), y))(
        jax.random.PRNGKey(4), labels
    )
    assert nfe == 2 * 200 + 1
    # Bias allowance: errors measured at N = 200 with 40 000 samples are <= 0.018, on the
    # variances (the Langevin corrector's step-size bias, ~snr^2 relative).
    for k in range(2):
        assert_gaussian_moments(samples[labels == k], gm.means[k], gm.covs[k], bias=0.025)


# ----- NFE and argument checks --------------------------------------------------------------------
def test_inpainting_nfe_counts_real_calls():
    sde, calls, traces = VPSDE(N=5), [], []

    def score(x, t):
        traces.append(1)  # at trace time
        io_callback(lambda: calls.append(1), None, ordered=False)
        return -x

    fn = get_inpaint_sampler(sde, (3, 2), corrector_steps=2)
    run = jax.jit(lambda k, d: fn(k, score, d, jnp.array([1.0, 0.0])))
    _, nfe = run(jax.random.PRNGKey(5), jnp.zeros((3, 2)))
    jax.effects_barrier()
    assert nfe == len(calls) == 5 * 3 + 1
    traced = len(traces)
    run(jax.random.PRNGKey(6), jnp.ones((3, 2)))  # new key and data: not traced again
    assert len(traces) == traced


def test_bad_arguments_raise():
    sde, key, score = VPSDE(N=5), jax.random.PRNGKey(0), lambda x, t: -x
    with pytest.raises(ValueError, match="predictor"):
        get_inpaint_sampler(sde, (2, 3), predictor="heun")
    with pytest.raises(ValueError, match="snr"):
        get_colorization_sampler(sde, (2, 3), snr=0.0)
    with pytest.raises(ValueError, match="eps"):
        get_conditional_sampler(sde, (2, 3), eps=2.0)
    with pytest.raises(ValueError, match="shape"):
        get_colorization_sampler(sde, (2, 4, 4))
    inpaint = get_inpaint_sampler(sde, (2, 3))
    with pytest.raises(ValueError, match="data.shape"):
        inpaint(key, score, jnp.zeros((2, 4)), jnp.ones(3))
    with pytest.raises(ValueError, match="mask.shape"):
        inpaint(key, score, jnp.zeros((2, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match="gray.shape"):
        get_colorization_sampler(sde, (2, 4, 3))(key, score, jnp.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="labels.shape"):
        get_conditional_sampler(sde, (2, 3))(key, score, lambda x, t, y: 0 * x, jnp.zeros((3,), int))
