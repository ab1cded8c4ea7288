"""`main.py --mode sample` into a folder: N samples drawn in batches, one PNG per image plus one
`samples.npz`, resumable.

Sample i is drawn by the configured sampler as a batch of one from `fold_in(key, i)` (the sampler
vmapped over the indices), so it is the same whatever the batch size, the number of devices, or
which batches an interrupted run had finished (the PC sampler's corrector then takes its step size
from each sample's own norms, not the batch's). Each finished batch is saved atomically under
`parts/` (with its PNGs written first); a rerun draws only the missing indices, and the last
step gathers `samples.npz` (samples [N, ...], nfe [N], step) and removes `parts/`.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

import data
from common import checks
import models
import parallel
import samplers
from common.seeds import key_for
from modes.run import Experiment, restore_state, save_pictures
from training.progress import bar as progress_bar
from training.progress import line as progress_line

PARTS = "parts"


def build_indexed_sample_fn(exp: Experiment, mesh, batch_size: int, key):
    """A jitted `fn(indices [B], params) -> (samples [B, ...], nfe [B])`: sample i from fold_in(key, i)."""
    parallel.check_batch_size(batch_size, mesh, "sampling.batch_size")
    sample_one = samplers.get_sampler(exp.sde, (1,) + exp.data_shape, exp.sampling_method, **exp.sampling_options)
    score_fn = models.get_score_fn(exp.sde, exp.model)
    sharding = parallel.data_sharding(mesh)

    def fn(indices, params):
        score = models.bind_params(score_fn, params)

        def one(i):
            x, nfe = sample_one(jax.random.fold_in(key, i), score)
            return x[0], jnp.reshape(nfe, (-1,))[0]

        x, nfe = jax.vmap(one)(indices)
        return jax.lax.with_sharding_constraint(x, sharding), nfe

    return jax.jit(fn)


def _done(parts_dir: str, step: int) -> dict[int, tuple[np.ndarray, float]]:
    """index -> (sample, nfe) of the saved parts and of a finished samples.npz beside them; samples of
    another checkpoint step raise."""
    out = {}
    final = os.path.join(os.path.dirname(parts_dir), "samples.npz")
    names = sorted(os.listdir(parts_dir)) if os.path.isdir(parts_dir) else []
    if os.path.isfile(final):  # a finished run: its samples count as done (a larger N extends it)
        with np.load(final, allow_pickle=False) as f:
            if int(f["step"]) != step:
                raise ValueError(f"{final} holds samples of the step {int(f['step'])} checkpoint, the newest is "
                                 f"step {step}: use another --samples_dir")
            out.update({i: (x, float(n)) for i, (x, n) in enumerate(zip(f["samples"], f["nfe"]))})
    for name in names:
        if not (name.startswith("part_") and name.endswith(".npz")):
            continue
        with np.load(os.path.join(parts_dir, name), allow_pickle=False) as f:
            if int(f["step"]) != step:
                raise ValueError(f"{parts_dir} holds samples of the step {int(f['step'])} checkpoint, the newest is "
                                 f"step {step}: use another --samples_dir")
            out.update({int(i): (x, float(n)) for i, x, n in zip(f["indices"], f["samples"], f["nfe"])})
    return out


def _write_pngs(exp: Experiment, out_dir: str, indices, samples) -> None:
    if not exp.dataset.is_image:
        return
    images = np.asarray(data.postprocess(jnp.asarray(samples), exp.preprocess_options.get("centered", True)))
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    for i, image in zip(indices, pixels):
        image = image[..., 0] if image.shape[-1] == 1 else image
        Image.fromarray(image).save(os.path.join(out_dir, f"{int(i):06d}.png"))


def _save_part(parts_dir: str, indices, samples, nfe, step: int) -> None:
    path = os.path.join(parts_dir, f"part_{int(indices[0]):06d}_{int(indices[-1]):06d}.npz")
    np.savez(path + ".tmp.npz", indices=np.asarray(indices), samples=samples, nfe=nfe, step=np.asarray(step))
    os.replace(path + ".tmp.npz", path)


def sample_to_folder(exp: Experiment, workdir: str, out_dir: str, num_samples: int, *,
                     batch_size: int | None = None) -> str:
    """Draws samples 0..num_samples-1 from the newest checkpoint's EMA params into `out_dir` (see the
    module docstring); returns the path of samples.npz."""
    checks.positive_int("num_samples", num_samples)
    batch_size = batch_size or exp.num_samples
    mesh = parallel.make_mesh(exp.num_devices)
    state = restore_state(exp, workdir, mesh)
    step = int(state.step)
    parts_dir = os.path.join(out_dir, PARTS)
    os.makedirs(parts_dir, exist_ok=True)
    done = _done(parts_dir, step)
    todo = [i for i in range(num_samples) if i not in done]
    if todo:
        progress_line(f"sampling {len(todo)} of {num_samples} samples ({exp.sampling_method}, step {step} "
                      f"checkpoint) in batches of {batch_size} into {out_dir}")
        fn = build_indexed_sample_fn(exp, mesh, batch_size, key_for(exp.seed, "sample_folder"))
        bar = progress_bar(total=num_samples, initial=num_samples - len(todo), desc="sample", unit="sample")
        try:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                padded = np.asarray(chunk + [chunk[-1]] * (batch_size - len(chunk)), np.int32)  # one compilation
                x, nfe = fn(parallel.put(padded, parallel.data_sharding(mesh)), state.ema_params)
                x, nfe = np.asarray(x)[:len(chunk)], np.asarray(nfe)[:len(chunk)]
                _write_pngs(exp, out_dir, chunk, x)
                _save_part(parts_dir, chunk, x, nfe, step)
                done.update({i: (xi, float(n)) for i, xi, n in zip(chunk, x, nfe)})
                bar.update(len(chunk))
        finally:
            bar.close()
    count = max(num_samples, max(done) + 1)  # a smaller N keeps what an earlier run drew
    samples = np.stack([done[i][0] for i in range(count)])
    nfe = np.asarray([done[i][1] for i in range(count)])
    npz = os.path.join(out_dir, "samples.npz")
    np.savez(npz + ".tmp.npz", samples=samples, nfe=nfe, step=np.asarray(step))
    os.replace(npz + ".tmp.npz", npz)
    save_pictures(exp, samples[:64], os.path.join(out_dir, "overview.png"),
                  f"{exp.sampling_method} samples 0-{min(num_samples, 64) - 1}, step {step}")
    for name in os.listdir(parts_dir):
        os.remove(os.path.join(parts_dir, name))
    os.rmdir(parts_dir)
    return npz
