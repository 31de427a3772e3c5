"""The user's tools: ``demo``, ``explain``, ``probe``, ``shell`` and ``pcaps``."""
from __future__ import annotations

import argparse

from lab.cli.options import EXIT_MISMATCH, EXIT_OK, CommandError, load_identity, parse_target
from lab.files import write_atomic


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="certlab-demo", help="folder for the capture, key log and PKI")
    p.add_argument("--tls", choices=["1.2", "1.3"], default="1.3", help="TLS version (default 1.3)")


def _demo_run(args: argparse.Namespace) -> int:
    from lab.tools.demo import DemoError, run_demo
    try:
        print(run_demo(args.out, args.tls))
    except DemoError as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


def _probe_args(p: argparse.ArgumentParser) -> None:
    from lab.transport.starttls import PROTOCOLS
    p.add_argument("target", metavar="HOST:PORT", nargs="*", help="the servers to probe")
    p.add_argument("--targets", metavar="FILE", help="more targets, one HOST:PORT a line (# comments)")
    p.add_argument("--tls", choices=["1.2", "1.3"], help="only this version (default: both)")
    p.add_argument("--sni", "--servername", dest="sni", metavar="NAMES",
                   help="comma-separated server names, each probed on its own (default: HOST unless an address)")
    p.add_argument("--starttls", choices=PROTOCOLS, help="upgrade in-band first (default: guessed from the port)")
    p.add_argument("--cert", help="your client certificate (PEM or DER, chain allowed) for a third attempt")
    p.add_argument("--key", help="the private key of --cert (PEM or DER)")
    p.add_argument("--p12", help="your certificate and key as PKCS#12, instead of --cert/--key")
    p.add_argument("--password-file", metavar="FILE", help="the key's password (or set CERTLAB_KEY_PASSWORD)")
    p.add_argument("--jobs", type=int, default=8, help="targets probed at once (default 8)")
    p.add_argument("--fingerprints", metavar="FILE", help="the reference the stack resemblance is read from "
                   "(default: the one measured for this release, lab/tools/fingerprints.json)")
    p.add_argument("--learn-fingerprints", metavar="FILE", help="probe every installed managed server stack and "
                   "write their features to FILE (then give it as --fingerprints)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each answer (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _probe_run(args: argparse.Namespace) -> int:
    import json
    from lab.tools import fingerprint, probe
    from lab.transport import PeerUnreachable
    if args.learn_fingerprints:
        from lab.files import write_atomic
        table = fingerprint.learn(timeout=args.timeout)
        write_atomic(args.learn_fingerprints, json.dumps(table, indent=2, sort_keys=True) + "\n")
        print(f"certlab probe: wrote the features of {len(table['stacks'])} stacks to {args.learn_fingerprints}")
        return EXIT_OK
    reference = fingerprint.load(args.fingerprints)
    if args.fingerprints and not reference:
        raise CommandError(f"--fingerprints {args.fingerprints}: not a fingerprint file (make one with "
                           "--learn-fingerprints)")
    targets = list(args.target)
    if args.targets:
        try:
            with open(args.targets, encoding="utf-8") as fh:
                targets += [line.split("#")[0].strip() for line in fh if line.split("#")[0].strip()]
        except OSError as exc:
            raise CommandError(f"cannot read --targets {args.targets}: {exc.strerror}") from None
    if not targets:
        raise CommandError("name a target: HOST:PORT..., or --targets FILE")
    addresses = [parse_target(t) for t in targets]
    if args.jobs < 1:
        raise CommandError(f"--jobs {args.jobs} must be 1 or more")
    if bool(args.cert) != bool(args.key):
        raise CommandError("--cert and --key go together")
    yours = load_identity(args.cert, args.key, args.p12, args.password_file)
    names = args.sni.split(",") if args.sni else [None]
    versions = [args.tls] if args.tls else ["1.2", "1.3"]
    if len(addresses) == 1 and len(names) == 1:   # one server: its errors are the command's
        try:
            result = probe.probe_target(addresses[0], names[0], versions, yours, args.starttls, args.timeout)
        except PeerUnreachable as exc:
            raise CommandError(f"{exc}; is the server running?") from None
        except probe.NotATLSServer as exc:
            raise CommandError(str(exc)) from None
        result["fingerprint"] = fingerprint.match(fingerprint.features(result), reference)
        print(json.dumps(result, indent=2) if args.json else
              probe.to_text(result) + "\n" + fingerprint.describe(result["fingerprint"]))
        return EXIT_OK
    from lab.tools.fleet import fleet_text, probe_fleet
    fleet = probe_fleet(addresses, names, versions, yours, args.starttls, args.timeout, args.jobs)
    for r in fleet["targets"]:
        if "versions" in r:
            r["fingerprint"] = fingerprint.match(fingerprint.features(r), reference)
    print(json.dumps(fleet, indent=2) if args.json else fleet_text(fleet))
    return EXIT_OK if not any("error" in r for r in fleet["targets"]) else EXIT_MISMATCH


def _explain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls", choices=["1.2", "1.3"], default="1.2", help="TLS version (default 1.2, the classic flow)")
    p.add_argument("--kx", choices=["rsa", "ecdhe"], default="rsa", help="TLS 1.2 key exchange (default rsa)")
    from lab.peers.registry import SERVER_PROGRAMS
    p.add_argument("--stack", default="openssl",
                   help=f"the real server to talk to: {', '.join(sorted(SERVER_PROGRAMS))} (default openssl)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", metavar="FILE", help="also write the walk-through as Markdown")
    fmt.add_argument("--html", metavar="FILE", help="also write the walk-through as HTML")
    p.add_argument("--out", default="certlab-explain", help="folder for the pcapng and the PKI")


def _explain_run(args: argparse.Namespace) -> int:
    import os
    from lab.children import scratch
    from lab.tools import explain
    from lab.tools.explain import render as explainformat
    from lab.peers.process import PeerUnavailable
    from lab.peers.servers import server_classes
    from lab.pki import Pki
    from lab.script.setup import Setup
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
        with scratch("explain") as work, \
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
        from lab.dissect import dissect
        from lab.dissect.ladder import steps as ladder, svg
        drawing = svg(ladder(dissect(pcap).connections[0]), "certlab (client)", f"{args.stack} (server)")
        write_atomic(args.html, explainformat.html(steps, header, drawing))
    return EXIT_OK if all(c.ok for s in steps for c in s.checks) else EXIT_MISMATCH


def _shell_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pki", help="PKI folder (default ~/.cache/certlab/shell-pki, made on first use)")


def _shell_run(args: argparse.Namespace) -> int:
    from lab.tools import shell
    shell.start(args.pki)
    return EXIT_OK


def _pcaps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="pcaps", help="folder for the reference captures (default pcaps)")
    p.add_argument("--pki", help="PKI folder to use (default: a fresh one)")


def _pcaps_run(args: argparse.Namespace) -> int:
    from lab.tools import refpcaps
    from lab.play.commands import UsageError
    try:
        made = refpcaps.make(args.out, args.pki)
    except (UsageError, RuntimeError) as exc:
        raise CommandError(str(exc)) from None
    for m in made:
        print(f"{m['file']}: {m['observed']}" + (f" ({m['alert']})" if m["alert"] else ""))
    print(f"{len(made)} captures and README.md in {args.out}")
    return EXIT_OK


COMMANDS = {
    "demo": ("record a real mutual-TLS handshake (Python ssl on both ends) and dissect it",
             _demo_args, _demo_run),
    "explain": ("walk through the ten steps of a real client-authenticated handshake, every claim checked",
                _explain_args, _explain_run),
    "shell": ("scapy's interactive shell with certlab's layers, PKI, peers and connect()/run() helpers",
              _shell_args, _shell_run),
    "pcaps": ("regenerate the reference captures (one per key flow, key log embedded) and their README",
              _pcaps_args, _pcaps_run),
    "probe": ("find a server's client-auth policy by handshakes (no certificate, self-signed, yours)",
              _probe_args, _probe_run),
}
