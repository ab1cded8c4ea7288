"""Around a training run: the workdir lock and pre-emption signals.

* `WorkdirLock(workdir)`: one training per workdir. The lock is an advisory `flock` on
  `workdir/train.lock`, which also holds the holder's pid (for the message); the kernel drops the
  `flock` when its holder dies, however it dies, so a lock left by a dead process is free and is
  taken over. `lock_holder(workdir)` asks without creating anything.
* `StopOnSignals()`: SIGINT / SIGTERM (what clusters send before pre-empting a job) are recorded
  instead of interrupting; `wrap(step_fn)` raises `Preempted(signum, state)` before the next update,
  with the state after the last completed one, which the caller saves. A second signal acts as
  usual (Ctrl-C twice quits at once).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import threading
from typing import Callable

LOCK_FILE = "train.lock"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class WorkdirInUse(RuntimeError):
    """Another live process holds the workdir's lock."""


def _describe_holder(text: str) -> str:
    parts = dict(p.split("=", 1) for p in text.split() if "=" in p)
    pid, host = parts.get("pid", "?"), parts.get("host", "?")
    return f"pid {pid}" + ("" if host == socket.gethostname() else f" on {host}")


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode(errors="replace")


def lock_holder(workdir: str) -> str | None:
    """'pid N' of the live process training in `workdir`, or None; creates nothing."""
    path = os.path.join(workdir, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _describe_holder(_read(fd))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class WorkdirLock:
    """Holds `workdir/train.lock` while open; `stale` is the description of the dead holder whose
    lock was taken over (None if the lock was free)."""

    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, LOCK_FILE)
        self.fd: int | None = None
        self.stale: str | None = None

    def acquire(self) -> "WorkdirLock":
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(_read(fd))
            os.close(fd)
            raise WorkdirInUse(f"workdir {os.path.dirname(self.path)} is in use: {holder} is training "
                               f"there (lock {self.path}); wait for it or stop it first") from None
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP):  # no flock here (some network file systems)
                raise WorkdirInUse(f"cannot lock {self.path}: {e}") from e
            raise
        previous = _read(fd).strip()
        self.stale = _describe_holder(previous) if previous else None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} host={socket.gethostname()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # the file stays: removing it could let two later runs both lock
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class Preempted(Exception):
    """A stop signal arrived; `state` is the train state after the last completed update."""

    def __init__(self, signum: int, state):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum, self.state = signum, state
        self.path: str | None = None  # where the caller saved the state

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as a shell reports them


class StopOnSignals(contextlib.AbstractContextManager):
    """Records the first SIGINT / SIGTERM while open (main thread only; elsewhere a no-op)."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        self.signum = signum
        for s, handler in self._previous.items():  # a second signal acts as it did before
            signal.signal(s, handler)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
        return False

    def wrap(self, step_fn: Callable) -> Callable:
        """`step_fn` that first raises `Preempted` with its input state once a signal has arrived."""
        def step(state, batches):
            if self.signum is not None:
                raise Preempted(self.signum, state)
            return step_fn(state, batches)

        return step
