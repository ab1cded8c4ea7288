"""Datasets: toy sets against their definitions, the shipped digits, CIFAR-10 binary files and image
folders written here, deterministic batches, errors that name the file, and preprocessing."""

import functools
import tarfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from scipy import stats
from scipy.special import logsumexp

import data
from data.base import ArrayDataset
from data.images import CIFAR_TEST_FILE, CIFAR_TRAIN_FILES
from data.toy import default_mixture

N = 8000  # toy draws per statistic; Monte-Carlo tolerances below are >= 4 standard errors


def draw(ds, n=N, seed=0):
    x, y = ds.train_batch(seed, 0, n)
    assert x.dtype == np.float32 and x.shape == (n, *ds.shape) and y is None
    return x.astype(np.float64)


# ----- registry -------------------------------------------------------------------------------
def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="valid names.*checkerboard.*two_moons"):
        data.get_dataset("mnist")
    assert set(data.DATASETS) == {
        "checkerboard", "swiss_roll", "eight_gaussians", "two_moons", "gaussian_mixture",
        "digits", "cifar10", "image_folder", "array_file",
    }


# ----- toy sets against their definitions -------------------------------------------------------
def test_eight_gaussians_modes():
    radius, std = 2.0, 0.2
    ds = data.get_dataset("eight_gaussians", radius=radius, std=std)
    x = draw(ds)
    angles = 2 * np.pi * np.arange(8) / 8
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    label = np.argmin(((x[:, None] - centres) ** 2).sum(-1), axis=1)
    for k in range(8):
        xk = x[label == k]
        assert abs(len(xk) / N - 1 / 8) < 0.02  # binomial s.e. 0.0037
        np.testing.assert_allclose(xk.mean(0), centres[k], atol=0.03)  # s.e. 0.0063
        np.testing.assert_allclose(xk.std(0), std, rtol=0.1)


def _mixture_logpdf_scipy(x, weights, means, covs):
    logs = [np.log(w) + stats.multivariate_normal(m, c).logpdf(x) for w, m, c in zip(weights, means, covs)]
    return logsumexp(np.stack(logs), axis=0)


def test_gaussian_mixture_moments_and_log_prob():
    gm = default_mixture()
    ds = data.get_dataset("gaussian_mixture")
    x = draw(ds, n=20000)
    # Mean s.e. <= sqrt(max var / n) ~ 0.013; covariance entries s.e. ~ 0.03.
    np.testing.assert_allclose(x.mean(0), gm.mean(), atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), gm.covariance(), atol=0.12)
    ref = _mixture_logpdf_scipy(x[:200], *map(np.asarray, gm))
    np.testing.assert_allclose(ds.log_prob(x[:200]), ref, rtol=1e-4, atol=1e-4)


def test_eight_gaussians_log_prob_matches_scipy():
    ds = data.get_dataset("eight_gaussians", radius=3.0, std=0.5)
    x = draw(ds, n=100)
    angles = 2 * np.pi * np.arange(8) / 8
    means = 3.0 * np.stack([np.cos(angles), np.sin(angles)], 1)
    ref = _mixture_logpdf_scipy(x, np.full(8, 1 / 8), means, np.broadcast_to(0.25 * np.eye(2), (8, 2, 2)))
    np.testing.assert_allclose(ds.log_prob(x), ref, rtol=1e-4, atol=1e-4)


def test_checkerboard_support_and_uniformity():
    x = draw(data.get_dataset("checkerboard"))
    assert np.all(np.abs(x) <= 4.0)
    cells = np.floor(x / 2).astype(int)
    assert np.all((cells[:, 0] + cells[:, 1]) % 2 == 0), "a point off the black squares"
    _, counts = np.unique(cells, axis=0, return_counts=True)
    assert len(counts) == 8 and np.all(np.abs(counts / N - 1 / 8) < 0.02)
    # Each column holds two of the four cells, so each coordinate is U[-4, 4].
    for d in range(2):
        assert stats.kstest(x[:, d], stats.uniform(-4, 8).cdf).pvalue > 1e-3


