"""Check once, in a child process, that llama.cpp loads and decodes the model as planned, so a
native crash is one line naming the model and the setting to change instead of a server that
dies with a bare "Segmentation fault".

The check costs one model load and a two-token answer in a child (about 1-2 s for the bundled
0.5B model) the first time a model, library, CPU and extra-buffer choice meet; a success is
remembered in MODEL_CACHE_DIR, so later starts skip it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import ExtraBuffers
from core.errors import ModelMissingError
from core.llm.llama_runtime import (
    CPUINFO,
    ExtraBufferPlan,
    LlamaRuntime,
    library_build,
    library_files,
    missing_features,
    plan_extra_buffers,
    read_cpu_flags,
)

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # where `python -m core...` finds this package
CACHE_FILE = "llama-self-test.json"
# Long enough to go through the batched matrix kernels (where the AMX crash was), then decode.
PROMPT = "The quick brown fox jumps over the lazy dog. " * 8
TIMEOUT_S = 180.0  # a 1.5B model loads in seconds; a hang is reported, not waited for forever

Command = Callable[[Path, bool], list[str]]


@dataclass(frozen=True)
class ChildResult:
    """How the child ended: `ok`, killed by a signal (`crashed`, "SIGSEGV"), or otherwise."""

    ok: bool
    detail: str
    crashed: bool = False


def child_command(model_path: Path, extra_buffers: bool) -> list[str]:
    """This module run as a program on the model, with the extra-buffer choice to try."""
    return [
        sys.executable,
        "-m",
        "core.llm.llama_selftest",
        str(model_path),
        "on" if extra_buffers else "off",
    ]


def run_child(command: list[str], *, timeout_s: float = TIMEOUT_S) -> ChildResult:
    """Run the check; a negative return code is the signal that killed it."""
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout_s, check=False, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return ChildResult(False, f"did not finish in {timeout_s:.0f} s")
    if done.returncode == 0:
        return ChildResult(True, "ok")
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
    logger.warning("llama.cpp self-test output: %s", " / ".join(tail) or "(none)")
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return ChildResult(False, f"crashed ({name})", crashed=True)
    return ChildResult(False, f"failed (exit status {done.returncode})")


def cache_key(model_path: Path, extra_buffers: bool, cpu_flags: frozenset[str]) -> str:
    """What the check's verdict depends on: the model file, the native libraries, the CPU
    and the choice (file identity by size and modification time; a rebuild changes both)."""

    def identity(path: Path) -> list[object]:
        stat = path.stat()
        return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]

    facts = {
        "model": identity(model_path),
        "libraries": [identity(path) for path in library_files()],
        "extra_buffers": extra_buffers,
        "cpu": sorted(cpu_flags),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _passed(cache: Path) -> set[str]:
    try:
        return set(json.loads(cache.read_text())["passed"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _remember(cache: Path, key: str) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        passed = sorted(_passed(cache) | {key})
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"passed": passed}))
        tmp.replace(cache)
    except OSError:  # a read-only cache only costs the check again next start
        logger.warning("Could not record the llama.cpp self-test in %s", cache, exc_info=True)


def checked_plan(
    model_path: Path,
    plan: ExtraBufferPlan,
    *,
    setting: ExtraBuffers,
    cpu_flags: frozenset[str],
    cache_dir: Path,
    command: Command = child_command,
    timeout_s: float = TIMEOUT_S,
) -> ExtraBufferPlan:
    """The plan, once a child has loaded the model with it and answered. In `auto`, a crash
    with extra buffers is retried without them; any other crash stops the start with one line.
    A child that fails without crashing (not a GGUF file, say) leaves the verdict to the load
    in this process, whose error says what is wrong with the file."""
    cache = cache_dir / CACHE_FILE
    key = cache_key(model_path, plan.use, cpu_flags)
    if key in _passed(cache):
        return plan
    result = run_child(command(model_path, plan.use), timeout_s=timeout_s)
    if result.ok:
        _remember(cache, key)
        return plan
    if not result.crashed:  # a file llama.cpp refuses, or a hang: the load here says what
        logger.warning("The llama.cpp self-test of %s %s", model_path, result.detail)
        return plan
    if plan.use and setting is ExtraBuffers.AUTO:
        logger.warning(
            "llama.cpp %s on %s with extra buffers; trying without them", result.detail, model_path
        )
        fallback = ExtraBufferPlan(
            False, f"auto: llama.cpp {result.detail} with extra buffers in the start-up self-test"
        )
        return checked_plan(
            model_path,
            fallback,
            setting=ExtraBuffers.OFF,
            cpu_flags=cpu_flags,
            cache_dir=cache_dir,
            command=command,
            timeout_s=timeout_s,
        )
    state = "on" if plan.use else "off"
    advice = (
        "set LLAMA_EXTRA_BUFFERS=off"
        if plan.use
        else "rebuild llama.cpp for this machine (delete .venv, then ./run.sh) or set "
        "LOCAL_LLM_PATH to another GGUF model"
    )
    raise ModelMissingError(
        f"llama.cpp {result.detail} loading {model_path} "
        f"with LLAMA_EXTRA_BUFFERS={state}: {advice}."
    )


def prepare(
    model_path: Path,
    *,
    setting: ExtraBuffers,
    cache_dir: Path,
    cpuinfo: Path = CPUINFO,
    command: Command = child_command,
) -> LlamaRuntime:
    """Everything decided before the model loads in this process: a library this CPU cannot
    run is refused, the extra buffers are planned, and the plan is checked in a child."""
    version, build = library_build()
    cpu_flags = read_cpu_flags(cpuinfo)
    missing = missing_features(build, cpu_flags)
    if missing:
        raise ModelMissingError(
            f"The installed llama.cpp was built for {', '.join(missing)}, which this CPU lacks "
            "(a .venv or wheel built on another machine?): delete .venv and run ./run.sh to "
            "build it for any x86-64 CPU."
        )
    plan = plan_extra_buffers(setting, build=build, cpu_flags=cpu_flags)
    plan = checked_plan(
        model_path, plan, setting=setting, cpu_flags=cpu_flags, cache_dir=cache_dir, command=command
    )
    runtime = LlamaRuntime(version=version, build=build, extra_buffers=plan)
    logger.info("llama.cpp: %s", runtime.describe())
    return runtime


def main(argv: list[str]) -> int:
    """The child: load the model with the given choice and answer one token."""
    from core.llm.llama_cpp import load_llama

    model_path, choice = Path(argv[0]), argv[1] == "on"
    model = load_llama(model_path, context_tokens=512, threads=2, extra_buffers=choice)
    model.create_completion(PROMPT, max_tokens=2, temperature=0.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
