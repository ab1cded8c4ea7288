"""The U-Net blocks of DDPM, NCSN++ and DDPM++ (Ho et al. 2020; Song et al. 2021, App. H):
resampling layers, the progressive-growing combiner and the two residual blocks.

Ported to flax.linen from the paper's code (`models/layerspp.py`). Data layout is NHWC; `temb`
is the [B, 4 nf] noise-level embedding, or None for unconditional networks.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from models import up_down
from models.layers import conv1x1, conv3x3, default_init, dense, group_norm

Array = jax.Array


class Upsample(nn.Module):
    """Doubles H and W: nearest neighbour (+ 3x3 conv), or FIR filtering (+ fused 3x3 conv)."""

    out_ch: Optional[int] = None
    with_conv: bool = False
    fir: bool = False
    fir_kernel: tuple[int, ...] = (1, 3, 3, 1)

    @nn.compact
    def __call__(self, x: Array) -> Array:
        out_ch = self.out_ch or x.shape[-1]
        if not self.with_conv and out_ch != x.shape[-1]:
            raise ValueError(f"Upsample without a conv keeps channels, got out_ch={out_ch}, C={x.shape[-1]}")
        if not self.fir:
            h = up_down.naive_upsample_2d(x)
            return conv3x3(h, out_ch) if self.with_conv else h
        if not self.with_conv:
            return up_down.upsample_2d(x, self.fir_kernel)
        return up_down.FIRConv(out_ch, up=True, fir_kernel=self.fir_kernel)(x)


class Downsample(nn.Module):
    """Halves H and W: 2x2 average pooling or stride-2 3x3 conv, or FIR filtering (+ fused conv)."""

    out_ch: Optional[int] = None
    with_conv: bool = False
    fir: bool = False
    fir_kernel: tuple[int, ...] = (1, 3, 3, 1)

    @nn.compact
    def __call__(self, x: Array) -> Array:
        out_ch = self.out_ch or x.shape[-1]
        if not self.with_conv and out_ch != x.shape[-1]:
            raise ValueError(f"Downsample without a conv keeps channels, got out_ch={out_ch}, C={x.shape[-1]}")
        if not self.fir:
            return conv3x3(x, out_ch, stride=2) if self.with_conv else up_down.naive_downsample_2d(x)
        if not self.with_conv:
            return up_down.downsample_2d(x, self.fir_kernel)
        return up_down.FIRConv(out_ch, down=True, fir_kernel=self.fir_kernel)(x)


class Combine(nn.Module):
    """Merges the input pyramid x into the feature map y: 1x1 conv of x to y's channels, then
    concatenation ('cat') or sum ('sum')."""

    method: str = "cat"

    @nn.compact
    def __call__(self, x: Array, y: Array) -> Array:
        h = conv1x1(x, y.shape[-1])
        if self.method == "cat":
            return jnp.concatenate([h, y], axis=-1)
        return h + y


def _skip(x: Array, h: Array, skip_rescale: bool) -> Array:
    return (x + h) / math.sqrt(2.0) if skip_rescale else x + h


def _add_temb(h: Array, temb: Optional[Array], act: Callable) -> Array:
    # A per-channel bias from the noise-level embedding.
    if temb is None:
        return h
    return h + nn.Dense(h.shape[-1], kernel_init=default_init())(act(temb))[:, None, None, :]


class ResnetBlockDDPM(nn.Module):
    """The residual block of DDPM: GN-act-conv, + embedding, GN-act-dropout-conv, skip. With
    `skip_rescale=False, init_scale=0` it is exactly the original DDPM block."""

    act: Callable
    out_ch: Optional[int] = None
    conv_shortcut: bool = False
    dropout: float = 0.1
    skip_rescale: bool = False
    init_scale: float = 0.0
    num_groups: Optional[int] = None  # GroupNorm groups; None: min(C // 4, 32)

    @nn.compact
    def __call__(self, x: Array, temb: Optional[Array] = None, train: bool = False) -> Array:
        out_ch = self.out_ch or x.shape[-1]
        h = conv3x3(self.act(group_norm(x, self.num_groups)), out_ch)
        h = _add_temb(h, temb, self.act)
        h = self.act(group_norm(h, self.num_groups))
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = conv3x3(h, out_ch, init_scale=self.init_scale)
        if x.shape[-1] != out_ch:
            x = conv3x3(x, out_ch) if self.conv_shortcut else dense(x, out_ch, init_scale=0.1)
        return _skip(x, h, self.skip_rescale)


class ResnetBlockBigGAN(nn.Module):
    """The BigGAN-style residual block of NCSN++ / DDPM++ (Brock et al. 2019): it up- or
    down-samples both branches itself (FIR or nearest / average pooling), with a 1x1 shortcut."""

    act: Callable
    up: bool = False
    down: bool = False
    out_ch: Optional[int] = None
    dropout: float = 0.1
    fir: bool = False
    fir_kernel: tuple[int, ...] = (1, 3, 3, 1)
    skip_rescale: bool = True
    init_scale: float = 0.0

    def _resample(self, x: Array) -> Array:
        if self.up:
            return up_down.upsample_2d(x, self.fir_kernel) if self.fir else up_down.naive_upsample_2d(x)
        if self.down:
            return up_down.downsample_2d(x, self.fir_kernel) if self.fir else up_down.naive_downsample_2d(x)
        return x

    @nn.compact
    def __call__(self, x: Array, temb: Optional[Array] = None, train: bool = False) -> Array:
        out_ch = self.out_ch or x.shape[-1]
        h = self._resample(self.act(group_norm(x)))
        skip = self._resample(x)
        h = _add_temb(conv3x3(h, out_ch), temb, self.act)
        h = self.act(group_norm(h))
        h = nn.Dropout(self.dropout)(h, deterministic=not train)
        h = conv3x3(h, out_ch, init_scale=self.init_scale)
        if x.shape[-1] != out_ch or self.up or self.down:
            skip = conv1x1(skip, out_ch)
        return _skip(skip, h, self.skip_rescale)
