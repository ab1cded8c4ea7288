"""Training speed on this machine: where one train step's time goes, and what the loop adds to it.

    python -m benchmarks.training_speed                         # the digits U-Net (configs/default_digits.py)
    python -m benchmarks.training_speed --data toy --rounds 3

The split of one step, each part jitted on its own and timed over `--calls` calls on one placed
batch (the parts overlap: backward = forward + backward - forward): forward (the loss), backward
(value_and_grad minus forward), optimizer and EMA (the full step minus value_and_grad), host work
(making and placing one call's batches). Then the training loop (`training.loop.train_loop`, the
run's own code) for `--steps` steps: its time per step from its log lines (the steps_per_sec of
metrics.jsonl, between log lines, so neither compilation nor checkpoint writes count), beside the
jitted step alone timed in the same round, and beside a loop that reads each step's loss back
(the previous loop's behaviour). Rounds alternate the measurements; the table gives the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import models
import parallel
from configs import default_digits, default_toy
from configs.builders import build_experiment
from modes import run
from training.loop import train_loop
from training.losses import get_loss_fn


def _timed(fn, calls: int) -> float:
    """Seconds per call of fn() (the result blocked on), after one warm-up call."""
    jax.block_until_ready(fn())
    tic = time.perf_counter()
    for _ in range(calls):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - tic) / calls


def step_split(exp, mesh, calls: int) -> dict:
    state, shardings = run.placed_initial_state(exp, mesh)
    n = exp.n_jitted_steps
    get_batches = run.get_batches(exp, mesh)
    batches = get_batches(0, n)
    score_fn = models.get_score_fn(exp.sde, exp.model, train=True)
    pre = run._preprocess(exp)

    def loss(params, key, raw):
        fn = get_loss_fn(exp.sde, lambda p, x, t: score_fn(p, x, t, key), **exp.loss_options)
        return fn(params, key, pre(key, raw))

    forward = jax.jit(loss)
    backward = jax.jit(jax.value_and_grad(loss))
    step_fn = run.build_train_step(exp, mesh, shardings)
    key, raw = jax.random.PRNGKey(0), batches[0]
    t_fwd = _timed(lambda: forward(state.params, key, raw), calls)
    t_grad = _timed(lambda: backward(state.params, key, raw), calls)
    holder = {"state": state}

    def one():
        holder["state"], losses = step_fn(holder["state"], batches)
        return losses

    t_step = _timed(one, calls) / n
    t_host = _timed(lambda: get_batches(0, n), calls) / n
    return {"forward_ms": 1e3 * t_fwd, "backward_ms": 1e3 * (t_grad - t_fwd),
            "optimizer_ema_ms": 1e3 * (t_step - t_grad), "step_ms": 1e3 * t_step, "host_batches_ms": 1e3 * t_host}


def loop_round(exp, mesh, steps: int, log_freq: int, calls: int) -> dict:
    state, shardings = run.placed_initial_state(exp, mesh)
    step_fn = run.build_train_step(exp, mesh, shardings)
    n = exp.n_jitted_steps
    get_batches = run.get_batches(exp, mesh)
    fixed = get_batches(0, n)
    holder = {"state": jax.tree.map(jnp.copy, state)}

    def one():
        holder["state"], losses = step_fn(holder["state"], fixed)
        return losses

    alone = _timed(one, calls) / n
    with tempfile.TemporaryDirectory() as workdir:
        train_loop(state=jax.tree.map(jnp.copy, state), step_fn=step_fn, get_batches=get_batches, workdir=workdir,
                   n_iters=steps, n_jitted_steps=n, log_freq=log_freq, snapshot_freq=steps, preemption_freq=steps,
                   progress=False)
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            rates = [json.loads(line)["steps_per_sec"] for line in f][1:]  # the first holds the compilation
    loop = 1.0 / statistics.median(rates)
    # The earlier loop: every call's losses read back before the next call is made.
    s = jax.tree.map(jnp.copy, state)
    s, losses = step_fn(s, get_batches(0, n))
    np.asarray(losses)
    tic = time.perf_counter()
    count = max(calls, 2 * log_freq // n)
    for i in range(count):
        s, losses = step_fn(s, get_batches((i + 1) * n, n))
        np.asarray(jax.device_get(losses))
    synced = (time.perf_counter() - tic) / (count * n)
    return {"step_alone_ms": 1e3 * alone, "loop_ms": 1e3 * loop, "loop_over_step": loop / alone,
            "per_step_sync_loop_ms": 1e3 * synced, "per_step_sync_over_step": synced / alone}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["toy", "digits"], default="digits")
    parser.add_argument("--steps", type=int, default=None, help="loop steps per round (default: 6 log lines)")
    parser.add_argument("--calls", type=int, default=20, help="calls per timing of a jitted function")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    config = (default_toy if args.data == "toy" else default_digits).get_config()
    config.training.snapshot_sampling = False
    log_freq = config.training.n_jitted_steps * max(1, 20 // config.training.n_jitted_steps)
    config.training.log_freq = log_freq
    exp = build_experiment(config)
    mesh = parallel.make_mesh(1)
    steps = args.steps or 6 * log_freq
    split = step_split(exp, mesh, args.calls)
    print("one step: " + ", ".join(f"{k}={v:.2f}" for k, v in split.items()), flush=True)
    rounds = []
    for r in range(args.rounds):
        rounds.append(loop_round(exp, mesh, steps, log_freq, args.calls))
        print(f"round {r}: " + ", ".join(f"{k}={v:.3f}" for k, v in rounds[-1].items()), flush=True)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print("median: " + ", ".join(f"{k}={v:.3f}" for k, v in med.items()))
    return split, med


if __name__ == "__main__":
    main()
