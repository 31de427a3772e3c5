"""What every command shares: exit codes, the one-line error, the capture arguments, targets and
the user's own certificate and key."""
from __future__ import annotations

import argparse

EXIT_OK, EXIT_MISMATCH, EXIT_INPUT = 0, 1, 2


class CommandError(Exception):
    """A one-line message for the user; the CLI prints it and exits 2."""


def capture_args(p: argparse.ArgumentParser) -> None:
    """The arguments of every command that reads a capture: the file and its keys."""
    p.add_argument("capture", help="pcap or pcapng file (a pcapng's embedded key log is used)")
    p.add_argument("--keylog", help="NSS key log file (SSLKEYLOGFILE format), e.g. to read TLS 1.3 certificates")
    p.add_argument("--server-key", action="append", default=[], metavar="PEM",
                   help="server RSA private key, to decrypt TLS_RSA_* sessions (repeatable)")
    p.add_argument("--port", action="append", type=int, default=[], metavar="N",
                   help="treat TCP port N as TLS even if the first bytes do not look like it")


def parse_target(text: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT."""
    from lab.play.target import TargetError, parse_address
    try:
        return parse_address(text)
    except TargetError as exc:
        raise CommandError(str(exc)) from None


def load_identity(cert: str | None, key: str | None, p12: str | None = None, password_file: str | None = None):
    """The user's own credentials as a probe identity ("yours"), or None when none were given."""
    from lab.creds import CredentialError, load_credentials
    from lab.tools.probe import Identity
    try:
        creds = load_credentials(cert, key, None, p12, password_file)
    except CredentialError as exc:
        raise CommandError(str(exc)) from None
    return None if creds is None else Identity("yours", creds.chain, creds.key, creds.subject)


# What ``--out`` names for each command: a file written whole, or a folder made if missing.
OUT_IS_FILE = {"dissect", "sniff", "diagnose"}
POSITIVE = ("timeout", "duration", "wait")


def check_arguments(command: str, args: argparse.Namespace) -> None:
    """Output and path arguments, checked before any work starts (one line, exit 2)."""
    import os
    for name in POSITIVE:
        value = getattr(args, name, None)
        if value is not None and not value > 0:
            raise CommandError(f"--{name} {value:g} must be a positive number of seconds")
    jobs = getattr(args, "jobs", None)
    if jobs is not None and jobs < 1:
        raise CommandError(f"--jobs {jobs} must be at least 1")
    port = getattr(args, "port", None)
    lowest = 0 if command == "serve" else 1   # serve --port 0: a free port
    if isinstance(port, int) and not lowest <= port <= 65535:
        raise CommandError(f"--port {port} is not a TCP port ({lowest}-65535)")
    for p in port if isinstance(port, list) else []:
        if not 1 <= p <= 65535:
            raise CommandError(f"--port {p} is not a TCP port (1-65535)")
    for name in ("pcap_dir", "pki"):
        value = getattr(args, name, None)
        if value and os.path.exists(value) and not os.path.isdir(value):
            raise CommandError(f"--{name.replace('_', '-')} {value} is a file; give a folder (it is made if missing)")
    out = getattr(args, "out", None)
    if out and command in OUT_IS_FILE:
        folder = os.path.dirname(os.path.abspath(out))
        if os.path.isdir(out):
            raise CommandError(f"--out {out} is a folder; give a file name")
        if not os.path.isdir(folder):
            raise CommandError(f"--out {out}: the folder {folder} does not exist; create it first")
        if not os.access(folder, os.W_OK):
            raise CommandError(f"--out {out}: cannot write in {folder}")
    elif out and os.path.exists(out) and not os.path.isdir(out):
        raise CommandError(f"--out {out} is a file; give a folder (it is made if missing)")
    keylog = getattr(args, "keylog", None)
    if command == "sniff" and keylog and not os.path.isfile(keylog):
        raise CommandError(f"--keylog {keylog}: no such file; start the client with SSLKEYLOGFILE={keylog} first, "
                           "or leave --keylog out")
