"""The training recipe against sample quality, at a fixed number of steps (project issue 14).

    python -m benchmarks.recipe --data toy                     # the default 2-D recipe and its variants
    python -m benchmarks.recipe --data digits --variants default,sde_param
    python -m benchmarks.recipe --data toy --variants default --steps 6000 --set training.batch_size=512
    python -m benchmarks.recipe --data toy --variants default,round2_default --seeds 0,1,2   # a row per seed, then the mean
    python -m benchmarks.recipe --data toy --variants round2_default,default,nf16 --step_cost  # step time ratios
    python -m benchmarks.recipe --data toy --seeds 0 --split   # where the samples outside the squares come from
    python -m benchmarks.recipe --figures workdir/demo      # the figures make demo prints at its end
    python -m benchmarks.recipe --data likelihood --variants all --steps 2000   # nats/dim, exact density

Each variant is the default config (`configs/default_toy.py` or `configs/default_digits.py`) with a
few fields changed. It is trained in-process for `--steps` steps (the config's n_iters unless
given), sampled with the config's sampler from the EMA parameters, and scored:

* checkerboard: the fraction of samples inside the board's squares (data: 1) and sliced W2 to
  fresh data, against the floor of sliced W2 between two fresh draws of the same size;
* digits: FID in the feature space of the project's digits classifier (`evaluation.digits_classifier`)
  of as many samples as there are held-out digits (297) against the 1500 training digits, against
  the floor of the held-out digits against the same training digits.

`--data likelihood` trains on the 2-D Gaussian mixture (exact density) with the sigma^2 weighting,
the likelihood weighting, and the likelihood weighting with importance-sampled times, and gives the
nats/dim of held-out points under the probability-flow ODE beside their exact value.

Wall times on a shared machine move with its load, so the row also gives the speed of the jitted
train step alone (timed on one fixed batch right after training, in the same process): the
training time a target speaks of is `steps / (steps per second)`. With `--seeds`, each variant is
trained once per seed (`config.seed`: parameters, data order, training noise and sampling) and a
last row gives the mean of its figures and the worst seed's fraction inside the squares.
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import re
import time

import jax
import jax.numpy as jnp
import numpy as np

import data
import models
import parallel
import samplers
from common import checks
from common.seeds import key_for, seed_for
from configs import default_digits, default_toy
from configs.builders import build_experiment
from evaluation import features, metrics
from modes import run

# name -> config fields changed from the default (the defaults themselves are the "default" row).
# The third round's toy default: the paper's parameterisation, sampler to t = 0.1 (the fourth round's
# default: EDM's preconditioning with the checkerboard's spread, sigma_data 2.3, sampler to t = 0.03).
ROUND3_TOY = {"model.parameterization": "sde", "model.sigma_data": 1.0, "sampling.eps": 0.1}
# The second round's toy default (issue 14: no FiLM, time embedding nf 64, 64 input Fourier features
# of scale 4, 1800 steps): the README's rows of that round are these fields plus their own.
ROUND2_TOY = {**ROUND3_TOY, "model.time_film": False, "model.nf": 64, "model.input_fourier": 64,
              "model.input_fourier_scale": 4.0, "training.n_iters": 1800, "training.snapshot_freq": 900}
# The first round's toy default (batch 256, the paper's Euler-Maruyama sampler to t = 1e-5): the rows of
# the README measured before issue 14's second round are these fields plus their own.
PREVIOUS_TOY = {**ROUND2_TOY, "training.batch_size": 256, "sampling.method": "pc", "sampling.eps": None}
TOY_VARIANTS = {
    "default": {},
    # Round 3 (from the round-2 default): a smaller time embedding, FiLM time conditioning
    # (models/mlp.py, time_film), input Fourier features of scale 2 and 128 of them, at 2800 steps.
    "round2_default": ROUND2_TOY,
    "nf16": {**ROUND2_TOY, "model.nf": 16, "training.n_iters": 2800},
    "film_nf16": {**ROUND2_TOY, "model.nf": 16, "model.time_film": True, "training.n_iters": 2800},
    "film_nf16_s2": {**ROUND2_TOY, "model.nf": 16, "model.time_film": True, "model.input_fourier_scale": 2.0,
                     "training.n_iters": 2800},
    "film_nf16_s2_ff128": {**ROUND2_TOY, "model.nf": 16, "model.time_film": True, "model.input_fourier_scale": 2.0,
                           "model.input_fourier": 128, "training.n_iters": 2800},
    # Round 4: on the round-3 default, EMA rate, the training times, width, activation, more input
    # features, twice the steps; then EDM's preconditioning with the checkerboard's spread (std 2.3),
    # the new default, and variants of it.
    "round3_default": ROUND3_TOY,
    "r3_ema_0.995": {**ROUND3_TOY, "model.ema_rate": 0.995},
    "r3_ema_0.9995": {**ROUND3_TOY, "model.ema_rate": 0.9995},
    "r3_t_from_0.05": {**ROUND3_TOY, "training.eps": 0.05},
    "r3_logsnr_t": {**ROUND3_TOY, "training.t_density": "uniform_logsnr"},
    "r3_width256_2blocks": {**ROUND3_TOY, "model.width": 256, "model.num_blocks": 2},
    "r3_relu": {**ROUND3_TOY, "model.nonlinearity": "relu"},
    "r3_ff256": {**ROUND3_TOY, "model.input_fourier": 256},
    "r3_steps_5600": {**ROUND3_TOY, "training.n_iters": 5600, "training.snapshot_freq": 2800},
    # EDM's preconditioning, sampler to t = 0.1 (as round 3), then variants of it
    "edm_end_0.1": {"sampling.eps": 0.1},
    "edm_end_0.1_relu": {"sampling.eps": 0.1, "model.nonlinearity": "relu"},
    "edm_end_0.1_relu_3200": {"sampling.eps": 0.1, "model.nonlinearity": "relu", "training.n_iters": 3200,
                              "training.snapshot_freq": 1600},
    "edm_end_0.1_logsnr_t": {"sampling.eps": 0.1, "training.t_density": "uniform_logsnr"},
    "edm_end_0.1_sigma_data_1.5": {"sampling.eps": 0.1, "model.sigma_data": 1.5},
    # The second round's variants, on the second round's default.
    # The sampler alone (same network): the paper's EM predictor (1000 steps) to the SDE's end time,
    # and the default sampler stopped earlier or later.
    "pc_sampler": {**ROUND2_TOY, "sampling.method": "pc", "sampling.eps": None},
    "end_0.05": {**ROUND2_TOY, "sampling.eps": 0.05},
    "end_0.2": {**ROUND2_TOY, "sampling.eps": 0.2},
    "heun_ode": {**ROUND2_TOY, "sampling.method": "edm_heun", "sampling.nfe": 41},
    # Training (each with the default sampler).
    "batch_512": {**ROUND2_TOY, "training.batch_size": 512},
    "batch_256": {**ROUND2_TOY, "training.batch_size": 256},
    "lr_2e-3": {**ROUND2_TOY, "optim.lr": 2e-3},
    "lr_1e-2": {**ROUND2_TOY, "optim.lr": 1e-2},
    "swiss_roll": {**ROUND2_TOY, "data.dataset": "swiss_roll"},
    "train_eps_0.05": {**ROUND2_TOY, "training.eps": 0.05},
    "edm_param": {**ROUND2_TOY, "model.parameterization": "edm", "model.sigma_data": 2.3},
    "no_ema_warmup": {**ROUND2_TOY, "training.ema_warmup": False},
    "constant_lr": {**ROUND2_TOY, "optim.decay": "constant"},
    "uniform_t": {**ROUND2_TOY, "training.t_sampling": "uniform"},
    # The first round's variants, on the first round's default.
    "previous_default": PREVIOUS_TOY,
    "p_ff64_s1": {**PREVIOUS_TOY, "model.input_fourier_scale": 1.0},
    "p_ff64_s8": {**PREVIOUS_TOY, "model.input_fourier_scale": 8.0},
    "p_ff64_s1_logsnr": {**PREVIOUS_TOY, "model.input_fourier_scale": 1.0, "training.t_density": "uniform_logsnr"},
    "p_logsnr": {**PREVIOUS_TOY, "training.t_density": "uniform_logsnr"},
    "p_edm": {**PREVIOUS_TOY, "model.parameterization": "edm", "model.input_fourier": 0},
    "p_edm_logsnr": {**PREVIOUS_TOY, "model.parameterization": "edm", "model.input_fourier": 0,
                     "training.t_density": "uniform_logsnr"},
    "p_edm_ff_s1": {**PREVIOUS_TOY, "model.parameterization": "edm", "model.input_fourier_scale": 1.0},
}
DIGITS_VARIANTS = {
    "default": {},
    # The sampler alone (the README's digits table; the fast ODE samplers without a Tweedie step).
    "em_sampler": {"sampling.method": "pc"},
    "dpmpp_20": {"sampling.method": "dpmpp_2m", "sampling.nfe": 20, "sampling.noise_removal": False},
    "heun_40": {"sampling.method": "edm_heun", "sampling.nfe": 40, "sampling.noise_removal": False},
    "paper_param": {"model.parameterization": "sde"},
    "no_ema_warmup": {"training.ema_warmup": False},
    "constant_lr": {"optim.decay": "constant"},
    "uniform_t": {"training.t_sampling": "uniform"},
}


def apply_changes(config, changes: dict):
    """`config` with its fields "section.key" (or a top-level field such as seed) set from `changes`."""
    for field, value in changes.items():
        if "." in field:
            section, key = field.split(".")
            config[section][key] = value
        else:  # a top-level field: seed
            config[field] = value
    return config


def make_config(kind: str, changes: dict):
    config = (default_toy if kind == "toy" else default_digits).get_config()
    config.training.snapshot_sampling = False
    return apply_changes(config, changes)


def train(exp, steps: int, chunk: int):
    """Trains `steps` steps (in calls of `chunk` jitted steps); returns the state, the wall time of
    the calls (compilation excluded) and the steps per second of the jitted step alone."""
    mesh = parallel.make_mesh(1)
    state, shardings = run.placed_initial_state(exp, mesh)
    step_fn = run.build_train_step(exp, mesh, shardings)
    batches = run.get_batches(exp, mesh)
    state, losses = step_fn(state, batches(0, chunk))  # compiles
    jax.block_until_ready(losses)
    tic = time.perf_counter()
    for step in range(chunk, steps, chunk):
        state, losses = step_fn(state, batches(step, chunk))
    jax.block_until_ready(losses)
    train_s = time.perf_counter() - tic
    # The jitted step alone, on one placed batch, from a copy of the final state.
    probe = jax.tree.map(jnp.copy, state)
    fixed = batches(0, chunk)
    calls = max(3, min(50, int(2.0 * (steps - chunk) / max(train_s, 1e-9) / chunk)))
    probe, out = step_fn(probe, fixed)
    jax.block_until_ready(out)
    tic = time.perf_counter()
    for _ in range(calls):
        probe, out = step_fn(probe, fixed)
    jax.block_until_ready(out)
    step_rate = calls * chunk / (time.perf_counter() - tic)
    return state, train_s * steps / max(steps - chunk, 1), step_rate, float(np.asarray(losses)[-1])


def step_costs(kind: str, names: list[str], table: dict, common: dict, rounds: int = 6) -> list[dict]:
    """The jitted train step of each variant alone (two calls of n_jitted_steps on one placed batch per
    round), timed in alternating rounds in this one process; medians, and their ratio to the first's."""
    mesh = parallel.make_mesh(1)
    runs = {}
    for name in names:
        exp = build_experiment(make_config(kind, {**table[name], **common}))
        state, shardings = run.placed_initial_state(exp, mesh)
        step_fn = run.build_train_step(exp, mesh, shardings)
        batch = run.get_batches(exp, mesh)(0, exp.n_jitted_steps)
        state, losses = step_fn(state, batch)  # compiles
        jax.block_until_ready(losses)
        runs[name] = [step_fn, state, batch, exp.n_jitted_steps, []]
    for _ in range(rounds):
        for name in names:
            step_fn, state, batch, chunk, times = runs[name]
            tic = time.perf_counter()
            for _ in range(2):
                state, losses = step_fn(state, batch)
            jax.block_until_ready(losses)
            times.append((time.perf_counter() - tic) / (2 * chunk))
            runs[name][1] = state
    first = float(np.median(runs[names[0]][4]))
    return [{"variant": name, "ms_per_step": 1e3 * float(np.median(runs[name][4])),
             "cost_vs_first": float(np.median(runs[name][4])) / first} for name in names]


