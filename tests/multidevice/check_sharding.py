"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=4 (tests/test_multidevice.py does):
training, sampling and likelihood on 4 devices give what they give on 1."""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import parallel
import samplers
from configs import default_toy
from configs.builders import build_experiment
from modes import run
from sde_lib import VESDE, VPSDE, GaussianMixture

assert jax.device_count() == 4, jax.devices()


def close(a, b, what, rtol=1e-5, atol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol, err_msg=what)
    print("ok:", what)


def train_two_calls(exp, mesh):
    state, shardings = run.placed_initial_state(exp, mesh)
    step_fn = run.build_train_step(exp, mesh, shardings)
    batches = run.get_batches(exp, mesh)
    losses = []
    for step in (0, exp.n_jitted_steps):
        state, loss = step_fn(state, batches(step, exp.n_jitted_steps))
        losses.append(loss)
    return state, jnp.concatenate(losses)


def check_training():
    c = default_toy.get_config()
    c.training.batch_size = 32
    c.training.n_jitted_steps = 4  # divides n_iters and every frequency (configs/validate.py checks)
    c.model.width = 64
    c.model.num_blocks = 1
    c.model.nf = 16
    exp = build_experiment(c)
    one = train_two_calls(exp, parallel.make_mesh(1))
    four = train_two_calls(exp, parallel.make_mesh(4))
    assert len(four[0].params["Dense_0"]["kernel"].sharding.device_set) == 4
    close(one, four, "training step: loss and state, 4 devices vs 1")
    c.training.fsdp = True
    fsdp = train_two_calls(build_experiment(c), parallel.make_mesh(4))
    close(one, fsdp, "training step with FSDP-sharded state, 4 devices vs 1")
    try:
        run.build_train_step(exp.__class__(**{**exp.__dict__, "batch_size": 30}), parallel.make_mesh(4), None)
    except ValueError as e:
        assert "training.batch_size=30" in str(e) and "4" in str(e), e
        print("ok: indivisible batch is named:", e)
    else:
        raise AssertionError("batch_size=30 on 4 devices was accepted")


def sample_on(mesh, sample_fn, score_fn, key):
    fn = jax.jit(lambda k: sample_fn(k, score_fn),
                 out_shardings=(parallel.data_sharding(mesh), None))
    with jax.sharding.use_mesh(mesh) if hasattr(jax.sharding, "use_mesh") else mesh:
        return fn(key)


def check_samplers():
    gm = GaussianMixture.isotropic([[2.0, 0.0], [-2.0, 1.0]], 0.4)
    vp, ve = VPSDE(N=20), VESDE(sigma_max=8.0, N=20)
    for sde, method, options in [
        (ve, "pc", dict(predictor="reverse_diffusion", corrector="langevin")),  # global-batch Langevin norms
        (vp, "ode", dict(rtol=1e-4, atol=1e-4)),
        (vp, "dpmpp_2m", dict(nfe=8)),
        (ve, "unipc", dict(nfe=6, order=3)),
        (ve, "edm_stochastic", dict(nfe=9, s_churn=5.0)),
        (ve, "adaptive_sde", dict()),
    ]:
        sample_fn = samplers.get_sampler(sde, (16, 2), method, **options)
        key = jax.random.PRNGKey(7)
        one = sample_on(parallel.make_mesh(1), sample_fn, gm.score_fn(sde), key)
        four = sample_on(parallel.make_mesh(4), sample_fn, gm.score_fn(sde), key)
        close(one, four, f"{method} on {type(sde).__name__}, 4 devices vs 1", rtol=1e-4, atol=1e-4)
    score_fn = gm.score_fn(vp)
    lik = samplers.get_likelihood_fn(vp, trace="rademacher")
    x = parallel.put(np.asarray(gm.sample(jax.random.PRNGKey(1), 16)), parallel.data_sharding(parallel.make_mesh(4)))
    four = jax.jit(lambda k, x: lik(k, score_fn, x))(jax.random.PRNGKey(2), x)
    one = jax.jit(lambda k, x: lik(k, score_fn, x))(jax.random.PRNGKey(2), np.asarray(x))
    # logp and z agree to float tolerance; the adaptive step count of a sample may flip by a
    # rejected step when rounding differs, so NFE is compared on average.
    close(one[:2], four[:2], "likelihood on VPSDE, 4 devices vs 1", rtol=1e-4, atol=1e-4)
    assert abs(float(jnp.mean(one[2])) - float(jnp.mean(four[2]))) < 0.1 * float(jnp.mean(one[2]))


def check_evaluation():
    """--mode eval's metrics from one checkpoint, on 1 device and on 4."""
    import dataclasses
    import shutil
    import tempfile

    from modes.evaluate import EvalOptions, evaluate

    c = default_toy.get_config()
    c.training.n_iters = 8
    c.training.batch_size = 16
    c.training.n_jitted_steps = 4
    c.training.log_freq = 4
    c.training.snapshot_freq = 8
    c.training.snapshot_freq_for_preemption = 4
    c.training.snapshot_sampling = False
    c.model.width = 32
    c.model.num_blocks = 1
    c.model.nf = 16
    c.sde.num_scales = 10
    exp = build_experiment(c)
    options = EvalOptions(batch_size=16, loss_batches=1, likelihood_batches=1, likelihood_rtol=1e-3,
                          likelihood_atol=1e-3, num_samples=16, rounds=2)
    with tempfile.TemporaryDirectory() as root:
        one_dir, four_dir = f"{root}/one", f"{root}/four"
        run.train(dataclasses.replace(exp, num_devices=1), one_dir, progress=False)
        shutil.copytree(one_dir, four_dir)
        one = evaluate(dataclasses.replace(exp, num_devices=1), one_dir, options)[0]
        four = evaluate(dataclasses.replace(exp, num_devices=4), four_dir, options)[0]
    for key in ("test_loss", "nats_per_dim", "sliced_wasserstein", "frechet"):
        np.testing.assert_allclose(one[key], four[key], rtol=1e-3, atol=1e-4, err_msg=key)
    print("ok: evaluation metrics, 4 devices vs 1")


if __name__ == "__main__":
    for check in (check_training, check_samplers, check_evaluation):
        start = time.perf_counter()
        check()
        print(f"{check.__name__}: {time.perf_counter() - start:.1f} s")
    print("all multi-device checks passed")
    sys.exit(0)
