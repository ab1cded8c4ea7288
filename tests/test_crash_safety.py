"""Crashes, divergence and mismatched checkpoints (project issue 7).

`test_kill_9_and_rerun_equals_uninterrupted_run` starts `main.py --mode train` on a tiny config
that saves a pre-emption checkpoint every 5 steps, kills it with SIGKILL three times (at a random
moment, while orbax is writing a checkpoint, and at a random moment after training has begun),
reruns the same command each time, and checks that no finalized checkpoint is ever unreadable,
that each rerun resumes from the newest checkpoint left, and that the final state equals an
uninterrupted run's bit for bit (as do the logged losses).
"""

import dataclasses
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

import main
import parallel
from configs import default_toy
from configs.builders import build_experiment
from modes import run
from training.checkpoints import Checkpoints
from training.loop import DivergenceError, train_loop
from training.state import TrainState, make_train_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N_ITERS = 100

TINY_CONFIG = f'''
from configs import default_toy

def get_config():
    c = default_toy.get_config()
    c.num_devices = 1
    c.training.n_iters = {N_ITERS}
    c.training.batch_size = 32
    c.training.n_jitted_steps = 5
    c.training.log_freq = 5
    c.training.snapshot_freq = 50
    c.training.snapshot_freq_for_preemption = 5
    c.training.snapshot_sampling = False
    c.model.width = 32
    c.model.num_blocks = 1
    c.model.nf = 16
    c.sde.num_scales = 20
    c.sampling.batch_size = 16
    return c
'''
TMP_MARK = ".orbax-checkpoint-tmp"


