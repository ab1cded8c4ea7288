"""The probability-flow ODE dx/dt = f(x, t) - g(t)^2 score(x, t) / 2 (Song et al. 2021, Eq. 13),
integrated by an adaptive Runge--Kutta solver from diffrax, under jit end to end.

Each sample is its own initial-value problem (the solve is `vmap`ped), so its step sizes, its
result and its NFE do not depend on the other samples in the batch.
"""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp

from common import checks
from samplers import _common
from sde_lib import SDE

# name -> (solver class, score evaluations per attempted step). The FSAL pairs (Tsit5, Dopri5,
# Bosh3) reuse a step's last stage as the next one's first; Dopri8 evaluates 13 stages a step.
# Counted against diffrax 0.7 by tests/test_ode.py::test_nfe_is_exact, which counts real calls.
SOLVERS = {
    "tsit5": (diffrax.Tsit5, 6),
    "dopri5": (diffrax.Dopri5, 6),
    "dopri8": (diffrax.Dopri8, 13),
    "bosh3": (diffrax.Bosh3, 3),
}
# Evaluations outside the steps: f at the initial point.
_INITIAL_EVALS = 1


def flow(
    sde: SDE,
    score_fn,
    x,
    *,
    t0: float,
    t1: float,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    solver: str = "tsit5",
    max_steps: int = 8192,
):
    """Integrates the probability-flow ODE from t0 to t1 (either direction) for each sample.

    Returns (x(t1) [B, ...], nfe [B]): nfe counts the score evaluations of each sample's solve.
    """
    checks.choice("solver", solver, SOLVERS)
    solver_cls, evals_per_step = SOLVERS[solver]
    rsde = sde.reverse(score_fn, probability_flow=True)

    def vector_field(t, y, args):
        drift, _ = rsde.sde(y[None], jnp.full((1,), t, y.dtype))
        return drift[0]

    def solve_one(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field),
            solver_cls(),
            t0=t0,
            t1=t1,
            dt0=None,
            y0=y0,
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            saveat=diffrax.SaveAt(t1=True),
            max_steps=max_steps,
        )
        nfe = _INITIAL_EVALS + evals_per_step * sol.stats["num_steps"]
        return sol.ys[0], nfe

    return jax.vmap(solve_one)(x)


def get_ode_sampler(
    sde: SDE,
    shape,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    solver: str = "tsit5",
    eps: float | None = None,
    denoise: bool = True,
    max_steps: int = 8192,
) -> _common.SampleFn:
    """Samples by solving the probability-flow ODE from T to eps; `nfe` is per sample, shape [B]."""
    shape = _common.check_shape(shape)
    eps = _common.check_eps(sde, eps)
    checks.choice("solver", solver, SOLVERS)
    rtol, atol = checks.positive("rtol", rtol), checks.positive("atol", atol)
    max_steps = checks.positive_int("max_steps", max_steps)
    denoise = checks.boolean("denoise", denoise)

    def sample_fn(key, score_fn, x_init=None):
        x, _ = _common.init_samples(sde, shape, key, x_init)
        _common.check_score_output(score_fn, x)
        x, nfe = flow(
            sde, score_fn, x, t0=sde.T, t1=eps, rtol=rtol, atol=atol, solver=solver, max_steps=max_steps
        )
        if denoise:
            x = _common.data_prediction(sde, score_fn, x, eps)
            nfe = nfe + 1
        return x, nfe

    return sample_fn
