"""Import the paper's released checkpoints (Song et al., ICLR 2021): score_sde's JAX msgpack files and
score_sde_pytorch's .pth files become a workdir of ours, from which every mode runs unchanged.

    python main.py --config configs/vp/cifar10_ddpmpp_continuous.py --mode import \
        --checkpoint checkpoint_26 --workdir workdir/ddpmpp --config.data.data_dir=/path/to/cifar10

The config must build the paper's network (our configs under the paper's file names do). The workdir
gets `checkpoints/<step>` at the paper's step (orbax, as `--mode train` writes it) and `config.json`:
EMA weights -> `ema_params` (what sampling uses), raw weights -> `params`, Adam's moments -> optax's
state where the file has them (the JAX files do; a PyTorch file whose optimizer was never stepped
gives a fresh Adam), and the warm-up schedule at the step. Parameter names go through the one table
in `importers.names`, which also says why our module names were kept.

Our networks are fed the SDE's noise label and their output is converted by the SDE
(`models.get_score_fn`): the paper's VE NCSN++ divides by sigma inside the network
(scale_by_sigma=True) where our VE SDE divides instead, so our raw output is sigma times the
paper's and the scores are the same.
"""

from __future__ import annotations

import os

from importers import convert, jax_msgpack, names, torch_pth  # torch_pth imports torch only when it reads a file
from importers.convert import PaperCheckpoint, param_order

__all__ = ["import_checkpoint", "read_checkpoint", "checkpoint_format", "PaperCheckpoint", "param_order", "names"]


def checkpoint_format(path: str) -> str:
    """'torch' for a .pth/.pt file or a torch.save archive (zip or legacy pickle), else 'jax'."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--checkpoint={path!r}: no such file")
    with open(path, "rb") as f:
        head = f.read(2)
    pickled = len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5  # torch.save's legacy format
    return "torch" if path.endswith((".pth", ".pt")) or head == b"PK" or pickled else "jax"


def read_checkpoint(path: str, model, data_shape) -> PaperCheckpoint:
    """The paper checkpoint at `path` in our names and layouts, checked against `model` (for inputs
    of `data_shape`); a ValueError lists what does not fit."""
    return _read(path, param_order(model, tuple(data_shape)))


def _read(path: str, target) -> PaperCheckpoint:
    if checkpoint_format(path) == "torch":
        ckpt = torch_pth.read(path, list(target))
    else:
        ckpt = jax_msgpack.read(path, list(target))
    convert.check_fits(ckpt, target, path)
    return ckpt


def import_checkpoint(exp, checkpoint: str, workdir: str, *, config_json: str) -> str:
    """Reads `checkpoint`, writes the workdir (nothing on failure) and returns a line saying what it did.

    `exp` is the `modes.run.Experiment` of the config; `config_json` is written as the workdir's
    config.json (main.py passes the config as `--mode train` writes it)."""
    if not checkpoint:
        raise ValueError("--mode import needs --checkpoint=FILE (a score_sde checkpoint_<n> or a "
                         "score_sde_pytorch checkpoint_<n>.pth)")
    convert.check_workdir(workdir)
    target = param_order(exp.model, exp.data_shape)
    ckpt = _read(checkpoint, target)
    state = convert.train_state(ckpt, target, exp.optimizer, exp.seed)
    convert.write_workdir(state, workdir, config_json)
    moments = f"Adam moments at count {ckpt.adam.count}" if ckpt.adam else "a fresh Adam state (no moments in the file)"
    return (f"imported {ckpt.source} checkpoint {checkpoint} at step {ckpt.step} into {workdir}: EMA weights for "
            f"sampling, raw weights and {moments} for training")
