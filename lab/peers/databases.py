"""Database servers that ask for client certificates behind a preamble of their own, played as
``run --to HOST:PORT --starttls postgres|mysql`` plays a server (``lab.play.target.for_peer``):
success means the server accepted the login, not only that TLS finished, and its refusal after
TLS (PostgreSQL's FATAL, MariaDB's "Access denied") is an application-level rejection.

- PostgreSQL: the SSLRequest, then ``hostssl ... cert``: the certificate's CN is the user.
- MariaDB: the SSL request packet of the connection phase, then the login of a user created
  ``REQUIRE X509`` (or ``REQUIRE SSL`` where the certificate is only asked for)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import ClassVar

from lab.children import scratch_folder
from lab.peers.process import PeerUnavailable
from lab.peers.protocols import USER
from lab.peers.servers import BASIC_MODES, TLS12_13, ServerPeer



def postgres_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return os.path.dirname(found[-1]) if found else None


def _as_user(user: str, argv: list[str]) -> list[str]:
    """Database servers refuse to run as root: as root, their programs run as their own user."""
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], timeout: float, user: str | None = None) -> None:
    """Run a setup program (as ``user`` when certlab is root); its error as PeerUnavailable."""
    proc = subprocess.run(_as_user(user, argv) if user else argv, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise PeerUnavailable(f"{os.path.basename(argv[0])} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")


@dataclass
class PostgresServer(ServerPeer):
    """PostgreSQL (15 on Debian 12) with ``ssl = on``; mode none: no ssl_ca_file (no request),
    optional: ssl_ca_file and ``trust``, required: ``hostssl all all 127.0.0.1/32 cert``,
    required-crl: and ssl_crl_file."""
    name: str = "postgresql"

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in BASIC_MODES

    starttls: ClassVar[str | None] = "postgres"   # lab.play.target.for_peer: the upgrade and the login
    login: ClassVar[str] = USER

    def _start(self) -> "PostgresServer":
        bindir = postgres_bindir()
        if bindir is None:
            raise PeerUnavailable("PostgreSQL is not installed; run scripts/setup (apt-get install postgresql)")
        _, folder = self._prepare(None)
        # the postgres user cannot enter certlab's own (0700) folders: a scratch folder of its own
        self.scratch = scratch_folder("pg")
        data = os.path.join(self.scratch, "data")
        if os.geteuid() == 0:
            shutil.chown(self.scratch, "postgres")
        _run([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust"], 120, "postgres")
        for name in ("server.crt", "server.key", "ca.crt", "crl.pem"):
            shutil.copy(os.path.join(folder, name), os.path.join(data, name))
            os.chmod(os.path.join(data, name), 0o600)
            if os.geteuid() == 0:
                shutil.chown(os.path.join(data, name), "postgres")
        tls = f"TLSv{self.version}"
        with open(os.path.join(data, "postgresql.conf"), "a") as fh:
            fh.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.scratch}'\n"
                     f"ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                     f"ssl_min_protocol_version = '{tls}'\nssl_max_protocol_version = '{tls}'\n"
                     + ("ssl_ca_file = 'ca.crt'\n" if self.mode != "none" else "")
                     + ("ssl_crl_file = 'crl.pem'\n" if self.mode == "required-crl" else "")
                     + "log_connections = on\n")
        method = "cert" if self.mode in ("required", "required-crl") else "trust"
        with open(os.path.join(data, "pg_hba.conf"), "w") as fh:
            fh.write(f"local all all trust\nhostssl all all 127.0.0.1/32 {method}\n")
        self._launch(_as_user("postgres", [f"{bindir}/postgres", "-D", data]), ready_timeout=30.0)
        self._wait_ready(bindir)
        for sql in (f'create user "{USER}"', f'create database "{USER}" owner "{USER}"'):
            _run([f"{bindir}/psql", "-h", self.scratch, "-p", str(self.port), "-U", "postgres", "-c", sql], 30,
                 "postgres")
        return self

    def _wait_ready(self, bindir: str, wait: float = 30.0) -> None:
        """Listening is not ready: until recovery ends, connections get "the database system is
        starting up", and pg_isready says so at once (exit 1) rather than waiting."""
        deadline = time.monotonic() + wait
        argv = _as_user("postgres", [f"{bindir}/pg_isready", "-h", self.scratch, "-p", str(self.port)])
        while True:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=wait)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise PeerUnavailable(f"PostgreSQL was not ready after {wait:g} s: {proc.stdout.strip()}")
            time.sleep(0.1)


@dataclass
class MariaDBServer(ServerPeer):
    """MariaDB (10.11 on Debian 12): optional: ``ssl-ca`` and a user created ``REQUIRE SSL`` (a
    certificate is asked for and judged if sent); required: the user ``REQUIRE X509``, refused at
    login without a certificate; required-crl: and ``ssl-crl``. It has no mode none: mariadbd
    sends a CertificateRequest on every TLS connection, without ``ssl-ca`` too (empty CA names,
    and then any certificate is unknown_ca), so a server that asks for nothing cannot be made."""
    name: str = "mariadb"
    starttls: ClassVar[str | None] = "mysql"
    login: ClassVar[str] = USER

    def supports(self, mode: str) -> bool:
        return self.version in TLS12_13 and mode in ("optional", "required", "required-crl")

    def _start(self) -> "MariaDBServer":
        exe, folder = self._prepare("mariadbd")
        self.scratch = scratch_folder("mariadb")   # mariadbd runs as mysql: a folder it can enter
        for name in ("server.crt", "server.key", "ca.crt", "crl.pem"):
            shutil.copy(os.path.join(folder, name), os.path.join(self.scratch, name))
        top = self.scratch
        owner = ["--user=mysql"] if os.geteuid() == 0 else []
        os.makedirs(f"{top}/tmp")   # its own temporary tables: two installs at once collide in /tmp
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "mysql", top], check=True)
        _run(["mariadb-install-db", "--no-defaults", f"--datadir={top}/data", f"--tmpdir={top}/tmp", *owner,
              "--skip-test-db",
              "--auth-root-authentication-method=normal"], 120)
        tls = [f"--ssl-ca={top}/ca.crt"] + ([f"--ssl-crl={top}/crl.pem"] if self.mode == "required-crl" else [])
        self._launch([exe, "--no-defaults", f"--datadir={top}/data", f"--tmpdir={top}/tmp", *owner,
                      f"--port={self.port}",
                      "--bind-address=127.0.0.1", f"--socket={top}/sock", f"--pid-file={top}/pid",
                      f"--ssl-cert={top}/server.crt", f"--ssl-key={top}/server.key",
                      *tls, f"--tls-version=TLSv{self.version}", "--skip-name-resolve"], ready_timeout=60.0)
        require = "X509" if self.mode in ("required", "required-crl") else "SSL"
        _run(["mariadb", "--no-defaults", "-S", f"{top}/sock", "-u", "root", "-e",
              f"CREATE USER '{USER}'@'%' REQUIRE {require}"], 30)
        return self


DATABASE_SERVERS = {"postgresql": PostgresServer, "mariadb": MariaDBServer}
