"""NCSN++ and DDPM++ (Song et al., ICLR 2021, Sec. 4.4 and App. H): one U-Net class, `NCSNpp`,
with the paper's knobs. Its defaults are the paper's NCSN++ CIFAR-10 config
(`configs/ve/cifar10_ncsnpp_continuous.py`); `DDPMpp` is the same class with the DDPM++ defaults
(`configs/vp/cifar10_ddpmpp_continuous.py`): sinusoidal embedding, no FIR, no progressive input.

    out = model.apply({"params": p}, x, labels, train=False, rngs={"dropout": key})

x is [B, H, W, C] (NHWC), labels [B] the SDE's noise labels; out has x's shape.
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from common import checks
from models import blocks
from models.layers import (
    AttnBlock, TimeEmbedding, check_image, check_labels, check_unet_args, conv3x3, get_act,
    group_norm,
)

Array = jax.Array

PROGRESSIVE = ("none", "output_skip", "residual")
PROGRESSIVE_INPUT = ("none", "input_skip", "residual")
COMBINE = ("sum", "cat")
RESBLOCKS = ("ddpm", "biggan")


class NCSNpp(nn.Module):
    """The NCSN++ / DDPM++ U-Net.

    nf, ch_mult, num_res_blocks: base width, width multiplier per resolution, blocks per resolution.
    attn_resolutions: spatial sizes (H) at which self-attention follows each residual block.
    dropout, resamp_with_conv: dropout rate in the residual blocks; convolutions in resampling.
    embedding_type: 'fourier' (Gaussian Fourier features of log(labels), std `fourier_scale`;
      the paper's choice for VE, whose labels are sigma) or 'positional' (sinusoidal, DDPM).
    resblock_type: 'ddpm' or 'biggan' (BigGAN blocks also do the resampling).
    skip_rescale: divide residual sums by sqrt(2). init_scale: scale of the last layer of each
      block (0: blocks start as the identity).
    fir, fir_kernel: FIR resampling (StyleGAN2) with this 1-D kernel instead of nearest / average.
    progressive: output path, 'none' | 'output_skip' (sum of per-resolution outputs) | 'residual'.
    progressive_input: input path, 'none' | 'input_skip' (down-sampled input merged with
      `progressive_combine`, 'sum' | 'cat') | 'residual'.
    conditional: use the labels (False ignores them). nonlinearity: swish | elu | relu | lrelu.
    centered: inputs already in [-1, 1]; if False they are mapped from [0, 1] to [-1, 1] first.
    scale_by_sigma: divide the output by the labels, as the paper's NCSN++ did for VE (labels =
      sigma). Default False: our VE SDE already divides the output by sigma(t) in
      `score_from_output`, so True would divide twice. Kept for parity with the paper's code only.
    """

    nf: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 4
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    resamp_with_conv: bool = True
    embedding_type: str = "fourier"
    fourier_scale: float = 16.0
    resblock_type: str = "biggan"
    skip_rescale: bool = True
    init_scale: float = 0.0
    fir: bool = True
    fir_kernel: tuple[int, ...] = (1, 3, 3, 1)
    progressive: str = "none"
    progressive_input: str = "residual"
    progressive_combine: str = "sum"
    conditional: bool = True
    nonlinearity: str = "swish"
    centered: bool = True
    scale_by_sigma: bool = False

    def __post_init__(self):
        check_unet_args(
            nf=self.nf, ch_mult=self.ch_mult, num_res_blocks=self.num_res_blocks, dropout=self.dropout,
            nonlinearity=self.nonlinearity, embedding_type=self.embedding_type,
        )
        checks.choice("resblock_type", self.resblock_type, RESBLOCKS)
        checks.choice("progressive", self.progressive, PROGRESSIVE)
        checks.choice("progressive_input", self.progressive_input, PROGRESSIVE_INPUT)
        checks.choice("progressive_combine", self.progressive_combine, COMBINE)
        if len(self.fir_kernel) == 0:
            raise checks.ArgumentError("fir_kernel", self.fir_kernel, "non-empty")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: Array, labels: Array, train: bool = False) -> Array:
        check_image(x, len(self.ch_mult))
        check_labels(x, labels)
        act = get_act(self.nonlinearity)
        num_levels = len(self.ch_mult)
        fir = dict(fir=self.fir, fir_kernel=tuple(self.fir_kernel))
        temb = None
        if self.conditional:
            temb = TimeEmbedding(self.nf, self.embedding_type, self.fourier_scale, act)(labels)

        Attn = functools.partial(AttnBlock, init_scale=self.init_scale, skip_rescale=self.skip_rescale)
        common = dict(act=act, dropout=self.dropout, init_scale=self.init_scale, skip_rescale=self.skip_rescale)
        if self.resblock_type == "ddpm":
            ResBlock = functools.partial(blocks.ResnetBlockDDPM, **common)
        else:
            ResBlock = functools.partial(blocks.ResnetBlockBigGAN, **common, **fir)
        Up = functools.partial(blocks.Upsample, with_conv=self.resamp_with_conv, **fir)
        Down = functools.partial(blocks.Downsample, with_conv=self.resamp_with_conv, **fir)
        pyramid_up = functools.partial(blocks.Upsample, with_conv=self.progressive == "residual", **fir)
        pyramid_down = functools.partial(blocks.Downsample, with_conv=self.progressive_input == "residual", **fir)

        def merge(a, b):
            return (a + b) / math.sqrt(2.0) if self.skip_rescale else a + b

        def head(h, out_ch, init_scale=1.0):
            return conv3x3(act(group_norm(h)), out_ch, init_scale=init_scale)

        if not self.centered:
            x = 2.0 * x - 1.0
        channels = x.shape[-1]

        # Down-sampling path.
        input_pyramid = x
        hs = [conv3x3(x, self.nf)]
        for level in range(num_levels):
            for _ in range(self.num_res_blocks):
                h = ResBlock(out_ch=self.nf * self.ch_mult[level])(hs[-1], temb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = Attn()(h)
                hs.append(h)
            if level != num_levels - 1:
                if self.resblock_type == "ddpm":
                    h = Down()(hs[-1])
                else:
                    h = ResBlock(down=True)(hs[-1], temb, train)
                if self.progressive_input == "input_skip":
                    input_pyramid = pyramid_down()(input_pyramid)
                    h = blocks.Combine(method=self.progressive_combine)(input_pyramid, h)
                elif self.progressive_input == "residual":
                    input_pyramid = merge(pyramid_down(out_ch=h.shape[-1])(input_pyramid), h)
                    h = input_pyramid
                hs.append(h)

        h = hs[-1]
        h = ResBlock()(h, temb, train)
        h = Attn()(h)
        h = ResBlock()(h, temb, train)

        # Up-sampling path.
        pyramid = None
        for level in reversed(range(num_levels)):
            for _ in range(self.num_res_blocks + 1):
                h = ResBlock(out_ch=self.nf * self.ch_mult[level])(
                    jnp.concatenate([h, hs.pop()], axis=-1), temb, train
                )
            if h.shape[1] in self.attn_resolutions:
                h = Attn()(h)
            if self.progressive == "output_skip":
                out = head(h, channels, self.init_scale)
                pyramid = out if pyramid is None else pyramid_up()(pyramid) + out
            elif self.progressive == "residual":
                if pyramid is None:
                    pyramid = head(h, h.shape[-1])
                else:
                    pyramid = merge(pyramid_up(out_ch=h.shape[-1])(pyramid), h)
                    h = pyramid
            if level != 0:
                if self.resblock_type == "ddpm":
                    h = Up()(h)
                else:
                    h = ResBlock(up=True)(h, temb, train)
        assert not hs

        if self.progressive == "output_skip":
            h = pyramid
        else:
            h = head(h, channels, self.init_scale)
        if self.scale_by_sigma:
            h = h / labels.reshape((-1,) + (1,) * (h.ndim - 1))
        return h


# DDPM++ (Song et al. 2021, App. H): the NCSN++ class with the paper's DDPM++ settings; any of
# these (and every other NCSNpp field) can still be overridden by keyword.
DDPMPP_DEFAULTS = dict(
    embedding_type="positional",
    resblock_type="biggan",
    fir=False,
    progressive="none",
    progressive_input="none",
    progressive_combine="sum",
)
DDPMpp = functools.partial(NCSNpp, **DDPMPP_DEFAULTS)
