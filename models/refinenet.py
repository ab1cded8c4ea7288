"""The RefineNet blocks of NCSN and NCSNv2 (Song & Ermon 2019, App. A; 2020, App. B), after
RefineNet (Lin et al., CVPR 2017): residual blocks with dilated convolutions for the encoder and
refine blocks (residual conv units, multi-resolution fusion, chained residual pooling) for the
decoder.

Ported to flax.linen from the paper's code (score_sde `models/layers.py`, itself a port of
ermongroup/ncsn and ermongroup/ncsnv2). Class names, and so the parameter tree, are the paper's:
`ResidualBlock_k`, `RefineBlock_k/RCUBlock_j/Conv_i`, `.../MSFBlock_0`, `.../CRPBlock_0`,
`ConvMeanPool_0`, and the noise-conditional `ConditionalResidualBlock_k`, `CondRefineBlock_k`,
`CondRCUBlock_j`, `CondMSFBlock_0`, `CondCRPBlock_0` of NCSN (v1). A conditional block is its
unconditional one given a `normalizer` (a ConditionalInstanceNorm2dPlus factory) and the noise
indices `y`; the unconditional refine blocks of NCSNv2 have no normalisation at all.
Data layout is NHWC.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

INTERPOLATIONS = {"bilinear": "bilinear", "nearest_neighbor": "nearest"}


def _pytorch_init(fan_in: int, init_scale: float = 1.0):
    """U(-b, b) with b = sqrt(init_scale / fan_in): PyTorch's default for conv kernels and biases."""
    bound = math.sqrt((init_scale or 1e-10) / fan_in)
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


def ncsn_conv(x: Array, out_ch: int, kernel: int = 3, *, bias: bool = True, dilation: int = 1) -> Array:
    """A `kernel` x `kernel` convolution, 'SAME' padding, with NCSN's PyTorch-style initialisation.
    Only inside `nn.compact` methods."""
    init = _pytorch_init(kernel * kernel * x.shape[-1])
    return nn.Conv(
        out_ch, kernel_size=(kernel, kernel), padding="SAME", use_bias=bias,
        kernel_dilation=(dilation, dilation), kernel_init=init, bias_init=init,
    )(x)


def _norm(normalizer: Callable, x: Array, y: Optional[Array]) -> Array:
    return normalizer()(x) if y is None else normalizer()(x, y)


class ConvMeanPool(nn.Module):
    """A convolution, then 2x2 mean pooling (halves H and W)."""

    output_dim: int
    kernel_size: int = 3
    biases: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = nn.Conv(self.output_dim, kernel_size=(self.kernel_size,) * 2, padding="SAME", use_bias=self.biases)(x)
        return (h[:, ::2, ::2] + h[:, 1::2, ::2] + h[:, ::2, 1::2] + h[:, 1::2, 1::2]) / 4.0


class ResidualBlock(nn.Module):
    """The pre-activation residual block of the NCSNv2 encoder. `resample='down'` with
    dilation 1 halves H and W (ConvMeanPool); with dilation > 1 it keeps the size and widens the
    receptive field instead, as in the paper's code."""

    output_dim: int
    normalization: Callable
    resample: Optional[str] = None
    act: Callable = nn.elu
    dilation: int = 1

    @nn.compact
    def __call__(self, x: Array, y: Optional[Array] = None) -> Array:
        norm = lambda h: _norm(self.normalization, h, y)  # noqa: E731
        d, out = self.dilation, self.output_dim
        h = self.act(norm(x))
        if self.resample == "down":
            h = self.act(norm(ncsn_conv(h, h.shape[-1], dilation=d)))
            if d > 1:
                h = ncsn_conv(h, out, dilation=d)
                shortcut = ncsn_conv(x, out, dilation=d)
            else:
                h = ConvMeanPool(output_dim=out)(h)
                shortcut = ConvMeanPool(output_dim=out, kernel_size=1)(x)
        elif self.resample is None:
            if out == x.shape[-1]:
                shortcut = x
            elif d > 1:
                shortcut = ncsn_conv(x, out, dilation=d)
            else:
                shortcut = ncsn_conv(x, out, kernel=1)
            h = self.act(norm(ncsn_conv(h, out, dilation=d)))
            h = ncsn_conv(h, out, dilation=d)
        else:
            raise ValueError(f"resample must be 'down' or None, got resample={self.resample!r}")
        return h + shortcut


