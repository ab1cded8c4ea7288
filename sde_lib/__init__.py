"""Forward SDEs with Gaussian perturbation kernels: VP, sub-VP and VE (Song et al., ICLR 2021)."""

from common import checks
from sde_lib.base import SDE, ReverseSDE, ScoreFn, batch_mul
from sde_lib.mixture import GaussianMixture
from sde_lib.ve import VESDE
from sde_lib.vp import VPSDE, subVPSDE

# The one place SDE names map to constructors (configs and main.py use it).
SDES = {"vpsde": VPSDE, "subvpsde": subVPSDE, "vesde": VESDE}


def get_sde(name: str, **kwargs) -> SDE:
    """Builds an SDE from its name (`vpsde`, `subvpsde`, `vesde`) and keyword arguments."""
    if name not in SDES:
        raise checks.ArgumentError("name", name, message=f"unknown SDE {name!r}; valid names: {sorted(SDES)}")
    return SDES[name](**kwargs)


__all__ = [
    "SDE", "ReverseSDE", "ScoreFn", "VPSDE", "subVPSDE", "VESDE", "GaussianMixture",
    "SDES", "get_sde", "batch_mul",
]
