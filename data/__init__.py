"""Datasets without TensorFlow: 2-D toy sets, the shipped 8x8 digits, CIFAR-10 (binary), image
folders and arrays in a .npy / .npz file, behind one small interface (`Dataset.train_batch(seed, step, batch_size)`, a pure
function of its arguments, and `Dataset.eval_batches(batch_size)`), plus pure-JAX preprocessing.

    ds = data.get_dataset("digits", image_size=16)
    x, y = ds.train_batch(seed=0, step=k, batch_size=64)      # x float32 [64, 16, 16, 1] in [0, 255]
    x = data.preprocess(key, x, uniform_dequantization=True, centered=True, random_flip=False)
"""

from common import checks
from data.arrays import array_file
from data.base import ArrayDataset, Dataset, StreamDataset, check_finite
from data.digits import digits
from data.images import cifar10, image_folder
from data.preprocess import postprocess, preprocess
from data.toy import checkerboard, eight_gaussians, gaussian_mixture, swiss_roll, two_moons

# The one place dataset names map to constructors (configs and main.py use it).
DATASETS = {
    "checkerboard": checkerboard,
    "swiss_roll": swiss_roll,
    "eight_gaussians": eight_gaussians,
    "two_moons": two_moons,
    "gaussian_mixture": gaussian_mixture,
    "digits": digits,
    "cifar10": cifar10,
    "image_folder": image_folder,
    "array_file": array_file,
}


def get_dataset(name: str, **kwargs) -> Dataset:
    """Builds a dataset from its name (a key of `DATASETS`) and the constructor's keyword arguments."""
    if name not in DATASETS:
        raise checks.ArgumentError("name", name, message=f"unknown dataset {name!r}; valid names: {sorted(DATASETS)}")
    return DATASETS[name](**kwargs)


__all__ = [
    "Dataset", "ArrayDataset", "StreamDataset", "DATASETS", "get_dataset", "preprocess", "postprocess",
    "check_finite", "checkerboard", "swiss_roll", "eight_gaussians", "two_moons", "gaussian_mixture",
    "digits", "cifar10", "image_folder", "array_file",
]
