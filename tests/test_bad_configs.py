"""Bad configs and bad data through main.py: one line naming the field and its value, exit status 2,
no traceback, nothing written (project issue 7).

The many cases run in ONE Python process (`DRIVER` calls `main.main(argv)` for each argv, which
parses its flags and overrides afresh), with two simulated CPU devices so that batch sizes
that do not split over the devices can be tried; a few cases also run as real `python main.py`
subprocesses. Every case checks the message against the field and the facts it must name.
"""

import ast
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from configs import default_toy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY, DIGITS, CIFAR = (os.path.join(ROOT, "configs", f"default_{n}.py") for n in ("toy", "digits", "cifar10"))

# Calls main.main once per argv list (read as JSON from argv[1]); prints one JSON result per case.
DRIVER = r'''
import contextlib, io, json, sys
cases = json.load(open(sys.argv[1]))
import main
results = {}
for name, args in cases.items():
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main.main(["main.py", *args])
        except SystemExit as e:
            code = e.code
        except BaseException as e:  # would have been a traceback
            code = f"uncaught {type(e).__name__}: {e}"
    results[name] = {"code": code, "stderr": err.getvalue(), "stdout": out.getvalue()}
print(json.dumps(results))
'''

# A config file whose argument picks a bad variant that flags cannot express.
CONFIG_FILE = r'''
from configs import default_cifar10, default_digits, default_toy


def _replace(section, key, value):  # bypasses ConfigDict's type lock, as an edited file would
    del section[key]
    section[key] = value


def get_config(spec):
    kind, _, value = spec.partition(",")
    c = default_toy.get_config()
    if kind == "typo":
        c.model.widht = 64
    elif kind == "float_batch":
        _replace(c.training, "batch_size", 32.5)
    elif kind == "string_bool":
        _replace(c.training, "continuous", "yes")
    elif kind == "string_film":
        _replace(c.model, "time_film", "yes")
    elif kind == "foreign":  # a field of the U-Nets on the MLP
        c.model.num_res_blocks = 7
    elif kind == "foreign_sde":  # a VE field on a VP run
        c.sde.sigma_max = 5.0
    elif kind == "missing":
        del c.training["n_iters"]
    elif kind == "image_folder":
        c = default_digits.get_config()
        c.data.dataset = "image_folder"
        c.data.data_dir = value
    elif kind == "cifar10":
        c = default_cifar10.get_config()
        c.data.data_dir = value
    elif kind == "digits_file":
        c = default_digits.get_config()
        c.data.path = value
    return c
'''


def _toy(*overrides):
    return [f"--config={TOY}", *(f"--config.{o}" for o in overrides)]


def _digits(*overrides):
    return [f"--config={DIGITS}", *(f"--config.{o}" for o in overrides)]


