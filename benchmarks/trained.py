"""The solver benchmark on a trained checkpoint: quality (sliced W2 against held-out data) and wall
time per sample, per sampler and NFE. (A float32 network's probability flow does not converge at the
analytic problems' 1e-10 tolerance, so no relative-error column here.)

`benchmark_mode` is `main.py --mode benchmark`. It lives here, not in modes/: the benchmark programs
(recipe.py, training_speed.py) build experiments from configs, so benchmarks/ sits above modes/ and
configs/ and modes/ does not import it.

`digits_solver_fids` (`python -m benchmarks.trained --workdir DIR --learned_solver FILE`) is the
digits FID of a few samplers on a trained digits checkpoint: recipe.py's digits FID (297 samples
against the training digits in the digits classifier's feature space) per sampler and seed, and
each sampler's FID over the reference row's (1000-step PC with the paper's EM predictor)."""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import numpy as np

import data
import models
import parallel
from benchmarks.solvers import (adaptive_entries, calibrated_entries, evaluate_samplers, fixed_step_entries,
                                format_section)
from benchmarks.recipe import apply_changes, digits_figures
from benchmarks.solvers import run as run_analytic
from common import checks
from common.seeds import key_for
from configs import default_digits
from configs.builders import build_experiment
from modes import run as run_lib
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


# label -> sampling fields changed from configs/default_digits.py (each keeps its noise_removal=True:
# the NFE counts include the final Tweedie step). The first row is the reference of the ratios.
DIGITS_SOLVERS = {
    "pc 1000 (EM predictor)": {"sampling.method": "pc", "sampling.predictor": "euler_maruyama",
                               "sampling.corrector": "none"},
    "learned 10": {"sampling.method": "learned", "sampling.nfe": 10},  # + sampling.learned_solver
    "unipc 10 (logsnr)": {"sampling.method": "unipc", "sampling.nfe": 10, "sampling.grid": "logsnr"},
    "dpmpp_2m 10 (logsnr)": {"sampling.method": "dpmpp_2m", "sampling.nfe": 10, "sampling.grid": "logsnr"},
    # the default sampler (configs/default_digits.py: edm_stochastic, 51 NFE) and its NFE
    "edm_stochastic 101": {"sampling.method": "edm_stochastic", "sampling.nfe": 101},
    "edm_stochastic 51 (default)": {"sampling.method": "edm_stochastic", "sampling.nfe": 51},
    "edm_stochastic 31": {"sampling.method": "edm_stochastic", "sampling.nfe": 31},
    # what the ODE solvers above converge to (the learned solver is fitted to it)
    "ode dopri5 1e-5 (probability flow)": {"sampling.method": "ode", "sampling.solver": "dopri5",
                                           "sampling.rtol": 1e-5, "sampling.atol": 1e-5},
}


HELD_OUT_DIGITS = 297  # recipe.py's digits FID: as many samples as held-out digits (its floor)


