"""Time grids for the fixed-step samplers, and the checks of the options they share.

A grid is M + 1 decreasing times t_0 = T > t_1 > ... > t_M = eps. Every grid is defined
through the SDE's log-SNR lambda(t) = log(alpha / sigma) and its inverse, so it means the same
thing for VP, sub-VP and VE:

- `uniform_t`: uniform in t (Song et al. 2021).
- `logsnr`: uniform in lambda (Lu et al. 2022, DPM-Solver, Sec. 3.3 "time step schedule").
- `karras`: the rho-schedule of Karras et al. 2022 (EDM, Eq. 5) in sigma_EDM = sigma / alpha
  = exp(-lambda): sigma_i = (sigma_max^(1/rho) + i / M (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho.
- an explicit grid: any M + 1 strictly decreasing times from T to eps, e.g. one fitted to a model
  by `samplers.calibrate_grid`. A fixed-step sample_fn carries its M as `sample_fn.n_steps`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from common import checks
from sde_lib import SDE
from sde_lib.base import Array

GRIDS = ("uniform_t", "logsnr", "karras")


def check_grid_options(grid, rho: float, n_steps: int | None = None, *, sde: SDE | None = None,
                       eps: float | None = None):
    """Checks `grid` (a name in GRIDS or explicit times) and `rho`; returns the grid to use.

    Explicit times must be a 1-D float array of n_steps + 1 entries; when their values are known
    (not traced) they must be finite, strictly decreasing, and run from sde.T to eps.
    """
    checks.positive("rho", rho)

    def bad(message):
        return checks.ArgumentError("grid", grid, message=message)

    if isinstance(grid, str):
        if grid not in GRIDS:
            raise bad(f"unknown grid {grid!r}; valid: {sorted(GRIDS)} or an array of times")
        return grid
    shape = getattr(grid, "shape", None)
    if shape is None:
        try:
            grid = np.asarray(grid, np.float64)
        except (TypeError, ValueError):
            raise bad(f"grid must be one of {sorted(GRIDS)} or an array of times, got grid={grid!r}")
        shape = grid.shape
    if len(shape) != 1 or (n_steps is not None and shape[0] != n_steps + 1):
        want = "n_steps + 1 times" if n_steps is None else f"{n_steps + 1} times (this sampler takes {n_steps} steps)"
        raise bad(f"an explicit grid must be a 1-D array of {want}, got grid.shape={tuple(shape)}")
    if isinstance(grid, jax.core.Tracer):  # fitted inside a trace (calibrate_grid): no value checks
        return grid
    ts = np.asarray(grid, np.float64)
    if not (np.all(np.isfinite(ts)) and np.all(np.diff(ts) < 0)):
        raise bad(f"an explicit grid must be finite and strictly decreasing, got grid={ts.tolist()}")
    if sde is not None and not np.isclose(ts[0], sde.T, rtol=1e-6, atol=0):
        raise bad(f"an explicit grid must start at T={sde.T}, got grid[0]={float(ts[0])!r}")
    if eps is not None and not np.isclose(ts[-1], eps, rtol=1e-5, atol=0):
        raise bad(f"an explicit grid must end at the sampler's eps={eps!r}, got grid[-1]={float(ts[-1])!r}")
    return jnp.asarray(ts, jnp.result_type(float))


def check_nfe(nfe, minimum: int, why: str) -> None:
    """`nfe` must be an integer >= `minimum`; `why` says what needs that many evaluations."""
    checks.integer("nfe", nfe)
    if nfe < minimum:
        raise checks.ArgumentError("nfe", nfe, f">= {minimum} ({why})")


def timesteps(sde: SDE, n_steps: int, *, grid, eps: float, rho: float = 7.0) -> Array:
    """The n_steps + 1 times from T down to eps (both ends exact), as a [n_steps + 1] array."""
    grid = check_grid_options(grid, rho, n_steps, sde=sde, eps=eps)
    t_max, t_min = jnp.asarray(sde.T, jnp.result_type(float)), jnp.asarray(eps, jnp.result_type(float))
    frac = jnp.linspace(0.0, 1.0, n_steps + 1)
    if not isinstance(grid, str):
        ts = jnp.asarray(grid, t_max.dtype)
    elif grid == "uniform_t":
        ts = t_max + frac * (t_min - t_max)
    elif grid == "logsnr":
        lam_max, lam_min = sde.log_snr(t_min), sde.log_snr(t_max)
        ts = sde.t_from_log_snr(lam_min + frac * (lam_max - lam_min))
    elif grid == "karras":  # in sigma_EDM = exp(-lambda), spaced uniformly in sigma^(1/rho)
        inv_rho_max = jnp.exp(-sde.log_snr(t_max) / rho)
        inv_rho_min = jnp.exp(-sde.log_snr(t_min) / rho)
        log_sigma_edm = rho * jnp.log(inv_rho_max + frac * (inv_rho_min - inv_rho_max))
        ts = sde.t_from_log_snr(-log_sigma_edm)
    # Pin the ends: the inverse log-SNR is exact only up to rounding.
    return ts.at[0].set(t_max).at[-1].set(t_min)


def sigma_edm(sde: SDE, t: Array) -> Array:
    """sigma_EDM(t) = sigma(t) / alpha(t) = exp(-lambda(t)) (Karras et al. 2022, Sec. 2)."""
    return jnp.exp(-sde.log_snr(t))


def t_from_sigma_edm(sde: SDE, sigma: Array) -> Array:
    """The time at which sigma(t) / alpha(t) = sigma."""
    return sde.t_from_log_snr(-jnp.log(sigma))
