"""A time-dependent, noise-conditional classifier p_t(y | x_t) for class-conditional sampling.

Song et al. (ICLR 2021), Sec. 5 and App. I.1: to sample from p_0(x | y) the reverse SDE uses the
conditional score

    grad_x log p_t(x | y) = grad_x log p_t(x) + grad_x log p_t(y | x),

where the second term comes from a classifier trained on perturbed data x_t = alpha(t) x_0 +
sigma(t) z with t ~ U(t_min, T) and the cross-entropy loss (Dhariwal & Nichol 2021 call this
classifier guidance). The paper's classifier is a noise-conditional Wide ResNet; here it is a
small CNN (an MLP for vector data).

The classifier is told the noise level as the log-SNR lambda(t) = log(alpha / sigma), which
spans a similar range for every SDE, and sees its input scaled by c_in(t) = 1 / sqrt(alpha^2 +
sigma^2) (the input scaling of Karras et al. 2022), so that x_t stays of unit scale whether
the SDE preserves variance (VP) or explodes it (VE). Both come from questions asked of the SDE.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import data
from common import checks
from data.preprocess import preprocess
from evaluation.features import load_params, save_params
from sde_lib import SDE, batch_mul
from sde_lib.base import Array

# classifier_grad_fn(x [B, ...], t [B], labels [B]) -> grad_x log p_t(labels | x), [B, ...]
ClassifierGradFn = Callable[[Array, Array, Array], Array]


def log_snr_embedding(lam: Array, dim: int, max_log_snr: float = 16.0) -> Array:
    """Sinusoidal features of the log-SNR, [B] -> [B, dim]: sin and cos of lam * f_k with
    frequencies f_k geometric from pi / (2 max_log_snr) (one half period over the whole range)
    to 8 pi / max_log_snr (Vaswani et al. 2017; Ho et al. 2020, on the log-SNR instead of the step)."""
    freqs = (math.pi / (2 * max_log_snr)) * jnp.geomspace(1.0, 16.0, dim // 2)
    args = lam[:, None] * freqs[None, :]
    return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)


class NoisyClassifier(nn.Module):
    """Logits [B, num_classes] of p_t(y | x_t) from x [B, H, W, C] (CNN) or [B, D] (MLP) and the
    log-SNR `cond` [B]. The noise embedding is added to every hidden layer's activations."""

    num_classes: int
    width: int = 32
    embed_dim: int = 64

    @nn.compact
    def __call__(self, x: Array, cond: Array) -> Array:
        emb = nn.silu(nn.Dense(self.embed_dim)(log_snr_embedding(cond, self.embed_dim)))
        if x.ndim == 2:
            h = x
            for _ in range(3):
                h = nn.Dense(4 * self.width)(h) + nn.Dense(4 * self.width)(emb)
                h = nn.silu(h)
            return nn.Dense(self.num_classes)(h)
        if x.ndim != 4:
            raise ValueError(f"x must be images [B, H, W, C] or vectors [B, D], got x.shape={x.shape}")
        stride = max(1, x.shape[1] // 8)  # every image size ends on the same 4x4 grid
        h = x
        layers = [(self.width, stride), (2 * self.width, 1), (2 * self.width, 1)]
        for i, (features, strides) in enumerate(layers):
            if i == 2:
                h = nn.avg_pool(h, (2, 2), (2, 2))
            h = nn.Conv(features, (3, 3), strides=strides)(h)
            h = h + nn.Dense(features)(emb)[:, None, None, :]
            h = nn.silu(nn.GroupNorm(num_groups=8)(h))
        h = nn.silu(nn.Dense(4 * self.width)(h.reshape(h.shape[0], -1)) + nn.Dense(4 * self.width)(emb))
        return nn.Dense(self.num_classes)(h)


def classifier_logits(sde: SDE, model: nn.Module, params, x: Array, t: Array) -> Array:
    """Logits of p_t(y | x_t) at times t [B]: the model sees c_in(t) x_t and lambda(t)."""
    c_in = jax.lax.rsqrt(sde.alpha(t) ** 2 + sde.sigma(t) ** 2)
    return model.apply({"params": params}, batch_mul(c_in, x), sde.log_snr(t))


def get_classifier_grad_fn(sde: SDE, model: nn.Module, params) -> ClassifierGradFn:
    """`classifier_grad_fn(x, t, labels)` = grad_x log softmax(logits(x, t))[labels], one per sample
    (the samples do not interact, so the gradient of the batch sum is the per-sample gradient).
    Pure and jittable; `labels` is int [B]."""

    def classifier_grad_fn(x: Array, t: Array, labels: Array) -> Array:
        def total_log_prob(x):
            log_p = jax.nn.log_softmax(classifier_logits(sde, model, params, x, t))
            return jnp.sum(jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=1))

        return jax.grad(total_log_prob)(x)

    return classifier_grad_fn


