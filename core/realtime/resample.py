"""Streaming sample-rate conversion of 16-bit mono PCM, with PyAV's libswresample."""

from __future__ import annotations

from typing import Any

import numpy as np


class Resampler:
    """Convert a stream of PCM16 pieces from one rate to another, keeping filter state between
    pieces (so there are no clicks at piece boundaries)."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._resampler = None
        if source_rate != target_rate:
            import av

            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=target_rate)

    def __call__(self, pcm: bytes) -> np.ndarray:
        """Resample a piece of PCM16; returns int16 samples at the target rate."""
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        if self._resampler is None or not len(samples):
            return samples
        import av

        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.source_rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """The end of the stream: the samples still inside the resampler's filter."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.int16)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[Any]) -> np.ndarray:
        out = [f.to_ndarray().reshape(-1) for f in frames]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)
