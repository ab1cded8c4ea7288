"""pytorch-fid's Inception weights file (`pt_inception-2015-12-05-6726825d.pth`) into the `.npz`
that `evaluation.inception_extractor` and `--config.eval.inception` read: `--mode convert_inception`.

The file is the state dict of pytorch-fid's `fid_inception_v3()` (torchvision's Inception3 with
the FID blocks; Seitzer, pytorch-fid), read with `torch.load(weights_only=True)` (never by plain
unpickling) from the optional extra `pip install -e ".[torch]"`; torch is imported in importers/ only.
The `.npz` keeps its names and layouts (conv [out, in, kh, kw], batch-norm vectors), so the
conversion is the identity on every array `evaluation.inception.expected_arrays()` names; the
classifier (`fc.*`) and batch-norm's `num_batches_tracked` counters are left out, and anything
else stops it. Nothing downloads the file: it is at `WEIGHTS_URL`.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from evaluation import inception

WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               "pt_inception-2015-12-05-6726825d.pth")
INSTALL_HINT = ("converting pytorch-fid's Inception weights needs torch: pip install -e \".[torch]\" "
                "(the CPU build is enough)")
IGNORED = ("fc.weight", "fc.bias")  # the 1008-way classifier; and every `*.num_batches_tracked`


def ignored(name: str) -> bool:
    """Whether `name` is in pytorch-fid's state dict but not needed for the pool features."""
    return name in IGNORED or name.endswith(".num_batches_tracked")


def read_pth(path: str) -> dict[str, np.ndarray]:
    """The state dict in the .pth at `path`, as NumPy arrays; ValueError if it is not one."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--checkpoint {path}: no such file (pytorch-fid's Inception weights: "
                                f"download {WEIGHTS_URL})")
    try:
        import torch
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, not a torch file, or an object weights_only refuses
        first = " ".join(str(e).split()).split(". ")[0][:160]  # not torch's advice to unpickle
        raise ValueError(f"cannot read {path} as a PyTorch state dict (corrupt, truncated or not plain tensors: "
                         f"{type(e).__name__}: {first})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict of tensors "
                         "(pytorch-fid's pt_inception-2015-12-05-6726825d.pth is one)")
    return {str(k): v.detach().cpu().numpy() for k, v in state.items()}


def from_state_dict(state: dict[str, np.ndarray], source: str = "the state dict") -> dict[str, np.ndarray]:
    """Our weights (name -> float32 array, the names and layouts of `inception.expected_arrays`)
    from pytorch-fid's state dict; ValueError naming the first missing / unexpected keys or the
    first wrong shape."""
    expected = inception.expected_arrays()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected and not ignored(k)]
    if missing or unexpected:
        parts = [f"{len(missing)} missing (first: {', '.join(missing[:3])})" if missing else "",
                 f"{len(unexpected)} unexpected (first: {', '.join(unexpected[:3])})" if unexpected else ""]
        raise ValueError(f"{source} is not pytorch-fid's FID Inception state dict: keys: "
                         f"{'; '.join(p for p in parts if p)}")
    for name, shape in expected.items():
        a = state[name]
        if tuple(a.shape) != shape:
            raise ValueError(f"{source}: {name} has shape {tuple(a.shape)}, pytorch-fid's FID Inception has {shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{source}: {name} has dtype {a.dtype}, floating point is expected")
    return {name: np.asarray(state[name], np.float32) for name in expected}


def to_state_dict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of `from_state_dict` on the arrays it keeps (the same names and layouts)."""
    return {name: np.asarray(arrays[name]) for name in inception.expected_arrays()}


def convert(pth_path: str, out_path: str | None = None) -> str:
    """Writes the .npz (default: beside the .pth, same name) atomically, checks that it loads,
    and returns a one-line summary. Errors (ImportError, FileNotFoundError, ValueError) write nothing."""
    arrays = from_state_dict(read_pth(pth_path), pth_path)
    out = out_path or os.path.splitext(pth_path)[0] + ".npz"
    if os.path.isdir(out):
        raise ValueError(f"--out {out} is a directory; give the .npz file to write")
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".inception-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        inception.load_weights(tmp)  # the file eval will read: names, shapes, no pickle
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it, not mkstemp's 0600
        os.replace(tmp, out)
    except BaseException:
        os.remove(tmp)
        raise
    count = sum(a.size for a in arrays.values())
    return (f"wrote {out}: {len(arrays)} arrays ({count:,} numbers) of the FID Inception from {pth_path}; "
            f"FID with it: --config.eval.inception={out}")
