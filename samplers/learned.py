"""A learned multistep solver: UniPC / DPM-Solver++ steps whose coefficients and times are fitted
to one score function, in the spirit of Bespoke solvers (Shaul et al., ICML 2024,
arXiv:2310.19075), DPM-Solver-v3 (Zheng et al., NeurIPS 2023) and LD3 (Tong et al., ICLR 2025).

In data prediction and log-SNR (as `dpm_solver.dpmpp_update` and `unipc.unipc_update`), step i
goes from t_i to t_(i+1), h = lambda_(i+1) - lambda_i, with m_0 = x0_hat at t_i and the earlier
predictions m_1, ..., m_(K-1) (K = `order`). The learned step is the base step plus a correction
in the differences of the predictions,

    x_pred = base_P(x_i) + alpha_(i+1) h phi_1(-h) sum_j p_ij (m_j - m_0),
    m_new  = x0_hat(x_pred, t_(i+1))                                   (the step's one NFE),
    x_(i+1) = base_C(x_i, m_new) + alpha_(i+1) h phi_1(-h) [sum_j c_ij (m_j - m_0) + c_iK (m_new - m_0)],

where base_P is UniP-p (`base="unipc"`) or DPM-Solver++(pM) (`base="dpmpp"`) and base_C is UniC
(unipc) or x_pred itself (dpmpp: DPM-Solver++ has no corrector). The last step is a predictor
only, as in both. With p = c = 0 and the base's grid it *is* the base solver (to rounding), so a
fit started there starts from the base's error. Every step is linear in x_i and the predictions,
so `step_weights` turns the times and coefficients into per-step weights once, and `solve` is one
`lax.scan` over them (one traced step, whatever the orders along the way).

Order conditions: any base step is sum_j w_j m_j with sum_j w_j = 1 (exact for a constant data
prediction: the exponential integrator's consistency). A correction in differences keeps that sum,
so the learned solver stays consistent (order >= 1) for any coefficients. The base's higher-order
conditions (sum_j w_j r_j^k = k! phi_(k+1)(-h) / phi_1(-h)) are not imposed: the fit trades them
for a lower error at its one NFE budget on this score, so the fitted coefficients are for that
NFE only, and a learned file does not converge as the NFE grows (it has none other).

The times are fitted as in `samplers.calibrate_grid` (softmax of log-SNR steps: a monotone
reparameterisation, the ends fixed). The fit (`fit_learned_solver`) runs Adam through the sampler
against the converged probability-flow solution from a pilot batch of prior noise: first on the
times alone (the base on its calibrated grid: the best fixed solver available, as the start of the
coefficients), then on times and coefficients. The loss is the relative mean squared error, each
pilot's share optionally trimmed (the few pilots that end in another mode would otherwise fit the
coefficients to themselves: see `fit_learned_solver`). A held-out part of the pilot batch picks
the iterate returned, which is never worse on it than the base on `init`; the coefficients are
regularised by that early stopping only (they start at 0, the base, with a small step size). A
fitted solver is a `LearnedSolver` (times + coefficients + what it was fitted for), saved as a
small .npz.
"""

from __future__ import annotations

import os
import time
import zipfile
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from common import checks
from samplers import _common, calibrate, grids
from samplers._common import data_prediction
from samplers.dpm_solver import check_order, dpmpp_update, multistep_orders, phi
from samplers.fixed_step import segments
from samplers.unipc import VARIANTS, unipc_update
from sde_lib import SDE

BASES = ("unipc", "dpmpp")
FORMAT = "scorejax-learned-solver-1"


class LearnedSolver(NamedTuple):
    times: np.ndarray  # [n_steps + 1] from T down to eps
    pred: np.ndarray  # [n_steps, order - 1] p_ij: predictor corrections on m_j - m_0, j = 1..order-1
    corr: np.ndarray  # [n_steps - 1, order] c_ij: corrector corrections on m_j - m_0, then m_new - m_0
    base: str  # unipc | dpmpp
    order: int  # K: the base's order and the number of predictions kept
    variant: str  # unipc's B(h): bh1 | bh2 (unused by dpmpp)
    lower_order_final: bool
    denoise: bool
    nfe: int  # n_steps + denoise
    sde: str  # repr of the SDE it was fitted for
    info: dict  # e.g. pilot errors and fit time (floats)


def sde_id(sde: SDE) -> str:
    """The SDE's name and parameters (its repr); a learned file is for this SDE only."""
    return repr(sde)


def history_masks(n_steps: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Which corrections exist: at step i only min(i + 1, order) predictions are known, so p_ij and
    c_ij (j < order - 1) act on m_(j+1) - m_0 only where j < min(i, order - 1); c_iK always."""
    valid = np.arange(order - 1)[None] < np.minimum(np.arange(n_steps), order - 1)[:, None]
    corr = np.concatenate([valid[: max(n_steps - 1, 0)], np.ones((max(n_steps - 1, 0), 1), bool)], 1)
    return valid.astype(np.float64), corr.astype(np.float64)


def zero_solver(sde: SDE, *, nfe: int, order: int, base: str, variant: str, lower_order_final: bool,
                eps: float, denoise: bool, grid="logsnr", rho: float = 7.0) -> LearnedSolver:
    """The base solver itself on `grid`, as a LearnedSolver with zero corrections (the fit's start)."""
    n = nfe - int(denoise)
    times = np.asarray(grids.timesteps(sde, n, grid=grids.check_grid_options(grid, rho, n, sde=sde, eps=eps),
                                       eps=eps, rho=rho), np.float64)
    return LearnedSolver(times, np.zeros((n, order - 1)), np.zeros((max(n - 1, 0), order)), base, order, variant,
                         lower_order_final, denoise, nfe, sde_id(sde), {})


def step_weights(sde: SDE, solver: LearnedSolver, times, pred, corr):
    """Each step of `solver` on `times` as weights on the history, with the corrections in them.

    Step i (s = times[i], t = times[i + 1]) is linear in x_i and the data predictions
    m_0..m_(K-1) (newest first, zero where not yet made) and m_new = x0_hat(x_pred, t):

        x_pred  = ratio_i x_i + sum_j wp[i, j] m_j,
        x_(i+1) = ratio_i x_i + sum_j wc[i, j] m_j + wc[i, K] m_new       (steps 0 .. n - 2),

    ratio_i = sigma_t / sigma_s. The base's weights are its update applied to unit vectors (the
    update is linear), per run of equal order and vmapped over the steps of the run. Returns
    (ratio [n], wp [n, K + 1] (last column 0), wc [n, K + 1]; wc's last row belongs to no step)."""
    n, k = len(solver.times) - 1, solver.order
    orders = multistep_orders(n, k, solver.lower_order_final)
    lam = sde.log_snr(times)
    history = jnp.asarray(np.maximum(np.arange(n)[:, None] - np.arange(k)[None], 0))  # [n, K]: index of m_j
    unit = jnp.eye(k + 1, dtype=times.dtype)
    zero = jnp.zeros(k + 1, times.dtype)

    def base_weights(o, s, t, lam_hist):
        if solver.base == "unipc":
            wp = unipc_update(sde, zero, s, t, unit[:k], lam_hist, o, solver.variant)
            wc = unipc_update(sde, zero, s, t, unit[:k], lam_hist, o, solver.variant, m_t=unit[k])
        else:
            wp = dpmpp_update(sde, zero, s, t, unit[:k], lam_hist, o)
            wc = wp
        return wp, wc

    parts = [jax.vmap(lambda s, t, lh, o=o: base_weights(o, s, t, lh))(
        times[start:stop], times[start + 1: stop + 1], lam[history[start:stop]])
        for o, start, stop in segments(orders)]
    wp, wc = (jnp.concatenate([p[i] for p in parts]) for i in (0, 1))
    h = lam[1:] - lam[:-1]
    scale = (sde.alpha(times[1:]) * h * phi(1, -h))[:, None]  # alpha_t h phi_1(-h): the corrections' unit
    ratio = jnp.exp(sde.log_sigma(times[1:]) - sde.log_sigma(times[:-1]))
    # sum_j p_j (m_j - m_0): weight -sum_j p_j on m_0, p_j on m_j (j = 1..K-1), 0 on m_new
    p_w = jnp.concatenate([-jnp.sum(pred, 1, keepdims=True), pred, jnp.zeros((n, 1), times.dtype)], 1)
    corr = jnp.concatenate([corr, jnp.zeros((1, k), times.dtype)])  # the last step has no corrector
    c_w = jnp.concatenate([-jnp.sum(corr, 1, keepdims=True), corr], 1)
    wp = wp + scale * p_w
    # UniC's corrector starts again from x_i (without the predictor's corrections); DPM-Solver++'s is x_pred
    wc = (wc if solver.base == "unipc" else wp) + scale * c_w
    return ratio, wp, wc


def solve(sde: SDE, score_fn, x, solver: LearnedSolver, times=None, pred=None, corr=None):
    """Runs `solver` from x at times[0] = T; `times`, `pred`, `corr` override the solver's arrays
    (traced ones when fitting). One `lax.scan` over the steps' weights (`step_weights`), the last
    step a predictor only. Returns the samples; NFE = solver.nfe."""
    times = jnp.asarray(solver.times if times is None else times, x.dtype)
    pred = solver.pred if pred is None else pred
    corr = solver.corr if corr is None else corr
    k = solver.order
    pred_mask, corr_mask = history_masks(len(solver.times) - 1, k)
    pred, corr = jnp.asarray(pred, x.dtype) * pred_mask, jnp.asarray(corr, x.dtype) * corr_mask
    ratio, wp, wc = step_weights(sde, solver, times, pred, corr)

    def combine(w, m):  # sum_j w_j m_j
        return jnp.tensordot(w, m, axes=1)

    def corrected_step(carry, inputs):
        x, m = carry
        r, w_pred, w_corr, t = inputs
        m_new = data_prediction(sde, score_fn, r * x + combine(w_pred[:k], m), t)
        x = r * x + combine(w_corr[:k], m) + w_corr[k] * m_new
        return (x, jnp.concatenate([m_new[None], m[:-1]])), None

    m = jnp.zeros((k,) + x.shape, x.dtype).at[0].set(data_prediction(sde, score_fn, x, times[0]))
    (x, m), _ = jax.lax.scan(corrected_step, (x, m), (ratio[:-1], wp[:-1], wc[:-1], times[1:-1]))
    x = ratio[-1] * x + combine(wp[-1, :k], m)  # the last step: no evaluation after it
    if solver.denoise:
        x = data_prediction(sde, score_fn, x, times[-1])
    return x


# ----- files ----------------------------------------------------------------------------------------
def check_solver(solver: LearnedSolver, where: str = "learned_solver") -> LearnedSolver:
    """Raises ValueError naming `where` and the bad entry; returns the solver with numpy arrays."""
    if solver.base not in BASES:
        raise ValueError(f"{where}: unknown base {solver.base!r}; valid: {sorted(BASES)}")
    if solver.variant not in VARIANTS:
        raise ValueError(f"{where}: unknown variant {solver.variant!r}; valid: {sorted(VARIANTS)}")
    if solver.order not in (1, 2, 3):
        raise ValueError(f"{where}: order must be 1, 2 or 3, got order={solver.order!r}")
    n = solver.nfe - int(solver.denoise)
    if n < 1:
        raise ValueError(f"{where}: nfe={solver.nfe} leaves no step (denoise={solver.denoise})")
    times, pred, corr = (np.asarray(a, np.float64) for a in (solver.times, solver.pred, solver.corr))
    want = {"times": (n + 1,), "pred": (n, solver.order - 1), "corr": (n - 1, solver.order)}
    for name, arr in (("times", times), ("pred", pred), ("corr", corr)):
        if arr.shape != want[name]:
            raise ValueError(f"{where}: {name} must have shape {want[name]} (nfe={solver.nfe}, order={solver.order},"
                             f" denoise={solver.denoise}), got {name}.shape={arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{where}: {name} has non-finite entries")
    if not np.all(np.diff(times) < 0):
        raise ValueError(f"{where}: times must be strictly decreasing, got times={times.tolist()}")
    return solver._replace(times=times, pred=pred, corr=corr)


_SCALARS = {"base": str, "order": int, "variant": str, "lower_order_final": bool, "denoise": bool, "nfe": int,
            "sde": str}


def save_learned_solver(path: str, solver: LearnedSolver) -> str:
    """Writes `solver` to `path` (.npz: arrays, metadata as 0-d entries, info_* floats), atomically."""
    solver = check_solver(solver)
    entries = {"format": np.asarray(FORMAT), "times": solver.times, "pred": solver.pred, "corr": solver.corr}
    entries.update({k: np.asarray(getattr(solver, k)) for k in _SCALARS})
    entries.update({f"info_{k}": np.asarray(float(v)) for k, v in solver.info.items()})
    tmp = path + ".tmp.npz"
    np.savez(tmp, **entries)
    os.replace(tmp, path)
    return path


def load_learned_solver(path) -> LearnedSolver:
    """Reads a file written by `save_learned_solver` (never unpickled); ValueError naming the path."""
    where = f"learned_solver={str(path)!r}"
    try:
        f = np.load(os.path.expanduser(str(path)), allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            raise ValueError(f"{where} is not a learned-solver file (an .npz archive), got a .npy array")
        with f:
            data = {k: f[k] for k in f.files}
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{where} is not a readable .npz learned-solver file: {e}") from e
    except ValueError as e:
        if str(e).startswith(where):
            raise
        raise ValueError(f"{where} is not a readable .npz learned-solver file: {e}") from e
    if str(data.get("format", "")) != FORMAT:
        raise ValueError(f"{where} is not a learned-solver file (format {FORMAT!r}; write one with "
                         f"fit_learned_solver / --mode calibrate), got format={str(data.get('format'))!r}")
    missing = sorted({"times", "pred", "corr", *_SCALARS} - set(data))
    if missing:
        raise ValueError(f"{where} lacks the entries {missing}")
    try:
        scalars = {k: cast(data[k].item()) for k, cast in _SCALARS.items()}
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where} has a malformed metadata entry: {e}") from e
    info = {k[5:]: float(v) for k, v in data.items() if k.startswith("info_")}
    return check_solver(LearnedSolver(data["times"], data["pred"], data["corr"], info=info, **scalars), where)


# ----- the sampler ---------------------------------------------------------------------------------
def get_learned_sampler(
    sde: SDE,
    shape,
    *,
    learned_solver=None,
    nfe: int | None = None,
    order: int | None = None,
    base: str | None = None,
    variant: str | None = None,
    lower_order_final: bool | None = None,
    eps: float | None = None,
    denoise: bool | None = None,
) -> _common.SampleFn:
    """The learned solver `learned_solver` (a LearnedSolver or the path of its .npz). Options given
    besides it must agree with what it was fitted for (nfe, order, base, ...), and so must `sde`.
    Without it: the unfitted solver, i.e. the base (default UniPC-3, bh2, logsnr grid, nfe 20) with
    zero corrections, which `fit_learned_solver` starts from.
    """
    shape = _common.check_shape(shape)
    given = {"nfe": nfe, "order": order, "base": base, "variant": variant, "lower_order_final": lower_order_final,
             "denoise": denoise}
    if learned_solver is None:
        defaults = {"nfe": 20, "order": 3, "base": "unipc", "variant": "bh2", "lower_order_final": True,
                    "denoise": False}
        opts = {k: defaults[k] if v is None else v for k, v in given.items()}
        check_options(**opts)
        solver = zero_solver(sde, eps=_common.check_eps(sde, eps), **opts)
    else:
        if isinstance(learned_solver, LearnedSolver):
            solver = check_solver(learned_solver)
        elif isinstance(learned_solver, (str, os.PathLike)):
            solver = load_learned_solver(learned_solver)
        else:
            raise ValueError(f"learned_solver must be a LearnedSolver or the path of its .npz, got "
                             f"{type(learned_solver).__name__}")
        for name, value in given.items():
            if value is not None and value != getattr(solver, name):
                raise ValueError(f"learned_solver was fitted for {name}={getattr(solver, name)!r}, got {name}={value!r}")
        if solver.sde != sde_id(sde):
            raise ValueError(f"learned_solver was fitted for sde={solver.sde}, got sde={sde_id(sde)}")
        if not np.isclose(solver.times[0], sde.T, rtol=1e-6, atol=0):
            raise ValueError(f"learned_solver's times must start at T={sde.T}, got times[0]={solver.times[0]!r}")
        if eps is not None and not np.isclose(solver.times[-1], eps, rtol=1e-5, atol=0):
            raise ValueError(f"learned_solver was fitted to end at eps={solver.times[-1]!r}, got eps={eps!r}")

    def sample_fn(key, score_fn, x_init=None):
        x, _ = _common.init_samples(sde, shape, key, x_init)
        _common.check_score_output(score_fn, x)
        return solve(sde, score_fn, x, solver), solver.nfe

    sample_fn.n_steps = len(solver.times) - 1
    sample_fn.solver = solver
    return sample_fn


def check_options(*, nfe, order, base, variant, lower_order_final, denoise) -> None:
    checks.choice("base", base, BASES)
    checks.choice("variant", variant, VARIANTS)
    check_order(order)
    checks.boolean("lower_order_final", lower_order_final)
    checks.boolean("denoise", denoise)
    grids.check_nfe(nfe, 1 + int(denoise), "one step, plus one for denoise")


# ----- the fit -------------------------------------------------------------------------------------
class SolverFit(NamedTuple):
    solver: LearnedSolver  # the iterate with the lowest validation error
    initial_error: float  # error (see `errors`) of the base solver on `init`: errors[0]
    final_error: float  # the same for the returned solver, min(errors) <= initial_error
    errors: np.ndarray  # [n_iters] at each iterate: the (trimmed) relative RMS error on the validation split
    train_errors: np.ndarray  # [n_iters] the same on the training split (the loss the Adam steps lower)
    seconds: float  # wall time of the fit (teacher solve, compilation, iterations)
    initial_times: np.ndarray  # [n_steps + 1] the starting grid


def per_sample_errors(x, teacher, scale):
    """Squared per-sample errors |x_b - teacher_b|^2 / (D * scale), scale = mean(teacher^2): their mean
    is the benchmark's squared relative RMS error, and one above 0.25 (error > 0.5) is a trajectory
    ending in another mode than the teacher's."""
    flat = (x - teacher).reshape(x.shape[0], -1)
    return jnp.sum(flat**2, -1) / (flat.shape[-1] * scale)


def fit_learned_solver(
    sde: SDE,
    shape,
    score_fn,
    *,
    key,
    nfe: int = 10,
    order: int = 3,
    base: str = "unipc",
    variant: str = "bh2",
    lower_order_final: bool = True,
    eps: float | None = None,
    denoise: bool = False,
    init="logsnr",
    n_iters: int = 300,
    times_only_iters: int | None = None,
    validation: float = 0.25,
    trim: float | None = None,
    learning_rate: float = 0.05,
    coefficient_rate: float = 0.003,
    fit_times: bool = True,
    teacher_tol: float = 1e-6,
    progress: bool = True,
) -> SolverFit:
    """Fits the coefficients (and, with `fit_times`, the times) of a learned solver to `score_fn`.

    `shape` is the pilot batch (batch, *data_shape), drawn from the prior with `key` (use other
    noise to evaluate it); its last `validation` fraction is held out of the Adam steps and picks
    the iterate returned, so the returned solver's error on it is never above the base's. `init` is
    the starting grid (a name or explicit times) or a LearnedSolver to continue from. The first
    `times_only_iters` (default: half of `n_iters`) Adam steps move the times alone (the fit of
    `samplers.calibrate_grid`), so the coefficients start from the base solver on its calibrated
    grid; then times and coefficients together. Step sizes: `learning_rate` on the grid's log-SNR
    logits, `coefficient_rate` on the corrections.

    The loss is the relative mean squared error, the mean over the pilots of e_b^2 with e_b the
    relative error of pilot b (`per_sample_errors`), or with `trim` of min(e_b^2, trim^2). A few
    pilots end in another mode than their converged solution (e_b ~ 1; about 1 in 300 at 10 NFE on
    the benchmark's 64-D mixture): they start within the solver's error of a boundary between modes
    (a relative perturbation of 1e-3 of such a start moves its converged end to another mode), so
    which mode they reach depends on their own noise more than on the coefficients; in the plain
    mean they dominate the loss and fit the coefficients to themselves. Trimmed, they count as a
    constant. On the benchmark's 64-D mixture trim=0.25 gave fewer mode switches and a lower median
    error on 4096 other trajectories than the plain mean (README, "Learned solvers"); on a 2-D
    mixture at 5 NFE, where most errors exceed 0.25, the plain mean (the default) is the better fit.
    """
    start = time.perf_counter()
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, eps)
    check_options(nfe=nfe, order=order, base=base, variant=variant, lower_order_final=lower_order_final,
                  denoise=denoise)
    checks.positive_int("n_iters", n_iters)
    times_only_iters = n_iters // 2 if times_only_iters is None else times_only_iters
    checks.integer("times_only_iters", times_only_iters, low=0, high=n_iters - 1)
    checks.fraction("validation", validation)
    n_val = int(round(shape[0] * validation))
    if n_val >= shape[0]:
        raise checks.ArgumentError("validation", validation, message=f"validation must leave pilots to fit to, got "
                                   f"validation={validation!r} of batch {shape[0]}")
    if trim is not None:
        checks.positive("trim", trim)
    checks.positive("learning_rate", learning_rate)
    checks.positive("coefficient_rate", coefficient_rate)
    opts = dict(nfe=nfe, order=order, base=base, variant=variant, lower_order_final=lower_order_final, denoise=denoise)
    if isinstance(init, LearnedSolver):
        solver0 = get_learned_sampler(sde, shape, learned_solver=init, eps=eps, **opts).solver
    else:
        solver0 = zero_solver(sde, eps=eps, grid=init, **opts)
    x_pilot, teacher = calibrate.pilot_and_teacher(sde, shape, score_fn, key=key, eps=eps, tol=teacher_tol,
                                                   denoise=denoise)
    n_fit = shape[0] - n_val
    scale = jnp.mean(teacher**2)
    cap = np.inf if trim is None else trim**2

    def errors_of(params, x, y):  # the (trimmed) relative RMS error on (x, y)
        times = calibrate.grid_from_logits(sde, eps, params["theta"])
        out = solve(sde, score_fn, x, solver0, times, params["pred"], params["corr"])
        return jnp.mean(jnp.minimum(per_sample_errors(out, y, scale), cap))

    labels = {"theta": "times", "pred": "coefficients", "corr": "coefficients"}
    optimizer = optax.multi_transform(
        {"times": optax.adam(learning_rate) if fit_times else optax.set_to_zero(),
         "coefficients": optax.adam(coefficient_rate)}, labels)

    @jax.jit
    def update(params, opt_state, coefficients_on):
        value, grad = jax.value_and_grad(errors_of)(params, x_pilot[:n_fit], teacher[:n_fit])
        held_out = errors_of(params, x_pilot[n_fit:], teacher[n_fit:]) if n_val else value
        finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grad)]))
        grad = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), grad)
        # times only while coefficients_on = 0: Adam's moments of the coefficients stay 0, so do their steps
        grad = {**grad, "pred": grad["pred"] * coefficients_on, "corr": grad["corr"] * coefficients_on}
        updates, new_state = optimizer.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), new_state, value, held_out

    dtype = x_pilot.dtype
    params = {"theta": calibrate.grid_logits(sde, jnp.asarray(solver0.times, dtype)),
              "pred": jnp.asarray(solver0.pred, dtype), "corr": jnp.asarray(solver0.corr, dtype)}
    opt_state = optimizer.init(params)
    n = len(solver0.times) - 1
    best, best_params, errors, train_errors = np.inf, params, [], []
    bar = tqdm(range(n_iters), desc=f"fitting learned {base}-{order} ({n} steps)", disable=not progress)
    for i in bar:
        coefficients_on = jnp.asarray(float(i >= times_only_iters), dtype)
        new_params, opt_state, value, held_out = update(params, opt_state, coefficients_on)
        train_errors.append(float(np.sqrt(value)))
        errors.append(float(np.sqrt(held_out)))
        if held_out < best:  # both values are at params, before this step
            best, best_params = float(held_out), params
        bar.set_postfix(val_err=f"{np.sqrt(best):.2e}")
        params = new_params
    times = np.asarray(calibrate.grid_from_logits(sde, eps, best_params["theta"]), np.float64)
    if not fit_times:  # exactly the starting times, not their round trip through the logits
        times = np.asarray(solver0.times, np.float64)
    pred_mask, corr_mask = history_masks(n, order)
    seconds = time.perf_counter() - start
    errors = np.asarray(errors)
    info = {"pilot_error_init": float(errors[0]), "pilot_error": float(np.min(errors)), "fit_seconds": seconds,
            "pilot": float(shape[0]), "validation": float(n_val), "n_iters": float(n_iters),
            "times_only_iters": float(times_only_iters), "trim": 0.0 if trim is None else float(trim)}
    solver = solver0._replace(times=times, pred=np.asarray(best_params["pred"], np.float64) * pred_mask,
                              corr=np.asarray(best_params["corr"], np.float64) * corr_mask, info=info)
    return SolverFit(check_solver(solver), float(errors[0]), float(np.min(errors)), errors, np.asarray(train_errors),
                     seconds, np.asarray(solver0.times, np.float64))
