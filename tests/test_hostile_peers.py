"""The engine facing a hostile or broken peer: garbage, a truncated record, a record of 2^14+1
bytes, an endless stream of HelloRequests or KeyUpdates, a peer that stops reading. The hostile
server is certlab's own server engine (so it can send protected records) in a thread; the client
is certlab's engine through the normal runner. Each case must end with a clear outcome, well
within the scenario's timeout, never a hang."""
from __future__ import annotations

import socket
import threading
import time

import pytest

import scenarios  # noqa: F401  (registers the client scenarios)

from lab.peers.clients import ExternalClient
from lab.play.cells import run_scenario
from lab.script.setup import Setup
from lab.script.dsl import REGISTRY, Outcome, ReadUntil, Scenario, SendRecords
from lab.script.serverflows import serve
from lab.play.cells import run_server_scenario
from lab.transport import ListeningTransport, SocketTransport

TIMEOUT = 2.0


def _hostile(steps, version: str) -> Scenario:
    return Scenario("hostile", "-", "-", "server", frozenset({version}), "a hostile server", "none",
                    lambda s: steps, lambda v: Outcome("success"))


def _flood(make, times: int) -> list:
    return [SendRecords(make, label="flood") for _ in range(times)]


CASES = {  # name -> (version, the server's steps after reading the ClientHello or the handshake)
    "garbage": ("1.3", [ReadUntil(("client_hello",)), SendRecords(lambda e: b"HTTP/1.1 400 Bad Request\r\n\r\n")]),
    "truncated-record": ("1.3", [ReadUntil(("client_hello",)),
                                 SendRecords(lambda e: b"\x16\x03\x03\x00\x64" + b"\x02" * 10)]),
    "oversized-record": ("1.2", [ReadUntil(("client_hello",)),
                                 SendRecords(lambda e: b"\x16\x03\x03\x40\x01" + b"\x00" * 16385)]),
    "endless-hello-requests": ("1.2", None),
    "endless-key-updates": ("1.3", None),
}


def _steps(name: str, version: str, setup: Setup):
    if name == "endless-hello-requests":
        return serve("1.2", None, after=_flood(lambda e: e.send_handshake(*[e.hello_request()] * 200), 400))
    if name == "endless-key-updates":
        return serve("1.3", None, after=_flood(lambda e: b"".join(e.key_update(1) for _ in range(50)), 400))
    return CASES[name][1]


@pytest.mark.parametrize("name", sorted(CASES))
def test_client_engine_survives_hostile_server(name: str, pki) -> None:
    version = CASES[name][0]
    setup = Setup(pki, version)
    listener = ListeningTransport()
    server = threading.Thread(target=run_server_scenario, daemon=True,
                              args=(_hostile(_steps(name, version, setup), version), setup,
                                    ExternalClient(pki, version, "/tmp"), "hostile"),
                              kwargs={"transport": listener, "timeout": 5.0})
    server.start()
    sc = REGISTRY["tls13-no-cert-optional" if version == "1.3" else "tls12-no-cert-optional"]
    t0 = time.monotonic()
    result = run_scenario(sc, setup, lambda: SocketTransport("127.0.0.1", listener.port), "hostile", timeout=TIMEOUT)
    elapsed = time.monotonic() - t0
    listener.close()
    server.join(15)
    observed = result.observed
    assert elapsed < 3 * TIMEOUT + 1, (elapsed, observed)
    assert observed.outcome in ("error", "closed", "timeout", "alert"), observed
    if name in ("garbage", "oversized-record"):
        assert observed.outcome == "error" and ("not a TLS record" in observed.reason
                                                   or "record_overflow" in observed.reason), observed
    if name.startswith("endless"):
        assert observed.outcome == "timeout" and "kept sending" in (observed.reason or ""), observed


def test_transport_send_to_a_peer_that_stops_reading() -> None:
    """A peer that accepts and never reads: sending 64 MiB returns once the socket's timeout
    passes instead of blocking for ever."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(srv.accept()[0]), daemon=True).start()
    t = SocketTransport("127.0.0.1", port, timeout=1.0)
    t0 = time.monotonic()
    t.send(b"\x17\x03\x03\x40\x00" + b"x" * (64 << 20))
    assert time.monotonic() - t0 < 10
    assert t.recv(0.2) is None
    t.close()
    for s in accepted:
        s.close()
    srv.close()
