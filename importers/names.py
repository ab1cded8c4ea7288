"""The one table from the paper's parameter names (score_sde, Song et al. 2021, `models/*.py`) to ours.

Measured on the paper's code at commit 0acb9e0 (NCSN++, DDPM++, DDPM); every difference is a
module name, never a layer's meaning:

    paper (flax)                              ours
    GaussianFourierProjection_0, Dense_0/1    TimeEmbedding_0/{GaussianFourierProjection_0, Dense_0/1}
      (top level: the noise-level embedding)
    ResnetBlockBigGANpp_i                     ResnetBlockBigGAN_i
    ResnetBlockDDPMpp_i                       ResnetBlockDDPM_i
    AttnBlockpp_i                             AttnBlock_i
    NIN_k/{W, b}                              Dense_(n + k)/{kernel, bias}, n = the Dense layers
                                              beside it (the DDPM block's shortcut NIN_0 is
                                              Dense_1 after its embedding Dense_0)
    Conv2d_k/{weight, bias} (FIR conv)        FIRConv_k/{weight, bias}

Everything else (Conv_k, GroupNorm_k, Combine_k, Downsample_k, Upsample_k, the leaves kernel,
bias, scale, W) is the same, and so are the NCSN / NCSNv2 networks, which use the paper's module
names. The array layouts agree too: a NIN's W is already (in, out) like a Dense kernel.

Why a table rather than the paper's names in our modules: our names say what a layer is (a NIN
is a dense layer on the channel axis; the time embedding is one module), every checkpoint written
by our own training keeps loading unchanged, and the whole difference is these few lines, applied
in one place to JAX and (after the layout conversion of `torch_pth`) to PyTorch checkpoints.
"""

from __future__ import annotations

import re
from typing import Iterable

Path = tuple[str, ...]

# Module classes renamed at any depth: paper -> ours.
MODULE_RENAMES = {
    "ResnetBlockBigGANpp": "ResnetBlockBigGAN",
    "ResnetBlockDDPMpp": "ResnetBlockDDPM",
    "AttnBlockpp": "AttnBlock",
    "Conv2d": "FIRConv",
    "NIN": "Dense",
}
# Leaves renamed inside a renamed module (keyed by the paper's class).
LEAF_RENAMES = {"NIN": {"W": "kernel", "b": "bias"}}
# Top-level modules of the paper's U-Nets that our networks keep inside one embedding module.
TIME_EMBEDDING = "TimeEmbedding_0"
TIME_EMBEDDING_PARTS = ("GaussianFourierProjection_0", "Dense_0", "Dense_1")

_NAME = re.compile(r"^(.*)_(\d+)$")


def split_name(name: str) -> tuple[str, int | None]:
    """'NIN_3' -> ('NIN', 3); a name without an index -> (name, None)."""
    m = _NAME.match(name)
    return (m.group(1), int(m.group(2))) if m else (name, None)


def _rename_children(children: Iterable[str]) -> dict[str, str]:
    """Our names of one module's child modules (given by their paper names)."""
    children = set(children)
    n_dense = sum(1 for c in children if split_name(c)[0] == "Dense")
    out = {}
    for child in children:
        cls, index = split_name(child)
        if index is None or cls not in MODULE_RENAMES:
            out[child] = child
        elif cls == "NIN":
            out[child] = f"Dense_{n_dense + index}"
        else:
            out[child] = f"{MODULE_RENAMES[cls]}_{index}"
    return out


def to_ours(paths: Iterable[Path], ours: set[Path] | None = None) -> dict[Path, Path]:
    """Maps every parameter path of a paper checkpoint (a tuple of names, leaf last) to ours.

    `ours`, the parameter paths of the model built from the config, decides the one rule that
    depends on the network: the paper's top-level embedding layers go into `TimeEmbedding_0` only
    where our model has one (the NCSN networks keep their own top level). Paths that our names
    already use (ours in, ours out) map to themselves, so the function is idempotent.
    """
    paths = [tuple(p) for p in paths]
    children: dict[Path, set[str]] = {}
    for p in paths:
        for depth in range(len(p) - 1):
            children.setdefault(p[:depth], set()).add(p[depth])
    renames = {parent: _rename_children(names) for parent, names in children.items()}
    mapping = {}
    for p in paths:
        new = [renames[p[:depth]][p[depth]] for depth in range(len(p) - 1)]
        cls = split_name(p[-2])[0] if len(p) >= 2 else None
        new.append(LEAF_RENAMES.get(cls, {}).get(p[-1], p[-1]))
        if len(p) == 2 and p[0] in TIME_EMBEDDING_PARTS:
            nested = (TIME_EMBEDDING, *new)
            if ours is None or nested in ours:
                new = list(nested)
        mapping[p] = tuple(new)
    return mapping
