"""The config zoo: every config file of the paper's repository (score_sde) exists here under its
name, validates, and builds a network with exactly the paper's parameter count.

tests/data/param_counts.json was recorded from the paper's own code (copied from
/work/shared/reference/, see its README): the total parameters of each of its 39 configs at full
size, from jax.eval_shape of the model's init with a (1, image_size, image_size, 3) input. Here too
only shapes are traced (no parameter is materialised); configs that build the same network share
one trace.
"""

import functools
import importlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import builders, validate

with open(os.path.join(os.path.dirname(__file__), "data", "param_counts.json")) as f:
    PAPER_COUNTS = json.load(f)["counts"]


def _module(path):
    return importlib.import_module(path[: -len(".py")].replace("/", "."))


@functools.lru_cache(maxsize=None)
def _count(cls: str, name: str, kwargs: tuple, image_size: int) -> int:
    model = builders.models.get_model(name, **dict(kwargs))
    x, labels = jnp.zeros((1, image_size, image_size, 3)), jnp.ones((1,))
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0)}, x, labels, train=False))
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(shapes["params"]))


# Fields that only change what a network computes, not its parameters: configs differing in these
# alone share one trace (the count still comes from building the network with the other fields).
_NO_PARAMS = {"dropout", "centered", "sigma_min", "sigma_max", "scale_by_sigma", "fourier_scale", "init_scale",
              "skip_rescale", "nonlinearity", "interpolation"}


def _model_key(config):
    model = builders.build_model(config)
    fields = set(builders.models.model_fields(config.model.name)) - _NO_PARAMS
    kwargs = tuple(sorted((k, getattr(model, k)) for k in fields))
    return type(model).__name__, config.model.name, kwargs, config.data.image_size


def test_the_zoo_has_every_paper_config():
    assert len(PAPER_COUNTS) == 39
    missing = [p for p in PAPER_COUNTS if not os.path.isfile(p)]
    assert not missing


@pytest.mark.parametrize("path", sorted(PAPER_COUNTS))
def test_config_validates_and_has_the_papers_parameter_count(path, tmp_path):
    module = _module(path)
    assert "main.py --config " + path in module.__doc__ and "Expect:" in module.__doc__
    config = module.get_config()
    config.data.data_dir = str(tmp_path)  # validation checks that the data path exists, no more
    validate.validate_config(config)
    assert _count(*_model_key(config)) == PAPER_COUNTS[path]
