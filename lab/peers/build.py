"""Programs the lab compiles on first use from ``lab/peers/src``: the Go and Java peers and the
loopback-bind shim. Builds live in a cache folder ($XDG_CACHE_HOME/certlab, or ~/.cache/certlab),
one folder per source hash, so a changed source is rebuilt."""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile

from lab.peers.process import PeerUnavailable, require

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "certlab")
    os.makedirs(path, exist_ok=True)
    return path


def built(source: str, kind: str) -> str:
    """The build folder for this exact source (its hash), compiled if missing. Concurrent runs
    build once: a lock per build, the build made in a temporary folder and renamed into place,
    so no run ever sees a half-written build."""
    with open(os.path.join(SRC, source), "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()[:16]
    out = os.path.join(cache_dir(), f"{kind}-{digest}")
    if os.path.exists(os.path.join(out, ".built")):
        return out
    with open(os.path.join(cache_dir(), f".{kind}-{digest}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(out, ".built")):
            return out
        shutil.rmtree(out, ignore_errors=True)  # an unfinished build of an older certlab
        tmp = tempfile.mkdtemp(prefix=f".{kind}-{digest}-", dir=cache_dir())
        try:
            _compile(source, kind, tmp)
            open(os.path.join(tmp, ".built"), "w").close()
            os.rename(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _compile(source: str, kind: str, out: str) -> None:
    env = dict(os.environ)
    if kind == "go":
        exe = require("go")
        env.update(GOCACHE=os.path.join(cache_dir(), "gocache"), GOPATH=os.path.join(cache_dir(), "gopath"),
                   GO111MODULE="off", CGO_ENABLED="0")
        argv = [exe, "build", "-o", os.path.join(out, os.path.splitext(source)[0]), os.path.join(SRC, source)]
    elif kind == "c":
        argv = [require("gcc"), "-shared", "-fPIC", "-O2", "-o", os.path.join(out, "lib" + os.path.splitext(source)[0]
                                                                                + ".so"), os.path.join(SRC, source),
                "-ldl"]
    else:
        argv = [require("javac"), "-d", out, os.path.join(SRC, source)]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode != 0:
        raise PeerUnavailable(f"building {source} failed: {proc.stderr.strip()[-300:]}")


def loopback_only_env() -> dict[str, str]:
    """The environment that makes a wildcard-binding server listen on loopback only (LD_PRELOAD)."""
    path = os.path.join(built("loopback_bind.c", "c"), "libloopback_bind.so")
    if any(c in path for c in " \t\n:"):  # ld.so splits LD_PRELOAD at spaces and colons, with no escape
        raise PeerUnavailable(f"the build cache {cache_dir()!r} has a space or ':' in its path, which LD_PRELOAD "
                              "cannot hold: set XDG_CACHE_HOME to a folder without them")
    return {"LD_PRELOAD": path}
