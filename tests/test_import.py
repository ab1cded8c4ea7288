"""Imported paper checkpoints reproduce the paper's own outputs (tests/data/paper, written by score_sde
and score_sde_pytorch; see /work/shared/reference/README.md for how): the raw network outputs and the
scores of both weight sets (raw and EMA, which differ on purpose), within 1e-5 relative."""

import functools
import importlib
import json
import os

import flax.traverse_util as traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import importers
from configs.builders import build_model, build_sde
from importers import names

PAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "paper")
NAMES = ["ddpmpp_continuous", "ncsnpp_continuous", "ncsnpp_highres", "ddpm", "ncsnv2", "ncsn"]
TORCH_NAMES = NAMES[:4]  # score_sde_pytorch's NCSN / NCSNv2 do not run as released: no .pth exists
# NCSN and NCSNv2 use the paper's names: their import must give the file's arrays as they are, and
# tests/test_paper_networks.py checks that those reproduce the paper's outputs (so not recompiled here).
SAME_NAMES = ["ncsnv2", "ncsn"]
RTOL = 1e-5


def paper_file(name: str, kind: str) -> str:
    return os.path.join(PAPER, f"{name}.{kind}")


# Our config file for each fixture: the one of the paper's config that it shrinks (the README tells
# users to import with these), so the tests also check that the zoo builds the paper's networks.
ZOO = {
    "ddpmpp_continuous": "vp.cifar10_ddpmpp_continuous", "ncsnpp_continuous": "ve.cifar10_ncsnpp_continuous",
    "ncsnpp_highres": "ve.celebahq_256_ncsnpp_continuous", "ddpm": "vp.ddpm.cifar10_continuous",
    "ncsnv2": "ve.ncsnv2.cifar10", "ncsn": "ve.ncsn.cifar10",
}
SIZE_FIELDS = ("nf", "ch_mult", "num_res_blocks", "attn_resolutions")  # all the fixtures changed


def our_config(name: str, data_dir: str = ""):
    """Our config of the paper's config behind fixture NAME with the fixture's sizes (NAME.config.json),
    data from an image folder of 16x16 RGB images, and small training / sampling sizes for tests."""
    with open(paper_file(name, "config.json")) as f:
        paper = json.load(f)
    c = importlib.import_module(f"configs.{ZOO[name]}").get_config()
    for key in SIZE_FIELDS:
        if key in paper["model"]:
            value = paper["model"][key]
            c.model[key] = tuple(value) if isinstance(value, list) else value
    c.data.dataset, c.data.data_dir, c.data.image_size = "image_folder", data_dir, paper["data"]["image_size"]
    c.data.random_flip = False
    if "center_crop" in c.data:
        c.data.center_crop = None
    t = c.training
    t.batch_size, t.n_jitted_steps, t.log_freq, t.snapshot_freq, t.snapshot_freq_for_preemption = 2, 1, 1, 1, 1
    t.snapshot_sampling = False
    c.sampling.method, c.sampling.nfe, c.sampling.batch_size = "unipc", 2, 2
    return c


