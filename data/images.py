"""Image sets from local disk, without TensorFlow and without unpickling anything.

CIFAR-10 (Krizhevsky, 2009) is read from the official *binary* version
(https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz): `data_batch_1.bin` .. `data_batch_5.bin`
(training, 50,000 images) and `test_batch.bin` (held out, 10,000). Each record is 1 label byte
followed by 3,072 pixel bytes, the 32x32 red, green and blue planes in turn (channel-major); we
return HWC. The files may lie in a directory (or its `cifar-10-batches-bin/` subfolder, as the
archive unpacks) or be read straight out of the .tar.gz.

An image folder is every PNG/JPEG file under a directory (recursively, sorted by relative path),
all of one size and mode ("L" -> 1 channel, "RGB" -> 3); the last `eval_fraction` of them are the
held-out split. Nothing is converted, cropped or resized silently: a file of another size or mode
is an error that names it, unless `mode=` asks for conversion, or `center_crop=` / `resize=` for
the preprocessing of Song et al. (2021, `datasets.py`): each image is first cropped to its centred
square of side `center_crop` (an int; "square": the largest one, side min(H, W)), then resized to
image_size x image_size with PIL's antialiased `resize` filter ("bilinear", "bicubic" or "box").
CelebA 64 is center_crop=140, resize="bilinear"; LSUN 256 center_crop="square", resize="bicubic".
"""

from __future__ import annotations

import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from common import checks
from data.base import ArrayDataset, heldout_size, resize_images

CIFAR_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST_FILE = "test_batch.bin"
CIFAR_RECORD = 1 + 3 * 32 * 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = {"L": 1, "RGB": 3}
RESIZE_FILTERS = ("bilinear", "bicubic", "box")


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
    image_size = checks.positive_int("image_size", image_size)
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


def _crop_box(height: int, width: int, center_crop) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the centred square crop, as score_sde's central_crop /
    crop_resize place it: offsets (H - side) // 2 and (W - side) // 2."""
    if center_crop is None:
        return None
    side = min(height, width) if center_crop == "square" else center_crop
    top, left = (height - side) // 2, (width - side) // 2
    return left, top, left + side, top + side


def _read_image(f: Path, index: int, mode: str | None, size: tuple[int, int] | None, center_crop=None,
                resize: str | None = None):
    """One image as uint8 [H, W, C] and its mode; errors name the file and its index."""
    from PIL import Image, UnidentifiedImageError  # lazy: only image-folder data pays for Pillow's import

    try:
        with Image.open(f) as img:
            img.load()
            if mode is not None and img.mode != mode:
                img = img.convert(mode)
            box = _crop_box(img.height, img.width, center_crop)
            if box is not None:
                if box[2] - box[0] > min(img.height, img.width):
                    raise ValueError(f"center_crop={center_crop!r} is larger than the image "
                                     f"({img.height}x{img.width}, HxW)")
                img = img.crop(box)
            if resize is not None and (img.height, img.width) != size:
                img = img.resize(size[::-1], getattr(Image.Resampling, resize.upper()))
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


def _check_crop_resize(center_crop, resize, image_size) -> None:
    if center_crop is not None and center_crop != "square":
        try:
            checks.positive_int("center_crop", center_crop)
        except checks.ArgumentError:
            raise checks.ArgumentError("center_crop", center_crop, "a positive integer, 'square' or None") from None
    if resize is not None:
        checks.choice("resize", resize, RESIZE_FILTERS)
        if image_size is None:
            raise checks.ArgumentError("image_size", image_size, message=(
                f"resize={resize!r} needs the target size, got image_size=None"))


def image_folder(
    *, data_dir=None, path=None, image_size: int | None = None, mode: str | None = None,
    eval_fraction: float = 0.1, center_crop: int | str | None = None, resize: str | None = None,
) -> ArrayDataset:
    """Every PNG/JPEG under `data_dir` (or `path`), as uint8 [H, W, C]; the last `eval_fraction`
    (in sorted order) held out. `image_size` (square) is inferred from the first image when None.
    `mode` None requires every image to share the first one's mode ("L" or "RGB"); "L" or "RGB"
    converts every image to it. `center_crop` (side in pixels, or "square") crops each image to
    its centred square first; `resize` ("bilinear" | "bicubic" | "box", antialiased) then resizes
    it to image_size (required with it). Without `resize` every (cropped) image must already be
    image_size x image_size. All images are held in memory (N x H x W x C bytes)."""
    root = _one_path(data_dir, path, "image_folder")
    if mode is not None:
        checks.choice("mode", mode, MODES)
    _check_crop_resize(center_crop, resize, image_size)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    files = sorted(
        (f for f in root.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()),
        key=lambda f: f.relative_to(root).as_posix(),
    )
    if not files:
        raise FileNotFoundError(f"no PNG/JPEG files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    size = None if image_size is None else (checks.positive_int("image_size", image_size),) * 2
    prep = dict(center_crop=center_crop, resize=resize)
    first, first_mode = _read_image(files[0], 0, mode, size, **prep)
    if first_mode not in MODES:
        raise ValueError(
            f"image file {files[0]} has mode {first_mode!r}; supported: {sorted(MODES)} "
            f"(pass mode='RGB' or mode='L' to convert)"
        )
    size = size or first.shape[:2]
    images = np.empty((len(files), *size, MODES[first_mode]), np.uint8)
    images[0] = first
    for i, f in enumerate(files[1:], start=1):
        array, got_mode = _read_image(f, i, mode, size, **prep)
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