def _load_config(path):
    spec = importlib.util.spec_from_file_location("tiny_crash_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def _start(config, workdir, log, *, extra=(), env=None, cwd=ROOT):
    """`python main.py --mode train` in the background, output to `log` (the config asks for one device)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    argv = [sys.executable, os.path.join(ROOT, "main.py"), f"--config={config}", *extra, f"--workdir={workdir}",
            "--mode=train"]
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def _wait_for(predicate, proc, timeout=120.0) -> bool:
    """Polls every ~1 ms until predicate(seconds since start) holds; False if the process ends first."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate(time.monotonic() - t0):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.001)
    raise TimeoutError("training subprocess neither progressed nor ended")


def _kill(proc):
    proc.send_signal(signal.SIGKILL)  # kill -9 of the process this test started
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"


def _tmp_dirs(workdir):
    """orbax's unfinished checkpoint directories, as (name, mtime): a directory re-created under the
    same name by a later run counts as new."""
    out = set()
    for d in ("checkpoints", "checkpoints-meta"):
        path = os.path.join(workdir, d)
        for name in os.listdir(path) if os.path.isdir(path) else ():
            try:
                out.add((name, os.stat(os.path.join(path, name)).st_mtime_ns)) if TMP_MARK in name else None
            except FileNotFoundError:  # renamed or removed meanwhile
                pass
    return out


def _finalized_names(workdir):
    return [n for d in ("checkpoints", "checkpoints-meta") if os.path.isdir(os.path.join(workdir, d))
            for n in os.listdir(os.path.join(workdir, d)) if n.isdigit()]


def _finalized_steps(workdir):
    """Read-only: {step: restored state} for every finalized checkpoint (tmp directories excluded)."""
    out = {}
    for sub in ("checkpoints", "checkpoints-meta"):
        path = os.path.join(workdir, sub)
        if not os.path.isdir(path):
            continue
        manager = ocp.CheckpointManager(path, options=ocp.CheckpointManagerOptions(read_only=True),
                                        item_handlers=ocp.StandardCheckpointHandler())
        for step in manager.all_steps():
            out[step] = manager.restore(step, args=ocp.args.StandardRestore(_TARGET[0]))
        manager.close()
    return out


_TARGET = [None]  # the abstract train state of the tiny config, set by the test


def _resumed_from(log_path):
    with open(log_path, errors="replace") as f:
        found = re.findall(r"resuming from step (\d+)", f.read())
    return int(found[-1]) if found else None


def _metrics(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        return [(r["step"], r["loss"]) for r in map(json.loads, f)]


def test_kill_9_and_rerun_equals_uninterrupted_run(tmp_path):
    config = tmp_path / "tiny.py"
    config.write_text(TINY_CONFIG)
    exp = build_experiment(_load_config(config))
    _TARGET[0] = jax.tree.map(ocp.utils.to_shape_dtype_struct, run.initial_state(exp))
    rng = np.random.default_rng(7)

    # The uninterrupted run, with HOME, TMPDIR and the working directory empty: the workdir is the
    # only place it may write to, sample pictures (matplotlib) included. Pictures do not touch the
    # training state, so the crashed runs below (without them) must still match it.
    home, scratch, cwd = (tmp_path / n for n in ("home", "tmp", "cwd"))
    for d in (home, scratch, cwd):
        d.mkdir()
    ref = tmp_path / "ref"
    with open(tmp_path / "ref.log", "w") as log:
        t0 = time.monotonic()
        proc = _start(config, ref, log, env=dict(HOME=str(home), TMPDIR=str(scratch)), cwd=cwd,
                      extra=["--config.training.snapshot_sampling=True"])
        assert proc.wait(timeout=300) == 0, (tmp_path / "ref.log").read_text()[-3000:]
        ref_seconds = time.monotonic() - t0
    assert [os.listdir(d) for d in (home, scratch, cwd)] == [[], [], []]
    assert sorted(n for n in os.listdir(ref / "snapshots") if n.endswith(".png")) == [
        "samples_100.png", "samples_50.png"]

    wd = tmp_path / "crashed"
    kills = []

    def rerun_and_kill(until, in_loop=True):
        """Reruns the command and kills it once until(elapsed, steps before, tmp dirs before) holds;
        `in_loop`: the kill comes after the training loop has started (and said where it resumed)."""
        steps, tmp = set(_finalized_steps(wd)), _tmp_dirs(wd)
        log_path = tmp_path / f"run{len(kills) + 1}.log"
        with open(log_path, "w") as log:
            proc = _start(config, wd, log)
            t0 = time.monotonic()
            said = []  # the run's "resuming from" line, once seen (read from its log until then)

            def ready(elapsed):
                # A rerun that will resume is killed in its loop only after saying so: at start-up
                # orbax may clear a temporary directory the previous kill left, which would
                # otherwise look like a new write.
                if in_loop and steps and not said:
                    if _resumed_from(log_path) is None:
                        return False
                    said.append(True)
                return until(elapsed, steps, tmp)

            reached = _wait_for(ready, proc)
            assert reached, f"the run ended before the kill: {log_path.read_text()[-2000:]}"
            _kill(proc)
        resumed = _resumed_from(log_path)
        if in_loop or resumed is not None:  # the newest checkpoint left by the previous kill
            assert resumed == max(steps, default=None), (resumed, steps)
        after = _finalized_steps(wd)  # every finalized checkpoint restores
        kills.append(dict(at_s=round(time.monotonic() - t0, 2), resumed_from=resumed, finalized=sorted(after),
                          cut_writes=sorted(name for name, _ in _tmp_dirs(wd) - tmp)))

    # 1. At a random moment of a run's life (start-up, compilation or training).
    delay = rng.uniform(0.3, 0.6 * ref_seconds)
    rerun_and_kill(lambda elapsed, steps, tmp: elapsed > delay, in_loop=False)
    # 2. While orbax writes a checkpoint, once a finalized one exists: as soon as a new temporary
    # directory appears.
    for _ in range(4):
        rerun_and_kill(lambda elapsed, steps, tmp: bool(_tmp_dirs(wd) - tmp) and bool(_finalized_names(wd)))
        if kills[-1]["cut_writes"]:  # the write was cut short: its temporary directory is left behind
            break
    assert kills[-1]["cut_writes"], f"no kill landed inside a checkpoint write: {kills}"
    # 3. At a random moment (up to 0.2 s) after this run has finalized a checkpoint of its own.
    gap, seen = rng.uniform(0.0, 0.2), []

    def after_new_checkpoint(elapsed, steps, tmp):
        if not seen and set(_finalized_names(wd)) - {str(s) for s in steps}:
            seen.append(elapsed)
        return bool(seen) and elapsed - seen[0] > gap

    rerun_and_kill(after_new_checkpoint)
    assert kills[-1]["resumed_from"] is not None

    # Every kill left only complete checkpoints (all restored above), and training had progressed.
    assert kills[-1]["finalized"], kills
    newest = max(_finalized_steps(wd))
    log_path = tmp_path / "final.log"
    with open(log_path, "w") as log:
        assert _start(config, wd, log).wait(timeout=300) == 0, log_path.read_text()[-3000:]
    assert _resumed_from(log_path) == newest
    assert not _tmp_dirs(wd), "the rerun left orbax temporary directories behind"
    print("kills:", kills)

    a, b = _finalized_steps(ref)[N_ITERS], _finalized_steps(wd)[N_ITERS]
    assert int(b.step) == N_ITERS
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert _metrics(wd) == _metrics(ref)  # every logged step once, the same losses


# ----- divergence --------------------------------------------------------------------------------
def _tiny_exp(n_iters, **changes):
    namespace = {}
    exec(TINY_CONFIG, namespace)
    config = namespace["get_config"]()
    config.training.n_iters = n_iters
    for key, value in changes.items():
        section, field = key.split("__")
        config[section][field] = value
    return build_experiment(config)


@dataclasses.dataclass(frozen=True)
class PoisonedData:
    """Wraps a dataset; batch `bad` (0-based) holds an inf, so step bad + 1 has a non-finite loss."""

    base: object
    bad: int
    name: str = "poisoned"
    is_image: bool = False
    num_classes: None = None

    @property
    def shape(self):
        return self.base.shape

    @property
    def num_eval(self):
        return self.base.num_eval

    def eval_batches(self, batch_size, *, drop_remainder=False):
        return self.base.eval_batches(batch_size, drop_remainder=drop_remainder)

    def train_batch(self, seed, step, batch_size):
        x, y = self.base.train_batch(seed, step, batch_size)
        if step == self.bad:
            x = x.copy()
            x[3, 0] = np.inf
        return x, y


@pytest.fixture(scope="module")
def trainer():
    """`train(workdir, n_iters, bad, skip)`: run.train's loop on the tiny config with batch `bad`
    poisoned; the jitted steps (with and without skipping) are compiled once for all tests."""
    exp = _tiny_exp(20)
    mesh = parallel.make_mesh(1)
    state, shardings = run.placed_initial_state(exp, mesh)
    step_fns = {}

    def train(workdir, n_iters, bad, skip=False):
        e = dataclasses.replace(exp, n_iters=n_iters, skip_nonfinite=skip, dataset=PoisonedData(exp.dataset, bad))
        if skip not in step_fns:
            step_fns[skip] = run.build_train_step(e, mesh, shardings)
        return train_loop(state=jax.tree.map(jnp.copy, state), step_fn=step_fns[skip],
                          get_batches=run.get_batches(e, mesh), workdir=str(workdir), n_iters=n_iters,
                          n_jitted_steps=e.n_jitted_steps, log_freq=e.log_freq, snapshot_freq=e.snapshot_freq,
                          preemption_freq=e.preemption_freq, progress=False, skip_nonfinite=skip)

    train.initial_state = lambda: jax.tree.map(jnp.copy, state)
    return train


def test_divergence_names_step_and_keeps_last_good_checkpoint(tmp_path, trainer):
    wd = tmp_path / "wd"
    good = jax.device_get(trainer(wd, 10, bad=12))  # steps 1..10 are clean
    with pytest.raises(DivergenceError) as info:
        trainer(wd, 20, bad=12)  # resumes at 10; step 13 sees the inf
    message = str(info.value)
    assert "at step 13" in message, message
    assert re.search(r"last good checkpoint: step 10, kept intact at .*checkpoints(-meta)?/10", message), message
    ckpt = Checkpoints(str(wd))
    try:
        assert ckpt.latest_step() == 10  # nothing was saved after the divergence
        kept = ckpt.restore(trainer.initial_state())
    finally:
        ckpt.close()
    for x, y in zip(jax.tree.leaves(good), jax.tree.leaves(kept), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_skip_nonfinite_counts_skipped_steps_across_resumption(tmp_path, trainer):
    wd = tmp_path / "wd"
    trainer(wd, 10, bad=7, skip=True)
    with open(wd / "metrics.jsonl", "a") as f:
        f.write('{"step": 15, "lo')  # a line cut short by a kill
    state = trainer(wd, 20, bad=7, skip=True)
    assert int(state.step) == 20
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(state.params))
    with open(wd / "metrics.jsonl") as f:
        lines = [json.loads(line) for line in f]
    assert [r["step"] for r in lines] == [5, 8, 10, 15, 20]
    assert not np.isfinite(lines[1]["loss"]) and all(np.isfinite(r["loss"]) for i, r in enumerate(lines) if i != 1)
    assert [r["skipped_steps"] for r in lines] == [0, 1, 1, 1, 1]


def _quadratic_step(skip, loss="square"):
    """A train step on params {'w': [2]} with loss mean((w - x)^2) (or a sqrt whose gradient is inf
    at w = x) and SGD(0.1), so a step's update is known in closed form."""
    import optax

    def loss_builder(_):
        if loss == "square":
            return lambda p, key, x: jnp.mean((p["w"] - x) ** 2)
        return lambda p, key, x: jnp.mean(jnp.sqrt(jnp.abs(p["w"] - x)))

    optimizer = optax.sgd(0.1)
    step_fn = jax.jit(make_train_step(loss_builder, optimizer, ema_rate=0.5, skip_nonfinite=skip))
    params = {"w": jnp.array([1.0, -1.0])}
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params),
                       ema_params=jax.tree.map(jnp.copy, params), key=jax.random.PRNGKey(0))
    return step_fn, state


