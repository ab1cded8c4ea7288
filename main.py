"""Score-based generative modelling through SDEs: train, sample (and more modes) from a config file.

    python main.py --config configs/default_toy.py --workdir workdir/toy --mode train
    python main.py --config configs/default_toy.py --workdir workdir/toy --mode sample \
        --config.training.sde=vesde
    python main.py --config configs/default_toy.py --workdir workdir/toy --mode calibrate \
        --config.sampling.method=unipc --config.sampling.nfe=10   # then sample with the grid it prints
    python main.py --config configs/vp/cifar10_ddpmpp_continuous.py --workdir workdir/ddpmpp --mode import \
        --checkpoint checkpoint_26   # a paper checkpoint (score_sde msgpack or score_sde_pytorch .pth)

Running the same train command again on the same workdir resumes from the newest checkpoint.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", "configs/default_toy.py", "Path to a config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs, samples and pictures.")
flags.DEFINE_enum("mode", "train", ["train", "sample", "eval", "inpaint", "colorize", "conditional", "benchmark",
                                   "calibrate", "import"], "What to run.")
flags.DEFINE_string("checkpoint", None, "--mode import: a checkpoint of the paper's code (JAX msgpack or .pth).")
flags.DEFINE_bool("benchmark_quick", False, "--mode benchmark: a reduced run (about two minutes).")
flags.DEFINE_float("guidance_scale", 1.0, "--mode conditional: weight of the classifier's gradient.")
flags.DEFINE_string("coordinator_address", None, "Multi-host: address:port of process 0 (jax.distributed).")
flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
flags.DEFINE_integer("process_id", None, "Multi-host: this process's index.")
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    import parallel
    from configs.builders import build_experiment
    from training import run

    parallel.initialize_distributed(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)

    config, workdir = FLAGS.config, FLAGS.workdir
    try:
        exp = build_experiment(config)
    except (ValueError, FileNotFoundError) as e:  # bad config or data: one line naming the field, no traceback
        print("error: " + " ".join(str(e).split()), file=sys.stderr)
        sys.exit(2)
    if FLAGS.mode == "import":  # writes the workdir itself (config.json included), nothing on failure
        import importers

        try:
            print(importers.import_checkpoint(exp, FLAGS.checkpoint or "", workdir,
                                              config_json=config.to_json_best_effort(indent=2)))
        except (ValueError, FileNotFoundError, ImportError) as e:
            print("error: " + " ".join(str(e).split()), file=sys.stderr)
            sys.exit(2)
        return
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2))
    if FLAGS.mode == "train":
        state = run.train(exp, workdir)
        print(f"trained to step {int(state.step)}; checkpoints in {os.path.join(workdir, 'checkpoints')}")
    elif FLAGS.mode == "sample":
        npz, png = run.sample(exp, workdir)
        print(f"wrote {npz} and {png}")
    elif FLAGS.mode == "eval":
        from configs.builders import eval_options
        from evaluation.evaluate import evaluate

        for result in evaluate(exp, workdir, eval_options(config)):
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    elif FLAGS.mode in ("inpaint", "colorize"):
        from training import controllable

        print("wrote", getattr(controllable, FLAGS.mode)(exp, workdir))
    elif FLAGS.mode == "benchmark":  # analytic problems, then the workdir's checkpoint if there is one
        from benchmarks.solvers import run as run_benchmark
        from benchmarks.trained import trained_section
        from training.checkpoints import Checkpoints

        run_benchmark(workdir, quick=FLAGS.benchmark_quick)
        checkpoints = Checkpoints(workdir)
        has_checkpoint = checkpoints.latest_step() is not None
        checkpoints.close()
        if has_checkpoint:
            trained_section(exp, workdir, quick=FLAGS.benchmark_quick)
    elif FLAGS.mode == "calibrate":  # fit the fixed-step sampler's grid to the checkpoint's score
        try:
            path, png, fit = run.calibrate(exp, workdir, pilot=config.sampling.calibration_pilot,
                                           n_iters=config.sampling.calibration_iters)
        except ValueError as e:
            print("error: " + " ".join(str(e).split()), file=sys.stderr)
            sys.exit(2)
        if path.endswith(".npz"):  # a learned solver: the options it was fitted for go with it
            use = (f"--config.sampling.method=learned --config.sampling.nfe={fit.solver.nfe} "
                   f"--config.sampling.learned_solver={path}")
        else:
            use = f"--config.sampling.grid={path}"
        print(f"pilot relative error against the converged ODE: {fit.initial_error:.3g} (initial) -> "
              f"{fit.final_error:.3g} (fitted); wrote {path} and {png}\nsample with it: {use}")
    elif FLAGS.mode == "conditional":
        from training import controllable

        print(controllable.conditional(exp, workdir, scale=FLAGS.guidance_scale))


if __name__ == "__main__":
    app.run(main)