def test_swiss_roll_curve():
    x = draw(data.get_dataset("swiss_roll", noise=0.0))
    t = 5 * np.linalg.norm(x, axis=1)  # |(t cos t, t sin t)| = t
    np.testing.assert_allclose(5 * x, np.stack([t * np.cos(t), t * np.sin(t)], 1), atol=1e-3)
    assert stats.kstest(t, stats.uniform(1.5 * np.pi, 3 * np.pi).cdf).pvalue > 1e-3
    noisy = draw(data.get_dataset("swiss_roll", noise=0.2)) - x  # same (seed, step) stream
    np.testing.assert_allclose(noisy.std(0), 0.2, rtol=0.05)


def test_two_moons_arcs():
    x = draw(data.get_dataset("two_moons", noise=0.0))
    outer = np.abs(np.linalg.norm(x, axis=1) - 1) < 1e-5
    inner = np.abs(np.linalg.norm(x - [1.0, 0.5], axis=1) - 1) < 1e-5
    assert np.all(outer | inner), "a point on neither moon"
    assert np.all(x[outer & ~inner, 1] >= -1e-6) and np.all(x[inner & ~outer, 1] <= 0.5 + 1e-6)
    assert abs(outer.mean() - 0.5) < 0.03
    # Angle along the outer arc is U[0, pi].
    s = np.arctan2(x[outer & ~inner, 1], x[outer & ~inner, 0])
    assert stats.kstest(s, stats.uniform(0, np.pi).cdf).pvalue > 1e-3


@pytest.mark.parametrize("name", ["checkerboard", "two_moons", "gaussian_mixture"])
def test_toy_batches_are_pure_functions_of_seed_step(name):
    a, b = data.get_dataset(name), data.get_dataset(name)
    np.testing.assert_array_equal(a.train_batch(3, 7, 16)[0], b.train_batch(3, 7, 16)[0])
    assert not np.allclose(a.train_batch(3, 7, 16)[0], a.train_batch(3, 8, 16)[0])
    assert not np.allclose(a.train_batch(3, 7, 16)[0], a.train_batch(4, 7, 16)[0])
    ev = [x for x, _ in a.eval_batches(1000)]
    assert [len(e) for e in ev] == [1000] * 4 + [96] and a.num_eval == 4096
    np.testing.assert_array_equal(np.concatenate(ev), np.concatenate([x for x, _ in b.eval_batches(4096)]))
    assert [len(e) for e, _ in a.eval_batches(1000, drop_remainder=True)] == [1000] * 4


def test_finite_toy_set_and_epoch_order():
    ds = data.get_dataset("two_moons", num_train=20)
    assert ds.num_train == 20 and ds.log_prob(ds.x_train) is None
    # Batches of 7 over 20 examples: steps 0..19 cover positions 0..139 = 7 whole epochs,
    # each a permutation of the training set, in the order default_rng([seed, epoch]) gives.
    stream = np.concatenate([ds.train_batch(5, k, 7)[0] for k in range(20)])
    for e in range(7):
        perm = np.random.default_rng([5, e]).permutation(20)
        np.testing.assert_array_equal(stream[20 * e : 20 * (e + 1)], ds.x_train[perm])
    # A batch larger than the set spans several epochs.
    assert ds.train_batch(5, 0, 50)[0].shape == (50, 2)
    gm = data.get_dataset("gaussian_mixture", num_train=10)
    np.testing.assert_allclose(gm.log_prob(gm.x_train), default_mixture().log_prob(jnp.asarray(gm.x_train)))


def test_array_data_with_nan_names_source_and_index():
    x = np.zeros((10, 2), np.float32)
    x[3, 1] = np.nan
    x[6, 0] = np.inf
    with pytest.raises(ValueError, match=r"my_array.npz.*index 3"):
        ArrayDataset("arr", x, None, np.zeros((2, 2), np.float32), None, False, source="my_array.npz")
    with pytest.raises(ValueError, match=r"label 12 at index 1"):
        ArrayDataset("arr", x[:2] * 0, np.array([0, 12]), x[:1] * 0, np.array([0]), False, num_classes=10)


