"""Nothing certlab makes outlives it: the programs it starts die with it, and its temporary
folders are stamped with their owner so that the next run removes those of a run that is gone."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time


def _prctl():
    """libc's prctl, looked up once in the parent: the child between fork and exec only calls it."""
    import ctypes
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):   # not Linux: nothing to set
        return None


_PRCTL = _prctl()
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for every program certlab starts: the kernel kills it with SIGKILL when the
    thread that started it ends, so a certlab killed with ``kill -9`` leaves no peer listening
    (PR_SET_PDEATHSIG; the stdlib has no wrapper for it). A parent already gone by then: exit."""
    parent = os.getppid()
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)


SCRATCH_PREFIX = "certlab-"
_STAMP = ".certlab-owner"
_ORPHANS = ".certlab-adopted"
_UNSTAMPED_AGE = 3600  # s: a folder without a stamp is an older certlab's, or one being made now


def _started(pid: int) -> str | None:
    """A process's start time (clock ticks after boot, /proc/PID/stat field 22): with the pid it
    names one process, even after the pid is reused. None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def scratch_folder(kind: str) -> str:
    """A new temporary folder ``certlab-KIND-XXXX``, stamped with this process; the caller removes it."""
    path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{kind}-")
    with open(os.path.join(path, _STAMP), "w") as fh:
        fh.write(f"{os.getpid()} {_started(os.getpid())}\n")
    return path


@contextlib.contextmanager
def scratch(kind: str):
    """``scratch_folder`` removed when the block ends."""
    path = scratch_folder(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def adopt(folder: str, pid: int) -> None:
    """A process that left certlab's process tree (a daemon's master that starts its own
    session) and works in ``folder``: killed when the folder is swept after a run was killed."""
    with open(os.path.join(folder, _ORPHANS), "a") as fh:
        fh.write(f"{pid} {_started(pid)}\n")


def _kill_adopted(path: str) -> None:
    try:
        with open(os.path.join(path, _ORPHANS)) as fh:
            entries = [line.split() for line in fh if line.strip()]
    except OSError:
        return
    for pid, started in entries:
        if pid.isdigit() and _started(int(pid)) == started:   # the same process, not a reused pid
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def _owner_gone(path: str) -> bool:
    try:
        with open(os.path.join(path, _STAMP)) as fh:
            pid, started = fh.read().split()
        return _started(int(pid)) != started
    except FileNotFoundError:
        return time.time() - os.lstat(path).st_mtime > _UNSTAMPED_AGE
    except (OSError, ValueError):
        return True  # a stamp that cannot be read was not written by a live certlab


def sweep_scratch(base: str | None = None) -> list[str]:
    """Remove this user's certlab scratch folders whose owner is gone (a run killed with -9)."""
    base = base or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        try:
            if not entry.name.startswith(SCRATCH_PREFIX) or not entry.is_dir(follow_symlinks=False) \
                    or entry.stat(follow_symlinks=False).st_uid != os.getuid() or not _owner_gone(entry.path):
                continue
        except OSError:
            continue
        _kill_adopted(entry.path)
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed
