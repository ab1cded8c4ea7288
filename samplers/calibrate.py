"""Fitting a fixed-step sampler's time grid to a score function, once, before sampling with it.

Where a score's trajectories bend depends on the data: for well-separated modes, the
probability-flow ODE is stiff in the short range of log-SNR where each trajectory commits to a
mode, and grids fixed in advance (`logsnr`, `karras`) spend few steps there. Following LD3
(Tong et al., "Learning to Discretize Denoising Diffusion ODEs", ICLR 2025) and in the spirit of
"Align Your Steps" (Sabour et al., ICML 2024), the grid is fitted by gradient descent through the
sampler itself: on a small pilot batch drawn from the prior, the relative mean squared distance
between the sampler's output and the converged probability-flow solution from the same noise
(the teacher, diffrax Dopri5 at a tight tolerance) is minimised over the grid's log-SNR steps

    lambda_i = lambda(T) + (lambda(eps) - lambda(T)) sum_{j < i} softmax(theta)_j,

so that the ends stay at T and eps and the times stay strictly decreasing. The fitted grid is an
explicit `grid=` for the same method and options; sampling with it costs exactly the NFE of the
method, and the fit is paid once (n_iters sampler runs, forward and backward, on the pilot batch).
Check the fit on noise other than the pilot's: it is fitted to these trajectories.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from samplers import _common, grids
from samplers.ode import flow
from sde_lib import SDE

# The deterministic fixed-step methods: their output is a function of the noise and the grid.
CALIBRATABLE = ("ddim", "dpm_solver", "dpmpp_2m", "dpmpp_3m", "unipc", "edm_heun")


class GridFit(NamedTuple):
    grid: np.ndarray  # [n_steps + 1] times from T down to eps: pass as grid=
    initial_error: float  # relative RMS error against the teacher on the pilot batch, initial grid
    final_error: float  # the same with the fitted grid
    errors: np.ndarray  # [n_iters] the pilot error at each iteration
    initial_grid: np.ndarray  # [n_steps + 1] the starting times (init)


def pilot_and_teacher(sde: SDE, shape, score_fn, *, key, eps: float, tol: float, denoise: bool):
    """The pilot batch x_T ([B, ...], drawn from the prior with `key` as a sampler would) and the
    converged probability-flow solution from it (diffrax Dopri5 at rtol = atol = tol; then Tweedie
    denoised if `denoise`): what a fitted sampler is compared with."""
    x_pilot, _ = _common.init_samples(sde, shape, key, None)
    teacher, _ = jax.jit(lambda x: flow(sde, score_fn, x, t0=sde.T, t1=eps, rtol=tol, atol=tol,
                                        solver="dopri5"))(x_pilot)
    if denoise:
        teacher = _common.tweedie_denoise(sde, score_fn, teacher, eps)
    return x_pilot, teacher


def grid_from_logits(sde: SDE, eps: float, theta):
    """The grid whose log-SNR steps are the fractions softmax(theta) of lambda(eps) - lambda(T):
    [len(theta) + 1] times from T to eps, strictly decreasing for any finite theta."""
    lam_start, lam_end = sde.log_snr(jnp.asarray(sde.T)), sde.log_snr(jnp.asarray(eps))
    frac = jnp.concatenate([jnp.zeros(1), jnp.cumsum(jax.nn.softmax(theta))])
    ts = sde.t_from_log_snr(lam_start + (lam_end - lam_start) * frac)
    return ts.at[0].set(sde.T).at[-1].set(eps)


def grid_logits(sde: SDE, ts):
    """theta with grid_from_logits(sde, ts[-1], theta) = ts (up to rounding)."""
    return jnp.log(jnp.diff(sde.log_snr(jnp.asarray(ts))))


def fit_best(update, params, opt_state, *, n_iters: int, desc: str, progress: bool):
    """Runs `n_iters` steps `params, opt_state, loss = update(params, opt_state)` (the loss at the params
    before the step) and keeps the best iterate seen, with a progress bar named `desc`.

    Returns (best_params, errors, best_error): errors[i] = sqrt(loss) at the i-th iterate (the relative RMS
    error for the losses here), best_error = sqrt of the smallest loss.
    """
    best, best_params, errors = np.inf, params, []
    bar = tqdm(range(n_iters), desc=desc, disable=not progress)
    for _ in bar:
        new_params, opt_state, value = update(params, opt_state)
        value = float(value)
        errors.append(np.sqrt(value))
        if value < best:  # value is the loss at params, before this update
            best, best_params = value, params
        bar.set_postfix(rel_err=f"{np.sqrt(best):.2e}")
        params = new_params
    return best_params, np.asarray(errors), float(np.sqrt(best))


def calibrate_grid(
    sde: SDE,
    shape,
    method: str,
    score_fn,
    *,
    key,
    n_iters: int = 200,
    learning_rate: float = 0.05,
    init="logsnr",
    teacher_tol: float = 1e-6,
    progress: bool = True,
    **options,
) -> GridFit:
    """Fits the time grid of `get_sampler(sde, shape, method, **options)` to `score_fn`.

    `shape` is the pilot batch (batch, *data_shape), drawn from the prior with `key`; `init` is the
    starting grid (a name or explicit times). Returns the grid with the lowest pilot error seen.
    """
    from samplers import get_sampler  # the registry imports this module's package

    if method not in CALIBRATABLE:
        raise ValueError(f"calibrate_grid needs a deterministic fixed-step method, got method={method!r}; "
                         f"valid: {sorted(CALIBRATABLE)}")
    if "grid" in options:
        raise ValueError("calibrate_grid fits the grid: pass the starting grid as init=, not grid=")
    if not (isinstance(n_iters, int) and n_iters >= 1):
        raise ValueError(f"n_iters must be an integer >= 1, got n_iters={n_iters!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got learning_rate={learning_rate!r}")
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, options.get("eps"))
    first = get_sampler(sde, shape, method, grid=init, **options)
    n_steps = first.n_steps
    ts0 = grids.timesteps(sde, n_steps, grid=init, eps=eps, rho=options.get("rho", 7.0))

    x_pilot, teacher = pilot_and_teacher(sde, shape, score_fn, key=key, eps=eps, tol=teacher_tol,
                                         denoise=options.get("denoise", False))
    scale = jnp.mean(teacher**2)
    grid_of = lambda theta: grid_from_logits(sde, eps, theta)  # noqa: E731

    def loss(theta):
        sample_fn = get_sampler(sde, shape, method, grid=grid_of(theta), **options)
        x, _ = sample_fn(key, score_fn, x_pilot)
        return jnp.mean((x - teacher) ** 2) / scale

    optimizer = optax.adam(learning_rate)

    @jax.jit
    def update(theta, opt_state):
        value, grad = jax.value_and_grad(loss)(theta)
        finite = jnp.all(jnp.isfinite(grad))
        updates, new_state = optimizer.update(jnp.where(finite, grad, 0.0), opt_state)
        return optax.apply_updates(theta, updates), new_state, value

    theta = grid_logits(sde, ts0)
    opt_state = optimizer.init(theta)
    best_theta, errors, best_error = fit_best(update, theta, opt_state, n_iters=n_iters,
                                              desc=f"calibrating {method} grid ({n_steps} steps)", progress=progress)
    return GridFit(np.asarray(grid_of(best_theta), np.float64), float(errors[0]), best_error, errors,
                   np.asarray(ts0, np.float64))
