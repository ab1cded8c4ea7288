"""Checkpoints with orbax: periodic snapshots kept in `checkpoints/`, and one frequent pre-emption
checkpoint in `checkpoints-meta/` that a re-run of the same command resumes from. Orbax writes each
checkpoint to a temporary directory and renames it when complete, so a kill never leaves a
half-written checkpoint that would be restored."""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


def _manager(directory: str, max_to_keep: int | None) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False)
    return ocp.CheckpointManager(os.path.abspath(directory), options=options)


class Checkpoints:
    """The two checkpoint directories of a workdir."""

    def __init__(self, workdir: str):
        self.snapshots = _manager(os.path.join(workdir, "checkpoints"), None)
        self.preemption = _manager(os.path.join(workdir, "checkpoints-meta"), 1)

    def save(self, state, *, snapshot: bool) -> None:
        step = int(jax.device_get(state.step))
        manager = self.snapshots if snapshot else self.preemption
        if step not in manager.all_steps():
            manager.save(step, args=ocp.args.StandardSave(state))
            manager.wait_until_finished()

    def latest_step(self) -> int | None:
        """The newest step in either directory."""
        steps = [s for m in (self.snapshots, self.preemption) for s in [m.latest_step()] if s is not None]
        return max(steps) if steps else None

    def restore(self, target, step: int | None = None):
        """Restores `step` (default: the newest) into the structure of `target`; None if there is none."""
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        manager = self.preemption if step in self.preemption.all_steps() else self.snapshots
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)  # keeps each leaf's sharding
        try:
            return manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except (ValueError, KeyError) as e:
            raise ValueError(
                f"checkpoint at step {step} in {manager.directory} does not match the model built from "
                f"the config: {e}"
            ) from e

    def close(self) -> None:
        self.snapshots.close()
        self.preemption.close()
