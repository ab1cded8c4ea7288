"""Samplers of the reverse-time SDE. Every one is built by `get_sampler` and called as

    samples, nfe = sample_fn(key, score_fn, x_init=None)

where `score_fn(x [B, ...], t [B]) -> [B, ...]` is any callable returning the score. Nothing
here knows about networks or configs, and nothing asks what type of SDE it was given.
"""

from __future__ import annotations

from samplers import adaptive_sde, dpm_solver, edm, learned, ode, pc, unipc
from samplers._common import SampleFn, per_sample_keys, tweedie_denoise
from samplers.calibrate import GridFit, calibrate_grid
from samplers.controllable import (
    get_classifier_grad_fn,
    get_colorization_sampler,
    get_conditional_sampler,
    get_inpaint_sampler,
)
from samplers.learned import LearnedSolver, SolverFit, fit_learned_solver, load_learned_solver, save_learned_solver
from samplers.likelihood import bits_per_dim, get_bpd_fn, get_likelihood_fn
from samplers.ode import flow
from sde_lib import SDE

# The one place sampler names map to constructors.
METHODS = {
    "pc": pc.get_pc_sampler,
    "ode": ode.get_ode_sampler,
    "ddim": dpm_solver.get_ddim_sampler,
    "dpm_solver": dpm_solver.get_dpm_solver_sampler,
    "dpmpp_2m": dpm_solver.get_dpmpp_2m_sampler,
    "dpmpp_3m": dpm_solver.get_dpmpp_3m_sampler,
    "unipc": unipc.get_unipc_sampler,
    "edm_heun": edm.get_edm_heun_sampler,
    "edm_stochastic": edm.get_edm_stochastic_sampler,
    "adaptive_sde": adaptive_sde.get_adaptive_sde_sampler,
    "learned": learned.get_learned_sampler,
}


def get_sampler(sde: SDE, shape, method: str = "pc", **options) -> SampleFn:
    """Builds `sample_fn(key, score_fn, x_init=None) -> (samples, nfe)` for `sde` and `shape`.

    `options` are the keyword arguments of the method's constructor (e.g. `pc.get_pc_sampler`).
    Bad names and values raise `ValueError` here, before anything is compiled.
    """
    if method not in METHODS:
        raise ValueError(f"unknown sampling method {method!r}; valid: {sorted(METHODS)}")
    import inspect

    params = inspect.signature(METHODS[method]).parameters
    valid = sorted(p for p in params if params[p].kind is inspect.Parameter.KEYWORD_ONLY)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method={method!r}; valid: {valid}")
    return METHODS[method](sde, shape, **options)


__all__ = [
    "get_sampler", "METHODS", "SampleFn", "flow", "calibrate_grid", "GridFit",
    "fit_learned_solver", "SolverFit", "LearnedSolver", "load_learned_solver", "save_learned_solver", "per_sample_keys", "tweedie_denoise",
    "get_likelihood_fn", "get_bpd_fn", "bits_per_dim",
    "get_inpaint_sampler", "get_colorization_sampler", "get_conditional_sampler", "get_classifier_grad_fn",
]
