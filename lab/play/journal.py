"""What a running matrix keeps: the journal of finished cells (``--resume``) and the progress shown
while it runs (a bar with count and ETA on a terminal, a line every tenth in a log)."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass

from lab.files import write_atomic
from lab.play.observed import CellResult


@dataclass(frozen=True)
class Cell:
    scenario: str
    stack: str
    version: str


class Journal:
    """Each finished cell's result, written at once (whole or not at all) to OUT/cells/, with its
    pcap path relative to OUT, so an interrupted matrix resumes where it stopped, even after the
    folder was moved."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.folder = os.path.join(out_dir, "cells")
        os.makedirs(self.folder, exist_ok=True)

    def _path(self, cell: Cell) -> str:
        return os.path.join(self.folder, f"{cell.scenario}~{cell.stack}~tls{cell.version}.json")

    def record(self, cell: Cell, result: CellResult) -> None:
        data = result.to_json()
        if data.get("pcap"):
            data["pcap"] = os.path.relpath(data["pcap"], self.out_dir)
        write_atomic(self._path(cell), json.dumps(data))

    def load(self, cells: list[Cell]) -> dict[Cell, CellResult]:
        """The cells already done (with their pcap, if they made one)."""
        done = {}
        for cell in cells:
            try:
                with open(self._path(cell), encoding="utf-8") as fh:
                    r = json.load(fh)
            except (OSError, ValueError):
                continue
            if r.get("pcap"):
                r["pcap"] = os.path.join(self.out_dir, r["pcap"])
            if not r.get("pcap") or os.path.exists(r["pcap"]):
                done[cell] = CellResult.from_json(r)
        return done

    def clear(self) -> None:
        for name in os.listdir(self.folder):
            if name.endswith(".json"):
                os.unlink(os.path.join(self.folder, name))


class Progress:
    """A bar redrawn in place on a terminal (count, ETA); in a log (CI), a line every tenth of the
    cells. Each finished cell goes to the journal; ``stop`` asks the groups to end after their
    current cell."""

    def __init__(self, total: int, journal: Journal | None = None, done: int = 0, stream=None) -> None:
        self.total, self.done, self.lock = total, done, threading.Lock()
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.journal, self.stop = journal, threading.Event()
        self.started, self.first = time.monotonic(), done

    def eta(self) -> str:
        ran = self.done - self.first
        if ran <= 0:
            return "ETA --:--"
        left = (time.monotonic() - self.started) / ran * (self.total - self.done)
        return f"ETA {int(left) // 60:02d}:{int(left) % 60:02d}"

    def step(self, cell: Cell, result: CellResult) -> None:
        if self.journal is not None:
            self.journal.record(cell, result)
        with self.lock:
            self.done += 1
            if not self.tty:
                tenth = max(self.total // 10, 1)
                if self.done % tenth == 0 or self.done == self.total:
                    self.stream.write(f"{self.done}/{self.total} cells run, {self.eta()}\n")
                    self.stream.flush()
                return
            width = 30
            bar = "#" * (width * self.done // max(self.total, 1))
            self.stream.write(f"\r[{bar:<{width}}] {self.done}/{self.total} {self.eta()} {cell.scenario[:30]:30} "
                              f"{cell.stack:8} {result.verdict:5}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
