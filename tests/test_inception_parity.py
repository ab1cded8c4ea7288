"""Our FID Inception (`evaluation/inception.py`) side by side with pytorch-fid's `InceptionV3`
(`use_fid_inception=True`, `resize_input=True`, `normalize_input=True`) on the same random weights,
in its weights file's layout and converted by `--mode convert_inception`, and the same images
(32x32 RGB and 64x64 grey uint8 images, upsampled; a 320x320 float image, downsampled).

Needs the optional extra `fid` (torch 2.14.1, torchvision 0.29.1, pytorch-fid; about 5.5 GB), so
the default test run skips it; `tests/test_convert_inception.py` and the Inception tests of
`tests/test_metrics.py` run always. Run it with `pytest -s tests/test_inception_parity.py` in an
environment with the extra; `-s` prints the measured differences.

Tolerances, float32 on the CPU: the resized input within 2e-6 (values in [-1, 1]); every block's
output within 1e-5 of the largest value of that block (measured: ~4e-7 for the 2048 features).
Two controls show that the tolerances discriminate: antialiased downsampling, and average pooling
that counts the zero padding (the bug the FID blocks patch), each miss by far more.
"""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

try:
    import torch
    import torch.nn.functional as F
    import torchvision  # noqa: F401  (pytorch-fid builds on it)
    from pytorch_fid import inception as pfi
except Exception as e:  # absent, or a torchvision built for another torch
    pytest.skip(f"needs the fid extra, pip install -e '.[fid]' ({type(e).__name__}: {' '.join(str(e).split())[:80]})",
                allow_module_level=True)

TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(TESTS), TESTS]  # also when run as a script (--write-layout)
import main  # noqa: E402
from evaluation import features, inception  # noqa: E402
from test_convert_inception import LAYOUT, LAYOUT_FILE, random_state_dict  # noqa: E402

INPUT_TOL = 2e-6  # absolute, on the [-1, 1] network input
BLOCK_TOL = 1e-5  # max |ours - theirs| / max |theirs|, per block


def _images():
    rng = np.random.default_rng(1)
    return {
        "32x32 RGB uint8": rng.integers(0, 256, (2, 32, 32, 3)).astype(np.float32) / 255,
        "64x64 grey uint8": rng.integers(0, 256, (2, 64, 64, 1)).astype(np.float32) / 255,
        "320x320 RGB float": rng.uniform(size=(1, 320, 320, 3)).astype(np.float32),
    }


def _nchw(images):  # pytorch-fid's input: [B, 3, H, W] in [0, 1], grey as RGB (PIL's convert)
    return torch.from_numpy(np.ascontiguousarray(np.broadcast_to(images, images.shape[:3] + (3,)).transpose(0, 3, 1, 2)))


def _rel(ours, theirs) -> float:
    return float(np.abs(np.asarray(ours) - theirs).max() / np.abs(theirs).max())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """pytorch-fid's model and our weights, from one random state dict saved as its weights file."""
    state = {k: torch.from_numpy(v) for k, v in random_state_dict(seed=3).items()}
    with pytest.MonkeyPatch.context() as mp:  # its weights "download" returns the random state dict
        mp.setattr(pfi, "load_state_dict_from_url", lambda url, **kw: state)
        theirs = pfi.InceptionV3([0, 1, 2, 3], resize_input=True, normalize_input=True,
                                 use_fid_inception=True).eval()  # load_state_dict is strict
        layout = pfi.fid_inception_v3().state_dict()
    tmp = tmp_path_factory.mktemp("parity")
    pth, npz = str(tmp / "pt_inception-random.pth"), str(tmp / "inception.npz")
    torch.save(state, pth)
    assert main.main(["main.py", "--mode", "convert_inception", "--checkpoint", pth, "--out", npz]) == 0
    images = _images()
    with torch.no_grad():
        blocks = {name: [b.numpy() for b in theirs(_nchw(x))] for name, x in images.items()}
    for b in blocks.values():
        b[3] = b[3][:, :, 0, 0]
    return {"layout": layout, "npz": npz, "images": images, "theirs": blocks}


def test_layout_record_is_pytorch_fids(setup):
    got = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in setup["layout"].items()]
    assert got == LAYOUT, f"pytorch-fid's layout changed: python {__file__} --write-layout"


