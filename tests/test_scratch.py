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


def test_a_swept_folder_takes_its_adopted_daemons_with_it(tmp_path) -> None:
    """A daemon that left certlab's process tree (Postfix's master) and was adopted by its
    folder is killed when the folder of a run that is gone is swept; a reused pid is not."""
    from lab.children import adopt
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = _stamped(tmp_path, "run-daemon", int(dead.stdout), "12345")
    daemon = subprocess.Popen(["setsid", "sleep", "60"])
    try:
        time.sleep(0.2)
        pid = int(subprocess.run(["pgrep", "-n", "-f", "^sleep 60$"], capture_output=True, text=True).stdout)
        adopt(folder, pid)
        with open(os.path.join(folder, ".certlab-adopted"), "a") as fh:
            fh.write(f"{os.getpid()} 1\n")          # our pid with another start time: not ours to kill
        assert sweep_scratch(str(tmp_path)) == [folder]
        deadline = time.time() + 5
        while time.time() < deadline and _started(pid) is not None and \
                open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            time.sleep(0.05)
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] if _started(pid) else "gone"
        assert state in ("Z", "gone")
    finally:
        daemon.kill()
        daemon.wait()
