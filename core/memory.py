"""Free heap handed back to the system after a rare, large passing peak (glibc's malloc_trim).

glibc keeps what a process frees for its next allocations, in the arena of the thread that
freed it, and gives back only the top of a heap. Measured with `bench/rss.py`
(docs/performance.md, "Memory (issue 23)"): llama.cpp's grammar sampler, while the local
model writes a tool call, allocates and frees about 87 MiB (a decoded copy of the 151k-token
vocabulary at each step), which the process then kept for good, once in each arena whose
thread had run such a pass: 20 arenas held 377 MiB after six rounds of every capability.

Elsewhere than on glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


@cache
def glibc() -> Any | None:
    """glibc, when this process runs on it (it has `malloc_trim`)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def hand_back() -> None:
    """Return the heap's free pages to the system, in every arena. Only after a rare, large
    passing peak: memory handed back is paid for again in page faults when it is next needed,
    and Whisper's uploads were measured to depend on how its calls reuse the heap
    (docs/performance.md, `M_TOP_PAD`)."""
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)
