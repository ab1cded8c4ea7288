"""score_sde_pytorch checkpoints: the `checkpoint_<n>.pth` dicts of its `utils.save_checkpoint`,

    {'model': DataParallel state_dict ('module.' keys), 'ema': {decay, num_updates, shadow_params},
     'optimizer': torch Adam state_dict, 'step': int}

read with `torch.load(weights_only=True)` (never by plain unpickling) from the optional extra
`pip install -e ".[torch]"`; torch is imported here only, so the core install does not need it.

Layouts: the paper's PyTorch networks keep their top-level layers in `all_modules.<i>`, in the order
the forward pass uses them, which is the order in which our flax modules are created; `i` is matched
to our i-th top-level module with parameters (with the time embedding's layers counted one by one).
Inside a block the PyTorch names are the paper's flax names (GroupNorm_0, Conv_1, NIN_0, ...), so
after converting the leaves (below) the one table of `names` applies:

    GroupNorm weight / bias              -> scale / bias
    Conv (nn.Conv2d) weight [O, I, H, W] -> kernel [H, W, I, O]
    Linear weight [out, in]              -> kernel [in, out]
    FIR Conv2d weight [O, I, H, W]       -> weight [H, W, I, O]
    NIN W [in, out], b; Fourier W        -> unchanged

`ema.shadow_params` lists only parameters with requires_grad, in `model.parameters()` order: every
parameter but the Fourier features' W, which the EMA (like the paper's `ema.copy_to`) takes from the
model. Adam's `exp_avg` / `exp_avg_sq` map to optax's mu / nu where the optimizer has been stepped.
"""

from __future__ import annotations

import numpy as np

from importers import names
from importers.convert import AdamMoments, PaperCheckpoint

SOURCE = "PyTorch .pth"
INSTALL_HINT = 'reading PyTorch checkpoints needs torch: pip install -e ".[torch]" (the CPU build is enough)'

# Registered buffers of the paper's networks (not parameters).
BUFFERS = {"sigmas"}
# Parameters created with requires_grad=False, so left out of the EMA's shadow_params.
FROZEN = {"GaussianFourierProjection"}
# torch leaf name -> flax leaf name, by module class.
LEAVES = {"GroupNorm": {"weight": "scale"}, "Conv": {"weight": "kernel"}, "Dense": {"weight": "kernel"}}


def _torch():
    try:
        import torch  # lazy: torch is optional (the [torch] extra), needed only to read a .pth
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return torch


def _array(tensor, torch_leaf: str) -> np.ndarray:
    a = tensor.detach().cpu().numpy()
    if a.ndim == 4:  # [O, I, H, W] -> [H, W, I, O]
        return a.transpose(2, 3, 1, 0)
    if a.ndim == 2 and torch_leaf == "weight":  # nn.Linear [out, in] -> [in, out]
        return a.T
    return a


def top_level_modules(ours) -> list[names.Path]:
    """Our top-level modules with parameters, in creation order; the time embedding's layers one by one."""
    tops = []
    for p in ours:
        top = p[:2] if p[0] == names.TIME_EMBEDDING else p[:1]
        if top not in tops:
            tops.append(top)
    return tops


