"""Around a trained model: the workdir keeps its training config, other modes are checked against
it (and write their own config beside their outputs), and the workdir lock."""

import json
import os
import subprocess
import sys

import pytest

import main
from configs import default_toy, record
from training import lifecycle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = [f"--config={os.path.join(ROOT, 'configs', 'default_toy.py')}", "--config.num_devices=1",
        "--config.training.n_iters=2", "--config.training.batch_size=16", "--config.training.n_jitted_steps=1",
        "--config.training.log_freq=1", "--config.training.snapshot_freq=2",
        "--config.training.snapshot_freq_for_preemption=1", "--config.training.snapshot_sampling=False",
        "--config.model.width=16", "--config.model.num_blocks=1", "--config.model.nf=8",
        "--config.model.num_scales=20", "--config.sampling.batch_size=8", "--config.sampling.method=ddim",
        "--config.sampling.nfe=2"]


def _main(capfd, *args):
    code = main.main(["main.py", *args])
    out, err = capfd.readouterr()
    return code, out, err


def test_differences_name_fields_and_allow_only_sampling_settings():
    trained = record.as_json(default_toy.get_config())
    c = default_toy.get_config("vesde")
    c.sde.sigma_max, c.sde.num_scales, c.sampling.nfe = 5.0, 50, 7
    diff = record.differences(record.as_json(c), trained)
    assert diff == ["training.sde='vesde' (trained: 'vpsde')",
                    "sde.num_scales=50 (trained: 1000, sampling-only: allow with --allow_sampling_change)"]
    # (the SDE's other parameters are not listed: training.sde says the SDE differs; sampling.nfe is free)
    assert record.differences(record.as_json(c), trained, allowed=record.SAMPLING_ONLY) == [diff[0]]
    discrete = default_toy.get_config()
    discrete.training.continuous = False
    c = default_toy.get_config()
    c.training.continuous, c.sde.num_scales = False, 50
    assert record.differences(record.as_json(c), record.as_json(discrete), allowed=record.SAMPLING_ONLY) == [
        "sde.num_scales=50 (trained: 1000, defines the noise levels of discrete-time training)"]


def test_the_output_parameterisation_and_edms_sigma_data_are_model_defining():
    """EDM's preconditioning wraps the same network (the checkpoint's arrays match either way), so
    sampling an sde-trained workdir with the edm default would draw garbage without this check."""
    edm = default_toy.get_config()  # edm, sigma_data 2.3
    sde = default_toy.get_config()
    sde.model.parameterization, sde.model.sigma_data = "sde", 1.0
    assert record.differences(record.as_json(edm), record.as_json(sde)) == [
        "model.parameterization='edm' (trained: 'sde')", "model.sigma_data=2.3 (trained: 1.0)"]
    other = default_toy.get_config()
    other.model.sigma_data = 1.5
    assert record.differences(record.as_json(other), record.as_json(edm)) == ["model.sigma_data=1.5 (trained: 2.3)"]
    sde2 = default_toy.get_config()
    sde2.model.parameterization, sde2.model.sigma_data = "sde", 0.7  # unused by the sde output: free
    assert record.differences(record.as_json(sde2), record.as_json(sde)) == []
    old = record.as_json(sde)  # a config.json written before the option existed: the sde output
    del old["model"]["parameterization"], old["model"]["sigma_data"]
    assert record.differences(record.as_json(sde), old) == []
    assert record.differences(record.as_json(edm), old)[0] == "model.parameterization='edm' (trained: 'sde')"


def test_a_config_json_in_the_papers_field_names_compares_field_for_field(tmp_path):
    """A workdir trained before the sde section existed recorded model.beta_min, model.num_scales, ...;
    read through configs.fields.upgrade, it matches today's config of the same run, and a change shows
    under today's name."""
    old = record.as_json(default_toy.get_config())
    sde = old.pop("sde")
    old["model"].update(num_scales=sde["num_scales"], beta_min=sde["beta_min"], beta_max=sde["beta_max"],
                        sigma_min=0.01, sigma_max=10.0)  # the old defaults wrote the VE fields too
    with open(tmp_path / record.TRAINING_CONFIG, "w") as f:
        json.dump(old, f)
    recorded = record.read_training_config(str(tmp_path))
    assert recorded["sde"] == {**sde, "sigma_min": 0.01, "sigma_max": 10.0} and "num_scales" not in recorded["model"]
    assert record.check_against_training(default_toy.get_config(), str(tmp_path))
    changed = default_toy.get_config()
    changed.sde.beta_max = 10.0
    assert record.differences(record.as_json(changed), recorded) == ["sde.beta_max=10.0 (trained: 20.0)"]
    with pytest.raises(ValueError, match=r"sde\.beta_max=10\.0 \(trained: 20\.0\)"):
        record.check_against_training(changed, str(tmp_path))


