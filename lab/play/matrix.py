"""``certlab matrix``: scenarios x stacks, every cell with its pcap, rendered as the behaviour
table no other tool produces. Cells that share a server peer (stack, version, client-auth mode)
reuse one started peer; groups run in parallel (``--jobs``)."""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lab.files import write_atomic
from lab.peers.process import PeerUnavailable
from lab.peers.registry import installed, programs, skip_reason
from lab.pki import Pki
from lab.play.cells import run_scenario, run_server_scenario
from lab.play.commands import UsageError, scenarios
from lab.play.observed import CellResult
from lab.script.dsl import REGISTRY
from lab.script.setup import Setup
from lab.transport import PeerUnreachable, SocketTransport


@dataclass(frozen=True)
class Cell:
    scenario: str
    stack: str
    version: str


def plan(stacks: list[str] | None, ids: list[str] | None, rows: list[str] | None,
         versions: list[str] | None) -> list[Cell]:
    scenarios()
    chosen = ids or sorted(REGISTRY)
    unknown = [i for i in chosen if i not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r}; `certlab list` shows them")
    if rows:
        chosen = [i for i in chosen if any(r.startswith(tuple(rows)) for r in REGISTRY[i].row.split("/"))]
    cells = []
    for sid in chosen:
        sc = REGISTRY[sid]
        kinds = programs(sc.role)  # the peer plays the other role
        for stack in [s for s in (stacks or installed(kinds)) if s in kinds]:
            for v in sorted(sc.versions):
                if versions is None or v in versions:
                    cells.append(Cell(sid, stack, v))
    return cells


class Journal:
    """Each finished cell's result, written at once (whole or not at all) to DIR/cells/, so an
    interrupted matrix resumes where it stopped (``--resume``)."""

    def __init__(self, out_dir: str) -> None:
        self.folder = os.path.join(out_dir, "cells")
        os.makedirs(self.folder, exist_ok=True)

    def _path(self, cell: Cell) -> str:
        return os.path.join(self.folder, f"{cell.scenario}~{cell.stack}~tls{cell.version}.json")

    def record(self, cell: Cell, result: CellResult) -> None:
        write_atomic(self._path(cell), json.dumps(result.to_json()))

    def load(self, cells: list[Cell]) -> dict[Cell, CellResult]:
        """The cells already done (with their pcap, if they made one)."""
        done = {}
        for cell in cells:
            try:
                with open(self._path(cell), encoding="utf-8") as fh:
                    r = json.load(fh)
            except (OSError, ValueError):
                continue
            if not r.get("pcap") or os.path.exists(r["pcap"]):
                done[cell] = CellResult.from_json(r)
        return done

    def clear(self) -> None:
        for name in os.listdir(self.folder):
            if name.endswith(".json"):
                os.unlink(os.path.join(self.folder, name))


