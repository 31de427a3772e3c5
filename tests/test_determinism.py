"""The same scenario against the same stack gives the same outcome 20 times out of 20, for the
cells that were once flaky or are timing-sensitive: TLS 1.3 late rejections (the alert after the
client's Finished), a bad CertificateVerify, and the server role's certificate_required after a
Finished that arrives in the same segment as the request."""
from __future__ import annotations

import pytest

import scenarios  # noqa: F401
from lab.peers.clients import client_for
from lab.peers.servers import server_classes
from lab.play.cells import run_scenario
from lab.script.setup import Setup
from lab.script.dsl import REGISTRY
from lab.play.cells import run_server_scenario
from lab.transport import SocketTransport

pytestmark = pytest.mark.stack
RUNS = 20


def _key(observed) -> tuple:
    return (observed.outcome, observed.alert, observed.when, observed.client_certificate)


@pytest.mark.parametrize("sid,stack", [("tls13-no-cert-required", "openssl"), ("tls13-untrusted-client-cert", "gnutls"),
                                       ("tls12-cv-wrong-key", "nss"), ("tls13-no-cert-required", "java")])
def test_client_role_outcome_is_stable(sid: str, stack: str, pki, tmp_path) -> None:
    sc = REGISTRY[sid]
    version = sorted(sc.versions)[-1]
    with server_classes()[stack](pki, version, sc.server_mode, str(tmp_path)) as peer:
        seen = {_key(run_scenario(sc, Setup(pki, version), lambda: SocketTransport("127.0.0.1", peer.port), stack,
                                  hooks=peer.hooks()).observed) for _ in range(RUNS)}
    assert len(seen) == 1, seen


@pytest.mark.parametrize("stack", ["go", "java"])
def test_server_role_late_rejection_is_stable(stack: str, pki, tmp_path) -> None:
    sc = REGISTRY["srv-tls13-reject-after-finished"]
    seen = {_key(run_server_scenario(sc, Setup(pki, "1.3"), client_for(stack, sc, pki, "1.3", str(tmp_path)),
                                     stack).observed) for _ in range(RUNS)}
    assert len(seen) == 1, seen
