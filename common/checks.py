"""Argument checks shared by every constructor in the library.

Each check returns the value it accepted (converted to a plain Python type where that is what the
caller stores) and raises `ArgumentError` naming the argument and its value otherwise. An
`ArgumentError` is a `ValueError`, so callers that catch `ValueError` keep working; it also
carries the argument's name as data (`.argument`), which is how `configs.validate` maps a library
error back to the config field that fed the argument, without reading the message text.

The rules are the same everywhere: booleans are not numbers, integers may be numpy integers,
numbers must be finite.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

import numpy as np


class ArgumentError(ValueError):
    """A rejected argument. `argument` is its name as the constructor spells it (for an element of a
    sequence, `name[i]`), `value` what was given."""

    def __init__(self, argument: str, value: Any, requirement: str | None = None, *, message: str | None = None):
        self.argument = argument
        self.value = value
        super().__init__(message or f"{argument} must be {requirement}, got {argument}={value!r}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """An integer in [low, high] (either bound optional)."""
    if not _is_int(value) or (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            requirement = f"an integer in [{low}, {high}]"
        elif low == 1:
            requirement = "a positive integer"
        elif low == 0:
            requirement = "a non-negative integer"
        elif low is not None:
            requirement = f"an integer >= {low}"
        elif high is not None:
            requirement = f"an integer <= {high}"
        else:
            requirement = "an integer"
        raise ArgumentError(name, value, requirement)
    return int(value)


def positive_int(name: str, value) -> int:
    return integer(name, value, low=1)


def nonneg_int(name: str, value) -> int:
    return integer(name, value, low=0)


def _bound(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def number(name: str, value, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number within the given bounds (closed unless `*_open`)."""
    ok = isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))
    if ok:
        v = float(value)
        ok = math.isfinite(v)
        if ok and low is not None:
            ok = v > low if low_open else v >= low
        if ok and high is not None:
            ok = v < high if high_open else v <= high
    if not ok:
        bound = _bound(low, high, low_open, high_open)
        raise ArgumentError(name, value, "a finite number" + (f" {bound}" if bound else ""))
    return float(value)


def positive(name: str, value) -> float:
    return number(name, value, low=0.0, low_open=True)


def fraction(name: str, value, *, high_open: bool = True) -> float:
    """A number in [0, 1) (or [0, 1] with high_open=False): rates, dropout, probabilities."""
    return number(name, value, low=0.0, high=1.0, high_open=high_open)


def choice(name: str, value, options: Iterable) -> Any:
    """One of `options` (a dict's keys or any iterable of hashables)."""
    options = list(options)
    try:
        ok = value in options
    except TypeError:  # unhashable value against a dict
        ok = False
    if not ok:
        raise ArgumentError(name, value, message=f"unknown {name} {value!r}; valid: {sorted(map(str, options))}")
    return value


def boolean(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentError(name, value, "True or False")
    return bool(value)


def ndim(name: str, x, expected: int | Iterable[int], what: str | None = None) -> None:
    """An array of the given rank (or one of the given ranks); `what` describes the layout, e.g. "[B, D]"."""
    ranks = (expected,) if isinstance(expected, int) else tuple(expected)
    if np.ndim(x) not in ranks:
        layout = what or " or ".join(f"rank {r}" for r in ranks)
        raise ArgumentError(name, np.shape(x), message=f"{name} must be {layout}, got {name}.shape={np.shape(x)}")


def increasing(low_name: str, low, high_name: str, high) -> tuple[float, float]:
    """Two positive finite numbers with low < high (e.g. sigma_min < sigma_max); the error names `low_name`."""
    low, high = positive(low_name, low), positive(high_name, high)
    if not low < high:
        raise ArgumentError(low_name, low, message=f"need 0 < {low_name} < {high_name}, got {low_name}={low!r}, "
                                                   f"{high_name}={high!r}")
    return low, high
