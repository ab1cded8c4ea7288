"""--mode eval: metrics per checkpoint, sampling rounds saved and resumed."""

import json
import os

import numpy as np

from configs.builders import build_experiment, eval_options
from modes.evaluate import evaluate
from test_pipeline import tiny_toy_config
from modes import run


def test_eval_rounds_resume(tmp_path):
    config = tiny_toy_config(n_iters=10)
    config.eval.num_samples = 8
    config.eval.rounds = 2
    config.eval.batch_size = 16
    config.eval.loss_batches = 1
    config.eval.likelihood_batches = 1
    config.eval.likelihood_rtol = 1e-3
    config.eval.likelihood_atol = 1e-3
    exp = build_experiment(config)
    wd = str(tmp_path / "wd")
    run.train(exp, wd, progress=False)
    first = evaluate(exp, wd, eval_options(config))
    assert [r["step"] for r in first] == [10]
    for key in ("test_loss", "nats_per_dim", "sliced_wasserstein"):
        assert np.isfinite(first[0][key]), key
    rounds = os.path.join(wd, "eval", "step_10")
    kept = os.path.join(rounds, "samples_0.npz")
    mtime = os.stat(kept).st_mtime_ns
    os.remove(os.path.join(rounds, "samples_1.npz"))  # as if killed during round 1
    again = evaluate(exp, wd, eval_options(config))
    assert os.stat(kept).st_mtime_ns == mtime  # round 0 was loaded, not redrawn
    assert again[0]["sliced_wasserstein"] == first[0]["sliced_wasserstein"]  # round 1 redrawn identically
    with open(os.path.join(wd, "eval", "metrics_10.json")) as f:
        assert json.load(f)["step"] == 10
