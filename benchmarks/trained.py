"""The solver benchmark on a trained checkpoint: quality (sliced W2 against held-out data) and wall
time per sample, per sampler and NFE. (A float32 network's probability flow does not converge at the
analytic problems' 1e-10 tolerance, so no relative-error column here.)

`benchmark_mode` is `main.py --mode benchmark`. It lives here, not in modes/: the benchmark programs
(recipe.py, training_speed.py) build experiments from configs, so benchmarks/ sits above modes/ and
configs/ and modes/ does not import it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import data
import models
import parallel
from benchmarks.solvers import (adaptive_entries, calibrated_entries, evaluate_samplers, fixed_step_entries,
                                format_section)
from benchmarks.solvers import run as run_analytic
from common.seeds import key_for
from modes.commands import Run, write_config
from modes.run import Experiment, restore_state
from training.checkpoints import finalized_steps
from training.progress import line


def trained_section(exp: Experiment, workdir, *, quick: bool = False, nfes=(10, 20, 50)) -> str:
    """Markdown tables for the newest checkpoint in `workdir`, measured against held-out data."""
    line(f"benchmark: samplers on the workdir's checkpoint ({exp.dataset.name}), against held-out data")
    state = restore_state(exp, str(workdir), parallel.make_mesh(1))
    score_fn = models.bind_params(models.get_score_fn(exp.sde, exp.model), state.ema_params)
    held_out = np.concatenate([x for x, _ in exp.dataset.eval_batches(1000)])
    if exp.dataset.is_image:
        held_out = np.asarray(data.preprocess(None, held_out, centered=exp.preprocess_options.get("centered", True)))
    batch = min(256 if quick else 500, len(held_out) // 2)
    nfes = nfes[:2] if quick else nfes
    entries = fixed_step_entries(nfes, quick=quick) + adaptive_entries(quick=True)
    if not (quick or exp.dataset.is_image):  # a grid fitted to the network's own flow (cheap for small nets)
        entries += calibrated_entries(nfes, families=(("unipc-2", "unipc", {"order": 2}),))
    rows = evaluate_samplers(exp.sde, score_fn, held_out, (batch,) + exp.data_shape, entries,
                             key_for(exp.seed, "benchmark_trained"), reference=False)
    title = (f"Trained checkpoint: {exp.dataset.name}, {type(exp.sde).__name__}, step {int(state.step)}, "
             f"{batch} samples against {len(held_out) - batch} held-out points")
    text = format_section(title, rows, list(nfes))
    Path(workdir, "benchmark_trained.md").write_text(text)
    with open(Path(workdir, "benchmark.md"), "a") as f:  # after the analytic sections
        f.write(text + "\n")
    print(text, flush=True)
    return text


def benchmark_mode(r: Run, *, quick: bool) -> None:
    """The analytic problems, then the workdir's checkpoint if there is one."""
    write_config(r, str(Path(r.workdir, "benchmark_config.json")))
    run_analytic(r.workdir, quick=quick)
    if finalized_steps(r.workdir):
        trained_section(r.exp, r.workdir, quick=quick)