def test_bad_batch_arguments():
    ds = data.get_dataset("checkerboard")
    with pytest.raises(ValueError, match="batch_size=0"):
        ds.train_batch(0, 0, 0)
    with pytest.raises(ValueError, match="step=-1"):
        ds.train_batch(0, -1, 4)


# ----- digits ------------------------------------------------------------------------------------
def test_digits_shapes_values_labels():
    ds = data.get_dataset("digits")
    assert ds.shape == (8, 8, 1) and ds.is_image and ds.num_classes == 10
    assert ds.num_train == 1500 and ds.num_eval == 297
    x, y = ds.train_batch(0, 0, 1500)
    levels = np.rint(np.arange(17) * 255 / 16)
    assert np.isin(x, levels).all() and x.min() == 0 and x.max() == 255
    ys = np.concatenate([y] + [yb for _, yb in ds.eval_batches(100)])
    assert sorted(np.unique(ys)) == list(range(10))
    assert np.all(np.abs(np.bincount(ys) - 1797 / 10) < 10)  # the set is nearly balanced
    # Epoch 0 is a permutation of the training split.
    np.testing.assert_array_equal(np.sort(y), np.sort(ds.y_train))
    # Same mean ink per class in both splits (loose: different writers).
    xe = np.concatenate([xb for xb, _ in ds.eval_batches(297)])
    assert abs(xe.mean() - x.mean()) < 10


def test_digits_resized():
    small, big = data.get_dataset("digits"), data.get_dataset("digits", image_size=16)
    assert big.shape == (16, 16, 1)
    np.testing.assert_array_equal(small.y_train, big.y_train)
    # Bilinear upsampling keeps each image's mean intensity (up to edge effects and rounding).
    m_small = small.x_train.reshape(1500, -1).mean(1)
    m_big = big.x_train.reshape(1500, -1).mean(1)
    assert np.max(np.abs(m_small - m_big)) < 6 and abs(m_small.mean() - m_big.mean()) < 1


def test_digits_file_errors(tmp_path):
    from data.digits import digits

    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        digits(path=tmp_path / "nowhere.npz")
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        digits(path=bad)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images=np.array([object()] * 4, dtype=object), labels=np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="pickled.npz.*allow_pickle"):
        digits(path=pickled)
    out_of_range = tmp_path / "range.npz"
    images = np.zeros((5, 8, 8), np.uint8)
    images[2, 0, 0] = 17
    np.savez(out_of_range, images=images, labels=np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="range.npz.*first at image 2"):
        digits(path=out_of_range)


# ----- CIFAR-10 binary ---------------------------------------------------------------------------
def _cifar_records(rng, n):
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    raw = np.concatenate([labels[:, None], images.transpose(0, 3, 1, 2).reshape(n, -1)], axis=1)
    return images, labels, raw.tobytes()


@pytest.fixture
def cifar_dir(tmp_path):
    """Five training files of 2 records each and a test file of 3, with the arrays they hold."""
    rng = np.random.default_rng(0)
    d = tmp_path / "cifar"
    d.mkdir()
    xs, ys = [], []
    for name in CIFAR_TRAIN_FILES:
        x, y, raw = _cifar_records(rng, 2)
        (d / name).write_bytes(raw)
        xs.append(x), ys.append(y)
    xt, yt, raw = _cifar_records(rng, 3)
    (d / CIFAR_TEST_FILE).write_bytes(raw)
    return d, np.concatenate(xs), np.concatenate(ys), xt, yt


