"""The original DDPM U-Net (Ho et al., NeurIPS 2020, App. B; `diffusion_tf/models/unet.py`).
Defaults are its CIFAR-10 config: 35.7M parameters, as Ho et al. report, with attention after
every up-sampling-path block at the attention resolutions, as in Ho et al.

`attn_layout="per_resolution"` with `num_groups=32` is instead the port in Song et al.'s code
(score_sde `models/ddpm.py`, used by `configs/vp/ddpm/*`): it attends once per resolution on the
way up (after the last block), 35,218,947 parameters at CIFAR-10 size, and its GroupNorm has a
fixed 32 groups. The zoo's DDPM configs use that layout, so the paper's checkpoints fit.

    out = model.apply({"params": p}, x, labels, train=False, rngs={"dropout": key})

x is [B, H, W, C] (NHWC), labels [B] the SDE's noise labels; out has x's shape.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import flax.linen as nn

from common import checks
from models import blocks
from models.layers import (
    AttnBlock, TimeEmbedding, check_image, check_labels, check_unet_args,
    conv3x3, get_act, group_norm,
)

Array = jax.Array
ATTN_LAYOUTS = ("every_block", "per_resolution")


class DDPM(nn.Module):
    """The DDPM U-Net: wide ResNet blocks, self-attention at `attn_resolutions`, nearest /
    average-pool (or strided-conv) resampling, a zero-initialised output convolution.

    nf, ch_mult, num_res_blocks, attn_resolutions, dropout, resamp_with_conv, conditional,
    nonlinearity, centered: as in `NCSNpp`. embedding_type: 'positional' (DDPM's sinusoidal
    embedding of the labels) or 'fourier' (of log labels), `fourier_scale` its std.
    scale_by_sigma: divide the output by the labels; default False because our VE SDE already
    divides by sigma(t) in `score_from_output` (kept for parity with the paper's code only).
    attn_layout: 'every_block' (Ho et al.: attention after each up-path block at an attention
      resolution) or 'per_resolution' (score_sde's port: once per up-path resolution). The down
      path attends after every block at an attention resolution in both.
    num_groups: GroupNorm groups; None: min(C // 4, 32) (DDPM's 32 at its widths, still defined
      for narrow test networks); 32: score_sde's port at every width.
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
    attn_layout: str = "every_block"
    num_groups: Optional[int] = None

    def __post_init__(self):
        check_unet_args(
            nf=self.nf, ch_mult=self.ch_mult, num_res_blocks=self.num_res_blocks, dropout=self.dropout,
            nonlinearity=self.nonlinearity, embedding_type=self.embedding_type,
        )
        checks.choice("attn_layout", self.attn_layout, ATTN_LAYOUTS)
        if self.num_groups is not None:
            checks.positive_int("num_groups", self.num_groups)
            widths = sorted({self.nf * m for m in self.ch_mult})
            if any(w % self.num_groups for w in widths):
                raise checks.ArgumentError("num_groups", self.num_groups,
                                           f"a divisor of every width nf * ch_mult = {widths}")
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

        groups = self.num_groups

        def res_block(h, out_ch=None):
            return blocks.ResnetBlockDDPM(act=act, out_ch=out_ch, dropout=self.dropout, num_groups=groups)(
                h, temb, train)

        def attn(h):
            return AttnBlock(num_groups=groups)(h)

        h = x if self.centered else 2.0 * x - 1.0
        hs = [conv3x3(h, self.nf)]
        for level in range(num_levels):
            for _ in range(self.num_res_blocks):
                h = res_block(hs[-1], self.nf * self.ch_mult[level])
                if h.shape[1] in self.attn_resolutions:
                    h = attn(h)
                hs.append(h)
            if level != num_levels - 1:
                hs.append(blocks.Downsample(with_conv=self.resamp_with_conv)(hs[-1]))

        h = res_block(hs[-1])
        h = attn(h)
        h = res_block(h)

        every_block = self.attn_layout == "every_block"
        for level in reversed(range(num_levels)):
            for _ in range(self.num_res_blocks + 1):
                h = res_block(jnp.concatenate([h, hs.pop()], axis=-1), self.nf * self.ch_mult[level])
                if every_block and h.shape[1] in self.attn_resolutions:
                    h = attn(h)
            if not every_block and h.shape[1] in self.attn_resolutions:
                h = attn(h)
            if level != 0:
                h = blocks.Upsample(with_conv=self.resamp_with_conv)(h)
        assert not hs

        h = conv3x3(act(group_norm(h, groups)), x.shape[-1], init_scale=0.0)
        if self.scale_by_sigma:
            h = h / labels.reshape((-1,) + (1,) * (h.ndim - 1))
        return h
