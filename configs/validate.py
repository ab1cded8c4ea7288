"""Checks what is about the config itself, before anything is built (project issues 7 and 11).

`validate_config(config)` raises a ValueError (FileNotFoundError for a missing data path) whose
message starts with the offending field and its value, e.g.

    model.num_res_blocks=7 is not a field of model.name='mlp' (a typo, or another model's?); valid: [...]

main.py prints that one line and exits with status 2. Checked here: the names against the registries
(listing the valid ones), that each component section (`sde`, `model`, `data`) holds only the fields
of the component it chooses (configs/fields.py), the fields no constructor takes (seed, frequencies,
batch sizes, flags, the eval options), cross-field rules (frequencies that are multiples of
`training.n_jitted_steps`, batches that split over the devices, an image size the network can halve)
and the data paths. Everything a constructor takes, it checks itself when configs/builders.py builds
it, once, and its error comes back naming the field. `check_data_shape` checks the loaded dataset's
example shape against the model.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import ml_collections

import data
import models
import samplers
import sde_lib
from common import checks
from configs import fields
from modes.evaluate import EvalOptions
from samplers import grids, ode, pc

# Datasets that read files from `data.data_dir`.
_FILE_DATASETS = {"cifar10", "image_folder"}


def _describe(field: str, value) -> str:
    return f"{field}={value!r}"


def _get(config, field: str, required: bool = True):
    """The value at 'section.key' (or 'key'); raises for a missing required field."""
    *sections, key = field.split(".")
    node = config
    for name in sections:
        if name not in node:
            raise ValueError(f"{name} is missing from the config (needed for {field})")
        node = node[name]
    if key not in node:
        if required:
            raise ValueError(f"{field} is missing from the config")
        return None
    return node[key]


def _check(config, field: str, check, *args, required: bool = True, **kwargs):
    """`check(key, value, ...)` (a common.checks function) on the field's value, its error as
    `field=value: ...`; None for a missing optional field."""
    value = _get(config, field, required)
    if value is None and not required:
        return None
    key = field.rsplit(".", 1)[-1]
    with fields.field_errors({key: (field, value)}, (field, value)):
        return check(key, value, *args, **kwargs)


def _choice(config, field: str, valid, required: bool = True):
    value = _get(config, field, required)
    if value is None and not required:
        return None
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{_describe(field, value)} is not a known name; valid: {sorted(valid)}")
    return value


# ----- the checks --------------------------------------------------------------------------------
def _check_names(config) -> None:
    _choice(config, "training.sde", sde_lib.SDES)
    _choice(config, "model.name", models.MODELS)
    _choice(config, "data.dataset", data.DATASETS)
    _choice(config, "sampling.method", samplers.METHODS)
    _choice(config, "sampling.predictor", pc.PREDICTORS, required=False)
    _choice(config, "sampling.corrector", pc.CORRECTORS, required=False)
    _choice(config, "sampling.solver", ode.SOLVERS, required=False)
    grid = _get(config, "sampling.grid", required=False)
    if isinstance(grid, str) and grid.endswith(".npy"):
        if not os.path.isfile(os.path.expanduser(grid)):
            raise FileNotFoundError(f"{_describe('sampling.grid', grid)} does not exist (write one with --mode "
                                    "calibrate)")
    else:
        _choice(config, "sampling.grid", grids.GRIDS + ("<path>.npy",), required=False)
    learned_file = _get(config, "sampling.learned_solver", required=False)
    if learned_file is not None:
        if not isinstance(learned_file, str) or not learned_file.endswith(".npz"):
            raise ValueError(f"{_describe('sampling.learned_solver', learned_file)} must be the path of a .npz "
                             "written by --mode calibrate with sampling.method=learned")
        if not os.path.isfile(os.path.expanduser(learned_file)):
            raise FileNotFoundError(f"{_describe('sampling.learned_solver', learned_file)} does not exist (write "
                                    "one with --mode calibrate --config.sampling.method=learned)")
    _choice(config, "sampling.base", samplers.learned.BASES, required=False)
    optimizer = _get(config, "optim.optimizer")
    if not isinstance(optimizer, str) or optimizer.lower() != "adam":
        raise ValueError(f"{_describe('optim.optimizer', optimizer)} is not a known name; valid: ['Adam']")


def _device_count(config, available: int) -> int:
    num_devices = _check(config, "num_devices", checks.nonneg_int)
    if num_devices > available:
        raise ValueError(f"{_describe('num_devices', num_devices)} exceeds the {available} visible device(s) "
                         "(0 = all)")
    return num_devices or available


def _check_sections(config) -> None:
    """Each component section holds the fields of the chosen component only."""
    for section, chooser in fields.CHOOSER.items():
        valid = fields.section_fields(config, section)
        for key in config[section]:
            if key not in valid:
                takers = fields.taken_by(section, key)
                if section == "model" and key in fields.MODEL_FROM:
                    where = f" (the builders set it from {fields.MODEL_FROM[key]})"
                else:
                    where = f" (a field of {', '.join(takers)})" if takers else " (a typo?)"
                raise ValueError(f"{_describe(f'{section}.{key}', config[section][key])} is not a field of "
                                 f"{_describe(chooser, _get(config, chooser))}{where}; valid: {sorted(valid)}")


def _check_training(config, devices: int) -> None:
    """The fields that go into the Experiment as they are (no constructor checks them)."""
    _check(config, "seed", checks.nonneg_int)
    n_jitted = _check(config, "training.n_jitted_steps", checks.positive_int)
    for name in ("n_iters", "log_freq", "snapshot_freq", "snapshot_freq_for_preemption"):
        value = _check(config, f"training.{name}", checks.positive_int)
        if value % n_jitted:
            raise ValueError(f"{_describe(f'training.{name}', value)} must be a multiple of "
                             f"{_describe('training.n_jitted_steps', n_jitted)}")
    for field in ("training.batch_size", "sampling.batch_size"):
        value = _check(config, field, checks.positive_int)
        if value % devices:
            raise ValueError(f"{_describe(field, value)} must be a multiple of the device count {devices} "
                             f"(per-device batch would be {value / devices:g})")
    for name in ("continuous", "reduce_mean", "likelihood_weighting", "snapshot_sampling", "fsdp"):
        _check(config, f"training.{name}", checks.boolean)
    for name in ("skip_nonfinite", "ema_warmup", "importance_sampling"):
        _check(config, f"training.{name}", checks.boolean, required=False)
    _check(config, "model.ema_rate", checks.fraction)
    _choice(config, "model.parameterization", models.PARAMETERIZATIONS, required=False)


def _check_sampling(config) -> None:
    """The sampling fields that the modes read (the sampler checks its own options when built)."""
    for name in ("calibration_pilot", "calibration_iters"):
        _check(config, f"sampling.{name}", checks.positive_int, required=False)
    _check(config, "sampling.num_samples", checks.nonneg_int, required=False)
    # Also the fields that only some methods read: a bad value is an error whichever method is chosen,
    # not something ignored until the day the method is switched.
    for name in ("n_steps_each", "nfe"):
        _check(config, f"sampling.{name}", checks.positive_int, required=False)
    for name in ("snr", "rtol", "atol"):  # (eps: checked against the SDE's T when the sampler is built)
        _check(config, f"sampling.{name}", checks.positive, required=False)
    _check(config, "sampling.s_churn", checks.number, low=0.0, required=False)
    _check(config, "sampling.noise_removal", checks.boolean, required=False)


def _check_data(config) -> None:
    name = config.data.dataset
    for flag in ("centered", "uniform_dequantization", "random_flip"):
        _check(config, f"data.{flag}", checks.boolean)
    if name == "array_file":
        path = config.data.get("path")
        if not path:
            raise ValueError(f"{_describe('data.path', path)} must name a .npy or .npz file "
                             "(data.dataset='array_file' reads one array)")
        if not os.path.isfile(os.path.expanduser(str(path))):
            raise FileNotFoundError(f"{_describe('data.path', path)} does not exist")
    if name in _FILE_DATASETS and not config.data.get("path"):
        data_dir = config.data.get("data_dir")
        if not data_dir:
            raise ValueError(f"{_describe('data.data_dir', data_dir)} must name the {name} files "
                             f"(data.dataset={name!r} reads local files)")
        if not os.path.exists(os.path.expanduser(str(data_dir))):
            raise FileNotFoundError(f"{_describe('data.data_dir', data_dir)} does not exist")


def _check_eval(config, devices: int) -> None:
    """The `eval` section of --mode eval (modes.evaluate.EvalOptions)."""
    valid = {f.name for f in dataclasses.fields(EvalOptions)}
    for key in config.eval:
        if key not in valid:
            raise ValueError(f"{_describe(f'eval.{key}', config.eval[key])} is not an evaluation option "
                             f"(a typo?); valid: {sorted(valid)}")
    begin = _check(config, "eval.begin_step", checks.nonneg_int, required=False)
    end = _check(config, "eval.end_step", checks.integer, low=-1, required=False)
    if begin is not None and end is not None and end != -1 and end < begin:
        raise ValueError(f"{_describe('eval.end_step', end)} must be >= {_describe('eval.begin_step', begin)} "
                         "(or -1: up to the newest)")
    _check(config, "eval.batch_size", checks.positive_int, required=False)
    for name in ("loss_batches", "likelihood_batches", "num_samples"):
        _check(config, f"eval.{name}", checks.nonneg_int, required=False)
    for name in ("likelihood_rtol", "likelihood_atol"):
        _check(config, f"eval.{name}", checks.positive, required=False)
    rounds = _check(config, "eval.rounds", checks.positive_int, required=False)
    num_samples = config.eval.get("num_samples")
    if num_samples and rounds:
        if num_samples % rounds:
            raise ValueError(f"{_describe('eval.num_samples', num_samples)} must be a multiple of "
                             f"{_describe('eval.rounds', rounds)}")
        if (num_samples // rounds) % devices:
            raise ValueError(f"{_describe('eval.num_samples', num_samples)} / {_describe('eval.rounds', rounds)} "
                             f"samples per round must be a multiple of the device count {devices}")


def _unet_ch_mult(config) -> tuple[int, ...] | None:
    """The configured U-Net's channel multipliers (its default if unset); None for other models."""
    name = config.model.name
    if "ch_mult" not in models.model_fields(name):
        return None
    if config.model.get("ch_mult") is not None:
        return tuple(config.model.ch_mult)
    cls = models.MODELS[name]  # a class, or a functools.partial of one with other defaults
    return tuple(getattr(cls, "keywords", {}).get("ch_mult", getattr(getattr(cls, "func", cls), "ch_mult")))


