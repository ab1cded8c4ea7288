"""The command line's config: a config file plus `--config.<field>=<value>` overrides, read without
absl's config flags so that every mistake becomes one line naming it (main.py prints it and exits
with status 2).

    config = load_config("configs/default_toy.py")              # or "path.py:argument"
    apply_overrides(config, {"training.n_iters": "300"})         # typed by the existing field

A misspelt field is named with the closest valid names; a value is parsed as the field's type
(bool: true/false/1/0; int; float; str; tuples and lists as Python literals; a placeholder's
declared type), and a value that does not parse or fit is named with the type it needs.

Switching a component works from the command line: the name fields (`training.sde`, `model.name`,
`data.dataset`) are set first, and a section whose component changed loses the fields the new one
does not take (configs.fields.retarget), keeping the values of the fields both take; any field of
the chosen component may then be set, with its constructor's default as the current value, even
where the config file does not write it (`--config.model.name=ddpmpp --config.model.nf=64` on a config for the MLP). The
paper's spellings (`--config.model.num_scales=100`) are read as ours (`sde.num_scales`,
configs.fields.PAPER_NAMES).
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os

import ml_collections

from configs import fields


class ConfigError(ValueError):
    """A config file or an override that cannot be used (one line, naming it)."""


def load_config(spec: str) -> ml_collections.ConfigDict:
    """`path.py` or `path.py:argument` -> the file's `get_config()` (or `get_config(argument)`)."""
    path, sep, argument = spec.partition(":")
    if not path.endswith(".py") and sep and os.path.isfile(spec):  # a path that contains ':'
        path, argument, sep = spec, "", ""
    if not os.path.isfile(path):
        hint = "" if path.endswith(".py") else " (a config is a .py file with get_config())"
        raise ConfigError(f"--config={spec!r}: no such config file{hint}")
    module_spec = importlib.util.spec_from_file_location(f"_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 -- a broken config file of the user's: name it, no traceback
        raise ConfigError(f"--config={spec!r} cannot be loaded: {type(e).__name__}: {e}") from e
    if not callable(getattr(module, "get_config", None)):
        raise ConfigError(f"--config={spec!r} defines no get_config()")
    call = f"get_config({argument!r})" if sep else "get_config()"
    try:
        config = module.get_config(argument) if sep else module.get_config()
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"--config={spec!r}: {call} failed: {type(e).__name__}: {e}") from e
    if not isinstance(config, ml_collections.ConfigDict):
        raise ConfigError(f"--config={spec!r}: get_config() returned a {type(config).__name__}, not a ConfigDict")
    return config


def split_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """(argv without them, {'training.n_iters': '300', ...}) from '--config.<field>=<value>' arguments
    ('--config.<field> <value>' too)."""
    rest, overrides, i = [], {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith(("--config.", "-config.")):
            name = arg.lstrip("-")[len("config."):]
            if "=" in name:
                name, value = name.split("=", 1)
            elif i + 1 < len(argv):
                i, value = i + 1, argv[i + 1]
            else:
                raise ConfigError(f"--config.{name} needs a value (--config.{name}=VALUE)")
            overrides[name] = value
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


def _suggest(name: str, valid) -> str:
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else f"; valid: {sorted(valid)}"


def _parse(field: str, text: str, kind, current):
    """`text` as a value of type `kind` (the field's type)."""
    def need(what):
        return ConfigError(f"{field}={text!r} must be {what} (the type of the field, now {current!r})")

    if kind is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise need("True or False")
    if kind is str:
        return text
    if kind is object:
        kind = None  # a field added untyped (its default is None): any literal, or the text
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        if kind is None or kind is type(None):
            return text  # an untyped None field: take the text
        raise need({int: "an integer", float: "a number"}.get(kind, f"a {getattr(kind, '__name__', kind)} literal"))
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise need("an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise need("a number")
        value = float(value)
    elif kind in (tuple, list):
        if not isinstance(value, (tuple, list)):
            value = (value,)
        value = kind(value)
    return value


def _field_node(config, field: str):
    """(section node, key) of 'section.field' (a field of the chosen component added on demand), or a
    ConfigError naming what is missing."""
    *sections, key = field.split(".")
    node, where = config, "the config"
    for name in sections:
        if not isinstance(node, ml_collections.ConfigDict) or name not in node:
            valid = list(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
            raise ConfigError(f"--config.{field}: {where} has no section {name!r}{_suggest(name, valid)}")
        node, where = node[name], name
    if not isinstance(node, ml_collections.ConfigDict):
        raise ConfigError(f"--config.{field}: {where} is a value, not a section")
    if key not in node and len(sections) == 1 and sections[0] in fields.CHOOSER:
        chosen = fields.section_fields(config, sections[0]) or {}
        if key in chosen:  # a field of the chosen component that the config file does not write
            fields.add_field(node, key, chosen[key])
    if key not in node:
        raise ConfigError(f"--config.{field}: {where} has no field {key!r}{_others(config, sections, key)}"
                          f"{_suggest(key, node.keys())}")
    return node, key


def _others(config, sections, key) -> str:
    """' for model.name='mlp' (a field of ddpm, ncsnpp)' where another component of the section takes `key`."""
    if len(sections) != 1 or sections[0] not in fields.CHOOSER:
        return ""
    chooser, takers = fields.CHOOSER[sections[0]], fields.taken_by(sections[0], key)
    if not takers:
        return ""
    return f" for {chooser}={fields.get(config, chooser)!r} (a field of {', '.join(takers)})"


def _set(config, field: str, text: str) -> None:
    node, key = _field_node(config, field)
    current = node[key]
    if isinstance(current, ml_collections.ConfigDict):
        raise ConfigError(f"--config.{field} is a section; set one of its fields: {sorted(current.keys())}")
    kind = node.get_type(key)
    kind = None if kind is type(None) else kind
    value = _parse(field, text, kind, current)
    try:
        node[key] = value
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{field}={text!r} does not fit the field (now {current!r}): {e}") from e


def apply_overrides(config: ml_collections.ConfigDict, overrides: dict[str, str]) -> None:
    """Sets each 'section.field' of `config` from its text; raises ConfigError naming a missing field
    (with the closest names) or a value that is not of the field's type. The name fields go first;
    a section whose component they change keeps only the new component's fields."""
    overrides = {fields.PAPER_NAMES.get(k, k): v for k, v in overrides.items()}
    choosers = {chooser: section for section, chooser in fields.CHOOSER.items()}
    for field in [f for f in overrides if f in choosers]:
        before = fields.get(config, field)
        _set(config, field, overrides[field])
        if fields.get(config, field) != before:
            fields.retarget(config, choosers[field])
    for field, text in overrides.items():
        if field not in choosers:
            _set(config, field, text)
