"""API misuse raises a ValueError naming the argument and what was expected, at trace time (issue 7).

Each call is traced with `jax.eval_shape` (or `jax.jit` lowering), so the error is shown to come
before anything is compiled or computed; a score function that counts its calls shows that the
check comes before the first score evaluation. Each bad call is paired with the same call made
right, so a test fails if the check goes away or rejects good input.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import samplers
from sde_lib import VESDE, VPSDE, GaussianMixture, subVPSDE

SHAPE = (4, 2)
GM = GaussianMixture.isotropic([[1.0, 0.0], [-1.0, 0.5]], 0.3)
SDES = {"vp": VPSDE(N=8), "subvp": subVPSDE(N=8), "ve": VESDE(sigma_max=5.0, N=8)}
# Every method in METHODS, with small options so that tracing a whole sampler stays cheap (a new
# fixed-step method gets a budget of 4 steps).
SMALL = {"pc": dict(predictor="euler_maruyama", corrector="none"), "ode": dict(rtol=1e-3, atol=1e-3),
         "dpm_solver": dict(nfe=6), "edm_heun": dict(nfe=5), "edm_stochastic": dict(nfe=5),
         "adaptive_sde": dict(max_steps=20)}
OPTIONS = {m: SMALL.get(m, dict(nfe=4 * entry.nfe_per_step) if entry.fixed_step else {})
           for m, entry in samplers.METHODS.items()}


class CountingScore:
    """The exact mixture score that counts how often it is traced (called)."""

    def __init__(self, sde, out=lambda s: s):
        self.score, self.out, self.calls = GM.score_fn(sde), out, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.out(self.score(x, t))


@pytest.mark.parametrize("method", sorted(OPTIONS))
def test_no_recompilation_on_second_call(method):
    """A jitted sampler called again with another key and another x_init of the same shape is not
    traced again: the score function, which counts its calls (traces), is not called again."""
    sde = SDES["vp"]
    sample_fn = samplers.get_sampler(sde, SHAPE, method, **OPTIONS[method])
    score = CountingScore(sde)
    run = jax.jit(lambda key, x_init: sample_fn(key, score, x_init))
    first, _ = run(jax.random.PRNGKey(0), jnp.zeros(SHAPE))
    traced = score.calls
    second, _ = run(jax.random.PRNGKey(1), 0.5 * jnp.ones(SHAPE))
    assert traced >= 1 and score.calls == traced, f"{method} was traced again"
    assert not np.allclose(first, second)


@pytest.mark.parametrize("method", sorted(OPTIONS))
def test_sampler_arguments_are_checked_at_trace_time(method):
    sde = SDES["vp"]
    sample_fn = samplers.get_sampler(sde, SHAPE, method, **OPTIONS[method])
    key, x_good = jax.random.PRNGKey(0), jnp.ones(SHAPE)
    trace = lambda *args: jax.eval_shape(lambda: sample_fn(*args))  # noqa: E731

    cases = [  # (arguments, message, score)
        ((key, CountingScore(sde), jnp.ones(SHAPE[1:])), r"x_init must have shape \(batch, \*data_shape\) = "
         r"\(4, 2\), got x_init.shape=\(2,\) \(no batch axis"),
        ((key, CountingScore(sde), jnp.ones((4, 3))), r"x_init must have shape .* got x_init.shape=\(4, 3\)"),
        ((key, CountingScore(sde), jnp.ones(SHAPE, jnp.int32)),
         "x_init must have a floating dtype, got x_init.dtype=int32"),
        ((key, CountingScore(sde), [[0.0, 0.0]] * 4), "x_init must be an array of shape"),
        ((jnp.zeros(3, jnp.uint32), CountingScore(sde), None), r"key must be one PRNG key.*shape=\(3,\)"),
        ((jax.random.split(key, 4), CountingScore(sde), None), r"key must be one PRNG key.*shape=\(4, 2\)"),
        ((key, CountingScore(sde, lambda s: s[:, :1]), x_good), r"score_fn must return an array of shape \(4, 2\)"
         r" \(that of x\), got \(4, 1\)"),
        ((key, CountingScore(sde, lambda s: s[0]), x_good), r"score_fn must return an array of shape \(4, 2\)"),
        ((key, CountingScore(sde, lambda s: s.astype(jnp.int32)), x_good), "score_fn must return a floating array"),
    ]
    for (k, score, x_init), message in cases:
        with pytest.raises(ValueError, match=message):
            trace(k, score, x_init)
        if "score_fn" not in message:
            assert score.calls == 0, "checked only after the score was evaluated"
    with pytest.raises(ValueError, match="score_fn must be callable"):
        trace(key, GM, x_good)
    good = CountingScore(sde)
    samples, _ = trace(jax.random.key(0), good, x_good)  # typed keys and good arguments pass
    assert samples.shape == SHAPE and good.calls >= 1


@pytest.mark.parametrize("method", sorted(OPTIONS))
def test_sampler_end_time_outside_0_T(method):
    for eps in (0.0, -0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match=rf"eps must lie in \(0, T=1.0\), got eps={eps}"):
            samplers.get_sampler(SDES["vp"], SHAPE, method, eps=eps, **OPTIONS[method])
    samplers.get_sampler(SDES["vp"], SHAPE, method, eps=1e-3, **OPTIONS[method])


def test_sampler_shape_needs_a_batch_axis():
    for shape in [(2,), (0, 2), (4, 2.0)]:
        with pytest.raises(ValueError, match=r"shape must be \(batch, \*data_shape\)"):
            samplers.get_sampler(SDES["vp"], shape, "pc")


@pytest.mark.parametrize("name", sorted(SDES))
def test_sde_methods_check_x_and_t(name):
    sde = SDES[name]
    rsde = sde.reverse(GM.score_fn(sde))
    x, t = jnp.ones(SHAPE), jnp.full((4,), 0.5)
    methods = {"marginal_prob": sde.marginal_prob, "reverse.sde": rsde.sde, "reverse.discretize": rsde.discretize}
    bad = [
        ((jnp.ones(2), jnp.full((1,), 0.5)), r"t must have shape \[B\] = \(2,\) .* got t.shape=\(1,\); a single "
         r"example x needs a batch axis: x\[None\]"),
        ((jnp.float32(1.0), jnp.float32(0.5)), r"x must be a batch \[B, ...\], got x.shape=\(\)"),
        ((x, jnp.full((4, 1), 0.5)), r"t must have shape \[B\] = \(4,\) .* got t.shape=\(4, 1\)"),
        ((x, jnp.float32(0.5)), r"t must have shape \[B\] = \(4,\) .* got t.shape=\(\)"),
        ((x, jnp.ones(4, jnp.int32)), "t must have a floating dtype, got t.dtype=int32"),
        ((jnp.ones(SHAPE, jnp.int32), t), "x must have a floating dtype, got x.dtype=int32"),
    ]
    for label, fn in methods.items():
        for args, message in bad:
            with pytest.raises(ValueError, match=message):
                jax.jit(fn).lower(*args)  # raised while tracing: nothing is compiled
        for t_bad in (-0.1, 1.5):  # concrete times are range-checked
            with pytest.raises(ValueError, match=r"t must lie in \[0, T=1.0\]"):
                fn(x, jnp.full((4,), t_bad))
        out = fn(x, t)  # the right call works, eagerly and under jit
        np.testing.assert_allclose(jax.jit(fn)(x, t)[0], out[0], rtol=1e-6, err_msg=label)


def test_likelihood_and_score_network_name_their_arguments():
    sde = SDES["vp"]
    likelihood_fn = samplers.get_likelihood_fn(sde, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match=r"x must be batched, \[B, ...\], got x.shape=\(2,\)"):
        jax.eval_shape(lambda: likelihood_fn(jax.random.PRNGKey(0), GM.score_fn(sde), jnp.ones(2)))
    with pytest.raises(ValueError, match=r"score_fn must return an array of shape \(4, 2\)"):
        jax.eval_shape(lambda: likelihood_fn(jax.random.PRNGKey(0), lambda x, t: x[:, :1], jnp.ones(SHAPE)))
    model = models.get_model("mlp", width=8, num_blocks=1, nf=8)
    params = jax.eval_shape(lambda: models.init_params(model, jax.random.PRNGKey(0), SHAPE))
    score_fn = models.get_score_fn(sde, model)
    with pytest.raises(ValueError, match=r"x must be \[B, D\], got x.shape=\(2,\)"):
        jax.eval_shape(score_fn, params, jnp.ones(2), jnp.full((1,), 0.5))
    with pytest.raises(ValueError, match=r"labels must have shape \[B\] = \(4,\), got labels.shape=\(1,\)"):
        jax.eval_shape(score_fn, params, jnp.ones(SHAPE), jnp.full((1,), 0.5))
    assert jax.eval_shape(score_fn, params, jnp.ones(SHAPE), jnp.full((4,), 0.5)).shape == SHAPE
