"""The stack registry: which program each managed stack needs, which are installed, and why a
stack cannot run a scenario (a mode it lacks, a feature it declares missing)."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess

ERLANG_SSL = "/usr/lib/erlang/lib/ssl-*"   # Erlang's ssl application (erlang-ssl), beside escript
# Server stacks, for client-role scenarios (None: needs no program, it runs in-process).
# A path names a file that must exist (a lighttpd TLS module), "python:M" a module certlab's Python imports.
SERVER_PROGRAMS: dict[str, str | None] = {"openssl": "openssl", "python": None, "nginx": "nginx",
                                          "gnutls": "gnutls-serv", "nss": "selfserv", "java": "javac", "go": "go",
                                          "apache": "apache2", "haproxy": "haproxy", "stunnel": "stunnel4",
                                          "node": "node", "erlang": ERLANG_SSL, "tlslite": "python:tlslite",
                                          "postgresql": "/usr/lib/postgresql/*/bin/postgres", "mosquitto": "mosquitto",
                                          "dovecot": "dovecot", "postfix": "postfix", "mariadb": "mariadbd",
                                          **{f"lighttpd-{lib}": f"/usr/lib/lighttpd/mod_{lib}.so"
                                             for lib in ("openssl", "gnutls", "wolfssl", "mbedtls")}}
# Client programs, for server-role scenarios.
CLIENT_PROGRAMS: dict[str, str | None] = {"openssl": "openssl", "python": None, "curl": "curl",
                                          "gnutls": "gnutls-cli", "go": "go", "java": "javac", "nss": "tstclnt",
                                          "node": "node", "erlang": ERLANG_SSL, "tlslite": "python:tlslite",
                                          "wget": "wget", "chromium": "chromium"}


def programs(role: str) -> dict[str, str | None]:
    """The stacks that play the peer of a scenario of ``role`` ("client": servers)."""
    return CLIENT_PROGRAMS if role == "server" else SERVER_PROGRAMS


def is_installed(program: str | None) -> bool:
    if program is not None and program.startswith("python:"):
        import importlib.util
        return importlib.util.find_spec(program[7:]) is not None
    if program is not None and "*" in program:
        import glob
        return bool(glob.glob(program))
    if program is not None and program.startswith("/"):
        return os.path.exists(program) and (not program.startswith("/usr/lib/lighttpd/") or is_installed("lighttpd"))
    return program is None or bool(shutil.which(program)) or os.path.exists(f"/usr/sbin/{program}")


def installed(table: dict[str, str | None]) -> list[str]:
    return sorted(s for s, p in table.items() if is_installed(p))


def skip_reason(peer, sc) -> str | None:
    """Why this peer cannot run this scenario at all (a missing mode or feature), or None."""
    from lab.peers.servers import canonical_mode
    if not peer.supports(canonical_mode(sc.server_mode)):
        return f"{peer.name} has no {sc.server_mode} mode in TLS {peer.version}"
    for tag in sorted(sc.tags):
        if tag in peer.lacks:
            return peer.lacks[tag]
    return None


# How to ask each program its version (the first line that names it is kept).
_VERSION_COMMANDS: dict[str, list[str]] = {
    "openssl": ["openssl", "version"], "nginx": ["nginx", "-v"], "gnutls": ["gnutls-cli", "--version"],
    "curl": ["curl", "--version"], "go": ["go", "version"], "java": ["java", "-version"],
    "apache": ["apache2", "-v"], "haproxy": ["haproxy", "-v"], "stunnel": ["stunnel4", "-version"],
    "node": ["node", "-v"], "wget": ["wget", "--version"], "chromium": ["chromium", "--version"],
    "postgresql": ["psql", "--version"], "mosquitto": ["mosquitto", "-h"], "dovecot": ["dovecot", "--version"],
    "postfix": ["postconf", "-d", "mail_version"], "mariadb": ["/usr/sbin/mariadbd", "--version"],
    "erlang": ["erl", "-noshell", "-eval", "io:format(\"~s~n\", [erlang:system_info(otp_release)]), halt()."],
    **{f"lighttpd-{lib}": ["lighttpd", "-v"] for lib in ("openssl", "gnutls", "wolfssl", "mbedtls")},
}


@functools.lru_cache(maxsize=None)
def stack_version(stack: str) -> str:
    """The stack's version as its program states it ("OpenSSL 3.0.15 3 Sep 2024"), or the Debian
    package's version where the program has no version flag (NSS's tools); "unknown" if neither."""
    if stack == "python":
        import platform
        import ssl
        return f"Python {platform.python_version()} ({ssl.OPENSSL_VERSION})"
    argv = _VERSION_COMMANDS.get(stack)
    if stack == "nss":
        argv = ["dpkg-query", "-W", "-f", "libnss3 ${Version}", "libnss3"]
    if stack == "tlslite":
        try:
            import tlslite
        except ImportError:
            return "unknown"
        return f"tlslite-ng {tlslite.__version__}"
    if argv is None or shutil.which(argv[0]) is None:
        return "unknown"
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = [line.strip() for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    if not lines:
        return "unknown"
    words = lines[0].replace("nginx version: ", "").replace("Server version: ", "").replace("go version ", "") \
        .replace(" version", "").split()
    name = " ".join(words[:2]).replace('"', "")   # "OpenSSL 3.0.19", "nginx/1.22.1", "openjdk 17.0.15"
    if stack == "node":
        return f"Node.js {words[0]}"
    if stack == "erlang":
        return f"Erlang/OTP {lines[0]}"
    if stack == "postgresql":   # psql (PostgreSQL) 15.18 (Debian ...)
        return f"PostgreSQL {words[2]}" if len(words) > 2 else "PostgreSQL"
    if stack == "dovecot":      # 2.3.19.1 (9b53102964)
        return f"Dovecot {words[0]}"
    if stack == "mariadb":      # mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu
        return f"MariaDB {words[2].split('-')[0]}" if len(words) > 2 else "MariaDB"
    if stack == "postfix":      # mail_version = 3.7.11
        return f"Postfix {words[-1]}"
    if stack == "stunnel":
        return next((" ".join(line.split()[:2]) for line in lines if line.startswith("stunnel ")), "unknown")
    if stack.startswith("lighttpd-"):
        return f"{words[0]} mod_{stack.split('-', 1)[1]}"   # "lighttpd/1.4.69 mod_gnutls"
    return name
