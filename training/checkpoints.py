"""Checkpoints with orbax: periodic snapshots kept in `checkpoints/`, and one frequent pre-emption
checkpoint in `checkpoints-meta/` that a re-run of the same command resumes from. Orbax writes each
checkpoint to a temporary directory (`<step>.orbax-checkpoint-tmp*`) and renames it when complete,
so a kill never leaves a half-written checkpoint that would be restored; the temporary directories
a kill leaves behind are removed when the next run opens the workdir. Old pre-emption checkpoints
are first renamed (atomically) into `checkpoints-meta/deleted/` and only then removed, so a kill
during a removal cannot leave a half-deleted checkpoint under a step's name either."""

from __future__ import annotations

import os
import shutil

import jax
import orbax.checkpoint as ocp

# How many differing arrays a mismatch error lists by name.
_MAX_LISTED = 8


# Where orbax moves checkpoints beyond max_to_keep (an atomic rename) before we remove them.
DELETED = "deleted"


def _manager(directory: str, max_to_keep: int | None) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False,
                                           cleanup_tmp_directories=True, todelete_subdir=DELETED)
    return ocp.CheckpointManager(os.path.abspath(directory), options=options,
                                 item_handlers=ocp.StandardCheckpointHandler())


def _purge_deleted(manager: ocp.CheckpointManager) -> None:
    if jax.process_index() == 0:
        shutil.rmtree(os.path.join(str(manager.directory), DELETED), ignore_errors=True)


def _path_shapes(tree) -> dict[str, tuple[int, ...]]:
    """'params/Dense_0/kernel' -> shape, for every leaf (dict keys, attributes and indices alike)."""

    def name(key) -> str:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                return str(getattr(key, attr))
        return str(key)

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(name(k) for k in path): tuple(getattr(leaf, "shape", ())) for path, leaf in leaves}


def shape_mismatch(saved, target) -> str | None:
    """What differs between the array shapes of a checkpoint's metadata and a target state; None if
    nothing does. Differences inside `params` are listed first (the EMA and optimizer moments repeat them)."""
    saved, target = _path_shapes(saved), _path_shapes(target)
    order = lambda p: (not p.startswith("params/"), p)  # noqa: E731
    differ = sorted((p for p in saved.keys() & target.keys() if saved[p] != target[p]), key=order)
    missing, extra = sorted(target.keys() - saved.keys(), key=order), sorted(saved.keys() - target.keys(), key=order)
    if not (differ or missing or extra):
        return None
    parts = []
    if differ:
        listed = "; ".join(f"{p}: checkpoint {saved[p]} vs config {target[p]}" for p in differ[:_MAX_LISTED])
        more = f"; and {len(differ) - _MAX_LISTED} more" if len(differ) > _MAX_LISTED else ""
        parts.append(f"{len(differ)} array shape(s) differ ({listed}{more})")
    for what, paths in (("missing from the checkpoint", missing), ("in the checkpoint only", extra)):
        if paths:
            more = f" and {len(paths) - _MAX_LISTED} more" if len(paths) > _MAX_LISTED else ""
            parts.append(f"{len(paths)} array(s) {what}: {', '.join(paths[:_MAX_LISTED])}{more}")
    return "; ".join(parts)


class Checkpoints:
    """The two checkpoint directories of a workdir."""

    def __init__(self, workdir: str):
        self.snapshots = _manager(os.path.join(workdir, "checkpoints"), None)
        self.preemption = _manager(os.path.join(workdir, "checkpoints-meta"), 1)
        _purge_deleted(self.preemption)

    def save(self, state, *, snapshot: bool) -> None:
        step = int(jax.device_get(state.step))
        manager = self.snapshots if snapshot else self.preemption
        if step not in manager.all_steps():
            manager.save(step, args=ocp.args.StandardSave(state))
            manager.wait_until_finished()
            _purge_deleted(manager)

    def latest_step(self) -> int | None:
        """The newest step in either directory."""
        steps = [s for m in (self.snapshots, self.preemption) for s in [m.latest_step()] if s is not None]
        return max(steps) if steps else None

    def _manager_of(self, step: int) -> ocp.CheckpointManager:
        return self.preemption if step in self.preemption.all_steps() else self.snapshots

    def path(self, step: int) -> str:
        """The directory of the checkpoint at `step`."""
        return os.path.join(str(self._manager_of(step).directory), str(step))

    def restore(self, target, step: int | None = None):
        """Restores `step` (default: the newest) into the structure of `target`; None if there is none.

        A checkpoint of another model raises a ValueError that lists the arrays whose shapes differ."""
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        manager = self._manager_of(step)
        where = f"checkpoint at step {step} in {manager.directory}"
        saved = manager.item_metadata(step)
        if saved is not None:
            mismatch = shape_mismatch(saved, target)
            if mismatch:
                raise ValueError(f"{where} does not match the model built from the config: {mismatch}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)  # keeps each leaf's sharding
        try:
            return manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except (ValueError, KeyError) as e:
            raise ValueError(f"{where} does not match the model built from the config: {e}") from e

    def close(self) -> None:
        self.snapshots.close()
        self.preemption.close()
