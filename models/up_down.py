"""FIR up- and down-sampling of NHWC images (StyleGAN2, Karras et al. 2020), used by NCSN++.

Everything is one primitive, `upfirdn_2d`: insert zeros to up-sample, pad, convolve with a 2-D
FIR filter, keep every `down`-th pixel (the 2-D analogue of `scipy.signal.upfirdn`). A 1-D kernel
k is made separable, outer(k, k), and normalised to sum 1, so a constant image keeps its value
(times `gain`) away from the borders. `fir_kernel=(1, 1)` gives nearest-neighbour up-sampling and
2x2 average pooling; the paper's (1, 3, 3, 1) gives bilinear interpolation and its anti-aliased
inverse. The fused convolutions `upsample_conv_2d` / `conv_downsample_2d` pad only once, as in
the paper's code (Song et al. 2021, `models/up_or_down_sampling.py`).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models.layers import default_init

Array = jax.Array


def setup_kernel(k: Sequence[float]) -> np.ndarray:
    """A 1-D kernel as the normalised separable 2-D kernel outer(k, k) / sum; 2-D kernels are
    only normalised."""
    k = np.asarray(k, dtype=np.float32)
    if k.ndim == 1:
        k = np.outer(k, k)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.size == 0 or k.sum() == 0:
        raise ValueError(f"fir kernel must be a non-empty 1-D or square 2-D array with a non-zero sum, got k={k!r}")
    return k / k.sum()


def upfirdn_2d(x: Array, k: np.ndarray, *, up: int = 1, down: int = 1, pad0: int = 0, pad1: int = 0) -> Array:
    """Up-sample by zero insertion, pad (negative: crop) by (pad0, pad1) on both spatial axes,
    convolve with the 2-D kernel `k` (a true convolution, 'VALID'), and keep every `down`-th pixel.

    x: [N, H, W, C]; each channel is filtered on its own.
    """
    n, h, w, c = x.shape
    # 1. zeros after each pixel: [N, H, up, W, up, C] -> [N, H up, W up, C].
    if up > 1:
        x = x[:, :, None, :, None, :]
        x = jnp.pad(x, [(0, 0), (0, 0), (0, up - 1), (0, 0), (0, up - 1), (0, 0)])
        x = x.reshape(n, h * up, w * up, c)
    # 2. pad, or crop where the padding is negative.
    pads = [(0, 0), (max(pad0, 0), max(pad1, 0)), (max(pad0, 0), max(pad1, 0)), (0, 0)]
    x = jnp.pad(x, pads)
    x = x[:, max(-pad0, 0) : x.shape[1] - max(-pad1, 0), max(-pad0, 0) : x.shape[2] - max(-pad1, 0), :]
    # 3-4. depthwise convolution (flipped kernel, cross-correlation) with stride `down`.
    kernel = jnp.asarray(np.ascontiguousarray(k[::-1, ::-1]), x.dtype)
    kernel = jnp.tile(kernel[:, :, None, None], (1, 1, 1, c))
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=(down, down), padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c,
    )


def upsample_2d(x: Array, k: Sequence[float] = (1, 1), factor: int = 2, gain: float = 1.0) -> Array:
    """Up-samples [N, H, W, C] to [N, H factor, W factor, C] with the FIR filter k."""
    kk = setup_kernel(k) * (gain * factor**2)
    p = kk.shape[0] - factor
    return upfirdn_2d(x, kk, up=factor, pad0=(p + 1) // 2 + factor - 1, pad1=p // 2)


def downsample_2d(x: Array, k: Sequence[float] = (1, 1), factor: int = 2, gain: float = 1.0) -> Array:
    """Down-samples [N, H, W, C] to [N, H // factor, W // factor, C] with the FIR filter k."""
    kk = setup_kernel(k) * gain
    p = kk.shape[0] - factor
    return upfirdn_2d(x, kk, down=factor, pad0=(p + 1) // 2, pad1=p // 2)


def upsample_conv_2d(x: Array, w: Array, k: Sequence[float] = (1, 1), factor: int = 2, gain: float = 1.0) -> Array:
    """`upsample_2d` fused with a 'SAME' convolution by w [kh, kw, C_in, C_out] (odd, square):
    a stride-`factor` transposed convolution, then the FIR filter, with one padding in total."""
    conv_w = w.shape[0]
    kk = setup_kernel(k) * (gain * factor**2)
    p = (kk.shape[0] - factor) - (conv_w - 1)
    # Transposed convolution = zero-inserted input, fully padded, cross-correlated with w.
    x = jax.lax.conv_general_dilated(
        x, w, window_strides=(1, 1), padding=[(conv_w - 1, conv_w - 1)] * 2,
        lhs_dilation=(factor, factor), dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return upfirdn_2d(x, kk, pad0=(p + 1) // 2 + factor - 1, pad1=p // 2 + 1)


def conv_downsample_2d(x: Array, w: Array, k: Sequence[float] = (1, 1), factor: int = 2, gain: float = 1.0) -> Array:
    """A 'SAME' convolution by w [kh, kw, C_in, C_out] fused with `downsample_2d`: the FIR filter,
    then a stride-`factor` convolution, with one padding in total."""
    conv_w = w.shape[0]
    kk = setup_kernel(k) * gain
    p = (kk.shape[0] - factor) + (conv_w - 1)
    x = upfirdn_2d(x, kk, pad0=(p + 1) // 2, pad1=p // 2)
    return jax.lax.conv_general_dilated(
        x, w, window_strides=(factor, factor), padding="VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )


def naive_upsample_2d(x: Array, factor: int = 2) -> Array:
    """Nearest-neighbour up-sampling: each pixel becomes a factor x factor block."""
    return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def naive_downsample_2d(x: Array, factor: int = 2) -> Array:
    """Average pooling over non-overlapping factor x factor blocks."""
    n, h, w, c = x.shape
    return x.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


class FIRConv(nn.Module):
    """A 3x3 (`kernel`) convolution with optional fused FIR up- or down-sampling by 2 (StyleGAN2)."""

    features: int
    kernel: int = 3
    up: bool = False
    down: bool = False
    fir_kernel: tuple[int, ...] = (1, 3, 3, 1)
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.up and self.down:
            raise ValueError(f"FIRConv cannot both up- and down-sample, got up={self.up}, down={self.down}")
        w = self.param("weight", default_init(), (self.kernel, self.kernel, x.shape[-1], self.features))
        w = w.astype(x.dtype)
        if self.up:
            x = upsample_conv_2d(x, w, k=self.fir_kernel)
        elif self.down:
            x = conv_downsample_2d(x, w, k=self.fir_kernel)
        else:
            x = jax.lax.conv_general_dilated(
                x, w, window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
        if self.use_bias:
            x = x + self.param("bias", jax.nn.initializers.zeros, (self.features,))
        return x
