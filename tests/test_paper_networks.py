"""NCSN and NCSNv2 against the paper's own code, and trained and sampled in our framework.

tests/data/paper/{ncsnv2,ncsn}.* were written by score_sde (commit 0acb9e0; see
/work/shared/reference/README.md, copied from there): tiny (nf=8, 16x16) versions of
configs/ve/ncsnv2/cifar10.py and configs/ve/ncsn/cifar10.py, their JAX checkpoints (two different
random weight sets, `optimizer.target` and `params_ema`) and the networks' raw outputs and scores
on a fixed input at t = [0.5, 0.05]. Our modules must load those parameter trees as they are
and reproduce both.
"""

import json
import os

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
import sde_lib
from configs import default_digits, fields
from configs.builders import build_experiment
from models.ncsn import noise_index, tie_tol
import samplers
from modes import run
from training.losses import get_loss_fn
from training.state import make_train_step

DATA = os.path.join(os.path.dirname(__file__), "data", "paper")
PAPER_NAMES = {"ncsnv2_64": "ncsnv2_64", "ncsn": "ncsn"}


def _fixture(name):
    with open(os.path.join(DATA, f"{name}.config.json")) as f:
        config = json.load(f)
    with open(os.path.join(DATA, f"{name}.jax_checkpoint"), "rb") as f:
        state = flax.serialization.msgpack_restore(f.read())
    io = dict(np.load(os.path.join(DATA, f"{name}.io.npz")))
    m = config["model"]
    model = models.get_model(
        PAPER_NAMES[m["name"]], nf=m["nf"], nonlinearity=m["nonlinearity"], normalization=m["normalization"],
        interpolation=m["interpolation"], sigma_min=float(m["sigma_min"]), sigma_max=float(m["sigma_max"]),
        num_scales=m["num_scales"], scale_by_sigma=m["scale_by_sigma"], centered=config["data"]["centered"],
    )
    sde = sde_lib.get_sde("vesde", sigma_min=float(m["sigma_min"]), sigma_max=float(m["sigma_max"]),
                          N=m["num_scales"])
    weights = {"params": state["optimizer"]["target"], "ema": state["params_ema"]}
    return model, sde, weights, io


@pytest.fixture(scope="module", params=["ncsnv2", "ncsn"])
def paper(request):
    return (request.param, *_fixture(request.param))


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def test_parameter_tree_is_the_papers(paper):
    name, model, sde, weights, io = paper
    x = jnp.asarray(io["x_nhwc"])
    ours = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x, sde.noise_label(jnp.asarray(io["t"]))))
    ours = {k: v.shape for k, v in flax.traverse_util.flatten_dict(ours["params"], sep="/").items()}
    theirs = {k: v.shape for k, v in flax.traverse_util.flatten_dict(weights["params"], sep="/").items()}
    assert ours == theirs  # names and shapes, with no renaming
    expected = {"ncsnv2": 134_043, "ncsn": 162_675}[name]  # the fixture README's counts
    assert sum(int(np.prod(s)) for s in ours.values()) == expected


def test_labels_map_to_the_papers_noise_index(paper):
    name, model, sde, _, io = paper
    idx = noise_index(sde.noise_label(jnp.asarray(io["t"])), model.sigma_min, model.sigma_max, model.num_scales)
    np.testing.assert_array_equal(idx, io["labels"])  # [116, 219] / [4, 9]: t = 0.5 is a tie to even


@pytest.mark.parametrize("n, sigma_max", [(10, 1.0), (232, 50.0), (500, 90.0), (2000, 378.0)])
def test_noise_index_is_round_of_one_minus_t(n, sigma_max):
    # The paper's label round((1 - t)(N - 1)), half to even, with u = (1 - t)(N - 1) in float32 as
    # the paper computes it. Exact halves (t = 0.5 here: N - 1 is odd) go to even; otherwise the
    # index is off by one only within the documented tie band, rarely.
    sde = sde_lib.get_sde("vesde", sigma_min=0.01, sigma_max=sigma_max, N=n)
    grid = (1 - np.arange(2 * (n - 1) + 1) / np.float32(2 * (n - 1))).astype(np.float32)
    rand = np.random.default_rng(0).uniform(0, 1, 20_000).astype(np.float32)
    t = np.concatenate([grid, rand, [0.5]]).astype(np.float32)
    u = (1 - t) * np.float32(n - 1)
    got = np.asarray(noise_index(sde.noise_label(jnp.asarray(t)), 0.01, sigma_max, n))
    wrong = got != np.round(u).astype(np.int32)
    ties = u - np.floor(u) == 0.5
    assert ties[-1] and not (wrong & ties).any(), t[wrong & ties]
    assert np.all(np.abs(u[wrong] - np.floor(u[wrong]) - 0.5) < 1.5 * tie_tol(n)), u[wrong]
    assert wrong[len(grid):-1].mean() <= 4 * tie_tol(n)
    beyond = noise_index(jnp.asarray([2 * sigma_max, 1e-4]), 0.01, sigma_max, n)
    np.testing.assert_array_equal(beyond, [0, n - 1])  # clipped to the table's ends


@pytest.mark.parametrize("weights_key", ["params", "ema"])
def test_outputs_and_scores_equal_the_papers(paper, weights_key):
    name, model, sde, weights, io = paper
    x, t = jnp.asarray(io["x_nhwc"]), jnp.asarray(io["t"])
    p = weights[weights_key]
    labels = sde.noise_label(t)
    out = model.apply({"params": p}, x, labels)
    # Documented factor: ours is sigma(t) times the paper's output (its score).
    paper_out = io[f"jax_out_{weights_key}"]
    assert _rel(out / labels[:, None, None, None], paper_out) <= 1e-5
    score = models.get_score_fn(sde, model)(p, x, t)
    assert _rel(score, io[f"jax_score_{weights_key}"]) <= 1e-5


