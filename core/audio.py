"""Recognise audio formats from their bytes and decode them to 16 kHz float or 16-bit PCM."""

from __future__ import annotations

import io
import logging
import time
import wave
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from core.errors import (
    AudioTooLongError,
    DecodeTimeoutError,
    UndecodableAudioError,
    UnsupportedAudioError,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
DEFAULT_DECODE_SECONDS = 10.0  # 10 minutes of 44.1 kHz stereo MP3 decode in ~1.6 s on 2 cores


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"
    OGG = "ogg"
    WEBM = "webm"
    M4A = "m4a"
    FLAC = "flac"
    AIFF = "aiff"


SUPPORTED_FORMATS = ", ".join(f.value for f in AudioFormat)


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples in [-1, 1] at `SAMPLE_RATE`, and where they came from."""

    samples: np.ndarray
    format: AudioFormat

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def to_wav(self) -> bytes:
        """The samples as a 16-bit mono WAV file."""
        pcm = (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        return pcm16_wav(pcm, SAMPLE_RATE)


def pcm16_wav(pcm: bytes, rate: int) -> bytes:
    """Wrap 16-bit little-endian mono PCM in a WAV header."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buf.getvalue()


def _is_mp3_frame(header: bytes) -> bool:
    # MPEG audio frame sync: 11 set bits, a valid version and layer III/II.
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return False
    version = (header[1] >> 3) & 0x03
    layer = (header[1] >> 1) & 0x03
    bitrate = header[2] >> 4
    return version != 0x01 and layer != 0x00 and bitrate not in (0x0, 0xF)


def sniff_format(data: bytes) -> AudioFormat:
    """Name the container of `data` from its magic bytes, ignoring any file name."""
    head = data[:64]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return AudioFormat.WAV
    if head[:4] == b"fLaC":
        return AudioFormat.FLAC
    if head[:4] == b"OggS":
        return AudioFormat.OGG
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return AudioFormat.WEBM
    if head[4:8] == b"ftyp":
        return AudioFormat.M4A
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return AudioFormat.AIFF
    if head[:3] == b"ID3" or _is_mp3_frame(head[:4]):
        return AudioFormat.MP3
    raise UnsupportedAudioError(f"Unsupported audio file. Accepted formats: {SUPPORTED_FORMATS}.")


def _decode_s16(
    data: bytes, fmt: AudioFormat, *, rate: int, max_seconds: float, deadline_s: float
) -> np.ndarray:
    """Decode to mono int16 at `rate`, stopping as soon as `max_seconds` of audio is passed
    or `deadline_s` of wall-clock time is spent."""
    import av  # PyAV ships with faster-whisper and bundles its own FFmpeg

    limit = int(max_seconds * rate)
    deadline = time.monotonic() + deadline_s
    chunks: list[np.ndarray] = []
    total = 0

    def too_slow() -> DecodeTimeoutError:
        return DecodeTimeoutError(
            f"The {fmt.value} file took longer than {deadline_s:g} seconds to decode; "
            "send a simpler recording."
        )

    try:
        # Opening reads at most FFmpeg's probe size (5 MB); the deadline covers the decoding.
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UndecodableAudioError(f"The {fmt.value} file holds no audio stream.")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            # Packet by packet, so that garbage which yields no frames is still timed.
            for packet in container.demux(stream):
                if time.monotonic() > deadline:
                    raise too_slow()
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        pcm = out.to_ndarray().reshape(-1)
                        chunks.append(pcm)
                        total += len(pcm)
                    if total > limit:
                        raise AudioTooLongError(
                            f"Audio is longer than the limit of {max_seconds:g} seconds."
                        )
            for out in resampler.resample(None):
                pcm = out.to_ndarray().reshape(-1)
                chunks.append(pcm)
                total += len(pcm)
    except (AudioTooLongError, UndecodableAudioError):
        raise
    except Exception as exc:  # PyAV raises many error types for broken input
        if time.monotonic() > deadline:
            raise too_slow() from exc
        logger.info("Could not decode %s upload: %s", fmt.value, type(exc).__name__)
        raise UndecodableAudioError(
            f"The file looks like {fmt.value} but could not be decoded ({type(exc).__name__}). "
            f"Accepted formats: {SUPPORTED_FORMATS}."
        ) from exc
    if total > limit:
        raise AudioTooLongError(f"Audio is longer than the limit of {max_seconds:g} seconds.")
    if total == 0:
        raise UndecodableAudioError(f"The {fmt.value} file contains no audio samples.")
    return np.concatenate(chunks)


def decode(
    data: bytes, *, max_seconds: float, deadline_s: float = DEFAULT_DECODE_SECONDS
) -> DecodedAudio:
    """Decode `data` to 16 kHz mono float32, refusing audio longer than `max_seconds`.

    Decoding stops as soon as the limit is passed, so a small file that expands to hours of
    audio costs no more than the limit; and after `deadline_s` of wall-clock time
    (`DecodeTimeoutError`), so that a pathological file cannot hold a worker.
    """
    fmt = sniff_format(data)
    pcm = _decode_s16(data, fmt, rate=SAMPLE_RATE, max_seconds=max_seconds, deadline_s=deadline_s)
    samples = pcm.astype(np.float32) / 32768.0
    return DecodedAudio(samples=samples, format=fmt)


def decode_pcm16(
    data: bytes, *, rate: int, max_seconds: float, deadline_s: float = DEFAULT_DECODE_SECONDS
) -> bytes:
    """Decode `data` to 16-bit little-endian mono PCM at `rate` (for speech from a cloud voice)."""
    fmt = sniff_format(data)
    pcm = _decode_s16(data, fmt, rate=rate, max_seconds=max_seconds, deadline_s=deadline_s)
    return pcm.astype("<i2").tobytes()