class Progress:
    """A bar redrawn in place on a terminal; in a log (CI), a line every tenth of the cells. Each
    finished cell goes to the journal; ``stop`` asks the groups to end after their current cell."""

    def __init__(self, total: int, journal: Journal | None = None, done: int = 0) -> None:
        self.total, self.done, self.lock = total, done, threading.Lock()
        self.tty = sys.stderr.isatty()
        self.journal, self.stop = journal, threading.Event()

    def step(self, cell: Cell, result: CellResult) -> None:
        verdict = result.verdict
        if self.journal is not None:
            self.journal.record(cell, result)
        with self.lock:
            self.done += 1
            if not self.tty:
                tenth = max(self.total // 10, 1)
                if self.done % tenth == 0 or self.done == self.total:
                    sys.stderr.write(f"{self.done}/{self.total} cells run\n")
                    sys.stderr.flush()
                return
            width = 30
            bar = "#" * (width * self.done // max(self.total, 1))
            sys.stderr.write(f"\r[{bar:<{width}}] {self.done}/{self.total} {cell.scenario[:34]:34} "
                             f"{cell.stack:8} {verdict:5}")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _skip(cell: Cell, reason: str, verdict: str = "skip") -> CellResult:
    return CellResult.skipped(REGISTRY[cell.scenario], cell.stack, cell.version, reason, verdict)


def _run_group(key: tuple, cells: list[Cell], pki: Pki, work: str, pcaps: str, progress: Progress,
               timeout: float) -> list[CellResult]:
    from lab.peers.servers import server_classes
    role, stack, version, mode = key
    out = []
    if role == "server":
        from lab.peers.clients import client_for
        for cell in cells:
            if progress.stop.is_set():
                break
            sc = REGISTRY[cell.scenario]
            try:
                client = client_for(stack, sc, pki, version, work)
                reason = skip_reason(client, sc)
                r = _skip(cell, reason) if reason else \
                    run_server_scenario(sc, Setup(pki, version), client, stack, pcap_dir=pcaps, timeout=timeout)
            except PeerUnavailable as exc:
                r = _skip(cell, str(exc))
            out.append(r)
            progress.step(cell, r)
        return out
    peer = server_classes()[stack](pki, version, mode, work)
    runnable = []
    for cell in cells:
        reason = skip_reason(peer, REGISTRY[cell.scenario])
        if reason:
            out.append(_skip(cell, reason))
            progress.step(cell, out[-1])
        else:
            runnable.append(cell)
    if not runnable:
        return out
    try:
        with peer:
            for cell in runnable:
                if progress.stop.is_set():
                    break
                sc = REGISTRY[cell.scenario]
                try:
                    r = run_scenario(sc, Setup(pki, version), lambda: SocketTransport("127.0.0.1", peer.port), stack,
                                     pcap_dir=pcaps, timeout=timeout, hooks=peer.hooks())
                except PeerUnreachable as exc:
                    r = _skip(cell, str(exc))
                out.append(r)
                progress.step(cell, r)
    except PeerUnavailable as exc:
        for cell in runnable:
            out.append(_skip(cell, str(exc)))
            progress.step(cell, out[-1])
    return out


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped the matrix; the finished cells are in the journal."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"{done} of {total} cells done")
        self.done, self.total = done, total


def run_matrix(cells: list[Cell], out_dir: str, jobs: int = 2, timeout: float = 3.0,
               pki_dir: str | None = None, resume: bool = False) -> list[CellResult]:
    """Every cell's result; with ``resume``, the cells the journal already holds are not run
    again. Raises Interrupted (after the running cells finish and their peers stop)."""
    os.makedirs(out_dir, exist_ok=True)
    pcaps = os.path.join(out_dir, "pcaps")
    journal = Journal(out_dir)
    done = journal.load(cells) if resume else {}
    if not resume:
        journal.clear()
    pending = [c for c in cells if c not in done]
    results = list(done.values())
    work = tempfile.mkdtemp(prefix="certlab-matrix-")
    progress = Progress(len(cells), journal, len(done))
    try:
        pki = Pki.ensure(pki_dir or os.path.join(out_dir, "pki"))
        groups: dict[tuple, list[Cell]] = defaultdict(list)
        for cell in pending:
            sc = REGISTRY[cell.scenario]
            groups[(sc.role, cell.stack, cell.version, sc.server_mode)].append(cell)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [(group, pool.submit(_run_group, key, group, pki, work, pcaps, progress, timeout))
                       for key, group in sorted(groups.items())]
            try:
                for group, fut in futures:
                    try:
                        results += fut.result()
                    except Exception as exc:  # one broken group must not lose the others' cells
                        results += [_skip(cell, f"{type(exc).__name__}: {exc}", "error") for cell in group]
            except KeyboardInterrupt:
                progress.stop.set()   # the groups end after their current cell; their peers stop
                pool.shutdown(wait=True, cancel_futures=True)
                raise Interrupted(progress.done, len(cells)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    order = {c: i for i, c in enumerate(cells)}
    results.sort(key=lambda r: order.get(Cell(r.scenario, r.stack, r.tls_version), 0))
    return results


def write_results(cells: list[CellResult], out_dir: str) -> dict[str, str]:
    from lab.play.report import html_report, markdown_report
    results = [r.to_json() for r in cells]
    for r in results:
        if r.get("pcap") and os.path.isabs(r["pcap"]):
            r["pcap"] = os.path.relpath(r["pcap"], out_dir)
    paths = {"json": os.path.join(out_dir, "results.json"), "md": os.path.join(out_dir, "report.md"),
             "html": os.path.join(out_dir, "report.html")}
    write_atomic(paths["json"], json.dumps({"results": results}, indent=2) + "\n")
    write_atomic(paths["md"], markdown_report(results))
    write_atomic(paths["html"], html_report(results))
    return paths
