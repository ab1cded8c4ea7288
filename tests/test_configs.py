"""Every config file validates (each section holds the chosen component's fields only) and builds its
SDE, model and sampler options (CIFAR-10 and image folders without their data)."""

import glob
import importlib
import os

import pytest

from configs import validate
from configs.builders import build_experiment, build_model, build_sde, sampling_options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(
    os.path.relpath(p, ROOT)[:-3].replace(os.sep, ".")
    for p in glob.glob(os.path.join(ROOT, "configs", "**", "*.py"), recursive=True)
    if not p.endswith(("__init__.py", "builders.py", "validate.py", "cli.py", "record.py", "fields.py", "variants.py"))
)


@pytest.mark.parametrize("name", FILES)
def test_config_builds(name):
    config = importlib.import_module(name).get_config()
    assert importlib.import_module(name).__doc__.count("main.py") >= 1  # docstring gives the command
    if config.data.dataset in ("cifar10", "image_folder"):  # their data are the user's files
        config.data.data_dir = ROOT  # a folder that exists: validation looks no further
        validate.validate_config(config, device_count=1)
        build_sde(config), build_model(config), sampling_options(config)
    else:
        exp = build_experiment(config)
        assert exp.sde.N == config.sde.num_scales


# ----- sections, switching components, the paper's field names ------------------------------------
import ml_collections  # noqa: E402

from configs import cli, default_digits, default_toy, fields  # noqa: E402
from models import DDPMpp, NCSNpp, Preconditioned  # noqa: E402
from sde_lib import VESDE  # noqa: E402


def test_switching_the_model_keeps_shared_fields_and_lets_the_new_ones_be_set():
    c = default_toy.get_config()
    cli.apply_overrides(c, {"model.nf": "64", "model.num_res_blocks": "2", "model.name": "ddpmpp"})
    assert "width" not in c.model and c.model.nf == 64 and c.model.num_res_blocks == 2
    wrapped = build_model(c)  # the toy default's EDM output wraps whichever network
    assert isinstance(wrapped, Preconditioned) and wrapped.sigma_data == c.model.sigma_data
    net = wrapped.net
    assert isinstance(net, NCSNpp) and (net.nf, net.num_res_blocks) == (64, 2)  # DDPMpp: NCSNpp's partial
    assert net.ch_mult == DDPMpp().ch_mult  # the rest: the constructor's defaults
    validate._check_sections(c)


def test_switching_the_sde_gives_its_defaults_and_a_field_of_another_component_is_named():
    c = default_toy.get_config()
    cli.apply_overrides(c, {"training.sde": "vesde", "sde.sigma_max": "20.0"})
    assert build_sde(c) == VESDE(sigma_min=0.01, sigma_max=20.0, N=1000)
    with pytest.raises(cli.ConfigError, match=r"--config\.model\.num_res_blocks: model has no field "
                       r"'num_res_blocks' for model\.name='mlp' \(a field of ddpm, ddpmpp, ncsnpp\)"):
        cli.apply_overrides(default_toy.get_config(), {"model.num_res_blocks": "7"})
    with pytest.raises(cli.ConfigError, match=r"for training\.sde='vpsde' \(a field of vesde\)"):
        cli.apply_overrides(default_toy.get_config(), {"sde.sigma_min": "0.1"})


def test_a_foreign_field_in_a_config_is_an_error_naming_it():
    c = default_digits.get_config()
    c.model.width = 16  # the MLP's, on the U-Net
    with pytest.raises(ValueError, match=r"^model\.width=16 is not a field of model\.name='ddpmpp' \(a field of mlp\)"):
        validate.validate_config(c, device_count=1)
    c = default_toy.get_config("vesde")
    c.sde.beta_min = 0.1  # a VP field on a VE run
    with pytest.raises(ValueError, match=r"^sde\.beta_min=0\.1 is not a field of training\.sde='vesde'"):
        validate.validate_config(c, device_count=1)


def test_the_papers_field_names_are_read_as_ours():
    c = default_toy.get_config()
    cli.apply_overrides(c, {"model.num_scales": "100", "model.beta_max": "10.0"})
    assert (c.sde.num_scales, c.sde.beta_max) == (100, 10.0) and "num_scales" not in c.model
    paper = ml_collections.ConfigDict({"training": {"sde": "vesde"},
                                       "model": {"name": "ncsnpp", "sigma_max": 50.0, "num_scales": 1000}})
    fields.upgrade(paper)
    assert paper.to_dict() == {"training": {"sde": "vesde"}, "model": {"name": "ncsnpp"},
                               "sde": {"sigma_max": 50.0, "num_scales": 1000}}
    assert set(fields.PAPER_NAMES.values()) == {f"sde.{k}" for k in
                                                 ("beta_min", "beta_max", "sigma_min", "sigma_max", "num_scales")}


def test_a_rejected_argument_is_named_by_its_field_not_its_message():
    c = default_digits.get_config()
    c.model.ch_mult = (1, 0)  # the network rejects ch_mult[1]
    with pytest.raises(ValueError, match=r"^model\.ch_mult=\(1, 0\): ch_mult\[1\] must be a positive integer"):
        build_model(c)
    c = default_toy.get_config()
    c.sde.num_scales = True  # N=True: rejected like every other bool given for an int
    with pytest.raises(ValueError, match=r"^sde\.num_scales=True: N must be a positive integer"):
        build_sde(c)
