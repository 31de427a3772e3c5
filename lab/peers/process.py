"""Running a real stack's program: its own process group, logs captured to files, readiness by
polling the kernel's listen table (never by connecting, which would use up an accept), and a
teardown that leaves nothing behind."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence

from lab.children import die_with_parent


class PeerUnavailable(Exception):
    """A program the lab needs is not installed; the message names the package."""


PACKAGES = {"openssl": "openssl", "gnutls-serv": "gnutls-bin", "gnutls-cli": "gnutls-bin",
            "nginx": "nginx", "selfserv": "libnss3-tools", "tstclnt": "libnss3-tools",
            "curl": "curl", "tcpdump": "tcpdump", "tshark": "tshark", "go": "golang-go",
            "java": "openjdk-17-jdk-headless", "javac": "openjdk-17-jdk-headless", "apache2": "apache2",
            "haproxy": "haproxy", "lighttpd": "lighttpd", "stunnel4": "stunnel4", "node": "nodejs", "mosquitto": "mosquitto",
            "mariadbd": "mariadb-server", "chromium": "chromium", "wget": "wget",
            "escript": "erlang-base erlang-ssl erlang-public-key erlang-crypto erlang-asn1"}


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pkg = PACKAGES.get(program, program)
        raise PeerUnavailable(f"{program} not found; run scripts/setup (apt-get install {pkg})")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just handed out on ``host`` (bind to 0, read it, release it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PortTaken(PeerUnavailable):
    """Another program listens on the port a peer was started on."""


def listening(port: int) -> bool:
    """Whether any socket listens on TCP ``port`` (from /proc/net/tcp and tcp6)."""
    return bool(_listeners(port))


def _listeners(port: int) -> set[str]:
    """The socket inodes listening on TCP ``port``."""
    hexport, found = f":{port:04X}", set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 9 and parts[1].endswith(hexport) and parts[3] == "0A":
                        found.add(parts[9])
        except OSError:
            continue
    return found


def _session_sockets(root: int) -> set[str]:
    """The socket inodes open in the peer's processes: its session, and what it started (a
    daemon's master may start a session of its own: Postfix's)."""
    stats: dict[int, tuple[int, int]] = {}   # pid -> (parent, session)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                stats[int(entry)] = (int(fields[1]), int(fields[3]))
            except (OSError, ValueError, IndexError):
                continue

    def ours(pid: int) -> bool:
        for _ in range(64):
            if pid == root or stats.get(pid, (0, 0))[1] == root:
                return True
            pid = stats.get(pid, (0, 0))[0]
            if pid <= 1:
                return False
        return False
    found = set()
    for pid in (p for p in stats if ours(p)):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    found.add(link[8:-1])
        except OSError:
            continue
    return found


class ManagedProcess:
    """``with ManagedProcess(argv, log_prefix, port=N) as p:`` starts argv and waits until it
    listens on N (if given); on exit the whole process group is terminated, then killed."""

    def __init__(self, argv: Sequence[str], log_prefix: str, *, port: int | None = None,
                 env: dict[str, str] | None = None, stdin: bool = False, cwd: str | None = None,
                 ready_timeout: float = 15.0) -> None:
        self.argv, self.log_prefix, self.port = list(argv), log_prefix, port
        self.env, self.want_stdin, self.cwd, self.ready_timeout = env, stdin, cwd, ready_timeout
        self.proc: subprocess.Popen | None = None
        self._stopped: subprocess.Popen | None = None
        self._out = self._err = None

    @property
    def stdout_path(self) -> str:
        return self.log_prefix + ".out"

    @property
    def stderr_path(self) -> str:
        return self.log_prefix + ".err"

    def __enter__(self) -> "ManagedProcess":
        self._out, self._err = open(self.stdout_path, "wb"), open(self.stderr_path, "wb")
        env = dict(os.environ, **(self.env or {}))
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE if self.want_stdin else subprocess.DEVNULL,
                                         stdout=self._out, stderr=self._err, env=env, cwd=self.cwd,
                                         start_new_session=True, preexec_fn=die_with_parent)
            if self.port is not None:
                self._wait_listening()
        except BaseException:   # not ready, or Ctrl-C/SIGTERM while waiting: the `with` never starts
            self.stop()
            raise
        return self

    def _wait_listening(self) -> None:
        """Until the program itself listens on the port: a socket there that belongs to another
        program (a peer of another certlab started on the same port) is not this peer's."""
        deadline, name = time.monotonic() + self.ready_timeout, os.path.basename(self.argv[0])
        while True:
            listeners = _listeners(self.port)
            if listeners and listeners & _session_sockets(self.proc.pid):
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                if listeners:
                    raise PortTaken(f"port {self.port} is held by another program, not {name}")
                raise PeerUnavailable(f"{name} did not listen on port {self.port}: {self.log_tail()}")
            time.sleep(0.02)

    def send(self, data: bytes) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait(self, timeout: float) -> int | None:
        proc = self.proc or self._stopped   # stopped meanwhile: its exit status is known
        assert proc
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, n: int = 3) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                lines = fh.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    def stop(self) -> None:
        """Terminate, then kill, the process group; safe to call from two threads at once (a
        client's own thread and an interrupted run): the first takes the process."""
        proc, self.proc = self.proc, None
        if proc is not None:
            self._stopped = proc
            if proc.poll() is None:
                for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        proc.wait(wait)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            if proc.stdin:
                try:
                    proc.stdin.close()
                except (BrokenPipeError, ValueError):
                    pass
        for fh in (self._out, self._err):
            if fh:
                fh.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()
