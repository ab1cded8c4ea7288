"""The learned solver (samplers/learned.py): with zero corrections it is UniPC / DPM-Solver++; any
corrections keep it consistent (exact when the data prediction is constant); a fit lowers the error
on noise it was not fitted to; files round-trip; bad files and options raise named errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import make_sde
from samplers import fit_learned_solver, get_sampler, learned, load_learned_solver, save_learned_solver
from test_fast_samplers import MIX, prior_draw, reference, rel_err, run

# (UniPC-3 bh2, the default, on an explicit grid below.)
BASES = [("unipc", "unipc", {"order": 2}), ("unipc", "unipc", {"order": 3, "variant": "bh1"}),
         ("dpmpp", "dpmpp_2m", {"order": 2}), ("dpmpp", "dpmpp_3m", {"order": 3, "lower_order_final": False}),
         ("unipc", "unipc", {"order": 2, "lower_order_final": False, "denoise": True})]


@pytest.mark.parametrize("base,method,options", BASES)
def test_zero_correction_is_the_base_solver(x64, base, method, options):
    sde = make_sde("vp")
    score = MIX.score_fn(sde)
    x_init = prior_draw("vp", 16, seed=5)
    base_opts = {k: v for k, v in options.items() if not (method.startswith("dpmpp") and k == "order")}
    want, nfe_want = run(sde, score, (16, 2), method, x_init=x_init, nfe=7, **base_opts)
    got, nfe = run(sde, score, (16, 2), "learned", x_init=x_init, nfe=7, base=base, **options)
    assert int(nfe) == int(nfe_want) == 7
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_zero_correction_on_an_explicit_grid_is_the_base_on_that_grid(x64):
    sde = make_sde("subvp")
    score = MIX.score_fn(sde)
    x_init = prior_draw("subvp", 8, seed=1)
    solver = learned.zero_solver(sde, nfe=6, order=3, base="unipc", variant="bh2", lower_order_final=True,
                                 eps=sde.sampling_eps, denoise=False, grid="karras")
    want, _ = run(sde, score, (8, 2), "unipc", x_init=x_init, nfe=6, grid="karras")
    got, _ = run(sde, score, (8, 2), "learned", x_init=x_init, learned_solver=solver)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("base", ["unipc", "dpmpp"])
def test_any_corrections_keep_the_solver_consistent(x64, base):
    """Data at one point mu: x0_hat = mu everywhere, the flow from x_T is
    x_t = sigma_t / sigma_T x_T + (alpha_t - sigma_t / sigma_T alpha_T) mu, and an exponential
    integrator whose weights sum to one is exact for it, whatever the (random) corrections."""
    sde = make_sde("vp")
    mu = jnp.array([1.5, -0.5])
    score = lambda x, t: (sde.alpha(t)[:, None] * mu - x) / sde.sigma(t)[:, None] ** 2  # noqa: E731
    zero = learned.zero_solver(sde, nfe=6, order=3, base=base, variant="bh2", lower_order_final=True,
                               eps=sde.sampling_eps, denoise=False)
    rng = np.random.default_rng(0)
    solver = zero._replace(pred=rng.normal(size=zero.pred.shape), corr=rng.normal(size=zero.corr.shape))
    x_init = prior_draw("vp", 8, seed=2)
    got, _ = run(sde, score, (8, 2), "learned", x_init=x_init, learned_solver=solver)
    t0, t1 = jnp.asarray(sde.T), jnp.asarray(sde.sampling_eps)
    ratio = sde.sigma(t1) / sde.sigma(t0)
    exact = ratio * x_init + (sde.alpha(t1) - ratio * sde.alpha(t0)) * mu
    np.testing.assert_allclose(got, exact, rtol=1e-10, atol=1e-10)
    moved, _ = run(sde, MIX.score_fn(sde), (8, 2), "learned", x_init=x_init, learned_solver=solver)
    base_out, _ = run(sde, MIX.score_fn(sde), (8, 2), "learned", x_init=x_init, learned_solver=zero)
    assert rel_err(moved, base_out) > 1e-3  # the corrections do act where x0_hat varies


@pytest.fixture(scope="module")
def fitted():
    """UniPC-2 at 5 NFE on a 2-D three-mode mixture (VP), fitted on 64 pilot trajectories, times and
    coefficients together from the first step (no validation split)."""
    sde = make_sde("vp")
    fit = fit_learned_solver(sde, (64, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(11), nfe=5, order=2,
                             n_iters=60, times_only_iters=0, validation=0.0, learning_rate=0.05,
                             coefficient_rate=0.01, progress=False)
    return sde, fit


def test_fit_lowers_the_error_on_noise_it_was_not_fitted_to(fitted):
    """On 256 other trajectories, against the float64 Dopri8 solution: measured 1.46e-1 (UniPC-2)
    -> 7.7e-2 (learned); on the 64 pilot trajectories 1.5e-1 -> 7.8e-2."""
    sde, fit = fitted
    score = MIX.score_fn(sde)
    assert fit.errors.shape == fit.train_errors.shape == (60,) and fit.initial_error == fit.errors[0]
    assert fit.final_error == pytest.approx(np.min(fit.errors)) and fit.final_error < fit.initial_error / 3
    solver = fit.solver
    assert solver.times[0] == sde.T and solver.times[-1] == pytest.approx(sde.sampling_eps, rel=1e-6)
    assert np.any(solver.pred != 0) and np.any(solver.corr != 0)
    x_init = prior_draw("vp", 256, seed=3)
    ref = reference("vp", "mix", 256, seed=3)
    before = rel_err(run(sde, score, x_init.shape, "unipc", x_init=x_init, nfe=5, order=2)[0], ref)
    after = rel_err(run(sde, score, x_init.shape, "learned", x_init=x_init, learned_solver=solver)[0], ref)
    assert after < before / 1.5, (before, after)


def test_file_round_trip_through_get_sampler(fitted, tmp_path):
    sde, fit = fitted
    path = save_learned_solver(str(tmp_path / "learned_nfe5.npz"), fit.solver)
    loaded = load_learned_solver(path)
    for name in ("times", "pred", "corr"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(fit.solver, name))
    assert loaded._replace(times=None, pred=None, corr=None) == fit.solver._replace(times=None, pred=None, corr=None)
    assert loaded.info["pilot_error"] == pytest.approx(fit.final_error)
    x_init = prior_draw("vp", 32, seed=4)
    from_path, nfe = run(sde, MIX.score_fn(sde), (32, 2), "learned", x_init=x_init, learned_solver=path, nfe=5)
    from_object, _ = run(sde, MIX.score_fn(sde), (32, 2), "learned", x_init=x_init, learned_solver=fit.solver)
    assert int(nfe) == 5
    np.testing.assert_array_equal(from_path, from_object)


def test_bad_files_and_options_raise_naming_them(fitted, tmp_path):
    sde, fit = fitted
    good = str(tmp_path / "good.npz")
    save_learned_solver(good, fit.solver)
    with np.load(good) as f:
        entries = dict(f)

    def write(name, **changes):
        path = str(tmp_path / name)
        np.savez(path, **{**entries, **changes})
        return path

    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    np.save(tmp_path / "grid.npy", fit.solver.times)
    cases = [
        (str(tmp_path / "missing.npz"), "is not a readable .npz"),
        (str(tmp_path / "junk.npz"), "is not a readable .npz"),
        (str(tmp_path / "grid.npy"), "is not a learned-solver file"),
        (write("old.npz", format=np.asarray("v0")), "got format='v0'"),
        (write("times.npz", times=fit.solver.times[:-1]), r"times must have shape \(6,\)"),
        (write("pred.npz", pred=np.zeros((5, 3))), r"pred must have shape \(5, 1\)"),
        (write("nan.npz", corr=np.full_like(fit.solver.corr, np.nan)), "corr has non-finite entries"),
        (write("up.npz", times=fit.solver.times[::-1]), "strictly decreasing"),
        (write("base.npz", base=np.asarray("heun")), "unknown base 'heun'"),
    ]
    for path, match in cases:
        with pytest.raises(ValueError, match=match):
            get_sampler(sde, (4, 2), "learned", learned_solver=path)
    with pytest.raises(ValueError, match="fitted for nfe=5, got nfe=10"):
        get_sampler(sde, (4, 2), "learned", learned_solver=good, nfe=10)
    with pytest.raises(ValueError, match="fitted for order=2, got order=3"):
        get_sampler(sde, (4, 2), "learned", learned_solver=good, order=3)
    with pytest.raises(ValueError, match=r"fitted for sde=VPSDE\(.*got sde=VESDE"):
        get_sampler(make_sde("ve"), (4, 2), "learned", learned_solver=good)
    with pytest.raises(ValueError, match="learned_solver must be a LearnedSolver or the path"):
        get_sampler(sde, (4, 2), "learned", learned_solver=3)
    with pytest.raises(ValueError, match="unknown base 'ddim'"):
        get_sampler(sde, (4, 2), "learned", base="ddim")
    with pytest.raises(ValueError, match="order must be 1, 2 or 3, got order=4"):
        get_sampler(sde, (4, 2), "learned", order=4)
    with pytest.raises(ValueError, match="n_iters must be a positive integer, got n_iters=0"):
        fit_learned_solver(sde, (4, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(0), n_iters=0)
    with pytest.raises(ValueError, match="coefficient_rate must be a finite number > 0.0, got coefficient_rate=0.0"):
        fit_learned_solver(sde, (4, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(0), coefficient_rate=0.0)
    with pytest.raises(ValueError, match=r"times_only_iters must be an integer in \[0, 4\], got "
                                         r"times_only_iters=5"):
        fit_learned_solver(sde, (4, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(0), n_iters=5, times_only_iters=5)
    with pytest.raises(ValueError, match=r"validation must be a finite number in \[0.0, 1.0\), got validation=1.0"):
        fit_learned_solver(sde, (4, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(0), validation=1.0)
    with pytest.raises(ValueError, match="validation must leave pilots to fit to, got validation=0.9 of batch 4"):
        fit_learned_solver(sde, (4, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(0), validation=0.9)
    with pytest.raises(ValueError, match="trim must be a finite number > 0.0, got trim=0"):
        fit_learned_solver(sde, (4, 2), MIX.score_fn(sde), key=jax.random.PRNGKey(0), trim=0)


def test_times_only_phase_is_calibrate_grid(x64):
    """With no validation split and no trimming, the first times_only_iters Adam steps are exactly
    samplers.calibrate_grid's on the base method (same loss, same sampler, same optimiser), and the
    coefficients stay 0 through them."""
    from samplers import calibrate_grid

    sde = make_sde("vp")
    score = MIX.score_fn(sde)
    common = dict(key=jax.random.PRNGKey(2), nfe=4, learning_rate=0.05, progress=False)
    grid = calibrate_grid(sde, (16, 2), "unipc", score, n_iters=5, order=2, **common)
    fit = fit_learned_solver(sde, (16, 2), score, n_iters=5, times_only_iters=4, validation=0.0, trim=None,
                             order=2, **common)  # the 5th step is on the coefficients too, after the last iterate
    np.testing.assert_allclose(fit.train_errors, grid.errors, rtol=1e-9)
    np.testing.assert_array_equal(fit.errors, fit.train_errors)  # no split: selected on the fitted pilots
    assert np.all(fit.solver.pred == 0) and np.all(fit.solver.corr == 0)
    np.testing.assert_allclose(fit.solver.times, grid.grid, rtol=1e-9)


def test_validation_error_is_the_trimmed_error_of_the_held_out_pilots():
    """errors[0] is the base solver's trimmed relative RMS error on the last quarter of the pilot batch,
    recomputed here from the same pilot noise, its converged solution and the unipc sampler."""
    from samplers import calibrate

    sde = make_sde("vp")
    score = MIX.score_fn(sde)
    key = jax.random.PRNGKey(5)
    fit = fit_learned_solver(sde, (40, 2), score, key=key, nfe=3, order=2, n_iters=1, times_only_iters=0, trim=0.05,
                             progress=False)
    x_pilot, teacher = calibrate.pilot_and_teacher(sde, (40, 2), score, key=key, eps=sde.sampling_eps, tol=1e-6,
                                                   denoise=False)
    out, _ = run(sde, score, (40, 2), "unipc", x_init=x_pilot, nfe=3, order=2)
    per_sample = np.sum((np.asarray(out) - np.asarray(teacher)) ** 2, -1) / (2 * np.mean(np.asarray(teacher) ** 2))
    assert np.max(per_sample[30:]) > 0.05**2  # the cap acts on some held-out pilot
    want = np.sqrt(np.mean(np.minimum(per_sample[30:], 0.05**2)))
    assert fit.errors[0] == pytest.approx(want, rel=1e-4)
    train = np.sqrt(np.mean(np.minimum(per_sample[:30], 0.05**2)))
    assert fit.train_errors[0] == pytest.approx(train, rel=1e-4)


@pytest.mark.slow  # trains, fits and samples in-process: ~330 s on the loaded 2-core machine
def test_calibrate_learned_then_sample_through_the_config(tmp_path):
    """run.calibrate with sampling.method=learned writes grids/learned_nfe<K>.npz; the config's
    sampling.learned_solver samples with it; a missing file or another nfe are named config errors."""
    from configs.builders import build_experiment
    from test_pipeline import tiny_toy_config
    from modes import run as run_lib

    wd = str(tmp_path / "wd")
    c = tiny_toy_config(n_iters=5)
    c.training.snapshot_sampling = False
    c.sampling.method, c.sampling.nfe, c.sampling.order = "learned", 4, 2
    run_lib.train(build_experiment(c), wd, progress=False)
    path, png, fit = run_lib.calibrate(build_experiment(c), wd, pilot=8, n_iters=3)
    assert path == f"{wd}/grids/learned_nfe4.npz" and png.endswith(".png")
    solver = load_learned_solver(path)
    assert (solver.nfe, solver.order, solver.denoise, solver.base) == (4, 2, True, "unipc")  # noise_removal=True
    assert fit.final_error <= fit.initial_error
    c.sampling.learned_solver = path
    npz, _ = run_lib.sample(build_experiment(c), wd)
    assert np.all(np.isfinite(np.load(npz)["samples"])) and int(np.load(npz)["nfe"]) == 4
    c.sampling.nfe = 6
    with pytest.raises(ValueError, match="sampling.learned_solver=.*fitted for nfe=4, got nfe=6"):
        build_experiment(c)
    c.sampling.learned_solver = str(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="sampling.learned_solver=.*missing.npz' does not exist"):
        build_experiment(c)
    c.sampling.learned_solver, c.sampling.base = None, "heun"
    with pytest.raises(ValueError, match="sampling.base='heun' is not a known name"):
        build_experiment(c)


# ----- the scanned solver against the step equations, written out in NumPy float64 ----------------
def _np_phi(k, z):
    """phi_k(z) = (e^z - sum_(j<k) z^j / j!) / z^k, by its series where |z| < 1."""
    if abs(z) < 1:
        return sum(z**j / math.factorial(j + k) for j in range(30))
    return (math.exp(z) - sum(z**j / math.factorial(j) for j in range(k))) / z**k


def _np_mix_score(x, a, s):
    """The score of MIX (axis-aligned Gaussian components) at alpha = a, sigma = s, in NumPy."""
    w, mu, std = (np.asarray(v, np.float64) for v in MIX)
    var = a**2 * std**2 + s**2  # [K, D]
    diff = a * mu[None] - x[:, None]  # [B, K, D]
    logits = np.log(w) - 0.5 * np.sum(diff**2 / var + np.log(var), -1)
    r = np.exp(logits - logits.max(-1, keepdims=True))
    r /= r.sum(-1, keepdims=True)
    return np.einsum("bk,bkd->bd", r, diff / var)


def _np_learned_solve(sde, solver, x):
    """Lu et al. 2022b (DPM-Solver++ multistep, App. B) and Zhao et al. 2023 (UniP-p / UniC, the
    Vandermonde systems solved by np.linalg.solve), plus the learned corrections, step by step."""
    f = lambda fn, t: float(fn(jnp.asarray(t)))  # noqa: E731
    alpha, sigma, lam = (lambda t, fn=fn: f(fn, t) for fn in (sde.alpha, sde.sigma, sde.log_snr))

    def x0(x, t):
        return (x + sigma(t) ** 2 * _np_mix_score(x, alpha(t), sigma(t))) / alpha(t)

    def dpmpp(x, s, t, m, lams, o):
        h = lam(t) - lams[0]
        base = sigma(t) / sigma(s) * x
        if o == 1:
            return base + alpha(t) * h * _np_phi(1, -h) * m[0]
        r0 = (lams[0] - lams[1]) / h
        if o == 2:
            return base + alpha(t) * h * _np_phi(1, -h) * ((1 + 0.5 / r0) * m[0] - 0.5 / r0 * m[1])
        r1 = (lams[1] - lams[2]) / h
        d0, d1 = (m[0] - m[1]) / r0, (m[1] - m[2]) / r1
        first, second = d0 + r0 / (r0 + r1) * (d0 - d1), (d0 - d1) / (r0 + r1)
        return base + alpha(t) * h * (_np_phi(1, -h) * m[0] + _np_phi(2, -h) * first + 2 * _np_phi(3, -h) * second)

    def unipc(x, s, t, m, lams, o, m_t=None):
        h = lam(t) - lams[0]
        z = -h
        big_b = z if solver.variant == "bh1" else math.expm1(z)
        b = [math.factorial(k) * z * _np_phi(k + 1, z) / big_b for k in range(1, o + 1)]
        r = [(lams[i] - lams[0]) / h for i in range(1, o)]
        d = [(m[i] - m[0]) / r[i - 1] for i in range(1, o)]
        x_lin = sigma(t) / sigma(s) * x + alpha(t) * h * _np_phi(1, z) * m[0]
        if m_t is None:
            if o == 1:
                return x_lin
            a = [0.5] if o == 2 else np.linalg.solve(np.vander(r, o - 1, increasing=True).T, b[: o - 1])
            return x_lin - alpha(t) * big_b * sum(ai * di for ai, di in zip(a, d))
        nodes = r + [1.0]
        a = [0.5] if o == 1 else np.linalg.solve(np.vander(nodes, o, increasing=True).T, b[:o])
        return x_lin - alpha(t) * big_b * (sum(ai * di for ai, di in zip(a, d)) + a[-1] * (m_t - m[0]))

    ts, k = solver.times, solver.order
    n = len(ts) - 1
    m, lams = [x0(x, ts[0])], [lam(ts[0])]
    for i in range(n):
        s, t = ts[i], ts[i + 1]
        o = min(k, i + 1, n - i) if solver.lower_order_final else min(k, i + 1)
        h = lam(t) - lams[0]
        scale = alpha(t) * h * _np_phi(1, -h)
        base = dpmpp(x, s, t, m, lams, o) if solver.base == "dpmpp" else unipc(x, s, t, m, lams, o)
        x_pred = base + scale * sum(solver.pred[i, j - 1] * (m[j] - m[0]) for j in range(1, len(m)))
        if i == n - 1:
            x = x_pred
            break
        m_new = x0(x_pred, t)
        x = x_pred if solver.base == "dpmpp" else unipc(x, s, t, m, lams, o, m_t=m_new)
        x = x + scale * (sum(solver.corr[i, j - 1] * (m[j] - m[0]) for j in range(1, len(m)))
                         + solver.corr[i, k - 1] * (m_new - m[0]))
        m, lams = ([m_new] + m)[:k], ([lam(t)] + lams)[:k]
    return x0(x, ts[-1]) if solver.denoise else x


@pytest.mark.parametrize("base,order,variant,lower_order_final,denoise",
                         [("unipc", 3, "bh2", True, False), ("unipc", 2, "bh1", False, True),
                          ("unipc", 3, "bh1", False, False), ("dpmpp", 3, "bh2", True, False),
                          ("dpmpp", 2, "bh2", False, True), ("dpmpp", 3, "bh2", False, False)])
def test_scanned_solver_is_the_step_equations_in_float64(x64, base, order, variant, lower_order_final, denoise):
    """One lax.scan over precomputed step weights (`learned.step_weights`) against the steps written
    out in NumPy float64, with random corrections on a karras grid: equal to rounding."""
    sde = make_sde("vp")
    zero = learned.zero_solver(sde, nfe=8, order=order, base=base, variant=variant,
                               lower_order_final=lower_order_final, eps=sde.sampling_eps, denoise=denoise,
                               grid="karras")
    rng = np.random.default_rng(order + 2 * denoise)
    solver = zero._replace(pred=0.5 * rng.normal(size=zero.pred.shape), corr=0.5 * rng.normal(size=zero.corr.shape))
    x_init = jnp.asarray(prior_draw("vp", 8, seed=6), jnp.float64)
    mix64 = type(MIX)(*(jnp.asarray(np.asarray(v), jnp.float64) for v in MIX))  # MIX's log(w) in float64 too
    got, nfe = run(sde, mix64.score_fn(sde), (8, 2), "learned", x_init=x_init, learned_solver=solver)
    want = _np_learned_solve(sde, solver, np.asarray(x_init, np.float64))
    assert int(nfe) == 8 and rel_err(got, _np_learned_solve(sde, zero, np.asarray(x_init))) > 1e-2  # they act
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


def test_digits_solver_fids_plumbing(tmp_path):
    """benchmarks.trained.digits_solver_fids on a 2-step digits network (a stand-in figure for the
    FID): every row samples 297 digits from the same noise per seed (so the unfitted learned solver,
    UniPC-3 itself, scores what unipc scores), seeds differ, NFE are counted, the first row is the
    reference, and without a file the learned row is skipped."""
    from benchmarks import trained
    from configs import default_digits
    from configs.builders import build_experiment
    from modes import run as run_lib

    c = default_digits.get_config()
    c.training.n_iters, c.training.batch_size, c.training.snapshot_freq = 2, 8, 2
    c.training.snapshot_sampling = False
    c.model.nf, c.model.ch_mult, c.model.attn_resolutions = 8, (1,), ()
    c.sde.num_scales = 3
    wd = str(tmp_path / "wd")
    run_lib.train(build_experiment(c), wd, progress=False)
    c.sampling.method, c.sampling.nfe = "learned", 4
    exp = build_experiment(c)
    path = save_learned_solver(str(tmp_path / "learned_nfe4.npz"),
                               get_sampler(exp.sde, (1,) + exp.data_shape, "learned", **exp.sampling_options).solver)
    solvers = {"pc": trained.DIGITS_SOLVERS["pc 1000 (EM predictor)"], "learned": {"sampling.method": "learned",
               "sampling.nfe": 4}, "unipc": {"sampling.method": "unipc", "sampling.nfe": 4}}
    seen, n = [], [297]

    def figures(exp, samples):
        assert samples.shape == (n[0], 8, 8, 1)
        seen.append(samples)
        return {"fid": float(np.mean(samples**2)), "fid_floor": 1.0}

    rows = trained.digits_solver_fids(wd, learned_solver=path, seeds=(0, 1), config=c, solvers=solvers,
                                      figures=figures)
    assert [r["label"] for r in rows] == ["pc", "learned", "unipc"]
    assert [r["nfe"] for r in rows] == [4.0, 4.0, 4.0]  # PC: N = 3 levels + the Tweedie step
    assert rows[0]["vs_reference"] == 1.0 and rows[2]["vs_reference"] == rows[2]["fid"] / rows[0]["fid"]
    assert rows[1]["fids"][0] != rows[1]["fids"][1]  # other noise per seed
    np.testing.assert_allclose(seen[2], seen[4], rtol=1e-5, atol=1e-5)  # learned (zero corrections) = unipc
    np.testing.assert_allclose(rows[1]["fids"], rows[2]["fids"], rtol=1e-5)
    assert "| learned | 4 |" in trained.digits_solver_table(rows)
    assert rows[0]["fid_ratio"] == rows[0]["fid"]  # the floor of 297 samples (1.0 here)
    skipped = trained.digits_solver_fids(wd, seeds=(0,), config=c, solvers=solvers, figures=figures)
    assert [r["label"] for r in skipped] == ["pc", "unipc"]
    n[0] = 5  # other sample counts: that many per seed, and no floor (it is of 297 held-out digits)
    (row,) = trained.digits_solver_fids(wd, seeds=(0,), config=c, solvers={"unipc": solvers["unipc"]},
                                        figures=figures, n_samples=5)
    assert "fid_ratio" not in row and "| — |" in trained.digits_solver_table([row])
