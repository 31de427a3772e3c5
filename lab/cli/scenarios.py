"""Commands that play scenarios against real stacks: ``list``, ``run``, ``serve``, ``matrix`` and
``pki``."""
from __future__ import annotations

import argparse
import os
import sys

from lab.cli.options import EXIT_MISMATCH, EXIT_OK, CommandError
from lab.cli.targets import credential_args, target_args, targets_from


def _scenarios_file_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenarios-file", metavar="FILE", help="your own scenarios (a Python file using lab.script.dsl, "
                   "as scenarios/ does), added to the catalogue")


def _load_user_scenarios(args: argparse.Namespace) -> None:
    from lab.play.commands import UsageError, load_scenarios_file
    if getattr(args, "scenarios_file", None):
        try:
            load_scenarios_file(args.scenarios_file)
        except UsageError as exc:
            raise CommandError(str(exc)) from None


def _list_args(p: argparse.ArgumentParser) -> None:
    _scenarios_file_arg(p)


def _list_run(args: argparse.Namespace) -> int:
    from lab.peers.registry import CLIENT_PROGRAMS, SERVER_PROGRAMS, is_installed
    from lab.play.commands import scenarios
    _load_user_scenarios(args)
    lines = ["Scenarios:"]
    for sc in sorted(scenarios().values(), key=lambda s: (s.row, s.id)):
        lines.append(f"  {sc.id:36} {sc.row:8} TLS {','.join(sorted(sc.versions)):8} {sc.rfc}")
        lines.append(f"  {'':36} {sc.summary}")
    for title, table in (("Stacks (server role):", SERVER_PROGRAMS), ("Client programs:", CLIENT_PROGRAMS)):
        lines += ["", title]
        for name, prog in sorted(table.items()):
            state = "built in" if prog is None else ("installed" if is_installed(prog) else
                                                     "missing (run scripts/setup)")
            lines.append(f"  {name:10} {state}")
    print("\n".join(lines))
    return EXIT_OK


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="+", help="scenario ids (see `certlab list`)")
    _scenarios_file_arg(p)
    from lab.peers.registry import CLIENT_PROGRAMS, SERVER_PROGRAMS
    p.add_argument("--stack", default="python",
                   help=f"the stack under test (default: python): a server ({', '.join(sorted(SERVER_PROGRAMS))}) "
                        f"for client-role scenarios, a client ({', '.join(sorted(CLIENT_PROGRAMS))}) for srv-* ones")
    p.add_argument("--tls", choices=["1.0", "1.1", "1.2", "1.3"], help="only this TLS version")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--pcap-dir", help="write a pcapng per run here (key log embedded, packets named by step)")
    p.add_argument("--pki", help="folder of the test PKI (created if missing; default: a temporary one)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the server (default 3)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print each message as it goes (time, direction, type, length, encrypted, client-auth "
                        "fields) on stderr")
    target_args(p)


def _target_run(args: argparse.Namespace):
    from lab.play.commands import run_against
    [target], user, under = targets_from(args, "run")
    return run_against(args.scenario, target, args.tls, args.pcap_dir, args.pki, args.timeout,
                       trace=_trace_sink() if args.verbose else None, user=user, under=under)


def _run_run(args: argparse.Namespace) -> int:
    from lab.play.commands import UsageError, run
    from lab.play.text import render
    _load_user_scenarios(args)
    try:
        if args.to:
            results = _target_run(args)
        else:
            results = run(args.scenario, args.stack, args.tls, args.pcap_dir, args.pki, args.timeout,
                          trace=_trace_sink() if args.verbose else None)
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    print(render(results, args.json))
    return EXIT_OK if all(r.verdict in ("pass", "skip") for r in results) else EXIT_MISMATCH


def _trace_sink():
    """Where -v writes: stderr, line by line, so that --json keeps stdout to itself."""
    return lambda line: print(line, file=sys.stderr, flush=True)


def _pki_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["init"], help="init: create the test PKI")
    p.add_argument("dir", help="folder to write it to")
    p.add_argument("--force", action="store_true",
                   help="replace a PKI already in DIR (new CA: certificates issued by the old one stop verifying)")


def _pki_run(args: argparse.Namespace) -> int:
    from lab.pki import VARIANTS, Pki
    if not args.force and os.path.exists(os.path.join(args.dir, "rsa", "ca.crt")):
        raise CommandError(f"{args.dir} already holds a PKI; add --force to replace it (a new CA: clients and "
                           "servers that trust the old one will reject the new certificates)")
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
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each message of the client, once "
                   "connected (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON document (and nothing else) on stdout")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print each message as it goes (time, direction, type, length, encrypted, client-auth "
                        "fields) on stderr")
    from lab.transport.starttls import PROTOCOLS
    p.add_argument("--starttls", choices=PROTOCOLS, help="answer this protocol's in-band upgrade first "
                   "(default: guessed from --port, as for run --to)")
    credential_args(p, "server")
    p.add_argument("--client-ca", metavar="FILE", help="check the client's certificate against these CAs "
                   "(the result's client_certificate_check)")
    p.add_argument("--holds", action="append", metavar="FILE", default=[],
                   help="a certificate (PEM, leaf first) your client holds; repeat for each: the result says "
                        "which one it sent and which ones the request allows (MUST) and names (SHOULD)")


