"""The training loop: jitted multi-step updates, logging, checkpoints and automatic resumption."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import jax
import numpy as np

from common import checks
from training import progress as progress_bars
from training.checkpoints import Checkpoints


class DivergenceError(FloatingPointError):
    """The loss became NaN or infinite."""


class MetricsLog:
    """`metrics.jsonl` (one JSON object per logged step) and TensorBoard event files (tensorboardX)."""

    def __init__(self, workdir: str, resume_step: int):
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.last: dict = {}  # the last line kept from an earlier run
        if os.path.exists(self.path):  # drop lines logged after the checkpoint we resume from
            kept = []
            with open(self.path) as f:
                for line in f:
                    try:  # a run killed mid-write may leave a partial last line
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if line.endswith("\n") and record.get("step", resume_step + 1) <= resume_step:
                        kept.append(line)
                        self.last = record
            with open(self.path + ".tmp", "w") as f:
                f.writelines(kept)
            os.replace(self.path + ".tmp", self.path)
        from tensorboardX import SummaryWriter  # lazy: its protobuf import is slow, and only training logs

        self.writer = SummaryWriter(os.path.join(workdir, "tensorboard"), purge_step=resume_step + 1)

    def write(self, step: int, **scalars) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **scalars}) + "\n")
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, step)

    def close(self) -> None:
        self.writer.close()


def check_frequencies(n_iters: int, n_jitted_steps: int, **freqs) -> None:
    checks.positive_int("n_jitted_steps", n_jitted_steps)
    for name, value in {"n_iters": n_iters, **freqs}.items():
        checks.positive_int(name, value)
        if value % n_jitted_steps:
            raise checks.ArgumentError(name, value, f"a positive multiple of n_jitted_steps={n_jitted_steps}")


def train_loop(
    *,
    state,
    step_fn: Callable,
    get_batches: Callable[[int, int], np.ndarray],
    workdir: str,
    n_iters: int,
    n_jitted_steps: int = 1,
    log_freq: int = 50,
    snapshot_freq: int = 10_000,
    preemption_freq: int = 1_000,
    on_snapshot: Callable | None = None,
    progress: bool = True,
    skip_nonfinite: bool = False,
):
    """Trains until `state.step == n_iters`, resuming from the newest checkpoint in `workdir`.

    `step_fn(state, batches [n, B, ...]) -> (state, losses [n])` is the jitted update and
    `get_batches(step, n)` the raw data for steps step..step+n-1 (a pure function of the step).
    `on_snapshot(state, step)` runs after each snapshot (sample pictures). Returns the final state.

    The losses are read back from the device only at log lines and checkpoints, and the next call's
    batches are made on a background thread while a call runs (no per-step host round trip).

    A non-finite loss raises `DivergenceError` naming the step and the last good checkpoint, which
    is left as it was (it is found at the next log line or checkpoint, before anything is saved). With `skip_nonfinite` (the step function then leaves such steps without an
    update) training goes on instead: each skipped step gets its own line in metrics.jsonl and
    every line carries `skipped_steps`, the number skipped since step 0.
    """
    check_frequencies(n_iters, n_jitted_steps, log_freq=log_freq, snapshot_freq=snapshot_freq,
                      preemption_freq=preemption_freq)
    os.makedirs(workdir, exist_ok=True)
    checkpoints = Checkpoints(workdir)
    restored = checkpoints.restore(state)
    state = restored if restored is not None else state
    start = int(jax.device_get(state.step))
    if start % n_jitted_steps:
        raise ValueError(f"checkpoint step {start} is not a multiple of n_jitted_steps={n_jitted_steps}")
    log = MetricsLog(workdir, start)
    bar = progress_bars.bar(total=n_iters, initial=start, desc="train", disable=not progress, dynamic_ncols=True)
    if restored is not None and progress:
        bar.write(f"resuming from step {start}: {checkpoints.path(start)}", file=sys.stderr)
    last_good = checkpoints.latest_step()
    skipped = int(log.last.get("skipped_steps", 0))
    tic, tic_step = time.perf_counter(), start
    pending = []  # (first step, losses on the device) of the calls not yet read back
    # The next call's batches are prepared on a background thread while the current call runs, and
    # the losses stay on the device until a log line or a checkpoint needs them: the training
    # thread only dispatches steps.
    prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches")

    def drain():
        nonlocal skipped, tic, tic_step
        steps, values = [s for s, _ in pending], jax.device_get([v for _, v in pending])
        pending.clear()
        for first, losses in zip(steps, values):
            losses = np.asarray(losses)
            finite = np.isfinite(losses)
            if not skip_nonfinite and not finite.all():
                bad = int(np.argmin(finite))
                where = ("none (nothing was saved yet)" if last_good is None
                         else f"step {last_good}, kept intact at {checkpoints.path(last_good)}")
                raise DivergenceError(f"loss is {losses[bad]} at step {first + bad + 1}; "
                                      f"last good checkpoint: {where}")
            for i, loss in enumerate(losses):
                skipped += int(not finite[i])
                if (first + i + 1) % log_freq == 0 or not finite[i]:
                    rate = (first + i + 1 - tic_step) / max(time.perf_counter() - tic, 1e-9)
                    extra = {"skipped_steps": skipped} if skip_nonfinite else {}
                    log.write(first + i + 1, loss=float(loss), steps_per_sec=rate, **extra)
                    bar.set_postfix(loss=f"{loss:.4f}", steps_per_s=f"{rate:.1f}", **extra)
                    if (first + i + 1) % log_freq == 0:
                        tic, tic_step = time.perf_counter(), first + i + 1

    try:
        upcoming = prefetch.submit(get_batches, start, n_jitted_steps) if start < n_iters else None
        for step in range(start, n_iters, n_jitted_steps):
            batches = upcoming.result()
            done = step + n_jitted_steps
            if done < n_iters:
                upcoming = prefetch.submit(get_batches, done, n_jitted_steps)
            state, losses = step_fn(state, batches)
            pending.append((step, losses))
            bar.update(n_jitted_steps)
            save = done % snapshot_freq == 0 or done == n_iters or done % preemption_freq == 0
            if done % log_freq == 0 or save:
                drain()  # also before every save: a diverged state is never written
            if done % snapshot_freq == 0 or done == n_iters:
                checkpoints.save(state, snapshot=True)
                last_good = done
                if on_snapshot is not None:
                    on_snapshot(state, done)
            elif done % preemption_freq == 0:
                checkpoints.save(state, snapshot=False)
                last_good = done
    finally:
        prefetch.shutdown(wait=True, cancel_futures=True)
        bar.close()
        log.close()
        checkpoints.close()
    return state


