"""Field helpers shared by the TLS layers.

TLS vectors carry 1-, 2- or 3-byte length prefixes. Every length field defaults to ``None``
(computed at build time) and keeps whatever value it was given or dissected, so a wrong length
can be forged and a dissected wrong length round-trips byte for byte.
"""
from __future__ import annotations

import struct
from typing import Any

from scapy.fields import Field, FieldLenField, FieldListField, MaximumItemsCount, PacketListField, StrLenField
from scapy.config import conf
from scapy.error import Scapy_Exception
from scapy.packet import Packet


class LenField3(FieldLenField):
    """A 24-bit length prefix (``uint24``, RFC 8446 section 3.4), scapy has no such FieldLenField."""

    def __init__(self, name: str, default: Any, length_of: str | None = None,
                 count_of: str | None = None) -> None:
        super().__init__(name, default, length_of=length_of, count_of=count_of, fmt="!I")
        self.sz = 3

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        return s + struct.pack("!I", self.i2m(pkt, val) & 0xFFFFFF)[1:]

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, int]:
        if len(s) < 3:
            raise struct.error("truncated uint24")
        return s[3:], self.m2i(pkt, int.from_bytes(s[:3], "big"))


class OptionalLenField(FieldLenField):
    """The length of a trailing optional vector (extensions after a hello's compression
    methods, RFC 5246 section 7.4.1.2): absent on the wire when nothing follows.

    ``None`` with an empty list builds nothing; set it to 0 to emit an explicit empty vector.
    """

    def addfield(self, pkt: Packet, s: bytes, val: Any) -> bytes:
        if val is None and not getattr(pkt, self.length_of):
            return s
        return super().addfield(pkt, s, val)

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if not s:
            return s, None
        return super().getfield(pkt, s)


def _length(name: str, length_fmt: str) -> FieldLenField:
    """The ``<name>_len`` prefix of vector ``name``: struct format "B"/"!H", or "3" for uint24."""
    if length_fmt == "3":
        return LenField3(f"{name}_len", None, length_of=name)
    return FieldLenField(f"{name}_len", None, length_of=name, fmt=length_fmt)


def _length_from(name: str):
    lname = f"{name}_len"
    return lambda pkt: getattr(pkt, lname)


def vector(name: str, length_fmt: str, default: bytes = b"") -> list:
    """An opaque vector ``opaque name<..2^N-1>`` as a (length, bytes) field pair."""
    return [_length(name, length_fmt), StrLenField(name, default, length_from=_length_from(name))]


# The most items a vector can hold: its length prefix's maximum (scapy stops lists at 100 items
# by default, which real CipherSuite and CA name lists exceed).
_MAX_ITEMS = {"B": 0xFF, "!H": 0xFFFF, "3": 0xFFFFFF, "!I": 0xFFFFFFFF}


def vector_of(name: str, item: Field, length_fmt: str = "!H", default: list | None = None) -> list:
    """A vector of fixed-size items (``NamedGroup named_group_list<2..2^16-1>``)."""
    return [_length(name, length_fmt),
            FieldListField(name, list(default or []), item, length_from=_length_from(name),
                           max_count=_MAX_ITEMS[length_fmt])]


class ElementListField(PacketListField):
    """A vector of structures, each element dissected from exactly its own bytes.

    scapy's PacketListField dissects each element from the rest of the list and takes back what
    the element leaves over as a Padding layer: one extra packet per element, and the whole
    tail copied each time (quadratic in a long CA name list). An element class that declares
    ``size_prefix = (offset, width, trailing)`` (its size is ``offset + width + trailing`` plus
    the big-endian length at ``offset``) is handed just its slice. An element that does not fit
    what is left, and classes without the declaration, take scapy's path unchanged: the same
    elements, the same Raw tail for a broken list.
    """

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, list]:
        shape = getattr(self.cls, "size_prefix", None)
        if shape is None and issubclass(self.cls, LengthDelimitedHeader):
            shape = (self.cls.length_offset, self.cls.length_size, 0)
        if shape is None or self.length_from is None:
            return super().getfield(pkt, s)
        n = self.length_from(pkt)
        remain, ret = s[:n], s[n:]
        off, width, trailing = shape
        head = off + width
        items: list = []
        while remain:
            end = head + trailing + int.from_bytes(remain[off:head], "big") if len(remain) >= head else 0
            if not 0 < end < len(remain):
                _, tail = super().getfield(pkt, remain)   # the last element, or a broken one: scapy's way
                items += tail
                break
            try:
                items.append(self.cls(remain[:end], _parent=pkt))
            except Exception:
                if conf.debug_dissector:
                    raise
                items.append(conf.raw_layer(load=remain))
                break
            remain = remain[end:]
            if len(items) > (self.max_count or conf.max_list_count):
                raise MaximumItemsCount(f"more than {self.max_count} items in {self.name}")
        return ret, items


