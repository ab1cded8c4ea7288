"""Train -> pre-emption checkpoint -> restart -> sample, through main.py and in-process."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import default_digits, default_toy
from configs.builders import build_experiment
from modes import controllable, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY_CONFIG = '''
from configs import default_toy

def get_config():
    c = default_toy.get_config()
    c.training.n_iters = 10
    c.training.batch_size = 32
    c.training.n_jitted_steps = 5
    c.training.log_freq = 5
    c.training.snapshot_freq = 20
    c.training.snapshot_freq_for_preemption = 5
    c.training.snapshot_sampling = False
    c.model.width = 32
    c.model.num_blocks = 1
    c.model.nf = 16
    c.sde.num_scales = 20
    c.sampling.batch_size = 16
    return c
'''


def tiny_toy_config(sde="vpsde", n_iters=20):
    c = default_toy.get_config(sde)
    c.training.n_iters = n_iters
    c.training.batch_size = 32
    c.training.n_jitted_steps = 5
    c.training.log_freq = 5
    c.training.snapshot_freq = 20
    c.training.snapshot_freq_for_preemption = 5
    c.training.snapshot_sampling = sde == "vpsde"  # covers the snapshot pictures once
    c.model.width = 32
    c.model.num_blocks = 1
    c.model.nf = 16
    c.sde.num_scales = 20
    c.sampling.batch_size = 16
    return c


def main_py(*args):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("sde", ["vpsde", "subvpsde", "vesde"])
def test_main_train_restart_sample(tmp_path, sde):
    """Train to step 10, resume to 20, sample. VP runs through main.py in subprocesses (the command
    line, its flag overrides, a fresh process resuming); sub-VP and VE run in-process through the
    functions main.py calls (run.train, run.sample): the three differ only in the SDE, and each
    subprocess re-imports and re-compiles everything."""
    wd = str(tmp_path / "wd")
    if sde == "vpsde":
        config = tmp_path / "tiny.py"
        config.write_text(TINY_CONFIG)
        common = [f"--config={config}", f"--workdir={wd}", f"--config.training.sde={sde}"]

        def train(n_iters):
            main_py(*common, "--mode=train", *([f"--config.training.n_iters={n_iters}"] if n_iters != 10 else []))

        def sample():
            main_py(*common, "--mode=sample")
    else:
        assert tiny_toy_config(sde, n_iters=10).training.snapshot_sampling is False  # TINY_CONFIG's run

        def train(n_iters):
            run.train(build_experiment(tiny_toy_config(sde, n_iters)), wd, progress=False)

        def sample():
            run.sample(build_experiment(tiny_toy_config(sde, 20)), wd)
    train(10)  # stops at step 10: snapshot + pre-emption checkpoints
    assert sorted(os.listdir(os.path.join(wd, "checkpoints"))) == ["10"]
    train(20)  # the same run, resumed
    assert "20" in os.listdir(os.path.join(wd, "checkpoints"))
    with open(os.path.join(wd, "metrics.jsonl")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps == [5, 10, 15, 20], steps
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(os.path.join(wd, "tensorboard")))
    sample()
    samples = np.load(os.path.join(wd, "samples", "samples_20.npz"))["samples"]
    assert samples.shape == (16, 2) and np.all(np.isfinite(samples))
    assert os.path.getsize(os.path.join(wd, "samples", "samples_20.png")) > 1000


def test_restarted_run_equals_uninterrupted_run(tmp_path):
    full = run.train(build_experiment(tiny_toy_config(n_iters=20)), str(tmp_path / "a"), progress=False)
    run.train(build_experiment(tiny_toy_config(n_iters=10)), str(tmp_path / "b"), progress=False)
    resumed = run.train(build_experiment(tiny_toy_config(n_iters=20)), str(tmp_path / "b"), progress=False)
    assert int(resumed.step) == 20
    assert os.path.exists(tmp_path / "a" / "snapshots" / "samples_20.png")
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)


def test_sampling_is_reproducible_and_images_work(tmp_path):
    c = default_digits.get_config()
    c.training.n_iters = 10
    c.training.batch_size = 8
    c.training.n_jitted_steps = 5
    c.training.log_freq = 5
    c.training.snapshot_freq = 10
    c.training.snapshot_freq_for_preemption = 5
    c.model.nf = 8
    c.model.attn_resolutions = ()
    c.sde.num_scales = 5
    c.sampling.batch_size = 4
    c.training.snapshot_sampling = False
    exp = build_experiment(c)
    wd = str(tmp_path / "digits")
    run.train(exp, wd, progress=False)
    npz, png = run.sample(exp, wd)
    first = np.load(npz)["samples"]
    assert first.shape == (4, 8, 8, 1) and os.path.getsize(png) > 1000
    run.sample(exp, wd)
    np.testing.assert_array_equal(np.load(npz)["samples"], first)
    # --mode inpaint: the known left half is kept exactly, the right half is filled in.
    png = controllable.inpaint(exp, wd, num=4)
    out = np.load(os.path.join(wd, "controllable", "inpaint.npz"))
    known = out["mask"] > 0
    np.testing.assert_allclose(out["samples"][known], out["data"][known], atol=1e-6)
    assert not np.allclose(out["samples"][~known], out["data"][~known]) and os.path.getsize(png) > 1000
    with pytest.raises(ValueError, match="RGB"):
        controllable.colorize(exp, wd)


def test_sampling_without_checkpoint_names_the_directory(tmp_path):
    exp = build_experiment(tiny_toy_config())
    with pytest.raises(FileNotFoundError, match="checkpoints"):
        run.sample(exp, str(tmp_path / "empty"))


def test_checkpoint_of_another_model_is_named(tmp_path):
    wd = str(tmp_path / "wd")
    run.train(build_experiment(tiny_toy_config(n_iters=5)), wd, progress=False)
    other = tiny_toy_config(n_iters=5)
    other.model.width = 48
    with pytest.raises(ValueError, match="does not match"):
        run.sample(build_experiment(other), wd)


def test_calibrate_then_sample_on_the_fitted_grid(tmp_path):
    """--mode calibrate writes a grid for the configured fixed-step sampler; sampling.grid=<that
    .npy> samples on it; a grid of the wrong length, a missing file and a non-fixed-step method are
    named errors."""
    config = tmp_path / "tiny.py"
    config.write_text(TINY_CONFIG)
    wd = str(tmp_path / "wd")
    c = tiny_toy_config(n_iters=10)
    c.sampling.method, c.sampling.nfe = "unipc", 5
    run.train(build_experiment(c), wd, progress=False)
    out = main_py(f"--config={config}", f"--workdir={wd}", "--config.sampling.method=unipc",
                  "--config.sampling.nfe=5", "--mode=calibrate", "--config.sampling.calibration_pilot=16",
                  "--config.sampling.calibration_iters=4").stdout
    path = os.path.join(wd, "grids", "unipc_nfe5.npy")
    assert f"--config.sampling.grid={path}" in out and os.path.getsize(path[:-4] + ".png") > 1000
    grid = np.load(path)
    assert grid.shape == (5,) and np.all(np.diff(grid) < 0)  # 4 steps + the final denoising evaluation

    c.sampling.grid = path
    exp = build_experiment(c)
    np.testing.assert_array_equal(exp.sampling_options["grid"], grid)
    npz, _ = run.sample(exp, wd)
    assert np.all(np.isfinite(np.load(npz)["samples"]))

    c.sampling.nfe = 7
    with pytest.raises(ValueError, match=r"sampling.grid=.*1-D array of 7 times \(this sampler takes 6 steps\)"):
        build_experiment(c)
    c.sampling.grid = str(tmp_path / "missing.npy")
    with pytest.raises(FileNotFoundError, match="sampling.grid=.*missing.npy' does not exist"):
        build_experiment(c)
    with pytest.raises(ValueError, match="fits a deterministic fixed-step sampler, got sampling.method="):
        run.calibrate(build_experiment(tiny_toy_config(n_iters=10)), wd, pilot=4, n_iters=1)
