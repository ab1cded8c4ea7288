"""Predictor--corrector sampling with the exact score reproduces the data distribution."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
from conftest import assert_matches_gaussian, assert_matches_mixture, gaussian_data, make_sde, mixture_data

PAIRS = list(itertools.product(["euler_maruyama", "reverse_diffusion", "ancestral_sampling"], ["langevin", "ald", "none"]))


def _sample(sde, gm, n, key=0, **options):
    sample_fn = samplers.get_sampler(sde, (n, 2), "pc", **options)
    return jax.jit(lambda k: sample_fn(k, gm.score_fn(sde)))(jax.random.PRNGKey(key))


@pytest.mark.parametrize("predictor, corrector", PAIRS)
def test_pc_reproduces_gaussian(sde_name, predictor, corrector):
    if predictor == "ancestral_sampling" and sde_name == "subvp":
        pytest.skip("sub-VP has no ancestral step (tested in test_ancestral_subvp_is_an_error)")
    gm = gaussian_data()
    x, nfe = _sample(make_sde(sde_name, N=100), gm, 2000, predictor=predictor, corrector=corrector)
    # n = 2000: the standard errors are ~0.02 on the mean and ~0.03 on the covariance entries;
    # the rest of the tolerance covers the O(1/N) bias of N = 100 levels.
    assert_matches_gaussian(x, gm, mean_tol=0.1, cov_tol=0.15)
    assert int(nfe) == 100 * (1 + (corrector != "none")) + 1


@pytest.mark.parametrize("predictor", ["euler_maruyama", "reverse_diffusion", "ancestral_sampling"])
def test_pc_reproduces_mixture(sde_name, predictor):
    if predictor == "ancestral_sampling" and sde_name == "subvp":
        pytest.skip("sub-VP has no ancestral step")
    gm = mixture_data()
    x, _ = _sample(make_sde(sde_name, N=100), gm, 2000, predictor=predictor, corrector="langevin")
    # Mode weights: standard error <= 0.011 at n = 2000; allow ~4.5 of them.
    assert_matches_mixture(x, gm, weight_tol=0.05, mean_tol=0.1)


def test_samples_do_not_depend_on_the_batch():
    """Per-sample keys: sample b is the same whether drawn in a batch of 8 or of 3."""
    sde, gm = make_sde("vp", N=20), gaussian_data()
    big, _ = _sample(sde, gm, 8, key=5, predictor="euler_maruyama", corrector="none")
    small, _ = _sample(sde, gm, 3, key=5, predictor="euler_maruyama", corrector="none")
    np.testing.assert_allclose(big[:3], small, rtol=1e-5, atol=1e-6)
    assert not np.allclose(big[3], big[4])


def test_x_init_is_used_and_checked():
    sde, gm = make_sde("ve", N=20), gaussian_data()
    sample_fn = samplers.get_sampler(sde, (4, 2), "pc", corrector="none")
    run = jax.jit(lambda key, x_init: sample_fn(key, gm.score_fn(sde), x_init)[0])
    x_init = sde.prior_sampling(jax.random.PRNGKey(0), (4, 2))
    assert not np.allclose(run(jax.random.PRNGKey(1), x_init), run(jax.random.PRNGKey(1), x_init + 1.0))
    with pytest.raises(ValueError, match="x_init"):
        run(jax.random.PRNGKey(1), jnp.zeros((3, 2)))


def test_ancestral_subvp_is_an_error():
    with pytest.raises(ValueError, match="ancestral"):
        samplers.get_sampler(make_sde("subvp"), (4, 2), "pc", predictor="ancestral_sampling")


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(predictor="heun"), "predictor"),
        (dict(corrector="hmc"), "corrector"),
        (dict(snr=0.0), "snr"),
        (dict(corrector_steps=0), "corrector_steps=0"),
        (dict(corrector_steps=True), "corrector_steps=True"),
        (dict(eps=1.5), "eps"),
        (dict(predictor="none", corrector="none"), "both"),
        (dict(step_size=0.1), "unknown option"),
    ],
)
def test_bad_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        samplers.get_sampler(make_sde("vp"), (4, 2), "pc", **options)


def test_bad_method_and_shape():
    with pytest.raises(ValueError, match="method"):
        samplers.get_sampler(make_sde("vp"), (4, 2), "rk4")
    with pytest.raises(ValueError, match="shape"):
        samplers.get_sampler(make_sde("vp"), (4,), "pc")


def test_score_fn_of_wrong_shape_is_named():
    sde = make_sde("vp", N=5)
    sample_fn = samplers.get_sampler(sde, (4, 2), "pc")
    with pytest.raises(ValueError, match="score_fn"):
        sample_fn(jax.random.PRNGKey(0), lambda x, t: x[:, :1])
