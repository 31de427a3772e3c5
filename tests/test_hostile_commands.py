"""Every command that talks to a peer, against each hostile peer behaviour of
``tests/hostile_servers.py`` (its own process): silent, closing, resetting, garbage, HTTP, records,
handshake messages or application data without end, a handshake message trickled a byte at a
time. Each command must end within its deadline plus a second, stay under 200 MB, and say what
happened in a line that is true of the bytes (never "accepted" for what was never sent)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CERTLAB = [sys.executable, "-m", "lab"]
HOSTILE = os.path.join(ROOT, "tests", "hostile_servers.py")
TIMEOUT = 2.0
# Peak RSS of the one child, measured by a wrapper process whose only child is the command.
MEASURE = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr); "
           "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
           "sys.exit(p.returncode)")

# What each command must say, per server behaviour (a piece of its output).
RUN_SAYS = {"silent": "timeout", "close": "closed", "rst": "closed", "garbage": "not a TLS record",
            "http": "not a TLS record", "endless-records": "kept sending", "endless-handshake": "kept sending",
            "endless-appdata": "bytes of application data unasked", "slow-handshake": "0 whole messages"}
PROBE_SAYS = {"silent": "sent nothing", "close": "closed the connection during the handshake",
              "rst": "closed the connection during the handshake", "garbage": "not a TLS server",
              "http": "not a TLS server", "endless-records": "did not complete a TLS handshake",
              "endless-handshake": "did not complete a TLS handshake", "endless-appdata": "kept sending",
              "slow-handshake": "did not complete a TLS handshake"}


def _measured(argv: list[str], cwd: str) -> tuple[subprocess.CompletedProcess, float, int]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, cwd=cwd,
                          timeout=120)
    elapsed = time.monotonic() - t0
    rss = int(proc.stderr.rsplit("RSS ", 1)[1].split()[0]) * 1024
    return proc, elapsed, rss


@pytest.fixture(scope="module")
def hostile_servers(pki):
    procs, ports = {}, {}
    try:
        for b in RUN_SAYS:
            p = subprocess.Popen([sys.executable, HOSTILE, b, pki.root], stdout=subprocess.PIPE, text=True)
            procs[b] = p
            ports[b] = int(p.stdout.readline())
        yield ports
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def client_auth_capture(pki, tmp_path_factory) -> str:
    """A TLS 1.2 capture with a client Certificate and CertificateVerify (Python's ssl server)."""
    out = tmp_path_factory.mktemp("capture")
    proc = subprocess.run([*CERTLAB, "run", "tls12-ecdhe-client-cert", "--stack", "python", "--pki", pki.root,
                           "--pcap-dir", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return str(out / "tls12-ecdhe-client-cert-python-tls12.pcapng")


@pytest.mark.parametrize("behaviour", sorted(RUN_SAYS))
def test_run_to_a_hostile_server(behaviour, hostile_servers, pki, tmp_path) -> None:
    proc, elapsed, rss = _measured([*CERTLAB, "run", "tls13-client-cert", "--to",
                                    f"127.0.0.1:{hostile_servers[behaviour]}", "--insecure", "--pki", pki.root,
                                    "--timeout", str(TIMEOUT), "--pcap-dir", str(tmp_path)], ROOT)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert RUN_SAYS[behaviour] in out, out
    assert elapsed < TIMEOUT + 1 + 1.0, (elapsed, out)      # + Python's own start-up
    assert rss < 200 << 20, rss
    pcaps = list(tmp_path.glob("*.pcapng"))
    assert len(pcaps) == 1 and pcaps[0].stat().st_size < 2 << 20
    if behaviour.startswith("endless") and behaviour != "endless-appdata":
        assert "was read and not kept" in out and proc.returncode == 1, out


@pytest.mark.parametrize("behaviour", sorted(RUN_SAYS))
def test_replay_to_a_hostile_server_never_counts_silence_as_acceptance(behaviour, hostile_servers,
                                                                        client_auth_capture) -> None:
    proc, elapsed, rss = _measured([*CERTLAB, "replay", client_auth_capture, "--to",
                                    f"127.0.0.1:{hostile_servers[behaviour]}", "--timeout", str(TIMEOUT)], ROOT)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "WARNING" not in out, out
    if behaviour == "endless-appdata":   # a real TLS server (Python's ssl): it judged the grafted signature
        assert "decrypt_error" in out and proc.returncode == 0, out
    else:
        assert "not comparable: the captured messages were never sent" in out and proc.returncode == 1, out
    assert elapsed < 2 * TIMEOUT + 1 + 1.0, (elapsed, out)   # the server flight, then the closing read
    assert rss < 200 << 20, rss


@pytest.mark.parametrize("behaviour", sorted(PROBE_SAYS))
def test_probe_a_hostile_server(behaviour, hostile_servers) -> None:
    proc, elapsed, rss = _measured([*CERTLAB, "probe", f"127.0.0.1:{hostile_servers[behaviour]}", "--tls", "1.3",
                                    "--timeout", str(TIMEOUT)], ROOT)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and PROBE_SAYS[behaviour] in out, out
    # Two connections (no certificate, self-signed), each: the flight, the quiet after it, the request.
    assert elapsed < 2 * (2 * TIMEOUT + 0.3) + 1 + 1.0, (elapsed, out)
    assert rss < 200 << 20, rss


CLIENT_SAYS = {"silent": "timeout", "rst": "closed", "plaintext-appdata": "application data before its handshake",
               "http": "not a TLS record", "endless-records": "was read and not kept",
               "endless-handshake": "was read and not kept"}


@pytest.mark.parametrize("behaviour", sorted(CLIENT_SAYS))
def test_serve_a_hostile_client(behaviour, pki, tmp_path) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen([sys.executable, "-c", MEASURE, *CERTLAB, "serve", "srv-ca-names-issuer", "--tls", "1.2",
                              "--port", str(port), "--pki", pki.root, "--wait", "20", "--timeout", str(TIMEOUT)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    from lab.peers.process import listening   # the kernel's table: connecting would be the accepted client
    try:
        deadline = time.monotonic() + 20
        while not listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        client = subprocess.Popen([sys.executable, HOSTILE, "--client", behaviour, str(port)])
        t0 = time.monotonic()
        out, err = serve.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        serve.kill()
        client.kill()
        client.wait()
    rss = int(err.rsplit("RSS ", 1)[1].split()[0]) * 1024
    text = out + err
    assert "Traceback" not in text and CLIENT_SAYS[behaviour] in text, text
    assert serve.returncode == 1 and "PASS" not in text, text     # never a success
    assert elapsed < 2 * TIMEOUT + 1, (elapsed, text)             # the read, then the close it waits for
    assert rss < 200 << 20, rss
