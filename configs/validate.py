"""Checks a config before anything is built or compiled (project issue 7: bad configs).

`validate_config(config)` raises a ValueError (FileNotFoundError for a missing data path) whose
message starts with the offending field and its value, e.g.

    model.sigma_min=2.0 must be < model.sigma_max=1.0

main.py prints that one line and exits with status 2. It checks names against the registries
(listing the valid ones), types and ranges, cross-field constraints (frequencies that are
multiples of `training.n_jitted_steps`, batches that split over the devices, an image size the
U-Net can halve), typos in `model` and `data`, and then constructs the SDE, the model and the
sampler, which do no computation, so whatever their own checks reject is reported too, with the
config field in front (`field_errors`). `check_data_shape` does the checks that need the loaded
dataset's example shape.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import re

import ml_collections

import datasets
import models
import samplers
import sde_lib
from samplers import grids, ode, pc
from training import losses, state

# Fields of `model` and `data` that no constructor declares but the builders read.
_MODEL_EXTRA = {"name", "ema_rate", "num_scales", "parameterization", "sigma_data"}
_DATA_EXTRA = {"dataset", "centered", "uniform_dequantization", "random_flip"}
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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(config, field: str, minimum: int = 1, required: bool = True):
    value = _get(config, field, required)
    if value is None and not required:
        return None
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{_describe(field, value)} must be an integer >= {minimum}")
    return value


def _number(config, field: str, *, low=None, high=None, low_open=False, high_open=False, required=True):
    """A finite real number, >= low (> if low_open) and <= high (< if high_open) where given."""
    value = _get(config, field, required)
    if value is None and not required:
        return None
    if low is not None and high is not None:
        cond = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        cond = f"{'>' if low_open else '>='} {low}"
    elif high is not None:
        cond = f"{'<' if high_open else '<='} {high}"
    else:
        cond = ""
    if not _is_number(value):
        raise ValueError(f"{_describe(field, value)} must be a finite number {cond}".rstrip())
    if (low is not None and (value <= low if low_open else value < low)) or (
            high is not None and (value >= high if high_open else value > high)):
        raise ValueError(f"{_describe(field, value)} must {'lie' if cond.startswith('in') else 'be'} {cond}")
    return value


def _bool(config, field: str, required: bool = True):
    value = _get(config, field, required)
    if value is None and not required:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{_describe(field, value)} must be True or False")
    return value


def _choice(config, field: str, valid, required: bool = True):
    value = _get(config, field, required)
    if value is None and not required:
        return None
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{_describe(field, value)} is not a known name; valid: {sorted(valid)}")
    return value


# ----- re-raising library errors with the config field -------------------------------------------
def _prefix(message: str, fields: dict[str, tuple[str, object]], default: tuple[str, object]) -> str:
    """`field=value: message`, with the field whose argument the message names first."""
    found = []
    for arg, (field, value) in fields.items():
        if message.startswith(f"{field}="):
            return message
        match = re.search(rf"(?<![\w.]){re.escape(arg)}(?!\w)", message)
        if match:
            found.append((match.start(), field, value))
    field, value = min(found, key=lambda f: f[0])[1:] if found else default
    return f"{_describe(field, value)}: {message}"


@contextlib.contextmanager
def field_errors(fields: dict[str, tuple[str, object]], default: tuple[str, object]):
    """Re-raises what a library constructor rejects with the config field in front.

    `fields` maps each argument the constructor was given to (config field, value); the message's
    first-named argument picks the field, `default` (field, value) when it names none. A
    FileNotFoundError stays one; other ValueErrors and OSErrors become ValueErrors.
    """
    try:
        yield
    except FileNotFoundError as e:
        raise FileNotFoundError(_prefix(str(e), fields, default)) from e
    except (ValueError, OSError) as e:
        raise ValueError(_prefix(str(e), fields, default)) from e


# ----- the checks --------------------------------------------------------------------------------
def _check_names(config) -> None:
    _choice(config, "training.sde", sde_lib.SDES)
    _choice(config, "model.name", models.MODELS)
    _choice(config, "data.dataset", datasets.DATASETS)
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


def _device_count(config) -> int:
    import jax  # the device count is known without compiling anything

    available = jax.device_count()
    num_devices = _int(config, "num_devices", minimum=0)
    if num_devices > available:
        raise ValueError(f"{_describe('num_devices', num_devices)} exceeds the {available} visible device(s) "
                         "(0 = all)")
    return num_devices or available


def _check_training(config, devices: int) -> None:
    _int(config, "seed", minimum=0)
    n_jitted = _int(config, "training.n_jitted_steps")
    for name in ("n_iters", "log_freq", "snapshot_freq", "snapshot_freq_for_preemption"):
        value = _int(config, f"training.{name}")
        if value % n_jitted:
            raise ValueError(f"{_describe(f'training.{name}', value)} must be a multiple of "
                             f"{_describe('training.n_jitted_steps', n_jitted)}")
    for field in ("training.batch_size", "sampling.batch_size"):
        value = _int(config, field)
        if value % devices:
            raise ValueError(f"{_describe(field, value)} must be a multiple of the device count {devices} "
                             f"(per-device batch would be {value / devices:g})")
    for name in ("continuous", "reduce_mean", "likelihood_weighting", "snapshot_sampling", "fsdp"):
        _bool(config, f"training.{name}")
    _bool(config, "training.skip_nonfinite", required=False)
    _bool(config, "training.ema_warmup", required=False)
    _choice(config, "training.t_sampling", losses.T_SAMPLING, required=False)
    _choice(config, "training.t_density", losses.T_DENSITIES, required=False)
    if _bool(config, "training.importance_sampling", required=False) and not config.training.likelihood_weighting:
        raise ValueError("training.importance_sampling=True draws t for the likelihood weighting; it needs "
                         "training.likelihood_weighting=True")
    if config.training.likelihood_weighting and not config.training.continuous:
        raise ValueError("training.likelihood_weighting=True needs continuous-time training, "
                         "got training.continuous=False")


def _check_optim(config) -> None:
    _number(config, "optim.lr", low=0, low_open=True)
    _number(config, "optim.beta1", low=0, high=1, high_open=True)
    _number(config, "optim.eps", low=0, low_open=True)
    _number(config, "optim.weight_decay", low=0)
    _int(config, "optim.warmup", minimum=0)
    _number(config, "optim.grad_clip")
    decay = _choice(config, "optim.decay", state.SCHEDULES, required=False)
    if decay not in (None, "constant"):
        _number(config, "optim.final_lr", low=0, high=config.optim.lr, required=False)


def _check_model(config) -> None:
    valid = set(_MODEL_EXTRA)
    valid |= {f for name in models.MODELS for f in models.model_fields(name)}
    valid |= {f.name for cls in sde_lib.SDES.values() for f in dataclasses.fields(cls) if f.init}
    valid -= {"N", "centered"}  # set by model.num_scales and data.centered
    for key in config.model:
        if key not in valid:
            raise ValueError(f"{_describe(f'model.{key}', config.model[key])} is not a field of any model or "
                             f"SDE (a typo?); valid: {sorted(valid)}")
    _int(config, "model.num_scales")
    _number(config, "model.ema_rate", low=0, high=1, high_open=True)
    _choice(config, "model.parameterization", models.PARAMETERIZATIONS, required=False)
    _number(config, "model.sigma_data", low=0, low_open=True, required=False)
    if "beta_min" in config.model:
        _number(config, "model.beta_min", low=0, low_open=True)
    if "beta_max" in config.model:
        beta_max = _number(config, "model.beta_max")
        if "beta_min" in config.model and beta_max < config.model.beta_min:
            raise ValueError(f"{_describe('model.beta_max', beta_max)} must be >= "
                             f"{_describe('model.beta_min', config.model.beta_min)}")
    if "sigma_min" in config.model:
        sigma_min = _number(config, "model.sigma_min", low=0, low_open=True)
        if "sigma_max" in config.model:
            sigma_max = _number(config, "model.sigma_max", low=0, low_open=True)
            if not sigma_min < sigma_max:
                raise ValueError(f"{_describe('model.sigma_min', sigma_min)} must be < "
                                 f"{_describe('model.sigma_max', sigma_max)}")


def _check_data(config) -> None:
    name = config.data.dataset
    valid = set(_DATA_EXTRA) | {p for fn in datasets.DATASETS.values() for p in inspect.signature(fn).parameters}
    for key in config.data:
        if key not in valid:
            raise ValueError(f"{_describe(f'data.{key}', config.data[key])} is not an argument of any dataset "
                             f"(a typo?); valid: {sorted(valid)}")
    for flag in ("centered", "uniform_dequantization", "random_flip"):
        _bool(config, f"data.{flag}")
    params = inspect.signature(datasets.DATASETS[name]).parameters
    if "image_size" in params and config.data.get("image_size") is not None:
        _int(config, "data.image_size")
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


def _check_sampling(config) -> None:
    s = config.sampling
    if "snr" in s:
        _number(config, "sampling.snr", low=0, low_open=True)
    if "n_steps_each" in s:
        _int(config, "sampling.n_steps_each")
    if "noise_removal" in s:
        _bool(config, "sampling.noise_removal")
    for tol in ("rtol", "atol"):
        if tol in s:
            _number(config, f"sampling.{tol}", low=0, low_open=True)
    if "nfe" in s:
        _int(config, "sampling.nfe")
    for name in ("calibration_pilot", "calibration_iters"):
        if name in s:
            _int(config, f"sampling.{name}")
    if "num_samples" in s:
        _int(config, "sampling.num_samples", minimum=0)


def _check_eval(config, devices: int) -> None:
    """The `eval` section of --mode eval (modes.evaluate.EvalOptions)."""
    from modes.evaluate import EvalOptions

    valid = {f.name for f in dataclasses.fields(EvalOptions)}
    for key in config.eval:
        if key not in valid:
            raise ValueError(f"{_describe(f'eval.{key}', config.eval[key])} is not an evaluation option "
                             f"(a typo?); valid: {sorted(valid)}")
    begin = _int(config, "eval.begin_step", minimum=0, required=False)
    end = _int(config, "eval.end_step", minimum=-1, required=False)
    if begin is not None and end is not None and end != -1 and end < begin:
        raise ValueError(f"{_describe('eval.end_step', end)} must be >= {_describe('eval.begin_step', begin)} "
                         "(or -1: up to the newest)")
    _int(config, "eval.batch_size", required=False)
    for name in ("loss_batches", "likelihood_batches", "num_samples"):
        _int(config, f"eval.{name}", minimum=0, required=False)
    for name in ("likelihood_rtol", "likelihood_atol"):
        _number(config, f"eval.{name}", low=0, low_open=True, required=False)
    rounds = _int(config, "eval.rounds", required=False)
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


def _check_constructors(config) -> None:
    """Builds the SDE, the model and the sampler (no computation) with field-named errors."""
    from configs import builders

    sde_cls = sde_lib.SDES[config.training.sde]
    fields = {f.name: (f"model.{f.name}", config.model[f.name]) for f in dataclasses.fields(sde_cls)
              if f.init and f.name in config.model}
    fields["N"] = ("model.num_scales", config.model.num_scales)
    with field_errors(fields, ("training.sde", config.training.sde)):
        sde = builders.build_sde(config)
    _number(config, "training.eps", low=0, high=sde.T, low_open=True, high_open=True)
    if "eps" in config.sampling and config.sampling.eps is not None:
        _number(config, "sampling.eps", low=0, high=sde.T, low_open=True, high_open=True)
    if not config.training.continuous:
        import jax
        import jax.numpy as jnp

        try:  # traced only: raises for SDEs without discrete noise levels
            jax.eval_shape(lambda: sde.discrete_marginal(jnp.zeros((1, 1)), jnp.zeros((1,), jnp.int32)))
        except ValueError as e:
            raise ValueError(f"training.continuous=False is not supported with "
                             f"{_describe('training.sde', config.training.sde)}: {e}") from e

    fields = {k: (f"model.{k}", config.model[k]) for k in models.model_fields(config.model.name) if k in config.model}
    fields["centered"] = ("data.centered", config.data.centered)  # the builders pass it to the model
    with field_errors(fields, ("model.name", config.model.name)):
        builders.build_model(config)

    options = builders.sampling_options(config)
    renamed = {new: old for old, new in builders._SAMPLING_RENAMES.items()}
    fields = {k: (f"sampling.{renamed.get(k, k)}", v) for k, v in options.items()}
    fields["shape"] = ("sampling.batch_size", config.sampling.batch_size)
    shape = (config.sampling.batch_size, 1)  # the data shape is checked in check_data_shape
    with field_errors(fields, ("sampling.method", config.sampling.method)):
        samplers.get_sampler(sde, shape, config.sampling.method, **options)


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError (FileNotFoundError for a missing data path) naming the first bad field
    and its value; returns None for a config that `build_experiment` can turn into an Experiment."""
    for section in ("training", "sampling", "model", "data", "optim"):
        if section not in config:
            raise ValueError(f"{section} is missing from the config")
    _check_names(config)
    devices = _device_count(config)
    _check_training(config, devices)
    _check_optim(config)
    _check_model(config)
    _check_data(config)
    _check_sampling(config)
    if "eval" in config:
        _check_eval(config, devices)
    size = config.data.get("image_size")
    if size is not None and "image_size" in inspect.signature(datasets.DATASETS[config.data.dataset]).parameters:
        _check_image_size(config, size, _describe("data.image_size", size))
    _check_constructors(config)
