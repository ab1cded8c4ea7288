"""From a paper checkpoint, read into our parameter names, to our `TrainState` and a workdir.

The readers (`jax_msgpack`, `torch_pth`) return a `PaperCheckpoint`: flat dicts from our parameter
paths to NumPy arrays in our layouts. Here they are checked against the model built from the config,
made into the TrainState that `modes.run` trains and samples from, and written as a workdir.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import NamedTuple, Optional

import flax.traverse_util as traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import optax

from common.seeds import key_for
from training.checkpoints import Checkpoints, shape_mismatch
from training.state import TrainState, init_train_state

Path = tuple[str, ...]
Flat = dict[Path, np.ndarray]


class AdamMoments(NamedTuple):
    count: int  # Adam updates taken (its bias correction)
    mu: Flat  # first moments, our paths and layouts
    nu: Flat  # second moments


class PaperCheckpoint(NamedTuple):
    source: str  # "JAX msgpack" | "PyTorch .pth"
    step: int
    params: Flat  # the raw (trained) weights
    ema: Flat  # the EMA weights, which the paper samples from
    adam: Optional[AdamMoments]  # None: the file has no optimizer moments


def param_order(model, data_shape) -> dict[Path, jax.ShapeDtypeStruct]:
    """Our model's parameters, path -> shape, in the order the modules are created (flax keeps
    creation order in the variables it returns from an un-jitted `init`; a jitted one sorts them)."""
    order = {}

    def init():
        variables = model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                               jnp.zeros((1, *data_shape)), jnp.ones((1,)), train=False)
        order.update({p: None for p in traverse_util.flatten_dict(variables["params"])})
        return variables["params"]

    shapes = traverse_util.flatten_dict(jax.eval_shape(init))
    return {p: shapes[p] for p in order}


def check_fits(ckpt: PaperCheckpoint, target: dict[Path, jax.ShapeDtypeStruct], checkpoint: str) -> None:
    """ValueError listing the arrays (name, checkpoint shape, config shape) that do not fit."""
    unflat = traverse_util.unflatten_dict
    want = unflat(dict(target))  # ShapeDtypeStruct leaves: shapes only
    saved = {"params": unflat(ckpt.params), "ema_params": unflat(ckpt.ema)}
    mismatch = shape_mismatch(saved, {"params": want, "ema_params": want})
    if mismatch:
        raise ValueError(f"{ckpt.source} checkpoint {checkpoint} does not fit the model built from the config "
                         f"(check model.* and data.image_size / num_channels): {mismatch}")


def _tree(flat: Flat, target: dict[Path, jax.ShapeDtypeStruct]):
    return traverse_util.unflatten_dict({p: jnp.asarray(flat[p], target[p].dtype) for p in target})


def train_state(ckpt: PaperCheckpoint, target, optimizer: optax.GradientTransformation, seed: int) -> TrainState:
    """The TrainState at the paper's step: raw weights -> params, EMA -> ema_params, Adam moments
    (where the file has them) -> optax's ScaleByAdamState, and every learning-rate schedule's count
    at the step (the warm-up continues where the paper's run was). Without moments Adam starts
    afresh (count 0, zero moments). The key is the one `modes.run.initial_state` uses."""
    state_key = jax.random.split(key_for(seed, "init"))[1]
    state = init_train_state(state_key, _tree(ckpt.params, target), optimizer)
    step = jnp.asarray(ckpt.step, jnp.int32)

    def fill(s):
        if isinstance(s, optax.ScaleByAdamState) and ckpt.adam is not None:
            return s._replace(count=jnp.asarray(ckpt.adam.count, jnp.int32), mu=_tree(ckpt.adam.mu, target),
                              nu=_tree(ckpt.adam.nu, target))
        if isinstance(s, optax.ScaleByScheduleState):
            return s._replace(count=step)
        return s

    is_state = lambda s: isinstance(s, (optax.ScaleByAdamState, optax.ScaleByScheduleState))  # noqa: E731
    opt_state = jax.tree.map(fill, state.opt_state, is_leaf=is_state)
    return state.replace(step=step, opt_state=opt_state, ema_params=_tree(ckpt.ema, target))


def check_workdir(workdir: str) -> None:
    if os.path.exists(workdir) and (not os.path.isdir(workdir) or os.listdir(workdir)):
        raise ValueError(f"--workdir={workdir!r} exists and is not empty; import into a new directory")


def write_workdir(state: TrainState, workdir: str, config_json: str) -> None:
    """checkpoints/<step> (orbax, as training writes it) and config.json, written into a temporary
    directory beside `workdir` and renamed into place at the end: a failure leaves no workdir."""
    check_workdir(workdir)
    parent = os.path.dirname(os.path.abspath(workdir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(os.path.abspath(workdir))}.import-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)  # (not mkdtemp: the workdir gets the umask's permissions)
    try:
        checkpoints = Checkpoints(tmp)
        try:
            checkpoints.save(state, snapshot=True)
        finally:
            checkpoints.close()
        with open(os.path.join(tmp, "config.json"), "w") as f:
            f.write(config_json)
        os.replace(tmp, workdir)  # onto a missing or empty directory
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
