"""--mode sample into a folder: one PNG per image and samples.npz, sample i independent of the batch
size, resumable after an interruption."""

import dataclasses
import os

import numpy as np
import pytest
from PIL import Image

import main
from configs import default_digits
from configs.builders import build_experiment
from modes import run, sample_folder


TRAINING = dict(n_iters=2, batch_size=8, n_jitted_steps=1, log_freq=1, snapshot_freq=2,
                snapshot_freq_for_preemption=1, snapshot_sampling=False)
DIGITS = dict(**{f"training.{k}": v for k, v in TRAINING.items()}, **{
    "num_devices": 1, "model.nf": 8, "model.attn_resolutions": (), "sde.num_scales": 5,
    "sampling.method": "ddim", "sampling.nfe": 3, "sampling.batch_size": 4})
TOY = {**{k: v for k, v in DIGITS.items() if k != "model.attn_resolutions"},  # a U-Net field: not the MLP's
       "model.width": 16, "model.num_blocks": 1, "model.nf": 8}


def _checkpointed(config, changes, wd):
    """A workdir holding the config's initial state as its step-0 checkpoint and its config.json
    (untrained parameters: sampling needs no training to be tested)."""
    from configs import record
    from training.checkpoints import Checkpoints

    for field, value in changes.items():
        section, _, key = field.rpartition(".")
        (config[section] if section else config)[key] = value
    exp = build_experiment(config)
    checkpoints = Checkpoints(wd)
    checkpoints.save(run.initial_state(exp), snapshot=True)
    checkpoints.close()
    record.write(config, os.path.join(wd, record.TRAINING_CONFIG))
    return exp, wd


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from configs import default_toy

    return _checkpointed(default_toy.get_config(), {k: v for k, v in TOY.items() if k != "model.attn_resolutions"},
                         str(tmp_path_factory.mktemp("toy") / "wd"))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return _checkpointed(default_digits.get_config(), DIGITS, str(tmp_path_factory.mktemp("digits") / "wd"))


def test_samples_do_not_depend_on_the_batch_size_and_resume(toy, tmp_path, monkeypatch):
    exp, wd = dataclasses.replace(toy[0], sampling_method="pc", sampling_options=dict(predictor="euler_maruyama",
                                                                                     corrector="none")), toy[1]
    a = sample_folder.sample_to_folder(exp, wd, str(tmp_path / "a"), 6, batch_size=3)
    with np.load(a) as f:
        first, nfe, step = f["samples"], f["nfe"], int(f["step"])
    assert first.shape == (6, 2) and step == 0 and np.all(nfe == nfe[0]) and np.all(np.isfinite(first))
    assert len(np.unique(first[:, 0])) == 6 and not os.path.exists(tmp_path / "a" / "parts")

    # Batches of 2, interrupted (Ctrl-C) after the first, then rerun: only the missing ones are drawn,
    # and all equal the batches of 3 (up to float32 round-off of a differently batched network).
    save_part, calls = sample_folder._save_part, []

    def interrupted_save(parts_dir, indices, *args):
        calls.append(list(indices))
        if len(calls) == 2:
            raise KeyboardInterrupt
        save_part(parts_dir, indices, *args)

    monkeypatch.setattr(sample_folder, "_save_part", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        sample_folder.sample_to_folder(exp, wd, str(tmp_path / "c"), 6, batch_size=2)
    assert os.listdir(tmp_path / "c" / "parts") == ["part_000000_000001.npz"]
    c = sample_folder.sample_to_folder(exp, wd, str(tmp_path / "c"), 6, batch_size=2)
    assert calls == [[0, 1], [2, 3], [2, 3], [4, 5]]  # batch [0, 1] was not redrawn
    np.testing.assert_allclose(np.load(c)["samples"], first, rtol=0, atol=1e-5)


def test_main_sample_to_folder_one_png_each(digits, tmp_path, capfd):
    exp, wd = digits
    config = os.path.join(os.path.dirname(__file__), "..", "configs", "default_digits.py")
    common = ["main.py", f"--config={config}", f"--workdir={wd}", "--mode=sample",
              *(f"--config.{k}={v}" for k, v in DIGITS.items())]
    out = tmp_path / "out"
    assert main.main([*common, "--config.sampling.num_samples=5", f"--samples_dir={out}"]) == 0
    o, err = capfd.readouterr()
    assert f"wrote {out}/samples.npz and one PNG per image in {out}" in o, err
    assert "sampling 5 of 5 samples (ddim, step 0 checkpoint) in batches of 4" in err
    samples = np.load(out / "samples.npz")["samples"]
    assert samples.shape == (5, 8, 8, 1) and (out / "config.json").exists()
    assert sorted(n for n in os.listdir(out) if n[:6].isdigit()) == [f"{i:06d}.png" for i in range(5)]
    image = np.asarray(Image.open(out / "000003.png"))
    expected = np.rint(np.clip((samples[3, ..., 0] + 1) / 2, 0, 1) * 255)  # centered [-1, 1] -> pixels
    np.testing.assert_array_equal(image, expected)
    assert main.main([*common, "--config.sampling.num_samples=5", f"--samples_dir={out}",
                      "--config.sampling.nfe=4"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --samples_dir {out} holds samples drawn with another config "
                          "(sampling.nfe=4 (there: 3))"), err
