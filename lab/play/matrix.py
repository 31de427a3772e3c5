"""``certlab matrix``: scenarios x stacks, every cell with its pcap, rendered as the behaviour
table no other tool produces. Cells that share a server peer (stack, version, client-auth mode)
reuse one started peer; groups run in parallel (``--jobs``). A cell a stack declares it cannot
run is ``skip`` (n/a) with its reason; a cell that could not run (a peer that did not start, a
crash) is ``error`` with its reason, never n/a."""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

from lab.children import scratch_folder
from lab.files import write_atomic
from lab.peers.process import PeerUnavailable
from lab.peers.registry import CLIENT_PROGRAMS, SERVER_PROGRAMS, installed, programs, skip_reason, stack_version
from lab.pki import Pki
from lab.play.cells import run_on_peer, run_scenario, run_server_scenario
from lab.play.commands import UsageError, scenarios
from lab.play.journal import Cell, Journal, Progress
from lab.play.observed import CellResult
from lab.script.dsl import REGISTRY
from lab.script.setup import Setup, applicable
from lab.transport import PeerUnreachable

VERSIONS = ("1.0", "1.1", "1.2", "1.3")


def plan(stacks: list[str] | None, ids: list[str] | None, rows: list[str] | None,
         versions: list[str] | None, targets: list[str] | None = None) -> list[Cell]:
    """The cells to run; an unknown stack, scenario, row or version is a UsageError naming the choices."""
    scenarios()
    every = sorted(set(SERVER_PROGRAMS) | set(CLIENT_PROGRAMS))
    for s in stacks or []:
        if s not in every:
            raise UsageError(f"unknown stack {s!r}; choose from {', '.join(every)}")
    for v in versions or []:
        if v not in VERSIONS:
            raise UsageError(f"unknown TLS version {v!r}; choose from {', '.join(VERSIONS)}")
    all_rows = sorted({r for sc in REGISTRY.values() for r in sc.row.split("/")})
    for row in rows or []:
        if not any(r.startswith(row) for r in all_rows):
            groups = sorted({r[0] for r in all_rows})
            raise UsageError(f"unknown row {row!r}; choose a group ({', '.join(groups)}) or a row "
                             f"({', '.join(all_rows)})")
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
        if sc.role != "server":   # the user's servers (``--to``): client-role scenarios only
            cells += [Cell(sid, t, v) for t in targets or [] for v in sorted(sc.versions)
                      if versions is None or v in versions]
    return cells


def _skip(cell: Cell, reason: str, verdict: str = "skip") -> CellResult:
    return CellResult.skipped(REGISTRY[cell.scenario], cell.stack, cell.version, reason, verdict)


def _failed(cell: Cell, reason: str) -> CellResult:
    """A cell that could not run: an error with its one-line reason."""
    return _skip(cell, reason, "error")


def _run_group(key: tuple, cells: list[Cell], pki: Pki, work: str, pcaps: str, progress: Progress,
               timeout: float, own: dict | None = None) -> list[CellResult]:
    """``own``: {"targets": {label: Target}, "user": Credentials, "pki": Pki, "minted": bool}."""
    from lab.peers.servers import server_classes
    role, stack, version, mode = key
    out: list[CellResult] = []
    finished: set[Cell] = set()

    def done(cell: Cell, r: CellResult) -> None:
        out.append(r)
        finished.add(cell)
        progress.step(cell, r)
    if own and stack in own["targets"]:
        _run_target(own, stack, version, cells, pcaps, progress, timeout, done)
        return out
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
                r = _failed(cell, str(exc))
            except Exception as exc:  # noqa: BLE001 - a broken cell must not lose the others
                r = _failed(cell, f"{type(exc).__name__}: {exc}")
            done(cell, r)
        return out
    peer = server_classes()[stack](pki, version, mode, work)
    runnable = []
    for cell in cells:
        reason = skip_reason(peer, REGISTRY[cell.scenario])
        if reason:
            done(cell, _skip(cell, reason))
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
                    r = run_on_peer(sc, Setup(pki, version), peer, stack, pcap_dir=pcaps, timeout=timeout)
                except PeerUnreachable as exc:
                    r = _failed(cell, str(exc))
                except Exception as exc:  # noqa: BLE001 - a broken cell must not lose the others
                    r = _failed(cell, f"{type(exc).__name__}: {exc}")
                done(cell, r)
    except PeerUnavailable as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        for cell in [c for c in runnable if c not in finished]:
            done(cell, _failed(cell, f"{stack} did not start: {reason}"))
    return out


