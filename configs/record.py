"""The workdir's record of its training run: `--mode train` writes `workdir/config.json`; every mode
that uses the trained model (sample, eval, calibrate, benchmark, inpaint, colorize, conditional)
compares its config with it and stops, naming each differing field, when the model it would build
is not the one that was trained: the SDE and its parameters, the network and its fields, its
output parameterisation (and EDM's sigma_data), and the data's shape and scaling. Sampling options (`sampling.*`) are free. `sde.num_scales` (N) only
sets the sampler's discretisation for continuous-time training and may then be changed on purpose
(`allowed=SAMPLING_ONLY`); for discrete-time training it defines the network's noise levels.

Other modes write their own config beside their outputs (`run_config_path`), never over this one.
A config.json written before the `sde` section existed (model.beta_min, model.num_scales, ...) is read
through `configs.fields.upgrade`, so older workdirs compare field for field.
"""

from __future__ import annotations

import json
import os

import ml_collections

import models
from configs import fields

TRAINING_CONFIG = "config.json"
SAMPLING_ONLY = ("sde.num_scales",)
_DATA_FIELDS = ("data.dataset", "data.image_size", "data.centered")


def as_json(config: ml_collections.ConfigDict) -> dict:
    """The config as the plain JSON values that config.json holds (tuples become lists)."""
    return json.loads(config.to_json_best_effort())


def write(config: ml_collections.ConfigDict, path: str) -> str:
    """Writes the config as JSON to `path` atomically (creating its folder)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(config.to_json_best_effort(indent=2))
    os.replace(path + ".tmp", path)
    return path


def read_training_config(workdir: str) -> dict | None:
    """The training config recorded in `workdir` (None if there is none), in today's field names; a
    file that is not JSON raises a ValueError naming it."""
    path = os.path.join(workdir, TRAINING_CONFIG)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            recorded = json.load(f)
    except ValueError as e:
        raise ValueError(f"the training config {path} is not readable JSON: {e}") from e
    return fields.upgrade(recorded) if isinstance(recorded, dict) else recorded


_get = fields.get


def model_defining_fields(*configs: dict) -> list[str]:
    """The fields that decide which model a config builds (for each config's SDE and network)."""
    out = ["training.sde", "training.continuous", "model.name", "sde.num_scales"]
    for c in configs:
        out += [f"sde.{k}" for k in fields.section_fields(c, "sde") or {}]
        name = _get(c, "model.name")
        if name in models.MODELS:  # the network's own fields (those it shares with the SDE and data are above)
            out += [f"model.{k}" for k in models.model_fields(name) if k not in fields.MODEL_FROM]
    # The network's output (EDM's preconditioning wraps the same network: the checkpoint's arrays
    # match either way, so only this comparison tells them apart); sigma_data where EDM's is used.
    out.append("model.parameterization")
    if any(_get(c, "model.parameterization", "sde") == "edm" for c in configs):
        out.append("model.sigma_data")
    out += list(_DATA_FIELDS)
    return list(dict.fromkeys(out))


# Model-defining fields that a config.json may lack (written before they existed): their value then.
_ABSENT_MEANS = {"model.parameterization": "sde"}


def differences(current: dict, trained: dict, allowed=()) -> list[str]:
    """'field=value (trained: value)' for each model-defining field that differs, except `allowed`
    sampling-only fields (allowed only where training was in continuous time)."""
    out = []
    continuous = _get(trained, "training.continuous") is not False
    # Where the SDE (the network) itself differs, that one line says it; its parameters are not compared.
    other = {section for section, chooser in fields.CHOOSER.items() if _get(current, chooser) != _get(trained, chooser)}
    for field in model_defining_fields(current, trained):
        now, then = _get(current, field, _ABSENT_MEANS.get(field)), _get(trained, field, _ABSENT_MEANS.get(field))
        if now == then or (field.split(".")[0] in other and field not in (*SAMPLING_ONLY, *fields.CHOOSER.values())):
            continue
        if field in allowed and field in SAMPLING_ONLY and continuous:
            continue
        note = ""
        if field in SAMPLING_ONLY:
            note = (", sampling-only: allow with --allow_sampling_change" if continuous
                    else ", defines the noise levels of discrete-time training")
        out.append(f"{field}={now!r} (trained: {then!r}{note})")
    return out


def check_against_training(config: ml_collections.ConfigDict, workdir: str, *, allowed=()) -> bool:
    """Raises a ValueError naming every model-defining field in which `config` differs from the
    workdir's training config; returns False if the workdir holds no training config."""
    trained = read_training_config(workdir)
    if trained is None:
        return False
    diff = differences(as_json(config), trained, allowed)
    if diff:
        raise ValueError(f"the config does not build the model trained in {workdir} "
                         f"({TRAINING_CONFIG}): {'; '.join(diff)}")
    return True


def run_config_path(out_dir: str) -> str:
    """Where a non-training mode records its config: beside its outputs."""
    return os.path.join(out_dir, TRAINING_CONFIG)
