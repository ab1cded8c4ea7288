"""Training-time image transforms, pure and jittable: scaling, dequantization, centring, flips.

Loaders return raw 8-bit intensities in [0, 255]. `preprocess` maps them to the model's range:
[0, 1] by x / 255, or with uniform dequantization (Theis et al., 2016; used for the likelihoods
of Song et al., 2021, app. D) by (x + u) / 256, u ~ U[0, 1)^d, which turns the discrete data into
a density on [0, 1]^d; then [-1, 1] by 2x - 1 when `centered`. Random horizontal flips act per
example along W. Vectors (toy data, [B, D]) pass through unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def preprocess(
    key: Array | None, x: Array, *, uniform_dequantization: bool = False, centered: bool = True,
    random_flip: bool = False,
) -> Array:
    """Images [B, H, W, C] in [0, 255] -> [-1, 1] (centered) or [0, 1]; vectors [B, D] unchanged.

    `key` (split once, into dequantization and flip keys) may be None only when neither
    `uniform_dequantization` nor `random_flip` is asked for.
    """
    x = jnp.asarray(x)
    if x.ndim == 2:
        return x
    if x.ndim != 4:
        raise ValueError(f"x must be images [B, H, W, C] or vectors [B, D], got x.shape={x.shape}")
    if key is None and (uniform_dequantization or random_flip):
        raise ValueError(
            f"a key is needed for {uniform_dequantization=} or {random_flip=}, got key=None"
        )
    x = x.astype(jnp.float32)
    if key is not None:
        k_deq, k_flip = jax.random.split(key)
    if random_flip:
        flip = jax.random.bernoulli(k_flip, 0.5, x.shape[:1])
        x = jnp.where(flip[:, None, None, None], x[:, :, ::-1, :], x)
    if uniform_dequantization:
        x = (x + jax.random.uniform(k_deq, x.shape)) / 256.0
    else:
        x = x / 255.0
    return 2.0 * x - 1.0 if centered else x


def postprocess(x: Array, centered: bool = True) -> Array:
    """The model's images back to [0, 1] for pictures (clipped)."""
    x = jnp.asarray(x)
    return jnp.clip((x + 1.0) / 2.0 if centered else x, 0.0, 1.0)
