"""Phone audio: G.711 mu-law at 8 kHz to and from 16-bit PCM, with PyAV (FFmpeg's codecs)."""

from __future__ import annotations

import av
import numpy as np

from core.realtime.resample import Resampler

RATE = 8000  # Twilio Media Streams: always 8 kHz mono mu-law
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000  # one byte per sample
SILENCE = b"\xff"  # mu-law code of 0


def _pcm_frame(samples: np.ndarray, rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


class MulawDecoder:
    """Mu-law bytes in, PCM16 little-endian at 8 kHz out (the same number of samples)."""

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("pcm_mulaw", "r")
        self._codec.sample_rate = RATE
        self._codec.layout = "mono"

    def __call__(self, payload: bytes) -> bytes:
        if not payload:
            return b""
        frames = self._codec.decode(av.Packet(payload))
        return b"".join(f.to_ndarray().astype("<i2").tobytes() for f in frames)


class MulawEncoder:
    """PCM16 at any rate in, whole 20 ms mu-law frames at 8 kHz out.

    Keeps the resampler's filter state and the part of a frame not yet full between calls, so
    a stream of pieces of any length comes out as one continuous signal.
    """

    def __init__(self, source_rate: int) -> None:
        self._resample = Resampler(source_rate, RATE)
        self._codec = av.CodecContext.create("pcm_mulaw", "w")
        self._codec.sample_rate = RATE
        self._codec.layout = "mono"
        self._codec.format = "s16"
        self._codec.open()
        self._pending = bytearray()

    def feed(self, pcm: bytes) -> list[bytes]:
        """Encode a piece of PCM16; returns the frames completed so far (maybe none)."""
        self._encode(self._resample(pcm))
        return self._frames()

    def flush(self) -> list[bytes]:
        """The rest of the stream: the resampler's tail, the last frame padded with silence."""
        self._encode(self._resample.flush())
        if len(self._pending) % FRAME_BYTES:
            self._pending += SILENCE * (FRAME_BYTES - len(self._pending) % FRAME_BYTES)
        return self._frames()

    def _encode(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        for packet in self._codec.encode(_pcm_frame(samples.astype("<i2"), RATE)):
            self._pending += bytes(packet)

    def _frames(self) -> list[bytes]:
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        frames = [bytes(self._pending[i : i + FRAME_BYTES]) for i in range(0, whole, FRAME_BYTES)]
        del self._pending[:whole]
        return frames
