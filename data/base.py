"""The `Dataset` interface and its two kinds: a finite array set and an endless generated stream.

A training loop asks a dataset only for `train_batch(seed, step, batch_size)`, a pure function
of its arguments, so a run resumed at step k sees exactly the batches it would have seen, and
`eval_batches(batch_size)`, a fixed held-out split in a fixed order. No state, no iterators to
checkpoint.

Finite sets (`ArrayDataset`) visit their examples epoch by epoch: epoch e is the permutation
`np.random.default_rng([seed, e]).permutation(n)`, the epochs are laid end to end, and step k
takes positions [k * B, (k + 1) * B) of that stream (a batch may straddle two epochs; none is
dropped). Generated sets (`StreamDataset`) draw step k's batch afresh from its own
`(seed, step)` generator.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from typing import Callable, Iterator

import numpy as np

from common import checks

Batch = tuple[np.ndarray, "np.ndarray | None"]


def check_seed_step(seed, step) -> None:
    checks.nonneg_int("seed", seed)
    checks.nonneg_int("step", step)


def check_finite(x: np.ndarray, source: str) -> None:
    """Raises a ValueError naming `source` and the first example index holding a NaN or inf."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        return
    bad = ~np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1) if x.ndim > 1 else ~np.isfinite(x)
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(
            f"{source} holds NaN or inf values; first bad example at index {index} "
            f"(of {bad.sum()} bad examples)"
        )


def heldout_size(n: int, fraction: float, source: str) -> int:
    """How many of n examples the last `fraction` are: at least 1, leaving at least 1 to train on."""
    checks.number("eval_fraction", fraction, low=0, high=1, low_open=True, high_open=True)
    if n < 2:
        raise ValueError(f"{source} holds {n} examples; need at least 2 to split off a held-out set")
    return min(max(1, int(round(n * fraction))), n - 1)


@functools.lru_cache(maxsize=8)
def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of epoch `epoch`: a permutation of range(n) from default_rng([seed, epoch])."""
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    perm.setflags(write=False)
    return perm


def stream_indices(seed: int, step: int, batch_size: int, n: int) -> np.ndarray:
    """Example indices of batch `step`: positions [step*B, (step+1)*B) of the epochs laid end to end."""
    pos = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
    epochs, offsets = np.divmod(pos, n)
    out = np.empty(batch_size, np.int64)
    for e in np.unique(epochs):
        sel = epochs == e
        out[sel] = epoch_permutation(int(seed), int(e), n)[offsets[sel]]
    return out


class Dataset(abc.ABC):
    """What a training loop sees: the per-example `shape` ((D,) for vectors, (H, W, C) for images),
    whether examples are images, the number of classes (None when unlabelled), deterministic
    training batches and a held-out split.

    Image values are raw intensities in [0, 255] (float32); `data.preprocess` scales them.
    """

    name: str
    shape: tuple[int, ...]
    is_image: bool
    num_classes: int | None

    @abc.abstractmethod
    def train_batch(self, seed: int, step: int, batch_size: int) -> Batch:
        """Batch `step` of the run seeded `seed`: x [B, *shape] float32 and y [B] int32 (or None)."""

    @abc.abstractmethod
    def eval_batches(self, batch_size: int, *, drop_remainder: bool = False) -> Iterator[Batch]:
        """The held-out split in a fixed order; the last batch is smaller unless `drop_remainder`."""

    @property
    @abc.abstractmethod
    def num_eval(self) -> int:
        """Size of the held-out split."""

    def log_prob(self, x) -> np.ndarray | None:
        """Exact log-density of the data at x [B, *shape] -> [B], or None where it is not known."""
        return None


def _batches(x: np.ndarray, y: np.ndarray | None, batch_size: int, drop_remainder: bool):
    batch_size = checks.positive_int("batch_size", batch_size)
    n = x.shape[0]
    stop = n - n % batch_size if drop_remainder else n
    for i in range(0, stop, batch_size):
        yield (
            np.asarray(x[i : i + batch_size], np.float32),
            None if y is None else np.asarray(y[i : i + batch_size], np.int32),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset(Dataset):
    """A finite set held in memory: training arrays (x_train [N, *shape], y_train [N] or None) and
    a held-out pair. Integer image data stays uint8 in memory and becomes float32 per batch."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_eval: np.ndarray
    y_eval: np.ndarray | None
    is_image: bool
    num_classes: int | None = None
    source: str = ""
    density: Callable | None = None

    def __post_init__(self):
        source = self.source or self.name
        for split, x, y in (("train", self.x_train, self.y_train), ("eval", self.x_eval, self.y_eval)):
            if x.shape[0] < 1:
                raise ValueError(f"{source}: the {split} split is empty")
            if x.shape[1:] != self.x_train.shape[1:]:
                raise ValueError(
                    f"{source}: {split} examples have shape {x.shape[1:]}, "
                    f"train examples {self.x_train.shape[1:]}"
                )
            if y is not None and y.shape != x.shape[:1]:
                raise ValueError(f"{source}: {split} labels have shape {y.shape}, need {x.shape[:1]}")
            if y is not None and self.num_classes is not None and y.size:
                bad = (y < 0) | (y >= self.num_classes)
                if bad.any():
                    i = int(np.argmax(bad))
                    raise ValueError(
                        f"{source}: {split} label {int(y[i])} at index {i} is outside "
                        f"[0, {self.num_classes})"
                    )
            check_finite(x, f"{source} ({split} split)")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def num_eval(self) -> int:
        return self.x_eval.shape[0]

    def train_batch(self, seed: int, step: int, batch_size: int) -> Batch:
        check_seed_step(seed, step)
        batch_size = checks.positive_int("batch_size", batch_size)
        idx = stream_indices(int(seed), int(step), batch_size, self.num_train)
        x = np.asarray(self.x_train[idx], np.float32)
        return x, None if self.y_train is None else np.asarray(self.y_train[idx], np.int32)

    def eval_batches(self, batch_size: int, *, drop_remainder: bool = False) -> Iterator[Batch]:
        return _batches(self.x_eval, self.y_eval, batch_size, drop_remainder)

    def log_prob(self, x) -> np.ndarray | None:
        if self.density is None:
            return None
        return np.asarray(self.density(np.asarray(x, np.float32)))


