"""A dataset from one array on disk: `.npy`, or `.npz` (its only array, or the one named `key`).

Vectors [N, D] (any real or integer dtype) train the MLP as they are; images [N, H, W, C]
(C in 1..4) are uint8 intensities in 0..255, or floats in [0, 1] (scaled to 0..255 like every
image set here). A fixed random split (from the entropy of the held-out draws of the toy sets,
the same every run) holds out `eval_fraction` of the rows, so sorted files split fairly.
Nothing is ever unpickled: a file holding Python objects is an error.

    python main.py --config configs/default_toy.py --workdir W \
        --config.data.dataset=array_file --config.data.path=points.npy
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from data.base import EVAL_ENTROPY, ArrayDataset, check_finite, heldout_size

MIN_ROWS = 2


def load_array(path, key: str | None = None) -> np.ndarray:
    """The array of a .npy file, or of a .npz file (`key`, or its only array); never unpickles."""
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"array file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e) or "pickle" in str(e).lower():
            raise ValueError(f"array file {path} holds pickled Python objects, which are never loaded; "
                             "save a numeric array (np.save(path, np.asarray(x, np.float32)))") from e
        raise ValueError(f"cannot read array file {path}: {e}") from e
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cannot read array file {path}: {e}") from e
    if isinstance(loaded, np.ndarray):
        return _check_dtype(loaded, path)
    with loaded:  # an NpzFile
        names = list(loaded.files)
        if key is None:
            if len(names) != 1:
                raise ValueError(f"array file {path} holds {len(names)} arrays {names}; name one with data.key")
            key = names[0]
        if key not in names:
            raise ValueError(f"array file {path} has no array {key!r}; it holds {names}")
        try:
            return _check_dtype(loaded[key], f"{path}:{key}")
        except ValueError as e:
            if "pickle" in str(e).lower():
                raise ValueError(f"array file {path}: array {key!r} holds pickled Python objects, which are "
                                 "never loaded; save a numeric array") from e
            raise


def _check_dtype(x: np.ndarray, source) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"array file {source} has dtype {x.dtype}; need real numbers (float or integer)")
    return x


def _as_images(x: np.ndarray, source: str) -> np.ndarray:
    """uint8 images [N, H, W, C] in 0..255 from uint8/integer data in 0..255 or floats in [0, 1]."""
    if not 1 <= x.shape[-1] <= 4:
        raise ValueError(f"array file {source}: images [N, H, W, C] need 1 to 4 channels, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.floating):
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"array file {source}: float images must lie in [0, 1] (uint8 in 0..255), got "
                             f"values in [{lo:g}, {hi:g}]")
        return np.rint(x * 255.0).astype(np.uint8)
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi > 255:
        raise ValueError(f"array file {source}: integer images must lie in 0..255, got values in [{lo}, {hi}]")
    return x.astype(np.uint8)


def array_file(*, path, key: str | None = None, eval_fraction: float = 0.1) -> ArrayDataset:
    """Vectors [N, D] or images [N, H, W, C] from `path` (.npy or .npz), `eval_fraction` held out."""
    if path in (None, ""):
        raise ValueError(f"path must name a .npy or .npz file, got path={path!r}")
    x = load_array(path, key)
    source = str(path)
    if x.ndim not in (2, 4):
        hint = " (add a channel axis: x[..., None])" if x.ndim == 3 else ""
        raise ValueError(f"array file {source} must hold vectors [N, D] or images [N, H, W, C], got an array of "
                         f"shape {x.shape}{hint}")
    if x.shape[0] < MIN_ROWS or 0 in x.shape:
        raise ValueError(f"array file {source} holds {x.shape[0]} rows of shape {x.shape[1:]}; need at least "
                         f"{MIN_ROWS} non-empty rows (one to train on, one held out)")
    check_finite(x, f"array file {source}")  # the index of the file's first bad row
    is_image = x.ndim == 4
    if is_image:
        x = _as_images(x, source)
    elif not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    n_eval = heldout_size(x.shape[0], eval_fraction, f"array file {source}")
    order = np.random.default_rng([EVAL_ENTROPY, 2]).permutation(x.shape[0])
    x_eval, x_train = x[order[:n_eval]], x[order[n_eval:]]
    if not is_image:
        x_train, x_eval = x_train.astype(np.float32), x_eval.astype(np.float32)
    return ArrayDataset("array_file", x_train, None, x_eval, None, is_image=is_image, source=source)
