"""What every program certlab starts has in common: it does not outlive certlab."""
from __future__ import annotations

import os
import signal


def _prctl():
    """libc's prctl, looked up once in the parent: the child between fork and exec only calls it."""
    import ctypes
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):   # not Linux: nothing to set
        return None


_PRCTL = _prctl()
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for every program certlab starts: the kernel kills it with SIGKILL when the
    thread that started it ends, so a certlab killed with ``kill -9`` leaves no peer listening
    (PR_SET_PDEATHSIG; the stdlib has no wrapper for it). A parent already gone by then: exit."""
    parent = os.getppid()
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
