"""Processes as tests see them (Linux /proc and ps): whether one is still running, what runs below one."""

from __future__ import annotations

import os
import subprocess


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


def descendants(pid: int) -> dict[int, str]:
    """Every process below pid, by name (``comm``: an app server's forkserver is ``python``, its engine processes
    and training runs ``backprop-engine`` and ``backprop-train``, named by app.api.procs)."""
    out: dict[int, str] = {}
    todo = [pid]
    while todo:
        listed = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(todo.pop())], capture_output=True,
                                text=True).stdout
        for line in listed.splitlines():
            child, _, name = line.strip().partition(" ")
            out[int(child)] = name.strip()
            todo.append(int(child))
    return out
