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
Check the fit on noise other than the pilot's: it is fitted to these trajectories. The methods it
can fit are those whose `samplers.METHODS` entry is `calibratable`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from common import checks
from samplers import _common, calibrate, grids, registry
from sde_lib import SDE


class GridFit(NamedTuple):
    grid: np.ndarray  # [n_steps + 1] times from T down to eps: pass as grid=
    initial_error: float  # relative RMS error against the teacher on the pilot batch, initial grid
    final_error: float  # the same with the fitted grid
    errors: np.ndarray  # [n_iters] the pilot error at each iteration
    initial_grid: np.ndarray  # [n_steps + 1] the starting times (init)


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
    """Fits the time grid of `samplers.get_sampler(sde, shape, method, **options)` to `score_fn`.

    `shape` is the pilot batch (batch, *data_shape), drawn from the prior with `key`; `init` is the
    starting grid (a name or explicit times). Returns the grid with the lowest pilot error seen.
    """
    if method not in registry.METHODS or not registry.METHODS[method].calibratable:
        raise checks.ArgumentError("method", method, message=f"calibrate_grid needs a deterministic fixed-step "
                                   f"method, got method={method!r}; valid: {registry.names(calibratable=True)}")
    if "grid" in options:
        raise checks.ArgumentError("grid", options["grid"], message="calibrate_grid fits the grid: pass the "
                                   "starting grid as init=, not grid=")
    n_iters = checks.positive_int("n_iters", n_iters)
    learning_rate = checks.positive("learning_rate", learning_rate)
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, options.get("eps"))
    first = registry.get_sampler(sde, shape, method, grid=init, **options)
    n_steps = first.n_steps
    ts0 = grids.timesteps(sde, n_steps, grid=init, eps=eps, rho=options.get("rho", 7.0))

    x_pilot, teacher = calibrate.pilot_and_teacher(sde, shape, score_fn, key=key, eps=eps, tol=teacher_tol,
                                                   denoise=options.get("denoise", False))
    scale = jnp.mean(teacher**2)
    grid_of = lambda theta: calibrate.grid_from_logits(sde, eps, theta)  # noqa: E731

    def loss(theta):
        sample_fn = registry.get_sampler(sde, shape, method, grid=grid_of(theta), **options)
        x, _ = sample_fn(key, score_fn, x_pilot)
        return jnp.mean((x - teacher) ** 2) / scale

    optimizer = optax.adam(learning_rate)

    @jax.jit
    def update(theta, opt_state):
        value, grad = jax.value_and_grad(loss)(theta)
        finite = jnp.all(jnp.isfinite(grad))
        updates, new_state = optimizer.update(jnp.where(finite, grad, 0.0), opt_state)
        return optax.apply_updates(theta, updates), new_state, value

    theta = calibrate.grid_logits(sde, ts0)
    opt_state = optimizer.init(theta)
    best_theta, errors, best_error = calibrate.fit_best(
        update, theta, opt_state, n_iters=n_iters, desc=f"calibrating {method} grid ({n_steps} steps)",
        progress=progress)
    return GridFit(np.asarray(grid_of(best_theta), np.float64), float(errors[0]), best_error, errors,
                   np.asarray(ts0, np.float64))
