"""The ``certlab`` command line. Commands are a registry (name -> (help, add_arguments, run)),
as sslyze keeps its plugins, one module per family; heavy imports happen inside each command so
``--help`` stays fast. Nothing outside this package imports it.

Exit codes: 0 success, 1 a result did not match its expectation, 2 unusable input or usage.
"""
from __future__ import annotations

import argparse
import sys

from lab.cli import captures, scenarios, tools
from lab.cli.options import EXIT_INPUT, EXIT_OK, CommandError, check_arguments

COMMANDS = {**captures.COMMANDS, **scenarios.COMMANDS, **tools.COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="certlab", description="A packet-level lab for TLS client-"
                                     "certificate authentication (mutual TLS).")
    parser.add_argument("--version", action="version", version="certlab 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_args, _) in COMMANDS.items():
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
    from lab.children import sweep_scratch
    sweep_scratch()  # the temporary folders of runs that were killed
    try:
        check_arguments(args.command, args)
        return COMMANDS[args.command][2](args)
    except CommandError as exc:
        print(f"certlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("certlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
