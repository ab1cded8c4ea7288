"""Data parallelism with JAX's SPMD machinery: a 1-D `Mesh` over a `data` axis, batches sharded
along it, parameters replicated (or sharded FSDP-style). Library functions stay device-agnostic;
the entry points (modes/run.py, main.py) place data and parameters with these helpers and let
`jax.jit` partition the computation.

Per-sample keys (samplers) and sharding-invariant random bits (`jax_threefry_partitionable`, on
by default) make results independent of how many devices a batch is split over; batch statistics
(the Langevin corrector's norms, the loss mean) are reductions over the global array, as the
paper's `pmean` was.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from common import checks

DATA_AXIS = "data"


def initialize_distributed(coordinator_address: str | None, num_processes: int | None, process_id: int | None):
    """Joins a multi-host job (`jax.distributed.initialize`); a no-op for one process."""
    if coordinator_address:
        jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                                   process_id=process_id)


def make_mesh(num_devices: int = 0) -> Mesh:
    """A mesh over the first `num_devices` devices (0: all visible devices, on every host)."""
    devices = jax.devices()
    checks.integer("num_devices", num_devices, low=0, high=len(devices))
    return Mesh(np.array(devices[: num_devices or len(devices)]), (DATA_AXIS,))


def check_batch_size(batch_size: int, mesh: Mesh, name: str = "batch_size") -> int:
    """The per-device batch; the global batch must split evenly over the mesh."""
    checks.positive_int(name, batch_size)
    if batch_size % mesh.size:
        raise checks.ArgumentError(name, batch_size, message=
            f"{name}={batch_size} must be a positive multiple of the device count {mesh.size} "
            f"(per-device batch would be {batch_size / mesh.size:g})"
        )
    return batch_size // mesh.size


def data_sharding(mesh: Mesh, batch_axis: int = 0) -> NamedSharding:
    """Shards axis `batch_axis` of an array over the devices; other axes are whole on each."""
    return NamedSharding(mesh, P(*([None] * batch_axis), DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def put(x, sharding: NamedSharding) -> jax.Array:
    """Places a host array that every process holds in full as a global array with `sharding`."""
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def fsdp_shardings(tree, mesh: Mesh, min_size: int = 2**14):
    """FSDP-style: each leaf of at least `min_size` elements is sharded along its largest axis that
    the device count divides; smaller or indivisible leaves are replicated."""

    def one(leaf):
        shape = np.shape(leaf)
        if math.prod(shape) < min_size:
            return replicated(mesh)
        for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):
            if shape[axis] % mesh.size == 0:
                return NamedSharding(mesh, P(*([None] * axis), DATA_AXIS))
        return replicated(mesh)

    return jax.tree.map(one, tree)


def state_shardings(state, mesh: Mesh, fsdp: bool = False):
    """Shardings for a train state: replicated, or FSDP-sharded parameters and optimizer moments."""
    if fsdp:
        return fsdp_shardings(state, mesh)
    return jax.tree.map(lambda _: replicated(mesh), state)


def place(tree, shardings):
    return jax.tree.map(lambda x, s: jax.device_put(x, s), tree, shardings)
