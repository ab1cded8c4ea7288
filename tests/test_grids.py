"""Explicit time grids and `calibrate_grid`: a fixed-step sampler given the times of a named grid
is that sampler; a fitted grid lowers the error against the converged probability-flow ODE on
noise it was not fitted to."""

import jax
import numpy as np
import pytest

from conftest import make_sde
from samplers import calibrate_grid, get_sampler, grids
from samplers.registry import METHODS, names
from test_fast_samplers import MIX, prior_draw, reference, rel_err, run

# Every method on a grid (from METHODS); options where the defaults do not suit (a new method gets
# four steps' worth of evaluations).
OVERRIDES = {"ddim": dict(nfe=5), "dpm_solver": dict(nfe=7), "dpmpp_2m": dict(nfe=5), "dpmpp_3m": dict(nfe=6),
             "unipc": dict(nfe=6), "edm_heun": dict(nfe=8), "edm_stochastic": dict(nfe=8, s_churn=2.0)}
OPTIONS = {m: OVERRIDES.get(m, dict(nfe=4 * METHODS[m].nfe_per_step)) for m in names(takes_grid=True)}


@pytest.mark.parametrize("method", sorted(OPTIONS))
def test_explicit_grid_of_a_named_grid_is_that_grid(x64, method):
    sde = make_sde("subvp")
    options = OPTIONS[method]
    sample_fn = get_sampler(sde, (5, 2), method, grid="karras", **options)
    ts = grids.timesteps(sde, sample_fn.n_steps, grid="karras", eps=sde.sampling_eps)
    named, _ = run(sde, MIX.score_fn(sde), (5, 2), method, key=2, grid="karras", **options)
    explicit, _ = run(sde, MIX.score_fn(sde), (5, 2), method, key=2, grid=np.asarray(ts), **options)
    np.testing.assert_allclose(explicit, named, rtol=1e-10, atol=1e-10)


def test_bad_explicit_grids_raise_naming_the_grid():
    sde = make_sde("vp")
    good = np.asarray(grids.timesteps(sde, 4, grid="logsnr", eps=sde.sampling_eps))
    get_sampler(sde, (2, 2), "unipc", nfe=4, grid=good)
    cases = [
        (good[:-1], r"1-D array of 5 times \(this sampler takes 4 steps\), got grid.shape=\(4,\)"),
        (good[None], r"got grid.shape=\(1, 5\)"),
        (good[[0, 2, 1, 3, 4]], "strictly decreasing"),
        (np.where(good == good[2], np.nan, good), "finite"),
        (np.concatenate([[0.9], good[1:]]), r"start at T=1.0, got grid\[0\]=0.9"),
        (np.concatenate([good[:-1], [0.01]]), r"end at the sampler's eps=0.001, got grid\[-1\]=0.01"),
        ("cosine", "unknown grid 'cosine'"),
        ({"a": 1}, "grid must be one of"),
    ]
    for grid, match in cases:
        with pytest.raises(ValueError, match=match):
            get_sampler(sde, (2, 2), "unipc", nfe=4, grid=grid)


def test_calibrated_grid_lowers_the_error_on_fresh_noise():
    """UniPC-3 with 6 NFE on a 2-D mixture (VP): the grid fitted on 64 pilot trajectories cuts the
    error on 256 other trajectories, against the float64 Dopri8 solution, by more than 2x
    (measured: 3.5e-1 -> 1.2e-1; on the pilot batch 3.4e-1 -> 2.2e-2)."""
    sde = make_sde("vp")
    score = MIX.score_fn(sde)
    fit = calibrate_grid(sde, (64, 2), "unipc", score, key=jax.random.PRNGKey(11), n_iters=60, nfe=6, progress=False)
    ts = fit.grid
    assert ts.shape == (7,) and ts[0] == sde.T and ts[-1] == pytest.approx(sde.sampling_eps, rel=1e-6)
    assert np.all(np.diff(ts) < 0)
    assert fit.final_error < fit.initial_error / 3 and fit.errors.shape == (60,)
    x_init = prior_draw("vp", 256, seed=3)
    ref = reference("vp", "mix", 256, seed=3)
    before = rel_err(run(sde, score, x_init.shape, "unipc", x_init=x_init, nfe=6)[0], ref)
    after = rel_err(run(sde, score, x_init.shape, "unipc", x_init=x_init, nfe=6, grid=ts)[0], ref)
    assert after < before / 2, (before, after)


@pytest.mark.parametrize("method", [m for m in names(calibratable=True) if m != "unipc"])
def test_calibration_runs_through_every_deterministic_method(method):
    """Gradients reach the grid through every parameterisation (lambda, sigma_EDM): a few
    iterations already lower the pilot error. (A 16 x 2 pilot: compiling the solver and its
    gradient is the time, so most XLA optimisations are off.)"""
    sde = make_sde("ve")
    fit = calibrate_grid(sde, (16, 2), method, MIX.score_fn(sde), key=jax.random.PRNGKey(0), n_iters=12,
                         progress=False, **OPTIONS[method])
    assert np.all(np.isfinite(fit.errors)) and fit.final_error < 0.9 * fit.initial_error, fit.errors


def test_calibrate_grid_checks_its_arguments():
    sde = make_sde("vp")
    score = MIX.score_fn(sde)
    key = jax.random.PRNGKey(0)
    for kwargs, match in [
        (dict(method="pc"), "deterministic fixed-step method, got method='pc'"),
        (dict(method="edm_stochastic"), "method='edm_stochastic'"),
        (dict(method="unipc", grid="karras"), "pass the starting grid as init="),
        (dict(method="unipc", n_iters=0), "n_iters=0"),
        (dict(method="unipc", learning_rate=-1.0), "learning_rate=-1.0"),
        (dict(method="unipc", init="cosine"), "unknown grid 'cosine'"),
    ]:
        method = kwargs.pop("method")
        with pytest.raises(ValueError, match=match):
            calibrate_grid(sde, (4, 2), method, score, key=key, progress=False, **kwargs)