def _serve_run(args: argparse.Namespace) -> int:
    from lab.play.commands import UsageError, serve
    from lab.play.text import render

    def on_listen(port: int, pki) -> None:   # with --json, stdout holds the JSON alone
        upgrade = f" ({args.starttls} STARTTLS first)" if args.starttls else ""
        ours = f"your certificate ({identity.subject})" if identity else \
            f"server certificate CN=localhost, issued by {pki.identity('rsa', 'server').ca} (trust it in the client)"
        print(f"certlab serve: listening on 127.0.0.1:{port}{upgrade}; {ours}. Waiting {args.wait:g} s...", flush=True,
              file=sys.stderr if args.json else sys.stdout)
    from lab.creds import CredentialError, load_certificates, load_credentials
    try:
        identity = load_credentials(args.cert, args.key, None, args.p12, args.password_file)
        if args.client_ca:
            load_certificates(args.client_ca, "CA file")
        holds = {path: load_certificates(path, "--holds file") for path in args.holds}
    except CredentialError as exc:
        raise CommandError(str(exc)) from None
    try:
        from lab.transport.starttls import protocol_for
        result = serve(args.scenario, args.port, args.tls, args.pki, args.pcap_dir, args.wait, on_listen,
                       trace=_trace_sink() if args.verbose else None, starttls=protocol_for(args.starttls, args.port),
                       identity=identity, client_ca=args.client_ca, timeout=args.timeout, holds=holds)
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    print(render([result], args.json, holdings=True))
    if result.observed.client_chain and not args.json:
        print("      client chain: " + "; ".join(result.observed.client_chain))
    return EXIT_OK if result.verdict == "pass" else EXIT_MISMATCH


def _matrix_args(p: argparse.ArgumentParser) -> None:
    _scenarios_file_arg(p)
    p.add_argument("--stacks", help="comma-separated stacks (default: every installed one)")
    p.add_argument("--scenarios", help="comma-separated scenario ids (default: all)")
    p.add_argument("--rows", help="catalogue groups or rows, e.g. A,C or D01 (default: all)")
    p.add_argument("--tls", help="comma-separated versions, e.g. 1.2,1.3 (default: each scenario's)")
    p.add_argument("--jobs", type=int, default=6, help="peer groups run in parallel (default 6: most of a cell is waiting)")
    p.add_argument("--out", required=True, help="folder for results.json, report.md, report.html, pcaps/")
    p.add_argument("--pki", help="folder of the test PKI (default: OUT/pki)")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for each answer (default 3)")
    p.add_argument("--resume", action="store_true",
                   help="keep the cells an interrupted run of the same --out already finished; run the rest")
    target_args(p, many=True)


def _matrix_run(args: argparse.Namespace) -> int:
    from lab.play.matrix import Interrupted, plan, run_matrix, write_results
    from lab.play.commands import UsageError

    def split(v: str | None) -> list[str] | None:
        return [x.strip() for x in v.split(",") if x.strip()] if v else None
    _load_user_scenarios(args)
    targets, user, under = targets_from(args, "matrix")
    try:
        cells = plan(split(args.stacks), split(args.scenarios), split(args.rows), split(args.tls),
                     targets=[t.label for t in targets])
    except UsageError as exc:
        raise CommandError(str(exc)) from None
    if not cells:
        raise CommandError("no cells: no installed stack matches (run scripts/setup), or the filters exclude all")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create {args.out}: {exc.strerror or exc}") from None
    try:
        results = run_matrix(cells, args.out, args.jobs, args.timeout, args.pki, args.resume,
                             targets={t.label: t for t in targets}, user=user, under=under)
    except Interrupted as exc:
        print(f"certlab matrix: interrupted: {exc}; run the same command with --resume to finish", file=sys.stderr)
        return 130
    import datetime as dt
    import shlex
    from lab.play.matrix import summary
    meta = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(a) for a in ["certlab", *sys.argv[1:]])}
    paths = write_results(results, args.out, meta)
    counts, failing = summary(results)
    print(f"{len(results)} cells: {counts['pass']} pass, {counts['fail']} fail (not as the RFC requires), "
          f"{counts['skip']} n/a, {counts['error']} error. Report: {paths['html']} (also {paths['md']}, "
          f"{paths['json']})")
    for stack, (n, reason) in sorted(failing.items()):
        print(f"error: {stack}: {n} cell(s) could not run: {reason}")
    return EXIT_MISMATCH if failing else EXIT_OK


COMMANDS = {
    "pki": ("create the test PKI: CAs, server and client leaves, every faulty variant", _pki_args, _pki_run),
    "list": ("list the scenarios (row, RFC section, summary) and the stacks", _list_args, _list_run),
    "run": ("run scenarios against a real stack (certlab as client, or as server for srv-* ids)",
            _run_args, _run_run),
    "matrix": ("run scenarios x stacks and write the behaviour report (JSON, Markdown, HTML, pcaps)",
               _matrix_args, _matrix_run),
    "serve": ("play a server-role scenario with whatever client connects, and show what it did",
              _serve_args, _serve_run),
}
