"""Image sets from local disk, without TensorFlow and without unpickling anything.

CIFAR-10 (Krizhevsky, 2009) is read from the official *binary* version
(https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz): `data_batch_1.bin` .. `data_batch_5.bin`
(training, 50,000 images) and `test_batch.bin` (held out, 10,000). Each record is 1 label byte
followed by 3,072 pixel bytes, the 32x32 red, green and blue planes in turn (channel-major); we
return HWC. The files may lie in a directory (or its `cifar-10-batches-bin/` subfolder, as the
archive unpacks) or be read straight out of the .tar.gz.

An image folder is every PNG/JPEG file under a directory (recursively, sorted by relative path),
all of one size and mode ("L" -> 1 channel, "RGB" -> 3); the last `eval_fraction` of them are the
held-out split. Nothing is converted or resized silently: a file of another size or mode is an
error that names it, unless `mode=` asks for conversion.
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from datasets.base import ArrayDataset, check_positive_int, heldout_size, resize_images

CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch.bin"
CIFAR_RECORD = 1 + 3 * 32 * 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = {"L": 1, "RGB": 3}


def _one_path(data_dir, path, loader: str) -> Path:
    if (data_dir is None) == (path is None):
        raise ValueError(f"{loader} needs exactly one of data_dir or path, got {data_dir=}, {path=}")
    return Path(os.fspath(data_dir if path is None else path)).expanduser()


def parse_cifar_records(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 [N, 32, 32, 3] and labels uint8 [N] from the bytes of one CIFAR-10 .bin file."""
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise ValueError(
            f"CIFAR-10 file {source} has {len(raw)} bytes, not a positive multiple of the "
            f"{CIFAR_RECORD}-byte record (1 label + 3x32x32 pixels): truncated or not a binary batch"
        )
    records = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].copy()
    if (labels > 9).any():
        i = int(np.argmax(labels > 9))
        raise ValueError(f"CIFAR-10 file {source}: label {labels[i]} at record {i} is not in 0..9")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _read_cifar_dir(root: Path, names) -> dict[str, bytes]:
    sub = root / "cifar-10-batches-bin"
    base = sub if not (root / names[0]).exists() and sub.is_dir() else root
    out = {}
    for name in names:
        f = base / name
        if not f.is_file():
            raise FileNotFoundError(f"CIFAR-10 file not found: {f}")
        try:
            out[str(f)] = f.read_bytes()
        except OSError as e:
            raise OSError(f"cannot read CIFAR-10 file {f}: {e}") from e
    return out


def _read_cifar_tar(archive: Path, names) -> dict[str, bytes]:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            out = {}
            for name in names:
                if name not in members:
                    raise FileNotFoundError(f"CIFAR-10 file {name} not found in archive {archive}")
                out[f"{archive}:{members[name].name}"] = tar.extractfile(members[name]).read()
            return out
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise ValueError(f"cannot read CIFAR-10 archive {archive}: {e}") from e


def cifar10(*, data_dir=None, path=None, image_size: int = 32) -> ArrayDataset:
    """CIFAR-10 from `data_dir` (or `path`): a directory holding the .bin files, or the .tar.gz.

    `image_size` other than 32 resizes bilinearly (rounded back to 8-bit integers) at load time.
    """
    root = _one_path(data_dir, path, "cifar10")
    image_size = check_positive_int("image_size", image_size)
    names = (*CIFAR_TRAIN_FILES, CIFAR_TEST_FILE)
    if root.is_dir():
        raw = _read_cifar_dir(root, names)
    elif root.is_file():
        raw = _read_cifar_tar(root, names)
    else:
        raise FileNotFoundError(f"CIFAR-10 directory or archive not found: {root}")
    parsed = [parse_cifar_records(data, source) for source, data in raw.items()]
    x_train = np.concatenate([p[0] for p in parsed[:-1]])
    y_train = np.concatenate([p[1] for p in parsed[:-1]])
    x_test, y_test = parsed[-1]
    if image_size != 32:
        x_train, x_test = resize_images(x_train, image_size), resize_images(x_test, image_size)
    return ArrayDataset(
        "cifar10", x_train, y_train, x_test, y_test, is_image=True, num_classes=10, source=str(root)
    )


def _read_image(f: Path, index: int, mode: str | None, size: tuple[int, int] | None):
    """One image as uint8 [H, W, C] and its mode; errors name the file and its index."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(f) as img:
            img.load()
            if mode is not None and img.mode != mode:
                img = img.convert(mode)
            got_mode, got_size = img.mode, (img.height, img.width)
            array = np.asarray(img)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise ValueError(f"cannot read image file {f} (index {index}): {e}") from e
    if size is not None and got_size != size:
        raise ValueError(
            f"image file {f} (index {index}) is {got_size[0]}x{got_size[1]} (HxW); "
            f"expected {size[0]}x{size[1]}"
        )
    return array.reshape(*got_size, -1), got_mode


def image_folder(
    *, data_dir=None, path=None, image_size: int | None = None, mode: str | None = None,
    eval_fraction: float = 0.1,
) -> ArrayDataset:
    """Every PNG/JPEG under `data_dir` (or `path`), as uint8 [H, W, C]; the last `eval_fraction`
    (in sorted order) held out. `image_size` (square) is inferred from the first image when None.
    `mode` None requires every image to share the first one's mode ("L" or "RGB"); "L" or "RGB"
    converts every image to it."""
    root = _one_path(data_dir, path, "image_folder")
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)} or None, got {mode=}")
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    files = sorted(
        (f for f in root.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()),
        key=lambda f: f.relative_to(root).as_posix(),
    )
    if not files:
        raise FileNotFoundError(f"no PNG/JPEG files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    size = None if image_size is None else (check_positive_int("image_size", image_size),) * 2
    first, first_mode = _read_image(files[0], 0, mode, size)
    if first_mode not in MODES:
        raise ValueError(
            f"image file {files[0]} has mode {first_mode!r}; supported: {sorted(MODES)} "
            f"(pass mode='RGB' or mode='L' to convert)"
        )
    size = size or first.shape[:2]
    images = np.empty((len(files), *size, MODES[first_mode]), np.uint8)
    images[0] = first
    for i, f in enumerate(files[1:], start=1):
        array, got_mode = _read_image(f, i, mode, size)
        if got_mode != first_mode:
            raise ValueError(
                f"image file {f} (index {i}) has mode {got_mode!r}, but {files[0]} has {first_mode!r}; "
                f"pass mode='RGB' or mode='L' to convert"
            )
        images[i] = array
    n_eval = heldout_size(len(files), eval_fraction, f"image folder {root}")
    split = len(files) - n_eval
    return ArrayDataset(
        "image_folder", images[:split], None, images[split:], None, is_image=True, source=str(root)
    )
