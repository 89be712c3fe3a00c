"""Hypothesis strategies of hostile audio uploads, shared by the core and HTTP fuzz tests.

Each family draws `(kind, bytes)`; families that start from real files take them as a dict
of name to bytes (Piper speech in every container, an hour of silence as FLAC).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from hypothesis import strategies as st

from tests.helpers import FORMATS, encode_audio, silence_flac


def real_files(wav: bytes) -> dict[str, bytes]:
    """`wav` in every accepted container, and an hour of silence in 600 KB of FLAC."""
    files = {"wav": wav, **{fmt: encode_audio(wav, fmt) for fmt in FORMATS}}
    files["hour-long flac"] = silence_flac(3600)
    return files


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


FAMILIES: dict[str, Callable[[dict[str, bytes]], st.SearchStrategy[tuple[str, bytes]]]] = {
    "zero bytes": lambda real: st.just(("zero bytes", b"")),
    "random bytes": lambda real: st.binary(max_size=4096).map(lambda b: ("random bytes", b)),
    "truncated": truncated,
    "mutated": mutated,
    "lying wav": lambda real: lying_wav(),
    "magic + garbage": lambda real: magic_then_garbage(),
    "ID3 + garbage": lambda real: id3_then_garbage(),
    "mp3 sync + garbage": lambda real: mp3_sync_then_garbage(),
}
