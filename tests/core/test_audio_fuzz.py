"""Property-based fuzzing of the decode path: whatever the bytes, the result is audio or one of
the core's own audio errors (which the API answers with a 4xx), never anything else, never a hang.

Examples are derandomized (a fixed seed derived from the test) and no example database is
kept, so a run in CI throws the same inputs every time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.audio import AudioFormat, DecodedAudio, decode, sniff_format
from core.errors import (
    AgentError,
    AudioTooLongError,
    UndecodableAudioError,
    UnsupportedAudioError,
)
from tests.audio_inputs import FAMILIES, real_files
from tests.helpers import report
from webapp.errors import status_for

SENTENCE = "Turn left at the second traffic light, then park behind the library."
MAX_SECONDS = 60.0  # the long FLAC below is an hour: it must stop at this limit
TIME_LIMIT_S = 5.0  # per input; a slower decode counts as a hang
EXAMPLES = 300  # per family of inputs below
AUDIO_ERRORS = (UnsupportedAudioError, UndecodableAudioError, AudioTooLongError)

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,  # timed below, with a hard limit instead of hypothesis' flaky-deadline check
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

thrown: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def count_inputs(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(thrown.items()))
    report(request.config, f"\ndecode fuzz: {sum(thrown.values())} inputs thrown ({kinds})")


@pytest.fixture(scope="module")
def real(speak) -> dict[str, bytes]:
    """Piper speech in every accepted container, and an hour of silence in 600 KB of FLAC."""
    return real_files(speak(SENTENCE).read_bytes())


@pytest.fixture(scope="module")
def worker() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


def outcome(data: bytes) -> DecodedAudio | Exception:
    """What decoding `data` gives: audio or the exception, whatever it is."""
    try:
        fmt = sniff_format(data)
    except Exception as exc:
        return exc
    try:
        decoded = decode(data, max_seconds=MAX_SECONDS)
    except Exception as exc:
        return exc
    assert decoded.format is fmt
    return decoded


@pytest.mark.parametrize("family", FAMILIES)
@FUZZ
@given(data=st.data())
def test_any_bytes_decode_or_fail_with_an_audio_error(
    real: dict[str, bytes], worker: ThreadPoolExecutor, family: str, data: st.DataObject
) -> None:
    kind, blob = data.draw(FAMILIES[family](real), label="input")
    thrown[family] += 1
    start = time.monotonic()
    result = worker.submit(outcome, blob).result(timeout=TIME_LIMIT_S)  # a hang fails here
    assert time.monotonic() - start < TIME_LIMIT_S
    if isinstance(result, Exception):
        assert isinstance(result, AUDIO_ERRORS), f"{kind}: {type(result).__name__}: {result}"
        assert isinstance(result, AgentError) and 400 <= status_for(result) < 500
        assert str(result)
        return
    assert result.format in AudioFormat
    assert 0 < result.duration <= MAX_SECONDS
    assert np.isfinite(result.samples).all() and float(np.abs(result.samples).max()) <= 1.0


@pytest.mark.parametrize("keep", [1.0, 0.5, 0.05])
def test_a_small_file_that_expands_to_an_hour_stops_at_the_limit(
    real: dict[str, bytes], keep: float
) -> None:
    flac = real["hour-long flac"]
    blob = flac[: int(len(flac) * keep)]  # even cut short it holds minutes of audio
    start = time.monotonic()
    with pytest.raises(AudioTooLongError, match="60 seconds"):
        decode(blob, max_seconds=MAX_SECONDS)
    assert time.monotonic() - start < TIME_LIMIT_S