def packets_of(name: str, cls: type[Packet], length_fmt: str = "!H") -> list:
    """A vector of structures (``KeyShareEntry client_shares<0..2^16-1>``)."""
    return [_length(name, length_fmt), ElementListField(name, [], cls, length_from=_length_from(name),
                                                        max_count=_MAX_ITEMS[length_fmt])]


class MalformedLayer(ValueError):
    """Bytes that end or break inside a field: the one error dissecting a layer raises."""


class Layer(Packet):
    """Base of every certlab layer: dissection that runs out of bytes, or meets a value a field
    cannot hold, raises MalformedLayer (not struct.error or IndexError)."""

    def do_dissect(self, s: bytes) -> bytes:
        try:
            return super().do_dissect(s)
        except MalformedLayer:
            raise
        except (struct.error, IndexError, TypeError, OverflowError, UnicodeDecodeError, ValueError,
                Scapy_Exception) as exc:
            raise MalformedLayer(f"{self.name}: malformed or truncated ({exc})") from None


    def __init__(self, *args: Any, **fields: Any) -> None:
        try:
            super().__init__(*args, **fields)
        except (KeyError, ValueError, TypeError) as exc:
            for f in type(self).fields_desc:
                if f.name in fields:
                    try:
                        f.any2i(self, fields[f.name])
                    except (KeyError, ValueError, TypeError):
                        raise TypeError(f"{type(self).__name__}({f.name}={fields[f.name]!r}): not a value a "
                                        f"{type(f).__name__} takes ({type(exc).__name__}: {exc})") from None
            raise

    def self_build(self) -> bytes:
        """Build; a value a field cannot hold is a TypeError naming the layer, the field and the
        value (not scapy's bare struct.error or KeyError)."""
        try:
            return super().self_build()
        except (struct.error, KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            for f in self.fields_desc:
                value = self.getfieldval(f.name)
                try:
                    f.addfield(self, b"", value)
                except (struct.error, KeyError, TypeError, ValueError, OverflowError, AttributeError):
                    raise TypeError(f"{self.name}.{f.name}: cannot encode {value!r} as a {type(f).__name__} "
                                    f"(default {f.default!r})") from None
            raise TypeError(f"{self.name}: cannot build ({type(exc).__name__}: {exc})") from None


class TLSPacket(Layer):
    """Base for TLS structures: nothing below the structure's own fields belongs to it.

    Used for list elements; whatever follows an element is the next element.
    """

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class Body(Layer):
    """Base for a message or extension body: trailing bytes stay in the body (as Raw), so
    a body with extra data still round-trips byte for byte."""


class LengthDelimitedHeader(Layer):
    """A header whose last field gives the byte length of its body (the payload).

    Subclasses name that field in ``length_field`` and its width in bytes in ``length_size``;
    ``length_offset`` is where it starts. The body is exactly that many bytes; what follows
    is the next element of the enclosing list.
    """

    length_field = "len"
    length_offset = 2
    length_size = 2

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if getattr(self, self.length_field) is None:
            off, size = self.length_offset, self.length_size
            pkt = pkt[:off] + len(pay).to_bytes(size, "big") + pkt[off + size:]
        return pkt + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        n = getattr(self, self.length_field) or 0
        return s[:n], s[n:]
