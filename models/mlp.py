"""A time-conditioned residual MLP score network for low-dimensional data (the 2-D toy sets).

The DDPM / NCSN++ recipe with dense layers in place of convolutions: the noise-level embedding of
`models.layers.TimeEmbedding`, pre-activation residual blocks that add a per-feature bias from
the embedding (or, with `time_film`, scale and shift its features), LayerNorm in place of GroupNorm.

    out = model.apply({"params": p}, x, labels, train=False, rngs={"dropout": key})

x is [B, D], labels [B] the SDE's noise labels; out is [B, D].
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import checks
from models.layers import (
    TimeEmbedding, check_labels, dense, get_act,
    ACTIVATIONS, EMBEDDINGS,
)

Array = jax.Array


class ScoreMLP(nn.Module):
    """Residual MLP: [input Fourier features,] Dense(width), `num_blocks` x [LN-act-Dense + embedding, LN-act-dropout-Dense,
    skip], then LN-act-Dense(D).

    width: hidden features. nf: width of the noise-level embedding (projected to 4 nf).
    embedding_type, fourier_scale, dropout, conditional, nonlinearity, skip_rescale, init_scale,
    centered, scale_by_sigma: as in `models.ncsnpp.NCSNpp` (scale_by_sigma default False because
    the VE SDE already divides by sigma(t); kept for parity only). input_fourier: with n > 0, the
    input x is joined by n random Fourier features [sin, cos](2 pi x W), W ~ N(0, input_fourier_scale^2)
    drawn once and never trained (Tancik et al., NeurIPS 2020): the sharp edges of 2-D densities.
    time_film: False (default): each block adds Dense(act(temb)) [width] to its features after the first
    Dense. True: that Dense gives [scale, shift] (2 width) and the block's features after its second
    LayerNorm become LN(r) (1 + scale) + shift (FiLM, Perez et al. 2018; the scale-shift norm of
    Dhariwal & Nichol 2021), so the noise level multiplies the features instead of only offsetting
    them. The parameter tree keeps its names; only that Dense's kernel and bias double in width.
    """

    width: int = 128
    num_blocks: int = 3
    nf: int = 32
    embedding_type: str = "positional"
    fourier_scale: float = 16.0
    dropout: float = 0.0
    conditional: bool = True
    nonlinearity: str = "swish"
    skip_rescale: bool = False
    init_scale: float = 0.0
    centered: bool = True
    scale_by_sigma: bool = False
    input_fourier: int = 0
    input_fourier_scale: float = 1.0
    time_film: bool = False

    def __post_init__(self):
        checks.positive_int("width", self.width)
        checks.nonneg_int("input_fourier", self.input_fourier)
        checks.positive("input_fourier_scale", self.input_fourier_scale)
        checks.positive_int("num_blocks", self.num_blocks)
        checks.integer("nf", self.nf, low=4)
        checks.choice("embedding_type", self.embedding_type, EMBEDDINGS)
        checks.choice("nonlinearity", self.nonlinearity, ACTIVATIONS)
        checks.fraction("dropout", self.dropout)
        checks.boolean("time_film", self.time_film)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: Array, labels: Array, train: bool = False) -> Array:
        if x.ndim != 2:
            raise ValueError(f"x must be [B, D], got x.shape={x.shape}")
        check_labels(x, labels)
        act = get_act(self.nonlinearity)
        temb = None
        if self.conditional:
            temb = TimeEmbedding(self.nf, self.embedding_type, self.fourier_scale, act)(labels)

        h = x if self.centered else 2.0 * x - 1.0
        if self.input_fourier:
            # Random Fourier features of the input (Tancik et al. 2020): sharp densities in few dimensions.
            w = self.param("input_W", jax.nn.initializers.normal(stddev=self.input_fourier_scale),
                           (x.shape[-1], self.input_fourier))
            proj = 2 * math.pi * h @ jax.lax.stop_gradient(w)
            h = jnp.concatenate([h, jnp.sin(proj), jnp.cos(proj)], axis=-1)
        h = dense(h, self.width)
        for _ in range(self.num_blocks):
            r = dense(act(nn.LayerNorm()(h)), self.width)
            if temb is not None and self.time_film:
                scale, shift = jnp.split(dense(act(temb), 2 * self.width), 2, axis=-1)
                r = act(nn.LayerNorm()(r) * (1.0 + scale) + shift)
            else:
                if temb is not None:
                    r = r + dense(act(temb), self.width)
                r = act(nn.LayerNorm()(r))
            r = nn.Dropout(self.dropout)(r, deterministic=not train)
            r = dense(r, self.width, init_scale=self.init_scale)
            h = (h + r) / math.sqrt(2.0) if self.skip_rescale else h + r
        out = dense(act(nn.LayerNorm()(h)), x.shape[-1], init_scale=self.init_scale)
        if self.scale_by_sigma:
            out = out / labels[:, None]
        return out