def in_squares(x: np.ndarray) -> float:
    """The fraction of points on the checkerboard's 8 squares (inside [-4, 4]^2, floor(x/2) + floor(y/2) even)."""
    cells = np.floor(x / 2.0)
    inside = np.all(np.abs(x) <= 4.0, axis=1) & ((cells[:, 0] + cells[:, 1]) % 2 == 0)
    return float(np.mean(inside))


def checkerboard_denoiser(x: np.ndarray, alpha: float, sigma: float) -> np.ndarray:
    """E[x0 | x_t = x] for x_t = alpha x0 + sigma z, x0 uniform on the checkerboard's 8 squares of side 2
    (`in_squares`): on each square the posterior is N(x / alpha, (sigma / alpha)^2 I) truncated to it, a
    product of truncated normals, weighted by its mass."""
    from scipy.stats import norm

    m, s = np.asarray(x, np.float64) / alpha, sigma / alpha
    total, weight = np.zeros_like(m), np.zeros(len(m))
    for i in range(-2, 2):
        for j in range(-2, 2):
            if (i + j) % 2:
                continue
            za, zb = (np.array([2.0 * i, 2.0 * j]) - m) / s, (np.array([2.0 * i + 2, 2.0 * j + 2]) - m) / s
            # per coordinate; from the nearer tail, so a square many s away keeps its (tiny) mass
            mass = np.where(za > 0, norm.sf(za) - norm.sf(zb), norm.cdf(zb) - norm.cdf(za))
            w = np.prod(mass, axis=1)
            total += w[:, None] * (m + s * (norm.pdf(za) - norm.pdf(zb)) / np.maximum(mass, 1e-300))
            weight += w
    return total / weight[:, None]


