"""The one skeleton of the fixed-step samplers (DDIM, DPM-Solver, DPM-Solver++, UniPC, EDM).

A fixed-step method is a *plan*: given the score evaluations its steps may make, it says how many
grid intervals it takes, how many evaluations they make, and how to integrate over a grid,

    plan(n_evals, **method_options) -> Steps(n_steps, nfe, min_nfe, why, solve),
    solve(sde, score_fn, x [B, ...] at ts[0] = T, ts [n_steps + 1], noise_keys [B]) -> x at ts[-1],

and `fixed_step_method(plan)` makes it a sampler constructor with the options every fixed-step
method shares: the budget `nfe`, the time grid (`grid`, with the exponent `rho` of the karras
grid), the end time `eps` and the final Tweedie step `denoise`. The skeleton checks those, draws
the prior, builds the grid, runs the plan's steps and denoises; the method's file keeps only its
step and its state (e.g. a multistep history).
"""

from __future__ import annotations

import inspect
from typing import Callable, NamedTuple

import jax

from common import checks
from samplers import _common, grids
from sde_lib import SDE


class Steps(NamedTuple):
    """What a fixed-step method makes of `n_evals` score evaluations."""

    n_steps: int  # intervals of the time grid
    nfe: int  # the evaluations the steps make (<= n_evals)
    min_nfe: int  # the fewest evaluations the method can take its steps with
    why: str  # what needs them, e.g. "one Heun step of 2 evaluations"
    solve: Callable  # solve(sde, score_fn, x, ts, noise_keys) -> x at ts[-1]


def segments(orders):
    """Runs of equal order: [3, 3, 2, 1] -> [(3, 0, 2), (2, 2, 3), (1, 3, 4)] as (order, start, stop)."""
    runs = []
    for i, o in enumerate(orders):
        if runs and runs[-1][0] == o:
            runs[-1][2] = i + 1
        else:
            runs.append([o, i, i + 1])
    return [tuple(r) for r in runs]


def scan_orders(step, carry, ts, orders):
    """carry <- step(order, carry, (s, t)) over the grid intervals (ts[i], ts[i + 1]), interval i at
    orders[i]; one `lax.scan` per run of equal order (the order is static inside a scan)."""
    for order, start, stop in segments(orders):
        def body(c, st, order=order):
            return step(order, c, st), None

        carry, _ = jax.lax.scan(body, carry, (ts[start:stop], ts[start + 1 : stop + 1]))
    return carry


def get_fixed_step_sampler(sde: SDE, shape, plan: Callable, *, nfe, grid, rho, eps, denoise) -> _common.SampleFn:
    """The sampler of `plan` (a function of the evaluations left for the steps, nfe - denoise).

    Returns `sample_fn(key, score_fn, x_init=None) -> (samples, nfe)`, nfe the evaluations made;
    `sample_fn.n_steps` is the number of grid intervals (an explicit `grid` has n_steps + 1 times).
    """
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, eps)
    nfe = checks.positive_int("nfe", nfe)
    denoise = checks.boolean("denoise", denoise)
    steps = plan(nfe - int(denoise))
    grids.check_nfe(nfe, steps.min_nfe + int(denoise), steps.why + (", plus one for denoise" if denoise else ""))
    grid = grids.check_grid_options(grid, rho, steps.n_steps, sde=sde, eps=eps)

    def sample_fn(key, score_fn, x_init=None):
        x, noise_keys = _common.init_samples(sde, shape, key, x_init)
        _common.check_score_output(score_fn, x)
        ts = grids.timesteps(sde, steps.n_steps, grid=grid, eps=eps, rho=rho)
        x = steps.solve(sde, score_fn, x, ts, noise_keys)
        if denoise:  # at the grid's end, ts[-1] = eps
            x = _common.data_prediction(sde, score_fn, x, ts[-1])
        return x, steps.nfe + int(denoise)

    sample_fn.n_steps = steps.n_steps
    return sample_fn


def fixed_step_method(plan: Callable, *, name: str, nfe: int = 20, grid="logsnr") -> Callable:
    """The constructor `name(sde, shape, *, nfe, grid, rho, eps, denoise, **method options)` of the
    fixed-step method `plan`, whose keyword-only arguments are the method's own options; `nfe` and
    `grid` are the method's defaults. Its signature lists every option, so `inspect.signature` (and
    `get_sampler`'s check of option names) sees them all; its docstring is the plan's."""

    def constructor(sde: SDE, shape, *, nfe: int = nfe, grid=grid, rho: float = 7.0, eps: float | None = None,
                    denoise: bool = False, **options) -> _common.SampleFn:
        return get_fixed_step_sampler(sde, shape, lambda n_evals: plan(n_evals, **options), nfe=nfe, grid=grid,
                                      rho=rho, eps=eps, denoise=denoise)

    shared = inspect.signature(constructor)
    own = [p for p in inspect.signature(plan).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    params = [p for p in shared.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    constructor.__signature__ = shared.replace(parameters=params + own)
    constructor.__name__ = constructor.__qualname__ = name
    constructor.__doc__ = plan.__doc__
    constructor.__module__ = plan.__module__
    return constructor
