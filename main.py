"""Score-based generative modelling through SDEs: train, sample (and more modes) from a config file.

    python main.py --config configs/default_toy.py --workdir workdir/toy --mode train
    python main.py --config configs/default_toy.py --workdir workdir/toy --mode sample \
        --config.sampling.num_samples=1000 --samples_dir workdir/toy/samples/pc1000
    python main.py --config configs/default_toy.py --workdir workdir/toy --mode calibrate \
        --config.sampling.method=unipc --config.sampling.nfe=10   # then sample with the grid it prints
    python main.py --config configs/vp/cifar10_ddpmpp_continuous.py --workdir workdir/ddpmpp --mode import \
        --checkpoint checkpoint_26   # a paper checkpoint (score_sde msgpack or score_sde_pytorch .pth)
    python main.py --mode convert_inception --checkpoint pt_inception-2015-12-05-6726825d.pth \
        --out pt_inception.npz       # pytorch-fid's weights for --config.eval.inception (no config, no workdir)

Running the same train command again on the same workdir resumes from the newest checkpoint;
SIGINT / SIGTERM save a checkpoint of the current step first. `train` records its config in
`workdir/config.json`; the other modes check that their config builds the model trained there.
Every mistake in the command line is one line on stderr with exit status 2.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, Callable

import numpy as np
from absl import flags, logging

from configs import cli, record

flags.DEFINE_string("config", "configs/default_toy.py", "Path to a config file (path.py or path.py:argument); "
                    "override its fields with --config.<section>.<field>=<value>.")
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs, samples and pictures.")
flags.DEFINE_enum("mode", "train", ["train", "sample", "eval", "inpaint", "colorize", "conditional", "benchmark",
                                   "calibrate", "stats", "import", "convert_inception"], "What to run.")
flags.DEFINE_string("checkpoint", None, "--mode import: a checkpoint of the paper's code (JAX msgpack or .pth); "
                    "--mode convert_inception: pytorch-fid's pt_inception-2015-12-05-6726825d.pth.")
flags.DEFINE_string("out", None, "--mode convert_inception: the .npz to write; default the checkpoint's path "
                    "with .npz.")
flags.DEFINE_string("stats_file", None, "--mode stats: where to write the data set's feature statistics; default "
                    "workdir/stats/<dataset>_<features>.npz.")
flags.DEFINE_bool("allow_sampling_change", False, "Allow sampling-only SDE settings (sde.num_scales) to differ "
                  "from the training config.")
flags.DEFINE_string("samples_dir", None, "--mode sample: the folder for sampling.num_samples samples (one PNG "
                    "each and samples.npz; resumable); default workdir/samples/step_<step>.")
flags.DEFINE_bool("benchmark_quick", False, "--mode benchmark: a reduced run (about two minutes).")
flags.DEFINE_float("guidance_scale", 1.0, "--mode conditional: weight of the classifier's gradient.")
flags.DEFINE_string("coordinator_address", None, "Multi-host: address:port of process 0 (jax.distributed).")
flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
flags.DEFINE_integer("process_id", None, "Multi-host: this process's index.")
FLAGS = flags.FLAGS


class UsageError(Exception):
    """A mistake in the command line or its inputs: one line, exit status 2."""


@dataclasses.dataclass
class Run:
    """What a mode function gets: the config, the Experiment built from it and the flags."""

    config: Any
    exp: Any
    workdir: str
    flags: Any


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


# ----- the modes ---------------------------------------------------------------------------------
def train_mode(r: Run) -> None:
    from training import lifecycle, run

    try:
        lock = lifecycle.WorkdirLock(r.workdir).acquire()
    except lifecycle.WorkdirInUse as e:
        raise UsageError(_one_line(e)) from e
    try:
        if lock.stale:
            print(f"took over the lock of {lock.stale}, which is no longer running", file=sys.stderr)
        record.write(r.config, os.path.join(r.workdir, record.TRAINING_CONFIG))
        try:
            state = run.train(r.exp, r.workdir)
        except lifecycle.Preempted as e:
            print(f"{e}: saved the pre-emption checkpoint of step {int(e.state.step)} at {e.path}; "
                  "run the same command to resume", file=sys.stderr)
            sys.exit(e.exit_code)
    finally:
        lock.release()
    print(f"trained to step {int(state.step)}; checkpoints in {os.path.join(r.workdir, 'checkpoints')}")


def sample_mode(r: Run) -> None:
    """sampling.num_samples samples into a folder, or (num_samples=0 and no --samples_dir) one batch
    of sampling.batch_size into samples/samples_<step>.{npz,png}."""
    from training import run

    num = r.config.sampling.get("num_samples", 0)
    if not num and not r.flags.samples_dir:
        record.write(r.config, record.run_config_path(os.path.join(r.workdir, "samples")))
        npz, png = run.sample(r.exp, r.workdir)
        print(f"wrote {npz} and {png}")
        return
    from training.sample_folder import sample_to_folder

    out = _samples_dir(r)
    record.write(r.config, record.run_config_path(out))
    try:
        npz = sample_to_folder(r.exp, r.workdir, out, num or r.config.sampling.batch_size)
    except ValueError as e:  # samples of another checkpoint in the folder
        raise UsageError(_one_line(e)) from e
    print(f"wrote {npz} and one PNG per image in {out}" if r.exp.dataset.is_image else f"wrote {npz}")


def _samples_dir(r: Run) -> str:
    from training.checkpoints import finalized_steps

    if r.flags.samples_dir:
        return r.flags.samples_dir
    newest = max(s for steps in finalized_steps(r.workdir).values() for s in steps)
    return os.path.join(r.workdir, "samples", f"step_{newest}")


def _check_samples_dir(config, r_flags, workdir) -> None:
    """A folder that holds samples of another sampling config is not extended (mixing them)."""
    if r_flags.mode != "sample" or not (config.sampling.get("num_samples") or r_flags.samples_dir):
        return
    out = _samples_dir(Run(config, None, workdir, r_flags))
    earlier = record.read_training_config(out)
    if earlier is None:
        return
    now = record.as_json(config)
    keys = sorted(set(now["sampling"]) | set(earlier.get("sampling", {})))
    diff = [f"sampling.{k}={now['sampling'].get(k)!r} (there: {earlier.get('sampling', {}).get(k)!r})"
            for k in keys if k not in ("num_samples", "batch_size")
            and now["sampling"].get(k) != earlier.get("sampling", {}).get(k)]
    if now.get("seed") != earlier.get("seed"):
        diff.append(f"seed={now.get('seed')!r} (there: {earlier.get('seed')!r})")
    if diff:
        raise UsageError(f"--samples_dir {out} holds samples drawn with another config ({'; '.join(diff)}); "
                         "use another folder")


def eval_mode(r: Run) -> None:
    from configs.builders import eval_options
    from evaluation.evaluate import evaluate

    record.write(r.config, record.run_config_path(os.path.join(r.workdir, "eval")))
    for result in evaluate(r.exp, r.workdir, eval_options(r.config)):
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


def controllable_mode(r: Run) -> None:
    from training import controllable

    from training.progress import line

    out = os.path.join(r.workdir, "controllable")
    record.write(r.config, os.path.join(out, f"{r.flags.mode}_config.json"))
    line(f"{r.flags.mode}: sampling with the workdir's newest checkpoint into {out}")
    if r.flags.mode == "conditional":
        print(controllable.conditional(r.exp, r.workdir, scale=r.flags.guidance_scale))
    else:
        print("wrote", getattr(controllable, r.flags.mode)(r.exp, r.workdir))


def benchmark_mode(r: Run) -> None:
    """The analytic problems, then the workdir's checkpoint if there is one."""
    from benchmarks.solvers import run as run_benchmark
    from benchmarks.trained import trained_section
    from training.checkpoints import finalized_steps

    record.write(r.config, os.path.join(r.workdir, "benchmark_config.json"))
    run_benchmark(r.workdir, quick=r.flags.benchmark_quick)
    if finalized_steps(r.workdir):
        trained_section(r.exp, r.workdir, quick=r.flags.benchmark_quick)


