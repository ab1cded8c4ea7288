"""common.seeds: one key per purpose, all different, none by seed arithmetic in the library."""

import os
import re
import zlib

import jax
import numpy as np
import pytest

from common import seeds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_purpose_has_its_own_key_and_the_same_one_each_time():
    tags = {p: seeds.tag(p) for p in seeds.PURPOSES}
    assert len(set(tags.values())) == len(tags)
    assert tags["sample"] == zlib.crc32(b"sample")  # a name's tag does not depend on the table's order
    keys = np.stack([np.asarray(seeds.key_for(3, p)) for p in seeds.PURPOSES])
    assert len({tuple(k) for k in keys}) == len(seeds.PURPOSES)
    np.testing.assert_array_equal(seeds.key_for(3, "sample"), seeds.key_for(3, "sample"))
    assert not np.array_equal(seeds.key_for(3, "sample"), seeds.key_for(4, "sample"))
    # the keys derived from the root by fold_in are not the root's split halves
    halves = {tuple(np.asarray(k)) for k in jax.random.split(jax.random.PRNGKey(3))}
    assert not halves & {tuple(k) for k in keys}


def test_integer_seeds_for_numpy_streams():
    values = [seeds.seed_for(s, p) for s in range(3) for p in ("plot_data", "metrics_data")]
    assert all(isinstance(v, int) and 0 <= v < 2**31 for v in values)
    assert len(set(values)) == len(values)
    assert seeds.seed_for(0, "metrics_data") == seeds.seed_for(0, "metrics_data")


def test_draws_of_two_purposes_are_uncorrelated():
    a = jax.random.normal(seeds.key_for(0, "eval_loss"), (20_000,))
    b = jax.random.normal(seeds.key_for(0, "eval_likelihood"), (20_000,))
    assert abs(float(np.corrcoef(a, b)[0, 1])) < 4 / np.sqrt(20_000)  # 4 standard errors


def test_an_unknown_purpose_is_named():
    with pytest.raises(ValueError, match="'smaple'"):
        seeds.key_for(0, "smaple")


def test_the_library_derives_no_key_by_seed_arithmetic():
    pattern = re.compile(r"seed\s*[+-]\s*\d|PRNGKey\(\s*\w*seed\w*\s*\)")
    # (benchmarks/solvers.py and peers.py are left out: each analytic problem carries its own seed,
    # which fixes the benchmark's published figures)
    skip = {os.path.join("benchmarks", "solvers.py"), os.path.join("benchmarks", "peers.py")}
    found = []
    for package in ("modes", "training", "evaluation", "importers", "benchmarks", "configs"):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(".py") and os.path.relpath(path, ROOT) not in skip:
                    with open(path) as f:
                        found += [f"{os.path.relpath(path, ROOT)}:{i}" for i, line in enumerate(f, 1)
                                  if pattern.search(line)]
    assert found == [], found
