"""`main.py --mode inpaint | colorize | conditional`: controllable generation from a trained model
(Song et al. 2021, App. I), writing pictures (input, mask, output) and arrays into
`workdir/controllable/`."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

import data
import models
import parallel
import samplers
import visualize
from common.seeds import key_for
from evaluation.features import classification_accuracy, digits_classifier
from modes.run import Experiment, restore_state
from samplers import controllable
from training.classifier import get_classifier_grad_fn, noisy_digits_classifier

# The controllable samplers take the PC options (none of the ODE / fast-solver ones).
_PC_OPTIONS = samplers.METHODS["pc"].options


def _setup(exp: Experiment, workdir: str, num: int):
    mesh = parallel.make_mesh(exp.num_devices)
    state = restore_state(exp, workdir, mesh)
    score_fn = models.bind_params(models.get_score_fn(exp.sde, exp.model), state.ema_params)
    options = {k: v for k, v in exp.sampling_options.items() if k in _PC_OPTIONS}
    out_dir = os.path.join(workdir, "controllable")
    os.makedirs(out_dir, exist_ok=True)
    real = np.concatenate([x for x, _ in exp.dataset.eval_batches(num)])[:num]
    centered = exp.preprocess_options.get("centered", True)
    images = data.preprocess(None, jnp.asarray(real), centered=centered)
    return score_fn, options, out_dir, images, centered, int(state.step)


def _pictures(out_dir: str, name: str, centered: bool, rows: dict) -> str:
    """One grid: a row of images per entry of `rows` (all [n, H, W, C] in model space)."""
    to01 = lambda x: np.asarray(data.postprocess(jnp.asarray(x), centered))  # noqa: E731
    n = len(next(iter(rows.values())))
    grid = np.concatenate([to01(v) for v in rows.values()])
    path = os.path.join(out_dir, f"{name}.png")
    return visualize.save_image_grid_rows(path, grid, n, list(rows))


def _require_images(exp: Experiment, mode: str):
    if not exp.dataset.is_image:
        raise ValueError(f"--mode {mode} needs image data, got data.dataset={exp.dataset.name!r}")


def inpaint(exp: Experiment, workdir: str, num: int = 16) -> str:
    """Fills the right half of held-out images."""
    _require_images(exp, "inpaint")
    score_fn, options, out_dir, images, centered, step = _setup(exp, workdir, num)
    mask = jnp.ones(images.shape).at[:, :, images.shape[2] // 2:, :].set(0.0)
    fn = controllable.get_inpaint_sampler(exp.sde, images.shape, **options)
    x, _ = jax.jit(lambda k: fn(k, score_fn, images, mask))(key_for(exp.seed, "inpaint"))
    np.savez(os.path.join(out_dir, "inpaint.npz"), data=np.asarray(images), mask=np.asarray(mask), samples=np.asarray(x))
    lo = -1.0 if centered else 0.0
    return _pictures(out_dir, "inpaint", centered, {"input": images * mask + lo * (1 - mask), "mask": 2 * mask - 1 if centered else mask,
                                                    "output": x, "original": images})


def colorize(exp: Experiment, workdir: str, num: int = 16) -> str:
    """Colours the grey levels of held-out RGB images."""
    _require_images(exp, "colorize")
    if exp.data_shape[-1] != 3:
        raise ValueError(f"--mode colorize needs RGB images, got {exp.data_shape[-1]} channel(s) "
                         f"(data.dataset={exp.dataset.name!r})")
    score_fn, options, out_dir, images, centered, step = _setup(exp, workdir, num)
    gray = controllable.to_grayscale(images)
    fn = controllable.get_colorization_sampler(exp.sde, images.shape, **options)
    x, _ = jax.jit(lambda k: fn(k, score_fn, gray))(key_for(exp.seed, "colorize"))
    np.savez(os.path.join(out_dir, "colorize.npz"), gray=np.asarray(gray), samples=np.asarray(x))
    return _pictures(out_dir, "colorize", centered, {"input": jnp.repeat(gray, 3, -1), "output": x, "original": images})


def conditional(exp: Experiment, workdir: str, num: int = 100, scale: float = 1.0) -> dict:
    """Class-conditional samples (10 per class of the digits) guided by a noise-conditional classifier
    trained on noisy digits (cached in the workdir); reports how often the clean classifier agrees."""
    _require_images(exp, "conditional")
    if exp.dataset.name != "digits":
        raise ValueError(f"--mode conditional trains its classifier on the digits, got data.dataset={exp.dataset.name!r}")
    score_fn, options, out_dir, _, centered, step = _setup(exp, workdir, 1)
    size = exp.data_shape[0]
    model, params, _ = noisy_digits_classifier(exp.sde, workdir, image_size=size, centered=centered, seed=exp.seed)
    grad_fn = get_classifier_grad_fn(exp.sde, model, params)
    labels = jnp.arange(num) % exp.dataset.num_classes
    fn = controllable.get_conditional_sampler(exp.sde, (num,) + exp.data_shape, **options)
    guided = lambda x, t, y: scale * grad_fn(x, t, y)  # noqa: E731
    x, _ = jax.jit(lambda k: fn(k, score_fn, guided, labels))(key_for(exp.seed, "conditional"))
    images = np.asarray(data.postprocess(x, centered))
    clf = digits_classifier(workdir, image_size=size, seed=exp.seed)
    accuracy = classification_accuracy(clf.classify, images, np.asarray(labels))
    order = np.argsort(np.asarray(labels), kind="stable")
    visualize.save_image_grid(os.path.join(out_dir, "conditional.png"), images[order],
                              f"class-conditional samples (row = class), agreement {accuracy:.1%}")
    result = {"step": step, "num_samples": num, "guidance_scale": scale, "classifier_agreement": accuracy,
              "clean_classifier_heldout_accuracy": clf.accuracy}
    with open(os.path.join(out_dir, "conditional.json"), "w") as f:
        json.dump(result, f, indent=2)
    np.savez(os.path.join(out_dir, "conditional.npz"), samples=np.asarray(x), labels=np.asarray(labels))
    return result
