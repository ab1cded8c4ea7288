"""Feature extractors for FID / KID, pluggable: anything with a name and `fn(images) -> [B, F]`.

Images given to an extractor are pixels in [0, 1], shape [B, H, W, C] (what
`data.postprocess` returns for samples, and raw data / 255 for real images).

No weights are downloaded at run time. For the shipped 8x8 digits the project trains a small
CNN classifier on the clean digits the first time it is asked for one and caches its parameters
under `workdir/digits_classifier/`, in a file named by every training setting; the parameters of
the default 8x8 classifier ship with the project (`evaluation/weights/`, written by
`python -m evaluation`, and checked against a fresh training by
tests/test_classifier.py), so that one is never retrained. Its penultimate-layer (128-d) activations define the digits
FID / KID, as Inception's pool features do for natural images (Heusel et al. 2017), and its
predictions score class-conditional samples. Inception features come from a user-supplied
weights file (`inception_extractor`; the network and the file format are in evaluation/inception.py).

Parameters are stored as `.npz` files of named arrays and read with `allow_pickle=False`: no
pickle is ever loaded from user files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

import data
from common import checks
from evaluation import inception, metrics

Array = jax.Array


class FeatureExtractor(NamedTuple):
    """`fn(images [B, H, W, C] in [0, 1]) -> features [B, F]`, jittable; `name` labels the metric."""

    name: str
    fn: Callable[[Array], Array]


def extract_features(extractor: FeatureExtractor, images, *, batch_size: int = 500) -> np.ndarray:
    """Features of many images, `batch_size` at a time, as float64 NumPy [N, F]."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C] in [0, 1], got images.shape={images.shape}")
    batch_size = checks.positive_int("batch_size", batch_size)
    parts = [np.asarray(extractor.fn(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    return np.concatenate(parts).astype(np.float64)


def inception_extractor(weights_path, *, resolution: int = 299) -> FeatureExtractor:
    """The 2048-d pool features of the FID Inception-v3, with weights read (no pickle) from the
    user's .npz at `weights_path` (format and conversion: evaluation/inception.py). Grey images are
    repeated to RGB; every image is resized to `resolution` (299 for comparable FIDs)."""
    weights = jax.tree.map(jnp.asarray, inception.load_weights(weights_path))
    run = jax.jit(inception.inception_pool_features, static_argnames="resolution")
    return FeatureExtractor("inception_pool3", lambda images: run(weights, images, resolution=resolution))


# ----- parameters as .npz of named arrays (never pickle) --------------------------------------
def _flatten(tree, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        name = f"{prefix}{k}"
        out.update(_flatten(v, name + "/") if isinstance(v, dict) else {name: v})
    return out


def save_params(path, params, **meta) -> Path:
    """Writes `params` (a flax pytree) to `path` (.npz) atomically; `meta` scalars go beside them
    under `__meta__/<name>`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v) for k, v in _flatten(flax.serialization.to_state_dict(params)).items()}
    arrays.update({f"__meta__/{k}": np.asarray(v) for k, v in meta.items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    return path


def load_params(path, template):
    """Reads parameters saved by `save_params` into the structure of `template` (arrays, or the
    `jax.ShapeDtypeStruct`s of `jax.eval_shape(model.init, ...)`), checking every name and shape;
    loads no pickle. Returns (params, meta)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:
        raise ValueError(
            f"cannot read parameter file {path} (an .npz of named arrays is expected): {e}"
        ) from e
    meta = {k.removeprefix("__meta__/"): v for k, v in arrays.items() if k.startswith("__meta__/")}
    expected = _flatten(flax.serialization.to_state_dict(template))
    got = {k: v for k, v in arrays.items() if not k.startswith("__meta__/")}
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        raise ValueError(
            f"parameter file {path} does not match the model: missing {missing[:5]}, unexpected {extra[:5]}"
        )
    for k, v in expected.items():
        if got[k].shape != v.shape:
            raise ValueError(
                f"parameter file {path}: {k} has shape {got[k].shape}, the model needs {v.shape}"
            )
    state = flax.serialization.to_state_dict(template)

    def fill(node, prefix=""):
        return {
            k: fill(v, f"{prefix}{k}/") if isinstance(v, dict) else jnp.asarray(got[f"{prefix}{k}"], v.dtype)
            for k, v in node.items()
        }

    return flax.serialization.from_state_dict(template, fill(state)), meta


# ----- the digits classifier ------------------------------------------------------------------
class DigitsCNN(nn.Module):
    """A small CNN for digit images in [-1, 1]: three 3x3 convolutions (the first with stride
    `stem_stride`, e.g. 2 for 16x16 images, so every size ends on the same 4x4 grid), one 2x2
    average pooling, a 128-unit hidden layer on the flattened map (the features) and the class
    logits. Returns (logits, features)."""

    num_classes: int = 10
    width: int = 32
    feature_dim: int = 128
    stem_stride: int = 1

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Conv(self.width, (3, 3), strides=self.stem_stride)(x))
        h = nn.relu(nn.Conv(2 * self.width, (3, 3))(h))
        h = nn.avg_pool(h, (2, 2), (2, 2))
        h = nn.relu(nn.Conv(2 * self.width, (3, 3))(h))
        features = nn.relu(nn.Dense(self.feature_dim)(h.reshape(h.shape[0], -1)))
        return nn.Dense(self.num_classes)(features), features


def digits_cnn(image_size: int, num_classes: int = 10) -> DigitsCNN:
    """The classifier for square digit images of side `image_size` (stride image_size // 8)."""
    return DigitsCNN(num_classes=num_classes, stem_stride=max(1, image_size // 8))


def _to_model_space(images: Array) -> Array:
    # Pixels in [0, 1] -> the centred [-1, 1] inputs the classifier is trained on.
    return 2.0 * jnp.asarray(images, jnp.float32) - 1.0


def random_shift(key: Array, x: Array, max_shift: int) -> Array:
    """Translates each image [B, H, W, C] by its own random offset in [-max_shift, max_shift]^2,
    filling with the background value -1 (the augmentation of LeCun et al. 1998, in spirit)."""
    b, h, w, c = x.shape
    padded = jnp.pad(x, ((0, 0), (max_shift,) * 2, (max_shift,) * 2, (0, 0)), constant_values=-1.0)
    offsets = jax.random.randint(key, (b, 2), 0, 2 * max_shift + 1)
    crop = lambda xi, o: jax.lax.dynamic_slice(xi, (o[0], o[1], 0), (h, w, c))
    return jax.vmap(crop)(padded, offsets)


def train_digits_classifier(
    dataset, *, steps: int = 1200, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
    model: DigitsCNN | None = None,
):
    """Trains `model` (default `digits_cnn(H)`) on `dataset`'s clean labelled images with
    cross-entropy and AdamW under a cosine schedule; inputs are data / 255 mapped to [-1, 1], each
    shifted at random by up to H // 8 pixels. key(seed) splits once into the init key and the
    augmentation key k; step i uses batch (seed, i) and fold_in(k, i). Returns params."""
    if not dataset.is_image or dataset.num_classes is None:
        raise ValueError(
            f"dataset must be labelled images, got {dataset.name!r} "
            f"({dataset.is_image=}, {dataset.num_classes=})"
        )
    checks.positive_int("steps", steps)
    checks.positive_int("batch_size", batch_size)
    model = digits_cnn(dataset.shape[0], dataset.num_classes) if model is None else model
    max_shift = max(1, dataset.shape[0] // 8)
    k_init, k_aug = jax.random.split(jax.random.key(seed))
    params = jax.jit(model.init)(k_init, jnp.zeros((1, *dataset.shape)))["params"]
    tx = optax.adamw(optax.cosine_decay_schedule(lr, steps), weight_decay=1e-4)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, key, x, y):
        x = random_shift(key, _to_model_space(x / 255.0), max_shift)

        def loss_fn(p):
            logits, _ = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    for i in range(steps):
        x, y = dataset.train_batch(seed, i, batch_size)
        params, opt_state, _ = step(params, opt_state, jax.random.fold_in(k_aug, i), x, y)
    return params


class DigitsClassifier(NamedTuple):
    """The trained digits classifier: its feature extractor, `classify(images in [0, 1]) -> labels`,
    its accuracy on the dataset's held-out split, its parameters and the cache file."""

    extractor: FeatureExtractor
    classify: Callable[[Array], Array]
    accuracy: float
    params: object
    path: Path


def classifier_functions(model: DigitsCNN, params) -> tuple[FeatureExtractor, Callable]:
    """The (jitted) feature extractor and classify function of a trained `DigitsCNN`."""
    apply = lambda images: model.apply({"params": params}, _to_model_space(images))
    features = jax.jit(lambda images: apply(images)[1])
    classify = jax.jit(lambda images: jnp.argmax(apply(images)[0], -1))
    return FeatureExtractor(f"digits_cnn{model.feature_dim}", features), classify


def classification_accuracy(classify: Callable, images, labels, *, batch_size: int = 500) -> float:
    """The fraction of `images` ([N, H, W, C] in [0, 1]) that `classify` labels as `labels` [N]:
    for class-conditional samples, how often they are recognised as the class asked for."""
    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape {images.shape[:1]}, got labels.shape={labels.shape}")
    predicted = np.concatenate(
        [np.asarray(classify(images[i : i + batch_size])) for i in range(0, len(images), batch_size)]
    )
    return float(np.mean(predicted == labels))


def heldout_accuracy(classify: Callable, dataset, *, batch_size: int = 500) -> float:
    """The fraction of the dataset's held-out images that `classify` labels correctly."""
    x, y = (np.concatenate(a) for a in zip(*dataset.eval_batches(batch_size)))
    return classification_accuracy(classify, x / 255.0, y, batch_size=batch_size)


def image_metrics(
    extractor: FeatureExtractor, samples, reference, *, kid_subsets: int = 100, kid_subset_size: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """FID and KID (mean, std) of `samples` against `reference` (both [N, H, W, C] in [0, 1]) in
    the extractor's feature space. FID is biased upwards at small N: compare figures at equal N."""
    f1, f2 = extract_features(extractor, samples), extract_features(extractor, reference)
    kid = metrics.kid_from_features(f1, f2, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    return {"fid": metrics.fid_from_features(f1, f2), "kid": kid.mean, "kid_std": kid.std}


# Parameters shipped with the project, named by `classifier_filename` (the default 8x8 classifier).
SHIPPED_DIR = Path(__file__).resolve().parent / "weights"


def classifier_filename(image_size: int, seed: int, steps: int, batch_size: int, lr: float) -> str:
    """The cache file's name: every setting the trained parameters depend on."""
    return f"digits_{image_size}px_seed{seed}_steps{steps}_batch{batch_size}_lr{lr:g}.npz"


def digits_classifier(
    workdir, *, image_size: int = 8, seed: int = 0, steps: int = 1200, batch_size: int = 128,
    lr: float = 2e-3, shipped: bool = True,
) -> DigitsClassifier:
    """The digits classifier at `image_size`: with `shipped`, read from `SHIPPED_DIR` where the
    project ships these settings' parameters (the defaults at 8x8); otherwise read from
    `workdir/digits_classifier/<classifier_filename(...)>`, or trained on the first call (30-40 s at
    8x8 or 16x16 on two busy CPU cores; 97.0% held-out accuracy at both sizes with the defaults) and
    saved there. No pickle is loaded. The held-out accuracy is recomputed on every call."""
    dataset = data.get_dataset("digits", image_size=image_size)
    model = digits_cnn(image_size, dataset.num_classes)
    name = classifier_filename(image_size, seed, steps, batch_size, lr)
    path = Path(workdir) / "digits_classifier" / name
    if shipped and (SHIPPED_DIR / name).exists():
        path = SHIPPED_DIR / name
    if path.exists():
        template = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, *dataset.shape)))["params"]
        params, _ = load_params(path, template)
    else:
        params = train_digits_classifier(
            dataset, steps=steps, batch_size=batch_size, lr=lr, seed=seed, model=model
        )
        save_params(path, params, image_size=image_size, seed=seed, steps=steps, batch_size=batch_size, lr=lr)
    extractor, classify = classifier_functions(model, params)
    return DigitsClassifier(extractor, classify, heldout_accuracy(classify, dataset), params, path)


def write_shipped_classifier(image_size: int = 8, **settings) -> Path:
    """Trains the classifier of these settings afresh and writes it into `SHIPPED_DIR` (run after
    any change to the classifier or its training; tests/test_classifier.py checks the file)."""
    dataset = data.get_dataset("digits", image_size=image_size)
    settings = {"seed": 0, "steps": 1200, "batch_size": 128, "lr": 2e-3, **settings}
    params = train_digits_classifier(dataset, model=digits_cnn(image_size, dataset.num_classes), **settings)
    return save_params(SHIPPED_DIR / classifier_filename(image_size, **settings), params, image_size=image_size,
                       **settings)
