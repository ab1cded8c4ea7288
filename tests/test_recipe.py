"""The training recipe's options against independent answers (project issue 14).

EMA warm-up and learning-rate schedules against their formulas (and what Adam does with them);
EDM's preconditioning through alpha(t), sigma(t): with the Gaussian posterior mean written out
here, the wrapped network gives the exact score under every SDE, and the EDM-weighted loss at the
exact score equals its closed-form value; stratified times are uniform (KS) and spread one per
stratum; importance-sampled times have the density g(t)^2 / sigma(t)^2 / Z computed from the SDE's
diffusion, and the importance-weighted loss estimates the likelihood-weighted loss without bias.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

import models
from conftest import make_sde
from training import losses
from training.state import TrainState, ema_decay, get_optimizer, lr_schedule, make_train_step

MU = jnp.array([0.5, -1.0])
C = jnp.array([[1.0, 0.3], [0.3, 0.5]])
D = 2


def gaussian_score(x, m, s):
    cov = m[:, None, None] ** 2 * C + s[:, None, None] ** 2 * jnp.eye(D)
    return -jnp.linalg.solve(cov, (x - m[:, None] * MU)[..., None])[..., 0]


def data(key, n):
    return MU + jax.random.normal(key, (n, D)) @ jnp.linalg.cholesky(C).T


# ----- EMA warm-up and learning-rate schedules ---------------------------------------------------
def test_ema_decay_ramp_matches_formula():
    steps = np.arange(0, 3000, 7)
    got = np.asarray(jax.vmap(lambda n: ema_decay(n, 0.999, True))(jnp.asarray(steps)))
    np.testing.assert_allclose(got, np.minimum(0.999, (1.0 + steps) / (10.0 + steps)), rtol=1e-6)
    assert ema_decay(5, 0.999, False) == 0.999


def test_train_step_applies_the_ema_ramp():
    """SGD(0.1) on mean((w - x)^2) over 2 coordinates with x = 0 shrinks w by 0.9 per step; the EMA by hand."""
    def loss_builder(_):
        return lambda p, key, x: jnp.mean((p["w"] - x) ** 2)

    opt = optax.sgd(0.1)
    step_fn = jax.jit(make_train_step(loss_builder, opt, ema_rate=0.9, ema_warmup=True))
    params = {"w": jnp.array([1.0, -2.0])}
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt.init(params),
                       ema_params=jax.tree.map(jnp.copy, params), key=jax.random.PRNGKey(0))
    state, _ = step_fn(state, jnp.zeros((6, 1, 2)))
    w, ema = np.array([1.0, -2.0]), np.array([1.0, -2.0])
    for n in range(6):
        w = w * 0.9
        decay = min(0.9, (1 + n) / (10 + n))
        ema = decay * ema + (1 - decay) * w
    np.testing.assert_allclose(state.params["w"], w, rtol=1e-6)
    np.testing.assert_allclose(state.ema_params["w"], ema, rtol=1e-6)


def _cosine(n, lr, warmup, total, final):
    if n < warmup:
        return lr * n / warmup
    frac = min((n - warmup) / (total - warmup), 1.0)
    return final + (lr - final) * 0.5 * (1 + np.cos(np.pi * frac))


def _linear(n, lr, warmup, total, final):
    if n < warmup:
        return lr * n / warmup
    return lr + (final - lr) * min((n - warmup) / (total - warmup), 1.0)


@pytest.mark.parametrize("decay, formula", [("cosine", _cosine), ("linear", _linear)])
def test_lr_schedule_matches_formula(decay, formula):
    lr, warmup, total, final = 2e-3, 100, 1000, 1e-4
    schedule = lr_schedule(lr=lr, warmup=warmup, decay=decay, total_steps=total, final_lr=final)
    for n in (0, 1, 50, 99, 100, 101, 400, 999, 1000, 1500):
        assert float(schedule(n)) == pytest.approx(formula(n, lr, warmup, total, final), rel=1e-5, abs=1e-9), n


def test_adam_moves_by_the_scheduled_rate():
    """With a constant gradient Adam's step is lr_n (bias-corrected moments equal the gradient)."""
    lr, warmup, total = 1e-2, 3, 10
    opt = get_optimizer(lr=lr, warmup=warmup, decay="cosine", total_steps=total, eps=1e-12)
    w = jnp.zeros(())
    state = opt.init(w)
    moves = []
    for _ in range(total):
        updates, state = opt.update(jnp.ones(()), state, w)
        moves.append(-float(updates))
        w = optax.apply_updates(w, updates)
    np.testing.assert_allclose(moves, [_cosine(n, lr, warmup, total, 0.0) for n in range(total)], rtol=1e-4,
                               atol=1e-9)


def test_schedule_errors_name_arguments():
    with pytest.raises(ValueError, match="decay"):
        lr_schedule(lr=1e-3, decay="step")
    with pytest.raises(ValueError, match="total_steps"):
        lr_schedule(lr=1e-3, warmup=10, decay="cosine", total_steps=None)
    short = lr_schedule(lr=1e-3, warmup=10, decay="cosine", total_steps=5)  # ends inside its warm-up
    assert float(short(5)) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="final_lr"):
        lr_schedule(lr=1e-3, decay="cosine", total_steps=10, final_lr=1.0)