def read(path: str, ours) -> PaperCheckpoint:
    """The checkpoint at `path` in our names (`ours`: our parameter paths, in creation order)."""
    torch = _torch()
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, bad pickle, or an object weights_only refuses
        raise ValueError(f"cannot read {SOURCE} checkpoint {path}: corrupt, truncated or not a plain "
                         f"state dict ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from e
    missing = [k for k in ("model", "ema", "step") if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise ValueError(f"{SOURCE} checkpoint {path} lacks {missing}: not a score_sde_pytorch checkpoint")

    tops = top_level_modules(ours)
    keys, paper_paths = [], []  # parameters (not buffers), in state_dict = model.parameters() order
    for key in ckpt["model"]:
        parts = key.split(".")[1:] if key.startswith("module.") else key.split(".")
        if len(parts) == 1 and parts[0] in BUFFERS:
            continue
        if parts[0] != "all_modules" or len(parts) < 3 or not parts[1].isdigit():
            raise ValueError(f"{SOURCE} checkpoint {path}: unexpected parameter {key!r} (not a score_sde_pytorch "
                             "NCSN++ / DDPM++ / DDPM network)")
        index = int(parts[1])
        if index >= len(tops):
            raise ValueError(f"{SOURCE} checkpoint {path} does not fit the model built from the config: it has "
                             f"more top-level modules (all_modules.{index}) than the model's {len(tops)}")
        inner = parts[2:]
        cls = names.split_name(inner[-2] if len(inner) > 1 else tops[index][-1])[0]
        leaf = LEAVES.get(cls, {}).get(inner[-1], inner[-1])
        keys.append(key)
        paper_paths.append((*tops[index], *inner[:-1], leaf))
    mapping = names.to_ours(paper_paths, set(ours))
    ours_of = {key: mapping[p] for key, p in zip(keys, paper_paths)}
    leaf_of = {key: key.rsplit(".", 1)[1] for key in keys}
    convert = lambda key, t: _array(t, leaf_of[key])  # noqa: E731
    params = {ours_of[k]: convert(k, ckpt["model"][k]) for k in keys}

    frozen = [k for k in keys if names.split_name(ours_of[k][-2])[0] in FROZEN]
    trainable = [k for k in keys if k not in frozen]
    shadow = list(ckpt["ema"].get("shadow_params", [])) if isinstance(ckpt["ema"], dict) else []
    if len(shadow) != len(trainable):
        raise ValueError(f"{SOURCE} checkpoint {path}: ema.shadow_params has {len(shadow)} tensors, the model "
                         f"{len(trainable)} trainable parameters")
    ema = dict(params)
    for k, t in zip(trainable, shadow):
        if tuple(t.shape) != tuple(ckpt["model"][k].shape):
            raise ValueError(f"{SOURCE} checkpoint {path}: EMA tensor for {k} has shape {tuple(t.shape)}, "
                             f"the parameter {tuple(ckpt['model'][k].shape)}")
        ema[ours_of[k]] = convert(k, t)
    return PaperCheckpoint(SOURCE, int(ckpt["step"]), params, ema, _adam(ckpt.get("optimizer"), keys, trainable,
                                                                          params, ours_of, convert, path))


def _adam(optimizer, keys, trainable, params, ours_of, convert, path):
    """Adam's moments from a stepped optimizer's state (None for an un-stepped one). Its state is
    keyed by the index into `param_groups[..]['params']`, which lists `model.parameters()`."""
    if not isinstance(optimizer, dict) or not optimizer.get("state"):
        return None
    indices = [i for group in optimizer.get("param_groups", []) for i in group.get("params", [])]
    if len(indices) != len(keys):
        raise ValueError(f"{SOURCE} checkpoint {path}: the optimizer lists {len(indices)} parameters, the model "
                         f"has {len(keys)}")
    mu = {p: np.zeros_like(v) for p, v in params.items()}
    nu = {p: np.zeros_like(v) for p, v in params.items()}
    counts = set()
    for index, key in zip(indices, keys):
        s = optimizer["state"].get(index)
        if s is None:
            continue  # a parameter without gradient (the Fourier W)
        mu[ours_of[key]], nu[ours_of[key]] = convert(key, s["exp_avg"]), convert(key, s["exp_avg_sq"])
        counts.add(int(s["step"]))
    if len(counts) != 1 or any(optimizer["state"].get(i) is None for i, k in zip(indices, keys) if k in trainable):
        raise ValueError(f"{SOURCE} checkpoint {path}: Adam state for some parameters only, or at different "
                         f"steps {sorted(counts)}")
    return AdamMoments(counts.pop(), mu, nu)
