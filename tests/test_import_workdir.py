"""--mode import writes a workdir that the other modes and training use unchanged; bad inputs stop
with one line (exit 2 through main.py) and leave no workdir."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from PIL import Image

import importers
from configs.builders import build_experiment, build_model
from importers import torch_pth
from test_import import our_config, paper_file
from modes import run
from training.checkpoints import Checkpoints

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
NAME = "ddpmpp_continuous"  # the cheapest network to compile
STEP = 1234


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return str(folder)


def config_file(tmp_path, name: str, images: str, **model) -> str:
    path = tmp_path / f"{name}_config.py"
    overrides = "".join(f"    c.model.{k} = {v!r}\n" for k, v in model.items())
    path.write_text(f"import sys\nsys.path.insert(0, {TESTS!r})\nfrom test_import import our_config\n\n\n"
                    f"def get_config():\n    c = our_config({name!r}, {images!r})\n{overrides}    return c\n")
    return str(path)


def main_py(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def imported(tmp_path_factory, images):
    """A workdir imported through main.py from the paper's JAX DDPM++ checkpoint."""
    tmp = tmp_path_factory.mktemp("import")
    wd = str(tmp / "wd")
    result = main_py(f"--config={config_file(tmp, NAME, images)}", f"--workdir={wd}", "--mode=import",
                     f"--checkpoint={paper_file(NAME, 'jax_checkpoint')}")
    assert result.returncode == 0, result.stderr[-3000:]
    return wd, result.stdout, build_experiment(our_config(NAME, images))


def restored(exp, wd):
    """The workdir's newest checkpoint, restored into the structure `--mode train` builds
    (`run.initial_state`, abstract: no random initialisation to compile)."""
    checkpoints = Checkpoints(wd)
    try:
        return checkpoints.restore(jax.eval_shape(lambda: run.initial_state(exp)))
    finally:
        checkpoints.close()