def digits_solver_fids(workdir, *, learned_solver=None, seeds=(0,), cache_dir=None, config=None, solvers=None,
                       figures=None, n_samples: int = HELD_OUT_DIGITS) -> list[dict]:
    """Digits FID of each sampler of `solvers` (default DIGITS_SOLVERS; label -> config fields) on the
    newest checkpoint in `workdir`, trained with `config` (default: configs/default_digits.py).

    As recipe.py's digits rows: 297 samples (as many as held-out digits), FID against the training
    digits in the digits classifier's feature space (`recipe.digits_figures`, classifier cached in
    `cache_dir`, default `workdir`), the held-out digits' FID as the floor. `n_samples` other than
    297 draws that many per seed instead (FID's small-sample bias and spread fall with it; the rows
    then have no floor, which is measured on the 297 held-out digits). Seed s draws from
    fold_in(key_for(seed, "recipe_samples"), s), the same noise for every sampler. `learned_solver`
    (a file from --mode calibrate with sampling.method=learned) is given to the learned rows; rows
    without one are skipped without it. `figures(exp, samples) -> {"fid": ...}` replaces the FID
    (tests). Returns one dict per sampler: label, nfe, fid (mean over seeds), fids, fid_floor,
    fid_ratio (over the floor), vs_reference (mean FID / the first row's mean FID).
    """
    cache_dir = str(workdir) if cache_dir is None else cache_dir
    checks.positive_int("n_samples", n_samples)
    figures = figures or (lambda exp, samples: digits_figures(exp, samples, cache_dir, n=n_samples))
    solvers = DIGITS_SOLVERS if solvers is None else solvers
    mesh = parallel.make_mesh(1)
    rows, params = [], None
    for label, fields in solvers.items():
        c = (config or default_digits.get_config()).copy_and_resolve_references()
        c.sampling.batch_size = n_samples
        apply_changes(c, fields)
        if c.sampling.method == "learned":
            if learned_solver is None:
                line(f"digits solvers: {label} skipped (no learned_solver given)")
                continue
            c.sampling.learned_solver = str(learned_solver)
        exp = build_experiment(c)
        if params is None:  # the same network for every row
            state = restore_state(exp, str(workdir), mesh)
            params, step = state.ema_params, int(state.step)
        sample_fn = run_lib.build_sample_fn(exp, mesh)
        out = []
        for s in seeds:
            samples, nfe = sample_fn(jax.random.fold_in(key_for(exp.seed, "recipe_samples"), s), params)
            out.append(figures(exp, np.asarray(samples)))
        fids = [float(f["fid"]) for f in out]
        row = {"label": label, "nfe": float(np.mean(np.asarray(nfe))), "fid": float(np.mean(fids)), "fids": fids,
               "step": step}
        if "fid_floor" in out[0] and n_samples == HELD_OUT_DIGITS:
            row["fid_floor"] = float(out[0]["fid_floor"])
            row["fid_ratio"] = row["fid"] / row["fid_floor"]
        line(f"digits solvers: {label}: NFE {row['nfe']:.0f}, FID {row['fid']:.2f} over seeds {list(seeds)}: "
             + ", ".join(f"{f:.2f}" for f in fids))
        rows.append(row)
    for row in rows:
        row["vs_reference"] = row["fid"] / rows[0]["fid"]
    return rows


def digits_solver_table(rows) -> str:
    """The Markdown table of `digits_solver_fids`' rows."""
    n = len(rows[0]["fids"])
    lines = [f"| sampler | NFE | FID (mean of {n} seed{'s' * (n > 1)}) | per seed | x the held-out floor | "
             f"x {rows[0]['label']} |", "|---|---|---|---|---|---|"]
    for r in rows:
        floor = f"{r['fid_ratio']:.2f}" if "fid_ratio" in r else "—"
        lines.append(f"| {r['label']} | {r['nfe']:.0f} | {r['fid']:.2f} | {', '.join(f'{f:.2f}' for f in r['fids'])} "
                     f"| {floor} | {r['vs_reference']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Digits FID per sampler on a trained digits checkpoint")
    parser.add_argument("--workdir", required=True, help="trained with configs/default_digits.py")
    parser.add_argument("--learned_solver", default=None, help="grids/learned_nfe10.npz from --mode calibrate")
    parser.add_argument("--seeds", default="0", help="comma-separated sample seeds")
    parser.add_argument("--samples", type=int, default=HELD_OUT_DIGITS,
                        help="samples per seed (default: as many as the held-out digits, the floor's count)")
    parser.add_argument("--rows", default=None, help="comma-separated words: keep the rows whose label has one")
    args = parser.parse_args(argv)
    words = [w for w in (args.rows or "").split(",") if w]
    solvers = {k: v for k, v in DIGITS_SOLVERS.items() if not words or any(w in k for w in words)}
    rows = digits_solver_fids(args.workdir, learned_solver=args.learned_solver, solvers=solvers,
                              seeds=[int(s) for s in args.seeds.split(",")], n_samples=args.samples)
    print(digits_solver_table(rows), flush=True)


if __name__ == "__main__":
    main()
