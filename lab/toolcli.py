"""The user's tools on the command line (issue 5): ``diagnose``, ``probe``, ``explain``, ``sniff``,
``replay``, ``shell`` and ``pcaps``. Each parses its arguments here and calls its module; heavy
imports stay inside the run functions so ``certlab --help`` stays fast."""
from __future__ import annotations

import argparse

from lab.cli import EXIT_MISMATCH, EXIT_OK, CommandError, capture_args, write_atomic


def _diagnose_args(p: argparse.ArgumentParser) -> None:
    capture_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _diagnose_run(args: argparse.Namespace) -> int:
    import json
    from lab import diagnose
    from lab.dissect import InputError, dissect
    try:
        result = dissect(args.capture, args.keylog, args.server_key, args.port)
    except InputError as exc:
        raise CommandError(str(exc)) from None
    diags = diagnose.diagnose(result)
    print(json.dumps({"capture": args.capture, "connections": diags}, indent=2) if args.json
          else diagnose.to_text(result, diags))
    return EXIT_OK


def parse_target(text: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise CommandError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:8443)")
    return host.strip("[]"), int(port)


def _probe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="HOST:PORT", help="the server to probe")
    p.add_argument("--tls", choices=["1.2", "1.3"], help="only this version (default: both)")
    p.add_argument("--cert", help="your client certificate (PEM, chain allowed) for a third attempt")
    p.add_argument("--key", help="the private key of --cert (PEM)")
    p.add_argument("--servername", help="SNI host name (default: HOST unless it is an address)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each answer (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _probe_run(args: argparse.Namespace) -> int:
    import ipaddress
    import json
    from lab import probe
    from lab.transport import PeerUnreachable
    host, port = parse_target(args.target)
    if bool(args.cert) != bool(args.key):
        raise CommandError("--cert and --key go together")
    yours = load_identity(args.cert, args.key) if args.cert else None
    name = args.servername
    if name is None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            name = host
    try:
        result = probe.probe(host, port, [args.tls] if args.tls else ["1.2", "1.3"], yours, name, args.timeout)
    except PeerUnreachable as exc:
        raise CommandError(f"{exc}; is the server running?") from None
    print(json.dumps(result, indent=2) if args.json else probe.to_text(result))
    return EXIT_OK


def load_identity(cert: str, key: str):
    from lab.probe import Identity
    from lab.runner import load_chain, load_key
    from lab import x509view
    try:
        chain = tuple(load_chain(cert))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read the certificate {cert}: {exc}; give a PEM file") from None
    if not chain:
        raise CommandError(f"no PEM certificate in {cert}")
    try:
        private = load_key(key)
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(f"cannot read the key {key}: {exc}; give an unencrypted PEM private key") from None
    return Identity("yours", chain, private, x509view.certificate(chain[0]).subject.rfc4514_string())


def _explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls", choices=["1.2", "1.3"], default="1.2", help="TLS version (default 1.2, the classic flow)")
    p.add_argument("--kx", choices=["rsa", "ecdhe"], default="rsa", help="TLS 1.2 key exchange (default rsa)")
    p.add_argument("--stack", default="openssl", help="the real server to talk to (default openssl)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", metavar="FILE", help="also write the walk-through as Markdown")
    fmt.add_argument("--html", metavar="FILE", help="also write the walk-through as HTML")
    p.add_argument("--out", default="certlab-explain", help="folder for the pcapng and the PKI")


def _explain_run(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from lab import explain, explainformat
    from lab.peers.process import PeerUnavailable
    from lab.peers.servers import server_classes
    from lab.pki import Pki
    from lab.runner import Setup
    from lab.transport import PeerUnreachable
    servers = server_classes()
    if args.stack not in servers:
        raise CommandError(f"unknown stack {args.stack!r}; choose one of {', '.join(sorted(servers))}")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {args.out}: {exc.strerror or exc}") from None
    pki = Pki.ensure(os.path.join(args.out, "pki"))
    setup = Setup(pki, args.tls)
    pcap = explain.pcap_path(args.out, args.tls, args.kx)
    try:
        with tempfile.TemporaryDirectory(prefix="certlab-explain-") as work, \
                servers[args.stack](pki, args.tls, "required", work) as peer:
            run = explain.record_handshake(setup, peer.port, args.kx, pcap)
    except (PeerUnavailable, PeerUnreachable) as exc:
        raise CommandError(str(exc)) from None
    if run.observed is not None:
        raise CommandError(f"the handshake with {args.stack} did not complete ({run.observed}); see {pcap}")
    steps = explain.explain(run, setup, pcap)
    kx = f" with {args.kx.upper()} key exchange" if args.tls == "1.2" else ""
    header = f"certlab explain: TLS {args.tls}{kx}, client certificate authentication against {args.stack}; " \
             f"capture: {pcap}"
    print(explain.to_text(steps, header))
    if args.markdown:
        write_atomic(args.markdown, explainformat.markdown(steps, header))
    if args.html:
        write_atomic(args.html, explainformat.html(steps, header))
    return EXIT_OK if all(c.ok for s in steps for c in s.checks) else EXIT_MISMATCH


def _sniff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iface", default="lo", help="interface to capture on (default lo)")
    p.add_argument("--port", type=int, required=True, help="the TLS server's TCP port")
    p.add_argument("--keylog", help="the key log file the client or server writes (SSLKEYLOGFILE), re-read live")
    p.add_argument("--out", help="write the capture here as pcapng, with the key log embedded")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: at Ctrl-C or SIGTERM)")


def _sniff_run(args: argparse.Namespace) -> int:
    import signal
    import threading
    from lab import diagnose
    from lab.sniff import SniffError, run_sniff
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} is not a TCP port")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def emit(line: str) -> None:
        print(line, flush=True)
    try:
        session = run_sniff(args.iface, args.port, args.keylog, args.out, stop, args.duration, emit)
    except SniffError as exc:
        raise CommandError(str(exc)) from None
    print(f"{len(session.packets)} packets ({session.duplicates} loopback copies dropped), "
          f"{len(session.conns)} connection(s)" + (f"; wrote {args.out}" if args.out else ""))
    for live in session.conns.values():
        d = diagnose.diagnose_connection(live.info)
        print(f"#{live.number} verdict: {d['verdict']}: {d['cause']}")
    return EXIT_OK


