"""TCP connection tracking and stream reassembly for captured segments.

Handles out-of-order segments, retransmissions and overlaps, the duplicate copies a loopback
capture records, sequence-number wrap-around and port reuse (a new SYN starts a new
connection). Each delivered chunk carries the frame that completed it, as Wireshark reports a
reassembled PDU in the frame where its last byte arrives.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from lab.capture.packets import ACK, FIN, RST, SYN, Segment, endpoint

MOD = 1 << 32


@dataclass
class Chunk:
    frame: int
    time: float
    direction: int  # 0: initiator (client) -> responder, 1: the reverse
    data: bytes


TOMBSTONES = 16384      # closed connections remembered, to drop their late segments
MAX_PENDING = 16 << 20   # out-of-order bytes one direction may hold while it waits for a hole


@dataclass
class _Direction:
    isn: int | None = None
    next_rel: int = 0
    pending: dict[int, tuple[bytes, Segment]] = field(default_factory=dict)
    starts: list[int] = field(default_factory=list)   # a heap of the pending offsets: draining stays n log n
    pending_bytes: int = 0
    dropped: int = 0   # out-of-order bytes not kept: more were waiting for a hole than the bound allows
    fin: bool = False
    fin_frame: int | None = None    # the first FIN and RST this side sent (who closed first)
    rst_frame: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (offset, missing bytes)


@dataclass
class TCPConnection:
    client: tuple[str, int]
    server: tuple[str, int]
    first_frame: int
    chunks: list[Chunk] = field(default_factory=list)
    dirs: tuple[_Direction, _Direction] = field(default_factory=lambda: (_Direction(), _Direction()))
    saw_syn: bool = False
    closed: bool = False
    reset: bool = False
    frames: list[int] = field(default_factory=list)

    @property
    def client_str(self) -> str:
        return endpoint(*self.client)

    @property
    def server_str(self) -> str:
        return endpoint(*self.server)

    def stream(self, direction: int) -> bytes:
        return b"".join(c.data for c in self.chunks if c.direction == direction)

    def swap(self) -> None:
        """Exchange the roles of the two ends (when TLS shows the guess was wrong)."""
        self.client, self.server = self.server, self.client
        self.dirs = (self.dirs[1], self.dirs[0])
        for c in self.chunks:
            c.direction ^= 1

    def add(self, seg: Segment, direction: int) -> None:
        self.frames.append(seg.frame)
        d = self.dirs[direction]
        if seg.flags & RST:
            self.reset = True
            d.rst_frame = seg.frame if d.rst_frame is None else d.rst_frame
        if seg.flags & SYN:
            d.isn = (seg.seq + 1) % MOD
            d.next_rel = 0
            return
        if d.isn is None:
            d.isn = seg.seq  # capture started mid-connection
        if seg.flags & FIN:
            d.fin = True
            d.fin_frame = seg.frame if d.fin_frame is None else d.fin_frame
        if not seg.payload:
            return
        rel = (seg.seq - d.isn) % MOD
        if rel >= MOD // 2:  # before our ISN: an old retransmission
            return
        end = rel + len(seg.payload)
        if end <= d.next_rel:
            return  # retransmission or loopback duplicate
        if rel > d.next_rel:
            prev = d.pending.get(rel)
            if prev is None and d.pending_bytes + len(seg.payload) > MAX_PENDING:
                d.dropped += len(seg.payload)   # bounded: a hole that never fills must not hold it all
                return
            if prev is None:
                heapq.heappush(d.starts, rel)
            if prev is None or len(prev[0]) < len(seg.payload):
                d.pending_bytes += len(seg.payload) - (len(prev[0]) if prev else 0)
                d.pending[rel] = (seg.payload, seg)
            return
        self._deliver(seg, direction, seg.payload[d.next_rel - rel:])
        self._drain(direction, seg)

    def _deliver(self, seg: Segment, direction: int, data: bytes) -> None:
        d = self.dirs[direction]
        self.chunks.append(Chunk(seg.frame, seg.time, direction, data))
        d.next_rel += len(data)

    def _drain(self, direction: int, trigger: Segment | None) -> None:
        """Deliver buffered segments that are now contiguous, in the frame that completed them."""
        d = self.dirs[direction]
        while d.starts and d.starts[0] <= d.next_rel:
            r = heapq.heappop(d.starts)
            payload, seg = d.pending.pop(r)
            d.pending_bytes -= len(payload)
            if r + len(payload) > d.next_rel:
                self._deliver(trigger or seg, direction, payload[d.next_rel - r:])

    def finish(self) -> None:
        """Give up on holes: note each gap and deliver what follows it."""
        for direction, d in enumerate(self.dirs):
            while d.starts:
                r = d.starts[0]
                d.gaps.append((d.next_rel, r - d.next_rel))
                d.next_rel = r
                self._drain(direction, None)
        # Merge the two directions by frame without reordering either one.
        a = [c for c in self.chunks if c.direction == 0]
        b = [c for c in self.chunks if c.direction == 1]
        merged, i, j = [], 0, 0
        while i < len(a) or j < len(b):
            if j >= len(b) or (i < len(a) and a[i].frame <= b[j].frame):
                merged.append(a[i])
                i += 1
            else:
                merged.append(b[j])
                j += 1
        self.chunks = merged


class Tracker:
    """Connections as a stream: segments in, each connection out once it has closed (both FINs,
    or a RST), so only open connections are held. ``track`` is the whole-capture form."""

    def __init__(self) -> None:
        self.live: dict[tuple, TCPConnection] = {}
        self.open: dict[int, TCPConnection] = {}   # first frame -> connection
        # Closed connections leave only their initiator's ISN: what still arrives for them (the
        # last ACKs, data in flight after a RST, a retransmitted SYN) is theirs and dropped, and a
        # SYN with a new ISN starts a new connection (port reuse).
        # The most recent TOMBSTONES of them: a late segment comes within moments of the close,
        # and a capture of a million connections must not keep a million keys.
        self.tombstones: dict[tuple, int | None] = {}
        self._starts: list[int] = []   # first frames of open connections, a heap

    def feed(self, seg: Segment) -> list[TCPConnection]:
        """Add one segment; return the connections it closed (finished, ready to read)."""
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        key = (a, b) if a <= b else (b, a)
        conn = self.live.get(key)
        is_syn = bool(seg.flags & SYN) and not seg.flags & ACK
        if conn is None and key in self.tombstones:
            if not is_syn or self.tombstones[key] == (seg.seq + 1) % MOD:
                return []
            del self.tombstones[key]
        closed: list[TCPConnection] = []
        if conn is not None and is_syn and (conn.chunks or conn.closed or conn.reset) \
                and conn.dirs[0].isn != (seg.seq + 1) % MOD:
            closed.append(self._close(key))   # port reuse: a new SYN (new ISN), as in Wireshark
            conn = None
        if conn is None:
            client, server = (a, b) if is_syn or not seg.flags & SYN else (b, a)
            conn = TCPConnection(client, server, seg.frame, saw_syn=is_syn)
            self.live[key] = conn
            self.open[conn.first_frame] = conn
            heapq.heappush(self._starts, conn.first_frame)
        direction = 0 if a == conn.client else 1
        conn.add(seg, direction)
        if conn.dirs[0].fin and conn.dirs[1].fin:
            conn.closed = True
        if conn.closed or conn.reset:
            closed.append(self._close(key))
        return closed

    def _close(self, key: tuple) -> TCPConnection:
        conn = self.live.pop(key)
        self.open.pop(conn.first_frame, None)
        self.tombstones[key] = conn.dirs[0].isn
        if len(self.tombstones) > TOMBSTONES:
            del self.tombstones[next(iter(self.tombstones))]   # the oldest (dicts keep insertion order)
        conn.finish()
        return conn

    def oldest_open(self) -> int | None:
        """The first frame of the oldest connection still open (output waits for it)."""
        starts = self._starts
        while starts and starts[0] not in self.open:   # closed since: dropped lazily
            heapq.heappop(starts)
        return starts[0] if starts else None

    def close_all(self) -> list[TCPConnection]:
        return [self._close(k) for k in list(self.live)]


def track(segments: Iterable[Segment]) -> list[TCPConnection]:
    """Group segments into connections and reassemble both directions (in order of first frame)."""
    tracker = Tracker()
    done: list[TCPConnection] = []
    for seg in segments:
        done += tracker.feed(seg)
    done += tracker.close_all()
    return sorted(done, key=lambda c: c.first_frame)