def flat(tree) -> dict:
    return {tuple(k.key for k in p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def test_cli_import_writes_a_training_workdir(imported):
    wd, stdout, exp = imported
    assert f"at step {STEP}" in stdout and "Adam moments at count 1234" in stdout, stdout
    assert sorted(os.listdir(wd)) == ["checkpoints", "checkpoints-meta", "config.json"]
    assert os.listdir(os.path.join(wd, "checkpoints")) == [str(STEP)]
    assert [n for n in os.listdir(os.path.dirname(wd)) if n != "wd" and not n.endswith(".py")] == []  # no temp dir
    with open(os.path.join(wd, "config.json")) as f:
        assert json.load(f)["model"]["nf"] == 16

    ckpt = importers.read_checkpoint(paper_file(NAME, "jax_checkpoint"), exp.model, exp.data_shape)
    state = restored(exp, wd)
    assert int(state.step) == STEP
    for got, want in [(state.params, ckpt.params), (state.ema_params, ckpt.ema)]:
        got = flat(got)
        assert got.keys() == want.keys()
        for p in want:
            np.testing.assert_array_equal(got[p], want[p])
    adam, schedule = state.opt_state[1]  # clip_by_global_norm, then (Adam, warm-up schedule)
    assert int(adam.count) == STEP and int(schedule.count) == STEP
    mu, nu = flat(adam.mu), flat(adam.nu)
    for p in ckpt.params:
        np.testing.assert_array_equal(mu[p], ckpt.adam.mu[p])
        np.testing.assert_array_equal(nu[p], ckpt.adam.nu[p])


@pytest.mark.slow  # ~80 s of CPU: it compiles the U-Net's init (twice), a sampler and a train step
def test_sampling_and_training_continue_from_the_imported_state(imported):
    wd, _, exp = imported
    npz, _ = run.sample(exp, wd)  # the sample mode's machinery, two UniPC steps
    samples = np.load(npz)["samples"]
    assert npz.endswith(f"samples_{STEP}.npz") and samples.shape == (2, 16, 16, 3) and np.all(np.isfinite(samples))
    state = run.train(dataclasses.replace(exp, n_iters=STEP + 1), wd, progress=False)  # resumes at the paper's step
    assert int(state.step) == STEP + 1 and int(state.opt_state[1][0].count) == STEP + 1
    assert str(STEP + 1) in os.listdir(os.path.join(wd, "checkpoints"))


def test_torch_import_starts_a_fresh_adam(tmp_path, images):
    pytest.importorskip("torch")
    exp = build_experiment(our_config(NAME, images))
    wd = str(tmp_path / "wd")
    message = importers.import_checkpoint(exp, paper_file(NAME, "pytorch_checkpoint.pth"), wd, config_json="{}")
    assert "a fresh Adam state" in message
    state = restored(exp, wd)
    adam, schedule = state.opt_state[1]
    assert int(state.step) == STEP and int(adam.count) == 0 and int(schedule.count) == STEP
    assert all(not np.any(m) for m in flat(adam.mu).values())


def test_torch_adam_moments_follow_the_parameters(tmp_path):
    """A stepped torch Adam (exp_avg = the parameter, exp_avg_sq = its square, built here) maps its
    state index by index onto our parameters; the Fourier W (requires_grad=False) has none."""
    torch = pytest.importorskip("torch")
    name = "ncsnpp_continuous"
    ckpt = torch.load(paper_file(name, "pytorch_checkpoint.pth"), weights_only=True)
    tensors = [v for k, v in ckpt["model"].items() if k != "module.sigmas"]
    assert ckpt["optimizer"]["param_groups"][0]["params"] == list(range(len(tensors)))
    ckpt["optimizer"]["state"] = {i: {"step": torch.tensor(77.0), "exp_avg": t.clone(), "exp_avg_sq": t * t}
                                  for i, t in enumerate(tensors) if i != 0}  # 0: all_modules.0.W
    path = str(tmp_path / "stepped.pth")
    torch.save(ckpt, path)
    read = importers.read_checkpoint(path, build_model(our_config(name)), (16, 16, 3))
    assert read.adam.count == 77
    for p, v in read.params.items():
        if p[-2] == "GaussianFourierProjection_0":
            assert not np.any(read.adam.mu[p]) and not np.any(read.adam.nu[p])
        else:
            np.testing.assert_array_equal(read.adam.mu[p], v)
            np.testing.assert_allclose(read.adam.nu[p], v * v, rtol=1e-6)


def test_cli_mismatched_config_lists_the_arrays(tmp_path, images):
    wd = str(tmp_path / "wd")
    result = main_py(f"--config={config_file(tmp_path, NAME, images, nf=32)}", f"--workdir={wd}", "--mode=import",
                     f"--checkpoint={paper_file(NAME, 'jax_checkpoint')}")
    assert result.returncode == 2, result.stderr[-2000:]
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: JAX msgpack checkpoint") and "does not fit" in line, line
    assert "306 array shape(s) differ (params/AttnBlock_0/Dense_0/bias: checkpoint (32,) vs config (64,);" in line, line
    assert not os.path.exists(wd)


def test_torch_mismatched_config_lists_the_arrays():
    pytest.importorskip("torch")
    config = our_config(NAME)
    config.model.ch_mult = (1, 1)
    with pytest.raises(ValueError, match="does not fit") as e:
        importers.read_checkpoint(paper_file(NAME, "pytorch_checkpoint.pth"), build_model(config), (16, 16, 3))
    assert "params/AttnBlock_0/Dense_0/bias: checkpoint (32,) vs config (16,)" in str(e.value), str(e.value)


@pytest.mark.parametrize("fmt", ["jax_checkpoint", "pytorch_checkpoint.pth"])
def test_truncated_file_is_one_line_naming_it(tmp_path, images, fmt):
    if fmt.endswith(".pth"):
        pytest.importorskip("torch")
    with open(paper_file(NAME, fmt), "rb") as f:
        raw = f.read()
    path = tmp_path / f"checkpoint_1234.{fmt}"
    path.write_bytes(raw[: len(raw) // 2])
    exp = build_experiment(our_config(NAME, images))
    wd = str(tmp_path / "wd")
    with pytest.raises(ValueError, match="corrupt") as e:
        importers.import_checkpoint(exp, str(path), wd, config_json="{}")
    assert str(path) in str(e.value)
    assert not os.path.exists(wd) and sorted(os.listdir(tmp_path)) == [path.name]


def test_other_bad_inputs(tmp_path, images, monkeypatch):
    exp = build_experiment(our_config(NAME, images))
    wd = tmp_path / "wd"
    with pytest.raises(ValueError, match="needs --checkpoint"):
        importers.import_checkpoint(exp, "", str(wd), config_json="{}")
    with pytest.raises(FileNotFoundError, match="no such file"):
        importers.import_checkpoint(exp, str(tmp_path / "missing"), str(wd), config_json="{}")
    wd.mkdir()
    (wd / "something").write_text("")
    with pytest.raises(ValueError, match="not empty"):
        importers.import_checkpoint(exp, paper_file(NAME, "jax_checkpoint"), str(wd), config_json="{}")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ImportError, match=r'pip install -e "\.\[torch\]"'):
        torch_pth.read(paper_file(NAME, "pytorch_checkpoint.pth"), [])