def test_cifar_binary_values_and_labels(cifar_dir):
    d, x, y, xt, yt = cifar_dir
    ds = data.get_dataset("cifar10", data_dir=d)
    assert ds.shape == (32, 32, 3) and ds.is_image and ds.num_classes == 10
    np.testing.assert_array_equal(ds.x_train, x)
    np.testing.assert_array_equal(ds.y_train, y)
    # Pixel (h, w, c) is byte 1 + 1024 c + 32 h + w of its record.
    raw = np.frombuffer((d / CIFAR_TEST_FILE).read_bytes(), np.uint8).reshape(3, -1)
    (xe, ye), = list(ds.eval_batches(8))
    assert xe.dtype == np.float32 and ye.dtype == np.int32
    assert xe[1, 4, 7, 2] == raw[1, 1 + 1024 * 2 + 32 * 4 + 7] and ye[2] == raw[2, 0]
    np.testing.assert_array_equal(xe, xt)
    np.testing.assert_array_equal(ye, yt)
    xb, yb = ds.train_batch(1, 0, 10)
    order = np.random.default_rng([1, 0]).permutation(10)
    np.testing.assert_array_equal(xb, x[order])
    np.testing.assert_array_equal(yb, y[order])
    np.testing.assert_array_equal(xb, data.cifar10(path=d).train_batch(1, 0, 10)[0])


def test_cifar_from_archive_and_subfolder(cifar_dir, tmp_path):
    d, x, y, xt, yt = cifar_dir
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for f in sorted(d.iterdir()):
            tar.add(f, arcname=f"cifar-10-batches-bin/{f.name}")
    for source in (archive, tmp_path / "unpacked"):
        if source.name == "unpacked":
            with tarfile.open(archive) as tar:
                tar.extractall(source, filter="data")
        ds = data.get_dataset("cifar10", data_dir=source)
        np.testing.assert_array_equal(ds.x_train, x)
        np.testing.assert_array_equal(ds.y_eval, yt)
    small = data.get_dataset("cifar10", data_dir=archive, image_size=16)
    assert small.shape == (16, 16, 3) and small.x_train.dtype == np.uint8
    np.testing.assert_allclose(small.x_train.mean((1, 2)), x.mean((1, 2)), atol=3)


