"""Feature statistics of a data set, computed once and reused by FID (as pytorch-fid's and
clean-fid's reference files are).

    stats = dataset_stats(extractor, images01)        # mean [F] and covariance [F, F], float64
    save_stats("digits_train.npz", stats)             # {mu, sigma} + the extractor's name
    fid = fid_to_stats(features_of_samples, load_stats("digits_train.npz"))

The file is an `.npz` with arrays `mu` and `sigma`, the layout of pytorch-fid's statistics files
(`fid_stats_cifar10_train.npz` and the like), so published reference statistics are read as they
are (with the Inception features of `evaluation.inception_extractor`); read with allow_pickle=False.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from evaluation import metrics
from evaluation.features import FeatureExtractor, extract_features


class FeatureStats(NamedTuple):
    mu: np.ndarray  # [F]
    sigma: np.ndarray  # [F, F], the unbiased covariance
    feature: str = ""  # the extractor's name, where known
    count: int = 0  # images they were computed from, where known


def dataset_stats(extractor: FeatureExtractor, images, *, batch_size: int = 500) -> FeatureStats:
    """The Gaussian fit of the extractor's features of `images` ([N, H, W, C] in [0, 1])."""
    features = extract_features(extractor, images, batch_size=batch_size)
    mu, sigma = metrics.gaussian_fit(features)
    return FeatureStats(mu, sigma, extractor.name, len(features))


def save_stats(path, stats: FeatureStats) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, mu=stats.mu, sigma=stats.sigma, feature=np.asarray(stats.feature), count=np.asarray(stats.count))
    os.replace(tmp, path)
    return path


def load_stats(path) -> FeatureStats:
    """Reads a statistics file (ours or pytorch-fid's: arrays `mu` [F] and `sigma` [F, F])."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"eval.stats={path!r} does not exist (write one with --mode stats)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001 -- any unreadable file: name it
        raise ValueError(f"eval.stats={path!r} is not a readable .npz of named arrays: {e}") from e
    if "mu" not in arrays or "sigma" not in arrays:
        raise ValueError(f"eval.stats={path!r} must hold arrays 'mu' and 'sigma', got {sorted(arrays)}")
    mu, sigma = np.asarray(arrays["mu"], np.float64), np.asarray(arrays["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != (mu.shape[0],) * 2:
        raise ValueError(f"eval.stats={path!r}: mu must be [F] and sigma [F, F], got {mu.shape} and {sigma.shape}")
    feature = str(arrays["feature"]) if "feature" in arrays else ""
    count = int(arrays["count"]) if "count" in arrays else 0
    return FeatureStats(mu, sigma, feature, count)


def fid_to_stats(features, stats: FeatureStats) -> float:
    """FID between the Gaussian fit of `features` [N, F] and the statistics `stats`."""
    mu, sigma = metrics.gaussian_fit(features)
    if mu.shape != stats.mu.shape:
        raise ValueError(f"features have {mu.shape[0]} dimensions, the statistics {stats.mu.shape[0]} "
                         f"(feature {stats.feature!r})")
    return metrics.frechet_distance(mu, sigma, stats.mu, stats.sigma)