def toy_error_split(config, params, key) -> dict:
    """Where the checkerboard samples outside the squares come from. The sampler's points x_t at its end
    time (sampling.eps, before its Tweedie step) and x_t = alpha x0 + sigma z of fresh data, each
    denoised by the network's Tweedie step and by the exact denoiser (`checkerboard_denoiser`): the
    fraction inside for the four pairs (the first is the sample's own figure, the last the ceiling of
    a sampler that stops there). Same sampling key as `run_variant`."""
    exp = build_experiment(apply_changes(config.copy_and_resolve_references(), {"sampling.noise_removal": False}))
    t_end = exp.sampling_options.get("eps")
    if t_end is None:
        raise SystemExit("--split needs a sampler that stops at sampling.eps (the toy default: 0.1)")
    xt_model = np.asarray(run.build_sample_fn(exp, parallel.make_mesh(1))(key, params)[0], np.float64)
    x0 = exp.dataset.train_batch(seed_for(exp.seed, "recipe_split_data"), 0, len(xt_model))[0]
    alpha, sigma = float(exp.sde.alpha(jnp.asarray(t_end))), float(exp.sde.sigma(jnp.asarray(t_end)))
    z = np.asarray(jax.random.normal(key_for(exp.seed, "recipe_split_noise"), x0.shape), np.float64)
    xt_data = alpha * x0 + sigma * z
    score_fn = models.bind_params(models.get_score_fn(exp.sde, exp.model), params)
    net = jax.jit(lambda x: samplers.data_prediction(exp.sde, score_fn, x, t_end))  # the samplers' Tweedie step
    out = {"split_t": t_end, "split_noise_over_signal": sigma / alpha}
    for xt_name, xt in (("sampler", xt_model), ("data", xt_data)):
        out[f"xt_{xt_name}_D_net"] = in_squares(np.asarray(net(jnp.asarray(xt, jnp.float32)), np.float64))
        out[f"xt_{xt_name}_D_exact"] = in_squares(checkerboard_denoiser(xt, alpha, sigma))
    return out


