"""NSS key log files (SSLKEYLOGFILE format, draft-ietf-tls-keylogfile): read and write."""
from __future__ import annotations

from dataclasses import dataclass, field

LABELS_13 = ("CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
             "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0",
             "EARLY_EXPORTER_SECRET", "EXPORTER_SECRET")
LABELS = ("CLIENT_RANDOM", "RSA", *LABELS_13)
MAX_LINE = 4096   # a key log line is under 300 bytes: a longer one means the file is not a key log
# The lengths each label's fields have (the draft's definitions): a line with others is not used.
SECRET_LENGTHS = {"CLIENT_RANDOM": (48,), "RSA": (48,), **{label: (32, 48) for label in LABELS_13}}


class KeyLogError(ValueError):
    """The key log is not in NSS key log format."""


@dataclass
class KeyLog:
    """Secrets by label, then by client random (or by encrypted-premaster prefix for ``RSA``)."""
    secrets: dict[str, dict[bytes, bytes]] = field(default_factory=dict)
    # Lines not used because a field has the wrong length: (where, client random or b"", why)
    rejected: list[tuple[str, bytes, str]] = field(default_factory=list)

    def add(self, label: str, key: bytes, secret: bytes) -> None:
        self.secrets.setdefault(label, {})[key] = secret

    def get(self, label: str, key: bytes) -> bytes | None:
        return self.secrets.get(label, {}).get(key)

    def master_secret(self, client_random: bytes) -> bytes | None:
        return self.get("CLIENT_RANDOM", client_random)

    def premaster_for(self, encrypted_pre_master: bytes) -> bytes | None:
        return self.get("RSA", encrypted_pre_master[:8])

    def __len__(self) -> int:
        return sum(len(v) for v in self.secrets.values())

    def merge(self, other: "KeyLog") -> "KeyLog":
        for label, entries in other.secrets.items():
            for k, v in entries.items():
                self.add(label, k, v)
        self.rejected += other.rejected
        return self

    def rejected_for(self, client_random: bytes) -> list[str]:
        """Why lines for this client random were not used ("key.log line 3: ...")."""
        return [f"{where}: {why}" for where, key, why in self.rejected if key == client_random]

    def knows(self, client_random: bytes) -> bool:
        """Whether any line is for this client random."""
        return any(client_random in entries for label, entries in self.secrets.items() if label != "RSA")

    def lines_for(self, client_random: bytes) -> list[str]:
        return [f"{label} {client_random.hex()} {secret.hex()}"
                for label, entries in self.secrets.items() if label != "RSA"
                for key, secret in entries.items() if key == client_random]

    def to_text(self) -> str:
        return "".join(f"{label} {key.hex()} {secret.hex()}\n"
                       for label, entries in self.secrets.items() for key, secret in entries.items())

    def _take(self, line: str, source: str, n: int) -> None:
        """One line: added, skipped (blank, comment, a label Wireshark ignores too), or refused."""
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            return
        if len(parts) != 3:
            raise KeyLogError(f"{source} line {n}: expected 'LABEL <hex> <hex>', got {line.strip()[:60]!r}")
        label, key, secret = parts
        try:
            kb, sb = bytes.fromhex(key), bytes.fromhex(secret)
        except ValueError:
            raise KeyLogError(f"{source} line {n}: not hexadecimal: {line.strip()[:60]!r}") from None
        if label not in LABELS:   # unknown labels (e.g. QUIC's) are skipped, as Wireshark does
            return
        why = _wrong_length(label, kb, sb)
        if why:
            self.rejected.append((f"{source} line {n}", b"" if label == "RSA" else kb, f"{label} {why}"))
        else:
            self.add(label, kb, sb)

    @classmethod
    def parse(cls, text: str, source: str = "key log", first_line: int = 1) -> "KeyLog":
        log = cls()
        for n, line in enumerate(text.splitlines(), first_line):
            log._take(line, source, n)
        return log

    @classmethod
    def from_file(cls, path: str) -> "KeyLog":
        """Read line by line with a bounded line length, so a file that is not a key log (a device
        that never ends, a binary) is refused at its first bad line, not after reading it all."""
        log = cls()
        try:
            with open(path, "rb") as fh:
                for n, raw in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), 1):
                    if len(raw) > MAX_LINE:
                        raise KeyLogError(f"{path} line {n} is longer than {MAX_LINE} bytes: not a key log "
                                          "(SSLKEYLOGFILE format)")
                    try:
                        line = raw.decode("ascii")
                    except UnicodeDecodeError:
                        raise KeyLogError(f"{path} is not a text key log (SSLKEYLOGFILE format)") from None
                    log._take(line, path, n)
        except OSError as exc:
            raise KeyLogError(f"cannot read key log {path}: {exc.strerror}") from None
        return log


def _wrong_length(label: str, key: bytes, secret: bytes) -> str | None:
    """What is wrong with a line's field lengths (a line cut short, a field from elsewhere), or None."""
    if label == "RSA" and len(key) != 8:
        return f"has {len(key)} bytes of encrypted premaster where the first 8 belong"
    if label != "RSA" and len(key) != 32:
        return f"has a client random of {len(key)} bytes, not 32"
    allowed = SECRET_LENGTHS[label]
    if len(secret) not in allowed:
        return f"has a secret of {len(secret)} bytes, not {' or '.join(map(str, allowed))}"
    return None