# name -> (argv after --workdir, field=value the message starts with, substrings it must contain)
CONFIG_CASES = {
    "unknown_sde": (_toy("training.sde=foo"), "training.sde='foo'", ["['subvpsde', 'vesde', 'vpsde']"]),
    "unknown_model": (_toy("model.name=resnet"), "model.name='resnet'", ["'ddpm'", "'mlp'", "'ncsnpp'"]),
    "unknown_predictor": (_toy("sampling.predictor=heun"), "sampling.predictor='heun'",
                          ["'euler_maruyama'", "'reverse_diffusion'"]),
    "unknown_corrector": (_toy("sampling.corrector=mala"), "sampling.corrector='mala'", ["'langevin'", "'ald'"]),
    "unknown_sampler": (_toy("sampling.method=magic"), "sampling.method='magic'", ["'pc'", "'ode'", "'dpm_solver'"]),
    "unknown_dataset": (_toy("data.dataset=mnist"), "data.dataset='mnist'", ["'checkerboard'", "'digits'"]),
    "unknown_solver": (_toy("sampling.method=ode", "sampling.solver=euler"), "sampling.solver='euler'", ["'tsit5'"]),
    "unknown_grid": (_toy("sampling.grid=cosine"), "sampling.grid='cosine'", ["'logsnr'", "'karras'"]),
    "unknown_unipc_variant": (_toy("sampling.method=unipc", "sampling.variant=bh3"), "sampling.variant='bh3'",
                              ["'bh1'", "'bh2'"]),
    "unipc_order_four": (_toy("sampling.method=unipc", "sampling.order=4"), "sampling.order=4", ["1, 2 or 3"]),
    "calibration_pilot_zero": (_toy("sampling.calibration_pilot=0"), "sampling.calibration_pilot=0",
                               ["positive integer"]),
    "unknown_optimizer": (_toy("optim.optimizer=SGD"), "optim.optimizer='SGD'", ["'Adam'"]),
    "unknown_embedding": (_toy("model.embedding_type=learned"), "model.embedding_type='learned'",
                          ["'fourier'", "'positional'"]),
    "sigma_min_ge_sigma_max": (_toy("training.sde=vesde", "sde.sigma_min=60.0"), "sde.sigma_min=60.0",
                               ["sigma_min < sigma_max", "sigma_max=50.0"]),  # VESDE's default sigma_max
    "sigma_min_zero": (_toy("training.sde=vesde", "sde.sigma_min=0.0"), "sde.sigma_min=0.0", ["> 0"]),
    "beta_min_zero": (_toy("sde.beta_min=0.0"), "sde.beta_min=0.0", ["> 0"]),
    "beta_min_negative": (_toy("model.beta_min=-0.1"), "sde.beta_min=-0.1", ["> 0"]),  # the paper's spelling
    "beta_max_below_beta_min": (_toy("sde.beta_max=0.05"), "sde.beta_max=0.05", ["must be >= beta_min",
                                                                                "beta_min=0.1"]),
    "num_scales_zero": (_toy("sde.num_scales=0"), "sde.num_scales=0", ["positive integer", "N=0"]),
    "foreign_model_field": (["--config={cfg}:foreign"], "model.num_res_blocks=7",
                            ["not a field of model.name='mlp'"]),
    "foreign_sde_field": (["--config={cfg}:foreign_sde"], "sde.sigma_max=5.0",
                          ["not a field of training.sde='vpsde'"]),
    "snr_zero": (_toy("sampling.method=pc", "sampling.snr=0.0"), "sampling.snr=0.0", ["> 0"]),
    # fields the chosen method does not read are checked too
    "snr_unread": (_toy("sampling.method=ode", "sampling.snr=-1.0"), "sampling.snr=-1.0", ["> 0"]),
    "nfe_unread": (_toy("sampling.method=pc", "sampling.nfe=0"), "sampling.nfe=0", ["positive integer"]),
    "s_churn_unread": (_toy("sampling.method=pc", "sampling.s_churn=-1.0"), "sampling.s_churn=-1.0", [">= 0"]),
    "snr_negative": (_toy("sampling.method=pc", "sampling.snr=-0.16"), "sampling.snr=-0.16", ["> 0"]),
    "sampling_eps_above_T": (_toy("sampling.eps=1.5"), "sampling.eps=1.5", ["(0, T=1.0)"]),
    "sampling_eps_zero": (_toy("sampling.eps=0.0"), "sampling.eps=0.0", ["(0, T=1.0)"]),
    "training_eps_zero": (_toy("training.eps=0.0"), "training.eps=0.0", ["(0, T=1.0)"]),
    "training_eps_T": (_toy("training.eps=1.0"), "training.eps=1.0", ["(0, T=1.0)"]),
    "image_size_odd": (_digits("data.image_size=9"), "data.image_size=9", ["U-Net", "multiple of 2"]),
    "image_size_deep_unet": (_digits("model.ch_mult=(1,2,2)", "data.image_size=10"), "data.image_size=10",
                             ["halved 2 times", "multiple of 4"]),
    "image_size_zero": (_digits("data.image_size=0"), "data.image_size=0", ["positive integer"]),
    "batch_not_divisible": (_toy("training.batch_size=33"), "training.batch_size=33", ["device count 2"]),
    "sampling_batch_not_divisible": (_toy("sampling.batch_size=7"), "sampling.batch_size=7", ["device count 2"]),
    "too_many_devices": (_toy("num_devices=3"), "num_devices=3", ["2 visible"]),
    "negative_devices": (_toy("num_devices=-1"), "num_devices=-1", ["non-negative integer"]),
    "n_iters_not_multiple": (_toy("training.n_iters=4010"), "training.n_iters=4010",
                             ["multiple of training.n_jitted_steps=50"]),
    "log_freq_not_multiple": (_toy("training.log_freq=75"), "training.log_freq=75", ["n_jitted_steps=50"]),
    "preemption_freq_not_multiple": (_toy("training.snapshot_freq_for_preemption=30"),
                                     "training.snapshot_freq_for_preemption=30", ["n_jitted_steps=50"]),
    "n_jitted_steps_zero": (_toy("training.n_jitted_steps=0"), "training.n_jitted_steps=0", ["positive integer"]),
    "batch_size_zero": (_toy("training.batch_size=0"), "training.batch_size=0", ["positive integer"]),
    "negative_seed": (_toy("seed=-1"), "seed=-1", ["non-negative integer"]),
    "lr_zero": (_toy("optim.lr=0.0"), "optim.lr=0.0", ["> 0"]),
    "warmup_negative": (_toy("optim.warmup=-1"), "optim.warmup=-1", ["non-negative integer"]),
    "beta1_one": (_toy("optim.beta1=1.0"), "optim.beta1=1.0", ["[0.0, 1.0)"]),
    "weight_decay_negative": (_toy("optim.weight_decay=-0.01"), "optim.weight_decay=-0.01", [">= 0"]),
    "ema_rate_one": (_toy("model.ema_rate=1.0"), "model.ema_rate=1.0", ["[0.0, 1.0)"]),
    "corrector_steps_zero": (_toy("sampling.method=pc", "sampling.n_steps_each=0"), "sampling.n_steps_each=0", ["positive integer"]),
    "ode_rtol_zero": (_toy("sampling.method=ode", "sampling.rtol=0.0"), "sampling.rtol=0.0", ["> 0"]),
    "nfe_zero": (_toy("sampling.method=dpm_solver", "sampling.nfe=0"), "sampling.nfe=0", ["positive integer"]),
    "nfe_below_solver_minimum": (_toy("sampling.method=edm_heun", "sampling.nfe=2"), "sampling.nfe=2",
                                 ["nfe must be >= 3"]),
    "likelihood_weighting_discrete": (_toy("training.continuous=False", "training.likelihood_weighting=True"),
                                      "training.likelihood_weighting=True", ["continuous"]),
    "discrete_subvp": (_toy("training.sde=subvpsde", "training.continuous=False"), "training.continuous=False",
                       ["not defined for subVPSDE"]),
    "ancestral_subvp": (_toy("training.sde=subvpsde", "sampling.method=pc", "sampling.predictor=ancestral_sampling"),
                        "sampling.predictor='ancestral_sampling'", ["not defined for subVPSDE"]),
    "mlp_nf_too_small": (_toy("model.nf=2"), "model.nf=2", [">= 4"]),
    "unet_dropout": (_digits("model.dropout=1.5"), "model.dropout=1.5", ["[0.0, 1.0)"]),
    "unet_nf_not_multiple_of_4": (_digits("model.nf=30"), "model.nf=30", ["multiple of 4"]),
    "mlp_on_images": (_digits("model.name=mlp"), "model.name='mlp'", ["vector data", "(8, 8, 1)"]),
    "unet_on_vectors": (_toy("model.name=ddpmpp"), "model.name='ddpmpp'", ["images", "(2,)"]),
    "eval_rounds_do_not_divide": (_toy("eval.num_samples=10", "eval.rounds=3"), "eval.num_samples=10",
                                  ["multiple of eval.rounds=3"]),
    "eval_round_not_divisible_by_devices": (_toy("eval.num_samples=6", "eval.rounds=2"), "eval.num_samples=6",
                                            ["per round", "device count 2"]),
    "eval_rounds_zero": (_toy("eval.rounds=0"), "eval.rounds=0", ["positive integer"]),
    "eval_end_before_begin": (_toy("eval.begin_step=100", "eval.end_step=50"), "eval.end_step=50",
                              [">= eval.begin_step=100"]),
    "eval_rtol_zero": (_toy("eval.likelihood_rtol=0.0"), "eval.likelihood_rtol=0.0", ["> 0"]),
    "cifar_without_data_dir": ([f"--config={CIFAR}"], "data.data_dir=''", ["cifar10"]),
    "cifar_missing_dir": ([f"--config={CIFAR}", "--config.data.data_dir=/nonexistent/cifar"],
                          "data.data_dir='/nonexistent/cifar'", ["does not exist"]),
    "typo_in_model_field": (["--config={cfg}:typo"], "model.widht=64", ["typo", "'width'"]),
    "float_batch_size": (["--config={cfg}:float_batch"], "training.batch_size=32.5", ["integer"]),
    "string_for_bool": (["--config={cfg}:string_bool"], "training.continuous='yes'", ["True or False"]),
    "missing_field": (["--config={cfg}:missing"], "training.n_iters", ["missing from the config"]),
    # the recipe's options (issue 14)
    "unknown_parameterization": (_toy("model.parameterization=v"), "model.parameterization='v'", ["'edm'", "'sde'"]),
    "sigma_data_zero": (_toy("model.parameterization=edm", "model.sigma_data=0.0"), "model.sigma_data=0.0", ["> 0"]),
    "unknown_t_sampling": (_toy("training.t_sampling=sobol"), "training.t_sampling='sobol'", ["'stratified'"]),
    "unknown_t_density": (_toy("training.t_density=lognormal"), "training.t_density='lognormal'",
                          ["'uniform_logsnr'"]),
    "importance_without_likelihood": (_toy("training.importance_sampling=True"), "training.importance_sampling=True",
                                      ["likelihood_weighting=True"]),
    "unknown_lr_decay": (_toy("optim.decay=step"), "optim.decay='step'", ["'cosine'", "'linear'"]),
    "final_lr_above_lr": (_toy("optim.final_lr=1.0"), "optim.final_lr=1.0", ["[0,"]),
    "input_fourier_negative": (_toy("model.input_fourier=-1"), "model.input_fourier=-1", ["non-negative integer"]),
    "time_film_not_bool": (["--config={cfg}:string_film"], "model.time_film='yes'", ["True or False"]),
    "array_file_without_path": (_toy("data.dataset=array_file"), "data.path=None", [".npy or .npz"]),
    "array_file_missing": (_toy("data.dataset=array_file", "data.path=/nonexistent/points.npy"),
                           "data.path='/nonexistent/points.npy'", ["does not exist"]),
}