def _image_halvings(config) -> tuple[int, str] | None:
    """How often the configured image network halves H and W, and why (for messages); None for
    vector models. U-Nets: len(ch_mult) - 1; NCSN / NCSNv2 declare it (`halvings()`)."""
    ch_mult = _unet_ch_mult(config)
    if ch_mult is not None:
        return max(len(ch_mult) - 1, 0), f"the U-Net (model.ch_mult={ch_mult})"
    cls = models.MODELS[config.model.name]
    if hasattr(cls, "halvings"):
        return cls.halvings(), f"{_describe('model.name', config.model.name)}"
    return None


def _check_image_size(config, size: int, what: str) -> None:
    found = _image_halvings(config)
    if found is not None and size % 2 ** found[0]:
        levels, by = found
        raise ValueError(f"{what} cannot be halved {levels} times by {by}: need a multiple of {2**levels}")


def check_data_shape(config: ml_collections.ConfigDict, shape) -> None:
    """The model must take examples of the loaded dataset's `shape`: vectors (D,) for the MLP,
    images (H, W, C) that the image network (U-Net, NCSN) can halve as often as it does."""
    shape, name = tuple(shape), config.model.name
    dataset = _describe("data.dataset", config.data.dataset)
    if _image_halvings(config) is None:
        if len(shape) != 1:
            raise ValueError(f"{_describe('model.name', name)} needs vector data (D,), but {dataset} gives "
                             f"examples of shape {shape}; use an image network (ncsnpp, ddpmpp, ddpm, ncsnv2, ncsn)")
        return
    if len(shape) != 3:
        raise ValueError(f"{_describe('model.name', name)} needs images (H, W, C), but {dataset} gives "
                         f"examples of shape {shape}; use model.name='mlp'")
    size = config.data.get("image_size")
    what = _describe("data.image_size", size) if size is not None else f"{dataset} (images {shape[0]}x{shape[1]})"
    _check_image_size(config, shape[0], what)
    _check_image_size(config, shape[1], what)


def validate_config(config: ml_collections.ConfigDict, *, device_count: int | None = None) -> None:
    """Raises ValueError (FileNotFoundError for a missing data path) naming the first bad field
    and its value; `device_count`: the visible devices (default: jax.device_count())."""
    for section in ("training", "sampling", "model", "sde", "data", "optim"):
        if section not in config:
            raise ValueError(f"{section} is missing from the config")
    _check_names(config)
    _check_sections(config)
    devices = _device_count(config, jax.device_count() if device_count is None else device_count)
    _check_training(config, devices)
    _check_data(config)
    _check_sampling(config)
    if "eval" in config:
        _check_eval(config, devices)
    size = config.data.get("image_size")
    if size is not None and "image_size" in fields.section_fields(config, "data"):
        _check(config, "data.image_size", checks.positive_int)
        _check_image_size(config, size, _describe("data.image_size", size))