def test_skipped_step_changes_nothing_but_the_counter():
    good = jnp.array([[[0.0, 0.0]], [[2.0, 2.0]]])  # batches [n=2, B=1, 2]
    bad = jnp.array([[[0.0, 0.0]], [[jnp.inf, 0.0]], [[2.0, 2.0]]])
    step_fn, state = _quadratic_step(skip=True)
    skipped, losses = step_fn(state, bad)
    assert int(skipped.step) == 3 and not np.isfinite(losses[1]) and np.all(np.isfinite(np.asarray(losses)[[0, 2]]))
    # By hand: w1 = w0 - 0.1 * (w0 - x0), w2 = w1 - 0.1 * (w1 - x2); EMA at rate 0.5 over w1, w2.
    w0, x0, x2 = np.array([1.0, -1.0]), np.zeros(2), np.full(2, 2.0)
    w1 = w0 - 0.1 * (w0 - x0)
    w2 = w1 - 0.1 * (w1 - x2)
    ema = 0.5 * (0.5 * w0 + 0.5 * w1) + 0.5 * w2
    np.testing.assert_allclose(skipped.params["w"], w2, rtol=1e-6)
    np.testing.assert_allclose(skipped.ema_params["w"], ema, rtol=1e-6)
    reference, _ = step_fn(state, good)  # the same two good batches without the bad one between
    np.testing.assert_allclose(skipped.params["w"], reference.params["w"], rtol=1e-6)
    # Without skipping the bad step poisons the parameters.
    poisoned, _ = _quadratic_step(skip=False)[0](state, bad)
    assert not np.all(np.isfinite(poisoned.params["w"]))


