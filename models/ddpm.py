"""The original DDPM U-Net (Ho et al., NeurIPS 2020, App. B; `diffusion_tf/models/unet.py`).
Defaults are its CIFAR-10 config (`configs/vp/ddpm/cifar10.py` of Song et al. 2021): 35.7M
parameters, as Ho et al. report. Unlike the port in Song et al.'s `models/ddpm.py`, which attends
once per resolution on the way up, attention follows every up-sampling-path block, as in Ho et al.

    out = model.apply({"params": p}, x, labels, train=False, rngs={"dropout": key})

x is [B, H, W, C] (NHWC), labels [B] the SDE's noise labels; out has x's shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import flax.linen as nn

from models import blocks
from models.layers import (
    AttnBlock, TimeEmbedding, check_image, check_labels, check_unet_args, conv3x3, get_act, group_norm,
)

Array = jax.Array


class DDPM(nn.Module):
    """The DDPM U-Net: wide ResNet blocks, self-attention at `attn_resolutions`, nearest /
    average-pool (or strided-conv) resampling, a zero-initialised output convolution.

    nf, ch_mult, num_res_blocks, attn_resolutions, dropout, resamp_with_conv, conditional,
    nonlinearity, centered: as in `NCSNpp`. embedding_type: 'positional' (DDPM's sinusoidal
    embedding of the labels) or 'fourier' (of log labels), `fourier_scale` its std.
    scale_by_sigma: divide the output by the labels; default False because our VE SDE already
    divides by sigma(t) in `score_from_output` (kept for parity with the paper's code only).
    Group normalisation uses min(C // 4, 32) groups: DDPM's 32 at its widths.
    """

    nf: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    resamp_with_conv: bool = True
    embedding_type: str = "positional"
    fourier_scale: float = 16.0
    conditional: bool = True
    nonlinearity: str = "swish"
    centered: bool = True
    scale_by_sigma: bool = False

    def __post_init__(self):
        check_unet_args(
            nf=self.nf, ch_mult=self.ch_mult, num_res_blocks=self.num_res_blocks, dropout=self.dropout,
            nonlinearity=self.nonlinearity, embedding_type=self.embedding_type,
        )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: Array, labels: Array, train: bool = False) -> Array:
        check_image(x, len(self.ch_mult))
        check_labels(x, labels)
        act = get_act(self.nonlinearity)
        num_levels = len(self.ch_mult)
        temb = None
        if self.conditional:
            temb = TimeEmbedding(self.nf, self.embedding_type, self.fourier_scale, act)(labels)

        def res_block(h, out_ch=None):
            return blocks.ResnetBlockDDPM(act=act, out_ch=out_ch, dropout=self.dropout)(h, temb, train)

        h = x if self.centered else 2.0 * x - 1.0
        hs = [conv3x3(h, self.nf)]
        for level in range(num_levels):
            for _ in range(self.num_res_blocks):
                h = res_block(hs[-1], self.nf * self.ch_mult[level])
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock()(h)
                hs.append(h)
            if level != num_levels - 1:
                hs.append(blocks.Downsample(with_conv=self.resamp_with_conv)(hs[-1]))

        h = res_block(hs[-1])
        h = AttnBlock()(h)
        h = res_block(h)

        for level in reversed(range(num_levels)):
            for _ in range(self.num_res_blocks + 1):
                h = res_block(jnp.concatenate([h, hs.pop()], axis=-1), self.nf * self.ch_mult[level])
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock()(h)
            if level != 0:
                h = blocks.Upsample(with_conv=self.resamp_with_conv)(h)
        assert not hs

        h = conv3x3(act(group_norm(h)), x.shape[-1], init_scale=0.0)
        if self.scale_by_sigma:
            h = h / labels.reshape((-1,) + (1,) * (h.ndim - 1))
        return h
