"""Basic layers shared by the score networks: initialisers, convolutions, activations, group
normalisation, self-attention and the noise-level embeddings.

Ported to flax.linen from the paper's code (Song et al., ICLR 2021, `models/layers.py` and
`models/layerspp.py`), which follows the DDPM code of Ho et al. (2020). Data layout is NHWC.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import checks

Array = jax.Array

ACTIVATIONS = {
    "swish": nn.swish,
    "elu": nn.elu,
    "relu": nn.relu,
    "lrelu": lambda x: nn.leaky_relu(x, negative_slope=0.2),
}

EMBEDDINGS = ("fourier", "positional")


def get_act(nonlinearity: str):
    """The activation function called `nonlinearity` (swish, elu, relu, lrelu)."""
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[nonlinearity]


def default_init(scale: float = 1.0):
    """The DDPM initialiser: variance scaling, fan_avg, uniform. Scale 0 is taken as 1e-10, so that
    layers initialised "at zero" still have a gradient direction (as in the paper's code)."""
    scale = 1e-10 if scale == 0 else scale
    return jax.nn.initializers.variance_scaling(scale, "fan_avg", "uniform")


def conv3x3(x: Array, out_ch: int, *, stride: int = 1, bias: bool = True, init_scale: float = 1.0) -> Array:
    """3x3 convolution, 'SAME' padding, DDPM initialisation. Only inside `nn.compact` methods."""
    return nn.Conv(
        out_ch, kernel_size=(3, 3), strides=(stride, stride), padding="SAME", use_bias=bias,
        kernel_init=default_init(init_scale), bias_init=jax.nn.initializers.zeros,
    )(x)


def conv1x1(x: Array, out_ch: int, *, bias: bool = True, init_scale: float = 1.0) -> Array:
    """1x1 convolution with DDPM initialisation. Only inside `nn.compact` methods."""
    return nn.Conv(
        out_ch, kernel_size=(1, 1), padding="SAME", use_bias=bias,
        kernel_init=default_init(init_scale), bias_init=jax.nn.initializers.zeros,
    )(x)


def dense(x: Array, out: int, *, init_scale: float = 1.0) -> Array:
    """A dense layer on the last axis (the paper's `NIN`) with DDPM initialisation."""
    return nn.Dense(out, kernel_init=default_init(init_scale), bias_init=jax.nn.initializers.zeros)(x)


def group_norm(x: Array, num_groups: int | None = None) -> Array:
    """GroupNorm with `num_groups` groups; None: min(C // 4, 32), the paper's NCSN++ / DDPM++ rule
    (32 groups at its widths, C >= 128, and still defined for the narrow networks of tests). The
    paper's DDPM port uses a fixed 32. Only inside `nn.compact` methods."""
    if num_groups is None:
        num_groups = max(min(x.shape[-1] // 4, 32), 1)
    elif x.shape[-1] % num_groups:
        raise ValueError(f"GroupNorm needs channels divisible by num_groups, got C={x.shape[-1]}, {num_groups=}")
    return nn.GroupNorm(num_groups=num_groups)(x)


def sinusoidal_embedding(timesteps: Array, embedding_dim: int, max_positions: int = 10000) -> Array:
    """The sinusoidal timestep embedding of DDPM / Transformers, [B] -> [B, embedding_dim]:

        emb[:, i] = sin(t w_i),  emb[:, half + i] = cos(t w_i),  w_i = max_positions^(-i / (half - 1)),

    with half = embedding_dim // 2 (zero-padded by one column if embedding_dim is odd).
    """
    if embedding_dim < 4:
        raise ValueError(f"embedding_dim must be >= 4, got {embedding_dim=}")
    if timesteps.ndim != 1:
        raise ValueError(f"timesteps must have shape [B], got timesteps.shape={timesteps.shape}")
    half = embedding_dim // 2
    freqs = jnp.exp(-math.log(max_positions) / (half - 1) * jnp.arange(half, dtype=jnp.float32))
    args = timesteps.astype(jnp.float32)[:, None] * freqs[None, :]
    emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)
    if embedding_dim % 2 == 1:
        emb = jnp.pad(emb, [(0, 0), (0, 1)])
    return emb


class GaussianFourierProjection(nn.Module):
    """Random Fourier features (Tancik et al. 2020; Song et al. 2021, App. H.1), [B] -> [B, 2 size]:

        [sin(2 pi x W), cos(2 pi x W)],  W ~ N(0, scale^2 I) drawn once and never trained.

    `W` is stored as a parameter (as in the paper) but sits behind `stop_gradient`.
    """

    embedding_size: int = 256
    scale: float = 1.0

    @nn.compact
    def __call__(self, x: Array) -> Array:
        w = self.param("W", jax.nn.initializers.normal(stddev=self.scale), (self.embedding_size,))
        w = jax.lax.stop_gradient(w)
        proj = x[:, None] * w[None, :] * (2 * jnp.pi)
        return jnp.concatenate([jnp.sin(proj), jnp.cos(proj)], axis=-1)


class TimeEmbedding(nn.Module):
    """The noise-level embedding of the paper's networks, [B] -> [B, 4 nf]: Gaussian Fourier
    features of log(labels) (the paper feeds log sigma for VE) or the sinusoidal embedding of the
    labels themselves (DDPM timesteps), followed by Dense(4 nf) - act - Dense(4 nf). With
    'fourier' the labels must be > 0 (sigma for VE; for VP, (N - 1) t with t >= the smallest time > 0).
    """

    nf: int
    embedding_type: str
    fourier_scale: float
    act: object

    @nn.compact
    def __call__(self, labels: Array) -> Array:
        if self.embedding_type == "fourier":
            temb = GaussianFourierProjection(embedding_size=self.nf, scale=self.fourier_scale)(jnp.log(labels))
        else:
            temb = sinusoidal_embedding(labels, self.nf)
        temb = dense(temb, 4 * self.nf)
        return dense(self.act(temb), 4 * self.nf)


class AttnBlock(nn.Module):
    """Self-attention over all pixels (DDPM, Ho et al. 2020), with NCSN++'s optional 1/sqrt(2)
    skip rescaling. q, k, v start at scale 0.1 and the output projection at `init_scale` (0: the
    block starts as the identity), as in the paper's `NIN` layers."""

    skip_rescale: bool = False
    init_scale: float = 0.0
    num_groups: int | None = None  # GroupNorm groups; None: min(C // 4, 32)

    @nn.compact
    def __call__(self, x: Array) -> Array:
        b, h, w, c = x.shape
        y = group_norm(x, self.num_groups)
        q, k, v = (dense(y, c, init_scale=0.1).reshape(b, h * w, c) for _ in range(3))
        weights = jax.nn.softmax(jnp.einsum("bic,bjc->bij", q, k) * c**-0.5, axis=-1)
        y = jnp.einsum("bij,bjc->bic", weights, v).reshape(b, h, w, c)
        y = dense(y, c, init_scale=self.init_scale)
        return (x + y) / math.sqrt(2.0) if self.skip_rescale else x + y


# ----- argument checks shared by the networks (raised when a model is constructed) ---------------
def check_unet_args(*, nf, ch_mult, num_res_blocks, dropout, nonlinearity, embedding_type) -> None:
    """The arguments every U-Net here shares."""
    checks.positive_int("nf", nf)
    if nf % 4:
        raise checks.ArgumentError("nf", nf, "a multiple of 4 (GroupNorm uses C // 4 groups)")
    if len(ch_mult) == 0:
        raise checks.ArgumentError("ch_mult", ch_mult, "non-empty")
    for i, m in enumerate(ch_mult):
        checks.positive_int(f"ch_mult[{i}]", m)
    checks.positive_int("num_res_blocks", num_res_blocks)
    checks.fraction("dropout", dropout)
    checks.choice("nonlinearity", nonlinearity, ACTIVATIONS)
    checks.choice("embedding_type", embedding_type, EMBEDDINGS)


def check_image(x: Array, num_levels: int) -> None:
    """x must be [B, H, W, C] with H and W divisible by 2^(num_levels - 1)."""
    if x.ndim != 4:
        raise ValueError(f"x must be an NHWC batch [B, H, W, C], got x.shape={x.shape}")
    f = 2 ** (num_levels - 1)
    if x.shape[1] % f or x.shape[2] % f:
        raise ValueError(f"H and W must be divisible by 2^(len(ch_mult) - 1) = {f}, got x.shape={x.shape}")


def check_labels(x: Array, labels: Array) -> None:
    if labels.shape != x.shape[:1]:
        raise ValueError(f"labels must have shape [B] = {x.shape[:1]}, got labels.shape={labels.shape}")
