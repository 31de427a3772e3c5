"""File helpers shared by the commands and the library: whole files or nothing."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def atomic_writer(path: str, mode: int = 0o644) -> Iterator[IO[str]]:
    """A text file written in pieces that appears whole under ``path`` when the block ends without
    an error, and not at all otherwise."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".certlab-", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, mode & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Write a whole file or nothing (temporary name, then rename); readable by all unless
    ``mode`` says otherwise (the temporary file starts private)."""
    with atomic_writer(path, mode) as fh:
        fh.write(text)
