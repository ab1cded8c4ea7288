"""The keys of a seeded run, one per purpose, from the config's `seed`.

    key = key_for(seed, "sample")            # fold_in(PRNGKey(seed), tag("sample"))
    rows = dataset.train_batch(seed_for(seed, "metrics_data"), 0, n)   # an integer for NumPy streams

Every random draw of a run outside the train step takes its key here, by the name of what it is
for: the purposes are listed once, in `PURPOSES`. A purpose's tag is the CRC-32 of its name, so
adding one changes no other's key, and `fold_in` of distinct tags gives independent keys
(JAX's documented way to derive keys from one root). The root `PRNGKey(seed)` is used only through
`fold_in` here; each purpose's key is used for one thing (split it where that thing needs several).
The train step draws from the state's own key (`training.state`: fold_in(state.key, step)), which
is the second half of `key_for(seed, "init")`.
"""

from __future__ import annotations

import zlib

import jax

# purpose -> what its key draws
PURPOSES = {
    "init": "split in two: the network's initial parameters, and the train state's key (every step's noise)",
    "snapshot_samples": "the samples drawn at each snapshot during training (the same key every snapshot)",
    "plot_data": "the data points drawn beside samples in scatter plots (an integer seed)",
    "sample": "--mode sample, one batch (samples/samples_<step>.npz)",
    "sample_folder": "--mode sample into a folder: sample i from fold_in(key, i)",
    "calibrate": "--mode calibrate: the pilot trajectories a grid or a learned solver is fitted to",
    "eval_loss": "--mode eval: the times and noise of the test loss (batch i: fold_in(key, i))",
    "eval_likelihood": "--mode eval: the dequantisation and trace probes of the likelihood (batch i: fold_in(key, i))",
    "eval_samples": "--mode eval: the samples for the quality metrics (round r: fold_in(key, r))",
    "metrics_data": "fresh data that vector samples are compared with (an integer seed)",
    "inpaint": "--mode inpaint",
    "colorize": "--mode colorize",
    "conditional": "--mode conditional",
    "benchmark_trained": "--mode benchmark: the samplers on the workdir's checkpoint",
    "recipe_samples": "benchmarks/recipe.py: the samples of each recipe row",
    "recipe_data": "benchmarks/recipe.py: fresh data the samples are compared with (an integer seed)",
    "recipe_floor_data": "benchmarks/recipe.py: a second fresh draw, the data-against-data floor (an integer seed)",
    "recipe_split_data": "benchmarks/recipe.py --split: the data that are noised to the sampler's end time (an integer seed)",
    "recipe_split_noise": "benchmarks/recipe.py --split: the noise added to them",
}


def tag(purpose: str) -> int:
    """The 32-bit number `purpose` folds into the root key."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; valid: {sorted(PURPOSES)}")
    return zlib.crc32(purpose.encode())


def key_for(seed: int, purpose: str) -> jax.Array:
    """The key of `purpose` in the run seeded `seed` (a raw uint32 [2] key, as PRNGKey gives)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), tag(purpose))


def seed_for(seed: int, purpose: str) -> int:
    """An integer seed in [0, 2**31) for `purpose`, for the NumPy streams of `Dataset.train_batch`:
    the first word of `key_for(seed, purpose)`, so it is apart from the run's own (seed, step) batches."""
    return int(jax.device_get(key_for(seed, purpose))[0]) >> 1