# Command-line mistakes: name -> (argv after --workdir, what the message starts with, substrings it
# must contain, the workdir: "new" (must not be created), "trained" (a workdir with a training
# config.json and a checkpoint directory) or "busy" (locked by this test process)).
CLI_CASES = {
    "misspelt_override": (_toy("training.n_iter=300"), "--config.training.n_iter",
                          ["no field 'n_iter'", "did you mean 'n_iters'?"], "new"),
    "misspelt_section": (_toy("trainig.n_iters=300"), "--config.trainig.n_iters",
                         ["no section 'trainig'", "did you mean 'training'?"], "new"),
    "override_of_a_section": (_toy("training=3"), "--config.training is a section", ["'n_iters'"], "new"),
    "wrong_config_path": (["--config=/nonexistent/config.py"], "--config='/nonexistent/config.py'",
                          ["no such config file"], "new"),
    "config_file_without_get_config": (["--config={cfg_dir}/empty_config.py"], "--config=", ["no get_config()"],
                                       "new"),
    "text_for_int": (_toy("training.n_iters=abc"), "training.n_iters='abc'",
                     ["must be an integer", f"now {default_toy.get_config().training.n_iters}"], "new"),
    "float_for_int": (_toy("training.batch_size=32.5"), "training.batch_size='32.5'", ["must be an integer"], "new"),
    "text_for_bool": (_toy("training.continuous=maybe"), "training.continuous='maybe'", ["True or False"], "new"),
    "text_for_float": (_toy("model.beta_min=x"), "sde.beta_min='x'", ["must be a number"], "new"),
    "other_models_field": (_toy("model.num_res_blocks=7"), "--config.model.num_res_blocks",
                           ["no field 'num_res_blocks' for model.name='mlp'", "a field of ddpm"], "new"),
    "other_sdes_field": (_toy("sde.sigma_max=5.0"), "--config.sde.sigma_max",
                         ["for training.sde='vpsde' (a field of vesde)"], "new"),
    "misspelt_flag": ([f"--config={TOY}", "--mdoe=sample"], "Unknown command line flag 'mdoe'",
                      ["Did you mean: mode"], "new"),
    "unknown_mode": ([f"--config={TOY}", "--mode=smaple"], "flag --mode=smaple", ["sample", "train"], "new"),
    "text_for_float_flag": ([f"--config={TOY}", "--guidance_scale=abc"], "flag --guidance_scale=abc", [], "new"),
    "sample_without_checkpoint": ([f"--config={TOY}", "--mode=sample"], "--mode sample: no checkpoint",
                                  ["train first"], "new"),
    "eval_without_checkpoint": ([f"--config={TOY}", "--mode=eval"], "--mode eval: no kept checkpoint",
                                ["train first"], "new"),
    "train_on_workdir_in_use": ([f"--config={TOY}", "--mode=train"], "workdir", ["is in use: pid {pid} is training"],
                                "busy"),
    "sample_with_other_sde": ([f"--config={TOY}", "--mode=sample", "--config.training.sde=vesde"],
                              "the config does not build the model trained in",
                              ["training.sde='vesde' (trained: 'vpsde')", "config.json"], "trained"),
    "sample_with_other_num_scales": ([f"--config={TOY}", "--mode=sample", "--config.sde.num_scales=100"],
                                     "the config does not build the model",
                                     ["sde.num_scales=100 (trained: 1000, sampling-only: allow with "
                                      "--allow_sampling_change)"], "trained"),
    "sample_allowed_num_scales_other_sde": ([f"--config={TOY}", "--mode=sample", "--allow_sampling_change",
                                             "--config.sde.num_scales=100", "--config.sde.beta_max=10.0"],
                                            "the config does not build the model",
                                            ["sde.beta_max=10.0 (trained: 20.0)"], "trained"),
    "train_resume_with_other_model": ([f"--config={TOY}", "--mode=train", "--config.model.width=64"],
                                      "the config does not build the model", ["model.width=64 (trained: 128)"],
                                      "trained"),
    **{f"{mode}_with_other_sde_parameter": ([f"--config={TOY}", f"--mode={mode}", "--config.sde.beta_max=10.0",
                                             "--config.model.nf=32"], "the config does not build the model",
                                            ["sde.beta_max=10.0 (trained: 20.0)", "model.nf=32 (trained: 16)"],
                                            "trained")
       for mode in ("eval", "calibrate", "benchmark", "inpaint", "colorize", "conditional")},
}


