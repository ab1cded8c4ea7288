"""The sampler benchmark (project issue 4): quality against NFE, wall time, sampling overhead.

    python -m benchmarks.solvers --workdir DIR [--quick] [--sections analytic,last_step,overhead,scipy,peers]
        [--problems mixture2d_vp,mixture64d_vp,mixture64d_ve,aniso32d_vp] [--nfes 10,20] [--rows unipc-2,learned]

writes DIR/benchmark.md (also printed) and DIR/solvers_<problem>.png. Sections (all by default):

1. Analytic problems with the exact score: Gaussian mixtures in 2 and 64 dimensions (component
   std 0.3) under the VP SDE (and VE in 64-D). For each sampler and NFE: (a) for deterministic
   solvers the relative RMS error against the converged probability-flow solution from the same
   noise (Dopri8, rtol = atol = 1e-10, float64); (b) sliced Wasserstein-2 between the samples and
   fresh data, with its sampling floor (SW2 between two independent data sets of that size), and
   the mixture's exact mean log-likelihood of the samples next to that of data; (c) wall time per
   sample. PC, Euler--Maruyama and the adaptive `ode` / `adaptive_sde` solvers are the baselines.
   "calibrated" rows sample on a grid fitted by `samplers.calibrate_grid` to 256 pilot
   trajectories drawn from other noise than the evaluated samples' (fit time reported).
   Also a 32-D mixture of 5 anisotropic components of unequal weight (VP). "learned" rows sample
   with a solver fitted by `samplers.fit_learned_solver` to 1024 pilot trajectories (same pilot
   noise as the calibrated grids; 256 of them held out to pick the iterate). The fitted rows are
   also evaluated on 4096 samples of a third noise (not in --quick): the error they are expected
   to have, where the 1000 evaluated samples hold only a few trajectories near a mode boundary.
   `last_step`: the multistep solvers with and without `lower_order_final`. `peers`: diffusers' and
   k-diffusion's samplers (benchmarks/peers.py).
2. Sampling overhead: a fixed-step sampler's wall time / (NFE x one jitted score evaluation) for
   a small DDPM++ U-Net on 16x16 images (random weights; the cost does not depend on them).
3. The jitted `ode` sampler (diffrax Dopri5) against scipy's RK45 `solve_ivp` on the host, the
   paper's implementation, at the same tolerances, timed side by side (best of 3 alternated runs).

`evaluate_samplers` is the generic part: any SDE, any `score_fn` (a trained network's too),
any reference data.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

from benchmarks.peers import peers_section
from evaluation.metrics import sliced_wasserstein
from models import bind_params, get_model, get_score_fn, init_params
from samplers import METHODS, calibrate_grid, fit_learned_solver, flow, get_sampler, registry
from sde_lib import SDE, VESDE, VPSDE, GaussianMixture
from training.progress import line

NFES = (5, 10, 15, 20, 30, 40, 50, 100, 1000)
QUICK_NFES = (10, 20)
CALIBRATED = "calibrated"  # grid option of an Entry: fit the grid with calibrate_grid first
CALIBRATION = dict(pilot=256, n_iters=200, max_nfe=50)
TO_FIT = "fit"  # learned_solver option of an Entry: fit it with fit_learned_solver first
LEARNING = dict(pilot=1024, n_iters=300, times_only_iters=150, validation=0.25, trim=0.25, learning_rate=0.05,
                coefficient_rate=0.003, max_nfe=20)
CHECK = 4096  # fitted rows: also evaluated on this many samples of a third noise (the expected error)


class Entry(NamedTuple):
    """One sampler configuration; `nfe` is the budget of a fixed-step method (None: adaptive)."""

    label: str
    method: str
    options: dict
    nfe: int | None = None


def fixed_step_entries(nfes, quick: bool = False) -> list[Entry]:
    families = [
        ("ddim", "ddim", {}),
        ("dpm_solver-2", "dpm_solver", {"order": 2}),
        ("dpm_solver-3", "dpm_solver", {"order": 3}),
        ("dpmpp_2m", "dpmpp_2m", {}),
        ("dpmpp_2m karras", "dpmpp_2m", {"grid": "karras"}),
        ("dpmpp_3m", "dpmpp_3m", {}),
        ("dpmpp_3m karras", "dpmpp_3m", {"grid": "karras"}),
        ("dpmpp_3m uniform_t", "dpmpp_3m", {"grid": "uniform_t"}),
        ("unipc-2", "unipc", {"order": 2}),
        ("unipc-3", "unipc", {"order": 3}),
        ("unipc-3 karras", "unipc", {"order": 3, "grid": "karras"}),
        ("edm_heun karras", "edm_heun", {}),
        ("edm_heun logsnr", "edm_heun", {"grid": "logsnr"}),
        ("edm_stochastic", "edm_stochastic", {"s_churn": 20.0}),
        ("pc (rev. diffusion + langevin)", "pc", {"predictor": "reverse_diffusion", "corrector": "langevin"}),
        ("euler_maruyama", "pc", {"predictor": "euler_maruyama", "corrector": "none"}),
    ]
    listed = {m for _, m, _ in families}  # any other method on a grid: one row at its defaults
    families += [(m, m, {}) for m in registry.names(takes_grid=True) if m not in listed]
    if quick:
        keep = {"ddim", "dpmpp_3m", "unipc-3", "edm_heun karras", "euler_maruyama"}
        families = [f for f in families if f[0] in keep]
    return [Entry(label, m, dict(o), n) for label, m, o in families for n in nfes]


def calibrated_entries(nfes, families=(("unipc-2", "unipc", {"order": 2}), ("unipc-3", "unipc", {"order": 3}),
                                      ("dpmpp_3m", "dpmpp_3m", {}))) -> list[Entry]:
    """Fixed-step samplers on grids fitted to the score (NFE up to CALIBRATION['max_nfe'])."""
    return [Entry(f"{label} calibrated", m, {**o, "grid": CALIBRATED}, n) for label, m, o in families
            for n in nfes if n <= CALIBRATION["max_nfe"]]


def learned_entries(nfes, families=(("unipc-2", {"base": "unipc", "order": 2}),
                                    ("unipc-3", {"base": "unipc", "order": 3}))) -> list[Entry]:
    """Learned solvers (`samplers.fit_learned_solver`) started from these bases (NFE up to
    LEARNING['max_nfe'])."""
    return [Entry(f"{label} learned", "learned", {**o, "learned_solver": TO_FIT}, n) for label, o in families
            for n in nfes if n <= LEARNING["max_nfe"]]


def adaptive_entries(quick: bool = False) -> list[Entry]:
    entries = [
        Entry("ode dopri5 tol 1e-3", "ode", {"solver": "dopri5", "rtol": 1e-3, "atol": 1e-3}),
        Entry("adaptive_sde (paper defaults)", "adaptive_sde", {}),
    ]
    if not quick:
        entries.insert(1, Entry("ode dopri5 tol 1e-5", "ode", {"solver": "dopri5", "rtol": 1e-5, "atol": 1e-5}))
        entries.append(Entry("adaptive_sde, paper's redraw on rejection", "adaptive_sde",
                             {"resample_rejected": True}))
        entries.append(Entry("adaptive_sde rtol 0.01", "adaptive_sde", {"rtol": 0.01, "atol": 0.001}))
    return entries


def calibrate_entry(sde: SDE, score_fn, shape, entry: Entry, key) -> tuple[Entry, dict]:
    """`entry` with its CALIBRATED grid replaced by one fitted on pilot noise from `key`."""
    options = {k: v for k, v in entry.options.items() if k != "grid"}
    start = time.perf_counter()
    fit = calibrate_grid(sde, (CALIBRATION["pilot"],) + tuple(shape[1:]), entry.method, score_fn, key=key,
                         n_iters=CALIBRATION["n_iters"], nfe=entry.nfe, progress=False, **options)
    info = {"fit_seconds": time.perf_counter() - start, "pilot_err": fit.final_error,
            "pilot_err_init": fit.initial_error, "load": _load()}
    return entry._replace(options={**options, "grid": fit.grid}), info


def fit_entry(sde: SDE, score_fn, shape, entry: Entry, key) -> tuple[Entry, dict]:
    """`entry` with its TO_FIT learned solver replaced by one fitted on pilot noise from `key`."""
    options = {k: v for k, v in entry.options.items() if k != "learned_solver"}
    settings = {k: v for k, v in LEARNING.items() if k not in ("pilot", "max_nfe")}
    fit = fit_learned_solver(sde, (LEARNING["pilot"],) + tuple(shape[1:]), score_fn, key=key, nfe=entry.nfe,
                             progress=False, **settings, **options)
    info = {"fit_seconds": fit.seconds, "pilot_err": fit.final_error, "pilot_err_init": fit.initial_error,
            "load": _load()}
    return entry._replace(options={"learned_solver": fit.solver}), info


def _load() -> float:
    """The 1-minute load average (the machine is shared: fit times scale with it); nan where unknown."""
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return float("nan")


def build_sampler(sde: SDE, shape, entry: Entry):
    """The sample_fn of `entry`; PC's NFE budget becomes its number of noise levels N."""
    options = dict(entry.options)
    if entry.method == "pc":
        per_level = 1 + (options.get("corrector", "langevin") != "none")
        sde = dataclasses.replace(sde, N=max(entry.nfe // per_level, 1))
        options["denoise"] = False
    elif entry.nfe is not None and "learned_solver" not in options:
        options["nfe"] = entry.nfe
    else:
        options.setdefault("denoise", False)
    return get_sampler(sde, shape, entry.method, **options)


def mixture_score(sde: SDE, gm: GaussianMixture, std: float):
    """The exact score of an isotropic mixture (all components std `std`) under `sde`, in O(K D).

    p_t = sum_k w_k N(alpha mu_k, v I), v = alpha^2 std^2 + sigma^2, so with r = softmax_k(log w_k
    - |alpha mu_k - x|^2 / 2v) the score is (alpha sum_k r_k mu_k - x) / v. In |alpha mu_k - x|^2 =
    alpha^2 |mu_k|^2 - 2 alpha x.mu_k + |x|^2 the last term is the same for every k and drops out
    of the softmax: two [B, D] x [D, K] products, no [B, K, D] array. Same function as
    `gm.score_fn(sde)` (which handles any covariances by Cholesky), without LAPACK calls inside
    solver loops.
    """
    means = gm.means  # [K, D]
    sq_means = jnp.sum(means**2, -1)  # [K]

    def score(x, t):
        a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
        var = a**2 * std**2 + s**2  # [B, 1]
        logits = jnp.log(gm.weights) + (a * (x @ means.T) - 0.5 * a**2 * sq_means) / var  # [B, K]
        return (a * (jax.nn.softmax(logits, -1) @ means) - x) / var

    return score


def grids_sigma_range(sde: SDE) -> tuple[float, float]:
    """(sigma_EDM(eps), sigma_EDM(T)) = sigma / alpha at the sampler's end and start times."""
    sig = lambda t: float(jnp.exp(-sde.log_snr(jnp.asarray(t))))  # noqa: E731
    return sig(sde.sampling_eps), sig(sde.T)


def mixture_log_prob(gm: GaussianMixture, std: float):
    """log p_0(x) [B] of an isotropic mixture (all components std `std`), in closed form."""

    def log_prob(x):
        sq = jnp.sum((x[:, None] - gm.means[None]) ** 2, -1)  # [B, K]
        norm = 0.5 * gm.dim * math.log(2 * math.pi * std**2)
        return jax.scipy.special.logsumexp(jnp.log(gm.weights) - 0.5 * sq / std**2 - norm, axis=-1)

    return jax.jit(log_prob)


def converged_reference(sde: SDE, score_fn, x_init, *, eps=None, tol=1e-10, float64=True):
    """The probability-flow solution from x_init, by Dopri8 at rtol = atol = tol (float64 if asked)."""
    eps = sde.sampling_eps if eps is None else eps
    with jax.enable_x64(float64):
        x = jnp.asarray(np.asarray(x_init), jnp.float64 if float64 else jnp.float32)
        solve = jax.jit(
            lambda y: flow(sde, score_fn, y, t0=sde.T, t1=eps, rtol=tol, atol=tol, solver="dopri8")[0]
        )
        return np.asarray(solve(x), np.float64)


def relative_errors(x, ref) -> tuple[float, int]:
    """(relative RMS error of x against ref, count of samples whose own error, relative to the RMS norm
    of ref, is > 0.5: ending in another mode)."""
    x, ref = (np.asarray(a, np.float64).reshape(len(a), -1) for a in (x, ref))
    per_sample = np.sqrt(np.sum((x - ref) ** 2, -1) / np.mean(np.sum(ref**2, -1)))
    return float(np.sqrt(np.mean(per_sample**2))), int(np.sum(~(per_sample <= 0.5)))


def _timed(fn, *args):
    """Compiles and runs fn once, then returns (output, wall seconds of a second run)."""
    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def _best_of(repeats: int, fn, *args) -> float:
    """The shortest wall time of `repeats` runs of an already compiled fn."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def evaluate_samplers(sde: SDE, score_fn, data_ref, shape, methods_and_nfes, key, *, log_prob=None,
                      reference: bool = True, reference_float64: bool = True, check: int = 0) -> list[dict]:
    """Runs every Entry of `methods_and_nfes` from the same prior draw and measures it.

    data_ref: at least 2 * shape[0] data points (held-out data for a trained network; more gives
    a less noisy SW2); the samples are compared with data_ref[B:], and the SW2 floor is SW2 between
    B random points of data_ref and the rest. log_prob(x [B, D]) -> [B]: the data's exact log-density, if known. Rows:
    label, method, budget, nfe (mean of the reported), rel_err (deterministic methods, against
    `converged_reference`), sw2, sw2_floor(_std), loglik, loglik_data, us_per_sample. Format them
    with `format_section`. With `check` > 0, rows of fitted samplers (calibrated grids, learned
    solvers) also get check_err, check_flips: the relative RMS error and the count of samples ending in
    another mode on `check` samples of a third noise (neither the evaluated nor the pilot one).
    """
    batch = shape[0]
    data_ref = np.asarray(data_ref, np.float64).reshape(len(data_ref), -1)
    if len(data_ref) < 2 * batch:
        raise ValueError(f"data_ref needs >= 2 * batch = {2 * batch} points, got {len(data_ref)=}")
    held_out = data_ref[batch:]
    key, pilot_key = jax.random.split(key)
    x_init = sde.prior_sampling(key, shape)
    ref = converged_reference(sde, score_fn, x_init, float64=reference_float64) if reference else None
    # The SW2 floor: what exact samples would score, B random data points against the other
    # len(data_ref) - B, over 5 random splits (mean, std).
    rng = np.random.default_rng(0)
    floors = [sliced_wasserstein(data_ref[p[:batch]], data_ref[p[batch:]])
              for p in (rng.permutation(len(data_ref)) for _ in range(5))]
    common = {"sw2_floor": float(np.mean(floors)), "sw2_floor_std": float(np.std(floors)), "batch": batch}
    if log_prob is not None:
        common["loglik_data"] = float(jnp.mean(log_prob(jnp.asarray(held_out, jnp.float32))))
    x_check = ref_check = None
    if check and reference:
        x_check = sde.prior_sampling(jax.random.fold_in(key, 7), (check,) + tuple(shape[1:]))
        ref_check = converged_reference(sde, score_fn, x_check, float64=reference_float64)
    rows = []
    for entry in methods_and_nfes:
        extra = {}
        if isinstance(entry.options.get("grid"), str) and entry.options["grid"] == CALIBRATED:
            entry, extra = calibrate_entry(sde, score_fn, shape, entry, pilot_key)
        elif isinstance(entry.options.get("learned_solver"), str) and entry.options["learned_solver"] == TO_FIT:
            entry, extra = fit_entry(sde, score_fn, shape, entry, pilot_key)
        sample_fn = build_sampler(sde, shape, entry)
        run = jax.jit(lambda k, x0, f=sample_fn: f(k, score_fn, x0))
        (x, nfe), seconds = _timed(run, key, x_init)
        x = np.asarray(x, np.float64)
        row = {"label": entry.label, "method": entry.method, "budget": entry.nfe, "nfe": float(np.mean(nfe)),
               "us_per_sample": 1e6 * seconds / batch, **common, **extra}
        flat = x.reshape(batch, -1)
        row["sw2"] = sliced_wasserstein(flat, held_out) if np.all(np.isfinite(flat)) else float("nan")
        if ref is not None and METHODS[entry.method].deterministic:
            row["rel_err"] = float(np.sqrt(np.mean((x - ref) ** 2) / np.mean(ref**2)))
            # per sample, relative to the RMS norm of the reference; > 0.5: it ended in another mode
            per_sample = np.sqrt(np.sum((flat - ref.reshape(batch, -1)) ** 2, -1) / np.mean(np.sum(
                ref.reshape(batch, -1) ** 2, -1)))
            row["median_flips"] = (float(np.median(per_sample)), int(np.sum(~(per_sample <= 0.5))))
        if log_prob is not None:
            row["loglik"] = float(jnp.mean(log_prob(jnp.asarray(x, jnp.float32))))
        if x_check is not None and extra:
            fn = build_sampler(sde, x_check.shape, entry)
            x = np.asarray(jax.jit(lambda k, x0, f=fn: f(k, score_fn, x0)[0])(key, x_check), np.float64)
            row["check_err"], row["check_flips"] = relative_errors(x, ref_check)
        rows.append(row)
    return rows


# ----- the analytic problems ----------------------------------------------------------------------
def mixture_problem(dim: int, *, n_components: int = 8, std: float = 0.3) -> GaussianMixture:
    """2-D: 8 modes on a circle of radius 2. Higher: means ~ N(0, I) (seed 0). Equal weights."""
    if dim == 2:
        angles = 2 * np.pi * np.arange(n_components) / n_components
        means = 2.0 * np.stack([np.cos(angles), np.sin(angles)], -1)
    else:
        means = np.random.default_rng(0).standard_normal((n_components, dim))
    return GaussianMixture.isotropic(means, std)


def _fmt(v, kind):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if kind == "mf":  # (median error, mode flips)
        return f"{v[0]:.1e}" + (f" ({v[1]})" if v[1] else "")
    return {"err": f"{v:.1e}", "sw": f"{v:.3f}", "ll": f"{v:.2f}", "us": f"{v:.0f}", "nfe": f"{v:.0f}"}[kind]


def pivot_table(rows, metric: str, kind: str, nfes) -> str:
    labels = list(dict.fromkeys(r["label"] for r in rows if r["budget"] is not None and metric in r))
    lines = ["| sampler | " + " | ".join(f"NFE {n}" for n in nfes) + " |", "|---" * (len(nfes) + 1) + "|"]
    for label in labels:
        cells = {r["budget"]: r.get(metric) for r in rows if r["label"] == label}
        lines.append(f"| {label} | " + " | ".join(_fmt(cells.get(n), kind) for n in nfes) + " |")
    return "\n".join(lines)


def adaptive_table(rows) -> str:
    lines = ["| sampler | NFE (mean) | rel. error | SW2 | log-lik | µs / sample |", "|---|---|---|---|---|---|"]
    for r in rows:
        if r["budget"] is None:
            lines.append(f"| {r['label']} | {_fmt(r['nfe'], 'nfe')} | {_fmt(r.get('rel_err'), 'err')} | "
                         f"{_fmt(r['sw2'], 'sw')} | {_fmt(r.get('loglik'), 'll')} | "
                         f"{_fmt(r['us_per_sample'], 'us')} |")
    return "\n".join(lines)


def plot_problem(rows, title: str, path: Path) -> None:
    import matplotlib  # here: the backend is chosen before pyplot is first imported

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    labels = list(dict.fromkeys(r["label"] for r in rows))
    colors = {label: plt.get_cmap("tab20")(i % 20) for i, label in enumerate(labels)}
    panels = ((axes[0], "rel_err", "relative error vs converged ODE"), (axes[1], "sw2", "SW2 to data"))
    for ax, metric, ylabel in panels:
        for label in labels:
            pts = sorted((r["nfe"], r[metric]) for r in rows if r["label"] == label and metric in r)
            if pts:
                style = "s" if len(pts) == 1 else ".-"
                ax.plot(*zip(*pts), style, color=colors[label], label=label)
        if metric == "sw2":
            ax.axhline(rows[0]["sw2_floor"], color="k", ls="--", lw=1, label="sampling floor")
        ax.set(xscale="log", yscale="log", xlabel="NFE", ylabel=ylabel, title=title)
    axes[1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_section(title: str, rows, nfes) -> str:
    """The Markdown tables of one `evaluate_samplers` run: one per metric, samplers by NFE."""
    r0 = rows[0]
    has_ref = any("rel_err" in r for r in rows)
    out = [f"### {title}", ""]
    if has_ref:
        out += ["Relative RMS error against the converged probability-flow solution (same noise):", "",
                pivot_table(rows, "rel_err", "err", nfes), "",
                "Median over samples of the per-sample relative error; in brackets, samples with per-sample "
                "error > 0.5, i.e. ending at (or towards) another mode than the converged solution: one such "
                "sample of "
                f"{r0['batch']} alone adds about {1 / np.sqrt(r0['batch']):.0e} to the RMS error above:", "",
                pivot_table(rows, "median_flips", "mf", nfes), ""]
    out += [f"Sliced W2 to held-out data (sampling floor {r0['sw2_floor']:.3f} ± {r0['sw2_floor_std']:.3f}; "
            "—: non-finite samples, e.g. PC on VP below N = 20, where the DDPM betas exceed 1):",
            "", pivot_table(rows, "sw2", "sw", nfes), ""]
    if "loglik_data" in r0:
        out += [f"Mean exact log-likelihood of the samples (data: {r0['loglik_data']:.2f}):", "",
                pivot_table(rows, "loglik", "ll", nfes), ""]
    out += ["Wall time per sample (µs):", "", pivot_table(rows, "us_per_sample", "us", nfes), "",
            "Adaptive solvers:", "", adaptive_table(rows), ""]
    if any("fit_seconds" in r for r in rows):
        out += [f"Calibrated grids (`samplers.calibrate_grid`, {CALIBRATION['pilot']} pilot trajectories from "
                f"other noise, {CALIBRATION['n_iters']} Adam steps) and learned solvers "
                f"(`samplers.fit_learned_solver`, {LEARNING['pilot']} pilot trajectories from the same other noise, "
                f"{LEARNING['validation']:g} of them held out to pick the iterate, {LEARNING['n_iters']} Adam steps, "
                f"the first {LEARNING['times_only_iters']} on the times alone, per-pilot errors trimmed at "
                f"{LEARNING['trim']:g}); the pilot error (learned: on the held-out pilots, trimmed), the fit time with "
                "the machine's 1-minute load average, and the error on the evaluated samples and on other noise:", "",
                calibration_table(rows), ""]
    if has_ref:
        out += [best_fixed_step(rows), ""]
    return "\n".join(out)


def anisotropic_problem(dim: int = 32, n_components: int = 5) -> GaussianMixture:
    """Means ~ N(0, I) (seed 1); covariances R diag(s^2) R^T with R a random rotation and s from
    0.1 to 0.6 (log-uniform); weights 0.35, 0.25, 0.2, 0.12, 0.08 (for 5 components)."""
    rng = np.random.default_rng(1)
    means = rng.standard_normal((n_components, dim))
    covs = []
    for _ in range(n_components):
        rot, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        scales = np.exp(rng.uniform(np.log(0.1), np.log(0.6), dim))
        covs.append((rot * scales**2) @ rot.T)
    weights = np.array([0.35, 0.25, 0.2, 0.12, 0.08])[:n_components] if n_components == 5 else None
    weights = np.full(n_components, 1 / n_components) if weights is None else weights / weights.sum()
    return GaussianMixture(jnp.asarray(weights, jnp.float32), jnp.asarray(means, jnp.float32),
                           jnp.asarray(covs, jnp.float32))


class Problem(NamedTuple):
    title: str
    sde: SDE
    gm: GaussianMixture
    score_fn: object
    log_prob: object
    seed: int  # keys the data and the prior draws


def problems() -> dict[str, Problem]:
    """The analytic problems by name (the exact score and log-density of each)."""
    out = {}
    for dim, sde_name in ((2, "vp"), (64, "vp"), (64, "ve")):
        sde, gm = (VPSDE() if sde_name == "vp" else VESDE()), mixture_problem(dim)
        out[f"mixture{dim}d_{sde_name}"] = Problem(
            f"{dim}-D Gaussian mixture (8 components, std 0.3), {sde_name.upper()} SDE", sde, gm,
            mixture_score(sde, gm, 0.3), mixture_log_prob(gm, 0.3), dim)
    sde, gm = VPSDE(), anisotropic_problem()
    out["aniso32d_vp"] = Problem("32-D anisotropic Gaussian mixture (5 components of unequal weight, component "
                                 "stds 0.1-0.6), VP SDE", sde, gm, gm.score_fn(sde),
                                 jax.jit(lambda x: gm.log_prob(x)), 32)
    return out


FULL_PROBLEMS = ("mixture2d_vp", "mixture64d_vp", "mixture64d_ve", "aniso32d_vp")
QUICK_PROBLEMS = ("mixture2d_vp", "mixture64d_vp")


def analytic_entries(name: str, nfes, quick: bool) -> list[Entry]:
    """Every fixed-step family; calibrated grids and learned solvers on the VP problems (all three
    calibrated families on the 64-D and 32-D ones)."""
    entries = fixed_step_entries(nfes, quick)
    if name in ("mixture64d_vp", "aniso32d_vp") and not quick:
        entries += calibrated_entries(nfes)
    else:
        entries += calibrated_entries(nfes, families=(("unipc-2", "unipc", {"order": 2}),))
    if name.endswith("_vp"):
        entries += learned_entries(nfes)
    return entries + adaptive_entries(quick)


def analytic_section(workdir: Path, *, quick: bool, names=None, nfes=None, rows_filter=None, emit=None) -> str:
    """The analytic problems `names` (default: all, or the quick ones); `rows_filter(label)` keeps rows;
    `emit(text)` (if given) gets each problem's tables as soon as they are computed."""
    nfes = tuple(nfes or (QUICK_NFES if quick else NFES))
    names = names or (QUICK_PROBLEMS if quick else FULL_PROBLEMS)
    batch = 128 if quick else 1000
    out = []
    for name in names:
        prob = problems()[name]
        key_data, key_prior = jax.random.split(jax.random.PRNGKey(prob.seed))
        data = prob.gm.sample(key_data, 6 * batch)
        entries = [e for e in analytic_entries(name, nfes, quick) if rows_filter is None or rows_filter(e.label)]
        rows = evaluate_samplers(prob.sde, prob.score_fn, data, (batch, prob.gm.dim), entries, key_prior,
                                 log_prob=prob.log_prob, check=0 if quick else CHECK)
        plot_problem(rows, prob.title.split(" (")[0] + ", " + type(prob.sde).__name__, workdir / f"solvers_{name}.png")
        out.append(format_section(f"{prob.title}, {batch} samples", rows, nfes))
        if emit is not None:
            emit(out[-1])
    return "\n".join(out)


LAST_STEP_FAMILIES = (("dpmpp_2m", "dpmpp_2m", {}), ("dpmpp_3m", "dpmpp_3m", {}), ("unipc-2", "unipc", {"order": 2}),
                      ("unipc-3", "unipc", {"order": 3}), ("dpmpp_2m karras", "dpmpp_2m", {"grid": "karras"}))


def last_step_section(*, quick: bool, names=None, nfes=None) -> str:
    """Relative error with and without `lower_order_final` (the last steps at order 1, as in
    DPM-Solver++ and UniPC's official code, or at the full order, as k-diffusion's dpmpp_2m)."""
    nfes = tuple(nfes or ((10, 20) if quick else (5, 10, 15, 20, 30, 50, 100)))
    names = names or (("mixture64d_vp",) if quick else ("mixture2d_vp", "mixture64d_vp", "mixture64d_ve",
                                                        "aniso32d_vp"))
    batch = 128 if quick else 1000
    out = []
    for name in names:
        prob = problems()[name]
        entries = [Entry(f"{label}, final order {'1' if low else 'full'}", m, {**o, "lower_order_final": low}, n)
                   for label, m, o in LAST_STEP_FAMILIES for low in (True, False) for n in nfes]
        key_data, key_prior = jax.random.split(jax.random.PRNGKey(prob.seed))
        data = prob.gm.sample(key_data, 6 * batch)
        rows = evaluate_samplers(prob.sde, prob.score_fn, data, (batch, prob.gm.dim), entries, key_prior)
        out += [f"#### {prob.title}, {batch} samples", "", "Relative RMS error against the converged solution:", "",
                pivot_table(rows, "rel_err", "err", nfes), "",
                "Median per-sample error (samples ending in another mode):", "",
                pivot_table(rows, "median_flips", "mf", nfes), ""]
    return "\n".join(out)


def best_fixed_step(rows) -> str:
    """The cheapest fixed-step configuration reaching each error level, on named and on fitted grids."""
    out = []
    def kind_of(r):
        return "learned" if r["method"] == "learned" else "calibrated" if "fit_seconds" in r else "fixed"

    for kind, name in (("grids fixed in advance", "fixed"), ("calibrated grids", "calibrated"),
                       ("learned solvers", "learned")):
        pool = [r for r in rows if r["budget"] is not None and kind_of(r) == name]
        if not pool:
            continue
        lines = []
        for target in (1e-2, 1e-3):
            hits = [r for r in pool if r.get("rel_err", np.inf) <= target]
            if hits:
                r = min(hits, key=lambda r: (r["nfe"], r["rel_err"]))
                lines.append(f"rel. error ≤ {target:g} first reached by **{r['label']}** at NFE {r['nfe']:.0f} "
                             f"({r['rel_err']:.1e})")
            else:
                lines.append(f"rel. error ≤ {target:g} not reached")
        out.append(f"{kind.capitalize()}: " + "; ".join(lines) + ".")
    return "\n\n".join(out)


def calibration_table(rows) -> str:
    checked = any("check_err" in r for r in rows)
    lines = ["| sampler | NFE | pilot rel. error, base on logsnr grid | pilot rel. error, fitted | "
             "fit time (s), load | rel. error (mode switches), the evaluated samples |"
             + (f" the same, {CHECK} samples of a third noise |" if checked else ""),
             "|---|---|---|---|---|---|" + ("---|" if checked else "")]
    for r in rows:
        if "fit_seconds" in r:
            flips = r["median_flips"][1] if "median_flips" in r else 0
            row = (f"| {r['label']} | {r['budget']} | {r['pilot_err_init']:.1e} | {r['pilot_err']:.1e} | "
                   f"{r['fit_seconds']:.0f}, {r['load']:.1f} | {_fmt(r.get('rel_err'), 'err')} ({flips}) |")
            if checked:
                row += f" {_fmt(r.get('check_err'), 'err')} ({r.get('check_flips', '—')}) |"
            lines.append(row)
    return "\n".join(lines)


# ----- overhead and the host-side ODE solve -------------------------------------------------------
def unet_score(sde: SDE, batch: int, *, quick: bool):
    """score_fn of a small DDPM++ U-Net on 16x16x3 images (random weights)."""
    model = get_model("ddpmpp", nf=16 if quick else 32, ch_mult=(1, 2), num_res_blocks=1,
                      attn_resolutions=(8,), dropout=0.0)
    params = init_params(model, jax.random.PRNGKey(0), (batch, 16, 16, 3))
    return bind_params(get_score_fn(sde, model), params)


def overhead_section(*, quick: bool) -> str:
    sde, batch = VPSDE(), 8
    shape = (batch, 16, 16, 3)
    score_fn = unet_score(sde, batch, quick=quick)
    x = jax.random.normal(jax.random.PRNGKey(1), shape)
    t = jnp.full((batch,), 0.5)
    one_eval = jax.jit(score_fn)
    repeats = 3 if quick else 10
    eval_s = _timed(one_eval, x, t)[1]
    nfe = 10 if quick else 20
    entries = [e for e in fixed_step_entries((nfe,), quick) if e.method != "pc" or not quick]
    lines = [f"Small DDPM++ U-Net (nf={16 if quick else 32}, ch_mult=(1, 2), one block per resolution, "
             f"attention at 8x8), batch {batch} of 16x16x3, VP SDE. Overhead = sampler wall time / (NFE x "
             f"one jitted score evaluation), each the best of {repeats} runs, the evaluation re-timed "
             f"before each sampler.", "",
             "| sampler | NFE | wall time (ms) | NFE x score time (ms) | overhead |", "|---|---|---|---|---|"]
    for entry in entries:
        sample_fn = build_sampler(sde, shape, entry)
        run = jax.jit(lambda k, f=sample_fn: f(k, score_fn))
        (_, used), _ = _timed(run, jax.random.PRNGKey(0))
        eval_s = _best_of(repeats, one_eval, x, t)
        seconds = _best_of(repeats, run, jax.random.PRNGKey(0))
        used = float(np.mean(used))
        lines.append(f"| {entry.label} | {used:.0f} | {1e3 * seconds:.1f} | {1e3 * used * eval_s:.1f} | "
                     f"{seconds / (used * eval_s):.3f} |")
    return "\n".join(lines)


def scipy_ode(sde: SDE, score_fn, x_init, *, rtol, atol, eps):
    """The paper's ODE sampler: scipy's RK45 on the flattened batch, a jitted drift on the host."""
    shape = x_init.shape
    rsde = sde.reverse(score_fn, probability_flow=True)
    drift = jax.jit(lambda x, t: rsde.sde(x, jnp.full(shape[:1], t))[0])

    def ode_func(t, y):
        return np.asarray(drift(jnp.asarray(y.reshape(shape), jnp.float32), t), np.float64).reshape(-1)

    sol = integrate.solve_ivp(ode_func, (sde.T, eps), np.asarray(x_init, np.float64).reshape(-1),
                              rtol=rtol, atol=atol, method="RK45")
    return sol.y[:, -1].reshape(shape), sol.nfev


def scipy_section(*, quick: bool) -> str:
    lines = ["| problem | rtol = atol | jitted `ode` (dopri5) | NFE / sample | scipy RK45 on host | NFE | "
             "speed-up | rel. difference |", "|---|---|---|---|---|---|---|---|"]
    sde = VPSDE()
    n = 256 if quick else 1000
    problems = [(f"64-D mixture, {n} samples", mixture_score(sde, mixture_problem(64), 0.3), (n, 64))]
    if not quick:
        problems.append(("DDPM++ U-Net 16x16, 8 images", unet_score(sde, 8, quick=quick), (8, 16, 16, 3)))
    tols = (1e-3,) if quick else (1e-3, 1e-5)
    for name, score_fn, shape in problems:
        x_init = sde.prior_sampling(jax.random.PRNGKey(2), shape)
        for tol in tols:
            sampler = get_sampler(sde, shape, "ode", solver="dopri5", rtol=tol, atol=tol, denoise=False)
            run = jax.jit(lambda k, x0, f=sampler: f(k, score_fn, x0))
            (x_jit, nfe), _ = _timed(run, jax.random.PRNGKey(0), x_init)
            solve_sp = lambda: scipy_ode(sde, score_fn, x_init, rtol=tol, atol=tol, eps=sde.sampling_eps)  # noqa: E731
            x_sp, nfev = solve_sp()  # compiles the drift
            t_jit, t_sp = [], []
            for _ in range(1 if quick else 3):  # the best of 3 runs of each, alternated
                t_jit.append(_best_of(1, run, jax.random.PRNGKey(0), x_init))
                start = time.perf_counter()
                solve_sp()
                t_sp.append(time.perf_counter() - start)
            t_jit, t_sp = min(t_jit), min(t_sp)
            diff = np.sqrt(np.mean((np.asarray(x_jit) - x_sp) ** 2) / np.mean(x_sp**2))
            nfe_jit = f"{float(np.mean(nfe)):.0f} (max {int(np.max(nfe))})"
            lines.append(f"| {name} | {tol:g} | {t_jit:.2f} s | {nfe_jit} | "
                         f"{t_sp:.2f} s | {nfev} | {t_sp / t_jit:.1f}x | {diff:.1e} |")
    return "\n".join(lines)


SECTIONS = ("analytic", "last_step", "overhead", "scipy", "peers")


def run(workdir, *, quick: bool = False, sections=SECTIONS, problem_names=None, nfes=None, rows_filter=None) -> str:
    """Runs the benchmark's `sections`; each is printed and appended to workdir/benchmark.md as soon as
    it is computed (an interrupted run keeps what it finished); writes the PNG plots; returns the
    Markdown. `problem_names`, `nfes` and `rows_filter(label) -> bool` narrow the analytic sections."""
    for section in sections:
        if section not in SECTIONS:
            raise ValueError(f"unknown benchmark section {section!r}; valid: {list(SECTIONS)}")
    for name in problem_names or ():
        if name not in FULL_PROBLEMS:
            raise ValueError(f"unknown benchmark problem {name!r}; valid: {list(FULL_PROBLEMS)}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "benchmark.md"
    start = time.perf_counter()
    parts = []

    def emit(text: str) -> None:
        parts.append(text)
        with open(path, "a") as f:
            f.write(text + "\n")
        print(text, flush=True)

    path.write_text("")
    emit("\n".join([
        f"## Sampler benchmark{' (quick)' if quick else ''}",
        "",
        f"CPU, {jax.device_count()} {jax.devices()[0].platform} device(s), float32 samplers, exact scores. "
        "Fixed-step methods at their defaults unless named (grid `logsnr` for DDIM / DPM-Solver / "
        "DPM-Solver++, `karras` for EDM, `lower_order_final=True`, no final denoising); PC and "
        "Euler--Maruyama get N = NFE / 2 and N = NFE noise levels.",
        "",
    ]))
    if "analytic" in sections:
        line("benchmark: analytic problems (Gaussian mixtures, exact scores), one table per problem as it finishes")
        analytic_section(workdir, quick=quick, names=problem_names, nfes=nfes, rows_filter=rows_filter, emit=emit)
    if "last_step" in sections:
        line("benchmark: the last steps lowered to order 1 or not")
        emit("\n".join(["### The last steps: lowered to order 1 or not", "",
                        last_step_section(quick=quick, names=problem_names, nfes=nfes)]))
    if "overhead" in sections:
        line("benchmark: sampling overhead (U-Net, 16x16)")
        emit("\n".join(["### Sampling overhead", "", overhead_section(quick=quick), ""]))
    if "scipy" in sections:
        line("benchmark: jitted probability-flow ODE against scipy on the host")
        emit("\n".join(["### Jitted probability-flow ODE against the host-side scipy solve", "",
                        scipy_section(quick=quick), ""]))
    if "peers" in sections:
        line("benchmark: other implementations (diffusers, k-diffusion) on the same problems")
        emit("\n".join(["### Other implementations (diffusers, k-diffusion) on the same problems", "",
                        peers_section(problems(), grids_sigma_range, quick=quick, names=problem_names), ""]))
    emit(f"Total benchmark time: {time.perf_counter() - start:.0f} s.")
    return "\n".join(parts) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True, help="where benchmark.md and the plots go")
    parser.add_argument("--quick", action="store_true", help="a reduced run (about two minutes)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--problems", default=None, help=f"comma-separated subset of {FULL_PROBLEMS}")
    parser.add_argument("--nfes", default=None, help="comma-separated NFE budgets of the analytic sections")
    parser.add_argument("--rows", default=None,
                        help="comma-separated words: keep the analytic rows whose label contains one of them")
    args = parser.parse_args(argv)
    split = lambda v: [w for w in v.split(",") if w] if v else None  # noqa: E731
    words = split(args.rows)
    run(args.workdir, quick=args.quick, sections=split(args.sections), problem_names=split(args.problems),
        nfes=[int(n) for n in split(args.nfes)] if args.nfes else None,
        rows_filter=(lambda label: any(w in label for w in words)) if words else None)


if __name__ == "__main__":
    main()
