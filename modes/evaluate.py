"""`main.py --mode eval`: for each checkpoint in a range, the test-set loss, the likelihood of
held-out data (bits/dim for images, nats/dim for vector data) and sample-quality metrics.

Samples for the metrics are drawn in rounds, each saved (atomically) as it finishes under
`eval/step_<step>/samples_<round>.npz`; an interrupted evaluation resumes at the first missing
round. Results go to `eval/metrics_<step>.json` and one line per checkpoint in `eval/eval.jsonl`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

import data
import models
import parallel
import samplers
from common.seeds import key_for, seed_for
from evaluation import features, metrics, stats
from modes.run import Experiment, build_sample_fn, restore_target
from training.checkpoints import Checkpoints
from training.losses import get_loss_fn
from training.progress import bar as progress_bar
from training.progress import line as progress_line


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    begin_step: int = 0  # evaluate checkpoints with begin_step <= step <= end_step
    end_step: int = -1  # -1: up to the newest
    batch_size: int = 256  # test batches for the loss and the likelihood
    loss_batches: int = 4  # test batches for the loss (0: skip)
    likelihood_batches: int = 1  # test batches for bits/dim or nats/dim (0: skip)
    likelihood_rtol: float = 1e-5
    likelihood_atol: float = 1e-5
    num_samples: int = 1000  # samples for the quality metrics (0: skip)
    rounds: int = 4  # ... drawn in this many saved rounds
    stats: str = ""  # a statistics file (--mode stats, or pytorch-fid's mu/sigma .npz): FID against it
    inception: str = ""  # Inception weights .npz (evaluation/inception.py): features for any image data


def _atomic_savez(path: str, **arrays) -> None:
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _test_data(exp: Experiment, batch_size: int, n_batches: int) -> list[np.ndarray]:
    out = []
    for i, (x, _) in enumerate(exp.dataset.eval_batches(batch_size, drop_remainder=True)):
        if i >= n_batches:
            break
        out.append(x)
    return out


def test_loss(exp: Experiment, params, batches) -> float:
    score_fn = models.get_score_fn(exp.sde, exp.model)
    loss_fn = get_loss_fn(exp.sde, score_fn, **exp.loss_options)
    pre = (lambda key, x: data.preprocess(key, x, **exp.preprocess_options)) if exp.dataset.is_image else (
        lambda key, x: x)

    def batch_loss(params, key, x):  # one key per batch, split once: preprocessing, then the loss's times and noise
        k_pre, k_loss = jax.random.split(key)
        return loss_fn(params, k_loss, pre(k_pre, x))

    fn = jax.jit(batch_loss)
    key = key_for(exp.seed, "eval_loss")
    return float(np.mean([fn(params, jax.random.fold_in(key, i), b) for i, b in enumerate(batches)]))


def test_likelihood(exp: Experiment, params, batches, rtol: float, atol: float) -> dict:
    """Bits/dim of integer images (dequantized inside), or nats/dim of vector data."""
    score_fn = models.bind_params(models.get_score_fn(exp.sde, exp.model), params)
    key = key_for(exp.seed, "eval_likelihood")
    dim = math.prod(exp.data_shape)
    if exp.dataset.is_image:
        fn = samplers.get_bpd_fn(exp.sde, centered=exp.preprocess_options.get("centered", True), rtol=rtol, atol=atol)
        run = jax.jit(lambda k, x: fn(k, score_fn, x))
        vals = [run(jax.random.fold_in(key, i), jnp.asarray(np.rint(b), jnp.int32)) for i, b in enumerate(batches)]
        return {"bits_per_dim": float(np.mean([np.mean(v[0]) for v in vals])),
                "likelihood_nfe": float(np.mean([np.mean(v[1]) for v in vals]))}
    fn = samplers.get_likelihood_fn(exp.sde, rtol=rtol, atol=atol, trace="exact" if dim <= 16 else "rademacher")
    run = jax.jit(lambda k, x: fn(k, score_fn, x))
    vals = [run(jax.random.fold_in(key, i), jnp.asarray(b)) for i, b in enumerate(batches)]
    return {"nats_per_dim": float(-np.mean([np.mean(v[0]) for v in vals]) / dim),
            "likelihood_nfe": float(np.mean([np.mean(v[2]) for v in vals]))}


def draw_rounds(exp: Experiment, params, mesh, out_dir: str, num_samples: int, rounds: int) -> np.ndarray:
    """Samples in `rounds` saved rounds; rounds already on disk are loaded, not redrawn."""
    per_round = num_samples // rounds
    sample_fn = None
    parts = []
    bar = progress_bar(total=rounds, desc=f"eval: sampling rounds of {per_round}", leave=False)
    for r in range(rounds):
        path = os.path.join(out_dir, f"samples_{r}.npz")
        if not os.path.exists(path):
            sample_fn = sample_fn or build_sample_fn(exp, mesh, per_round)
            x, nfe = sample_fn(jax.random.fold_in(key_for(exp.seed, "eval_samples"), r), params)
            _atomic_savez(path, samples=np.asarray(x), nfe=np.asarray(nfe))
        parts.append(np.load(path)["samples"])
        bar.update(1)
    bar.close()
    return np.concatenate(parts)


def image_extractor(exp: Experiment, workdir: str, inception: str = ""):
    """The feature extractor for image FID: Inception (weights file) if given, else the digits
    classifier (digits only); None if neither applies."""
    if inception:
        return features.inception_extractor(inception), None
    if exp.dataset.name != "digits":
        return None, None
    clf = features.digits_classifier(workdir, image_size=exp.data_shape[0])
    return clf.extractor, clf


def sample_metrics(exp: Experiment, samples: np.ndarray, workdir: str, options: EvalOptions = EvalOptions()) -> dict:
    """FID/KID in the digits classifier's (or Inception's) feature space, FID against a statistics
    file (`options.stats`), or distances to fresh data (vectors)."""
    if not exp.dataset.is_image:
        fresh = exp.dataset.train_batch(seed_for(exp.seed, "metrics_data"), 0, len(samples))[0]
        log_prob = exp.dataset.log_prob if exp.dataset.log_prob(fresh[:2]) is not None else None
        return metrics.toy_metrics(samples, fresh, log_prob)
    extractor, clf = image_extractor(exp, workdir, options.inception)
    if extractor is None:
        return {}  # Inception features need the user's weights file: eval.inception
    images = np.asarray(data.postprocess(jnp.asarray(samples), exp.preprocess_options.get("centered", True)))
    if options.stats:
        return {"fid": stats.fid_to_stats(features.extract_features(extractor, images), stats.load_stats(options.stats))}
    real = np.concatenate([x for x, _ in exp.dataset.eval_batches(500)]) / 255.0
    out = features.image_metrics(extractor, images, real, kid_subset_size=min(200, len(images), len(real)))
    return {**out, "classifier_accuracy": clf.accuracy} if clf is not None else out


def evaluate(exp: Experiment, workdir: str, options: EvalOptions = EvalOptions()) -> list[dict]:
    if options.num_samples and (options.rounds < 1 or options.num_samples % options.rounds):
        raise ValueError(f"eval.num_samples={options.num_samples} must be a multiple of eval.rounds={options.rounds}")
    mesh = parallel.make_mesh(exp.num_devices)
    checkpoints = Checkpoints(workdir)
    try:
        steps = sorted(set(checkpoints.snapshots.all_steps()))
        end = options.end_step if options.end_step >= 0 else math.inf
        steps = [s for s in steps if options.begin_step <= s <= end]
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {os.path.join(workdir, 'checkpoints')} within "
                                    f"[{options.begin_step}, {options.end_step}]; train first (--mode train)")
        target = restore_target(exp, mesh)
        results = []
        for step in steps:
            params = checkpoints.restore(target, step).ema_params
            out_dir = os.path.join(workdir, "eval", f"step_{step}")
            os.makedirs(out_dir, exist_ok=True)
            result = {"step": step}
            progress_line(f"eval: checkpoint {step} (test loss, likelihood, {options.num_samples} samples in "
                          f"{options.rounds} rounds)")
            if options.loss_batches:
                result["test_loss"] = test_loss(exp, params, _test_data(exp, options.batch_size, options.loss_batches))
            if options.likelihood_batches:
                progress_line(f"eval: likelihood of {options.likelihood_batches} test batch(es) of {options.batch_size} "
                              "(probability-flow ODE)")
                result.update(test_likelihood(exp, params, _test_data(exp, options.batch_size,
                                                                       options.likelihood_batches),
                                              options.likelihood_rtol, options.likelihood_atol))
            if options.num_samples:
                samples = draw_rounds(exp, params, mesh, out_dir, options.num_samples, options.rounds)
                progress_line("eval: sample-quality metrics")
                result.update(sample_metrics(exp, samples, workdir, options))
            with open(os.path.join(workdir, "eval", f"metrics_{step}.json"), "w") as f:
                json.dump(result, f, indent=2)
            with open(os.path.join(workdir, "eval", "eval.jsonl"), "a") as f:
                f.write(json.dumps(result) + "\n")
            results.append(result)
        return results
    finally:
        checkpoints.close()
