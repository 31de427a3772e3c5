"""The sweep of stale scratch folders removes exactly those of runs that are gone."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from lab.children import SCRATCH_PREFIX, _started, sweep_scratch


def _stamped(base, name: str, pid: int, started: str | None) -> str:
    path = os.path.join(base, SCRATCH_PREFIX + name)
    os.mkdir(path)
    with open(os.path.join(path, ".certlab-owner"), "w") as fh:
        fh.write(f"{pid} {started}\n")
    return path


def test_only_folders_of_gone_owners_are_swept(tmp_path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live = _stamped(tmp_path, "run-live", os.getpid(), _started(os.getpid()))
    gone = _stamped(tmp_path, "run-gone", dead_pid, "12345")
    reused = _stamped(tmp_path, "run-reused", os.getpid(), "1")  # our pid, another process's start
    fresh = tmp_path / (SCRATCH_PREFIX + "run-unstamped-fresh")
    fresh.mkdir()
    old = tmp_path / (SCRATCH_PREFIX + "run-unstamped-old")
    old.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    other = tmp_path / "not-certlab"
    other.mkdir()
    removed = sweep_scratch(str(tmp_path))
    assert sorted(removed) == sorted([gone, reused, str(old)])
    assert os.path.isdir(live) and fresh.is_dir() and other.is_dir()
