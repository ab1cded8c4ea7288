"""The one place sampler names map to constructors, with what each method is.

Calibration, the benchmark, the config checks and the tests read these properties instead of
keeping lists of names: a new fixed-step method is its file and one entry here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import Callable

from common import checks
from samplers import adaptive_sde, dpm_solver, edm, learned, ode, pc, unipc
from samplers._common import SampleFn
from sde_lib import SDE


@dataclasses.dataclass(frozen=True)
class Method:
    """A sampler constructor `builder(sde, shape, **options)` and its properties."""

    builder: Callable
    deterministic: bool  # the samples are a function of the prior draw (no noise along the way)
    fixed_step: bool  # spends a fixed budget `nfe` on a fixed number of steps (`sample_fn.n_steps`)
    takes_grid: bool = False  # built on `samplers.fixed_step`: takes `grid` (explicit times too), `rho`
    orders: tuple[int, ...] = ()  # the orders its `order` option takes (one: fixed by the method)
    nfe_per_step: int | None = None  # score evaluations per step at its default options

    @property
    def calibratable(self) -> bool:
        """`calibrate_grid` can fit its grid: the output is a function of the noise and the grid."""
        return self.deterministic and self.takes_grid

    @property
    def options(self) -> tuple[str, ...]:
        """The option names it takes (keyword-only; those a `functools.partial` fixes excluded)."""
        fixed = self.builder.keywords if isinstance(self.builder, functools.partial) else {}
        params = inspect.signature(self.builder).parameters.values()
        return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in fixed)


def _on_grid(builder, *, orders, nfe_per_step, deterministic=True) -> Method:
    """A method built on the fixed-step skeleton (`samplers.fixed_step`)."""
    return Method(builder, deterministic, fixed_step=True, takes_grid=True, orders=orders, nfe_per_step=nfe_per_step)


METHODS = {
    "pc": Method(pc.get_pc_sampler, deterministic=False, fixed_step=False),
    "ode": Method(ode.get_ode_sampler, deterministic=True, fixed_step=False),
    "ddim": _on_grid(dpm_solver.get_ddim_sampler, orders=(1,), nfe_per_step=1),
    "dpm_solver": _on_grid(dpm_solver.get_dpm_solver_sampler, orders=(1, 2, 3), nfe_per_step=3),
    "dpmpp_2m": _on_grid(dpm_solver.get_dpmpp_2m_sampler, orders=(2,), nfe_per_step=1),
    "dpmpp_3m": _on_grid(dpm_solver.get_dpmpp_3m_sampler, orders=(3,), nfe_per_step=1),
    "unipc": _on_grid(unipc.get_unipc_sampler, orders=(1, 2, 3), nfe_per_step=1),
    "edm_heun": _on_grid(edm.get_edm_heun_sampler, orders=(2,), nfe_per_step=2),
    "edm_stochastic": _on_grid(edm.get_edm_stochastic_sampler, orders=(2,), nfe_per_step=2, deterministic=False),
    "adaptive_sde": Method(adaptive_sde.get_adaptive_sde_sampler, deterministic=False, fixed_step=False),
    "learned": Method(learned.get_learned_sampler, deterministic=True, fixed_step=True, orders=(1, 2, 3),
                      nfe_per_step=1),
}


def names(**properties) -> list[str]:
    """The methods whose properties have the given values, e.g. names(calibratable=True), sorted."""
    return sorted(n for n, m in METHODS.items() if all(getattr(m, k) == v for k, v in properties.items()))


def get_sampler(sde: SDE, shape, method: str = "pc", **options) -> SampleFn:
    """Builds `sample_fn(key, score_fn, x_init=None) -> (samples, nfe)` for `sde` and `shape`.

    `options` are the keyword arguments of the method's constructor (e.g. `pc.get_pc_sampler`).
    Bad names and values raise `ValueError` here, before anything is compiled.
    """
    entry = METHODS[checks.choice("method", method, METHODS)]
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        raise checks.ArgumentError(unknown[0], options[unknown[0]], message=(
            f"unknown option(s) {unknown} for method={method!r}; valid: {sorted(entry.options)}"))
    return entry.builder(sde, shape, **options)
