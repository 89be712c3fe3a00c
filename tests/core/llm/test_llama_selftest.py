"""The start-up self-test of llama.cpp in a child process: real children that answer with the
bundled model, and children that really die of SIGSEGV (the crash one cannot cause on demand
in llama.cpp itself on a CPU without AMX)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.assets import QWEN_05B, ensure_model
from core.config import ExtraBuffers
from core.errors import ModelMissingError
from core.llm.llama_runtime import ExtraBufferPlan, read_cpu_flags
from core.llm.llama_selftest import CACHE_FILE, checked_plan, child_command, prepare
from tests.conftest import make_settings

SEGFAULT = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
EXIT_1 = [sys.executable, "-c", "raise SystemExit(1)"]
USE = ExtraBufferPlan(True, "auto: weights repacked for this CPU's vector units")
CPU = read_cpu_flags()


@pytest.fixture(scope="module")
def model() -> Path:
    settings = make_settings(Path("unused"))
    return ensure_model(QWEN_05B, settings.model_cache_dir) / QWEN_05B.target


def check(
    model: Path,
    cache: Path,
    plan: ExtraBufferPlan = USE,
    setting: ExtraBuffers = ExtraBuffers.AUTO,
    command: Callable[[Path, bool], list[str]] = child_command,
    cpu: frozenset[str] = CPU,
) -> ExtraBufferPlan:
    return checked_plan(
        model, plan, setting=setting, cpu_flags=cpu, cache_dir=cache, command=command
    )


def crashes_with_extra_buffers(path: Path, extra_buffers: bool) -> list[str]:
    """A library whose extra buffers crash (like the AMX one), and that works without them."""
    return SEGFAULT if extra_buffers else child_command(path, extra_buffers)


def test_a_crash_with_extra_buffers_falls_back_to_none_in_auto(tmp_path: Path, model: Path) -> None:
    plan = check(model, tmp_path, command=crashes_with_extra_buffers)

    assert plan.use is False
    assert plan.reason == (
        "auto: llama.cpp crashed (SIGSEGV) with extra buffers in the start-up self-test"
    )
    # Only what passed is remembered: the next start checks the extra buffers again.
    assert len(json.loads((tmp_path / CACHE_FILE).read_text())["passed"]) == 1


def test_a_crash_when_extra_buffers_are_asked_for_names_the_model_and_the_setting(
    tmp_path: Path, model: Path
) -> None:
    with pytest.raises(ModelMissingError) as error:
        check(
            model,
            tmp_path,
            ExtraBufferPlan(True, "LLAMA_EXTRA_BUFFERS=on"),
            ExtraBuffers.ON,
            crashes_with_extra_buffers,
        )

    assert str(error.value) == (
        f"llama.cpp crashed (SIGSEGV) loading {model} with LLAMA_EXTRA_BUFFERS=on: "
        "set LLAMA_EXTRA_BUFFERS=off."
    )
    assert not (tmp_path / CACHE_FILE).exists()


def test_a_crash_without_extra_buffers_stops_the_start_in_one_line(
    tmp_path: Path, model: Path
) -> None:
    with pytest.raises(ModelMissingError) as error:
        check(model, tmp_path, command=lambda path, extra: SEGFAULT)

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"llama.cpp crashed (SIGSEGV) loading {model}")
    assert "LLAMA_EXTRA_BUFFERS=off" in message and "LOCAL_LLM_PATH" in message


def test_a_passed_check_is_not_run_again(tmp_path: Path, model: Path) -> None:
    # Whatever this CPU passes: extra buffers, or (where llama.cpp's AMX repacking crashes,
    # as it can) none.
    first = check(model, tmp_path)
    # The same model, library, CPU and choice: the verdict is remembered, nothing is run.
    again = check(model, tmp_path, first, command=lambda path, extra: SEGFAULT)
    # Another CPU is another verdict.
    with pytest.raises(ModelMissingError):
        check(
            model,
            tmp_path,
            setting=ExtraBuffers.ON,
            command=lambda path, extra: SEGFAULT,
            cpu=CPU | {"amx_tile"},
        )

    assert first == again
    assert first == USE or first.reason.startswith("auto: llama.cpp crashed")


def test_a_child_that_fails_without_crashing_leaves_the_verdict_to_the_real_load(
    tmp_path: Path, model: Path
) -> None:
    plan = check(model, tmp_path, command=lambda path, extra: EXIT_1)

    assert plan == USE
    assert not (tmp_path / CACHE_FILE).exists()


def test_prepare_describes_the_library_in_use(tmp_path: Path, model: Path) -> None:
    runtime = prepare(model, setting=ExtraBuffers.OFF, cache_dir=tmp_path)

    described = runtime.describe()
    assert described["version"] == "0.3.36"
    assert described["backend"] == "CPU"
    assert "AVX2" in described["features"]
    assert described["extra_buffers"] is False
    assert described["extra_buffers_reason"] == "LLAMA_EXTRA_BUFFERS=off"
