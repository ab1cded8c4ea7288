"""--mode stats: a data set's feature statistics written once, read by eval's FID (ours and
pytorch-fid's file layout)."""

import numpy as np
import pytest

from evaluation import FeatureExtractor, extract_features, fid_from_features, stats


def _extractor():
    """A fixed random 'network': tanh of a linear map of the pixels (16 features)."""
    w = np.random.default_rng(0).standard_normal((8 * 8 * 1, 16)).astype(np.float32) / 8
    return FeatureExtractor("random16", lambda images: np.tanh(np.reshape(images, (len(images), -1)) @ w))


def test_fid_from_a_stats_file_equals_fid_computed_directly(tmp_path):
    rng = np.random.default_rng(1)
    real, fake = rng.uniform(0, 1, (300, 8, 8, 1)), rng.uniform(0, 1, (200, 8, 8, 1)) ** 2
    extractor = _extractor()
    path = stats.save_stats(tmp_path / "s.npz", stats.dataset_stats(extractor, real))
    loaded = stats.load_stats(path)
    assert loaded.feature == "random16" and loaded.count == 300
    f_fake = extract_features(extractor, fake)
    direct = fid_from_features(f_fake, extract_features(extractor, real))
    assert direct > 0.1  # the two sets differ
    np.testing.assert_allclose(stats.fid_to_stats(f_fake, loaded), direct, rtol=1e-12)

    # pytorch-fid's layout: only mu and sigma (np.savez(path, mu=mu, sigma=sigma))
    np.savez(tmp_path / "pytorch_fid.npz", mu=loaded.mu, sigma=loaded.sigma)
    theirs = stats.load_stats(tmp_path / "pytorch_fid.npz")
    np.testing.assert_allclose(stats.fid_to_stats(f_fake, theirs), direct, rtol=1e-12)


def test_bad_stats_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="eval.stats=.*none.npz' does not exist"):
        stats.load_stats(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match="must hold arrays 'mu' and 'sigma', got \\['mean'\\]"):
        stats.load_stats(tmp_path / "bad.npz")
    np.savez(tmp_path / "shape.npz", mu=np.zeros(3), sigma=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"mu must be \[F\] and sigma \[F, F\]"):
        stats.load_stats(tmp_path / "shape.npz")
