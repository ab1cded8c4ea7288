"""Instance normalisation++ of NCSN (Song & Ermon, NeurIPS 2019, Sec. 4.2 and App. A).

InstanceNorm++ normalises each channel of each image (instance normalisation) and adds back the
channel means, themselves normalised across channels, so that the colour shift instance
normalisation would remove is kept:

    mu_c = mean_hw(x_c),   m, v = mean_c(mu_c), var_c(mu_c)
    out_c = gamma_c * ((x_c - mu_c) / sqrt(var_hw(x_c) + 1e-5) + alpha_c (mu_c - m) / sqrt(v + 1e-5)) + beta_c

NCSNv2 uses it with learned (alpha, gamma, beta); NCSN (v1) makes them a function of the noise
level (conditional InstanceNorm++): one embedding row of [gamma, alpha, beta] per noise level.
Class and parameter names are those of the paper's code (score_sde `models/normalization.py`),
so its checkpoints load unchanged: `InstanceNorm2dPlus_k/{alpha,gamma,beta}` of shape
(1, 1, 1, C) and `ConditionalInstanceNorm2dPlus_k/Embed_0/embedding` of shape (num_classes, 3C).
Data layout is NHWC.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

NORMALIZATIONS = ("InstanceNorm++",)
_EPS = 1e-5


def _scale_init(key, shape, dtype=jnp.float32):
    # N(1, 0.02^2): the initialisation of the paper's gamma and alpha.
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _normalise(x: Array) -> tuple[Array, Array]:
    """Instance-normalised x [B, H, W, C] and the normalised channel means [B, C]."""
    means = jnp.mean(x, axis=(1, 2))
    m = jnp.mean(means, axis=-1, keepdims=True)
    v = jnp.var(means, axis=-1, keepdims=True)
    means_plus = (means - m) / jnp.sqrt(v + _EPS)
    h = (x - means[:, None, None, :]) / jnp.sqrt(jnp.var(x, axis=(1, 2), keepdims=True) + _EPS)
    return h, means_plus


class InstanceNorm2dPlus(nn.Module):
    """InstanceNorm++ with learned per-channel alpha, gamma and (if `bias`) beta."""

    bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        h, means_plus = _normalise(x)
        h = h + means_plus[:, None, None, :] * self.param("alpha", _scale_init, (1, 1, 1, c))
        h = h * self.param("gamma", _scale_init, (1, 1, 1, c))
        if self.bias:
            h = h + self.param("beta", nn.initializers.zeros, (1, 1, 1, c))
        return h


class ConditionalInstanceNorm2dPlus(nn.Module):
    """InstanceNorm++ whose gamma, alpha (and beta) are row y of an embedding table: y [B] are
    integer noise-level indices in [0, num_classes)."""

    num_classes: int = 10
    bias: bool = True

    @nn.compact
    def __call__(self, x: Array, y: Array) -> Array:
        c = x.shape[-1]
        parts = 3 if self.bias else 2

        def init_embed(key, shape, dtype=jnp.float32):
            # gamma, alpha ~ N(1, 0.02^2); beta = 0.
            scales = _scale_init(key, (shape[0], 2 * c), dtype)
            return jnp.concatenate([scales, jnp.zeros((shape[0], shape[1] - 2 * c), dtype)], axis=-1)

        emb = nn.Embed(num_embeddings=self.num_classes, features=parts * c, embedding_init=init_embed)(y)
        h, means_plus = _normalise(x)
        gamma, alpha, *beta = jnp.split(emb, parts, axis=-1)
        h = gamma[:, None, None, :] * (h + means_plus[:, None, None, :] * alpha[:, None, None, :])
        if self.bias:
            h = h + beta[0][:, None, None, :]
        return h