def test_infinite_gradient_with_finite_loss_is_reported_as_nan():
    step_fn, state = _quadratic_step(skip=False, loss="sqrt")
    _, losses = step_fn(state, jnp.array([[[1.0, 0.0]]]))  # w0 = x in the first coordinate: inf slope
    assert np.isnan(losses[0])
    step_fn, state = _quadratic_step(skip=True, loss="sqrt")
    kept, _ = step_fn(state, jnp.array([[[1.0, 0.0]]]))
    np.testing.assert_array_equal(kept.params["w"], state.params["w"])


# ----- mismatched checkpoints --------------------------------------------------------------------
def _abstract_state(exp):
    """The train state's shapes, traced without computing (a mismatch is found from shapes alone)."""
    return jax.eval_shape(lambda: run.initial_state(exp))


def test_mismatched_checkpoint_lists_the_differing_shapes(tmp_path, trainer):
    ckpt = Checkpoints(str(tmp_path / "wd"))
    try:
        ckpt.save(trainer.initial_state(), snapshot=False)  # width 32, one residual block
        with pytest.raises(ValueError) as info:
            ckpt.restore(_abstract_state(_tiny_exp(5, model__width=48)))
        message = str(info.value)
        assert "does not match the model built from the config" in message
        # the default MLP reads x and its input Fourier features (sin and cos of each): 2 + 2 * n inputs
        n_in = 2 + 2 * default_toy.get_config().model.input_fourier
        assert f"params/Dense_0/kernel: checkpoint ({n_in}, 32) vs config ({n_in}, 48)" in message, message
        assert "params/Dense_0/bias: checkpoint (32,) vs config (48,)" in message, message
        with pytest.raises(ValueError, match=r"missing from the checkpoint: params/Dense_5/"):
            ckpt.restore(_abstract_state(_tiny_exp(5, model__num_blocks=2)))
    finally:
        ckpt.close()


