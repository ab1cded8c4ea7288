"""Data parallelism on 4 (simulated) CPU devices gives the results of 1 device.

XLA's device count is fixed when JAX starts, so the checks run in a subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=4 (tests/multidevice/check_sharding.py).
"""

import os
import subprocess
import sys

import pytest

import parallel

HERE = os.path.dirname(os.path.abspath(__file__))


def test_four_devices_match_one():
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    # The script's folder is its sys.path[0]: the project root goes first, so that it checks this tree's
    # packages rather than whichever copy an editable install points to.
    root = os.path.dirname(HERE)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "XLA_FLAGS": flags.strip(), "JAX_PLATFORMS": "cpu", "PYTHONPATH": path}
    result = subprocess.run([sys.executable, os.path.join(HERE, "multidevice", "check_sharding.py")], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "all multi-device checks passed" in result.stdout


def test_mesh_arguments_are_checked():
    with pytest.raises(ValueError, match="num_devices"):
        parallel.make_mesh(-1)
    with pytest.raises(ValueError, match="sampling.batch_size=0"):
        parallel.check_batch_size(0, parallel.make_mesh(), "sampling.batch_size")
