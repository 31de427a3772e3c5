"""Live capture with tcpdump on loopback (root), as a context manager that never leaves the
sniffer running."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

from lab.children import die_with_parent


class CaptureUnavailable(Exception):
    """tcpdump is missing or cannot capture here."""


class TcpdumpCapture:
    """``with TcpdumpCapture(path, port): ...`` records ``tcp port PORT`` on ``lo`` to ``path``."""

    def __init__(self, path: str, port: int, iface: str = "lo", timeout: float = 5.0) -> None:
        self.path, self.port, self.iface, self.timeout = path, port, iface, timeout
        self.proc: subprocess.Popen | None = None
        self.stderr: list[str] = []

    def __enter__(self) -> "TcpdumpCapture":
        exe = shutil.which("tcpdump")
        if exe is None:
            raise CaptureUnavailable("tcpdump not found; run scripts/setup (apt-get install tcpdump)")
        # --immediate-mode: otherwise packets wait in the kernel ring and a prompt stop loses them.
        self.proc = subprocess.Popen(
            [exe, "-i", self.iface, "--immediate-mode", "-U", "-Z", "root", "-w", self.path,
             f"tcp port {self.port}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=die_with_parent)
        ready = threading.Event()

        def reader() -> None:
            assert self.proc and self.proc.stderr
            for line in self.proc.stderr:
                self.stderr.append(line.rstrip())
                if "listening on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        try:
            if not ready.wait(self.timeout) or self.proc.poll() is not None:
                raise CaptureUnavailable("tcpdump did not start: " + " ".join(self.stderr[-2:]))
        except BaseException:   # including Ctrl-C while waiting: never leave the sniffer running
            self._stop()
            raise
        return self

    def _stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # SIGINT is ignored by background jobs
            try:
                self.proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.2)  # let the last segments reach the ring
        self._stop()