def _run_target(own: dict, label: str, version: str, cells: list[Cell], pcaps: str, progress: Progress,
                timeout: float, done) -> None:
    """The user's server as a column: each cell as ``run --to`` plays it."""
    target = own["targets"][label]
    for cell in cells:
        if progress.stop.is_set():
            break
        sc = REGISTRY[cell.scenario]
        setup = Setup(own["pki"], version, user=own["user"], minted=own["minted"], server_name=target.sni,
                      alpn=target.alpn)
        reason = applicable(sc, setup)
        try:
            r = _skip(cell, reason) if reason else \
                run_scenario(sc, setup, lambda: target.connect(timeout), label, pcap_dir=pcaps, timeout=timeout,
                             target=target)
        except PeerUnreachable as exc:
            r = _failed(cell, str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken cell must not lose the others
            r = _failed(cell, f"{type(exc).__name__}: {exc}")
        done(cell, r)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped the matrix; the finished cells are in the journal."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"{done} of {total} cells done")
        self.done, self.total = done, total


def run_matrix(cells: list[Cell], out_dir: str, jobs: int = 2, timeout: float = 3.0,
               pki_dir: str | None = None, resume: bool = False, targets: dict | None = None, user=None,
               under=None) -> list[CellResult]:
    """Every cell's result; with ``resume``, the cells the journal already holds are not run
    again. Raises Interrupted (after the running cells finish and their peers stop). ``targets``
    ({label: Target}) are the user's servers, played with ``user``'s credentials and variants
    minted under ``under`` (the user's CA), as ``run --to`` plays them."""
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    pcaps = os.path.join(out_dir, "pcaps")
    journal = Journal(out_dir)
    done = journal.load(cells) if resume else {}
    if not resume:   # a used folder starts clean: no old pcap or report beside the new ones
        journal.clear()
        shutil.rmtree(pcaps, ignore_errors=True)
        for name in ("results.json", "report.md", "report.html"):
            if os.path.exists(os.path.join(out_dir, name)):
                os.unlink(os.path.join(out_dir, name))
    pending = [c for c in cells if c not in done]
    results = list(done.values())
    work = scratch_folder("matrix")
    progress = Progress(len(cells), journal, len(done))
    try:
        pki = Pki.ensure(pki_dir or os.path.join(out_dir, "pki"))
        own = None
        if targets:
            own = {"targets": targets, "user": user, "minted": under is not None,
                   "pki": Pki.create(os.path.join(work, "yours"), under=under) if under else pki}
        groups: dict[tuple, list[Cell]] = defaultdict(list)
        for cell in pending:
            sc = REGISTRY[cell.scenario]
            groups[(sc.role, cell.stack, cell.version, sc.server_mode)].append(cell)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [(group, pool.submit(_run_group, key, group, pki, work, pcaps, progress, timeout, own))
                       for key, group in sorted(groups.items(), key=_longest_first)]
            try:
                for group, fut in futures:
                    try:
                        results += fut.result()
                    except Exception as exc:  # one broken group must not lose the others' cells
                        results += [_failed(cell, f"{type(exc).__name__}: {exc}") for cell in group]
            except KeyboardInterrupt:
                progress.stop.set()   # the groups end after their current cell; their peers stop
                pool.shutdown(wait=True, cancel_futures=True)
                raise Interrupted(progress.done, len(cells)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    order = {c: i for i, c in enumerate(cells)}
    results.sort(key=lambda r: order.get(Cell(r.scenario, r.stack, r.tls_version), 0))
    return results


# Seconds a cell of the client programs that are slow to start (a browser, a JVM, an Erlang VM,
# pure Python), as a full matrix measured them on a 2-core machine (2026-12-02); others take ~0.2 s
SLOW_CLIENTS = {"chromium": 1.4, "java": 0.8, "erlang": 0.7, "tlslite": 0.35}


def _longest_first(item) -> tuple:
    """The groups that take longest start first, so that none is left running alone at the end:
    client programs start once per cell (a browser takes seconds), a server once per group."""
    (role, stack, version, mode), cells = item
    per_cell = SLOW_CLIENTS.get(stack, 0.2) if role == "server" else 0.1
    return (-per_cell * len(cells), role, stack, version, mode)


def summary(results: list[CellResult]) -> tuple[Counter, dict[str, tuple[int, str]]]:
    """(verdict counts, {stack: (cells in error, the first reason)})."""
    counts = Counter(r.verdict for r in results)
    failing: dict[str, tuple[int, str]] = {}
    for r in results:
        if r.verdict == "error":
            n, reason = failing.get(r.stack, (0, r.reason or (r.observed.reason if r.observed else None) or "?"))
            failing[r.stack] = (n + 1, reason)
    return counts, failing


def client_holdings(stacks: set[str]) -> dict[str, str]:
    """What each client program can hold and how it chooses (the certificate-choice view's legend)."""
    from lab.peers.clients import all_clients
    known = all_clients()
    return {s: f"{known[s].holds}; chooses: {known[s].chooses}" for s in sorted(stacks) if s in known}


def write_results(cells: list[CellResult], out_dir: str, meta: dict | None = None) -> dict[str, str]:
    """results.json, report.md and report.html, every path in them relative to ``out_dir``."""
    from lab.play.report import html_report, markdown_report
    out_dir = os.path.abspath(out_dir)
    results = [r.to_json() for r in cells]
    for r in results:
        if r.get("pcap"):
            r["pcap"] = os.path.relpath(os.path.abspath(r["pcap"]), out_dir)
        if r.get("version") is None and ":" not in r["stack"]:   # a cell that never ran names its stack's version
            r["version"] = stack_version(r["stack"])
    meta = dict(meta or {})
    counts, _ = summary(cells)
    meta["counts"] = {k: counts.get(k, 0) for k in ("pass", "fail", "skip", "error")}
    meta.setdefault("holds", client_holdings({r.stack for r in cells if r.should is not None and r.role == "client"}))
    paths = {"json": os.path.join(out_dir, "results.json"), "md": os.path.join(out_dir, "report.md"),
             "html": os.path.join(out_dir, "report.html")}
    write_atomic(paths["json"], json.dumps({**meta, "results": results}, indent=2) + "\n")
    write_atomic(paths["md"], markdown_report(results, meta))
    write_atomic(paths["html"], html_report(results, meta))
    return paths
