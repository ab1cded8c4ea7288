"""Every config file builds its SDE, model and sampler options (CIFAR-10 and image folders without
their data)."""

import glob
import importlib
import os

import pytest

from configs.builders import build_experiment, build_model, build_sde, sampling_options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(
    os.path.relpath(p, ROOT)[:-3].replace(os.sep, ".")
    for p in glob.glob(os.path.join(ROOT, "configs", "**", "*.py"), recursive=True)
    if not p.endswith(("__init__.py", "builders.py", "validate.py", "cli.py", "record.py"))
)


@pytest.mark.parametrize("name", FILES)
def test_config_builds(name):
    config = importlib.import_module(name).get_config()
    assert importlib.import_module(name).__doc__.count("main.py") >= 1  # docstring gives the command
    if config.data.dataset in ("cifar10", "image_folder"):  # their data are the user's files
        build_sde(config), build_model(config), sampling_options(config)
    else:
        exp = build_experiment(config)
        assert exp.sde.N == config.model.num_scales
