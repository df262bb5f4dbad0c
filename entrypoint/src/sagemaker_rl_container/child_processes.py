"""Helper processes a job starts (a virtual display, a Redis server) end with it."""

from __future__ import annotations


def end_with_parent() -> None:
    """`preexec_fn` for a helper process: the kernel sends it SIGTERM when the process that
    started it ends, however that ends (a helper outliving its job would hold its port or
    display, and keep a container's other hosts waiting)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