def relative_error(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


@functools.lru_cache(maxsize=None)  # one network and one compilation per NAME, for both formats
def paper_net(name: str):
    """(model, sde, io, jitted (params -> (raw output, score)) on io's inputs)."""
    config = our_config(name)
    model, sde = build_model(config), build_sde(config)
    io = dict(np.load(paper_file(name, "io.npz")))
    x, t = jnp.asarray(io["x_nhwc"]), jnp.asarray(io["t"])

    @jax.jit
    def outputs(params):  # what models.get_score_fn computes, keeping the raw output too
        out = model.apply({"params": params}, x, sde.noise_label(t), train=False)
        return out, sde.score_from_output(out, t)

    return model, sde, io, outputs


CASES = [(n, f) for n in NAMES for f in ("jax", "torch") if (f == "jax" and n not in SAME_NAMES) or n in TORCH_NAMES]


@pytest.mark.parametrize("name, fmt", CASES)
def test_outputs_and_scores_match_the_paper(name, fmt):
    model, sde, io, outputs = paper_net(name)
    if fmt == "torch":
        pytest.importorskip("torch")
        path, tags, to_nhwc = paper_file(name, "pytorch_checkpoint.pth"), ("model", "ema"), (0, 2, 3, 1)
    else:
        path, tags, to_nhwc = paper_file(name, "jax_checkpoint"), ("params", "ema"), (0, 1, 2, 3)
    # Our network is fed the labels the paper's was (VP: 999 t; VE: sigma(t); the NCSNs map sigma(t)
    # back to the paper's integer noise index themselves, tested in test_paper_networks.py).
    labels = np.asarray(sde.noise_label(jnp.asarray(io["t"])))
    if io["labels"].dtype.kind == "f":
        np.testing.assert_allclose(labels, io["labels"] if fmt == "jax" else io["torch_labels"], rtol=1e-6)
    ckpt = importers.read_checkpoint(path, model, io["x_nhwc"].shape[1:])
    assert ckpt.step == 1234
    # Under VE our networks output sigma(t) times the paper's (its score; the SDE divides ours by sigma).
    with open(paper_file(name, "config.json")) as f:
        scale = labels[:, None, None, None] if json.load(f)["training"]["sde"] == "vesde" else 1.0
    for tag, weights in zip(tags, (ckpt.params, ckpt.ema)):
        params = traverse_util.unflatten_dict({p: jnp.asarray(v) for p, v in weights.items()})
        out, score = outputs(params)
        ref_out = io[f"{fmt}_out_{tag}"].transpose(to_nhwc) * scale
        ref_score = io[f"{fmt}_score_{tag}"].transpose(to_nhwc)
        assert relative_error(out, ref_out) < RTOL, (name, fmt, tag, relative_error(out, ref_out))
        assert relative_error(score, ref_score) < RTOL, (name, fmt, tag, relative_error(score, ref_score))


@pytest.mark.parametrize("name", SAME_NAMES)
def test_ncsn_imports_the_files_arrays_unchanged(name):
    import flax.serialization

    with open(paper_file(name, "jax_checkpoint"), "rb") as f:
        raw = flax.serialization.msgpack_restore(f.read())
    ckpt = importers.read_checkpoint(paper_file(name, "jax_checkpoint"), build_model(our_config(name)), (16, 16, 3))
    moments = traverse_util.flatten_dict(raw["optimizer"]["state"]["param_states"])
    for got, want in [(ckpt.params, raw["optimizer"]["target"]), (ckpt.ema, raw["params_ema"]),
                      (ckpt.adam.mu, {p[:-1]: v for p, v in moments.items() if p[-1] == "grad_ema"}),
                      (ckpt.adam.nu, {p[:-1]: v for p, v in moments.items() if p[-1] == "grad_sq_ema"})]:
        want = want if isinstance(next(iter(want)), tuple) else traverse_util.flatten_dict(want)
        assert got.keys() == want.keys()
        for p in want:
            np.testing.assert_array_equal(got[p], want[p])


def test_jax_adam_moments_are_the_papers():
    ckpt = importers.read_checkpoint(paper_file("ddpmpp_continuous", "jax_checkpoint"),
                                     build_model(our_config("ddpmpp_continuous")), (16, 16, 3))
    import flax.serialization

    with open(paper_file("ddpmpp_continuous", "jax_checkpoint"), "rb") as f:
        raw = flax.serialization.msgpack_restore(f.read())["optimizer"]["state"]["param_states"]
    # Three renamed leaves read back from the file by the paper's names.
    for paper, ours in [(("AttnBlockpp_0", "NIN_3", "W"), ("AttnBlock_0", "Dense_3", "kernel")),
                        (("Dense_1", "bias"), ("TimeEmbedding_0", "Dense_1", "bias")),
                        (("ResnetBlockBigGANpp_2", "Conv_2", "kernel"), ("ResnetBlockBigGAN_2", "Conv_2", "kernel"))]:
        node = raw
        for key in paper:
            node = node[key]
        np.testing.assert_array_equal(ckpt.adam.mu[ours], node["grad_ema"])
        np.testing.assert_array_equal(ckpt.adam.nu[ours], node["grad_sq_ema"])
    assert ckpt.adam.count == 1234


def test_name_table():
    paper = [("AttnBlockpp_0", "NIN_0", "W"), ("AttnBlockpp_0", "NIN_3", "b"), ("Dense_0", "kernel"),
             ("GaussianFourierProjection_0", "W"), ("ResnetBlockDDPMpp_1", "Dense_0", "kernel"),
             ("ResnetBlockDDPMpp_1", "NIN_0", "W"), ("Downsample_0", "Conv2d_0", "weight"), ("Conv_3", "bias")]
    ours = [("AttnBlock_0", "Dense_0", "kernel"), ("AttnBlock_0", "Dense_3", "bias"),
            ("TimeEmbedding_0", "Dense_0", "kernel"), ("TimeEmbedding_0", "GaussianFourierProjection_0", "W"),
            ("ResnetBlockDDPM_1", "Dense_0", "kernel"), ("ResnetBlockDDPM_1", "Dense_1", "kernel"),
            ("Downsample_0", "FIRConv_0", "weight"), ("Conv_3", "bias")]
    mapping = names.to_ours(paper)
    assert [mapping[p] for p in paper] == ours
    assert names.to_ours(ours) == {p: p for p in ours}  # our own names map to themselves
    # A network without our time embedding (NCSN) keeps the paper's top-level Dense layers.
    top = ("Dense_0", "kernel")
    assert names.to_ours([top], ours={top}) == {top: top}