def test_cifar_errors_name_the_file(cifar_dir, tmp_path):
    d, *_ = cifar_dir
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        data.cifar10(data_dir=tmp_path / "no_such_dir")
    with pytest.raises(ValueError, match="exactly one of data_dir or path"):
        data.cifar10()
    (d / "data_batch_2.bin").write_bytes((d / "data_batch_2.bin").read_bytes()[:-5])
    with pytest.raises(ValueError, match=r"data_batch_2\.bin has 6141 bytes"):
        data.cifar10(data_dir=d)
    raw = bytearray((d / "data_batch_1.bin").read_bytes())
    (d / "data_batch_2.bin").write_bytes(bytes(raw))
    raw[3073] = 10
    (d / "data_batch_1.bin").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"data_batch_1\.bin: label 10 at record 1"):
        data.cifar10(data_dir=d)
    (d / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3\.bin"):
        data.cifar10(data_dir=d)
    junk = tmp_path / "cifar-10-binary.tar.gz"
    junk.write_bytes(b"\x1f\x8b definitely not gzip")
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz"):
        data.cifar10(path=junk)
    partial = tmp_path / "partial.tar.gz"
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(d / CIFAR_TEST_FILE, arcname=CIFAR_TEST_FILE)
    with pytest.raises(FileNotFoundError, match=r"data_batch_1\.bin not found in archive .*partial"):
        data.cifar10(path=partial)


# ----- image folders -----------------------------------------------------------------------------
def _save(path, array, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)


@pytest.fixture
def folder(tmp_path):
    """12 RGB 6x5 PNGs in nested folders (plus a stray text file); returns the arrays in sorted order."""
    rng = np.random.default_rng(1)
    root = tmp_path / "imgs"
    names = [f"{sub}/img_{i:02d}.png" for sub in ("a", "b/c") for i in range(6)]
    arrays = [rng.integers(0, 256, (6, 5, 3), dtype=np.uint8) for _ in names]
    for name, a in zip(names, arrays):
        _save(root / name, a)
    (root / "notes.txt").write_text("not an image")
    return root, np.stack(arrays)


def test_image_folder_reads_all_pngs_in_order(folder):
    root, arrays = folder
    ds = data.get_dataset("image_folder", path=root)
    assert ds.shape == (6, 5, 3) and ds.is_image and ds.num_classes is None
    assert ds.num_train == 11 and ds.num_eval == 1  # the last ~10%, in sorted order
    np.testing.assert_array_equal(ds.x_train, arrays[:11])
    (xe, ye), = list(ds.eval_batches(4))
    assert ye is None
    np.testing.assert_array_equal(xe, arrays[11:])
    x, y = ds.train_batch(2, 1, 11)
    assert y is None
    np.testing.assert_array_equal(x, arrays[np.random.default_rng([2, 1]).permutation(11)])


def test_image_folder_grey_jpeg_and_conversion(tmp_path):
    root = tmp_path / "grey"
    ramp = np.tile(np.linspace(0, 250, 8).astype(np.uint8), (8, 1))
    for i in range(4):
        _save(root / f"{i}.jpg", ramp, "JPEG")
    ds = data.image_folder(data_dir=root, image_size=8)
    assert ds.shape == (8, 8, 1)
    assert np.max(np.abs(ds.x_train[0, ..., 0].astype(int) - ramp)) < 12  # JPEG is lossy
    rgb = data.image_folder(data_dir=root, mode="RGB")
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_array_equal(rgb.x_train, np.repeat(ds.x_train, 3, axis=-1))


def test_image_folder_errors_name_the_file(folder, tmp_path):
    root, arrays = folder
    with pytest.raises(ValueError, match=r"img_00\.png \(index 0\) is 6x5 \(HxW\); expected 4x4"):
        data.image_folder(path=root, image_size=4)
    _save(root / "b/c/img_03.png", arrays[0, :, :4])
    with pytest.raises(ValueError, match=r"b/c/img_03\.png \(index 9\) is 6x4"):
        data.image_folder(path=root)
    _save(root / "b/c/img_03.png", arrays[0, ..., 0])
    with pytest.raises(ValueError, match=r"img_03\.png \(index 9\) has mode 'L'.*mode='RGB'"):
        data.image_folder(path=root)
    assert data.image_folder(path=root, mode="RGB").shape == (6, 5, 3)
    (root / "b/c/img_03.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match=r"cannot read image file .*img_03\.png"):
        data.image_folder(path=root)
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        data.image_folder(path=tmp_path / "missing_dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no PNG/JPEG files.*empty"):
        data.image_folder(path=tmp_path / "empty")
    _save(tmp_path / "rgba" / "x.png", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"x\.png has mode 'RGBA'"):
        data.image_folder(path=tmp_path / "rgba")


def test_image_folder_center_crop_and_resize(tmp_path):
    # score_sde's central crop: a centred square at offsets ((H - side) // 2, (W - side) // 2).
    rng = np.random.default_rng(3)
    root = tmp_path / "mixed"
    arrays = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((9, 12, 3), (13, 8, 3), (10, 10, 3))]
    for i, a in enumerate(arrays):
        _save(root / f"{i}.png", a)

    def crop(a, side):
        top, left = (a.shape[0] - side) // 2, (a.shape[1] - side) // 2
        return a[top:top + side, left:left + side]

    ds = data.image_folder(path=root, center_crop=7, eval_fraction=0.34)
    assert ds.shape == (7, 7, 3)
    np.testing.assert_array_equal(np.concatenate([ds.x_train, ds.x_eval]), np.stack([crop(a, 7) for a in arrays]))
    # "square" (the largest centred square, LSUN) then a box resize to 4x4: mean of 2x2 blocks for
    # the 8x8 crop, computed here independently; 9x9 and 10x10 crops are resized too.
    ds = data.image_folder(path=root, center_crop="square", resize="box", image_size=4, eval_fraction=0.34)
    assert ds.shape == (4, 4, 3)
    square = crop(arrays[1], 8).astype(float)
    blocks = square.reshape(4, 2, 4, 2, 3).mean(axis=(1, 3))
    assert np.max(np.abs(ds.x_train[1] - blocks)) <= 1.0  # PIL rounds in fixed point: within 1 level
    flat = tmp_path / "flat"
    for i in range(2):
        _save(flat / f"{i}.png", np.full((12, 16, 3), 77, np.uint8))
    for method in ("bilinear", "bicubic"):
        ds = data.image_folder(path=flat, center_crop="square", resize=method, image_size=5)
        assert ds.shape == (5, 5, 3) and np.all(ds.x_train == 77) and np.all(ds.x_eval == 77)


@pytest.mark.parametrize("kwargs, match", [
    (dict(center_crop=0), "center_crop must be a positive integer, 'square' or None, got center_crop=0"),
    (dict(center_crop="middle"), "center_crop='middle'"),
    (dict(resize="lanczos", image_size=4), "unknown resize 'lanczos'; valid: "),
    (dict(resize="box"), "resize='box' needs the target size, got image_size=None"),
    (dict(center_crop=7), r"img_00\.png \(index 0\).*center_crop=7 is larger than the image \(6x5"),
    (dict(center_crop=4, image_size=3), r"img_00\.png \(index 0\) is 4x4 \(HxW\); expected 3x3"),
])
def test_image_folder_bad_crop_and_resize_are_named(folder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.image_folder(path=folder[0], **kwargs)


# ----- preprocessing -----------------------------------------------------------------------------
def test_preprocess_ranges_and_dequantization():
    x = jnp.asarray(np.random.default_rng(0).integers(0, 256, (64, 4, 4, 3)), jnp.float32)
    x = x.at[0].set(0.0).at[1].set(255.0)
    y = data.preprocess(None, x)
    assert y[0].min() == -1 and y[1].max() == 1
    np.testing.assert_allclose(y, 2 * x / 255 - 1, atol=1e-6)
    np.testing.assert_allclose(data.preprocess(None, x, centered=False), x / 255, atol=1e-6)
    np.testing.assert_allclose(data.postprocess(y, centered=True), x / 255, atol=1e-6)
    d = data.preprocess(jax.random.key(0), x, uniform_dequantization=True, centered=False)
    assert d.min() >= 0 and d.max() < 1
    u = np.asarray(d) * 256 - np.asarray(x)  # the added noise, U[0, 1)
    assert u.min() >= -1e-3 and u.max() < 1 + 1e-3
    assert stats.kstest(u.ravel()[:3000], "uniform").pvalue > 1e-3
    c = data.preprocess(jax.random.key(0), x, uniform_dequantization=True, centered=True)
    np.testing.assert_allclose(c, 2 * d - 1, atol=1e-6)


def test_preprocess_random_flip_and_jit():
    x = jnp.asarray(np.random.default_rng(1).integers(0, 256, (200, 3, 4, 2)), jnp.float32)
    fn = jax.jit(functools.partial(data.preprocess, random_flip=True, centered=False))
    y = np.asarray(fn(jax.random.key(3), x)) * 255
    plain = np.isclose(y, np.asarray(x), atol=1e-3).all(axis=(1, 2, 3))
    flipped = np.isclose(y, np.asarray(x)[:, :, ::-1], atol=1e-3).all(axis=(1, 2, 3))
    assert np.all(plain ^ flipped), "each example is either itself or its mirror along W"
    assert 60 < flipped.sum() < 140  # Binomial(200, 1/2): mean 100, s.d. 7
    np.testing.assert_allclose(data.preprocess(jax.random.key(3), x, random_flip=True, centered=False),
                               y / 255, atol=1e-6)


def test_preprocess_passes_toy_data_and_checks_key():
    v = jnp.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(
        data.preprocess(jax.random.key(0), v, uniform_dequantization=True, random_flip=True), v
    )
    with pytest.raises(ValueError, match="key=None"):
        data.preprocess(None, jnp.zeros((1, 2, 2, 1)), random_flip=True)
    with pytest.raises(ValueError, match="x.shape=\\(2, 3, 4\\)"):
        data.preprocess(None, jnp.zeros((2, 3, 4)))


# ----- arrays from a .npy / .npz file -----------------------------------------------------------
def test_array_file_vectors_and_images(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3)).astype(np.float64)
    np.save(tmp_path / "points.npy", points)
    ds = data.get_dataset("array_file", path=str(tmp_path / "points.npy"))
    assert ds.shape == (3,) and not ds.is_image and ds.num_train + ds.num_eval == 50 and ds.num_eval == 5
    rows = np.concatenate([ds.x_train, ds.x_eval])  # every row once, as float32
    np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(points.astype(np.float32), axis=0))
    x, y = ds.train_batch(0, 3, 8)
    assert x.dtype == np.float32 and x.shape == (8, 3) and y is None
    np.testing.assert_array_equal(x, ds.train_batch(0, 3, 8)[0])  # a pure function of (seed, step)

    images = rng.integers(0, 256, (12, 4, 4, 1), dtype=np.uint8)
    np.savez(tmp_path / "images.npz", images=images)
    ds = data.get_dataset("array_file", path=str(tmp_path / "images.npz"))
    assert ds.is_image and ds.shape == (4, 4, 1) and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(np.sort(np.concatenate([ds.x_train, ds.x_eval]).ravel()), np.sort(images.ravel()))
    np.save(tmp_path / "float_images.npy", images / 255.0)  # floats in [0, 1] are the same images
    same = data.get_dataset("array_file", path=str(tmp_path / "float_images.npy"))
    np.testing.assert_array_equal(same.x_train, ds.x_train)
    np.savez(tmp_path / "two.npz", a=points, b=points[:10])
    assert data.get_dataset("array_file", path=str(tmp_path / "two.npz"), key="b").num_train == 9


