"""The server's resident memory, peak and current, as each capability is used for the first
time (transcription, an answer, a tool call, speech, a live conversation) and then again, with
where it goes: the model files mapped in, glibc's malloc arenas, the rest of the heap.

`--env KEY=VALUE` configures the server (`LLM_STATE_CACHE_MB=0`, `MALLOC_ARENA_MAX=2`...), so
one run per configuration says what a setting is worth; `--rounds` uses everything again.
Tools are offered to the local model (`LOCAL_LLM_TOOLS=true`) unless `--env` says otherwise:
without them a tool turn would not run the grammar pass that a tool call costs.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Check,
    Result,
    Server,
    proc_status_mb,
    running_server,
    speech_bytes,
    write_result,
    ws_url,
)
from bench.noise import report_machine_load

NAME = "rss"
TARGET_PEAK_MB = 2000.0  # issue 23: every capability used once, on the default models
SPEECH = "What is the capital city of France and why is it famous?"
TOOL_QUESTION = "What is 45 times 12?"
LIVE = "What is the opposite of cold?"
ARENA = 64 * 2**20  # glibc's heaps for threads other than the main one: 64 MiB, aligned
_MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


def child_pids(pid: int) -> list[str]:
    """Processes the server started (their memory is not in its RSS), if the kernel says."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def _group(start: int, path: str) -> str:
    """What a mapping holds, as far as its address and file tell."""
    if path.endswith(".gguf"):
        return "llama.cpp weights (gguf, mapped)"
    if path.endswith(".onnx"):
        return "onnx models (mapped)"
    if ".so" in Path(path).name:
        return "shared libraries"
    if path == "[heap]":
        return "main heap (brk)"
    if path.startswith("/"):
        return "other files"
    if path.startswith("[stack"):
        return "stacks"
    # Every anonymous mapping glibc makes for a thread arena starts on a 64 MiB boundary.
    return "malloc arenas (64 MiB heaps)" if start % ARENA == 0 else "other anonymous (mmap)"


def memory_map(pid: int) -> dict[str, float]:
    """Resident MiB of the process by what its mappings hold (from /proc/<pid>/smaps), and
    the number of malloc arenas found."""
    rss: Counter[str] = Counter()
    arenas = 0
    group = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        mapping = _MAPPING.match(line)
        if mapping:
            start, path = int(mapping.group(1), 16), mapping.group(3).strip()
            group = _group(start, path)
            arenas += group.startswith("malloc arenas")
        elif line.startswith("Rss:"):
            rss[group] += int(line.split()[1])
    figures = {name: round(kb / 1024, 1) for name, kb in rss.most_common()}
    figures["arenas"] = arenas
    return figures


def _tool_turn(client: httpx.Client) -> str:
    res = client.post("/response", json={"text": TOOL_QUESTION})
    res.raise_for_status()
    body = res.json()
    names = [call["name"] for call in body.get("tool_calls", [])]
    return f"tools {names or 'none'}: {body['response']!r}"


def _speech(client: httpx.Client) -> str:
    heard = []
    for text, language in (("The weather is lovely today.", "en"), ("Bonjour à tous.", "fr")):
        res = client.post("/speak", json={"text": text, "language": language})
        res.raise_for_status()
        heard.append(f"{res.headers['x-tts-provider']} {len(res.content)} bytes")
    return ", ".join(heard)


def _live(server: Server) -> str:
    from bench.ws_client import make_utterances, talk

    url = ws_url(server, "/ws/conversation", token=server.token, sample_rate=16000)
    (measure,) = asyncio.run(talk(url, make_utterances([LIVE])))
    return f"live turn heard {measure.heard!r}"


def capabilities(server: Server, client: httpx.Client) -> list[tuple[str, Callable[[], str]]]:
    """Each capability as a step that uses it once and says what came back."""
    _, wav = speech_bytes(SPEECH)
    session: dict[str, str] = {}

    def transcription() -> str:
        res = client.post("/upload", files={"file": ("speech.wav", wav, "audio/wav")})
        res.raise_for_status()
        session["id"] = res.json()["session_id"]
        return f"heard {res.json()['transcription']!r}"

    def answer() -> str:
        # No text: the agent answers the transcription waiting in the upload's session.
        res = client.post("/response", json={"text": "", "session_id": session["id"]})
        res.raise_for_status()
        return f"answered {res.json()['response']!r}"

    return [
        ("transcription", transcription),
        ("answer", answer),
        ("tool", lambda: _tool_turn(client)),
        ("speech", lambda: _speech(client)),
        ("live", lambda: _live(server)),
    ]


def _print_stage(name: str, status: dict[str, float], groups: dict[str, float]) -> None:
    parts = ", ".join(f"{k} {v:.0f}" for k, v in groups.items() if k != "arenas")
    print(f"{name:<22} peak {status['VmHWM']:7.1f}  now {status['VmRSS']:7.1f} MiB")
    print(f"{'':<22} {parts}; {groups['arenas']:.0f} arenas")


def run(env: dict[str, str], rounds: int = 2) -> Result:
    load = report_machine_load()
    stages: list[dict[str, Any]] = []
    with running_server(env={"LOCAL_LLM_TOOLS": "true", **env}) as server:
        with server.client() as client:
            steps = capabilities(server, client)

            def measure(name: str, said: str = "") -> None:
                status, groups = proc_status_mb(server.pid), memory_map(server.pid)
                stages.append({"stage": name, "said": said, **status, "map": groups})
                _print_stage(name, status, groups)
                if said:
                    print(f"{'':<22} {said}")

            measure("after start")
            for round_ in range(1, max(rounds, 1) + 1):
                for name, step in steps:
                    measure(f"{name} #{round_}", step())
        children = child_pids(server.pid)
    if children:
        print(f"note: the server has child processes {children}, not counted here")
    # VmHWM never falls: the peak once every capability has been used is the first round's
    # last; later rounds add what the state cache keeps (up to LLM_STATE_CACHE_MB).
    first_round = stages[len(steps)]["VmHWM"]
    result = Result(NAME)
    result.checks.append(
        Check("server peak RSS, every capability used once", first_round, TARGET_PEAK_MB, "MiB")
    )
    result.figures = {
        **load,
        "env": env,
        "peak_mb": stages[-1]["VmHWM"],
        "stages": stages,
        "child_processes": children,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    write_result(run(env, args.rounds))


if __name__ == "__main__":
    main()