# ----- EDM preconditioning through alpha(t), sigma(t) ------------------------------------------
class PosteriorNet:
    """A stand-in network whose output F makes D = c_skip x^ + c_out F the exact posterior mean of
    Gaussian data: in x^ = x_0 + s z coordinates, E[x_0 | x^] = mu + C (C + s^2 I)^{-1} (x^ - mu)
    (written from the Gaussian, not from the score)."""

    sigma_data = 0.5

    def apply(self, variables, inp, s, train=False, rngs=None):
        sd = self.sigma_data
        norm = jnp.sqrt(s**2 + sd**2)
        x_hat = inp * norm[:, None]
        cov = C[None] + s[:, None, None] ** 2 * jnp.eye(D)
        post = MU + jnp.einsum("ij,bj->bi", C, jnp.linalg.solve(cov, (x_hat - MU)[..., None])[..., 0])
        c_skip, c_out = sd**2 / norm**2, s * sd / norm
        return (post - c_skip[:, None] * x_hat) / c_out[:, None]

    def init(self, *args, **kwargs):
        return {"params": {}}


def test_preconditioned_exact_denoiser_gives_the_exact_score(sde_name, x64):
    sde = make_sde(sde_name)
    model = models.Preconditioned(PosteriorNet(), sigma_data=PosteriorNet.sigma_data)
    score_fn = models.get_score_fn(sde, model)
    key = jax.random.PRNGKey(0)
    t = jnp.linspace(1e-4, 1.0, 64)  # float64: the stand-in net's F cancels digits at low noise
    x = data(key, 64) * sde.alpha(t)[:, None] + sde.sigma(t)[:, None] * jax.random.normal(jax.random.PRNGKey(1),
                                                                                         (64, D))
    got, want = score_fn({}, x, t), gaussian_score(x, sde.alpha(t), sde.sigma(t))
    np.testing.assert_allclose(got * sde.sigma(t)[:, None], want * sde.sigma(t)[:, None], rtol=1e-6, atol=1e-9)


def test_edm_coefficients_match_table_1():
    sde = make_sde("ve")
    t = jnp.array([0.1, 0.5, 0.9])
    c = models.edm_coefficients(sde, t, 0.5)
    s = np.asarray(sde.sigma(t), np.float64)  # alpha = 1: s is EDM's sigma
    np.testing.assert_allclose(c["c_skip"], 0.25 / (s**2 + 0.25), rtol=1e-5)
    np.testing.assert_allclose(c["c_out"], s * 0.5 / np.sqrt(s**2 + 0.25), rtol=1e-5)
    np.testing.assert_allclose(c["c_in"], 1 / np.sqrt(s**2 + 0.25), rtol=1e-5)
    np.testing.assert_allclose(models.edm_loss_weight(sde, t, 0.5), (s**2 + 0.25) / (s * 0.5) ** 2 * s**2, rtol=1e-5)


def test_edm_weighted_loss_at_exact_score_matches_closed_form(sde_name):
    """E (1 + s^2 / sd^2) |sigma S + z|^2 / D at the exact score S, against its closed form per level
    1 - sigma^2 tr((alpha^2 C + sigma^2 I)^{-1}) / D, integrated over t (see tests/test_losses.py)."""
    sde, sd, eps = make_sde(sde_name), 0.5, 1e-3
    score_fn = lambda params, x, t: gaussian_score(x, sde.alpha(t), sde.sigma(t))
    loss_fn = jax.jit(losses.get_loss_fn(sde, score_fn, edm_sigma_data=sd, t_sampling="stratified", t_min=eps))
    vals = np.array([float(loss_fn(None, jax.random.PRNGKey(100 + i), data(jax.random.PRNGKey(i), 20000)))
                     for i in range(4)])
    t = np.linspace(eps, 1.0, 40001)
    m, s = np.asarray(sde.alpha(jnp.asarray(t)), np.float64), np.asarray(sde.sigma(jnp.asarray(t)), np.float64)
    cov = m[:, None, None] ** 2 * np.asarray(C) + s[:, None, None] ** 2 * np.eye(D)
    level = 1.0 - s**2 * np.trace(np.linalg.inv(cov), axis1=1, axis2=2) / D
    expected = np.trapezoid(level * (1 + (s / m) ** 2 / sd**2), t) / (1.0 - eps)
    se = vals.std(ddof=1) / np.sqrt(len(vals))
    assert abs(vals.mean() - expected) < 5 * se + 5e-3 * expected, (vals.mean(), expected, se)


# ----- times of a batch --------------------------------------------------------------------------
def test_stratified_times_are_uniform_and_spread():
    u = jax.jit(jax.vmap(lambda k: losses.uniform_draws(k, 16, "stratified")))(
        jax.random.split(jax.random.PRNGKey(0), 2000))
    u = np.asarray(u)
    for i in (0, 7, 15):  # each slot alone is U(0, 1)
        assert stats.kstest(u[:, i], "uniform").pvalue > 1e-3
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    np.testing.assert_array_equal(np.sort(np.floor(u * 16), axis=1), np.tile(np.arange(16), (2000, 1)))


