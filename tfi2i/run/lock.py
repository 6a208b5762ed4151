"""The lock of a run directory: one process at a time trains a run (or writes its report).

An OS file lock (flock) on RUN_DIR/train.lock, so the kernel drops it when its process ends in
any way, kill -9 included: a stale lock file never blocks. The file records who holds it, for
the error the next process prints. Readers (export, translate, evaluate) do not take it: the
checkpoint index they read is replaced atomically (tfi2i.run.checkpoints).

Within one process the lock is re-entrant: trainers assembled one after another on a run (a
resume in the same Python session) share it.
"""

import contextlib
import datetime
import fcntl
import os
import socket

from tfi2i.errors import Tfi2iError

LOCK_FILE = "train.lock"

_held = {}  # real path of a run directory -> the open lock file this process holds


def acquire(run_dir):
    """Takes the run directory's lock, or raises a Tfi2iError naming the process that holds it."""
    key = os.path.realpath(run_dir)
    if key in _held:
        return
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, LOCK_FILE)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise Tfi2iError(
            f"run dir '{run_dir}' is in use by {holder}; wait for that run to end (or stop it), "
            f"or pass another --run-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} (since {started})\n")
    handle.flush()
    _held[key] = handle


def release(run_dir):
    """Lets the run directory go (the lock file stays; the next holder rewrites it)."""
    handle = _held.pop(os.path.realpath(run_dir), None)
    if handle is not None:
        handle.close()  # closing the file drops the flock


@contextlib.contextmanager
def holding(run_dir):
    """The lock for the duration of a `with` block; a lock this process held already stays held."""
    held_before = os.path.realpath(run_dir) in _held
    acquire(run_dir)
    try:
        yield
    finally:
        if not held_before:
            release(run_dir)