class ConditionalResidualBlock(ResidualBlock):
    """ResidualBlock with conditional normalisation (NCSN v1): called as block(x, y)."""


class RCUBlock(nn.Module):
    """Residual conv units: `n_blocks` times x + (act - conv) x `n_stages` (norm first if conditional)."""

    features: int
    n_blocks: int
    n_stages: int
    act: Callable = nn.relu
    normalizer: Optional[Callable] = None

    @nn.compact
    def __call__(self, x: Array, y: Optional[Array] = None) -> Array:
        for _ in range(self.n_blocks):
            residual = x
            for _ in range(self.n_stages):
                if self.normalizer is not None:
                    x = self.normalizer()(x, y)
                x = ncsn_conv(self.act(x), self.features, bias=False)
            x = x + residual
        return x


class CondRCUBlock(RCUBlock):
    pass


class MSFBlock(nn.Module):
    """Multi-resolution fusion: each input (normalised if conditional) through a 3x3 conv, resized
    to `shape` and summed."""

    shape: Sequence[int]
    features: int
    interpolation: str = "bilinear"
    normalizer: Optional[Callable] = None

    @nn.compact
    def __call__(self, xs: Sequence[Array], y: Optional[Array] = None) -> Array:
        method = INTERPOLATIONS[self.interpolation]
        sums = jnp.zeros((xs[0].shape[0], *self.shape, self.features))
        for x in xs:
            h = x if self.normalizer is None else self.normalizer()(x, y)
            h = ncsn_conv(h, self.features)
            sums = sums + jax.image.resize(h, (h.shape[0], *self.shape, h.shape[-1]), method)
        return sums


class CondMSFBlock(MSFBlock):
    pass


class CRPBlock(nn.Module):
    """Chained residual pooling: x = act(x), then `n_stages` times path = conv(pool5x5(path)),
    x += path. Max pooling unconditionally (NCSNv2); normalisation and average pooling if
    conditional (NCSN v1)."""

    features: int
    n_stages: int
    act: Callable = nn.relu
    normalizer: Optional[Callable] = None

    @nn.compact
    def __call__(self, x: Array, y: Optional[Array] = None) -> Array:
        x = self.act(x)
        path = x
        for _ in range(self.n_stages):
            if self.normalizer is None:
                path = nn.max_pool(path, window_shape=(5, 5), strides=(1, 1), padding="SAME")
            else:
                path = self.normalizer()(path, y)
                path = nn.avg_pool(path, window_shape=(5, 5), strides=(1, 1), padding="SAME")
            path = ncsn_conv(path, self.features, bias=False)
            x = path + x
        return x


class CondCRPBlock(CRPBlock):
    pass


class RefineBlock(nn.Module):
    """A RefineNet decoder block: RCUs on each input, fusion to `output_shape` (unless `start`),
    chained residual pooling, and output RCUs (3 if `end`, else 1)."""

    output_shape: Sequence[int]
    features: int
    act: Callable = nn.relu
    interpolation: str = "bilinear"
    start: bool = False
    end: bool = False
    normalizer: Optional[Callable] = None

    _rcu = RCUBlock
    _msf = MSFBlock
    _crp = CRPBlock

    @nn.compact
    def __call__(self, xs: Sequence[Array], y: Optional[Array] = None) -> Array:
        norm = dict(normalizer=self.normalizer)
        hs = [self._rcu(x.shape[-1], n_blocks=2, n_stages=2, act=self.act, **norm)(x, y) for x in xs]
        if self.start:
            h = hs[0]
        else:
            h = self._msf(tuple(self.output_shape), self.features, self.interpolation, **norm)(hs, y)
        h = self._crp(self.features, n_stages=2, act=self.act, **norm)(h, y)
        return self._rcu(self.features, n_blocks=3 if self.end else 1, n_stages=2, act=self.act, **norm)(h, y)


class CondRefineBlock(RefineBlock):
    """RefineBlock with conditional normalisation throughout (NCSN v1): called as block(xs, y)."""

    _rcu = CondRCUBlock
    _msf = CondMSFBlock
    _crp = CondCRPBlock
