"""``certlab dissect`` as a stream: frames read one at a time, each TCP connection decoded when
it closes (only open connections are held, and with ``keep_data`` False no application data is
kept beyond what a reading needs), connections given out in capture order."""
from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator

from lab.capture.packets import SUPPORTED_LINKTYPES, decode_tcp
from lab.capture.pcapfile import CaptureError, CaptureReader
from lab.capture.tcp import TCPConnection, Tracker
from lab.crypto.asym import KeyError_, load_private_key
from lab.crypto.keylog import KeyLog, KeyLogError
from lab.dissect.decoder import ConnectionDecoder
from lab.dissect.detect import first_data, looks_like_tls, orient, upgrade
from lab.dissect.keys import KeySource
from lab.dissect.model import ConnectionInfo


class InputError(Exception):
    """Unusable input: the message is one line that says what to do."""


def load_keys(keylog_path: str | None, server_key_paths: list[str]) -> KeySource:
    """The key log file and server keys given; embedded key logs join as they are read."""
    keys = KeySource()
    if keylog_path:
        try:
            keys.keylog.merge(KeyLog.from_file(keylog_path))
        except KeyLogError as exc:
            raise InputError(f"{exc}; pass the file SSLKEYLOGFILE pointed to") from None
    for path in server_key_paths:
        try:
            with open(path, "rb") as fh:
                keys.server_keys.append(load_private_key(fh.read(), path))
        except OSError as exc:
            raise InputError(f"cannot read server key {path}: {exc.strerror}") from None
        except KeyError_ as exc:
            raise InputError(f"{exc}; pass the server's PEM private key") from None
    return keys


def decode_connection(conn: TCPConnection, keys: KeySource, wanted: set[int],
                      keep_data: bool = True, decrypt_all: bool = True) -> ConnectionInfo | None:
    """The TLS reading of one closed connection, or None when it carries no TLS."""
    forced = conn.client[1] in wanted or conn.server[1] in wanted
    c0, c1 = first_data(conn, 0), first_data(conn, 1)
    skip = [0, 0]
    found = None
    if not (forced or looks_like_tls(c0) or looks_like_tls(c1)):
        found = upgrade(conn)
        if found is None:
            return None
        skip = [found.client_offset, found.server_offset]
    else:
        orient(conn, c0, c1)
    info = ConnectionInfo(conn.client_str, conn.server_str, conn.first_frame,
                          start_time=conn.chunks[0].time if conn.chunks else None, mid_stream=not conn.saw_syn)
    for side, d in zip(("client", "server"), conn.dirs):
        closes = {k: v for k, v in (("FIN", d.fin_frame), ("RST", d.rst_frame)) if v is not None}
        if closes:
            info.tcp_close[side] = closes
    if found is not None:
        info.upgrade = found.protocol
        info.note(f"TLS starts inside {found.protocol} (after {skip[0]} bytes from the client, "
                  f"{skip[1]} from the server)")
    dec = ConnectionDecoder(info, keys, keep_data=keep_data, decrypt_all=decrypt_all)
    for chunk in conn.chunks:
        data = chunk.data
        if skip[chunk.direction]:
            cut = min(skip[chunk.direction], len(data))
            data, skip[chunk.direction] = data[cut:], skip[chunk.direction] - cut
            if not data:
                continue
        dec.feed(chunk.direction, data, chunk.frame)
    dec.finish()
    for direction, d in enumerate(conn.dirs):
        if d.dropped:
            info.note(f"{('client', 'server')[direction]}: {d.dropped} out-of-order bytes were not kept (more than "
                      f"{16} MB waited for a hole in the capture)")
        for off, n in d.gaps:
            info.note(f"{('client', 'server')[direction]}: {n} bytes missing from the capture at "
                      f"stream offset {off}")
    return info


def share_of(seg, n: int) -> int:
    """Which of ``n`` processes reads the connection of ``seg``: a hash of its two endpoints that
    every process computes alike (Python's own string hash differs between processes)."""
    a, b = f"{seg.src}:{seg.sport}", f"{seg.dst}:{seg.dport}"
    return zlib.crc32((a + "|" + b if a <= b else b + "|" + a).encode()) % n


NO_KEY_MATCH = ("the key log matches no connection in this capture: it has no line for any of its client randoms "
                "(was it written for another capture?)")