def _replay_args(p: argparse.ArgumentParser) -> None:
    capture_args(p)
    p.add_argument("--to", required=True, metavar="HOST:PORT", help="the fresh server to replay against")
    p.add_argument("--part", choices=["first-flight", "client-auth"], default="client-auth",
                   help="the client's first flight as captured, or its Certificate and CertificateVerify grafted "
                        "into a new handshake (default)")
    p.add_argument("--connection", type=int, metavar="N", help="which TLS connection of the capture (default: the "
                                                                 "first that fits)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each answer (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _replay_run(args: argparse.Namespace) -> int:
    import json
    from lab import replay
    from lab.dissect import InputError, dissect
    from lab.transport import PeerUnreachable
    host, port = parse_target(args.to)
    try:
        result = dissect(args.capture, args.keylog, args.server_key, args.port)
        number, conn = replay.pick_connection(result, args.connection, args.part == "client-auth")
        if args.part == "first-flight":
            out = replay.replay_first_flight(conn, host, port, args.timeout)
        else:
            out = replay.replay_client_auth(conn, host, port, args.timeout)
    except (InputError, replay.ReplayError) as exc:
        raise CommandError(str(exc)) from None
    except PeerUnreachable as exc:
        raise CommandError(f"{exc}; is the server running?") from None
    print(json.dumps({"connection": number, **out}, indent=2, default=str) if args.json
          else replay.to_text(out, number))
    return EXIT_OK


def _shell_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pki", help="PKI folder (default ~/.cache/certlab/shell-pki, made on first use)")


def _shell_run(args: argparse.Namespace) -> int:
    from lab import shell
    shell.start(args.pki)
    return EXIT_OK


def _pcaps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="pcaps", help="folder for the reference captures (default pcaps)")
    p.add_argument("--pki", help="PKI folder to use (default: a fresh one)")


def _pcaps_run(args: argparse.Namespace) -> int:
    from lab import refpcaps
    from lab.runcmd import UsageError
    try:
        made = refpcaps.make(args.out, args.pki)
    except (UsageError, RuntimeError) as exc:
        raise CommandError(str(exc)) from None
    for m in made:
        print(f"{m['file']}: {m['observed']}" + (f" ({m['alert']})" if m["alert"] else ""))
    print(f"{len(made)} captures and README.md in {args.out}")
    return EXIT_OK


TOOL_COMMANDS = {
    "diagnose": ("a client-auth verdict for each TLS connection of a capture, with the likely cause and fix",
                 _diagnose_args, _diagnose_run),
    "explain": ("walk through the ten steps of a real client-authenticated handshake, every claim checked",
                _explain_args, _explain_run),
    "sniff": ("capture a real client and server live, printing client-auth events; write a decrypted pcapng",
              _sniff_args, _sniff_run),
    "replay": ("replay a capture's first flight, or its client Certificate and CertificateVerify, to a server",
               _replay_args, _replay_run),
    "shell": ("scapy's interactive shell with certlab's layers, PKI, peers and connect()/run() helpers",
              _shell_args, _shell_run),
    "pcaps": ("regenerate the reference captures (one per key flow, key log embedded) and their README",
              _pcaps_args, _pcaps_run),
    "probe": ("find a server's client-auth policy by handshakes (no certificate, self-signed, yours)",
              _probe_args, _probe_run),
}
