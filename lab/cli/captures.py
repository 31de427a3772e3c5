"""Commands that read a capture: ``dissect``, ``diagnose``, ``sniff`` and ``replay``. Heavy imports stay
inside the run functions so ``certlab --help`` stays fast."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from lab.children import scratch
from lab.cli.options import EXIT_MISMATCH, EXIT_OK, CommandError, capture_args, parse_target
from lab.files import atomic_writer, write_atomic


def _jobs_arg(p: argparse.ArgumentParser) -> None:
    import os
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="processes that share the capture's connections (default: the machine's cores); the output "
                        "is the same for any N")


def _dissect_args(p: argparse.ArgumentParser) -> None:
    capture_args(p)
    _jobs_arg(p)
    p.add_argument("--decrypt-all", action="store_true",
                   help="decrypt every application-data record (by default TLS 1.0-1.2 application data after the "
                        "first two records of each side is counted, not decrypted; --json decrypts all)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--out", help="write the output to this file instead of standard output")


MARK = "\x00N\x00"   # where the connection's number goes once the renderings are merged


def _dissect_render(as_json: bool):
    from lab.dissect.render import connection_json, connection_text
    if as_json:
        return lambda info, stream: json.dumps(connection_json(info), indent=2)
    return lambda info, stream: connection_text(MARK, info)


def _dissect_run(args: argparse.Namespace) -> int:
    """Connections are rendered as they close, by ``--jobs`` processes, and merged back in capture
    order: memory stays flat whatever the capture's size, and the output is the same for any N."""
    from lab.dissect import InputError
    from lab.dissect.parallel import rendered
    from lab.dissect.render import header
    try:
        with scratch("dissect") as folder:
            blocks, summ = rendered(args.capture, args.keylog, args.server_key, args.port, args.jobs,
                                    _dissect_render(args.json), folder, args.json or args.decrypt_all)
            with _output(args.out) as out:
                if args.json:
                    head = {"capture": args.capture, "format": summ.format, "frames": summ.frames,
                            "key_log_secrets": summ.keylog_secrets,
                            "embedded_key_log_secrets": summ.embedded_secrets, "warnings": list(summ.warnings)}
                    out.write(json.dumps(head, indent=2)[:-2] + ',\n  "connections": [')
                    for n, block in enumerate(blocks, 1):
                        out.write(("," if n > 1 else "") + "\n" + block)
                    out.write("\n]}\n")
                else:
                    out.write(header(args.capture, summ.format, summ.frames, summ.count, summ.keylog_secrets,
                                     summ.embedded_secrets) + "\n")
                    out.writelines(f"warning: {w}\n" for w in summ.warnings)
                    for n, block in enumerate(blocks, 1):
                        out.write(block.replace(MARK, str(n), 1) + "\n")
    except InputError as exc:
        raise CommandError(str(exc)) from None
    for w in summ.warnings:   # once, on stderr, whatever the format
        print(f"certlab: warning: {w}", file=sys.stderr)
    return EXIT_OK


def _output(path: str | None):
    """The file to write (whole or not at all), or standard output."""
    return atomic_writer(path) if path else contextlib.nullcontext(sys.stdout)


def _diagnose_args(p: argparse.ArgumentParser) -> None:
    capture_args(p)
    _jobs_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--html", metavar="FILE", help="also write the diagnosis as HTML, a ladder diagram per connection")


def _diagnose_render(info, stream) -> str:
    from lab.dissect.ladder import steps
    from lab.tools import diagnose
    d = diagnose.diagnose_connection(info, len(stream.keys.keylog) > 0)
    return json.dumps({"d": d, "text": diagnose.connection_text(MARK, d), "client": info.client,
                       "server": info.server, "steps": steps(info)})


def _diagnose_run(args: argparse.Namespace) -> int:
    from lab.dissect import InputError
    from lab.dissect.parallel import rendered
    from lab.tools import diagnose
    sections: list = []
    try:
        with scratch("diagnose") as folder:
            blocks, summ = rendered(args.capture, args.keylog, args.server_key, args.port, args.jobs,
                                    _diagnose_render, folder, decrypt_all=False)
            for w in summ.warnings:
                print(f"certlab: warning: {w}", file=sys.stderr)
            head = diagnose.header(args.capture, summ.count, summ.keylog_secrets)
            sys.stdout.write(json.dumps({"capture": args.capture})[:-1] + ', "connections": [' if args.json
                             else head + "\n")
            for n, raw in enumerate(blocks, 1):
                item = json.loads(raw)
                text = item["text"].replace(MARK, str(n), 1)
                sys.stdout.write((("," if n > 1 else "") + "\n" + json.dumps(item["d"], indent=2)) if args.json
                                 else text + "\n")
                if args.html:
                    sections.append((item["client"], item["server"], text, item["steps"]))
            if args.json:
                sys.stdout.write("\n]}\n")
    except InputError as exc:
        raise CommandError(str(exc)) from None
    if args.html:
        write_atomic(args.html, diagnose.to_html(args.capture, head, sections))
    return EXIT_OK


def _sniff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--iface", default="lo", help="interface to capture on (default lo)")
    p.add_argument("--port", type=int, required=True, help="the TLS server's TCP port")
    p.add_argument("--keylog", help="the key log file the client or server writes (SSLKEYLOGFILE), re-read live")
    p.add_argument("--out", help="write the capture here as pcapng, with the key log embedded")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: at Ctrl-C or SIGTERM)")


def _sniff_run(args: argparse.Namespace) -> int:
    import signal
    import threading
    from lab.tools import diagnose
    from lab.tools.sniff import SniffError, run_sniff
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
    from lab.tools import replay
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
    refused = bool(out["server_rejected"] and out["signature_judged"]) if args.part == "client-auth" else True
    return EXIT_OK if refused else EXIT_MISMATCH


COMMANDS = {
    "dissect": ("show every TLS record and message of a capture, decrypted, and its client-auth story",
                _dissect_args, _dissect_run),
    "diagnose": ("a client-auth verdict for each TLS connection of a capture, with the likely cause and fix",
                 _diagnose_args, _diagnose_run),
    "sniff": ("capture a real client and server live, printing client-auth events; write a decrypted pcapng",
              _sniff_args, _sniff_run),
    "replay": ("replay a capture's first flight, or its client Certificate and CertificateVerify, to a server",
               _replay_args, _replay_run),
}
