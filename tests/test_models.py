"""Score networks: output shapes of every architecture, their knobs, FIR resampling and the
noise-level embeddings against independent computations, and the exact score wrapper."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal

import models
import samplers
from conftest import assert_matches_gaussian, gaussian_data, make_sde, mixture_data
from models import layers, up_down


# Tiny U-Nets (two resolutions, one block each) that together cover both residual blocks, FIR and
# nearest / average resampling, every progressive option, both embeddings and attention.
TINY = dict(nf=8, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(8, 16), dropout=0.1)
ARCHS = {
    # NCSN++ defaults: BigGAN blocks, FIR, Fourier features, progressive_input='residual'.
    "ncsnpp": ("ncsnpp", TINY),
    # DDPM++ defaults: BigGAN blocks, nearest / average resampling, sinusoidal embedding.
    "ddpmpp": ("ddpmpp", TINY),
    "ddpm": ("ddpm", TINY),
    "ncsnpp_skip": ("ncsnpp", dict(TINY, resblock_type="ddpm", progressive="output_skip",
                                   progressive_input="input_skip", progressive_combine="cat")),
    "ncsnpp_residual": ("ncsnpp", dict(TINY, resblock_type="ddpm", fir=False, resamp_with_conv=False,
                                       progressive="residual", progressive_input="residual",
                                       embedding_type="positional", skip_rescale=False)),
    "ncsnpp_fir_ddpm_blocks": ("ncsnpp", dict(TINY, resblock_type="ddpm", fir_kernel=(1, 1),
                                              progressive_input="input_skip")),
}


def _labels(b):
    # Positive (Fourier features take log labels), distinct, and of the magnitude of real labels.
    return jnp.linspace(0.5, 20.0, b)


def _shapes(model, x, labels):
    """Traces init and apply without running them: the variables' and the output's shapes."""
    variables = jax.eval_shape(lambda x, l: model.init({"params": jax.random.key(0)}, x, l), x, labels)
    return variables, jax.eval_shape(lambda v, x, l: model.apply(v, x, l, train=False), variables, x, labels)


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_output_shape_of_every_architecture(arch, size):
    name, kwargs = ARCHS[arch]
    model = models.get_model(name, **kwargs)
    x = jax.ShapeDtypeStruct((2, size, size, 3), jnp.float32)
    variables, out = _shapes(model, x, jax.ShapeDtypeStruct((2,), jnp.float32))
    assert out.shape == x.shape and out.dtype == jnp.float32
    assert set(variables) == {"params"}


def _random_params(model, x_shape, scale=0.3, seed=0):
    """Generic weights N(0, scale^2) for `model`, drawn on the host: nothing is compiled for them."""
    variables, _ = _shapes(model, jax.ShapeDtypeStruct(x_shape, jnp.float32), jnp.ones(x_shape[:1]))
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda p: jnp.asarray(scale * rng.normal(size=p.shape), jnp.float32), variables["params"])


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_forward_is_finite_and_label_dependent(arch):
    name, kwargs = ARCHS[arch]
    model = models.get_model(name, **kwargs)
    params = _random_params(model, (2, 8, 8, 1))
    x = jax.random.normal(jax.random.key(1), (2, 8, 8, 1))
    apply = jax.jit(lambda labels: model.apply({"params": params}, x, labels, train=False))
    out1, out2 = apply(_labels(2)), apply(3 * _labels(2))
    assert out1.shape == x.shape and bool(jnp.all(jnp.isfinite(out1)))
    rel = jnp.max(jnp.abs(out1 - out2)) / jnp.max(jnp.abs(out1))
    assert rel > 1e-2, f"labels barely change the output: relative change {rel}"


# One resolution, one block: the cheapest U-Nets that still run every knob's code path.
SMALL = dict(nf=8, ch_mult=(1,), num_res_blocks=1, attn_resolutions=(), dropout=0.0)


@pytest.mark.parametrize("name", ["ncsnpp", "ddpm"])
def test_init_params_start_near_zero(name):
    model = models.get_model(name, **SMALL)
    params = models.init_params(model, jax.random.key(0), (2, 8, 8, 1))
    out = model.apply({"params": params}, jnp.ones((2, 8, 8, 1)), _labels(2))
    # The last layers start at init_scale=0 (as in the paper: 1e-10 variance), so |out| is tiny but not 0.
    assert out.shape == (2, 8, 8, 1) and 0 < float(jnp.max(jnp.abs(out))) < 1e-3
    assert jax.tree.structure(params) == jax.tree.structure(_random_params(model, (2, 8, 8, 1)))


def test_ddpm_matches_the_published_size():
    # Ho et al. (2020), App. B: the CIFAR-10 model has 35.7M parameters.
    model = models.get_model("ddpm")
    variables, out = _shapes(model, jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32), jnp.ones(1))
    n = sum(math.prod(p.shape) for p in jax.tree.leaves(variables))
    assert round(n / 1e6, 1) == 35.7, n
    assert out.shape == (1, 32, 32, 3)


def test_ddpmpp_is_ncsnpp_with_ddpmpp_defaults():
    model = models.get_model("ddpmpp", nf=16)
    assert type(model) is models.NCSNpp
    for key, value in models.DDPMPP_DEFAULTS.items():
        assert getattr(model, key) == value
    assert models.get_model("ddpmpp", fir=True).fir  # the defaults can be overridden


@pytest.mark.parametrize("name", ["ncsnpp", "ddpm"])
def test_knobs_centered_scale_by_sigma_and_unconditional(name):
    model = models.get_model(name, **SMALL)
    uncond = model.clone(conditional=False)
    params, uncond_params = _random_params(model, (2, 8, 8, 1)), _random_params(uncond, (2, 8, 8, 1))
    x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1))  # data in [0, 1]
    labels = _labels(2)
    out = model.apply({"params": params}, 2 * x - 1, labels)
    raw = model.clone(centered=False).apply({"params": params}, x, labels)
    np.testing.assert_allclose(raw, out, rtol=1e-4, atol=1e-5)  # x in [0, 1] is mapped to 2x - 1
    scaled = model.clone(scale_by_sigma=True).apply({"params": params}, 2 * x - 1, labels)
    np.testing.assert_allclose(scaled, out / labels[:, None, None, None], rtol=1e-6)
    u1 = uncond.apply({"params": uncond_params}, x, labels)
    np.testing.assert_array_equal(u1, uncond.apply({"params": uncond_params}, x, 7.0 * labels))  # labels ignored
    assert "TimeEmbedding_0" in params and "TimeEmbedding_0" not in uncond_params


def test_mlp_knobs_and_dropout():
    model = models.get_model("mlp", width=16, num_blocks=2, nf=8, dropout=0.5, init_scale=1.0)
    params = models.init_params(model, jax.random.key(0), (4, 2))
    x = jax.random.normal(jax.random.key(1), (4, 2))
    labels = _labels(4)
    apply = lambda m, xx, ll, **kw: m.apply({"params": params}, xx, ll, **kw)
    out = apply(model, x, labels)
    assert out.shape == x.shape
    # Evaluation mode is deterministic and equals the same network without dropout.
    np.testing.assert_array_equal(out, apply(model.clone(dropout=0.0), x, labels, train=True))
    d1 = apply(model, x, labels, train=True, rngs={"dropout": jax.random.key(2)})
    d2 = apply(model, x, labels, train=True, rngs={"dropout": jax.random.key(3)})
    assert not np.allclose(d1, d2) and not np.allclose(d1, out)
    np.testing.assert_allclose(apply(model.clone(centered=False), (x + 1) / 2, labels), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(apply(model.clone(scale_by_sigma=True), x, labels), out / labels[:, None], rtol=1e-6)
    assert not np.allclose(apply(model, x, 2 * labels), out)
    uncond = model.clone(conditional=False)
    p2 = models.init_params(uncond, jax.random.key(0), (4, 2))
    np.testing.assert_array_equal(uncond.apply({"params": p2}, x, labels), uncond.apply({"params": p2}, x, 2 * labels))


# ----- FIR resampling against independent computations -------------------------------------------------
def _image(shape=(2, 8, 8, 3), seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def test_fir_with_box_kernel_is_nearest_and_average_pooling():
    x = _image()
    np.testing.assert_array_equal(up_down.upsample_2d(x, (1, 1)), np.repeat(np.repeat(x, 2, 1), 2, 2))
    pooled = np.asarray(x).reshape(2, 4, 2, 4, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(up_down.downsample_2d(x, (1, 1)), pooled, atol=1e-6)
    np.testing.assert_array_equal(up_down.naive_upsample_2d(x), np.repeat(np.repeat(x, 2, 1), 2, 2))
    np.testing.assert_allclose(up_down.naive_downsample_2d(x), pooled, atol=1e-6)


def test_fir_131_kernel_is_bilinear_away_from_the_border():
    # (1, 3, 3, 1) up-sampling is bilinear interpolation with half-pixel centres, and its
    # down-sampling is the antialiased bilinear resize; they differ only at the zero-padded border.
    x = _image()
    up = up_down.upsample_2d(x, (1, 3, 3, 1))
    ref = jax.image.resize(x, (2, 16, 16, 3), "linear")
    np.testing.assert_allclose(up[:, 1:-1, 1:-1], ref[:, 1:-1, 1:-1], atol=1e-5)
    down = up_down.downsample_2d(x, (1, 3, 3, 1))
    ref = jax.image.resize(x, (2, 4, 4, 3), "linear", antialias=True)
    np.testing.assert_allclose(down[:, 1:-1, 1:-1], ref[:, 1:-1, 1:-1], atol=1e-5)


def _upfirdn_reference(x, k, up, down, pad0):
    """NumPy/SciPy: separable `scipy.signal.upfirdn` (full convolution) on each axis, cropped to
    the window that starts `len(k) - 1 - pad0` samples into the full output."""
    def along(a, axis):
        y = np.apply_along_axis(lambda v: signal.upfirdn(k, v, up=up), axis, a)
        start = len(k) - 1 - pad0
        n = a.shape[axis] * up // down
        return np.take(y, np.arange(start, start + n * down, down), axis=axis)
    return along(along(np.asarray(x, np.float64), 1), 2)


@pytest.mark.parametrize("kernel", [(1, 3, 3, 1), (1, 2, 5, 1), (1, 4, 6, 4, 1)])
def test_fir_matches_scipy_upfirdn(kernel):
    x = _image((1, 8, 8, 2), seed=1)
    k1 = np.asarray(kernel, np.float64) / np.sum(kernel)  # per axis: outer(k1, k1) = setup_kernel
    p = len(kernel) - 2
    np.testing.assert_allclose(
        up_down.upsample_2d(x, kernel), _upfirdn_reference(x, 2 * k1, 2, 1, (p + 1) // 2 + 1), atol=1e-5
    )
    np.testing.assert_allclose(
        up_down.downsample_2d(x, kernel), _upfirdn_reference(x, k1, 1, 2, (p + 1) // 2), atol=1e-5
    )


def test_fused_fir_convolutions_match_resample_then_convolve():
    x = _image()
    w = _image((3, 3, 3, 5), seed=2)
    conv = lambda z: jax.lax.conv_general_dilated(z, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    # The fused ops pad once, so they agree with the unfused composition away from the border.
    fused_up = up_down.upsample_conv_2d(x, w, (1, 3, 3, 1))
    np.testing.assert_allclose(fused_up[:, 2:-2, 2:-2], conv(up_down.upsample_2d(x, (1, 3, 3, 1)))[:, 2:-2, 2:-2],
                               atol=1e-4)
    fused_down = up_down.conv_downsample_2d(x, w, (1, 3, 3, 1))
    np.testing.assert_allclose(fused_down[:, 1:-1, 1:-1], up_down.downsample_2d(conv(x), (1, 3, 3, 1))[:, 1:-1, 1:-1],
                               atol=1e-4)
    assert fused_up.shape == (2, 16, 16, 5) and fused_down.shape == (2, 4, 4, 5)


# ----- embeddings and attention against their formulas ------------------------------------------------
def test_sinusoidal_embedding_formula():
    t = np.array([0.0, 1.0, 17.5, 999.0])
    dim = 10
    emb = layers.sinusoidal_embedding(jnp.asarray(t, jnp.float32), dim)
    half = dim // 2
    freqs = 10000.0 ** (-np.arange(half) / (half - 1))
    ref = np.concatenate([np.sin(t[:, None] * freqs), np.cos(t[:, None] * freqs)], axis=1)
    np.testing.assert_allclose(emb, ref, atol=2e-4)  # float32 arguments up to 999
    odd = layers.sinusoidal_embedding(jnp.asarray(t, jnp.float32), dim + 1)
    np.testing.assert_array_equal(odd[:, :dim], emb)
    np.testing.assert_array_equal(odd[:, dim], 0.0)


def test_gaussian_fourier_features_formula_and_frozen_weights():
    size, scale = 4096, 16.0
    proj = layers.GaussianFourierProjection(embedding_size=size, scale=scale)
    x = jnp.array([-1.5, 0.0, 0.3])
    params = proj.init(jax.random.key(0), x)["params"]
    w = np.asarray(params["W"], np.float64)
    # W ~ N(0, scale^2): the sample std of 4096 draws is within 5% (about 4.5 standard errors).
    assert abs(w.std() / scale - 1) < 0.05 and abs(w.mean()) < 5 * scale / math.sqrt(size)
    out = proj.apply({"params": params}, x)
    arg = 2 * np.pi * np.asarray(x, np.float64)[:, None] * w[None, :]
    np.testing.assert_allclose(out, np.concatenate([np.sin(arg), np.cos(arg)], axis=1), atol=5e-4)
    grad = jax.grad(lambda p: jnp.sum(proj.apply({"params": p}, x) ** 2))(params)
    np.testing.assert_array_equal(grad["W"], 0.0)  # never trained


def test_time_embedding_feeds_log_labels_to_fourier_features():
    act = layers.get_act("swish")
    emb = layers.TimeEmbedding(nf=8, embedding_type="fourier", fourier_scale=16.0, act=act)
    labels = jnp.array([0.01, 1.0, 50.0])
    params = emb.init(jax.random.key(0), labels)["params"]
    feats = layers.GaussianFourierProjection(8, 16.0).apply({"params": params["GaussianFourierProjection_0"]},
                                                            jnp.log(labels))
    d0, d1 = params["Dense_0"], params["Dense_1"]
    ref = act(feats @ d0["kernel"] + d0["bias"]) @ d1["kernel"] + d1["bias"]
    np.testing.assert_allclose(emb.apply({"params": params}, labels), ref, rtol=1e-5, atol=1e-6)
    assert ref.shape == (3, 32)


def test_attention_block_formula():
    x = _image((2, 4, 4, 8), seed=3)
    block = layers.AttnBlock(init_scale=1.0)
    params = block.init(jax.random.key(0), x)["params"]
    gn = params["GroupNorm_0"]
    xr = np.asarray(x, np.float64).reshape(2, 16, 2, 4)  # 2 groups of 4 channels
    xn = (xr - xr.mean(axis=(1, 3), keepdims=True)) / np.sqrt(xr.var(axis=(1, 3), keepdims=True) + 1e-6)
    xn = xn.reshape(2, 16, 8) * np.asarray(gn["scale"]) + np.asarray(gn["bias"])
    lin = lambda v, i: v @ np.asarray(params[f"Dense_{i}"]["kernel"]) + np.asarray(params[f"Dense_{i}"]["bias"])
    logits = np.einsum("bic,bjc->bij", lin(xn, 0), lin(xn, 1)) / np.sqrt(8)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    ref = np.asarray(x, np.float64).reshape(2, 16, 8) + lin(weights @ lin(xn, 2), 3)
    np.testing.assert_allclose(block.apply({"params": params}, x), ref.reshape(x.shape), atol=1e-4)


# ----- the score wrapper -------------------------------------------------------------------------------
def _closed_form(sde_name, sde):
    """(label -> t, t -> output scale c(t)) from the SDEs' closed forms, written out here:
    VP / sub-VP networks predict eps = -sigma score and see (N - 1) t; VE ones predict sigma score
    and see sigma(t) = sigma_min (sigma_max / sigma_min)^t."""
    if sde_name == "ve":
        ratio = math.log(sde.sigma_max / sde.sigma_min)
        return (lambda lab: jnp.log(lab / sde.sigma_min) / ratio,
                lambda t: sde.sigma_min * (sde.sigma_max / sde.sigma_min) ** t)
    log_alpha = lambda t: -0.25 * t**2 * (sde.beta_max - sde.beta_min) - 0.5 * t * sde.beta_min
    if sde_name == "vp":
        sigma = lambda t: jnp.sqrt(1 - jnp.exp(2 * log_alpha(t)))
    else:
        sigma = lambda t: 1 - jnp.exp(2 * log_alpha(t))
    return (lambda lab: lab / (sde.N - 1)), (lambda t: -sigma(t))


class OracleNet(nn.Module):
    """A hand-built network whose output is known: `gain` times out_fn(x, labels)."""

    out_fn: object

    @nn.compact
    def __call__(self, x, labels, train=False):
        return self.param("gain", nn.initializers.ones, ()) * self.out_fn(x, labels)


def _oracle(sde_name, sde, gm):
    t_of_label, scale = _closed_form(sde_name, sde)
    true_score = gm.score_fn(sde)

    def out_fn(x, labels):
        t = t_of_label(labels)
        return scale(t)[:, None] * true_score(x, t)

    return OracleNet(out_fn), true_score


def test_score_wrapper_is_exact_for_a_hand_built_network(sde_name):
    sde, gm = make_sde(sde_name), mixture_data()
    model, true_score = _oracle(sde_name, sde, gm)
    params = models.init_params(model, jax.random.key(0), (8, 2))
    score_fn = models.get_score_fn(sde, model)
    t = jnp.linspace(0.05, 0.95, 8)
    x = gm.sample(jax.random.key(1), 8) * sde.alpha(t)[:, None] + 0.5
    np.testing.assert_allclose(score_fn(params, x, t), true_score(x, t), rtol=1e-4, atol=1e-6)
    doubled = jax.tree.map(lambda p: 2 * p, params)  # the params given are the ones used
    np.testing.assert_allclose(score_fn(doubled, x, t), 2 * true_score(x, t), rtol=1e-4, atol=1e-6)
    bound = models.bind_params(score_fn, params)
    np.testing.assert_array_equal(bound(x, t), score_fn(params, x, t))


@pytest.mark.parametrize("sde_name", ["vp", "ve"])
def test_bound_score_fn_drives_a_sampler(sde_name):
    sde, gm = make_sde(sde_name, N=100), gaussian_data()
    model, _ = _oracle(sde_name, sde, gm)
    score_fn = models.bind_params(models.get_score_fn(sde, model), models.init_params(model, jax.random.key(0), (2, 2)))
    sample_fn = samplers.get_sampler(sde, (2000, 2), "pc", predictor="reverse_diffusion", corrector="none")
    x, _ = jax.jit(lambda k: sample_fn(k, score_fn))(jax.random.key(2))
    # As in test_pc: standard errors ~0.02 (mean) and ~0.03 (covariance), plus the O(1/N) bias.
    assert_matches_gaussian(x, gm, mean_tol=0.1, cov_tol=0.15)


def test_score_fn_train_mode_uses_the_dropout_key():
    sde = make_sde("vp")
    model = models.get_model("mlp", width=16, num_blocks=1, nf=8, dropout=0.5, init_scale=1.0)
    params = models.init_params(model, jax.random.key(0), (4, 2))
    x, t = jnp.ones((4, 2)), jnp.full((4,), 0.5)
    train_fn = models.get_score_fn(sde, model, train=True)
    a, b = train_fn(params, x, t, jax.random.key(1)), train_fn(params, x, t, jax.random.key(2))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, train_fn(params, x, t, jax.random.key(1)))
    with pytest.raises(ValueError, match="dropout_key is required when train=True"):
        train_fn(params, x, t)
    eval_fn = models.get_score_fn(sde, model)
    np.testing.assert_array_equal(eval_fn(params, x, t), eval_fn(params, x, t, jax.random.key(1)))


def _mlp_numpy(params, x, labels, *, num_blocks, width, time_film):
    """ScoreMLP's forward pass in NumPy float64 from its parameter tree, written from the docstring:
    time embedding Dense(act(Dense([sin, cos](2 pi log(labels) W)))), input Fourier features, then per
    block r = Dense(act(LN(h))); plain: act(LN(r + Dense(act(temb)))); FiLM: [scale, shift] =
    Dense(act(temb)), act(LN(r) (1 + scale) + shift); r = Dense(r); h = h + r; out = Dense(act(LN(h)))."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    act = lambda v: v / (1.0 + np.exp(-v))  # swish
    lin = lambda name, v: v @ p[name]["kernel"] + p[name]["bias"]

    def ln(name, v):
        mu, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
        return (v - mu) / np.sqrt(var + 1e-6) * p[name]["scale"] + p[name]["bias"]

    te = p["TimeEmbedding_0"]
    proj = 2 * np.pi * np.log(np.asarray(labels, np.float64))[:, None] * te["GaussianFourierProjection_0"]["W"]
    temb = np.concatenate([np.sin(proj), np.cos(proj)], -1)
    temb = act(temb @ te["Dense_0"]["kernel"] + te["Dense_0"]["bias"]) @ te["Dense_1"]["kernel"] + te["Dense_1"]["bias"]
    x = np.asarray(x, np.float64)
    xp = 2 * np.pi * x @ p["input_W"]
    h = lin("Dense_0", np.concatenate([x, np.sin(xp), np.cos(xp)], -1))
    for i in range(num_blocks):
        r = lin(f"Dense_{3 * i + 1}", act(ln(f"LayerNorm_{2 * i}", h)))
        mod = lin(f"Dense_{3 * i + 2}", act(temb))
        if time_film:
            r = act(ln(f"LayerNorm_{2 * i + 1}", r) * (1.0 + mod[:, :width]) + mod[:, width:])
        else:
            r = act(ln(f"LayerNorm_{2 * i + 1}", r + mod))
        h = h + lin(f"Dense_{3 * i + 3}", r)
    return lin(f"Dense_{3 * num_blocks + 1}", act(ln(f"LayerNorm_{2 * num_blocks}", h)))


