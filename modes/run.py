"""Train and sample from an `Experiment`: the plain objects a config is turned into (configs/builders.py).

Nothing here reads a config: main.py builds an Experiment and calls `train` or `sample`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import data
import models
import parallel
import samplers
import visualize
from common.seeds import key_for, seed_for
from sde_lib import SDE
from training import lifecycle
from training.checkpoints import Checkpoints, check_newest
from training.progress import line as progress_line
from training.loop import train_loop
from training.losses import get_loss_fn
from training.state import TrainState, init_train_state, make_train_step


@dataclasses.dataclass(frozen=True)
class Experiment:
    seed: int
    sde: SDE
    model: Any  # a flax.linen Module
    dataset: data.Dataset
    optimizer: optax.GradientTransformation
    ema_rate: float
    loss_options: dict  # keyword arguments of training.losses.get_loss_fn
    preprocess_options: dict  # uniform_dequantization, centered, random_flip
    n_iters: int
    batch_size: int
    n_jitted_steps: int = 1
    log_freq: int = 50
    snapshot_freq: int = 10_000
    preemption_freq: int = 1_000
    snapshot_sampling: bool = True
    sampling_method: str = "pc"
    sampling_options: dict = dataclasses.field(default_factory=dict)
    num_samples: int = 64
    num_devices: int = 0  # devices of the data-parallel mesh; 0: all visible
    fsdp: bool = False  # shard parameters and optimizer state over the devices too
    skip_nonfinite: bool = False  # skip (and count) steps with a non-finite loss instead of stopping
    ema_warmup: bool = False  # EMA decay min(ema_rate, (1 + n) / (10 + n)) at step n

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.dataset.shape)


def initial_state(exp: Experiment) -> TrainState:
    init_key, state_key = jax.random.split(key_for(exp.seed, "init"))
    params = models.init_params(exp.model, init_key, (1,) + exp.data_shape)
    return init_train_state(state_key, params, exp.optimizer)


def _preprocess(exp: Experiment):
    if not exp.dataset.is_image:
        return lambda key, x: x
    return lambda key, x: data.preprocess(key, x, **exp.preprocess_options)


def placed_initial_state(exp: Experiment, mesh) -> tuple[TrainState, Any]:
    """The initial state on the mesh, and its shardings (replicated, or FSDP)."""
    state = initial_state(exp)
    shardings = parallel.state_shardings(state, mesh, exp.fsdp)
    return parallel.place(state, shardings), shardings


def restore_target(exp: Experiment, mesh):
    """The train state's shapes, dtypes and shardings on the mesh, for restoring a checkpoint into:
    traced only (`jax.eval_shape`), so nothing is initialised or compiled."""
    abstract = jax.eval_shape(lambda: initial_state(exp))
    shardings = parallel.state_shardings(abstract, mesh, exp.fsdp)
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract, shardings)


def build_train_step(exp: Experiment, mesh, state_shardings):
    """The jitted update: batches [n, B, ...] sharded along B, the state as `state_shardings`."""
    parallel.check_batch_size(exp.batch_size, mesh, "training.batch_size")
    score_fn = models.get_score_fn(exp.sde, exp.model, train=True)

    def loss_builder(dropout_key):
        return get_loss_fn(exp.sde, lambda p, x, t: score_fn(p, x, t, dropout_key), **exp.loss_options)

    step_fn = make_train_step(loss_builder, exp.optimizer, ema_rate=exp.ema_rate, ema_warmup=exp.ema_warmup,
                              preprocess=_preprocess(exp),
                              skip_nonfinite=exp.skip_nonfinite)
    return jax.jit(step_fn, in_shardings=(state_shardings, parallel.data_sharding(mesh, 1)),
                   out_shardings=(state_shardings, parallel.replicated(mesh)), donate_argnums=0)


def get_batches(exp: Experiment, mesh):
    """Raw batches for steps step..step+n-1, [n, B, ...], placed on the mesh (sharded along B)."""
    sharding = parallel.data_sharding(mesh, 1)

    def batches(step: int, n: int) -> jax.Array:
        raw = np.stack([exp.dataset.train_batch(exp.seed, step + i, exp.batch_size)[0] for i in range(n)])
        return parallel.put(raw, sharding)

    return batches


def build_sample_fn(exp: Experiment, mesh, num_samples: int | None = None):
    """A jitted `fn(key, params) -> (samples, nfe)` with the experiment's sampler and the model's score;
    samples are sharded over the mesh (per-sample keys make them independent of the device count)."""
    num_samples = num_samples or exp.num_samples
    parallel.check_batch_size(num_samples, mesh, "sampling.batch_size")
    sample_fn = samplers.get_sampler(exp.sde, (num_samples,) + exp.data_shape, exp.sampling_method,
                                     **exp.sampling_options)
    score_fn = models.get_score_fn(exp.sde, exp.model)
    sharding = parallel.data_sharding(mesh)

    def fn(key, params):
        samples, nfe = sample_fn(key, models.bind_params(score_fn, params))
        return jax.lax.with_sharding_constraint(samples, sharding), nfe

    return jax.jit(fn)


def save_pictures(exp: Experiment, samples: np.ndarray, path: str, title: str) -> str:
    """An image grid (images) or a scatter plot over fresh data (2-D sets)."""
    if exp.dataset.is_image:
        images = data.postprocess(jnp.asarray(samples), exp.preprocess_options.get("centered", True))
        return visualize.save_image_grid(path, np.asarray(images), title)
    points = exp.dataset.train_batch(seed_for(exp.seed, "plot_data"), 0, len(samples))[0]
    return visualize.save_scatter(path, samples, points, title)


def train(exp: Experiment, workdir: str, *, progress: bool = True) -> TrainState:
    """Trains on all devices of the mesh, resuming from the newest checkpoint in `workdir`.

    A SIGINT or SIGTERM stops it before the next update: the state of the current step is saved as
    the pre-emption checkpoint (atomically, as every checkpoint) and `lifecycle.Preempted` is raised
    with its path; the same call then resumes from it."""
    mesh = parallel.make_mesh(exp.num_devices)
    state, shardings = placed_initial_state(exp, mesh)
    step_fn = build_train_step(exp, mesh, shardings)
    snapshot_sampler = build_sample_fn(exp, mesh) if exp.snapshot_sampling else None

    def on_snapshot(state, step):
        if snapshot_sampler is None:
            return
        path = os.path.join(workdir, "snapshots", f"samples_{step}.png")
        progress_line(f"step {step}: drawing {exp.num_samples} {exp.sampling_method} samples for {path}")
        samples, _ = snapshot_sampler(key_for(exp.seed, "snapshot_samples"), state.ema_params)
        save_pictures(exp, np.asarray(samples), path, f"EMA samples at step {step}")

    with lifecycle.StopOnSignals() as stop:
        try:
            return train_loop(
                state=state, step_fn=stop.wrap(step_fn), get_batches=get_batches(exp, mesh), workdir=workdir,
                n_iters=exp.n_iters, n_jitted_steps=exp.n_jitted_steps, log_freq=exp.log_freq,
                snapshot_freq=exp.snapshot_freq, preemption_freq=exp.preemption_freq, on_snapshot=on_snapshot,
                progress=progress, skip_nonfinite=exp.skip_nonfinite,
            )
        except lifecycle.Preempted as e:
            checkpoints = Checkpoints(workdir)
            try:
                checkpoints.save(e.state, snapshot=False)
                e.path = checkpoints.path(int(jax.device_get(e.state.step)))
            finally:
                checkpoints.close()
            raise


def check_checkpoint(exp: Experiment, workdir: str) -> None:
    """Raises CheckpointMismatch (a ValueError) if the newest checkpoint in `workdir` holds arrays of
    other shapes than `exp`'s model; traces the model's state (no computation) and creates nothing."""
    check_newest(workdir, jax.eval_shape(lambda: initial_state(exp)))


def restore_state(exp: Experiment, workdir: str, mesh) -> TrainState:
    checkpoints = Checkpoints(workdir)
    try:
        state = checkpoints.restore(restore_target(exp, mesh))
    finally:
        checkpoints.close()
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {os.path.join(workdir, 'checkpoints')} or checkpoints-meta; "
                                "train first (--mode train)")
    return state


def sample(exp: Experiment, workdir: str) -> tuple[str, str]:
    """Samples from the newest checkpoint's EMA params; writes samples/samples_<step>.npz and a PNG."""
    mesh = parallel.make_mesh(exp.num_devices)
    state = restore_state(exp, workdir, mesh)
    step = int(state.step)
    progress_line(f"drawing {exp.num_samples} {exp.sampling_method} samples from the step {step} checkpoint")
    samples, nfe = build_sample_fn(exp, mesh)(key_for(exp.seed, "sample"), state.ema_params)
    samples = np.asarray(samples)
    out_dir = os.path.join(workdir, "samples")
    os.makedirs(out_dir, exist_ok=True)
    npz = os.path.join(out_dir, f"samples_{step}.npz")
    np.savez(npz + ".tmp.npz", samples=samples, nfe=np.asarray(nfe))
    os.replace(npz + ".tmp.npz", npz)
    png = save_pictures(exp, samples, os.path.join(out_dir, f"samples_{step}.png"),
                        f"{exp.sampling_method} samples, step {step}, NFE {float(np.mean(nfe)):.0f}")
    return npz, png