class DissectStream:
    """Iterate it for the TLS connections, in capture order; afterwards ``frames``, ``format``,
    ``keylog_secrets``, ``embedded_secrets`` and ``warnings`` describe the whole capture."""

    def __init__(self, path: str, keylog_path: str | None = None, server_keys: list[str] | None = None,
                 ports: list[int] | None = None, keep_data: bool = True, share: tuple[int, int] = (0, 1),
                 decrypt_all: bool = True) -> None:
        """``share`` (i, n): only the connections whose addresses hash to i of n, so that n
        processes can split a capture between them (``certlab dissect --jobs``)."""
        self.path, self.wanted, self.keep_data, self.share = path, set(ports or []), keep_data, share
        self.decrypt_all = decrypt_all
        try:
            self.reader = CaptureReader(path)
        except CaptureError as exc:
            raise InputError(str(exc)) from None
        self.format = self.reader.format
        try:
            self.keys = load_keys(keylog_path, server_keys or [])
        except InputError:
            self.reader.close()
            raise
        self.embedded_secrets, self._merged, self.frames, self.count = 0, 0, 0, 0
        self.warnings: list[str] = []
        self.had_random = self.matched = False   # whether any connection had a client random; one the key log knows

    def _merge_embedded(self) -> None:
        """Key logs of Decryption Secrets Blocks met since the last look."""
        secrets = self.reader.secrets
        while self._merged < len(secrets):
            i = self._merged
            try:
                log = KeyLog.parse(secrets[i].decode("ascii", "replace"), f"embedded key log {i + 1}")
            except KeyLogError as exc:
                raise InputError(f"{exc}; re-export the capture with a valid key log") from None
            self.keys.keylog.merge(log)
            self.embedded_secrets += len(log)
            self._merged += 1

    def __iter__(self) -> Iterator[ConnectionInfo]:
        tracker, ready, supported, first_linktype = Tracker(), [], False, None
        try:
            for f in self.reader:
                self.frames += 1
                first_linktype = f.linktype if first_linktype is None else first_linktype
                if f.linktype not in SUPPORTED_LINKTYPES:
                    continue
                supported = True
                seg = decode_tcp(f.number, f.time, f.linktype, f.data)
                if seg is None or (self.share[1] > 1 and share_of(seg, self.share[1]) != self.share[0]):
                    continue
                closed = tracker.feed(seg)
                if closed:
                    yield from self._out(closed, ready, tracker.oldest_open())
            yield from self._out(tracker.close_all(), ready, None)
        except CaptureError as exc:
            raise InputError(str(exc)) from None
        finally:
            self.reader.close()
        if self.frames and not supported:
            raise InputError(f"{self.path}: unsupported link type {first_linktype}; "
                             "capture on an Ethernet, loopback or Linux cooked interface")
        if not self.count and self.share[1] == 1:
            raise InputError(f"{self.path}: no TLS traffic found in {self.frames} frames; "
                             "if TLS runs over a non-standard framing, name its port with --port")
        if self.reader.cut_short:
            self.warnings.append(f"{self.path}: {self.reader.cut_short}")
        rejected = self.keys.keylog.rejected
        self.warnings += [f"{where}: {why}; the line is not used" for where, _, why in rejected[:3]]
        if len(rejected) > 3:
            self.warnings.append(f"and {len(rejected) - 3} more key log lines with fields of the wrong length")
        if len(self.keys.keylog) and self.had_random and not self.matched and self.share[1] == 1:
            self.warnings.append(NO_KEY_MATCH)

    def _out(self, closed: list[TCPConnection], ready: list, oldest_open: int | None) -> Iterator[ConnectionInfo]:
        """Decode what closed; give out, in capture order, every connection that began before the
        oldest one still open (``ready`` is a heap by first frame: a long connection may hold many back)."""
        self._merge_embedded()
        for conn in closed:
            info = decode_connection(conn, self.keys, self.wanted, self.keep_data, self.decrypt_all)
            heapq.heappush(ready, (conn.first_frame, id(conn), info))
        while ready and (oldest_open is None or ready[0][0] <= oldest_open):
            info = heapq.heappop(ready)[2]
            if info is not None:
                self.count += 1
                if info.client_random:
                    self.had_random = True
                    self.matched = self.matched or self.keys.keylog.knows(info.client_random)
                yield info
