"""Inception-v3 pool features for FID, from a weights file the user supplies (nothing is downloaded).

The network is the "FID Inception" of TensorFlow's reference FID code (Heusel et al. 2017) as
ported by pytorch-fid (M. Seitzer, `pytorch_fid/inception.py`, with torchvision's Inception3
blocks; Szegedy et al., CVPR 2016): images in [0, 1] are resized bilinearly (half-pixel centres,
no antialiasing) to 299 x 299, mapped to [-1, 1], and run up to the final average pooling, whose
2048 values are the features. Its quirks are kept: the average poolings in blocks 5b-7b ignore
the zero padding, and block 7c pools by max.

Weights file: an `.npz` of named arrays, the names and layouts of pytorch-fid's state dict
(`Conv2d_1a_3x3.conv.weight` [out, in, kh, kw], `Conv2d_1a_3x3.bn.{weight,bias,running_mean,
running_var}`, ... `Mixed_7c.branch_pool.bn.running_var`); other arrays (`fc.*`,
`*.num_batches_tracked`) are ignored. Made once from pytorch-fid's released weights file by

    python main.py --mode convert_inception --checkpoint pt_inception-2015-12-05-6726825d.pth \
        --out pt_inception.npz

(`importers/inception_pth.py`). It is read with `allow_pickle=False`. Every needed array is
checked by name and shape before anything runs; batch-norm (eps 0.001) is folded into the
convolutions at load time. The convolutions run at `Precision.HIGHEST`, since JAX's default lets
recent GPUs compute float32 convolutions in TF32 (about 3 significant digits). Side by side with
pytorch-fid 0.3.0 on the same (random) weights and images, on the CPU, the four blocks' outputs
and the 2048 features agree to float32 round-off (`tests/test_inception_parity.py`, run with the
optional extra `fid`).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
BN_EPS = 1e-3
FEATURE_DIM = 2048

# name -> (in, out, (kh, kw), stride, (pad_h, pad_w)) of every conv + batch-norm + ReLU unit.
_Spec = dict[str, tuple[int, int, tuple[int, int], int, tuple[int, int]]]


def _unit(spec: _Spec, name: str, cin: int, cout: int, k, stride: int = 1, pad=(0, 0)) -> None:
    k = (k, k) if isinstance(k, int) else tuple(k)
    pad = (pad, pad) if isinstance(pad, int) else tuple(pad)
    spec[name] = (cin, cout, k, stride, pad)


def _block_a(spec, p, cin, pool_features):
    _unit(spec, f"{p}.branch1x1", cin, 64, 1)
    _unit(spec, f"{p}.branch5x5_1", cin, 48, 1)
    _unit(spec, f"{p}.branch5x5_2", 48, 64, 5, pad=2)
    _unit(spec, f"{p}.branch3x3dbl_1", cin, 64, 1)
    _unit(spec, f"{p}.branch3x3dbl_2", 64, 96, 3, pad=1)
    _unit(spec, f"{p}.branch3x3dbl_3", 96, 96, 3, pad=1)
    _unit(spec, f"{p}.branch_pool", cin, pool_features, 1)


def _block_b(spec, p, cin):
    _unit(spec, f"{p}.branch3x3", cin, 384, 3, stride=2)
    _unit(spec, f"{p}.branch3x3dbl_1", cin, 64, 1)
    _unit(spec, f"{p}.branch3x3dbl_2", 64, 96, 3, pad=1)
    _unit(spec, f"{p}.branch3x3dbl_3", 96, 96, 3, stride=2)


def _block_c(spec, p, cin, c7):
    _unit(spec, f"{p}.branch1x1", cin, 192, 1)
    _unit(spec, f"{p}.branch7x7_1", cin, c7, 1)
    _unit(spec, f"{p}.branch7x7_2", c7, c7, (1, 7), pad=(0, 3))
    _unit(spec, f"{p}.branch7x7_3", c7, 192, (7, 1), pad=(3, 0))
    _unit(spec, f"{p}.branch7x7dbl_1", cin, c7, 1)
    for i, (k, pad) in enumerate([((7, 1), (3, 0)), ((1, 7), (0, 3)), ((7, 1), (3, 0))], start=2):
        _unit(spec, f"{p}.branch7x7dbl_{i}", c7, c7, k, pad=pad)
    _unit(spec, f"{p}.branch7x7dbl_5", c7, 192, (1, 7), pad=(0, 3))
    _unit(spec, f"{p}.branch_pool", cin, 192, 1)


def _block_d(spec, p, cin):
    _unit(spec, f"{p}.branch3x3_1", cin, 192, 1)
    _unit(spec, f"{p}.branch3x3_2", 192, 320, 3, stride=2)
    _unit(spec, f"{p}.branch7x7x3_1", cin, 192, 1)
    _unit(spec, f"{p}.branch7x7x3_2", 192, 192, (1, 7), pad=(0, 3))
    _unit(spec, f"{p}.branch7x7x3_3", 192, 192, (7, 1), pad=(3, 0))
    _unit(spec, f"{p}.branch7x7x3_4", 192, 192, 3, stride=2)


def _block_e(spec, p, cin):
    _unit(spec, f"{p}.branch1x1", cin, 320, 1)
    _unit(spec, f"{p}.branch3x3_1", cin, 384, 1)
    _unit(spec, f"{p}.branch3x3_2a", 384, 384, (1, 3), pad=(0, 1))
    _unit(spec, f"{p}.branch3x3_2b", 384, 384, (3, 1), pad=(1, 0))
    _unit(spec, f"{p}.branch3x3dbl_1", cin, 448, 1)
    _unit(spec, f"{p}.branch3x3dbl_2", 448, 384, 3, pad=1)
    _unit(spec, f"{p}.branch3x3dbl_3a", 384, 384, (1, 3), pad=(0, 1))
    _unit(spec, f"{p}.branch3x3dbl_3b", 384, 384, (3, 1), pad=(1, 0))
    _unit(spec, f"{p}.branch_pool", cin, 192, 1)


def architecture() -> _Spec:
    """Every conv unit of the FID Inception up to its pool features, by state-dict prefix."""
    spec: _Spec = {}
    _unit(spec, "Conv2d_1a_3x3", 3, 32, 3, stride=2)
    _unit(spec, "Conv2d_2a_3x3", 32, 32, 3)
    _unit(spec, "Conv2d_2b_3x3", 32, 64, 3, pad=1)
    _unit(spec, "Conv2d_3b_1x1", 64, 80, 1)
    _unit(spec, "Conv2d_4a_3x3", 80, 192, 3)
    for name, cin, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        _block_a(spec, name, cin, pool)
    _block_b(spec, "Mixed_6a", 288)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        _block_c(spec, name, 768, c7)
    _block_d(spec, "Mixed_7a", 768)
    _block_e(spec, "Mixed_7b", 1280)
    _block_e(spec, "Mixed_7c", 2048)
    return spec


def expected_arrays() -> dict[str, tuple[int, ...]]:
    """The arrays a weights file must hold: name -> shape."""
    out = {}
    for name, (cin, cout, (kh, kw), _, _) in architecture().items():
        out[f"{name}.conv.weight"] = (cout, cin, kh, kw)
        for part in ("weight", "bias", "running_mean", "running_var"):
            out[f"{name}.bn.{part}"] = (cout,)
    return out


def load_weights(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads the .npz (no pickle), checks every array, and folds batch-norm into each conv:
    name -> (kernel [out, in, kh, kw], bias [out]), float32."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Inception weights file not found: {path}. Expected an .npz of named arrays with "
            "pytorch-fid's state-dict names: python main.py --mode convert_inception --checkpoint "
            "pt_inception-2015-12-05-6726825d.pth --out FILE.npz"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:
        raise ValueError(
            f"cannot read Inception weights {path}: an .npz of named numeric arrays is expected "
            f"(pickled files are never loaded): {e}"
        ) from e
    expected = expected_arrays()
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise ValueError(
            f"Inception weights {path} lack {len(missing)} of the {len(expected)} arrays needed, "
            f"e.g. {missing[:3]}; names must follow pytorch-fid's FID Inception state dict"
        )
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f"Inception weights {path}: {name} has shape {arrays[name].shape}, need {shape}")
    folded = {}
    for name in architecture():
        g = lambda part: np.asarray(arrays[f"{name}.bn.{part}"], np.float64)
        scale = g("weight") / np.sqrt(g("running_var") + BN_EPS)
        kernel = np.asarray(arrays[f"{name}.conv.weight"], np.float64) * scale[:, None, None, None]
        folded[name] = (kernel.astype(np.float32), (g("bias") - g("running_mean") * scale).astype(np.float32))
    return folded


# ----- the forward pass (NCHW, OIHW: the layouts of the weights) ------------------------------
def _conv(weights, spec, name, x):
    _, _, _, stride, (ph, pw) = spec[name]
    kernel, bias = weights[name]
    y = jax.lax.conv_general_dilated(  # full float32 (no TF32 on GPUs): the features of the reference
        x, kernel, (stride, stride), ((ph, ph), (pw, pw)), dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=jax.lax.Precision.HIGHEST,
    )
    return jax.nn.relu(y + bias[None, :, None, None])


def _max_pool(x, stride: int, pad: int = 0):
    pads = ((0, 0), (0, 0), (pad, pad), (pad, pad))
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 3, 3), (1, 1, stride, stride), pads)


def avg_pool_3x3_same(x):
    """3x3 stride-1 average over the window's in-image pixels only (TF's pool; torch's
    count_include_pad=False), for x [B, C, H, W]."""
    pads = ((0, 0), (0, 0), (1, 1), (1, 1))
    window = lambda v: jax.lax.reduce_window(v, 0.0, jax.lax.add, (1, 1, 3, 3), (1, 1, 1, 1), pads)
    return window(x) / window(jnp.ones((1, 1) + x.shape[2:], x.dtype))


def preprocess(images: Array, resolution: int = 299) -> Array:
    """pytorch-fid's input: images [B, H, W, C] in [0, 1] (C = 1 is repeated to RGB) resized
    bilinearly to resolution x resolution (half-pixel centres, no antialiasing: torch's
    `F.interpolate(mode="bilinear", align_corners=False)`), mapped to [-1, 1], as [B, 3, r, r]."""
    x = jnp.asarray(images, jnp.float32)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [B, H, W, 1 or 3] in [0, 1], got images.shape={x.shape}")
    x = jnp.broadcast_to(x, x.shape[:3] + (3,))
    x = jax.image.resize(x, (x.shape[0], resolution, resolution, 3), "linear", antialias=False)
    return jnp.transpose(2.0 * x - 1.0, (0, 3, 1, 2))


def block_outputs(weights, x: Array) -> tuple[Array, Array, Array, Array]:
    """The outputs of pytorch-fid's four blocks for its input x [B, 3, H, W] (`preprocess`): the
    first and second max pooling [B, 64, ., .], [B, 192, ., .], Mixed_6e [B, 768, ., .] and the
    final average pooling [B, 2048]."""
    spec = architecture()
    c = lambda name, x: _conv(weights, spec, name, x)
    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"):
        x = c(name, x)
    block0 = x = _max_pool(x, 2)
    block1 = x = _max_pool(c("Conv2d_4a_3x3", c("Conv2d_3b_1x1", x)), 2)
    for p in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        x = jnp.concatenate([
            c(f"{p}.branch1x1", x),
            c(f"{p}.branch5x5_2", c(f"{p}.branch5x5_1", x)),
            c(f"{p}.branch3x3dbl_3", c(f"{p}.branch3x3dbl_2", c(f"{p}.branch3x3dbl_1", x))),
            c(f"{p}.branch_pool", avg_pool_3x3_same(x)),
        ], axis=1)
    p = "Mixed_6a"
    x = jnp.concatenate([
        c(f"{p}.branch3x3", x),
        c(f"{p}.branch3x3dbl_3", c(f"{p}.branch3x3dbl_2", c(f"{p}.branch3x3dbl_1", x))),
        _max_pool(x, 2),
    ], axis=1)
    for p in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        b7 = c(f"{p}.branch7x7_3", c(f"{p}.branch7x7_2", c(f"{p}.branch7x7_1", x)))
        bd = x
        for i in range(1, 6):
            bd = c(f"{p}.branch7x7dbl_{i}", bd)
        pool = c(f"{p}.branch_pool", avg_pool_3x3_same(x))
        x = jnp.concatenate([c(f"{p}.branch1x1", x), b7, bd, pool], axis=1)
    block2 = x
    p = "Mixed_7a"
    b7 = x
    for i in range(1, 5):
        b7 = c(f"{p}.branch7x7x3_{i}", b7)
    x = jnp.concatenate([c(f"{p}.branch3x3_2", c(f"{p}.branch3x3_1", x)), b7, _max_pool(x, 2)], axis=1)
    for p, pool in (("Mixed_7b", avg_pool_3x3_same), ("Mixed_7c", lambda v: _max_pool(v, 1, pad=1))):
        b3 = c(f"{p}.branch3x3_1", x)
        bd = c(f"{p}.branch3x3dbl_2", c(f"{p}.branch3x3dbl_1", x))
        x = jnp.concatenate([
            c(f"{p}.branch1x1", x),
            c(f"{p}.branch3x3_2a", b3), c(f"{p}.branch3x3_2b", b3),
            c(f"{p}.branch3x3dbl_3a", bd), c(f"{p}.branch3x3dbl_3b", bd),
            c(f"{p}.branch_pool", pool(x)),
        ], axis=1)
    return block0, block1, block2, jnp.mean(x, axis=(2, 3))


def inception_pool_features(weights, images: Array, *, resolution: int = 299) -> Array:
    """Pool features [B, 2048] of images [B, H, W, C] in [0, 1] (C = 1 is repeated to RGB)."""
    return block_outputs(weights, preprocess(images, resolution))[-1]
