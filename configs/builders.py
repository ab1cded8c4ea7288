"""The one place a config becomes the plain objects the library takes (an `Experiment`).

Every name is looked up in its package's dict (SDES, MODELS, DATASETS, samplers.METHODS); each
component receives only the fields of its section (configs/fields.py), and is built once, inside
`fields.field_errors`: building it is what checks its arguments, and what it rejects comes back as
one line naming the config field (`model.nf=30: nf must be a multiple of 4 ...`). `configs.validate`
checks what is about the config itself first.
"""

from __future__ import annotations

import dataclasses
import inspect
import os

import jax
import ml_collections
import numpy as np

import data
import models
import samplers
import sde_lib
from configs import fields, validate
from modes.evaluate import EvalOptions
from modes.run import Experiment
from training import losses
from training.state import get_optimizer

# Config fields of the paper's code that the library names differently.
SAMPLING_RENAMES = {"n_steps_each": "corrector_steps", "noise_removal": "denoise"}


def _section(config, section: str, names) -> dict[str, tuple[str, object]]:
    """{argument: (field, value)} for the keys of `config[section]` among `names`."""
    return {k: (f"{section}.{k}", v) for k, v in config[section].items() if k in names}


def build_sde(config: ml_collections.ConfigDict) -> sde_lib.SDE:
    name = config.training.sde
    if name not in sde_lib.SDES:
        raise ValueError(f"unknown training.sde {name!r}; valid: {sorted(sde_lib.SDES)}")
    renamed = {field: arg for arg, field in fields.SDE_ARGUMENTS.items()}
    accepted = fields.section_fields(config, "sde")  # (validate_config names any other key)
    arguments = {renamed.get(k, k): (f"sde.{k}", v) for k, v in config.sde.items() if k in accepted}
    return fields.build(sde_lib.SDES[name], arguments, ("training.sde", name))


def build_model(config: ml_collections.ConfigDict):
    name = config.model.name
    if name not in models.MODELS:
        raise ValueError(f"unknown model.name {name!r}; valid: {sorted(models.MODELS)}")
    accepted = set(models.model_fields(name))
    arguments = _section(config, "model", accepted - set(fields.MODEL_FROM))
    for arg, field in fields.MODEL_FROM.items():  # arguments the network shares with the SDE and the data
        if arg in accepted and fields.get(config, field) is not None:
            arguments[arg] = (field, fields.get(config, field))
    net = fields.build(models.MODELS[name], arguments, ("model.name", name))
    if config.model.get("parameterization", "sde") == "edm":  # EDM's preconditioning (models/score.py)
        sigma_data = config.model.get("sigma_data", 0.5)
        return fields.build(models.Preconditioned, {"sigma_data": ("model.sigma_data", sigma_data)},
                            ("model.parameterization", "edm"), net=net)
    return net


def loss_options(config: ml_collections.ConfigDict) -> dict:
    """The keyword arguments of `training.losses.get_loss_fn` (EDM's loss weight goes with EDM's
    preconditioning unless the likelihood weighting is asked for; the options of the times apply
    to continuous training only)."""
    training = config.training
    options = dict(continuous=training.continuous, likelihood_weighting=training.likelihood_weighting,
                   reduce_mean=training.reduce_mean, t_min=training.eps)
    if not training.continuous:  # the discrete losses draw integer levels uniformly, with their own weights
        return options
    edm = config.model.get("parameterization", "sde") == "edm" and not training.likelihood_weighting
    return dict(options, importance_sampling=training.get("importance_sampling", False),
                t_sampling=training.get("t_sampling", "uniform"), t_density=training.get("t_density", "uniform_t"),
                edm_sigma_data=config.model.get("sigma_data", 0.5) if edm else None)


_OPTIMIZER_FIELDS = {"lr": "optim.lr", "warmup": "optim.warmup", "grad_clip": "optim.grad_clip",
                     "beta1": "optim.beta1", "eps": "optim.eps", "weight_decay": "optim.weight_decay",
                     "decay": "optim.decay", "total_steps": "training.n_iters", "final_lr": "optim.final_lr"}


def build_optimizer(config: ml_collections.ConfigDict):
    defaults = {"decay": "constant", "final_lr": 0.0}
    arguments = {arg: (field, fields.get(config, field, defaults.get(arg)))
                 for arg, field in _OPTIMIZER_FIELDS.items()}
    return fields.build(get_optimizer, arguments, ("optim.optimizer", config.optim.optimizer))


_LOSS_FIELDS = {"continuous": "training.continuous", "likelihood_weighting": "training.likelihood_weighting",
                "reduce_mean": "training.reduce_mean", "t_min": "training.eps",
                "importance_sampling": "training.importance_sampling", "t_sampling": "training.t_sampling",
                "t_density": "training.t_density", "edm_sigma_data": "model.sigma_data"}