SW2_DRAWS = 8  # fresh draws (and floor pairs) that the averaged sliced W2 ratio is taken over


def toy_figures(exp, samples: np.ndarray) -> dict:
    """Sliced W2 of the samples to one fresh draw of the data against the floor of another draw to
    the same one (sw2_ratio, the figure of the earlier rounds; either draw moves it by ~15%), and
    the ratio of the means over `SW2_DRAWS` such draws and floor pairs (sw2_ratio_avg); on the
    checkerboard, the fraction of samples inside the squares."""
    draw = lambda purpose, k: exp.dataset.train_batch(seed_for(exp.seed, purpose), k, len(samples))[0]
    sw2 = lambda x, y: metrics.sliced_wasserstein(x, y, n_projections=512)
    fresh, other = draw("recipe_data", 0), draw("recipe_floor_data", 0)
    sw, floor = sw2(samples, fresh), sw2(other, fresh)
    pairs = [(draw("recipe_data", k), draw("recipe_floor_data", k)) for k in range(1, SW2_DRAWS + 1)]
    sw_avg = float(np.mean([sw2(samples, f) for f, _ in pairs]))
    floor_avg = float(np.mean([sw2(o, f) for f, o in pairs]))
    out = {"sw2": sw, "sw2_floor": floor, "sw2_ratio": sw / floor, "sw2_ratio_avg": sw_avg / floor_avg}
    if exp.dataset.name == "checkerboard":
        out["in_squares"] = in_squares(samples)
    return out


