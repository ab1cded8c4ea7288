"""The pieces of fitting a sampler to a score, before sampling with it: the pilot batch and the
converged probability-flow solution from it (the teacher), the softmax parametrisation of a time
grid in log-SNR, and the Adam loop that keeps the best iterate. A grid is fitted by
`samplers.grid_fit.calibrate_grid`, a learned solver's coefficients by
`samplers.learned.fit_learned_solver`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from samplers import _common
from samplers.ode import flow
from sde_lib import SDE


def pilot_and_teacher(sde: SDE, shape, score_fn, *, key, eps: float, tol: float, denoise: bool):
    """The pilot batch x_T ([B, ...], drawn from the prior with `key` as a sampler would) and the
    converged probability-flow solution from it (diffrax Dopri5 at rtol = atol = tol; then Tweedie
    denoised if `denoise`): what a fitted sampler is compared with."""
    x_pilot, _ = _common.init_samples(sde, shape, key, None)
    teacher, _ = jax.jit(lambda x: flow(sde, score_fn, x, t0=sde.T, t1=eps, rtol=tol, atol=tol,
                                        solver="dopri5"))(x_pilot)
    if denoise:
        teacher = _common.data_prediction(sde, score_fn, teacher, eps)
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