# ----- SIGTERM / SIGINT: a pre-emption checkpoint of the current step --------------------------
def _signal_when_training(proc, wd, signum, after_step):
    """Sends `signum` once metrics.jsonl logs a step beyond `after_step`; returns the exit status."""
    def progressed(_):
        try:
            with open(os.path.join(wd, "metrics.jsonl")) as f:
                steps = [json.loads(line)["step"] for line in f if line.endswith("\n")]
        except (FileNotFoundError, ValueError):
            return False
        return bool(steps) and max(steps) > after_step + 10

    assert _wait_for(progressed, proc, timeout=300), "the run ended before the signal"
    proc.send_signal(signum)
    return proc.wait(timeout=120)


def _stopped_at(log_path, name):
    text = log_path.read_text(errors="replace")
    lines = [line for line in text.splitlines() if "stopped by" in line]
    assert len(lines) == 1, text[-2000:]
    found = re.fullmatch(rf"stopped by {name}: saved the pre-emption checkpoint of step (\d+) at (.*); "
                         r"run the same command to resume", lines[0])
    assert found, lines[0]
    assert "Traceback" not in text and "\r" not in text  # a log file gets whole lines, no bar redraws
    assert re.search(r"^train: \d+/1000000 \(", text, re.M), text[-2000:]
    return int(found.group(1)), found.group(2)


