"""What SECURITY.md promises, checked: every server peer listens on loopback only (gnutls-serv
and selfserv, which have no bind option, through the loopback-bind shim), certlab's own server
too; private keys and key logs are 0600 and say what they are; no subprocess is given a shell
string."""
from __future__ import annotations

import ast
import ipaddress
import os
import stat
import subprocess

import pytest

from lab.peers.registry import SERVER_PROGRAMS
from lab.peers.servers import server_classes
from lab.transport import ListeningTransport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listening_addresses(port: int) -> list[str]:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, timeout=30).stdout
    return [line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines() if line.strip()]


def _loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


@pytest.mark.stack
@pytest.mark.parametrize("stack", sorted(SERVER_PROGRAMS))
def test_server_peers_listen_on_loopback_only(stack: str, pki, tmp_path) -> None:
    version = "1.2" if stack == "lighttpd-mbedtls" else "1.3"
    with server_classes()[stack](pki, version, "required", str(tmp_path)) as peer:
        addrs = listening_addresses(peer.port)
    assert addrs and all(_loopback(a) for a in addrs), addrs


@pytest.mark.stack
def test_what_a_peer_starts_beside_it_listens_on_loopback_only(pki, tmp_path) -> None:
    """The OCSP responder (openssl ocsp has no bind option) and a proxy's application."""
    with server_classes()["apache"](pki, "1.3", "required-ocsp", str(tmp_path / "a")) as peer:
        addrs = listening_addresses(peer.responder.port)
    assert addrs and all(_loopback(a) for a in addrs), addrs
    with server_classes()["nginx"](pki, "1.3", "proxy", str(tmp_path / "n")) as peer:
        addrs = listening_addresses(peer.backend.port)
    assert addrs and all(_loopback(a) for a in addrs), addrs


def test_certlab_server_listens_on_loopback_only() -> None:
    t = ListeningTransport()
    try:
        assert listening_addresses(t.port) == ["127.0.0.1"]
    finally:
        t.close()


def test_keys_and_key_logs_are_private_and_labelled(pki, tmp_path) -> None:
    key = pki.identity("rsa", "client").key
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert open(key, encoding="ascii").readline().startswith("certlab test PKI private key of client")
    from lab.capture.writer import write_pcapng
    path = str(tmp_path / "c.pcapng")
    write_pcapng(path, [], "CLIENT_RANDOM " + "00" * 32 + " " + "11" * 48 + "\n")
    keys = str(tmp_path / "c.keys")
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert open(keys, encoding="ascii").readline().startswith("# certlab: TLS key log")


def test_no_shell_strings() -> None:
    """No subprocess call passes shell=True and nothing calls os.system/os.popen."""
    bad = []
    for folder in ("lab", "layers", "scenarios"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                tree = ast.parse(open(path, encoding="utf-8").read(), path)
                for node in ast.walk(tree):
                    if isinstance(node, ast.Call):
                        fn = ast.unparse(node.func)
                        if fn in ("os.system", "os.popen") or any(
                                k.arg == "shell" and ast.unparse(k.value) != "False" for k in node.keywords):
                            bad.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} {fn}")
    assert not bad, bad
