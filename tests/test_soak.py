"""A short soak in CI (the full one is ``tests/soak.py --runs 1000``): ``certlab run`` against
real stacks, some runs interrupted by SIGINT/SIGTERM, some with their peer killed; nothing may
hang, and no process, listening port, network namespace or temporary folder may remain."""
from __future__ import annotations

import pytest

from tests.soak import soak

pytestmark = pytest.mark.stack


def test_short_soak_leaves_nothing_behind(pki) -> None:
    result = soak(24, seed=7, pki=pki.root)
    assert result["hung"] == 0, result
    assert not any(result["left"].values()), result["left"]


def test_a_peer_dies_with_a_certlab_killed_by_sigkill(tmp_path) -> None:
    """`kill -9` of certlab while a real server peer (gnutls-serv, which once outlived it) is
    running in a matrix thread: the kernel ends the peer too (PR_SET_PDEATHSIG), and its port
    is free again."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from lab.peers.process import listening
    code = ("import sys, threading, time\n"
            "from lab.pki import Pki\n"
            "from lab.peers.servers import server_classes\n"
            "pki = Pki.create(sys.argv[1] + '/pki')\n"
            "def run():\n"
            "    peer = server_classes()['gnutls'](pki, '1.3', 'required', sys.argv[1])\n"
            "    peer.__enter__()\n"
            "    print(peer.port, peer.proc.proc.pid, flush=True)\n"
            "    time.sleep(60)\n"
            "threading.Thread(target=run).start()\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    certlab = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=root, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = certlab.stdout.readline()
    assert line, certlab.stderr.read()[-1000:]
    port, pid = (int(x) for x in line.split())
    assert listening(port)
    os.kill(certlab.pid, signal.SIGKILL)
    certlab.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (os.path.exists(f"/proc/{pid}") and
                                           open(f"/proc/{pid}/stat").read().split()[2] != "Z"):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not listening(port)


def _descendants(pid: int) -> set[int]:
    import os
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo += list(kids - found)
        found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_9_of_a_matrix_leaves_no_process_and_the_next_run_removes_its_folders(tmp_path, pki) -> None:
    """The user's `kill -9` of `certlab matrix` mid-run: 2 s later none of the programs it started
    is alive, and the next certlab command removes its temporary folder."""
    import glob
    import os
    import signal
    import subprocess
    import sys
    import time
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=root)
    matrix = subprocess.Popen([sys.executable, "-m", "lab", "matrix", "--stacks", "gnutls,openssl,nss",
                               "--pki", pki.root, "--out", str(tmp_path / "report"), "--jobs", "3"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, started = time.monotonic() + 60, set()
    while time.monotonic() < deadline and not glob.glob(str(tmp_path / "report" / "cells" / "*")):
        started |= _descendants(matrix.pid)
        time.sleep(0.05)
    started |= _descendants(matrix.pid)
    assert matrix.poll() is None and started, "the matrix ended before it could be killed"
    assert glob.glob(str(tmp_path / "certlab-matrix-*"))
    os.kill(matrix.pid, signal.SIGKILL)
    matrix.wait(10)
    time.sleep(2)
    assert [p for p in started if _alive(p)] == []
    subprocess.run([sys.executable, "-m", "lab", "list"], env=env, cwd=tmp_path, capture_output=True, timeout=60)
    assert glob.glob(str(tmp_path / "certlab-*")) == []