def _png(path, size, mode="L"):
    from PIL import Image

    Image.fromarray(np.full((size, size) + ((3,) if mode == "RGB" else ()), 128, np.uint8), mode).save(path)


def _image_folder(root, bad):
    """Three 8x8 grey PNGs, the second one spoilt as `bad` says."""
    root.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        if i == 1 and bad == "size":
            _png(root / name, 9)
        elif i == 1 and bad == "mode":
            _png(root / name, 8, "RGB")
        elif i == 1 and bad == "corrupt":
            (root / name).write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
        else:
            _png(root / name, 8)
    return root


class _Marker:
    """Unpickling this creates a file: a loader that unpickles would leave it behind."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _cifar_dir(root, bad):
    root.mkdir()
    record = np.zeros(3073, np.uint8)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        if name == "test_batch.bin" and bad == "missing":
            continue
        data = record.copy()
        if name == "data_batch_2.bin" and bad == "label":
            data[0] = 12
        raw = data.tobytes()
        (root / name).write_bytes(raw[:100] if (name == "data_batch_3.bin" and bad == "truncated") else raw)
    return root


def _data_cases(tmp):
    """Bad data: name -> (argv, field=value prefix, substrings naming the file and index)."""
    cfg = "{cfg}"
    cases = {}
    for bad, expect in (("size", ["b.png", "(index 1)", "9x9", "expected 8x8"]),
                        ("mode", ["b.png", "(index 1)", "'RGB'"]),
                        ("corrupt", ["cannot read image file", "b.png", "(index 1)"])):
        folder = _image_folder(tmp / f"images_{bad}", bad)
        cases[f"image_folder_{bad}"] = ([f"--config={cfg}:image_folder,{folder}"], f"data.data_dir='{folder}'",
                                        expect)
    empty = tmp / "images_empty"
    empty.mkdir()
    cases["image_folder_empty"] = ([f"--config={cfg}:image_folder,{empty}"], f"data.data_dir='{empty}'",
                                   ["no PNG/JPEG files", str(empty)])
    for bad, expect in (("truncated", ["data_batch_3.bin", "100 bytes"]),
                        ("missing", ["not found", "test_batch.bin"]),
                        ("label", ["data_batch_2.bin", "label 12 at record 0"])):
        folder = _cifar_dir(tmp / f"cifar_{bad}", bad)
        cases[f"cifar_{bad}"] = ([f"--config={cfg}:cifar10,{folder}"], f"data.data_dir='{folder}'", expect)
    nan_file = tmp / "digits_nan.npz"
    np.savez(nan_file, images=np.full((20, 8, 8), np.nan, np.float32), labels=np.zeros(20, np.uint8))
    cases["digits_nan"] = ([f"--config={cfg}:digits_file,{nan_file}"], f"data.path='{nan_file}'",
                           [str(nan_file), "integers"])
    pickled = tmp / "digits_pickle.npz"
    np.savez(pickled, images=np.array([_Marker(str(tmp / "UNPICKLED"))], object), labels=np.zeros(1, np.uint8))
    cases["digits_pickle"] = ([f"--config={cfg}:digits_file,{pickled}"], f"data.path='{pickled}'",
                              ["cannot read digits file", str(pickled), "allow_pickle=False"])
    cases["digits_missing_file"] = ([f"--config={cfg}:digits_file,{tmp / 'none.npz'}"],
                                    f"data.path='{tmp / 'none.npz'}'", ["not found", "none.npz"])
    arrays = {"array_rank": (np.zeros((10, 4, 4)), ["(10, 4, 4)", "channel axis"]),
              "array_nan": (np.concatenate([np.zeros((5, 2)), [[0.0, np.nan]], np.zeros((4, 2))]),
                            ["NaN or inf", "index 5"]),
              "array_too_few": (np.zeros((1, 2)), ["holds 1 rows", "at least 2"]),
              "array_pickle": (np.array([_Marker(str(tmp / "UNPICKLED"))], object), ["pickled Python objects"])}
    for name, (array, expect) in arrays.items():
        path = tmp / f"{name}.npy"
        np.save(path, array, allow_pickle=array.dtype == object)
        cases[name] = (_toy("data.dataset=array_file", f"data.path={path}"), f"data.path='{path}'",
                       [str(path), *expect])
    return cases


def _tree(root):
    """Every file under root with its bytes."""
    out = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _existing_workdir(path):
    """A workdir from an earlier run (contents that a failed command must leave alone)."""
    (path / "checkpoints" / "10").mkdir(parents=True)
    (path / "checkpoints" / "10" / "state").write_bytes(os.urandom(64))
    (path / "config.json").write_text('{"earlier": "run"}')
    (path / "metrics.jsonl").write_text('{"step": 10, "loss": 0.5}\n')
    return path


def _trained_workdir(path):
    """A workdir as `train` leaves it, as far as the checks before a mode runs can see: the
    training config (the toy defaults) and a checkpoint directory."""
    from configs import default_toy, record

    (path / "checkpoints" / "10").mkdir(parents=True)
    record.write(default_toy.get_config(), str(path / record.TRAINING_CONFIG))
    return path


@pytest.fixture(scope="module")
def driven(tmp_path_factory):
    """Runs every case in one driver process; returns {name: (expected..., result)} and the paths."""
    from training.lifecycle import WorkdirLock

    tmp = tmp_path_factory.mktemp("bad_configs")
    cfg = tmp / "bad_config.py"
    cfg.write_text(CONFIG_FILE)
    (tmp / "empty_config.py").write_text("x = 1\n")
    (tmp / "driver.py").write_text(DRIVER)
    existing = _existing_workdir(tmp / "existing")
    trained = _trained_workdir(tmp / "trained")
    busy = tmp / "busy"
    lock = WorkdirLock(str(busy)).acquire()  # held by this process while the driver runs
    before = {"existing": _tree(existing), "trained": _tree(trained), "busy": _tree(busy)}
    cases, argv = {}, {}
    for name, (args, field, expect) in {**CONFIG_CASES, **_data_cases(tmp)}.items():
        args = [a.replace("{cfg}", str(cfg)) for a in args]
        data_case = name not in CONFIG_CASES
        workdir = existing if data_case else tmp / "workdirs" / name
        argv[name] = [f"--workdir={workdir}", *args]
        cases[name] = (field, expect, workdir)
    for name, (args, field, expect, kind) in CLI_CASES.items():
        workdir = {"new": tmp / "workdirs" / name, "trained": trained, "busy": busy}[kind]
        argv[name] = [f"--workdir={workdir}", *(a.replace("{cfg_dir}", str(tmp)) for a in args)]
        cases[name] = (field, [e.replace("{pid}", str(os.getpid())) for e in expect], workdir)
    (tmp / "cases.json").write_text(json.dumps(argv))
    xla_flags = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    env = {**os.environ, "XLA_FLAGS": xla_flags, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT}
    try:
        proc = subprocess.run([sys.executable, str(tmp / "driver.py"), str(tmp / "cases.json")], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=600)
        busy_after = _tree(busy)  # while still locked
    finally:
        lock.release()
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return dict(cases=cases, results=results, existing=existing, before=before, tmp=tmp, trained=trained,
                busy_after=busy_after)


def _check_message(stderr: str, field: str, expect) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"want one line on stderr, got {stderr!r}"
    line = lines[0]
    assert "Traceback" not in line
    assert line.startswith(f"error: {field}"), line
    for text in expect:
        assert text in line, f"{text!r} not in {line!r}"
    return line


def test_enough_cases():
    assert len(CONFIG_CASES) >= 30


@pytest.mark.parametrize("name", sorted(CONFIG_CASES) + ["image_folder_size", "image_folder_mode",
                                                          "image_folder_corrupt", "image_folder_empty",
                                                          "cifar_truncated", "cifar_missing", "cifar_label",
                                                          "digits_nan", "digits_pickle", "digits_missing_file",
                                                          "array_rank", "array_nan", "array_too_few",
                                                          "array_pickle"])
def test_bad_input_exits_2_with_one_line(driven, name):
    field, expect, workdir = driven["cases"][name]
    result = driven["results"][name]
    assert result["code"] == 2, result
    _check_message(result["stderr"], field, expect)
    assert result["stdout"] == ""
    if name in CONFIG_CASES:  # nothing was written: not even the workdir was created
        assert not os.path.exists(workdir)


@pytest.mark.parametrize("name", sorted(CLI_CASES))
def test_command_line_mistake_exits_2_with_one_line(driven, name):
    """Misspelt overrides and flags, wrong paths and value types, nothing to sample from, a workdir
    in use, a config that does not build the trained model: one line, exit 2, nothing written."""
    field, expect, workdir = driven["cases"][name]
    result = driven["results"][name]
    assert result["code"] == 2, result
    _check_message(result["stderr"], field, expect)
    assert result["stdout"] == ""
    if CLI_CASES[name][3] == "new":
        assert not os.path.exists(workdir)


def test_failed_runs_leave_the_workdir_and_load_no_pickle(driven):
    for kind in ("existing", "trained"):
        assert _tree(driven[kind]) == driven["before"][kind], kind
    assert driven["busy_after"] == driven["before"]["busy"]
    assert not (driven["tmp"] / "UNPICKLED").exists()


@pytest.mark.parametrize("args, field, expect", [
    (["--mode=train", f"--config={TOY}", "--config.training.sde=vesde", "--config.model.sigma_min=60.0"],
     "sde.sigma_min=60.0", ["sigma_min < sigma_max", "sigma_max=50.0"]),
    (["--mode=sample", f"--config={DIGITS}", "--config.data.image_size=9"], "data.image_size=9", ["multiple of 2"]),
    (["--mode=train", f"--config={TOY}", "--config.training.n_iter=300"], "--config.training.n_iter",
     ["did you mean 'n_iters'?"]),
    (["--mode=train", f"--config={CIFAR}", "--config.data.data_dir=/nonexistent/cifar"],
     "data.data_dir='/nonexistent/cifar'", ["does not exist"]),
])
def test_real_main_py_subprocess(tmp_path, args, field, expect):
    workdir = tmp_path / "wd"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), f"--workdir={workdir}", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    _check_message(proc.stderr, field, expect)
    assert proc.stdout == "" and not workdir.exists()


def test_pickle_marker_is_live(tmp_path):
    """The pickle case is meaningful: unpickling the payload does create the marker file."""
    marker = tmp_path / "UNPICKLED"
    pickle.loads(pickle.dumps(_Marker(str(marker)))).close()
    assert marker.exists()


PACKAGES = ["common", "configs", "data", "evaluation", "models", "modes", "parallel", "samplers", "sde_lib", "training",
            "visualize", "main.py"]
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "torch"}


def _unsafe_loads(source: str) -> list[str]:
    """Code (not docstrings) that can unpickle: imports of pickling modules, allow_pickle=True,
    yaml.load, eval/exec."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(node.module)
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"allow_pickle={ast.unparse(kw.value)}")
            name = ast.unparse(node.func)
            if name in ("eval", "exec", "yaml.load", "yaml.unsafe_load"):
                found.append(name)
    return found


def test_no_package_code_can_unpickle_user_files():
    assert sorted(_unsafe_loads("import pickle\nnp.load(f, allow_pickle=True)\nfrom torch import load")) == [
        "allow_pickle=True", "pickle", "torch"]  # the scan sees what it looks for
    files = []
    for entry in PACKAGES:
        path = os.path.join(ROOT, entry)
        files += [path] if entry.endswith(".py") else [
            os.path.join(base, f) for base, _, names in os.walk(path) for f in names if f.endswith(".py")]
    assert len(files) > 30
    for path in files:
        with open(path) as f:
            assert _unsafe_loads(f.read()) == [], path
