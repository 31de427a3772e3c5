"""A capture read by several processes at once (``--jobs N``): connections are independent, so each
process reads the file and decodes the connections whose addresses hash to it, rendering each to
a spool file of its own; the renderings are then merged back into capture order. The output is
the same whatever N is; memory stays per process what one stream needs."""
from __future__ import annotations

import heapq
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lab.dissect.model import ConnectionInfo
from lab.dissect.stream import NO_KEY_MATCH, DissectStream, InputError

Render = Callable[[ConnectionInfo, DissectStream], str]


@dataclass
class Summary:
    format: str = "pcap"
    frames: int = 0
    count: int = 0
    keylog_secrets: int = 0
    embedded_secrets: int = 0
    warnings: tuple[str, ...] = ()


def _work(spool: str, args: tuple, share: tuple[int, int], render: Render, decrypt_all: bool) -> None:
    with open(spool, "w", encoding="utf-8") as out:
        try:
            stream = DissectStream(*args, keep_data=False, share=share, decrypt_all=decrypt_all)
            for info in stream:
                out.write(json.dumps({"f": info.first_frame, "t": render(info, stream)}) + "\n")
            out.write(json.dumps({"summary": [stream.format, stream.frames, stream.count, len(stream.keys.keylog),
                                              stream.embedded_secrets, stream.matched, stream.had_random,
                                              stream.warnings]}) + "\n")
        except InputError as exc:
            out.write(json.dumps({"error": str(exc)}) + "\n")


def _entries(path: str) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            if "f" in item:
                yield item["f"], item["t"]


def _tail(path: str) -> dict:
    """The last line of a spool: its summary or its error."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        lines = fh.read().splitlines()
    return json.loads(lines[-1]) if lines else {"error": "a worker stopped before it finished"}


def rendered(path: str, keylog: str | None, server_keys: list[str], ports: list[int], jobs: int,
             render: Render, folder: str, decrypt_all: bool = True) -> tuple[Iterator[str], Summary]:
    """Each connection's rendering in capture order, and the capture's summary. Raises InputError.
    ``folder`` holds the spools until the caller has read the renderings."""
    args = (path, keylog, server_keys, ports)
    jobs = max(1, jobs)
    spools = [os.path.join(folder, f"share{i}.jsonl") for i in range(jobs)]
    if jobs == 1:
        _work(spools[0], args, (0, 1), render, decrypt_all)
    else:
        ctx = multiprocessing.get_context("fork")
        workers = [ctx.Process(target=_work, args=(spools[i], args, (i, jobs), render, decrypt_all), daemon=True)
                   for i in range(jobs)]
        try:
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        finally:
            for w in workers:
                if w.is_alive():
                    w.terminate()
                    w.join()
    tails = [_tail(s) if os.path.exists(s) else {"error": "a worker could not start"} for s in spools]
    errors = [t["error"] for t in tails if "error" in t]
    if errors:
        raise InputError(errors[0])
    fmt, frames = tails[0]["summary"][0], tails[0]["summary"][1]
    count = sum(t["summary"][2] for t in tails)
    secrets, embedded = tails[0]["summary"][3], tails[0]["summary"][4]
    matched, any_random = any(t["summary"][5] for t in tails), any(t["summary"][6] for t in tails)
    if not count:
        raise InputError(f"{path}: no TLS traffic found in {frames} frames; "
                         "if TLS runs over a non-standard framing, name its port with --port")
    warnings = tuple(tails[0]["summary"][7]) + ((NO_KEY_MATCH,) if secrets and any_random and not matched else ())
    merged = (text for _, text in heapq.merge(*(_entries(s) for s in spools)))
    return merged, Summary(fmt, frames, count, secrets, embedded, warnings)


def jobs_default() -> int:
    return os.cpu_count() or 1

