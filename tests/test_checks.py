"""The shared argument checks: what they accept, what they reject, and the name they carry."""
import math

import numpy as np
import pytest

from common import checks


@pytest.mark.parametrize("value", [0, -1, True, 1.0, "2", None, np.bool_(True)])
def test_positive_int_rejects(value):
    with pytest.raises(checks.ArgumentError, match=r"n_steps must be a positive integer, got n_steps=") as e:
        checks.positive_int("n_steps", value)
    assert e.value.argument == "n_steps" and e.value.value is value
    assert isinstance(e.value, ValueError)


def test_integers_accepted_as_python_ints():
    out = checks.positive_int("n", np.int64(3))
    assert out == 3 and type(out) is int
    assert checks.nonneg_int("seed", 0) == 0
    with pytest.raises(checks.ArgumentError, match=r"an integer in \[2, 4\], got k=5"):
        checks.integer("k", 5, low=2, high=4)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "0.1", None])
def test_number_rejects_non_finite_and_non_numbers(value):
    with pytest.raises(checks.ArgumentError, match=r"beta_min must be a finite number"):
        checks.number("beta_min", value)


def test_number_bounds_open_and_closed():
    assert checks.number("eps", 1e-3, low=0, high=1, low_open=True) == 1e-3
    with pytest.raises(checks.ArgumentError, match=r"in \(0, 1\], got eps=0"):
        checks.number("eps", 0, low=0, high=1, low_open=True)
    assert checks.fraction("dropout", 0.0) == 0.0
    with pytest.raises(checks.ArgumentError, match=r"in \[0.0, 1.0\), got dropout=1.0"):
        checks.fraction("dropout", 1.0)
    assert checks.fraction("rate", 1.0, high_open=False) == 1.0
    with pytest.raises(checks.ArgumentError, match=r"> 0.0, got sigma=-2"):
        checks.positive("sigma", -2)


def test_choice_names_the_options():
    assert checks.choice("method", "pc", {"pc": 1, "ode": 2}) == "pc"
    with pytest.raises(checks.ArgumentError, match=r"unknown method 'pcc'; valid: \['ode', 'pc'\]") as e:
        checks.choice("method", "pcc", {"pc": 1, "ode": 2})
    assert e.value.argument == "method"
    with pytest.raises(checks.ArgumentError):
        checks.choice("method", ["pc"], {"pc": 1})  # unhashable


def test_boolean_and_ndim():
    assert checks.boolean("centered", np.bool_(False)) is False
    with pytest.raises(checks.ArgumentError, match="centered must be True or False, got centered=1"):
        checks.boolean("centered", 1)
    checks.ndim("x", np.zeros((2, 3)), 2)
    with pytest.raises(checks.ArgumentError, match=r"x must be \[B, H, W, C\], got x.shape=\(2, 3\)"):
        checks.ndim("x", np.zeros((2, 3)), 4, "[B, H, W, C]")


def test_increasing_pair():
    assert checks.increasing("sigma_min", 0.01, "sigma_max", 50) == (0.01, 50.0)
    with pytest.raises(checks.ArgumentError, match=r"need 0 < sigma_min < sigma_max, got sigma_min=5.0, sigma_max=5.0") as e:
        checks.increasing("sigma_min", 5.0, "sigma_max", 5.0)
    assert e.value.argument == "sigma_min"
    with pytest.raises(checks.ArgumentError, match="sigma_max must be a finite number > 0.0"):
        checks.increasing("sigma_min", 0.1, "sigma_max", -1)
