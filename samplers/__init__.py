"""Samplers of the reverse-time SDE. Every one is built by `get_sampler` and called as

    samples, nfe = sample_fn(key, score_fn, x_init=None)

where `score_fn(x [B, ...], t [B]) -> [B, ...]` is any callable returning the score. Nothing
here knows about networks or configs, and nothing asks what type of SDE it was given.
"""

from __future__ import annotations

from samplers import ode, pc
from samplers._common import SampleFn, per_sample_keys, tweedie_denoise
from samplers.ode import flow
from sde_lib import SDE

# The one place sampler names map to constructors.
METHODS = {
    "pc": pc.get_pc_sampler,
    "ode": ode.get_ode_sampler,
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


__all__ = ["get_sampler", "METHODS", "SampleFn", "flow", "per_sample_keys", "tweedie_denoise"]
