"""The train state, the optimizer and the jitted multi-step update."""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax

from common import checks
from sde_lib.base import Array


@flax.struct.dataclass
class TrainState:
    step: Array  # int32 scalar: optimizer steps taken
    params: Any
    opt_state: Any
    ema_params: Any
    key: Array  # the run's base key; step k uses fold_in(key, k)


SCHEDULES = ("constant", "cosine", "linear")


def lr_schedule(*, lr: float, warmup: int = 0, decay: str = "constant", total_steps: int | None = None,
                final_lr: float = 0.0) -> optax.Schedule:
    """The learning rate at optimizer step n: a linear warm-up from 0 to `lr` over `warmup` steps,
    then `lr` ("constant"), or a decay to `final_lr` at `total_steps` ("cosine": half a cosine
    period, Loshchilov & Hutter 2017; "linear"), constant at `final_lr` afterwards (a run no longer
    than its warm-up never decays)."""
    checks.positive("lr", lr)
    checks.nonneg_int("warmup", warmup)
    checks.choice("decay", decay, SCHEDULES)
    if decay == "constant":
        return optax.linear_schedule(0.0, lr, warmup) if warmup > 0 else optax.constant_schedule(lr)
    checks.positive_int("total_steps", total_steps)
    checks.number("final_lr", final_lr, low=0, high=lr)
    span = max(total_steps - warmup, 1)
    if decay == "cosine":
        after = optax.cosine_decay_schedule(lr, span, alpha=final_lr / lr)
    else:
        after = optax.linear_schedule(lr, final_lr, span)
    if warmup == 0:
        return after
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), after], [warmup])


def get_optimizer(*, lr: float, warmup: int = 0, grad_clip: float = -1.0, beta1: float = 0.9,
                  eps: float = 1e-8, weight_decay: float = 0.0, decay: str = "constant",
                  total_steps: int | None = None, final_lr: float = 0.0) -> optax.GradientTransformation:
    """Adam with the learning rate of `lr_schedule` and global-norm gradient clipping (grad_clip < 0: none);
    `eps` is Adam's epsilon (optax's name, the config's optim.eps)."""
    checks.fraction("beta1", beta1)
    checks.positive("eps", eps)
    checks.number("weight_decay", weight_decay, low=0)
    checks.number("grad_clip", grad_clip)
    schedule = lr_schedule(lr=lr, warmup=warmup, decay=decay, total_steps=total_steps, final_lr=final_lr)
    if decay == "constant" and warmup == 0:
        schedule = lr  # a plain float keeps the optimizer state of earlier checkpoints
    adam = optax.adamw(schedule, b1=beta1, eps=eps, weight_decay=weight_decay) if weight_decay else optax.adam(
        schedule, b1=beta1, eps=eps)
    return optax.chain(optax.clip_by_global_norm(grad_clip), adam) if grad_clip >= 0 else adam


def ema_decay(step: Array, ema_rate: float, warmup: bool) -> Array | float:
    """The EMA's decay at the update that follows `step` optimizer steps: `ema_rate`, or with
    `warmup` min(ema_rate, (1 + n) / (10 + n)), so that early averages forget the initialisation."""
    if not warmup:
        return ema_rate
    n = jnp.asarray(step, jnp.float32)
    return jnp.minimum(jnp.float32(ema_rate), (1.0 + n) / (10.0 + n))


def init_train_state(key: Array, params, optimizer: optax.GradientTransformation) -> TrainState:
    # The EMA starts as a copy: donated buffers must not be shared between leaves.
    ema = jax.tree.map(lambda p: jnp.array(p, copy=True), params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params),
                      ema_params=ema, key=key)


def make_train_step(
    loss_builder: Callable[[Array], Callable],
    optimizer: optax.GradientTransformation,
    *,
    ema_rate: float,
    ema_warmup: bool = False,
    preprocess: Callable[[Array, Array], Array] = lambda key, x: x,
    skip_nonfinite: bool = False,
):
    """`step_fn(state, batches [n, B, ...]) -> (state, losses [n])`: n optimizer steps in one `lax.scan`.

    `loss_builder(dropout_key)` returns `loss_fn(params, key, batch)`; `preprocess(key, raw_batch)` runs
    inside the step (dequantisation, flips). Step k draws all its randomness from fold_in(state.key, k),
    so a resumed run repeats an uninterrupted one exactly. Jit it with `donate_argnums=0`.

    A step whose loss or gradient is not finite reports a non-finite loss (NaN when only the gradient
    is), so the caller sees every bad update. With `skip_nonfinite` such a step changes nothing but the
    step counter: parameters, optimizer state and EMA keep their values. With `ema_warmup` the EMA's
    decay ramps up as `ema_decay` says.
    """
    checks.fraction("ema_rate", ema_rate)

    def one_step(state: TrainState, raw_batch):
        k_pre, k_loss, k_drop = jax.random.split(jax.random.fold_in(state.key, state.step), 3)
        batch = preprocess(k_pre, raw_batch)
        loss, grads = jax.value_and_grad(loss_builder(k_drop))(state.params, k_loss, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        decay = ema_decay(state.step, ema_rate, ema_warmup)
        ema = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, state.ema_params, params)
        grads_finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]))
        if skip_nonfinite:
            ok = grads_finite & jnp.isfinite(loss)
            params, opt_state, ema = jax.tree.map(lambda new, old: jnp.where(ok, new, old), (params, opt_state, ema),
                                                  (state.params, state.opt_state, state.ema_params))
        loss = jnp.where(grads_finite | ~jnp.isfinite(loss), loss, jnp.nan)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema), loss

    def step_fn(state: TrainState, batches):
        if batches.shape[0] == 1:
            # No loop for one step: XLA:CPU runs a U-Net's backward convolutions ~25x slower
            # inside a loop body than outside one (so configs for CPU use n_jitted_steps=1).
            state, loss = one_step(state, batches[0])
            return state, loss[None]
        return jax.lax.scan(one_step, state, batches)

    return step_fn
