"""Controllable generation by predictor--corrector sampling (Song et al. 2021, App. I).

Inpainting and colorization (App. I.2) sample the unknown part of x given a known part y, with an
unconditional score: after every predictor or corrector step the known coordinates are replaced by
a fresh draw from the forward kernel, alpha(t) y + sigma(t) z, at the time the step reached.
Colorization is inpainting in the per-pixel orthonormal basis whose first axis is
(r + g + b) / sqrt(3), i.e. sqrt(3) times the grey level. This is an approximation of the
conditional reverse SDE (it replaces p_t(x_unknown | y) by p_t(x_unknown | x_known(t))); the
corrector's Langevin steps at small noise levels are what bring the unknown part to p(x_u | y).

Class-conditional sampling (App. I.1) runs the PC sampler on the conditional score
grad log p_t(x | y) = grad log p_t(x) + grad log p_t(y | x), the second term the gradient of a
time-dependent (noise-conditional) classifier.

In all three, the final Tweedie step denoises the whole sample with the (conditional) score, so
the unknown region is cleaned as well, and the known region is then set to the data exactly.
All three run the PC loop of `samplers.pc` (inpainting and colorization through its `project` hook);
keys are per sample (`_common`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from common import checks
from samplers import _common, pc
from sde_lib import SDE, batch_mul


def _replacement_sampler(sde, shape, decouple, couple, pc_options):
    """PC sampling with the coordinates `known` of decouple(x) held at the noised observation y.

    `decouple` is an orthonormal change of basis per sample and `couple` its inverse, so the
    isotropic forward noise is the same in either basis.
    """
    pc_fn = pc.get_pc_sampler(sde, shape, **pc_options)

    def sample_fn(key, score_fn, y, known):
        def project(x, t, z):
            """Known coordinates <- alpha(t) y + sigma(t) z, a draw from p_0t(. | y)."""
            vec_t = jnp.full(shape[:1], t)
            noisy = batch_mul(sde.alpha(vec_t), y) + batch_mul(sde.sigma(vec_t), z)
            return couple(jnp.where(known, noisy, decouple(x)))

        x, nfe = pc_fn(key, score_fn, project=project)
        return couple(jnp.where(known, y, decouple(x))), nfe

    return sample_fn


# ----- inpainting ---------------------------------------------------------------------------------
def get_inpaint_sampler(sde: SDE, shape, **pc_options):
    """Builds `inpaint_fn(key, score_fn, data, mask) -> (samples, nfe)` (Song et al. 2021, App. I.2).

    `data` has shape `shape`; `mask` (1 or True where a value is known) broadcasts to it. The values
    of `data` where the mask is 0 are ignored. The samples equal `data` where the mask is 1.
    `pc_options` and the NFE per sample are those of `pc.get_pc_sampler`.
    """
    shape = _common.check_shape(shape)
    sample_fn = _replacement_sampler(sde, shape, lambda x: x, lambda x: x, pc_options)

    def inpaint_fn(key, score_fn, data, mask):
        if tuple(data.shape) != tuple(shape):
            raise ValueError(f"data must have shape {tuple(shape)}, got data.shape={data.shape}")
        try:
            np.broadcast_shapes(mask.shape, tuple(shape))
        except ValueError:
            raise ValueError(f"mask must broadcast to {tuple(shape)}, got mask.shape={mask.shape}") from None
        known = jnp.broadcast_to(jnp.asarray(mask).astype(bool), shape)
        return sample_fn(key, score_fn, data, known)

    return inpaint_fn


# ----- colorization -------------------------------------------------------------------------------
# The orthonormal per-pixel basis of the paper's colorization: column 0 is (1, 1, 1) / sqrt(3), so
# the first decoupled channel is sqrt(3) times the grey level; columns 1 and 2 span the colour.
COLOR_BASIS = np.array(
    [
        [1 / math.sqrt(3), -2 / math.sqrt(6), 0.0],
        [1 / math.sqrt(3), 1 / math.sqrt(6), 1 / math.sqrt(2)],
        [1 / math.sqrt(3), 1 / math.sqrt(6), -1 / math.sqrt(2)],
    ],
    np.float32,
)


def decouple_colors(x):
    """RGB [..., 3] -> decoupled channels M^T x per pixel (channel 0 = sqrt(3) * grey)."""
    return jnp.einsum("...c,cd->...d", x, jnp.asarray(COLOR_BASIS))


def couple_colors(x):
    """The inverse of `decouple_colors`: M x per pixel (M is orthonormal)."""
    return jnp.einsum("...d,cd->...c", x, jnp.asarray(COLOR_BASIS))


def to_grayscale(x):
    """The grey level of RGB images [..., 3] that colorization conditions on: the channel mean, [..., 1]."""
    return jnp.mean(x, axis=-1, keepdims=True)


def get_colorization_sampler(sde: SDE, shape, **pc_options):
    """Builds `colorize_fn(key, score_fn, gray) -> (samples, nfe)` (Song et al. 2021, App. I.2).

    `shape` is (B, ..., 3), channels last; `gray` is (B, ..., 1), the channel mean of the image
    sought (`to_grayscale`). The samples have exactly that grey level. `pc_options` and the NFE are
    those of `pc.get_pc_sampler`.
    """
    shape = _common.check_shape(shape)
    if shape[-1] != 3:
        raise checks.ArgumentError("shape", shape, message=f"colorization needs RGB channels last, shape[-1] == 3, "
                                                           f"got shape={shape}")
    sample_fn = _replacement_sampler(sde, shape, decouple_colors, couple_colors, pc_options)
    known = jnp.broadcast_to(jnp.array([True, False, False]), shape)

    def colorize_fn(key, score_fn, gray):
        if tuple(gray.shape) != shape[:-1] + (1,):
            raise ValueError(f"gray must have shape {shape[:-1] + (1,)}, got gray.shape={gray.shape}")
        y = jnp.concatenate([math.sqrt(3) * gray, jnp.zeros(shape[:-1] + (2,), gray.dtype)], axis=-1)
        return sample_fn(key, score_fn, y, known)

    return colorize_fn


# ----- class-conditional sampling -----------------------------------------------------------------
def get_classifier_grad_fn(logits_fn):
    """From `logits_fn(x [B, ...], t [B]) -> [B, K]`, a time-dependent classifier of noisy x,
    builds `classifier_grad_fn(x, t, labels [B]) -> grad_x log p_t(labels | x)` [B, ...].

    The gradient of the batch's summed log-probabilities is each sample's own, provided sample b's
    logits depend on x[b] alone (no batch statistics).
    """

    def classifier_grad_fn(x, t, labels):
        def total_log_prob(x):
            log_probs = jax.nn.log_softmax(logits_fn(x, t), axis=-1)
            return jnp.sum(jnp.take_along_axis(log_probs, labels[:, None], axis=-1))

        return jax.grad(total_log_prob)(x)

    return classifier_grad_fn


def get_conditional_sampler(sde: SDE, shape, **pc_options):
    """Builds `conditional_fn(key, score_fn, classifier_grad_fn, labels) -> (samples, nfe)`
    (Song et al. 2021, App. I.1): PC sampling with the score plus the classifier's gradient.

    `classifier_grad_fn(x, t, labels)` returns grad_x log p_t(labels | x) (see
    `get_classifier_grad_fn`); `labels` is [B]. `pc_options` are those of `pc.get_pc_sampler`; NFE
    counts score evaluations as there, each coming with one classifier gradient.
    """
    shape = _common.check_shape(shape)
    sample_fn = pc.get_pc_sampler(sde, shape, **pc_options)

    def conditional_fn(key, score_fn, classifier_grad_fn, labels):
        if tuple(labels.shape) != shape[:1]:
            raise ValueError(f"labels must have shape {shape[:1]}, got labels.shape={labels.shape}")

        def conditional_score(x, t):
            return score_fn(x, t) + classifier_grad_fn(x, t, labels)

        return sample_fn(key, conditional_score)

    return conditional_fn
