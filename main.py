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

from absl import flags, logging

import parallel
from configs import cli, record
from configs.builders import build_experiment, eval_options
from modes import commands
from modes.commands import Run, UsageError, one_line
from modes.run import check_checkpoint
from training import checkpoints, lifecycle


# ----- the modes: what each runs (modes/, benchmarks/) and its settings from the command line ------
@dataclasses.dataclass(frozen=True)
class Mode:
    """A --mode: the function it runs, whether it needs a trained checkpoint (None: no; "any": in either
    checkpoint directory; "snapshot": a kept one in checkpoints/), and its settings from the flags
    and the config fields (plain keyword arguments of `run`)."""

    run: Callable[..., None]
    needs: str | None = None
    settings: Callable[[Any, Any], dict] = lambda config, flags: {}


def benchmark_mode(r: Run, *, quick: bool) -> None:
    """--mode benchmark (benchmarks/trained.py). Imported when run: the benchmarks pull in scipy's
    integrators and the peer adapters, 0.3-0.65 s of start-up that no other mode needs."""
    from benchmarks.trained import benchmark_mode as run_benchmark

    run_benchmark(r, quick=quick)


MODES: dict[str, Mode] = {
    "train": Mode(commands.train_mode),
    "sample": Mode(commands.sample_mode, "any", lambda c, f: dict(num_samples=c.sampling.get("num_samples", 0),
                                                                  folder=f.samples_dir)),
    "eval": Mode(commands.eval_mode, "snapshot", lambda c, f: dict(options=eval_options(c))),
    "inpaint": Mode(commands.controllable_mode, "any"),
    "colorize": Mode(commands.controllable_mode, "any"),
    "conditional": Mode(commands.controllable_mode, "any", lambda c, f: dict(guidance_scale=f.guidance_scale)),
    "benchmark": Mode(benchmark_mode, None, lambda c, f: dict(quick=f.benchmark_quick)),
    "calibrate": Mode(commands.calibrate_mode, "any", lambda c, f: dict(pilot=c.sampling.calibration_pilot,
                                                                        n_iters=c.sampling.calibration_iters)),
    "stats": Mode(commands.stats_mode, None, lambda c, f: dict(inception=c.eval.inception, stats_file=f.stats_file)),
    "import": Mode(commands.import_mode, None, lambda c, f: dict(checkpoint=f.checkpoint)),
    "convert_inception": Mode(commands.convert_inception_mode, None, lambda c, f: dict(checkpoint=f.checkpoint,
                                                                                      out=f.out)),
}
# Modes that use neither a config nor a workdir: their function takes only its settings.
STANDALONE = {"convert_inception"}

flags.DEFINE_string("config", "configs/default_toy.py", "Path to a config file (path.py or path.py:argument); "
                    "override its fields with --config.<section>.<field>=<value>.")
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs, samples and pictures.")
flags.DEFINE_enum("mode", "train", list(MODES), "What to run (main.MODES).")
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


# ----- checks before anything is written ---------------------------------------------------------
def _parse(argv: list[str]):
    """Flags and the config with its overrides (None for a STANDALONE mode); UsageError for any mistake."""
    rest, overrides = cli.split_overrides(argv[1:])
    FLAGS.unparse_flags()
    try:
        extra = FLAGS([argv[0], *rest])[1:]
    except flags.Error as e:
        raise UsageError(one_line(e)) from e
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


def _check_workdir(config, exp, mode: str, workdir: str) -> None:
    """The checks of the workdir a mode reads: a checkpoint to use, the training config it must
    match, the lock of a training in progress. Reads only."""
    needs = MODES[mode].needs
    steps = checkpoints.finalized_steps(workdir)
    if needs == "any" and not steps:
        raise UsageError(f"--mode {mode}: no checkpoint in {os.path.join(workdir, 'checkpoints')} or "
                         "checkpoints-meta; train first (--mode train)")
    if needs == "snapshot" and not steps.get("checkpoints"):
        raise UsageError(f"--mode {mode}: no kept checkpoint in {os.path.join(workdir, 'checkpoints')}; "
                         "train first (--mode train)")
    if steps:  # train resumes a trained model; the other modes use it
        allowed = record.SAMPLING_ONLY if FLAGS.allow_sampling_change and mode != "train" else ()
        if not record.check_against_training(config, workdir, allowed=allowed):
            print(f"warning: {workdir} holds no {record.TRAINING_CONFIG}; only the checkpoint's array shapes "
                  "can be checked against the config", file=sys.stderr)
        check_checkpoint(exp, workdir)
    if mode == "train":
        holder = lifecycle.lock_holder(workdir)
        if holder is not None:
            raise UsageError(f"workdir {workdir} is in use: {holder} is training there "
                             f"(lock {os.path.join(workdir, lifecycle.LOCK_FILE)}); wait for it or stop it first")


def _check_samples_dir(config, workdir: str) -> None:
    """A folder that holds samples of another sampling config is not extended (mixing them)."""
    if FLAGS.mode != "sample" or not (config.sampling.get("num_samples") or FLAGS.samples_dir):
        return
    out = commands.samples_dir(workdir, FLAGS.samples_dir)
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


def main(argv: list[str]) -> int:
    """Runs the command line `argv`; returns the exit status (2 for a mistake, printed as one line)."""
    if any(a in ("-h", "--help", "--helpfull") for a in argv[1:]):
        print(__doc__ + "\n" + FLAGS.module_help(sys.modules[__name__]))
        return 0
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    try:  # everything before the mode runs: the config, the data, the workdir
        config = _parse(argv)
        if config is None:  # a STANDALONE mode
            MODES[FLAGS.mode].run(**MODES[FLAGS.mode].settings(None, FLAGS))
            return 0
        parallel.initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
        exp = build_experiment(config)
        _check_workdir(config, exp, FLAGS.mode, FLAGS.workdir)
        _check_samples_dir(config, FLAGS.workdir)
        mode = MODES[FLAGS.mode]
        settings = mode.settings(config, FLAGS)
    except (UsageError, ValueError, FileNotFoundError) as e:  # the user's mistakes: one line, no traceback
        print("error: " + one_line(e), file=sys.stderr)
        return 2
    try:
        mode.run(Run(exp, FLAGS.workdir, config.to_json_best_effort(indent=2), FLAGS.mode), **settings)
    except (UsageError, checkpoints.CheckpointMismatch) as e:
        print("error: " + one_line(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
