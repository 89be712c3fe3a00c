"""Property-based fuzzing of the decode path: whatever the bytes, the result is audio or one of
the core's own audio errors (which the API answers with a 4xx), never anything else, never a hang.

Examples are derandomized (a fixed seed derived from the test) and no example database is
kept, so a run in CI throws the same inputs every time.
"""

from __future__ import annotations

import struct
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
from tests.helpers import FORMATS, encode_audio, report, silence_flac
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
    wav = speak(SENTENCE).read_bytes()
    files = {"wav": wav, **{fmt: encode_audio(wav, fmt) for fmt in FORMATS}}
    files["hour-long flac"] = silence_flac(3600)
    return files


@pytest.fixture(scope="module")
def worker() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


U16 = st.integers(0, 2**16 - 1)
U32 = st.integers(0, 2**32 - 1)


@st.composite
def truncated(draw: st.DrawFn, real: dict[str, bytes]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(real)))
    return f"truncated {name}", real[name][: draw(st.integers(0, len(real[name])))]


@st.composite
def mutated(draw: st.DrawFn, real: dict[str, bytes]) -> tuple[str, bytes]:
    """A real file with a few runs of bytes overwritten, mostly in its header."""
    name = draw(st.sampled_from(sorted(real)))
    data = bytearray(real[name])
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, 127) | st.integers(0, len(data) - 1))
        run = draw(st.binary(min_size=1, max_size=16))
        data[pos : pos + len(run)] = run
    return f"mutated {name}", bytes(data)


@st.composite
def lying_wav(draw: st.DrawFn) -> tuple[str, bytes]:
    """A WAV header claiming anything: huge sizes, sample rates, channel counts, codecs."""
    fmt_chunk = struct.pack(
        "<HHIIHH",
        draw(st.sampled_from([1, 3, 6, 7, 0x11, 0x55, 0xFFFE]) | U16),  # codec
        draw(st.sampled_from([0, 1, 2, 255, 2**16 - 1]) | U16),  # channels
        draw(st.sampled_from([0, 1, 8000, 16000, 2**31 - 1, 2**32 - 1]) | U32),  # rate
        draw(U32),  # byte rate
        draw(U16),  # block align
        draw(st.sampled_from([0, 1, 8, 16, 24, 32, 64, 2**16 - 1]) | U16),  # bits
    )
    fmt_size = draw(st.sampled_from([16, 18, 40]) | U32)
    extra = draw(st.binary(max_size=24))
    data_size = draw(st.sampled_from([0, 2**31 - 1, 2**32 - 1]) | U32)
    blob = (
        b"RIFF"
        + struct.pack("<I", draw(st.sampled_from([2**32 - 1]) | U32))
        + b"WAVEfmt "
        + struct.pack("<I", fmt_size)
        + fmt_chunk
        + extra
        + b"data"
        + struct.pack("<I", data_size)
        + draw(st.binary(max_size=2048))
    )
    return "lying wav header", blob


MAGIC = [
    b"RIFF\xff\xff\xff\xffWAVE",
    b"RIFF\x24\x00\x00\x00WAVE",
    b"OggS\x00\x02",
    b"fLaC",
    b"\x1a\x45\xdf\xa3",
    b"\x00\x00\x00\x20ftypM4A ",
    b"FORM\xff\xff\xff\xffAIFF",
    b"FORM\x00\x00\x00\x00AIFC",
]


@st.composite
def magic_then_garbage(draw: st.DrawFn) -> tuple[str, bytes]:
    """Each container's magic bytes (RIFF, Ogg, FLAC, EBML, MP4, AIFF), then noise."""
    magic = draw(st.sampled_from(MAGIC))
    return f"{magic[:4]!r} + garbage", magic + draw(st.binary(max_size=4096))


@st.composite
def id3_then_garbage(draw: st.DrawFn) -> tuple[str, bytes]:
    """An ID3v2 tag header of any version and (sync-safe) size, then noise."""
    header = b"ID3" + bytes(
        [draw(st.integers(2, 4)), 0, draw(st.integers(0, 255))]
        + [draw(st.integers(0, 127)) for _ in range(4)]
    )
    return "ID3 + garbage", header + draw(st.binary(max_size=4096))


@st.composite
def mp3_sync_then_garbage(draw: st.DrawFn) -> tuple[str, bytes]:
    """MPEG frame headers (11 sync bits, any version/layer/bitrate) between runs of noise."""
    blob = b""
    for _ in range(draw(st.integers(1, 6))):
        header = bytes([0xFF, draw(st.integers(0xE0, 0xFF)), draw(st.integers(0, 255))])
        blob += header + draw(st.binary(max_size=700))
    return "mp3 sync + garbage", blob


FAMILIES = {
    "zero bytes": lambda real: st.just(("zero bytes", b"")),
    "random bytes": lambda real: st.binary(max_size=4096).map(lambda b: ("random bytes", b)),
    "truncated": truncated,
    "mutated": mutated,
    "lying wav": lambda real: lying_wav(),
    "magic + garbage": lambda real: magic_then_garbage(),
    "ID3 + garbage": lambda real: id3_then_garbage(),
    "mp3 sync + garbage": lambda real: mp3_sync_then_garbage(),
}


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
