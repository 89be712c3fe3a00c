"""core/memory.py on this machine's glibc: free heap handed back, in a fresh process and after
the local model writes a tool call under llama.cpp's grammar."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core import memory
from core.llm import ChatMessage
from core.providers import Providers
from core.tools import ToolCall
from core.tools.builtin import builtin_tools, toolset_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(memory.glibc() is None, reason="glibc's malloc only")

# A thread fills its arena with 200 MiB of 64 KiB blocks (under the mmap threshold, so from
# the arena's heap) and frees all but every 16th, which keeps the heap from shrinking.
_HELD = """
import ctypes, threading
from core import memory
from core.llm import ChatMessage
from core.providers import Providers
from core.tools import ToolCall
from core.tools.builtin import builtin_tools, toolset_for
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024

def work():
    blocks = [libc.malloc(64 * 1024) for _ in range(3200)]
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)
    for i, block in enumerate(blocks):
        if i % 16:
            libc.free(block)

thread = threading.Thread(target=work)
thread.start()
thread.join()
before = rss_mib()
memory.hand_back()
print(before, rss_mib())
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_free_heap_is_handed_back() -> None:
    before, after = map(int, _run(_HELD).stdout.split())
    assert before - after >= 150, (before, after)  # of the 188 MiB freed


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_tool_call_written_under_the_grammar_leaves_no_heap_behind(
    local_providers: Providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grammar sampler decodes the whole vocabulary at each step: about 87 MiB that the
    process kept after every call it wrote, once per thread's arena, until handed back."""
    llm = local_providers.llm
    monkeypatch.setattr(llm, "calls_tools", True)
    monkeypatch.setattr(llm, "tool_threshold", 1e-9)  # every first step leans to a call
    specs = toolset_for(builtin_tools(), channel="api", transfer_number=None, keypad=False).specs()
    messages = [
        ChatMessage("system", "You are a voice assistant with tools."),
        ChatMessage("user", "What is 45 times 12?"),
    ]
    list(llm.stream(messages, max_tokens=48, tools=specs))  # the model's own buffers, touched
    memory.hand_back()
    before = _rss_mib()
    out = list(llm.stream(messages, max_tokens=48, tools=specs))
    assert any(isinstance(part, ToolCall) for part in out), out
    assert _rss_mib() - before < 20, (before, _rss_mib())
