"""Which config fields feed which constructor argument: the one table of config sections, the map of
the paper's field names to ours, and the mapping of a library error back to the config field.

Each component section holds the fields of the component its name field chooses, and nothing else:

    training.sde  -> sde     (the SDE's constructor: beta_min, beta_max | sigma_min, sigma_max; num_scales is N)
    model.name    -> model   (the network's constructor, plus ema_rate, parameterization, sigma_data)
    data.dataset  -> data    (the dataset's constructor, plus centered, uniform_dequantization, random_flip)

`section_fields(config, section)` gives the chosen component's fields with its defaults; a key of the
section outside it is an error naming it (configs.validate), and `retarget` drops the fields the new
component does not take after a name changes (the command line does it, and adds any field of the
chosen component on demand, so `--config.model.name=ddpmpp --config.model.nf=64` works on a config
written for the MLP). `PAPER_NAMES` maps score_sde's spellings (model.beta_min, ...) to
ours; `upgrade` applies it to a config or a recorded config.json. `field_errors` re-raises what a
constructor rejects with the config field in front, found from `ArgumentError.argument`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import re
from typing import Any, Callable

import ml_collections

import data
import models
import sde_lib
from common.checks import ArgumentError

# score_sde's config fields that live elsewhere here (old -> new). The one place they are mapped: the
# command line (configs.cli), the recorded training configs of older workdirs (configs.record) and any
# config file written in the paper's spelling (`upgrade`).
PAPER_NAMES = {
    "model.beta_min": "sde.beta_min",
    "model.beta_max": "sde.beta_max",
    "model.sigma_min": "sde.sigma_min",
    "model.sigma_max": "sde.sigma_max",
    "model.num_scales": "sde.num_scales",
}

# The field that chooses each component section's constructor.
CHOOSER = {"sde": "training.sde", "model": "model.name", "data": "data.dataset"}
_REGISTRY = {"sde": sde_lib.SDES, "model": models.MODELS, "data": data.DATASETS}

# Constructor arguments that a section names differently (section -> {argument: field}).
SDE_ARGUMENTS = {"N": "num_scales"}
# Fields each section holds besides its constructor's arguments (read by the builders), with defaults.
_EXTRA = {
    "sde": {},
    "model": {"name": "mlp", "ema_rate": 0.999, "parameterization": "sde", "sigma_data": 0.5},
    "data": {"dataset": "checkerboard", "centered": True, "uniform_dequantization": False, "random_flip": False},
}
# Model arguments fed from other sections, never set in `model` (argument -> config field).
MODEL_FROM = {"centered": "data.centered", "sigma_min": "sde.sigma_min", "sigma_max": "sde.sigma_max",
              "num_scales": "sde.num_scales"}


def get(config, field: str, default=None):
    """The value at 'section.key' of a ConfigDict or a plain dict (`default` where absent)."""
    node = config
    for part in field.split("."):
        if not hasattr(node, "keys") or part not in node:
            return default
        node = node[part]
    return node


def _defaults(fn: Callable) -> dict[str, Any]:
    """Keyword arguments of a constructor (a dataclass, a functools.partial of one, or a function)
    with their defaults (None where a field has none)."""
    keywords = getattr(fn, "keywords", None) or {}
    fn = getattr(fn, "func", fn)
    if dataclasses.is_dataclass(fn):
        out = {}
        for f in dataclasses.fields(fn):
            if not f.init or f.name in ("parent", "name"):
                continue
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = None
        return {**out, **{k: v for k, v in keywords.items() if k in out}}
    params = inspect.signature(fn).parameters.values()
    out = {p.name: (None if p.default is inspect.Parameter.empty else p.default) for p in params
           if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return {**out, **{k: v for k, v in keywords.items() if k in out}}


def component_fields(section: str, name: str) -> dict[str, Any] | None:
    """The fields of `section` for the component called `name`, with the constructor's defaults;
    None for an unknown name."""
    registry = _REGISTRY[section]
    if not isinstance(name, str) or name not in registry:
        return None
    args = _defaults(registry[name])
    if section == "sde":
        args = {SDE_ARGUMENTS.get(k, k): v for k, v in args.items()}
    elif section == "model":
        args = {k: v for k, v in args.items() if k not in MODEL_FROM}
    return {**_EXTRA[section], **args}


def taken_by(section: str, key: str) -> list[str]:
    """The components of `section` (by name) that take the field `key`."""
    return [name for name in sorted(_REGISTRY[section]) if key in (component_fields(section, name) or {})]


def section_fields(config, section: str) -> dict[str, Any] | None:
    """The fields of `config[section]` for the component its chooser names (see `component_fields`)."""
    return component_fields(section, get(config, CHOOSER[section]))


def retarget(config: ml_collections.ConfigDict, section: str) -> ml_collections.ConfigDict:
    """Drops the keys of `config[section]` that the component now chosen does not take (values of the
    fields it shares with the previous one are kept; those it lacks take its constructor's defaults
    when built, and the command line may set them). Returns config."""
    valid = section_fields(config, section)
    if valid is not None:  # an unknown name: validation names it
        node = config[section]
        for key in [k for k in node.keys() if k not in valid]:
            del node[key]
    return config


def use_model(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
    """`model.name = name`, keeping only the model fields that network takes. Returns config."""
    config.model.name = name
    return retarget(config, "model")


def add_field(node: ml_collections.ConfigDict, key: str, default) -> None:
    """Adds `key` to a section; a None default becomes an untyped placeholder that any value fits."""
    if default is None:
        node[key] = ml_collections.config_dict.placeholder(object)
    elif isinstance(default, list):
        node[key] = tuple(default)
    else:
        node[key] = default


def upgrade(config):
    """Moves the fields that `PAPER_NAMES` renames (a ConfigDict in place, or a copy of a plain dict
    such as a recorded config.json); the new spelling wins where both are present. Returns it."""
    if not isinstance(config, ml_collections.ConfigDict):
        config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for old, new in PAPER_NAMES.items():
        (old_section, old_key), (new_section, new_key) = old.split("."), new.split(".")
        source = config.get(old_section) if hasattr(config, "get") else None
        if source is None or old_key not in source:
            continue
        value = source[old_key]
        del source[old_key]
        if new_section not in config:
            config[new_section] = ml_collections.ConfigDict() if isinstance(config, ml_collections.ConfigDict) else {}
        if new_key not in config[new_section]:
            config[new_section][new_key] = value
    return config


# ----- library errors, named by the config field ---------------------------------------------------
def _describe(field: str, value) -> str:
    return f"{field}={value!r}"


@contextlib.contextmanager
def field_errors(fields: dict[str, tuple[str, Any]], default: tuple[str, Any]):
    """Re-raises what a constructor rejects as `field=value: message`.

    `fields` maps each argument the constructor was given to (config field, value); an
    `ArgumentError` picks its field by `.argument` (`ch_mult[2]` is `ch_mult`'s), any other error
    takes `default` (field, value). A FileNotFoundError stays one; other ValueErrors and OSErrors
    become ValueErrors.
    """
    try:
        yield
    except (ValueError, OSError) as e:
        argument = re.sub(r"\[.*$", "", e.argument) if isinstance(e, ArgumentError) else None
        field, value = fields.get(argument, default)
        message = str(e)
        if not message.startswith(f"{field}="):
            message = f"{_describe(field, value)}: {message}"
        raise (FileNotFoundError if isinstance(e, FileNotFoundError) else ValueError)(message) from e


def build(fn: Callable, arguments: dict[str, tuple[str, Any]], default: tuple[str, Any], **fixed):
    """`fn(**fixed, **{argument: value})` with every rejected argument named by its config field
    (`arguments` maps argument -> (field, value))."""
    with field_errors(arguments, default):
        return fn(**fixed, **{k: v for k, (_, v) in arguments.items()})


def set_sde(config: ml_collections.ConfigDict, name: str, parameters: dict[str, dict]) -> ml_collections.ConfigDict:
    """Sets `training.sde = name` and `config.sde` to a data set's parameters for it
    (`parameters[name]`, e.g. a default config's SDE_PARAMETERS), keeping sde.num_scales; returns config."""
    if name not in parameters:
        raise ValueError(f"no SDE parameters for {name!r} on these data; known: {sorted(parameters)}")
    num_scales = get(config, "sde.num_scales", 1000)
    config.training.sde = name
    config.sde = ml_collections.ConfigDict(dict(num_scales=num_scales, **parameters[name]))
    return config
