"""The options that point ``run`` and ``matrix`` at the user's own server (``--to``) with the
user's own credentials, and their reading into ``Target``s and ``Credentials``."""
from __future__ import annotations

import argparse
import sys

from lab.cli.options import CommandError


def target_args(p: argparse.ArgumentParser, many: bool = False) -> None:
    """``many``: ``--to`` may be repeated (``matrix``: each endpoint a column)."""
    t = p.add_argument_group("your own server" + (" (each --to a column beside the stacks)" if many
                                                  else " (instead of --stack)"))
    if many:
        t.add_argument("--to", metavar="HOST:PORT", action="append", default=[],
                       help="add this TLS server as a column (repeat for more)")
    else:
        t.add_argument("--to", metavar="HOST:PORT", help="play the scenarios against this TLS server")
    t.add_argument("--sni", help="server name to send (default: HOST unless it is an address)")
    t.add_argument("--server-ca", metavar="FILE", help="CA bundle (PEM) to check the server's certificate "
                   "(default: the system's)")
    t.add_argument("--insecure", action="store_true", help="do not check the server's certificate")
    t.add_argument("--http", metavar="PATH", help="after the handshake send GET PATH (HTTP/1.1) and judge the "
                   "status (the default, with /, for ports 443 and 8443)")
    t.add_argument("--send", metavar="BYTES", help="after the handshake send these bytes (\\r\\n escapes allowed)")
    t.add_argument("--expect", metavar="REGEX", help="with --send: the answer must match this")
    t.add_argument("--no-app", action="store_true", help="send nothing after the handshake")
    from lab.transport.starttls import PROTOCOLS
    t.add_argument("--starttls", choices=(*PROTOCOLS, "none"), help="upgrade in-band first (default: guessed from "
                   "the port: 25/587 smtp, 143 imap, 110 pop3, 21 ftp, 119 nntp, 5222 xmpp, 389 ldap, 5432 postgres, "
                   "3306 mysql; none: TLS from the first byte)")
    t.add_argument("--alpn", metavar="NAMES", help="application protocols to offer, comma-separated (postgresql "
                   "with --starttls none: PostgreSQL 17's direct TLS)")
    c = p.add_argument_group("your own client credentials (with --to)")
    credential_args(c, "client")
    c.add_argument("--chain", metavar="FILE", help="intermediate certificates to send after it")
    c.add_argument("--client-ca", metavar="CERT", help="your client CA, to mint the faulty certificates under")
    c.add_argument("--client-ca-key", metavar="KEY", help="its private key")


def credential_args(group, role: str) -> None:
    """--cert, --key, --p12, --password-file: the user's own certificate as ``role``."""
    group.add_argument("--cert", metavar="FILE", help=f"your {role} certificate (PEM or DER; PEM may hold the chain)")
    group.add_argument("--key", metavar="FILE", help="its private key (PEM or DER, PKCS#8/PKCS#1/SEC1)")
    group.add_argument("--p12", metavar="FILE", help="a PKCS#12 file with the key and certificate(s), instead")
    group.add_argument("--password-file", metavar="FILE", help="the key's password, first line "
                       "(or set CERTLAB_KEY_PASSWORD; never on the command line)")


TO_ONLY = ("starttls", "alpn", "sni", "server_ca", "insecure", "http", "send", "expect", "no_app", "cert", "key",
           "chain", "p12", "password_file", "client_ca", "client_ca_key")


def targets_from(args: argparse.Namespace, command: str) -> tuple[list, object, object]:
    """(targets, the client's credentials or None, the CA to mint under or None); every problem a
    CommandError (one line, exit 2)."""
    from lab.creds import CredentialError, load_ca, load_credentials
    from lab.play.target import Target, TargetError
    addresses = args.to if isinstance(args.to, list) else ([args.to] if args.to else [])
    given = [name for name in TO_ONLY if getattr(args, name)]
    if given and not addresses:
        raise CommandError(f"--{given[0].replace('_', '-')} goes with --to HOST:PORT")
    if not addresses:
        return [], None, None
    if args.expect and not args.send:
        raise CommandError("--expect goes with --send")
    if bool(args.client_ca) != bool(args.client_ca_key):
        raise CommandError("--client-ca and --client-ca-key go together")
    try:
        user = load_credentials(args.cert, args.key, args.chain, args.p12, args.password_file)
        targets = [Target.of(a, args.sni, args.server_ca, args.insecure, args.http, args.send, args.expect,
                             args.no_app, args.starttls, user=user.common_name if user else "certlab",
                             alpn=tuple(a for a in (args.alpn or "").split(",") if a))
                   for a in addresses]
        under = load_ca(args.client_ca, args.client_ca_key, args.password_file) if args.client_ca else None
    except (TargetError, CredentialError) as exc:
        raise CommandError(str(exc)) from None
    if user is None and under is None:
        print(f"certlab {command}: note: no --cert/--key or --p12 given: the client presents the lab's own test "
              "certificate, which your server does not trust", file=sys.stderr)
    return targets, user, under