@pytest.mark.parametrize("time_film", [False, True])
def test_mlp_forward_against_numpy(time_film):
    """The whole residual MLP, with or without FiLM time conditioning, against a float64 NumPy
    forward pass of the same (random, non-zero) parameters; and FiLM's parameter tree: the same
    names as the plain MLP's, with only each block's embedding Dense twice as wide."""
    width, nf, blocks = 16, 8, 2
    kwargs = dict(width=width, num_blocks=blocks, nf=nf, embedding_type="fourier", fourier_scale=1.0,
                  input_fourier=6, input_fourier_scale=1.0, init_scale=1.0)
    model = models.get_model("mlp", time_film=time_film, **kwargs)
    params = _random_params(model, (5, 2), scale=0.4, seed=3)
    x = np.random.default_rng(4).normal(size=(5, 2)).astype(np.float32)
    labels = np.linspace(0.3, 30.0, 5).astype(np.float32)
    out = model.apply({"params": params}, jnp.asarray(x), jnp.asarray(labels))
    ref = _mlp_numpy(params, x, labels, num_blocks=blocks, width=width, time_film=time_film)
    assert np.max(np.abs(ref)) > 0.1  # a non-trivial output
    np.testing.assert_allclose(out, ref, rtol=2e-4, atol=2e-4 * np.max(np.abs(ref)))
    if time_film:
        plain = models.get_model("mlp", time_film=False, **kwargs)
        plain_shapes = jax.tree.map(lambda a: a.shape, _random_params(plain, (5, 2)))
        film_shapes = jax.tree.map(lambda a: a.shape, params)
        assert sorted(plain_shapes) == sorted(film_shapes)
        differ = {k for k in film_shapes if film_shapes[k] != plain_shapes[k]}
        assert differ == {f"Dense_{3 * i + 2}" for i in range(blocks)}
        for k in differ:
            assert film_shapes[k] == {"kernel": (4 * nf, 2 * width), "bias": (2 * width,)}
            assert plain_shapes[k] == {"kernel": (4 * nf, width), "bias": (width,)}


