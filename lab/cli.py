"""The ``certlab`` command line. Commands are a registry (name -> (help, add_arguments, run)),
as sslyze keeps its plugins; heavy imports happen inside each command so ``--help`` stays fast.

Exit codes: 0 success, 1 a result did not match its expectation, 2 unusable input or usage.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable

EXIT_OK, EXIT_MISMATCH, EXIT_INPUT = 0, 1, 2


class CommandError(Exception):
    """A one-line message for the user; the CLI prints it and exits 2."""


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Write a whole file or nothing (temporary name, then rename); readable by all unless
    ``mode`` says otherwise (the temporary file starts private)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".certlab-", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, mode & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def capture_args(p: argparse.ArgumentParser) -> None:
    """The arguments of every command that reads a capture: the file and its keys."""
    p.add_argument("capture", help="pcap or pcapng file (a pcapng's embedded key log is used)")
    p.add_argument("--keylog", help="NSS key log file (SSLKEYLOGFILE format), e.g. to read TLS 1.3 certificates")
    p.add_argument("--server-key", action="append", default=[], metavar="PEM",
                   help="server RSA private key, to decrypt TLS_RSA_* sessions (repeatable)")
    p.add_argument("--port", action="append", type=int, default=[], metavar="N",
                   help="treat TCP port N as TLS even if the first bytes do not look like it")


def _dissect_args(p: argparse.ArgumentParser) -> None:
    capture_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--out", help="write the output to this file instead of standard output")


def _dissect_run(args: argparse.Namespace) -> int:
    from lab import report
    from lab.dissect import InputError, dissect
    try:
        result = dissect(args.capture, args.keylog, args.server_key, args.port)
    except InputError as exc:
        raise CommandError(str(exc)) from None
    text = report.to_json(result) if args.json else report.to_text(result)
    if args.out:
        write_atomic(args.out, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if not args.json:
        for w in result.warnings:
            print(f"certlab: warning: {w}", file=sys.stderr)
    return EXIT_OK


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="certlab-demo", help="folder for the capture, key log and PKI")
    p.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")


def _demo_run(args: argparse.Namespace) -> int:
    from lab.demo import DemoError, run_demo
    try:
        print(run_demo(args.out, args.tls))
    except DemoError as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


def _list_args(p: argparse.ArgumentParser) -> None:
    pass


def _list_run(args: argparse.Namespace) -> int:
    from lab.runcmd import list_text
    print(list_text())
    return EXIT_OK


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="+", help="scenario ids (see `certlab list`)")
    p.add_argument("--stack", default="python", help="server stack under test (default: python)")
    p.add_argument("--tls", choices=["1.0", "1.1", "1.2", "1.3"], help="only this TLS version")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--pcap-dir", help="write a pcapng per run here (key log embedded, packets named by step)")
    p.add_argument("--pki", help="folder of the test PKI (created if missing; default: a temporary one)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the server (default 3)")


def _run_run(args: argparse.Namespace) -> int:
    from lab.runcmd import UsageError, render, run
    try:
        results = run(args.scenario, args.stack, args.tls, args.pcap_dir, args.pki, args.timeout)
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    print(render(results, args.json))
    return EXIT_OK if all(r["verdict"] in ("pass", "skip") for r in results) else EXIT_MISMATCH


def _pki_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["init"], help="init: create the test PKI")
    p.add_argument("dir", help="folder to write it to")


def _pki_run(args: argparse.Namespace) -> int:
    from lab.pki import VARIANTS, Pki
    try:
        Pki.create(args.dir)
    except OSError as exc:
        raise CommandError(f"cannot write the PKI to {args.dir}: {exc.strerror or exc}") from None
    print(f"Test PKI written to {args.dir} (private keys 0600):")
    print("  rsa/, ec/: ca, server (CN=localhost), client (CN=lab-client), other-ca, other-client")
    for v in VARIANTS:
        print(f"  rsa/{v.name}: {v.doc}")
    print("  rsa/intermediate, rsa/crl.pem (revokes client-revoked)")
    return EXIT_OK


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="a server-role scenario id (srv-...; see `certlab list`)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--tls", choices=["1.2", "1.3"], help="TLS version (default: the scenario's newest)")
    p.add_argument("--pki", help="folder of the test PKI (its CA must be trusted by the client)")
    p.add_argument("--pcap-dir", help="write the run's pcapng here")
    p.add_argument("--wait", type=float, default=60.0, help="seconds to wait for a client (default 60)")
    p.add_argument("--json", action="store_true")


def _serve_run(args: argparse.Namespace) -> int:
    from lab.runcmd import UsageError, render, serve

    def on_listen(port: int, pki) -> None:
        print(f"certlab serve: listening on 127.0.0.1:{port}; server certificate CN=localhost, issued by "
              f"{pki.identity('rsa', 'server').ca} (trust it in the client). Waiting {args.wait:g} s...", flush=True)
    try:
        result = serve(args.scenario, args.port, args.tls, args.pki, args.pcap_dir, args.wait, on_listen)
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    print(render([result], args.json))
    o = result["observed"]
    if o.get("client_chain") and not args.json:
        print("      client chain: " + "; ".join(o["client_chain"]))
    return EXIT_OK if result["verdict"] == "pass" else EXIT_MISMATCH


def _matrix_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stacks", help="comma-separated stacks (default: every installed one)")
    p.add_argument("--scenarios", help="comma-separated scenario ids (default: all)")
    p.add_argument("--rows", help="catalogue groups or rows, e.g. A,C or D01 (default: all)")
    p.add_argument("--tls", help="comma-separated versions, e.g. 1.2,1.3 (default: each scenario's)")
    p.add_argument("--jobs", type=int, default=2, help="peer groups run in parallel (default 2)")
    p.add_argument("--out", required=True, help="folder for results.json, report.md, report.html, pcaps/")
    p.add_argument("--pki", help="folder of the test PKI (default: OUT/pki)")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--resume", action="store_true",
                   help="keep the cells an interrupted run of the same --out already finished; run the rest")


def _matrix_run(args: argparse.Namespace) -> int:
    from lab.matrix import Interrupted, plan, run_matrix, write_results
    from lab.runcmd import UsageError

    def split(v: str | None) -> list[str] | None:
        return [x.strip() for x in v.split(",") if x.strip()] if v else None
    try:
        cells = plan(split(args.stacks), split(args.scenarios), split(args.rows), split(args.tls))
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    if not cells:
        raise CommandError("no cells: no installed stack matches (run scripts/setup), or the filters exclude all")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {args.out}: {exc.strerror or exc}") from None
    try:
        results = run_matrix(cells, args.out, args.jobs, args.timeout, args.pki, args.resume)
    except Interrupted as exc:
        print(f"certlab matrix: interrupted: {exc}; run the same command with --resume to finish", file=sys.stderr)
        return 130
    paths = write_results(results, args.out)
    failed = sum(r["verdict"] in ("fail", "error") for r in results)
    print(f"{len(results)} cells, {failed} not as the RFC requires. Report: {paths['html']} "
          f"(also {paths['md']}, {paths['json']})")
    return EXIT_OK


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "dissect": ("show every TLS record and message of a capture, decrypted, and its client-auth story",
                _dissect_args, _dissect_run),
    "demo": ("record a real mutual-TLS handshake (Python ssl on both ends) and dissect it",
             _demo_args, _demo_run),
    "pki": ("create the test PKI: CAs, server and client leaves, every faulty variant", _pki_args, _pki_run),
    "list": ("list the scenarios (row, RFC section, summary) and the stacks", _list_args, _list_run),
    "run": ("run scenarios against a real stack (certlab as client, or as server for srv-* ids)",
            _run_args, _run_run),
    "matrix": ("run scenarios x stacks and write the behaviour report (JSON, Markdown, HTML, pcaps)",
               _matrix_args, _matrix_run),
    "serve": ("play a server-role scenario with whatever client connects, and show what it did",
              _serve_args, _serve_run),
}


def _all_commands() -> dict:
    from lab.toolcli import TOOL_COMMANDS
    return {**COMMANDS, **TOOL_COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="certlab", description="A packet-level lab for TLS client-"
                                     "certificate authentication (mutual TLS).")
    parser.add_argument("--version", action="version", version="certlab 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_args, _) in _all_commands().items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def _terminate(*_: object) -> None:
    raise KeyboardInterrupt   # SIGTERM ends certlab as Ctrl-C does: every peer and capture is stopped


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("certlab: interrupted", file=sys.stderr)
        return 130
    if not args.command:
        parser.print_help()
        return EXIT_INPUT
    try:
        return _all_commands()[args.command][2](args)
    except CommandError as exc:
        print(f"certlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("certlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