def check_loss(config: ml_collections.ConfigDict, sde: sde_lib.SDE) -> dict:
    """The loss options, checked by building the loss once (training builds its own from them)."""
    options = loss_options(config)
    arguments = {k: (_LOSS_FIELDS[k], v) for k, v in options.items()}
    fields.build(losses.get_loss_fn, arguments, ("training.continuous", config.training.continuous),
                 sde=sde, score_fn=None)
    return options


def build_dataset(config: ml_collections.ConfigDict) -> data.Dataset:
    name = config.data.dataset
    if name not in data.DATASETS:
        raise ValueError(f"unknown data.dataset {name!r}; valid: {sorted(data.DATASETS)}")
    params = inspect.signature(data.DATASETS[name]).parameters
    arguments = {k: (f"data.{k}", v) for k, v in config.data.items() if k in params and v not in (None, "")}
    source = next((arguments[k] for k in ("data_dir", "path") if k in arguments), ("data.dataset", name))
    return fields.build(data.DATASETS[name], arguments, source)  # errors about a file name its field


def sampling_options(config: ml_collections.ConfigDict) -> dict:
    """The config's sampling fields that the configured method accepts, under the library's names."""
    method = config.sampling.method
    if method not in samplers.METHODS:
        raise ValueError(f"unknown sampling.method {method!r}; valid: {sorted(samplers.METHODS)}")
    accepted = set(samplers.METHODS[method].options)
    options = {}
    for key, value in config.sampling.items():
        key = SAMPLING_RENAMES.get(key, key)
        if key in accepted and value is not None:
            options[key] = value
    if isinstance(options.get("grid"), str) and options["grid"].endswith(".npy"):
        options["grid"] = load_grid(options["grid"])
    return options


def load_grid(path: str):
    """The times of a grid written by --mode calibrate (a 1-D float .npy; never unpickled)."""
    try:
        grid = np.load(os.path.expanduser(path), allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"sampling.grid={path!r} is not a readable .npy array of times: {e}") from e
    if grid.ndim != 1 or not np.issubdtype(grid.dtype, np.floating):
        raise ValueError(f"sampling.grid={path!r} must hold a 1-D float array of times, got "
                         f"shape {grid.shape}, dtype {grid.dtype}")
    return grid


def check_sampler(config: ml_collections.ConfigDict, sde: sde_lib.SDE, data_shape) -> dict:
    """The sampling options, checked by building the configured sampler once for `num_samples`
    examples of `data_shape` (no computation; the modes build theirs for the batches they draw)."""
    options = sampling_options(config)
    renamed = {new: old for old, new in SAMPLING_RENAMES.items()}
    arguments = {k: (f"sampling.{renamed.get(k, k)}", v) for k, v in options.items()}
    arguments["shape"] = ("sampling.batch_size", config.sampling.batch_size)
    with fields.field_errors(arguments, ("sampling.method", config.sampling.method)):
        samplers.get_sampler(sde, (config.sampling.batch_size, *data_shape), config.sampling.method, **options)
    return options


def eval_options(config: ml_collections.ConfigDict) -> EvalOptions:
    names = {f.name for f in dataclasses.fields(EvalOptions)}
    return EvalOptions(**{k: v for k, v in config.eval.items() if k in names})


def build_experiment(config: ml_collections.ConfigDict) -> Experiment:
    """Checks the config (configs.validate), then builds each component once with field-named errors."""
    validate.validate_config(config, device_count=jax.device_count())
    training = config.training
    sde = build_sde(config)
    model = build_model(config)
    optimizer = build_optimizer(config)
    loss = check_loss(config, sde)
    dataset = build_dataset(config)
    validate.check_data_shape(config, dataset.shape)
    sampling = check_sampler(config, sde, dataset.shape)
    return Experiment(
        seed=config.seed,
        sde=sde,
        model=model,
        dataset=dataset,
        optimizer=optimizer,
        ema_rate=config.model.ema_rate,
        ema_warmup=training.get("ema_warmup", False),
        loss_options=loss,
        preprocess_options=dict(uniform_dequantization=config.data.uniform_dequantization,
                                centered=config.data.centered, random_flip=config.data.random_flip),
        n_iters=training.n_iters,
        batch_size=training.batch_size,
        n_jitted_steps=training.n_jitted_steps,
        log_freq=training.log_freq,
        snapshot_freq=training.snapshot_freq,
        preemption_freq=training.snapshot_freq_for_preemption,
        snapshot_sampling=training.snapshot_sampling,
        sampling_method=config.sampling.method,
        sampling_options=sampling,
        num_samples=config.sampling.batch_size,
        num_devices=config.num_devices,
        fsdp=training.fsdp,
        skip_nonfinite=training.get("skip_nonfinite", False),
    )
