"""The one place a config becomes the plain objects the library takes (an `Experiment`).

Every name is looked up in its package's dict (SDES, MODELS, DATASETS, samplers.METHODS); each
component receives only the fields its constructor declares, so swapping `training.sde` (or
`model.name`) needs no other change.
"""

from __future__ import annotations

import dataclasses
import inspect
import os

import ml_collections
import numpy as np

import datasets
import models
import samplers
import sde_lib
from configs import validate
from modes.run import Experiment
from training.state import get_optimizer

# Config fields of the paper's code that the library names differently.
_SAMPLING_RENAMES = {"n_steps_each": "n_steps", "noise_removal": "denoise"}


def build_sde(config: ml_collections.ConfigDict) -> sde_lib.SDE:
    name = config.training.sde
    if name not in sde_lib.SDES:
        raise ValueError(f"unknown training.sde {name!r}; valid: {sorted(sde_lib.SDES)}")
    fields = {f.name for f in dataclasses.fields(sde_lib.SDES[name]) if f.init} - {"N"}
    kwargs = {k: config.model[k] for k in fields if k in config.model}
    return sde_lib.get_sde(name, N=config.model.num_scales, **kwargs)


def build_model(config: ml_collections.ConfigDict):
    name = config.model.name
    if name not in models.MODELS:
        raise ValueError(f"unknown model.name {name!r}; valid: {sorted(models.MODELS)}")
    fields = set(models.model_fields(name))
    kwargs = {k: v for k, v in config.model.items() if k in fields}
    if "centered" in fields:
        kwargs["centered"] = config.data.centered
    net = models.get_model(name, **kwargs)
    if config.model.get("parameterization", "sde") == "edm":  # EDM's preconditioning (models/score.py)
        return models.Preconditioned(net, sigma_data=config.model.get("sigma_data", 0.5))
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


def build_optimizer(config: ml_collections.ConfigDict):
    optim = config.optim
    decay = optim.get("decay", "constant")
    return get_optimizer(lr=optim.lr, warmup=optim.warmup, grad_clip=optim.grad_clip, beta1=optim.beta1,
                         eps=optim.eps, weight_decay=optim.weight_decay, decay=decay,
                         total_steps=config.training.n_iters, final_lr=optim.get("final_lr", 0.0))


def build_dataset(config: ml_collections.ConfigDict) -> datasets.Dataset:
    name = config.data.dataset
    if name not in datasets.DATASETS:
        raise ValueError(f"unknown data.dataset {name!r}; valid: {sorted(datasets.DATASETS)}")
    params = inspect.signature(datasets.DATASETS[name]).parameters
    kwargs = {k: v for k, v in config.data.items() if k in params and v not in (None, "")}
    fields = {k: (f"data.{k}", v) for k, v in kwargs.items()}
    source = next((fields[k] for k in ("data_dir", "path") if k in fields), ("data.dataset", name))
    with validate.field_errors(fields, source):  # errors about a file name the field that points to it
        return datasets.get_dataset(name, **kwargs)


def sampling_options(config: ml_collections.ConfigDict) -> dict:
    """The config's sampling fields that the configured method accepts, under the library's names."""
    method = config.sampling.method
    if method not in samplers.METHODS:
        raise ValueError(f"unknown sampling.method {method!r}; valid: {sorted(samplers.METHODS)}")
    accepted = {
        name for name, p in inspect.signature(samplers.METHODS[method]).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    options = {}
    for key, value in config.sampling.items():
        key = _SAMPLING_RENAMES.get(key, key)
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


def eval_options(config: ml_collections.ConfigDict):
    from modes.evaluate import EvalOptions

    fields = {f.name for f in dataclasses.fields(EvalOptions)}
    return EvalOptions(**{k: v for k, v in config.eval.items() if k in fields})


def build_experiment(config: ml_collections.ConfigDict) -> Experiment:
    validate.validate_config(config)
    training, optim = config.training, config.optim
    if optim.optimizer.lower() != "adam":
        raise ValueError(f"unknown optim.optimizer {optim.optimizer!r}; valid: ['Adam']")
    dataset = build_dataset(config)
    validate.check_data_shape(config, dataset.shape)
    return Experiment(
        seed=config.seed,
        sde=build_sde(config),
        model=build_model(config),
        dataset=dataset,
        optimizer=build_optimizer(config),
        ema_rate=config.model.ema_rate,
        ema_warmup=training.get("ema_warmup", False),
        loss_options=loss_options(config),
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
        sampling_options=sampling_options(config),
        num_samples=config.sampling.batch_size,
        num_devices=config.num_devices,
        fsdp=training.fsdp,
        skip_nonfinite=training.get("skip_nonfinite", False),
    )
