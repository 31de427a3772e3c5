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
