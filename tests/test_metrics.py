"""FID, KID and sliced Wasserstein against closed forms, brute force and Monte Carlo; toy metrics
against the exact entropy of Gaussian data; the Inception feature extractor's layouts, pooling
conventions and weights-file checks (with random weights: none can be downloaded)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from evaluation import features, inception, metrics
from sde_lib import GaussianMixture


# ----- Fréchet distance / FID -----------------------------------------------------------------
def test_frechet_diagonal_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3.0, 5), rng.uniform(0.1, 3.0, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
    got = metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_frechet_full_covariances_match_sqrtm_formula():
    # Non-commuting covariances: against the textbook formula with scipy's sqrtm of C1 C2.
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    c1, c2 = A @ A.T + 0.1 * np.eye(6), B @ B.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * np.real(scipy.linalg.sqrtm(c1 @ c2)))
    np.testing.assert_allclose(metrics.frechet_distance(mu1, c1, mu2, c2), expected, rtol=1e-8)
    # A distance: zero from itself, symmetric.
    assert abs(metrics.frechet_distance(mu1, c1, mu1, c1)) < 1e-9
    np.testing.assert_allclose(
        metrics.frechet_distance(mu1, c1, mu2, c2), metrics.frechet_distance(mu2, c2, mu1, c1), rtol=1e-8
    )


def test_fid_same_gaussian_is_near_zero_and_shift_is_seen():
    # Two 20k draws of the same 4-D Gaussian: FID's expectation is O(d^2 / N) ~ 1e-3 here; 0.01 bounds it.
    rng = np.random.default_rng(2)
    L = np.array([[1.0, 0, 0, 0], [0.5, 1.0, 0, 0], [0.2, -0.3, 0.7, 0], [0.0, 0.4, 0.1, 0.5]])
    f1 = rng.normal(size=(20000, 4)) @ L.T
    f2 = rng.normal(size=(20000, 4)) @ L.T
    assert metrics.fid_from_features(f1, f2) < 0.01
    # A mean shift of 0.5 along every axis adds |shift|^2 = 1.0 (within the same MC tolerance).
    np.testing.assert_allclose(metrics.fid_from_features(f1, f2 + 0.5), 1.0, atol=0.03)


# ----- KID ------------------------------------------------------------------------------------
def _brute_mmd2(x, y):
    k = lambda a, b: (np.dot(a, b) / len(a) + 1.0) ** 3
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_mmd2_matches_brute_force():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 3)), rng.normal(1.0, 2.0, size=(7, 3))
    np.testing.assert_allclose(metrics.mmd2_unbiased(x, y), _brute_mmd2(x, y), rtol=1e-10)
    # With subset_size = the whole (equal-sized) sets, every subset is a permutation: KID = MMD^2, std 0.
    kid = metrics.kid_from_features(x[:5], y[:5], subsets=4, subset_size=5, seed=0)
    np.testing.assert_allclose(kid.mean, _brute_mmd2(x[:5], y[:5]), rtol=1e-10)
    assert kid.std < 1e-9


def _poly_mmd2_1d(m1, s1, m2, s2):
    """Population MMD^2 of N(m1, s1^2), N(m2, s2^2) with k(x, y) = (xy + 1)^3 (d = 1):
    E k(x, y) = 1 + 3 E[x]E[y] + 3 E[x^2]E[y^2] + E[x^3]E[y^3] for independent x, y."""
    mom = lambda m, s: (m, m * m + s * s, m**3 + 3 * m * s * s)
    ek = lambda p, q: 1 + 3 * p[0] * q[0] + 3 * p[1] * q[1] + p[2] * q[2]
    p, q = mom(m1, s1), mom(m2, s2)
    return ek(p, p) + ek(q, q) - 2 * ek(p, q)


@pytest.mark.parametrize("m2,s2", [(0.0, 1.0), (0.5, 1.2)])
def test_mmd2_is_unbiased(m2, s2):
    # 400 independent replicates of sets of 40: the mean estimate is within 4 standard errors of
    # the population MMD^2 (0 for identical distributions).
    rng = np.random.default_rng(4)
    vals = np.array([
        metrics.mmd2_unbiased(rng.normal(0.0, 1.0, (40, 1)), rng.normal(m2, s2, (40, 1)))
        for _ in range(400)
    ])
    se = vals.std() / math.sqrt(len(vals))
    assert abs(vals.mean() - _poly_mmd2_1d(0.0, 1.0, m2, s2)) < 4 * se, (vals.mean(), se)


def test_kid_near_zero_for_same_distribution_and_positive_otherwise():
    rng = np.random.default_rng(5)
    f1, f2 = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same = metrics.kid_from_features(f1, f2, subsets=20, subset_size=200, seed=0)
    diff = metrics.kid_from_features(f1, f2 * 1.5 + 0.3, subsets=20, subset_size=200, seed=0)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert diff.mean > 10 * max(same.std, 1e-4)


# ----- sliced Wasserstein ---------------------------------------------------------------------
def test_w2_1d_unequal_sizes_against_replication():
    # Repeating each of N points M times (and each of M points N times) gives equal-sized sets
    # with the same distributions, whose W2^2 is the mean squared gap of the sorted values.
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=7), rng.normal(1.0, 2.0, size=5)
    brute = np.mean((np.sort(np.repeat(x, 5)) - np.sort(np.repeat(y, 7))) ** 2)
    np.testing.assert_allclose(metrics.wasserstein2_1d_squared(x, y), brute, rtol=1e-12)
    # By hand: the quantile gaps are 0, 1, 2, 1 on u-intervals of widths 1/3, 1/6, 1/6, 1/3.
    by_hand = metrics.wasserstein2_1d_squared(np.array([0.0, 1, 2]), np.array([0.0, 3]))
    np.testing.assert_allclose(by_hand, 1 / 6 + 4 / 6 + 1 / 3)


def test_sliced_wasserstein_1d_gaussians_closed_form():
    # W2(N(m1, s1^2), N(m2, s2^2)) = sqrt((m1 - m2)^2 + (s1 - s2)^2); in 1-D the slices are +-1.
    rng = np.random.default_rng(7)
    x, y = rng.normal(0.0, 1.0, (20000, 1)), rng.normal(1.0, 2.0, (15000, 1))
    got = metrics.sliced_wasserstein(x, y, n_projections=4, key_or_seed=0)
    np.testing.assert_allclose(got, math.sqrt(2.0), atol=0.04)


def test_sliced_wasserstein_2d_closed_form_with_jax_key():
    # N(0, I) vs N(mu, I) in D dims: each slice is a shift by theta.mu, so SW2^2 = |mu|^2 / D.
    rng = np.random.default_rng(8)
    mu = np.array([3.0, -1.0])
    x, y = rng.normal(size=(8000, 2)), rng.normal(size=(8000, 2)) + mu
    got = metrics.sliced_wasserstein(x, y, n_projections=2000, key_or_seed=jax.random.key(0))
    np.testing.assert_allclose(got, np.linalg.norm(mu) / math.sqrt(2), rtol=0.03)
    assert metrics.sliced_wasserstein(x, x, n_projections=8, key_or_seed=1) == 0.0


# ----- toy metrics ----------------------------------------------------------------------------
def test_toy_metrics_against_gaussian_entropy():
    cov = jnp.array([[1.0, 0.6], [0.6, 0.8]])
    gm = GaussianMixture(jnp.ones((1,)), jnp.array([[0.5, -1.0]]), cov[None])
    k1, k2 = jax.random.split(jax.random.key(0))
    samples, fresh = np.asarray(gm.sample(k1, 20000)), np.asarray(gm.sample(k2, 20000))
    out = metrics.toy_metrics(samples, fresh, gm.log_prob, n_projections=64, seed=0)
    neg_entropy = -0.5 * math.log(np.linalg.det(2 * math.pi * math.e * np.asarray(cov)))
    # Mean log-density of 20k draws: std of log p is sqrt(D/2) = 1, so 4 SE = 0.03.
    np.testing.assert_allclose(out["data_log_prob_of_samples"], neg_entropy, atol=0.03)
    np.testing.assert_allclose(out["data_log_prob_of_data"], neg_entropy, atol=0.03)
    assert out["sliced_wasserstein"] < 0.05 and out["frechet"] < 0.01
    # Over-dispersed samples: further away and less likely under the data density.
    worse = metrics.toy_metrics(1.5 * (samples - 0.5) + 0.5, fresh, gm.log_prob, n_projections=64)
    assert worse["sliced_wasserstein"] > 0.2
    assert worse["data_log_prob_of_samples"] < neg_entropy - 0.3


# ----- errors ---------------------------------------------------------------------------------
def test_metric_errors_name_the_argument():
    f = np.zeros((10, 3))
    with pytest.raises(ValueError, match="same feature size"):
        metrics.fid_from_features(f, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="f1 must be features"):
        metrics.fid_from_features(np.zeros(10), f)
    with pytest.raises(ValueError, match="subset_size"):
        metrics.kid_from_features(f, f, subsets=2, subset_size=11)
    with pytest.raises(ValueError, match="n_projections"):
        metrics.sliced_wasserstein(f, f, n_projections=0)
    with pytest.raises(ValueError, match="NaN"):
        metrics.fid_from_features(np.full((4, 3), np.nan), f)
    with pytest.raises(ValueError, match="cov2"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))


# ----- Inception features from a user-supplied weights file -----------------------------------
def _random_inception_npz(path, seed=0, **extra):
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in inception.expected_arrays().items():
        if name.endswith("conv.weight"):
            arrays[name] = rng.normal(0, math.sqrt(2.0 / np.prod(shape[1:])), shape).astype(np.float32)
        elif name.endswith(("running_var", "bn.weight")):
            arrays[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            arrays[name] = rng.normal(0, 0.1, shape).astype(np.float32)
    arrays.update(extra)
    np.savez(path, **arrays)
    return arrays


def test_inception_first_unit_matches_explicit_conv_and_batchnorm(tmp_path):
    # Conv2d_1a_3x3 (3 -> 32, 3x3, stride 2) on NCHW input, against sliding windows in NumPy
    # followed by batch-norm with eps 1e-3 and ReLU: checks the layouts and the folding.
    arrays = _random_inception_npz(tmp_path / "w.npz")
    weights = inception.load_weights(tmp_path / "w.npz")
    x = np.random.default_rng(1).normal(size=(2, 3, 9, 9)).astype(np.float32)
    got = inception._conv(weights, inception.architecture(), "Conv2d_1a_3x3", jnp.asarray(x))
    # Windows [B, C, 4, 4, 3, 3] at stride 2.
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    y = np.einsum("bchwij,ocij->bohw", win, arrays["Conv2d_1a_3x3.conv.weight"])
    bn = lambda p: arrays[f"Conv2d_1a_3x3.bn.{p}"][None, :, None, None]
    y = (y - bn("running_mean")) / np.sqrt(bn("running_var") + 1e-3) * bn("weight") + bn("bias")
    np.testing.assert_allclose(got, np.maximum(y, 0.0), rtol=1e-4, atol=1e-5)


def test_inception_pooling_and_resize_conventions():
    # TF's average pool ignores the padding: a constant image stays constant, and the corner of
    # arange(9) in 3x3 averages only its 4 in-image neighbours.
    np.testing.assert_allclose(inception.avg_pool_3x3_same(jnp.full((1, 2, 5, 6), 3.0)), 3.0)
    corner = inception.avg_pool_3x3_same(jnp.arange(9.0).reshape(1, 1, 3, 3))[0, 0, 0, 0]
    np.testing.assert_allclose(corner, (0 + 1 + 3 + 4) / 4)
    # torch's bilinear interpolate (align_corners=False): [0, 1] -> [0, .25, .75, 1].
    up = jax.image.resize(jnp.array([0.0, 1.0]), (4,), "linear", antialias=False)
    np.testing.assert_allclose(up, [0, 0.25, 0.75, 1])


def test_inception_extractor_runs_and_checks_its_file(tmp_path):
    _random_inception_npz(tmp_path / "w.npz", fc_weight=np.zeros((3, 2048), np.float32))
    ex = features.inception_extractor(tmp_path / "w.npz", resolution=75)
    f = features.extract_features(ex, np.random.default_rng(2).uniform(size=(3, 16, 16, 1)), batch_size=2)
    assert f.shape == (3, 2048) and np.isfinite(f).all() and (f >= 0).all() and f.std() > 0
    with pytest.raises(FileNotFoundError, match="pytorch-fid"):
        features.inception_extractor(tmp_path / "absent.npz")
    np.savez(tmp_path / "part.npz", **{"Conv2d_1a_3x3.conv.weight": np.zeros((32, 3, 3, 3), np.float32)})
    with pytest.raises(ValueError, match="lack"):
        features.inception_extractor(tmp_path / "part.npz")
    arrays = dict(np.load(tmp_path / "w.npz"))
    arrays["Mixed_7c.branch_pool.bn.bias"] = np.zeros(7, np.float32)
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match=r"Mixed_7c.branch_pool.bn.bias has shape \(7,\)"):
        features.inception_extractor(tmp_path / "shape.npz")
    np.savez(tmp_path / "pickled.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="never loaded"):
        features.inception_extractor(tmp_path / "pickled.npz")