def get_classifier_loss_fn(sde: SDE, model: nn.Module, *, t_min: float = 1e-5):
    """`loss_fn(params, key, x0, y)`: mean cross-entropy of the classifier on x_t = alpha(t) x0 +
    sigma(t) z, t ~ U(t_min, T), z ~ N(0, I) (Song et al. 2021, App. I.1)."""
    if not 0 < checks.number("t_min", t_min) < sde.T:
        raise checks.ArgumentError("t_min", t_min, f"in (0, T={sde.T})")

    def loss_fn(params, key, x0, y):
        k_t, k_z = jax.random.split(key)
        t = jax.random.uniform(k_t, x0.shape[:1], minval=t_min, maxval=sde.T)
        mean, std = sde.marginal_prob(x0, t)
        x_t = mean + batch_mul(std, jax.random.normal(k_z, x0.shape))
        logits = classifier_logits(sde, model, params, x_t, t)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return loss_fn


def train_noise_conditional_classifier(
    sde: SDE, dataset, *, steps: int, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
    model: nn.Module | None = None, t_min: float = 1e-5, centered: bool = True,
):
    """Trains `model` (default `NoisyClassifier(num_classes=dataset.num_classes)`) on `dataset`'s
    labelled examples, perturbed by `sde`, with AdamW under a cosine schedule. Images are mapped by
    `data.preprocess(centered=centered)` to the score model's data space; vectors are used as
    they are. key(seed) splits once into the init key and the training key k; step i uses
    batch (seed, i) and fold_in(k, i). Returns params."""
    if dataset.num_classes is None:
        raise ValueError(f"dataset must be labelled, got {dataset.name!r} with num_classes=None")
    checks.positive_int("steps", steps)
    checks.positive_int("batch_size", batch_size)
    model = NoisyClassifier(num_classes=dataset.num_classes) if model is None else model
    loss_fn = get_classifier_loss_fn(sde, model, t_min=t_min)
    k_init, k_train = jax.random.split(jax.random.key(seed))
    params = jax.jit(model.init)(k_init, jnp.zeros((1, *dataset.shape)), jnp.zeros((1,)))["params"]
    tx = optax.adamw(optax.cosine_decay_schedule(lr, steps), weight_decay=1e-4)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, key, x, y):
        x0 = preprocess(None, x, centered=centered)
        grads = jax.grad(loss_fn)(params, key, x0, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for i in range(steps):
        x, y = dataset.train_batch(seed, i, batch_size)
        params, opt_state = step(params, opt_state, jax.random.fold_in(k_train, i), x, y)
    return params


def noisy_classifier_path(
    workdir, sde: SDE, *, image_size: int, centered: bool, seed: int, steps: int
) -> Path:
    """The cache file of a noisy digits classifier: one per SDE (named by a hash of its repr,
    which lists all its fields), image size, data space, seed and step count."""
    tag = hashlib.sha1(repr(sde).encode()).hexdigest()[:10]
    name = f"digits_{image_size}px_{type(sde).__name__}_{tag}_c{int(centered)}_seed{seed}_steps{steps}.npz"
    return Path(workdir) / "noisy_classifier" / name


def noisy_digits_classifier(
    sde: SDE, workdir, *, image_size: int = 8, centered: bool = True, steps: int = 2000,
    batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
) -> tuple[NoisyClassifier, object, Path]:
    """The noise-conditional digits classifier for `sde`, trained on the first call and cached as
    `workdir/noisy_classifier/digits_{image_size}px_{sde hash}_...npz` (an .npz of named arrays,
    read without pickle). Returns (model, params, path); `get_classifier_grad_fn(sde, model, params)`
    gives the guidance term for `samplers.controllable`."""
    dataset = data.get_dataset("digits", image_size=image_size)
    model = NoisyClassifier(num_classes=dataset.num_classes)
    path = noisy_classifier_path(
        workdir, sde, image_size=image_size, centered=centered, seed=seed, steps=steps
    )
    if path.exists():
        x, cond = jnp.zeros((1, *dataset.shape)), jnp.zeros((1,))
        template = jax.eval_shape(model.init, jax.random.key(0), x, cond)["params"]
        params, _ = load_params(path, template)
    else:
        params = train_noise_conditional_classifier(
            sde, dataset, steps=steps, batch_size=batch_size, lr=lr, seed=seed, model=model, centered=centered
        )
        save_params(path, params, image_size=image_size, seed=seed, steps=steps, sde=repr(sde))
    return model, params, path