# draw(rng: np.random.Generator, n) -> x [n, *shape]
DrawFn = Callable[[np.random.Generator, int], np.ndarray]

# A fixed entropy for held-out sets, apart from every training (seed, step) pair.
EVAL_ENTROPY = 0x5C0_4E_EA1


@dataclasses.dataclass(frozen=True, eq=False)
class StreamDataset(Dataset):
    """An endless generated set: batch `step` of run `seed` is draw(default_rng([seed, step]), B).

    The held-out split is `num_eval` draws from a generator of fixed entropy, the same every run.
    """

    name: str
    shape: tuple[int, ...]
    draw: DrawFn
    num_eval_examples: int = 4096
    density: Callable | None = None
    is_image: bool = False
    num_classes: int | None = None

    @property
    def num_eval(self) -> int:
        return self.num_eval_examples

    def train_batch(self, seed: int, step: int, batch_size: int) -> Batch:
        check_seed_step(seed, step)
        batch_size = checks.positive_int("batch_size", batch_size)
        return self._draw(np.random.default_rng([int(seed), int(step)]), batch_size), None

    def eval_set(self) -> np.ndarray:
        return self._draw(np.random.default_rng(EVAL_ENTROPY), self.num_eval_examples)

    def eval_batches(self, batch_size: int, *, drop_remainder: bool = False) -> Iterator[Batch]:
        return _batches(self.eval_set(), None, batch_size, drop_remainder)

    def log_prob(self, x) -> np.ndarray | None:
        if self.density is None:
            return None
        return np.asarray(self.density(np.asarray(x, np.float32)))

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = np.asarray(self.draw(rng, n), np.float32)
        if x.shape != (n, *self.shape):
            raise ValueError(f"{self.name}: draw returned shape {x.shape}, need {(n, *self.shape)}")
        return x


def resize_images(x: np.ndarray, size: int, *, chunk: int = 1024) -> np.ndarray:
    """Bilinear (antialiased when shrinking) resize of uint8 images [N, H, W, C] to [N, size, size, C],
    rounded back to integers in [0, 255] so the result is still raw 8-bit data."""
    import jax  # only the loaders that resize pay for the import

    size = checks.positive_int("image_size", size)
    n, _, _, c = x.shape
    out = np.empty((n, size, size, c), np.uint8)
    for i in range(0, n, chunk):
        part = jax.image.resize(
            np.asarray(x[i : i + chunk], np.float32), (min(chunk, n - i), size, size, c), "linear"
        )
        out[i : i + chunk] = np.clip(np.rint(np.asarray(part)), 0, 255).astype(np.uint8)
    return out
