"""`--mode convert_inception`: pytorch-fid's Inception weights file into the .npz that eval reads.

The state dicts here are random, in the layout of pytorch-fid's `fid_inception_v3()` as recorded
from pytorch-fid 0.3.0 / torchvision 0.29.1 in `tests/data/pytorch_fid_inception_layout.json`
(names, shapes and dtypes in order, `fc.*` and `num_batches_tracked` included; the extra-only
`tests/test_inception_parity.py` checks the record against pytorch-fid itself and rewrites it with
`python tests/test_inception_parity.py --write-layout`). Only torch is needed (the test extra).
"""

import json
import math
import os
import sys

import numpy as np
import pytest

import main
from evaluation import inception
from importers import inception_pth

torch = pytest.importorskip("torch", reason="the converter reads .pth files with torch (test extra)")

LAYOUT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "pytorch_fid_inception_layout.json")
with open(LAYOUT_FILE) as _f:
    LAYOUT = json.load(_f)["state_dict"]  # [[name, shape, dtype], ...] in pytorch-fid's order


def random_state_dict(seed: int = 0) -> dict[str, np.ndarray]:
    """Random values in pytorch-fid's layout, scaled so that the network's activations stay O(1):
    He-normal convolutions, batch-norm with scale near 1, small shifts and variances around 1."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, dtype in LAYOUT:
        if dtype == "int64":  # num_batches_tracked
            out[name] = np.array(rng.integers(0, 10**6), np.int64).reshape(shape)
        elif name.endswith("conv.weight"):
            out[name] = rng.normal(0, math.sqrt(2.0 / np.prod(shape[1:])), shape)
        elif name.endswith("bn.weight"):
            out[name] = rng.uniform(0.8, 1.2, shape)
        elif name.endswith("running_var"):
            out[name] = rng.uniform(0.5, 1.5, shape)
        else:  # bn.bias, running_mean, fc.*
            out[name] = rng.normal(0, 0.1, shape)
        out[name] = out[name].astype(dtype)
    return out


def save_pth(state: dict, path) -> str:
    torch.save({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, path)
    return str(path)


def run_main(capsys, *args):
    code = main.main(["main.py", "--mode", "convert_inception", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def state():
    return random_state_dict()


@pytest.fixture(scope="module")
def pth(state, tmp_path_factory):
    return save_pth(state, tmp_path_factory.mktemp("pth") / "pt_inception-random.pth")


def test_layout_record_matches_our_table():
    # The arrays we read are exactly pytorch-fid's, less the classifier and the batch-norm counters.
    names = [n for n, _, _ in LAYOUT]
    kept = {n: tuple(s) for n, s, _ in LAYOUT if not inception_pth.ignored(n)}
    assert kept == inception.expected_arrays()
    assert len(names) == len(set(names)) == 566 and len(kept) == 470


def test_convert_command_writes_what_eval_loads(state, pth, tmp_path, capsys):
    out = tmp_path / "sub" / "inception.npz"
    code, stdout, err = run_main(capsys, "--checkpoint", pth, "--out", str(out))
    assert code == 0, err
    assert stdout.count("\n") == 1 and f"--config.eval.inception={out}" in stdout, stdout
    assert os.listdir(out.parent) == ["inception.npz"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~umask
    with np.load(out, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    # A bijection on values: every kept tensor once, bit for bit, in its torch layout.
    assert sorted(arrays) == sorted(inception.expected_arrays())
    for name, a in arrays.items():
        assert a.dtype == np.float32 and np.array_equal(a, state[name]), name
    back = inception_pth.to_state_dict(arrays)
    assert all(np.array_equal(back[k], state[k]) for k in back) and len(back) == len(arrays)
    folded = inception.load_weights(out)  # what eval's extractor reads
    assert len(folded) == len(inception.architecture())


def test_default_output_is_beside_the_checkpoint(state, tmp_path, capsys):
    pth = save_pth({k: v for k, v in state.items() if not inception_pth.ignored(k)}, tmp_path / "w.pth")
    code, stdout, err = run_main(capsys, f"--checkpoint={pth}")
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["w.npz", "w.pth"]


def _bad_files(state, folder):
    """name -> (argv after --mode convert_inception, words the one-line error must hold)."""
    keys = dict(state)
    del keys["Mixed_6b.branch7x7_2.conv.weight"]
    keys["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)
    shape = dict(state)
    shape["Mixed_7c.branch_pool.bn.bias"] = np.zeros(7, np.float32)
    (folder / "garbage.pth").write_bytes(b"not a zip file at all")
    torch.save([torch.zeros(3)], folder / "list.pth")
    ok = save_pth({"x": np.zeros(1, np.float32)}, folder / "tiny.pth")
    return {
        "no checkpoint": ([], ["--checkpoint=FILE", inception_pth.WEIGHTS_URL]),
        "absent file": ([f"--checkpoint={folder / 'absent.pth'}"], ["no such file", "absent.pth", "download"]),
        "keys": ([f"--checkpoint={save_pth(keys, folder / 'keys.pth')}"],
                 ["1 missing (first: Mixed_6b.branch7x7_2.conv.weight)", "1 unexpected (first: AuxLogits.fc.weight)"]),
        "shape": ([f"--checkpoint={save_pth(shape, folder / 'shape.pth')}"],
                  ["Mixed_7c.branch_pool.bn.bias has shape (7,)", "(192,)"]),
        "garbage": ([f"--checkpoint={folder / 'garbage.pth'}"], ["cannot read", "garbage.pth"]),
        "not a dict": ([f"--checkpoint={folder / 'list.pth'}"], ["holds a list", "not a state dict"]),
        "workdir given": ([f"--checkpoint={ok}", "--workdir=wd"], ["takes no --config", "--workdir"]),
        "override given": ([f"--checkpoint={ok}", "--config.training.n_iters=3"], ["takes no --config"]),
    }


def test_bad_inputs_are_one_line_errors_and_write_nothing(state, tmp_path, capsys, monkeypatch):
    cases = _bad_files(state, tmp_path)
    before = sorted(os.listdir(tmp_path))
    for name, (args, words) in cases.items():
        code, stdout, err = run_main(capsys, *args, f"--out={tmp_path / 'out.npz'}")
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and not stdout, (name, err)
        assert all(w in err for w in words), (name, err)
        assert sorted(os.listdir(tmp_path)) == before, name  # nothing written, no temporary file
    monkeypatch.setitem(sys.modules, "torch", None)  # an install without the extra
    code, _, err = run_main(capsys, f"--checkpoint={cases['keys'][0][0].split('=', 1)[1]}")
    assert code == 2 and err.count("\n") == 1 and 'pip install -e ".[torch]"' in err, err
    assert sorted(os.listdir(tmp_path)) == before