def digits_figures(exp, samples: np.ndarray, cache_dir: str, n: int | None = None) -> dict:
    """FID of the first `n` samples (default: as many as the held-out digits, 297) against the training
    digits in the digits classifier's feature space, and the floor: the held-out digits' FID (297 of
    them; comparable with the samples' at n = 297 only: FID's bias falls with the sample count)."""
    clf = features.digits_classifier(cache_dir, image_size=exp.data_shape[0])
    train_x = np.concatenate([exp.dataset.x_train]) / 255.0
    held_out = np.concatenate([x for x, _ in exp.dataset.eval_batches(500)]) / 255.0
    images = np.asarray(data.postprocess(jnp.asarray(samples), exp.preprocess_options.get("centered", True)))
    f_train = features.extract_features(clf.extractor, train_x)
    n = len(held_out) if n is None else checks.positive_int("n", n)
    if len(images) < n:
        raise ValueError(f"digits FID of n={n} samples needs as many, got {len(images)}")
    fid = metrics.fid_from_features(features.extract_features(clf.extractor, images[:n]), f_train)
    floor = metrics.fid_from_features(features.extract_features(clf.extractor, held_out), f_train)
    return {"fid": fid, "fid_floor": floor, "fid_ratio": fid / floor}


def run_variant(kind: str, name: str, changes: dict, steps: int | None, cache_dir: str,
                split: bool = False) -> dict:
    config = make_config(kind, changes)
    if steps is not None:
        config.training.n_iters = steps
    if kind == "digits":
        config.sampling.batch_size = 297  # as many samples as held-out digits
    exp = build_experiment(config)
    chunk = exp.n_jitted_steps
    state, train_s, step_rate, loss = train(exp, exp.n_iters, chunk)
    sample_fn = run.build_sample_fn(exp, parallel.make_mesh(1))
    key = key_for(exp.seed, "recipe_samples")
    samples, _ = sample_fn(key, state.ema_params)  # compiles; the timed call below repeats it exactly
    jax.block_until_ready(samples)
    tic = time.perf_counter()
    samples, nfe = sample_fn(key, state.ema_params)
    samples = np.asarray(samples)
    sample_s = time.perf_counter() - tic
    row = {"variant": name, "steps": exp.n_iters, "loss": loss, "train_s": train_s, "steps_per_s": step_rate,
           "train_s_at_step_rate": exp.n_iters / step_rate, "sample_s": sample_s,
           "nfe": float(np.mean(np.asarray(nfe)))}
    figures = toy_figures(exp, samples) if kind == "toy" else digits_figures(exp, samples, cache_dir)
    if split:
        figures.update(toy_error_split(config, state.ema_params, key))
    run.save_pictures(exp, samples if kind == "toy" else samples[:64], os.path.join(cache_dir, f"{kind}_{name}.png"),
                      f"{name}, {exp.n_iters} steps")
    return {**row, **figures}


