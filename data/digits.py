"""The 8x8 handwritten digits, shipped with the package: a real image set that needs no download.

Source: the test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin and
C. Kaynak, 1998; https://archive.ics.uci.edu/dataset/80, licence CC BY 4.0), 1,797 images of
43 writers, each an 8x8 block count of a 32x32 bitmap with values 0..16, as scikit-learn ships it
(`sklearn/datasets/data/digits.csv.gz`, read by `sklearn.datasets.load_digits`).
`data/digits.npz` holds it unchanged: `images` uint8 [1797, 8, 8] (0..16) and `labels` uint8 [1797].

The loader scales the 17 grey levels to raw 8-bit intensities round(v * 255 / 16), optionally
resizes bilinearly (e.g. `image_size=16`), and keeps one channel: examples are (H, W, 1). The
last `num_eval` (297) images are the held-out split, the first 1,500 the training set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common import checks
from data.base import ArrayDataset, resize_images

DIGITS_FILE = Path(__file__).parent / "data" / "digits.npz"
NUM_DIGITS = 1797


def load_digits_file(path=DIGITS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 [N, 8, 8] (0..16) and labels uint8 [N] (0..9) from the npz file; never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"digits file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except Exception as e:  # zip, key or dtype errors all mean the file is damaged
        raise ValueError(f"cannot read digits file {path}: {e}") from e
    if images.ndim != 3 or images.shape[1:] != (8, 8) or labels.shape != images.shape[:1]:
        raise ValueError(
            f"digits file {path}: need images [N, 8, 8] and labels [N], "
            f"got {images.shape} and {labels.shape}"
        )
    for what, a, hi in (("pixel", images, 16), ("label", labels, 9)):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"digits file {path}: {what}s must be integers, got dtype {a.dtype}")
        bad = (a.reshape(a.shape[0], -1) > hi).any(axis=1) | (a.reshape(a.shape[0], -1) < 0).any(axis=1)
        if bad.any():
            raise ValueError(
                f"digits file {path}: {what} values outside 0..{hi}, first at image {int(np.argmax(bad))}"
            )
    return images.astype(np.uint8), labels.astype(np.uint8)


def digits(*, image_size: int = 8, num_eval: int = 297, path=DIGITS_FILE) -> ArrayDataset:
    """The digits as an image dataset of shape (image_size, image_size, 1), values in [0, 255]."""
    image_size = checks.positive_int("image_size", image_size)
    images, labels = load_digits_file(path)
    num_eval = checks.positive_int("num_eval", num_eval)
    if num_eval >= images.shape[0]:
        raise ValueError(f"num_eval must be < {images.shape[0]} (the number of digits), got {num_eval=}")
    x = np.rint(images.astype(np.float32) * (255.0 / 16.0)).astype(np.uint8)[..., None]
    if image_size != 8:
        x = resize_images(x, image_size)
    split = images.shape[0] - num_eval
    return ArrayDataset(
        "digits", x[:split], labels[:split], x[split:], labels[split:],
        is_image=True, num_classes=10, source=str(path),
    )