def calibrate_mode(r: Run) -> None:
    """Fits the fixed-step sampler's grid to the checkpoint's score."""
    from training import run

    record.write(r.config, record.run_config_path(os.path.join(r.workdir, "grids")))
    try:
        path, png, fit = run.calibrate(r.exp, r.workdir, pilot=r.config.sampling.calibration_pilot,
                                       n_iters=r.config.sampling.calibration_iters)
    except ValueError as e:
        raise UsageError(_one_line(e)) from e
    if path.endswith(".npz"):  # a learned solver: the options it was fitted for go with it
        use = (f"--config.sampling.method=learned --config.sampling.nfe={fit.solver.nfe} "
               f"--config.sampling.learned_solver={path}")
    else:
        use = f"--config.sampling.grid={path}"
    print(f"pilot relative error against the converged ODE: {fit.initial_error:.3g} (initial) -> "
          f"{fit.final_error:.3g} (fitted); wrote {path} and {png}\nsample with it: {use}")


def stats_mode(r: Run) -> None:
    """The training images' feature statistics (mean, covariance) for FID: --config.eval.stats=PATH."""
    from evaluation import stats
    from evaluation.evaluate import image_extractor
    from training.progress import line

    dataset = r.exp.dataset
    if not dataset.is_image:
        raise UsageError(f"--mode stats: data.dataset={dataset.name!r} is vector data; FID statistics are of images")
    extractor, _ = image_extractor(r.exp, r.workdir, r.config.eval.inception)
    if extractor is None:
        raise UsageError(f"--mode stats: data.dataset={dataset.name!r} needs Inception features: "
                         "--config.eval.inception=WEIGHTS.npz (see --mode convert_inception)")
    images = np.asarray(dataset.x_train, np.float32) / 255.0
    path = r.flags.stats_file or os.path.join(r.workdir, "stats", f"{dataset.name}_{extractor.name}.npz")
    line(f"stats: {extractor.name} features of {len(images)} training images")
    result = stats.save_stats(path, stats.dataset_stats(extractor, images))
    print(f"wrote {result} ({len(images)} images, {extractor.name} features); "
          f"FID against it: --config.eval.stats={result}")