LIKELIHOOD_VARIANTS = {
    "sigma2_weighting": {},
    "likelihood_weighting": {"training.likelihood_weighting": True},
    "likelihood_importance": {"training.likelihood_weighting": True, "training.importance_sampling": True},
}


def likelihood_row(name: str, changes: dict, steps: int, n_eval: int = 500) -> dict:
    """nats/dim of held-out draws of the 2-D Gaussian mixture (`data.gaussian_mixture`, exact
    density) under the probability-flow ODE of a model trained `steps` steps, beside the exact
    -E log p(x) / D of the same points."""
    config = make_config("toy", {"data.dataset": "gaussian_mixture", "model.parameterization": "sde", **changes})
    config.training.n_iters = steps
    exp = build_experiment(config)
    state, train_s, step_rate, loss = train(exp, steps, exp.n_jitted_steps)
    x = np.concatenate([b for b, _ in exp.dataset.eval_batches(n_eval)])[:n_eval]
    score_fn = models.bind_params(models.get_score_fn(exp.sde, exp.model), state.ema_params)
    fn = samplers.get_likelihood_fn(exp.sde, rtol=1e-5, atol=1e-5, trace="exact")
    logp, _, _ = jax.jit(lambda k, v: fn(k, score_fn, v))(jax.random.PRNGKey(7), jnp.asarray(x))
    model_nats = float(-np.mean(np.asarray(logp)) / x.shape[1])
    exact = float(-np.mean(exp.dataset.log_prob(x)) / x.shape[1])
    return {"variant": name, "steps": steps, "nats_per_dim": model_nats, "exact_nats_per_dim": exact,
            "gap": model_nats - exact, "steps_per_s": step_rate}


def demo_figures(workdir: str) -> list[str]:
    """The figures of `make demo`'s samples (the newest samples/samples_<step>.npz of each workdir)."""
    lines = []
    for kind, sub, module in (("toy", "toy", default_toy), ("digits", "digits", default_digits)):
        files = glob.glob(os.path.join(workdir, sub, "samples", "samples_*.npz"))
        if not files:
            lines.append(f"{sub}: no samples in {os.path.join(workdir, sub, 'samples')}")
            continue
        path = max(files, key=lambda f: int(re.findall(r"samples_(\d+)", f)[-1]))
        exp = build_experiment(module.get_config())
        samples = np.load(path)["samples"]
        if kind == "toy":
            f = toy_figures(exp, samples)
            lines.append(f"checkerboard ({len(samples)} samples, {os.path.basename(path)}): "
                         f"{100 * f['in_squares']:.1f}% inside the squares (target >= 97%), sliced W2 "
                         f"{f['sw2']:.4f} = {f['sw2_ratio']:.2f}x the data-against-data floor {f['sw2_floor']:.4f} "
                         f"({f['sw2_ratio_avg']:.2f}x over {SW2_DRAWS} draws of data; target <= 1.2x)")
        else:
            f = digits_figures(exp, samples, os.path.join(workdir, sub))
            lines.append(f"digits ({min(len(samples), 297)} samples, {os.path.basename(path)}): FID {f['fid']:.1f} "
                         f"= {f['fid_ratio']:.2f}x the held-out floor {f['fid_floor']:.1f} (target <= 1.25x)")
    return lines


