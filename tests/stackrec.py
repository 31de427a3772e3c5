"""Recording real stacks talking over loopback, under tcpdump, for the dissector tests.

A missing program fails the test (``PeerUnavailable``): the README's test command installs
every stack, so a missing one is a broken setup, never a reason to skip.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.capture.live import TcpdumpCapture
from lab.peers.process import ManagedProcess, free_port, require


@dataclass
class Recording:
    pcap: str
    keylog: str
    port: int
    folder: str
    client_rc: int | None = None
    client_out: str = ""

    def log(self, name: str) -> str:
        path = os.path.join(self.folder, name)
        return open(path, encoding="utf-8", errors="replace").read() if os.path.exists(path) else ""


def run_client(argv: list[str], log_prefix: str, *, script: list[tuple[float, bytes]] | None = None,
               hold: float = 0.8, env: dict[str, str] | None = None,
               timeout: float = 15.0) -> tuple[int | None, str]:
    """Run a client, feed its stdin ``script`` ((delay, bytes) steps), keep stdin open for
    ``hold`` more seconds (TLS 1.3 clients must stay to read the server's verdict), and return
    (exit code, combined output)."""
    with ManagedProcess(argv, log_prefix, env=env, stdin=True) as proc:
        try:
            for delay, data in script or [(0.0, b"hello\n")]:
                time.sleep(delay)
                proc.send(data)
            time.sleep(hold)
            proc.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        rc = proc.wait(timeout)
    out = ""
    for path in (log_prefix + ".out", log_prefix + ".err"):
        with open(path, encoding="utf-8", errors="replace") as fh:
            out += fh.read()
    return rc, out


def record(folder: str, name: str, server: Callable[[int, str], list[str]] | None,
           client: Callable[[int, str], list[str]] | Callable[[int, str], None], *,
           server_env: dict[str, str] | None = None, client_env: dict[str, str] | None = None,
           server_script: list[tuple[float, bytes]] | None = None,
           client_script: list[tuple[float, bytes]] | None = None, hold: float = 0.8,
           keylog_from: str = "server") -> Recording:
    """Start ``server(port, keylog)`` (argv) if given, capture, then run ``client(port, keylog)``:
    an argv for a program, or a Python callable that does the talking itself."""
    require("tcpdump")
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    pcap = os.path.join(folder, f"{name}.pcap")
    keylog = os.path.join(folder, f"{name}.keys")
    rec = Recording(pcap, keylog, port, folder)
    env_k = {"SSLKEYLOGFILE": keylog}
    with TcpdumpCapture(pcap, port):
        srv = None
        if server is not None:
            argv = server(port, keylog)
            require(argv[0])
            srv = ManagedProcess(argv, os.path.join(folder, f"{name}.server"), port=port, stdin=True,
                                 env={**(server_env or {}), **(env_k if keylog_from == "server" else {})})
            srv.__enter__()
        feeder = None
        try:
            if server_script and srv is not None:
                def feed() -> None:
                    for delay, data in server_script:
                        time.sleep(delay)
                        try:
                            srv.send(data)
                        except (BrokenPipeError, OSError, AssertionError):
                            return
                feeder = threading.Thread(target=feed, daemon=True)
                feeder.start()
            cl = client(port, keylog)
            if isinstance(cl, list):
                require(cl[0])
                rec.client_rc, rec.client_out = run_client(
                    cl, os.path.join(folder, f"{name}.client"), script=client_script, hold=hold,
                    env={**(client_env or {}), **(env_k if keylog_from == "client" else {})})
            if feeder:
                feeder.join(10)
            time.sleep(0.3)
        finally:
            if srv is not None:
                srv.stop()
    return rec


def tshark_version() -> str:
    out = subprocess.run([require("tshark"), "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else ""