def test_sigterm_and_sigint_save_the_current_step_and_resume_exactly(tmp_path, capfd):
    """SIGTERM, then (after resuming) SIGINT: exit 143 / 130 with one line naming the saved step, whose
    state equals an uninterrupted run's to that step bit for bit; a second `train` meanwhile stops
    with exit 2 naming the first one's pid."""
    config = tmp_path / "tiny.py"
    config.write_text(TINY_CONFIG)
    forever = ["--config.training.n_iters=1000000", "--config.training.snapshot_freq=1000000",
               "--config.training.snapshot_freq_for_preemption=1000000"]  # no periodic checkpoint
    wd = tmp_path / "wd"
    with open(tmp_path / "term.log", "w") as log:
        proc = _start(config, wd, log, extra=forever)
        assert _wait_for(lambda _: os.path.exists(wd / "metrics.jsonl"), proc, timeout=300)
        capfd.readouterr()
        code = main.main(["main.py", f"--config={config}", *forever, f"--workdir={wd}", "--mode=train"])
        err = capfd.readouterr().err  # a second train, from this process: refused at once
        assert code == 2 and err.startswith(f"error: workdir {wd} is in use: pid {proc.pid} is training there"), err
        assert err.count("\n") == 1
        assert _signal_when_training(proc, wd, signal.SIGTERM, 0) == 143
    first, path = _stopped_at(tmp_path / "term.log", "SIGTERM")
    assert first % 5 == 0 and path == str(wd / "checkpoints-meta" / str(first)) and os.path.isdir(path)

    with open(tmp_path / "int.log", "w") as log:
        proc = _start(config, wd, log, extra=forever)
        assert _signal_when_training(proc, wd, signal.SIGINT, first) == 130
    assert _resumed_from(tmp_path / "int.log") == first
    second_stop, _ = _stopped_at(tmp_path / "int.log", "SIGINT")
    assert second_stop > first and os.listdir(wd / "checkpoints-meta") == [str(second_stop)]
    steps = [s for s, _ in _metrics(wd)]
    assert steps == list(range(5, second_stop + 1, 5))  # each logged step once

    _TARGET[0] = jax.tree.map(ocp.utils.to_shape_dtype_struct, run.initial_state(_tiny_exp(5)))
    interrupted = _finalized_steps(wd)[second_stop]
    exp = dataclasses.replace(_tiny_exp(second_stop), snapshot_freq=second_stop, preemption_freq=second_stop)
    uninterrupted = run.train(exp, str(tmp_path / "ref"), progress=False)  # one checkpoint, at the end
    print(f"stopped at steps {first} (SIGTERM) and {second_stop} (SIGINT)")
    for x, y in zip(jax.tree.leaves(uninterrupted), jax.tree.leaves(interrupted), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ----- a corrupt newest checkpoint --------------------------------------------------------------
def _spoil(checkpoint_dir, how):
    if how == "truncated":  # the largest array file, cut in half
        files = [os.path.join(b, f) for b, _, names in os.walk(checkpoint_dir) for f in names]
        biggest = max(files, key=os.path.getsize)
        with open(biggest, "r+b") as f:
            f.truncate(os.path.getsize(biggest) // 2)
    else:  # the item's metadata file is gone
        os.remove(os.path.join(checkpoint_dir, "default", "_METADATA"))


@pytest.mark.parametrize("how", ["truncated", "missing_metadata"])
def test_corrupt_newest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, trainer, capfd, how):
    never = 10**9  # no poisoned batch
    wd = tmp_path / "wd"
    trainer(wd, 20, bad=never)  # checkpoints/20 (snapshot at the end) and checkpoints-meta/15
    assert sorted(os.listdir(wd / "checkpoints-meta")) == ["15"]
    _spoil(wd / "checkpoints" / "20", how)
    capfd.readouterr()
    resumed = trainer(wd, 30, bad=never)
    err = capfd.readouterr().err
    assert re.search(rf"checkpoint {re.escape(str(wd))}/checkpoints/20 is unreadable \(.+\); moved it to "
                     rf"{re.escape(str(wd))}/checkpoints/corrupt/20; falling back to step 15", err), err
    assert sorted(os.listdir(wd / "checkpoints")) == ["30", "corrupt"]
    reference = trainer(tmp_path / "ref", 30, bad=never)
    for x, y in zip(jax.tree.leaves(reference), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