def format_row(row: dict) -> str:
    cells = []
    for key, value in row.items():
        cells.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(cells)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["toy", "digits", "likelihood"], default="toy")
    parser.add_argument("--variants", default="default", help="comma-separated names, or 'all'")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the config's n_iters)")
    parser.add_argument("--set", action="append", default=[], help="field=value applied to every variant")
    parser.add_argument("--step_cost", action="store_true",
                        help="only time the jitted step of each variant, side by side (ratios to the first)")
    parser.add_argument("--seeds", default=None, help="comma-separated config seeds: one row per seed and their mean")
    parser.add_argument("--split", action="store_true",
                        help="checkerboard: also the fraction inside with the sampler's end points and with noised data, "
                             "each denoised by the network and by the exact denoiser (toy_error_split)")
    parser.add_argument("--figures", default=None, help="print the figures of make demo's samples in this workdir")
    parser.add_argument("--cache_dir", default="workdir/recipe_benchmark", help="where the digits classifier is cached")
    args = parser.parse_args(argv)
    if args.figures:
        for line in demo_figures(args.figures):
            print(line)
        return []
    table = {"toy": TOY_VARIANTS, "digits": DIGITS_VARIANTS, "likelihood": LIKELIHOOD_VARIANTS}[args.data]
    names = list(table) if args.variants == "all" else args.variants.split(",")
    common = {}
    for item in args.set:
        field, value = item.split("=", 1)
        try:
            common[field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            common[field] = value
    if args.step_cost:
        for name in names:
            if name not in table:
                raise SystemExit(f"unknown variant {name!r}; valid: {sorted(table)}")
        rows = step_costs(args.data, names, table, common)
        for row in rows:
            print(format_row(row), flush=True)
        return rows
    seeds = [None] if args.seeds is None else [int(s) for s in args.seeds.split(",")]
    os.makedirs(args.cache_dir, exist_ok=True)
    rows = []
    for name in names:
        if name not in table:
            raise SystemExit(f"unknown variant {name!r}; valid: {sorted(table)}")
        per_seed = []
        for seed in seeds:
            changes = {**table[name], **common, **({} if seed is None else {"seed": seed})}
            if args.data == "likelihood":
                row = likelihood_row(name, changes, args.steps or 2000)
            else:
                row = run_variant(args.data, name, changes, args.steps, args.cache_dir, split=args.split)
            if seed is not None:
                row = {"variant": name, "seed": seed, **{k: v for k, v in row.items() if k != "variant"}}
            print(format_row(row), flush=True)
            per_seed.append(row)
        rows.extend(per_seed)
        if len(per_seed) > 1:
            mean = mean_row(per_seed)
            print(format_row(mean), flush=True)
            rows.append(mean)
    return rows


def mean_row(per_seed: list[dict]) -> dict:
    """The mean over seeds of every float figure (and, on the checkerboard, the worst seed's fraction inside)."""
    row = {"variant": per_seed[0]["variant"], "seed": "mean"}
    for key, value in per_seed[0].items():
        if isinstance(value, float):
            row[key] = float(np.mean([r[key] for r in per_seed]))
    if "in_squares" in row:
        row["min_in_squares"] = min(r["in_squares"] for r in per_seed)
    return row


if __name__ == "__main__":
    main()