@pytest.mark.parametrize("name", list(_images()))
def test_resize_and_scaling_match_torch(setup, name):
    x = setup["images"][name]
    theirs = (2 * F.interpolate(_nchw(x), size=(299, 299), mode="bilinear", align_corners=False) - 1).numpy()
    ours = np.asarray(inception.preprocess(x))
    diff = np.abs(ours - theirs).max()
    print(f"\n{name}: network input max |diff| {diff:.2e}")
    assert diff <= INPUT_TOL
    if x.shape[1] > 299:  # control: antialiased downsampling is another resize
        aa = jax.image.resize(jnp.broadcast_to(x, x.shape[:3] + (3,)), (len(x), 299, 299, 3), "linear", antialias=True)
        miss = np.abs(2 * np.transpose(np.asarray(aa), (0, 3, 1, 2)) - 1 - theirs).max()
        print(f"control, antialiased resize: max |diff| {miss:.2e}")
        assert miss > 100 * INPUT_TOL


def test_every_block_matches_pytorch_fid(setup):
    weights = jax.tree.map(jnp.asarray, inception.load_weights(setup["npz"]))
    x = jnp.concatenate([inception.preprocess(v) for v in setup["images"].values()])
    ours = jax.jit(inception.block_outputs)(weights, x)
    theirs = [np.concatenate([b[i] for b in setup["theirs"].values()]) for i in range(4)]
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert o.shape == t.shape, (i, o.shape, t.shape)
        print(f"\nblock {i} {t.shape}: max |diff| {np.abs(np.asarray(o) - t).max():.2e}, "
              f"relative to max |value| {np.abs(t).max():.3g}: {_rel(o, t):.2e}")
        assert _rel(o, t) <= BLOCK_TOL, i
    assert np.abs(theirs[3]).max() > 1 and theirs[3].std() > 0.1  # features far from zero

    def counting_padding(v):  # control: torch's default count_include_pad=True in the FID blocks
        pads = ((0, 0), (0, 0), (1, 1), (1, 1))
        return jax.lax.reduce_window(v, 0.0, jax.lax.add, (1, 1, 3, 3), (1, 1, 1, 1), pads) / 9.0

    original = inception.avg_pool_3x3_same
    inception.avg_pool_3x3_same = counting_padding
    try:
        wrong = jax.jit(lambda w, v: inception.block_outputs(w, v)[2])(weights, x[:1])
    finally:
        inception.avg_pool_3x3_same = original
    print(f"control, average pooling counting the padding: block 2 relative {_rel(wrong, theirs[2][:1]):.2e}")
    assert _rel(wrong, theirs[2][:1]) > 100 * BLOCK_TOL


@pytest.mark.parametrize("name", list(_images()))
def test_extractor_features_match_pytorch_fid(setup, name):
    """What eval runs (`evaluation.inception_extractor`, resizing included) on each image size."""
    ex = features.inception_extractor(setup["npz"])
    ours = features.extract_features(ex, setup["images"][name], batch_size=2)
    theirs = setup["theirs"][name][3]
    print(f"\n{name}: 2048 features max |diff| {np.abs(ours - theirs).max():.2e}, "
          f"relative to max |feature| {np.abs(theirs).max():.3g}: {_rel(ours, theirs):.2e}")
    assert _rel(ours, theirs) <= BLOCK_TOL


def write_layout() -> None:
    """Records pytorch-fid's weights-file layout into tests/data (for tests/test_convert_inception.py)."""
    import pytorch_fid

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pfi, "load_state_dict_from_url", lambda url, **kw: None)
        mp.setattr(torch.nn.Module, "load_state_dict", lambda self, *a, **kw: None)
        state = pfi.fid_inception_v3().state_dict()
    source = (f"pytorch_fid {pytorch_fid.__version__} fid_inception_v3().state_dict(), torchvision "
              f"{torchvision.__version__}, torch {torch.__version__}: [name, shape, dtype] in order")
    rows = [json.dumps([k, list(v.shape), str(v.dtype).removeprefix("torch.")]) for k, v in state.items()]
    with open(LAYOUT_FILE, "w") as f:  # one entry a line
        f.write(f'{{"source": {json.dumps(source)},\n"state_dict": [\n' + ",\n".join(rows) + "\n]}\n")
    print(f"wrote {LAYOUT_FILE}: {len(state)} entries")


if __name__ == "__main__" and sys.argv[1:] == ["--write-layout"]:
    write_layout()
