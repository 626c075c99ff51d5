"""Processes as tests see them (Linux /proc): whether one is still running."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while the process runs: False once it is gone or a zombie (exited, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone (ESRCH when it goes between the open and the read)
        return False