def test_variants_halve_as_the_papers():
    # ncsnv2_128 / _256 halve 2 and 3 times (64 px: once); odd sizes are refused by name.
    assert (models.NCSNv2.halvings(), models.NCSNv2_128.halvings(), models.NCSNv2_256.halvings()) == (1, 2, 3)
    model = models.get_model("ncsnv2_128", nf=4, num_scales=3)
    with pytest.raises(ValueError, match="divisible by 4"):
        jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 6, 6, 3)), jnp.ones(1)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(normalization="GroupNorm"), "unknown normalization 'GroupNorm'"),
    (dict(interpolation="cubic"), "unknown interpolation 'cubic'"),
    (dict(sigma_min=2.0, sigma_max=1.0), "sigma_min=2.0, sigma_max=1.0"),
    (dict(num_scales=0), "num_scales=0"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.get_model("ncsnv2", **kwargs)


def test_train_with_smld_loss_and_sample_with_ald():
    """Two SMLD-loss steps of a tiny NCSNv2 on the 8x8 digits, then annealed Langevin dynamics,
    all built from a config (training.continuous=False, corrector 'ald') as main.py builds them."""
    c = fields.use_model(default_digits.get_config("vesde"), "ncsnv2")
    c.training.continuous = False
    c.training.batch_size = 8
    c.model.nf = 4
    c.sde.num_scales = 4
    c.model.scale_by_sigma = True
    c.sampling.method = "pc"
    c.sampling.predictor = "none"
    c.sampling.corrector = "ald"
    c.sampling.n_steps_each = 2
    c.sampling.snr = 0.176
    c.sampling.batch_size = 4
    exp = build_experiment(c)
    assert isinstance(exp.model, models.NCSNv2) and exp.loss_options["continuous"] is False
    state = run.initial_state(exp)
    score_fn = models.get_score_fn(exp.sde, exp.model)
    step = jax.jit(make_train_step(lambda _: get_loss_fn(exp.sde, score_fn, **exp.loss_options), exp.optimizer,
                                   ema_rate=exp.ema_rate, preprocess=run._preprocess(exp)))
    losses = []
    for k in range(2):
        state, loss = step(state, jnp.asarray(exp.dataset.train_batch(0, k, 8)[0][None]))
        losses.append(float(loss[0]))
    assert np.all(np.isfinite(losses)) and int(state.step) == 2
    sample = samplers.get_sampler(exp.sde, (4, 8, 8, 1), exp.sampling_method, **exp.sampling_options)
    x, nfe = jax.jit(lambda key: sample(key, models.bind_params(score_fn, state.ema_params)))(jax.random.PRNGKey(1))
    assert nfe == 4 * 2 + 1  # N levels x 2 corrector steps + the final denoising step
    assert x.shape == (4, 8, 8, 1) and np.all(np.isfinite(np.asarray(x)))


def _ddpm_names(tree):
    """score_sde's DDPM parameter names -> ours: top-level Dense_0/1 sit in TimeEmbedding_0; NIN_k/{W,b}
    is Dense_k/{kernel,bias} (a residual block's shortcut NIN_0 is its Dense_1)."""
    out = {"TimeEmbedding_0": {k: tree[k] for k in ("Dense_0", "Dense_1")}}
    for name, sub in tree.items():
        if name in ("Dense_0", "Dense_1"):
            continue
        if name.startswith(("ResnetBlockDDPM", "AttnBlock")):
            nin = "Dense_1" if name.startswith("ResnetBlockDDPM") else None
            sub = {(nin or "Dense_" + k[4:]) if k.startswith("NIN_") else k:
                   {"kernel": v["W"], "bias": v["b"]} if k.startswith("NIN_") else v for k, v in sub.items()}
        out[name] = sub
    return out


@pytest.mark.parametrize("num_groups, close", [(32, True), (None, False)])
def test_ddpm_port_layout_equals_the_papers(num_groups, close):
    # tests/data/paper/ddpm.*: score_sde's DDPM (nf=32, ch_mult (1, 1), attention at 8 on 16x16), VP.
    # With attn_layout='per_resolution' and 32 GroupNorm groups our DDPM is that network.
    with open(os.path.join(DATA, "ddpm.config.json")) as f:
        m = json.load(f)["model"]
    with open(os.path.join(DATA, "ddpm.jax_checkpoint"), "rb") as f:
        state = flax.serialization.msgpack_restore(f.read())
    io = np.load(os.path.join(DATA, "ddpm.io.npz"))
    model = models.get_model(
        "ddpm", nf=m["nf"], ch_mult=tuple(m["ch_mult"]), num_res_blocks=m["num_res_blocks"],
        attn_resolutions=tuple(m["attn_resolutions"]), embedding_type="positional",  # score_sde's DDPM always is
        attn_layout="per_resolution", num_groups=num_groups, centered=True)
    x, labels = jnp.asarray(io["x_nhwc"]), jnp.asarray(io["labels"])  # labels = 999 t, our VP noise_label
    np.testing.assert_allclose(sde_lib.get_sde("vpsde").noise_label(jnp.asarray(io["t"])), labels, rtol=1e-6)
    for key, tree in (("params", state["optimizer"]["target"]), ("ema", state["params_ema"])):
        out = model.apply({"params": _ddpm_names(tree)}, x, labels)
        assert (_rel(out, io[f"jax_out_{key}"]) <= 1e-5) == close
