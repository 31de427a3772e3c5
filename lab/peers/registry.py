"""The stack registry: which program each managed stack needs, which are installed, and why a
stack cannot run a scenario (a mode it lacks, a feature it declares missing)."""
from __future__ import annotations

import os
import shutil

# Server stacks, for client-role scenarios (None: needs no program, it runs in-process).
SERVER_PROGRAMS: dict[str, str | None] = {"openssl": "openssl", "python": None, "nginx": "nginx",
                                          "gnutls": "gnutls-serv", "nss": "selfserv", "java": "javac", "go": "go"}
# Client programs, for server-role scenarios.
CLIENT_PROGRAMS: dict[str, str | None] = {"openssl": "openssl", "python": None, "curl": "curl",
                                          "gnutls": "gnutls-cli", "go": "go", "java": "javac", "nss": "tstclnt"}


def programs(role: str) -> dict[str, str | None]:
    """The stacks that play the peer of a scenario of ``role`` ("client": servers)."""
    return CLIENT_PROGRAMS if role == "server" else SERVER_PROGRAMS


def is_installed(program: str | None) -> bool:
    return program is None or bool(shutil.which(program)) or os.path.exists(f"/usr/sbin/{program}")


def installed(table: dict[str, str | None]) -> list[str]:
    return sorted(s for s, p in table.items() if is_installed(p))


def skip_reason(peer, sc) -> str | None:
    """Why this peer cannot run this scenario at all (a missing mode or feature), or None."""
    if not peer.supports(sc.server_mode):
        return f"{peer.name} has no {sc.server_mode} mode in TLS {peer.version}"
    for tag in sorted(sc.tags):
        if tag in peer.lacks:
            return peer.lacks[tag]
    return None