def import_mode(r: Run) -> None:
    """A checkpoint of the paper's code into a new workdir (nothing written on failure)."""
    import importers

    if not r.flags.checkpoint:
        raise UsageError("--mode import needs --checkpoint=FILE (a score_sde checkpoint_N or a score_sde_pytorch .pth)")
    try:
        print(importers.import_checkpoint(r.exp, r.flags.checkpoint, r.workdir,
                                          config_json=r.config.to_json_best_effort(indent=2)))
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise UsageError(_one_line(e)) from e


def convert_inception_mode(r: Run) -> None:
    """pytorch-fid's Inception weights file into the .npz of --config.eval.inception."""
    from importers import inception_pth

    if not r.flags.checkpoint:
        raise UsageError("--mode convert_inception needs --checkpoint=FILE: pytorch-fid's weights, "
                         f"{inception_pth.WEIGHTS_URL}")
    try:
        print(inception_pth.convert(r.flags.checkpoint, r.flags.out))
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise UsageError(_one_line(e)) from e


# mode -> (function, needs a trained checkpoint: None = no, "any" = in either directory,
# "snapshot" = a kept one in checkpoints/)
MODES: dict[str, tuple[Callable[[Run], None], str | None]] = {
    "train": (train_mode, None),
    "sample": (sample_mode, "any"),
    "eval": (eval_mode, "snapshot"),
    "inpaint": (controllable_mode, "any"),
    "colorize": (controllable_mode, "any"),
    "conditional": (controllable_mode, "any"),
    "benchmark": (benchmark_mode, None),
    "calibrate": (calibrate_mode, "any"),
    "stats": (stats_mode, None),
    "import": (import_mode, None),
    "convert_inception": (convert_inception_mode, None),
}
# Modes that use neither a config nor a workdir (they get Run(None, None, None, flags)).
STANDALONE = {"convert_inception"}