def _g2_over_sigma2(sde, t):
    """g(t)^2 / sigma(t)^2 from the SDE's diffusion and kernel (not from its log-SNR)."""
    x = jnp.zeros((t.shape[0], 1))
    g = sde.sde(x, t)[1]
    return np.asarray(g**2 / sde.sigma(t) ** 2, np.float64)


def test_importance_times_have_density_g2_over_sigma2(sde_name):
    sde, eps = make_sde(sde_name), 1e-3
    grid = np.linspace(eps, 1.0, 20001)
    dens = _g2_over_sigma2(sde, jnp.asarray(grid))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    t = np.asarray(losses.importance_times(sde, jax.random.uniform(jax.random.PRNGKey(3), (20000,)), eps))
    assert t.min() >= eps and t.max() <= 1.0
    assert stats.kstest(t, lambda v: np.interp(v, grid, cdf)).pvalue > 1e-3
    probe = jnp.array([2e-3, 0.05, 0.3, 0.7, 0.99])
    z = np.trapezoid(dens, grid)
    np.testing.assert_allclose(losses.importance_density(sde, probe, eps), _g2_over_sigma2(sde, probe) / z,
                               rtol=2e-3)


def test_importance_weighted_loss_is_unbiased(sde_name):
    """The likelihood-weighted loss at a wrong score (exact + delta), estimated with uniform t and
    with importance-sampled t: the two means agree within 4 combined standard errors."""
    sde, eps = make_sde(sde_name), 1e-2
    delta = jnp.array([0.3, -0.2])
    score_fn = lambda params, x, t: gaussian_score(x, sde.alpha(t), sde.sigma(t)) + delta
    est = {}
    for importance in (False, True):
        fn = jax.jit(losses.get_loss_fn(sde, score_fn, likelihood_weighting=True, importance_sampling=importance,
                                        t_min=eps))
        vals = np.array([float(fn(None, jax.random.PRNGKey(50 + i), data(jax.random.PRNGKey(i), 10000)))
                         for i in range(8)])
        est[importance] = (vals.mean(), vals.std(ddof=1) / np.sqrt(len(vals)))
    (m0, s0), (m1, s1) = est[False], est[True]
    assert abs(m0 - m1) < 4 * np.hypot(s0, s1), est
    if sde_name == "ve":  # g^2 / sigma^2 = 2 log(sigma_max / sigma_min) is constant: the same draws
        np.testing.assert_allclose(m1, m0, rtol=1e-5)
    else:
        assert s1 < s0, est  # and with less variance


def test_loss_option_errors_name_arguments():
    sde = make_sde("vp")
    score_fn = lambda p, x, t: x
    with pytest.raises(ValueError, match="t_sampling"):
        losses.get_loss_fn(sde, score_fn, t_sampling="sobol")
    with pytest.raises(ValueError, match="importance_sampling"):
        losses.get_loss_fn(sde, score_fn, importance_sampling=True)
    with pytest.raises(ValueError, match="edm_sigma_data"):
        losses.get_loss_fn(sde, score_fn, edm_sigma_data=0.5, likelihood_weighting=True)
    with pytest.raises(ValueError, match="t_sampling"):
        losses.get_loss_fn(sde, score_fn, continuous=False, t_sampling="stratified")


@pytest.mark.parametrize("noise_over_signal", [0.1, 0.34, 0.8])
def test_checkerboard_denoiser_matches_importance_weighted_posterior(noise_over_signal):
    # E[x0 | x_t] by self-normalised importance weights over 400k draws of the checkerboard (its 8
    # squares by rejection from the board), at a square's centre, an edge, a corner where two squares
    # meet, a point in an empty square and one off the board.
    from benchmarks.recipe import checkerboard_denoiser, in_squares

    rng = np.random.default_rng(0)
    board = rng.uniform(-4.0, 4.0, (800_000, 2))
    cells = np.floor(board / 2.0)
    x0 = board[(cells.sum(axis=1) % 2) == 0]
    assert in_squares(x0) == 1.0 and in_squares(x0 + np.array([2.0, 0.0])) < 0.3
    alpha = 0.8
    sigma = noise_over_signal * alpha
    queries = alpha * np.array([[-3.0, -3.0], [-2.0, -3.1], [0.0, 0.0], [1.0, -1.0], [4.6, 0.7]])
    exact = checkerboard_denoiser(queries, alpha, sigma)
    for q, e in zip(queries, exact):
        logw = -np.sum((q - alpha * x0) ** 2, axis=1) / (2 * sigma**2)
        w = np.exp(logw - logw.max())
        mc = (w[:, None] * x0).sum(axis=0) / w.sum()
        ess = w.sum() ** 2 / (w**2).sum()
        tol = 6 * 2.0 / np.sqrt(12 * ess) + 1e-3  # six standard errors of a mean over a square's width
        np.testing.assert_allclose(e, mc, atol=tol)
