"""Two matrices at once, into different folders and sharing one new --pki, on every managed
stack: the same verdicts as one matrix alone (ports, compile caches, NSS databases, temporary
names and the PKI itself are never shared by accident)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.stack

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = ("tls13-client-cert,tls12-ecdhe-client-cert,revoked-client-cert,expired-client-cert,"
             "cert-garbage-leaf,srv-tls12-dhe,srv-tls13-hrr,srv-ca-names-other")


def _matrix(out, pki, cache) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_CACHE_HOME=str(cache))
    return subprocess.Popen([sys.executable, "-m", "lab", "matrix", "--scenarios", SCENARIOS, "--pki", str(pki),
                             "--out", str(out), "--jobs", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _verdicts(out) -> dict:
    with open(os.path.join(out, "results.json")) as fh:
        results = json.load(fh)["results"]
    return {(r["scenario"], r["stack"], r["role"], r["tls_version"]): r["verdict"] for r in results}


def test_two_matrices_at_once_sharing_a_new_pki_give_the_verdicts_of_one(tmp_path) -> None:
    cache = tmp_path / "cache"          # a new compile cache too: both runs build the Go and Java peers
    both = [_matrix(tmp_path / f"report{i}", tmp_path / "shared-pki", cache) for i in (1, 2)]
    for proc in both:
        proc.wait(600)
        assert proc.returncode in (0, 1), proc.stderr.read()[-2000:]
    alone = _matrix(tmp_path / "alone", tmp_path / "shared-pki", cache)
    alone.wait(600)
    reference = _verdicts(tmp_path / "alone")
    with open(tmp_path / "alone" / "results.json") as fh:
        errors = [(r["stack"], r["scenario"], r["reason"]) for r in json.load(fh)["results"] if r["verdict"] == "error"]
    assert errors == []
    assert len({(stack, role) for _, stack, role, _ in reference}) == 34   # 22 server stacks, 12 clients
    assert _verdicts(tmp_path / "report1") == reference
    assert _verdicts(tmp_path / "report2") == reference


def test_a_port_another_program_listens_on_is_not_taken_for_the_peer(pki, tmp_path, monkeypatch) -> None:
    """Between certlab's probe for a free port and its peer's bind, another program (another
    certlab's peer) may take the port: readiness is the peer's own listening socket, and the peer
    is started again on a new port."""
    import socket
    from lab.peers import servers
    from lab.peers.process import ManagedProcess, PortTaken
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    taken = other.getsockname()[1]
    with pytest.raises(PortTaken, match=f"port {taken} is held by another program, not sleep"):
        with ManagedProcess(["sleep", "30"], str(tmp_path / "sleep"), port=taken, ready_timeout=1):
            pass
    ports = iter([taken, servers.free_port()])
    monkeypatch.setattr(servers, "free_port", lambda: next(ports))
    with servers.OpenSSLServer(pki, "1.3", "required", str(tmp_path)) as peer:
        assert peer.port != taken
        from lab.peers.process import _listeners, _session_sockets
        assert _listeners(peer.port) & _session_sockets(peer.proc.proc.pid)
    other.close()