# ----- errors name the argument ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("unet", {}, "unknown model 'unet'; valid names: \\['ddpm', 'ddpmpp', 'mlp', 'ncsn', 'ncsnpp', 'ncsnv2', "
                     "'ncsnv2_128', 'ncsnv2_256', 'ncsnv2_64'\\]"),
        ("ncsnpp", {"channels": 3}, "unknown argument\\(s\\) \\['channels'\\]"),
        ("ncsnpp", {"progressive": "skip"}, "unknown progressive 'skip'"),
        ("ncsnpp", {"progressive_input": "output_skip"}, "unknown progressive_input"),
        ("ncsnpp", {"progressive_combine": "mean"}, "unknown progressive_combine"),
        ("ddpmpp", {"resblock_type": "wide"}, "unknown resblock_type 'wide'"),
        ("ddpm", {"embedding_type": "learned"}, "unknown embedding_type 'learned'"),
        ("ddpm", {"nf": 10}, "nf must be a multiple of 4 .*, got nf=10"),
        ("ddpm", {"ch_mult": ()}, "ch_mult must be non-empty"),
        ("ddpm", {"attn_layout": "once"}, "unknown attn_layout 'once'"),
        ("ddpm", {"num_groups": 24}, "num_groups must be a divisor of every width .*, got num_groups=24"),
        ("ncsnpp", {"dropout": 1.0}, "dropout must be a finite number in \\[0.0, 1.0\\), got dropout=1.0"),
        ("mlp", {"nonlinearity": "gelu"}, "unknown nonlinearity 'gelu'"),
        ("mlp", {"num_blocks": 0}, "num_blocks must be a positive integer, got num_blocks=0"),
        ("mlp", {"time_film": 1}, "time_film must be True or False, got time_film=1"),
    ],
)
def test_bad_arguments_are_named(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.get_model(name, **kwargs)


def test_bad_inputs_are_named():
    model = models.get_model("ddpm", **TINY)
    with pytest.raises(ValueError, match="divisible by 2\\^\\(len\\(ch_mult\\) - 1\\) = 2"):
        _shapes(model, jax.ShapeDtypeStruct((2, 7, 7, 3), jnp.float32), jnp.ones(2))
    with pytest.raises(ValueError, match="labels must have shape \\[B\\]"):
        _shapes(model, jax.ShapeDtypeStruct((2, 8, 8, 3), jnp.float32), jnp.ones((2, 1)))
    with pytest.raises(ValueError, match="shape must be \\(batch, \\*data_shape\\)"):
        models.init_params(model, jax.random.key(0), (8,))