# ----- checks before anything is written ---------------------------------------------------------
def _parse(argv: list[str]):
    """Flags and the config with its overrides (None for a STANDALONE mode); UsageError for any mistake."""
    rest, overrides = cli.split_overrides(argv[1:])
    FLAGS.unparse_flags()
    try:
        extra = FLAGS([argv[0], *rest])[1:]
    except flags.Error as e:
        raise UsageError(_one_line(e)) from e
    if extra:
        raise UsageError(f"unexpected argument(s) {extra} (flags are --name=value)")
    if FLAGS.mode in STANDALONE:
        if overrides or FLAGS["config"].present or FLAGS.workdir:
            raise UsageError(f"--mode {FLAGS.mode} takes no --config, --config.* or --workdir")
        return None
    if not FLAGS.workdir:
        raise UsageError("--workdir is required (the directory for checkpoints, logs and samples)")
    config = cli.load_config(FLAGS.config)
    cli.apply_overrides(config, overrides)
    config.lock()
    return config


def _check_workdir(config, exp, exp_mode: str, workdir: str) -> None:
    """The checks of the workdir a mode reads: a checkpoint to use, the training config it must
    match, the lock of a training in progress. Reads only."""
    from training import checkpoints, lifecycle

    needs = MODES[exp_mode][1]
    steps = checkpoints.finalized_steps(workdir)
    if needs == "any" and not steps:
        raise UsageError(f"--mode {exp_mode}: no checkpoint in {os.path.join(workdir, 'checkpoints')} or "
                         "checkpoints-meta; train first (--mode train)")
    if needs == "snapshot" and not steps.get("checkpoints"):
        raise UsageError(f"--mode {exp_mode}: no kept checkpoint in {os.path.join(workdir, 'checkpoints')}; "
                         "train first (--mode train)")
    if steps:  # train resumes a trained model; the other modes use it
        from training import run

        allowed = record.SAMPLING_ONLY if FLAGS.allow_sampling_change and exp_mode != "train" else ()
        if not record.check_against_training(config, workdir, allowed=allowed):
            print(f"warning: {workdir} holds no {record.TRAINING_CONFIG}; only the checkpoint's array shapes "
                  "can be checked against the config", file=sys.stderr)
        run.check_checkpoint(exp, workdir)
    if exp_mode == "train":
        holder = lifecycle.lock_holder(workdir)
        if holder is not None:
            raise UsageError(f"workdir {workdir} is in use: {holder} is training there "
                             f"(lock {os.path.join(workdir, lifecycle.LOCK_FILE)}); wait for it or stop it first")


def main(argv: list[str]) -> int:
    """Runs the command line `argv`; returns the exit status (2 for a mistake, printed as one line)."""
    if any(a in ("-h", "--help", "--helpfull") for a in argv[1:]):
        print(__doc__ + "\n" + FLAGS.module_help(sys.modules[__name__]))
        return 0
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    from training.checkpoints import CheckpointMismatch

    try:  # everything before the mode runs: the config, the data, the workdir
        config = _parse(argv)
        if config is None:  # a STANDALONE mode
            MODES[FLAGS.mode][0](Run(None, None, None, FLAGS))
            return 0
        import parallel
        from configs.builders import build_experiment

        parallel.initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
        exp = build_experiment(config)
        _check_workdir(config, exp, FLAGS.mode, FLAGS.workdir)
        _check_samples_dir(config, FLAGS, FLAGS.workdir)
    except (UsageError, ValueError, FileNotFoundError) as e:  # the user's mistakes: one line, no traceback
        print("error: " + _one_line(e), file=sys.stderr)
        return 2
    try:
        MODES[FLAGS.mode][0](Run(config, exp, FLAGS.workdir, FLAGS))
    except (UsageError, CheckpointMismatch) as e:
        print("error: " + _one_line(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
