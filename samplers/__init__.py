"""Samplers of the reverse-time SDE. Every one is built by `get_sampler` and called as

    samples, nfe = sample_fn(key, score_fn, x_init=None)

where `score_fn(x [B, ...], t [B]) -> [B, ...]` is any callable returning the score. Nothing
here knows about networks or configs, and nothing asks what type of SDE it was given. The
methods and their properties are `METHODS` (`samplers.registry`).
"""

from __future__ import annotations

from samplers import adaptive_sde, dpm_solver, edm, learned, ode, pc, unipc  # noqa: F401
from samplers._common import SampleFn, data_prediction, per_sample_keys
from samplers.controllable import (
    get_classifier_grad_fn,
    get_colorization_sampler,
    get_conditional_sampler,
    get_inpaint_sampler,
)
from samplers.grid_fit import GridFit, calibrate_grid
from samplers.learned import LearnedSolver, SolverFit, fit_learned_solver, load_learned_solver, save_learned_solver
from samplers.likelihood import bits_per_dim, get_bpd_fn, get_likelihood_fn
from samplers.ode import flow
from samplers.registry import METHODS, Method, get_sampler

__all__ = [
    "get_sampler", "METHODS", "Method", "SampleFn", "flow", "calibrate_grid", "GridFit",
    "fit_learned_solver", "SolverFit", "LearnedSolver", "load_learned_solver", "save_learned_solver",
    "per_sample_keys", "data_prediction",
    "get_likelihood_fn", "get_bpd_fn", "bits_per_dim",
    "get_inpaint_sampler", "get_colorization_sampler", "get_conditional_sampler", "get_classifier_grad_fn",
]