@pytest.mark.parametrize("name, array, match", [
    ("rank3.npy", np.zeros((10, 4, 4)), r"vectors \[N, D\] or images \[N, H, W, C\].*\(10, 4, 4\).*channel axis"),
    ("rank1.npy", np.zeros(10), r"shape \(10,\)"),
    ("one_row.npy", np.zeros((1, 2)), "holds 1 rows.*at least 2"),
    ("empty.npy", np.zeros((0, 2)), "holds 0 rows"),
    ("nan.npy", np.concatenate([np.zeros((5, 2)), [[0.0, np.nan]], np.zeros((4, 2))]), "NaN or inf.*index 5"),
    ("bright.npy", np.full((4, 2, 2, 1), 2.0), r"float images must lie in \[0, 1\].*\[2, 2\]"),
    ("int_images.npy", np.full((4, 2, 2, 1), 300), "0..255"),
    ("strings.npy", np.array([["a", "b"], ["c", "d"]]), "dtype <U1"),
    ("two.npz", None, "holds 2 arrays"),
])
def test_array_file_errors_name_the_file(tmp_path, name, array, match):
    path = tmp_path / name
    if array is None:
        np.savez(path, a=np.zeros((4, 2)), b=np.zeros((4, 2)))
    else:
        np.save(path, array)
    with pytest.raises(ValueError, match=match) as info:
        data.get_dataset("array_file", path=str(path))
    assert str(path) in str(info.value)


def test_array_file_never_unpickles(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled Python objects, which are never loaded"):
        data.get_dataset("array_file", path=str(path))
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        data.get_dataset("array_file", path=str(tmp_path / "objects.npz"))
    with pytest.raises(FileNotFoundError, match="none.npy"):
        data.get_dataset("array_file", path=str(tmp_path / "none.npy"))