def test_train_keeps_its_config_and_other_modes_are_checked(tmp_path, capfd):
    wd = str(tmp_path / "wd")
    code, out, err = _main(capfd, *TINY, f"--workdir={wd}", "--mode=train")
    assert code == 0, err
    with open(os.path.join(wd, "config.json"), "rb") as f:
        trained = f.read()
    assert json.loads(trained)["training"]["n_iters"] == 2

    # The command: another SDE on a VP workdir stops, naming the field; nothing is written.
    code, out, err = _main(capfd, *TINY, f"--workdir={wd}", "--mode=sample", "--config.training.sde=vesde")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "training.sde='vesde' (trained: 'vpsde')" in err
    assert not os.path.exists(os.path.join(wd, "samples"))

    code, out, err = _main(capfd, *TINY, f"--workdir={wd}", "--mode=sample", "--config.sde.num_scales=40")
    assert code == 2 and "sde.num_scales=40 (trained: 20" in err, err

    # A deliberate change of the sampler's discretisation; the run's config goes beside the samples.
    code, out, err = _main(capfd, *TINY, f"--workdir={wd}", "--mode=sample", "--config.sde.num_scales=40",
                           "--allow_sampling_change")
    assert code == 0, err
    with open(os.path.join(wd, "samples", "config.json")) as f:
        assert json.load(f)["sde"]["num_scales"] == 40
    with open(os.path.join(wd, "config.json"), "rb") as f:
        assert f.read() == trained  # the training record is untouched

    # Resuming training with another network is refused too (the allowance is for sampling only).
    code, out, err = _main(capfd, *TINY, f"--workdir={wd}", "--mode=train", "--config.training.n_iters=4",
                           "--config.model.num_scales=40", "--allow_sampling_change")  # the paper's spelling
    assert code == 2 and "sde.num_scales=40" in err, err


def test_lock_names_its_holder_and_a_dead_holder_is_taken_over(tmp_path):
    wd = str(tmp_path / "wd")
    assert lifecycle.lock_holder(wd) is None and not os.path.exists(wd)  # asking creates nothing
    with lifecycle.WorkdirLock(wd) as held:
        assert held.stale is None
        assert lifecycle.lock_holder(wd) == f"pid {os.getpid()}"
        with pytest.raises(lifecycle.WorkdirInUse, match=f"is in use: pid {os.getpid()} is training there"):
            lifecycle.WorkdirLock(wd).acquire()  # a second open file description: flock refuses it
    assert lifecycle.lock_holder(wd) is None  # released

    # A lock file left by a process that died (kill -9 leaves it: the kernel drops only the flock).
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    with open(os.path.join(wd, lifecycle.LOCK_FILE), "w") as f:
        f.write(f"pid={pid} host={os.uname().nodename}\n")
    assert lifecycle.lock_holder(wd) is None
    with lifecycle.WorkdirLock(wd) as taken:  # main.py's train prints "took over the lock of pid N ..."
        assert taken.stale == f"pid {pid}"
        assert lifecycle.lock_holder(wd) == f"pid {os.getpid()}"


def test_progress_in_a_log_file_is_whole_lines(capsys):
    from training import progress

    bar = progress.bar(total=10, desc="sample")  # stderr is captured: not a terminal
    assert isinstance(bar, progress.LineProgress)
    bar.interval = 0.0
    bar.update(4)
    bar.set_postfix(loss="0.5")
    bar.update(6)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["sample: 4/10", "sample: 10/10", "sample: 10/10"]
    assert lines[-1].endswith(", loss=0.5)") and "\r" not in "".join(lines)


def test_benchmark_sections_reach_benchmark_md_as_they_finish(tmp_path, monkeypatch):
    from benchmarks import solvers

    def analytic(workdir, *, quick, emit=None, **narrowing):
        emit("### first problem")
        raise KeyboardInterrupt  # interrupted during the second problem

    monkeypatch.setattr(solvers, "analytic_section", analytic)
    with pytest.raises(KeyboardInterrupt):
        solvers.run(tmp_path, quick=True)
    text = (tmp_path / "benchmark.md").read_text()
    assert text.startswith("## Sampler benchmark (quick)") and text.endswith("### first problem\n")


def test_image_folder_config_fields_are_settable_from_the_command_line(tmp_path):
    """configs/image_folder.py with a folder of generated PNGs builds an experiment from overrides."""
    import numpy as np
    from PIL import Image

    from configs import cli
    from configs.builders import build_experiment

    for i in range(10):
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(tmp_path / f"{i}.png")
    config = cli.load_config(os.path.join(ROOT, "configs", "image_folder.py"))
    cli.apply_overrides(config, {"data.data_dir": str(tmp_path), "data.image_size": "8", "data.mode": "L",
                                 "data.random_flip": "false", "data.centered": "False"})
    exp = build_experiment(config)
    assert exp.data_shape == (8, 8, 1) and exp.dataset.num_eval == 1  # converted to grey; 10% held out
    assert exp.preprocess_options == dict(uniform_dequantization=False, centered=False, random_flip=False)
