"""What each `main.py --mode` runs, given plain values: a `Run` (the Experiment, the workdir, the
config's JSON text) and the mode's own settings as keyword arguments. main.py reads the flags and
the config fields into these (its MODES table); nothing here sees a config.

Every mode records the config it ran with beside its outputs (`write_config`), never over the
training record `workdir/config.json` that only `train` writes.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np

import importers
from importers import inception_pth
from evaluation import stats
from modes import controllable, run as run_lib
from modes.evaluate import EvalOptions, evaluate, image_extractor
from modes.run import Experiment
from modes.sample_folder import sample_to_folder
from training import lifecycle
from training.checkpoints import finalized_steps
from training.progress import line

CONFIG_FILE = "config.json"  # the training record in the workdir, and each mode's beside its outputs


class UsageError(Exception):
    """A mistake in the command line or its inputs: one line, exit status 2."""


@dataclasses.dataclass(frozen=True)
class Run:
    """What every mode gets."""

    exp: Experiment
    workdir: str
    config_json: str  # the config as JSON text, as configs.record writes it
    mode: str = ""  # the --mode name (inpaint, colorize and conditional share their files' layout)


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def write_config(r: Run, path: str) -> str:
    """Records the run's config at `path` atomically (creating its folder)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(r.config_json)
    os.replace(path + ".tmp", path)
    return path


def train_mode(r: Run) -> None:
    """Trains (resuming from the newest checkpoint) under the workdir's lock."""
    try:
        lock = lifecycle.WorkdirLock(r.workdir).acquire()
    except lifecycle.WorkdirInUse as e:
        raise UsageError(one_line(e)) from e
    try:
        if lock.stale:
            print(f"took over the lock of {lock.stale}, which is no longer running", file=sys.stderr)
        write_config(r, os.path.join(r.workdir, CONFIG_FILE))
        try:
            state = run_lib.train(r.exp, r.workdir)
        except lifecycle.Preempted as e:
            print(f"{e}: saved the pre-emption checkpoint of step {int(e.state.step)} at {e.path}; "
                  "run the same command to resume", file=sys.stderr)
            sys.exit(e.exit_code)
    finally:
        lock.release()
    print(f"trained to step {int(state.step)}; checkpoints in {os.path.join(r.workdir, 'checkpoints')}")


def samples_dir(workdir: str, folder: str | None) -> str:
    """The folder of `--mode sample` with a sample count: `folder`, or samples/step_<newest step>."""
    if folder:
        return folder
    newest = max(s for steps in finalized_steps(workdir).values() for s in steps)
    return os.path.join(workdir, "samples", f"step_{newest}")


def sample_mode(r: Run, *, num_samples: int, folder: str | None) -> None:
    """`num_samples` samples into a folder, or (num_samples=0 and no folder) one batch of
    sampling.batch_size into samples/samples_<step>.{npz,png}."""
    if not num_samples and not folder:
        write_config(r, os.path.join(r.workdir, "samples", CONFIG_FILE))
        npz, png = run_lib.sample(r.exp, r.workdir)
        print(f"wrote {npz} and {png}")
        return
    out = samples_dir(r.workdir, folder)
    write_config(r, os.path.join(out, CONFIG_FILE))
    try:
        npz = sample_to_folder(r.exp, r.workdir, out, num_samples or r.exp.num_samples)
    except ValueError as e:  # samples of another checkpoint in the folder
        raise UsageError(one_line(e)) from e
    print(f"wrote {npz} and one PNG per image in {out}" if r.exp.dataset.is_image else f"wrote {npz}")


def eval_mode(r: Run, *, options: EvalOptions) -> None:
    write_config(r, os.path.join(r.workdir, "eval", CONFIG_FILE))
    for result in evaluate(r.exp, r.workdir, options):
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


def controllable_mode(r: Run, *, guidance_scale: float = 1.0) -> None:
    """inpaint, colorize or conditional (r.mode) with the newest checkpoint, into workdir/controllable."""
    out = os.path.join(r.workdir, "controllable")
    write_config(r, os.path.join(out, f"{r.mode}_config.json"))
    line(f"{r.mode}: sampling with the workdir's newest checkpoint into {out}")
    if r.mode == "conditional":
        print(controllable.conditional(r.exp, r.workdir, scale=guidance_scale))
    else:
        print("wrote", getattr(controllable, r.mode)(r.exp, r.workdir))


def calibrate_mode(r: Run, *, pilot: int, n_iters: int) -> None:
    """Fits the fixed-step sampler's grid (or the learned solver) to the checkpoint's score."""
    write_config(r, os.path.join(r.workdir, "grids", CONFIG_FILE))
    try:
        path, png, fit = run_lib.calibrate(r.exp, r.workdir, pilot=pilot, n_iters=n_iters)
    except ValueError as e:
        raise UsageError(one_line(e)) from e
    if path.endswith(".npz"):  # a learned solver: the options it was fitted for go with it
        use = (f"--config.sampling.method=learned --config.sampling.nfe={fit.solver.nfe} "
               f"--config.sampling.learned_solver={path}")
    else:
        use = f"--config.sampling.grid={path}"
    print(f"pilot relative error against the converged ODE: {fit.initial_error:.3g} (initial) -> "
          f"{fit.final_error:.3g} (fitted); wrote {path} and {png}\nsample with it: {use}")


def stats_mode(r: Run, *, inception: str, stats_file: str | None) -> None:
    """The training images' feature statistics (mean, covariance) for FID: --config.eval.stats=PATH."""
    dataset = r.exp.dataset
    if not dataset.is_image:
        raise UsageError(f"--mode stats: data.dataset={dataset.name!r} is vector data; FID statistics are of images")
    extractor, _ = image_extractor(r.exp, r.workdir, inception)
    if extractor is None:
        raise UsageError(f"--mode stats: data.dataset={dataset.name!r} needs Inception features: "
                         "--config.eval.inception=WEIGHTS.npz (see --mode convert_inception)")
    images = np.asarray(dataset.x_train, np.float32) / 255.0
    path = stats_file or os.path.join(r.workdir, "stats", f"{dataset.name}_{extractor.name}.npz")
    line(f"stats: {extractor.name} features of {len(images)} training images")
    result = stats.save_stats(path, stats.dataset_stats(extractor, images))
    print(f"wrote {result} ({len(images)} images, {extractor.name} features); "
          f"FID against it: --config.eval.stats={result}")


def import_mode(r: Run, *, checkpoint: str | None) -> None:
    """A checkpoint of the paper's code into a new workdir (nothing written on failure)."""
    if not checkpoint:
        raise UsageError("--mode import needs --checkpoint=FILE (a score_sde checkpoint_N or a score_sde_pytorch .pth)")
    try:
        print(importers.import_checkpoint(r.exp, checkpoint, r.workdir, config_json=r.config_json))
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise UsageError(one_line(e)) from e


def convert_inception_mode(*, checkpoint: str | None, out: str | None) -> None:
    """pytorch-fid's Inception weights file into the .npz of --config.eval.inception (a standalone
    mode: no config, no workdir)."""
    if not checkpoint:
        raise UsageError("--mode convert_inception needs --checkpoint=FILE: pytorch-fid's weights, "
                         f"{inception_pth.WEIGHTS_URL}")
    try:
        print(inception_pth.convert(checkpoint, out))
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise UsageError(one_line(e)) from e
