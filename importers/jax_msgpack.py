"""score_sde (JAX) checkpoints: the `checkpoint_<n>` files of `flax.training.checkpoints`, i.e.
`flax.serialization.to_bytes(State)` (msgpack) of the paper's `models/utils.py` State:

    {step, optimizer: {target: params, state: {step, param_states: {..: {grad_ema, grad_sq_ema}}}},
     lr, model_state, ema_rate, params_ema, rng}

`optimizer` is the removed `flax.optim` Adam; its moments map one to one onto optax's
ScaleByAdamState (grad_ema -> mu, grad_sq_ema -> nu, state.step -> count: both correct the bias with
step + 1 at the next update). Read with `flax.serialization.msgpack_restore` only: no TensorFlow, no
pickle, no target structure needed.
"""

from __future__ import annotations

import flax.serialization
import flax.traverse_util as traverse_util
import numpy as np

from importers import names
from importers.convert import AdamMoments, PaperCheckpoint

SOURCE = "JAX msgpack"


def _flat(tree, what: str, path: str) -> dict:
    if not isinstance(tree, dict):
        raise ValueError(f"{SOURCE} checkpoint {path}: {what} is not a parameter tree (got {type(tree).__name__})")
    return traverse_util.flatten_dict(tree)


def _get(tree, keys: str, path: str):
    node = tree
    for key in keys.split("/"):
        if not isinstance(node, dict) or key not in node:
            raise ValueError(f"{SOURCE} checkpoint {path} has no '{keys}': not a score_sde State "
                             f"(top-level keys: {sorted(tree) if isinstance(tree, dict) else type(tree).__name__})")
        node = node[key]
    return node


def read(path: str, ours) -> PaperCheckpoint:
    """The checkpoint at `path` in our names (`ours`: our model's parameter paths)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        tree = flax.serialization.msgpack_restore(raw)
    except Exception as e:  # msgpack raises ValueError, TypeError, ExtraData, ... on bad bytes
        raise ValueError(f"cannot read {SOURCE} checkpoint {path} ({len(raw)} bytes): corrupt or truncated "
                         f"({type(e).__name__}: {e})") from e
    if not isinstance(tree, dict):
        raise ValueError(f"{SOURCE} checkpoint {path} is not a score_sde State (got {type(tree).__name__})")
    if _get(tree, "model_state", path):
        raise ValueError(f"{SOURCE} checkpoint {path} has model_state collections "
                         f"{sorted(tree['model_state'])}; the paper's score networks have none")
    params = _flat(_get(tree, "optimizer/target", path), "optimizer.target", path)
    ema = _flat(_get(tree, "params_ema", path), "params_ema", path)
    mapping = names.to_ours(set(params) | set(ema), set(ours))
    rename = lambda flat: {mapping[p]: np.asarray(v) for p, v in flat.items()}  # noqa: E731

    adam = None
    opt_state = _get(tree, "optimizer/state", path)
    moments = _flat(opt_state.get("param_states", {}), "optimizer.state.param_states", path)
    if moments:
        mu = {p[:-1]: v for p, v in moments.items() if p[-1] == "grad_ema"}
        nu = {p[:-1]: v for p, v in moments.items() if p[-1] == "grad_sq_ema"}
        if set(mu) != set(params) or set(nu) != set(params):
            raise ValueError(f"{SOURCE} checkpoint {path}: optimizer.state.param_states does not hold "
                             f"grad_ema and grad_sq_ema for every parameter (not flax.optim's Adam)")
        adam = AdamMoments(int(np.asarray(_get(tree, "optimizer/state/step", path))), rename(mu), rename(nu))
    return PaperCheckpoint(SOURCE, int(np.asarray(_get(tree, "step", path))), rename(params), rename(ema), adam)
