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
import sys

from absl import logging
import jax
import orbax.checkpoint as ocp

# How many differing arrays a mismatch error lists by name.
_MAX_LISTED = 8


# Where orbax moves checkpoints beyond max_to_keep (an atomic rename) before we remove them.
DELETED = "deleted"
# Where unreadable checkpoints are moved (kept for inspection, never restored).
CORRUPT = "corrupt"
DIRECTORIES = ("checkpoints", "checkpoints-meta")


class CheckpointMismatch(ValueError):
    """A checkpoint of another model than the config's."""


class CorruptCheckpoint(Exception):
    """A checkpoint whose files cannot be read."""


def finalized_steps(workdir: str) -> dict[str, list[int]]:
    """{'checkpoints': [steps], 'checkpoints-meta': [steps]} of the finalized checkpoints in
    `workdir` (directories named by a step), read without creating anything; {} if there are none."""
    out = {}
    for sub in DIRECTORIES:
        path = os.path.join(workdir, sub)
        steps = sorted(int(n) for n in os.listdir(path) if n.isdigit()) if os.path.isdir(path) else []
        if steps:
            out[sub] = steps
    return out


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


def _first_line(e: BaseException, limit: int = 200) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = text.split(" See full TensorStore details")[0]
    return text if len(text) <= limit else text[:limit] + "..."


def check_newest(workdir: str, target) -> None:
    """Raises CheckpointMismatch if the newest checkpoint's array shapes (read from its metadata,
    nothing created or restored) do not fit `target` (arrays or jax.ShapeDtypeStructs)."""
    steps = finalized_steps(workdir)
    if not steps:
        return
    sub, step = max(((sub, s[-1]) for sub, s in steps.items()), key=lambda p: p[1])
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)  # orbax warns that a read-only manager is read-only
    try:
        manager = ocp.CheckpointManager(
            os.path.abspath(os.path.join(workdir, sub)), item_handlers=ocp.StandardCheckpointHandler(),
            options=ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0))
        try:
            saved = manager.item_metadata(step)
        except Exception:  # noqa: BLE001 -- unreadable: restoring falls back to an intact one
            saved = None
        finally:
            manager.close()
    finally:
        logging.set_verbosity(verbosity)
    mismatch = None if saved is None else shape_mismatch(saved, target)
    if mismatch:
        raise CheckpointMismatch(f"checkpoint at step {step} in {os.path.join(workdir, sub)} does not match the "
                                 f"model built from the config: {mismatch}")


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

    def _restore_one(self, target, step: int):
        manager = self._manager_of(step)
        where = f"checkpoint at step {step} in {manager.directory}"
        try:
            saved = manager.item_metadata(step)
        except Exception as e:  # noqa: BLE001 -- unreadable metadata: orbax raises many kinds
            raise CorruptCheckpoint(f"its metadata is unreadable ({_first_line(e)})") from e
        if saved is None:
            raise CorruptCheckpoint("its metadata is missing")
        mismatch = shape_mismatch(saved, target)
        if mismatch:
            raise CheckpointMismatch(f"{where} does not match the model built from the config: {mismatch}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)  # keeps each leaf's sharding
        try:
            return manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except (ValueError, KeyError) as e:
            if "structure" in str(e) or isinstance(e, KeyError):
                raise CheckpointMismatch(f"{where} does not match the model built from the config: {e}") from e
            raise CorruptCheckpoint(_first_line(e)) from e
        except Exception as e:  # noqa: BLE001 -- tensorstore reports truncated or missing files so
            raise CorruptCheckpoint(_first_line(e)) from e

    def _move_aside(self, step: int) -> str:
        manager = self._manager_of(step)
        src = os.path.join(str(manager.directory), str(step))
        dst_dir = os.path.join(str(manager.directory), CORRUPT)
        dst = os.path.join(dst_dir, str(step))
        if jax.process_index() == 0:
            os.makedirs(dst_dir, exist_ok=True)
            n = 1
            while os.path.exists(dst):
                dst, n = os.path.join(dst_dir, f"{step}.{n}"), n + 1
            os.rename(src, dst)
        manager.reload()
        return dst

    def restore(self, target, step: int | None = None):
        """Restores `step` (default: the newest intact one) into the structure of `target`; None if
        there is none.

        A checkpoint of another model raises a CheckpointMismatch (a ValueError) that lists the arrays
        whose shapes differ. Without `step`, an unreadable newest checkpoint is moved aside into
        `<dir>/corrupt/` and the next older one is tried, each with a line on stderr."""
        if step is not None:
            try:
                return self._restore_one(target, step)
            except CorruptCheckpoint as e:
                raise ValueError(f"checkpoint at step {step} in {self._manager_of(step).directory} is "
                                 f"unreadable: {e}") from e
        while (newest := self.latest_step()) is not None:
            try:
                return self._restore_one(target, newest)
            except CorruptCheckpoint as e:
                path = self.path(newest)
                moved = self._move_aside(newest)
                older = self.latest_step()
                then = f"falling back to step {older}" if older is not None else "no intact checkpoint is left"
                print(f"checkpoint {path} is unreadable ({e}); moved it to {moved}; {then}", file=sys.stderr)
        return None

    def close(self) -> None:
        self.snapshots.close()
        self.preemption.close()