def calibrate(exp: Experiment, workdir: str, *, pilot: int, n_iters: int):
    """Fits the experiment's fixed-step sampler to the newest checkpoint's EMA score: its time grid
    (`samplers.calibrate_grid`; writes grids/<method>_nfe<K>.npy, use it as sampling.grid), or, for
    sampling.method=learned, its coefficients and times (`samplers.fit_learned_solver`; writes
    grids/learned_nfe<K>.npz, use it as sampling.learned_solver); and a picture of the grid and of
    the fit. Returns (path, png, fit) with fit a GridFit or a SolverFit."""
    learned = exp.sampling_method == "learned"
    if not learned and not samplers.METHODS[exp.sampling_method].calibratable:
        valid = sorted(samplers.registry.names(calibratable=True) + ["learned"])
        raise ValueError(f"--mode calibrate fits a deterministic fixed-step sampler, got "
                         f"sampling.method={exp.sampling_method!r}; valid: {valid}")
    state = restore_state(exp, workdir, parallel.make_mesh(1))
    score_fn = models.bind_params(models.get_score_fn(exp.sde, exp.model), state.ema_params)
    options = dict(exp.sampling_options)
    key = key_for(exp.seed, "calibrate")
    shape = (pilot,) + exp.data_shape
    what_fit = f"learned {options.get('base', 'unipc')} solver" if learned else f"{exp.sampling_method} grid"
    progress_line(f"calibrate: fitting the {what_fit} to the step {int(state.step)} checkpoint "
                  f"({n_iters} Adam steps on {pilot} pilot trajectories, after their converged ODE solve)")
    out_dir = os.path.join(workdir, "grids")
    os.makedirs(out_dir, exist_ok=True)
    if learned:  # start from the configured file if there is one, else from the base on the logsnr grid
        init = samplers.load_learned_solver(options.pop("learned_solver")) if "learned_solver" in options else "logsnr"
        fit = samplers.fit_learned_solver(exp.sde, shape, score_fn, key=key, n_iters=n_iters, init=init, **options)
        grid, name = fit.solver.times, f"learned_nfe{fit.solver.nfe}"
        path = samplers.save_learned_solver(os.path.join(out_dir, f"{name}.npz"), fit.solver)
        what = f"learned {fit.solver.base}-{fit.solver.order}"
    else:
        init = options.pop("grid", "logsnr")
        fit = samplers.calibrate_grid(exp.sde, shape, exp.sampling_method, score_fn, key=key, n_iters=n_iters,
                                      init=init, **options)
        grid, name = fit.grid, f"{exp.sampling_method}_nfe{options.get('nfe', '')}"
        path = os.path.join(out_dir, f"{name}.npy")
        with open(path + ".tmp", "wb") as f:
            np.save(f, fit.grid)
        os.replace(path + ".tmp", path)
        what = exp.sampling_method
    initial = fit.initial_times if learned else fit.initial_grid
    log_snr = lambda ts: np.asarray(exp.sde.log_snr(jnp.asarray(ts)))  # noqa: E731
    png = visualize.save_grid_plot(
        os.path.join(out_dir, f"{name}.png"), log_snr(grid), log_snr(initial), fit.errors,
        f"{what}, {len(grid) - 1} steps, step {int(state.step)} checkpoint")
    return path, png, fit
