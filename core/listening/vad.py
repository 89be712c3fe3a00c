"""Streaming voice activity detection with the Silero VAD model bundled in faster-whisper."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from core.errors import ModelMissingError

WINDOW = 512  # samples at 16 kHz: 32 ms, the window Silero VAD v6 is trained on
_CONTEXT = 64  # samples of the previous window the model sees before each window
WINDOW_MS = WINDOW * 1000 // 16_000
VAD_PACKAGE = "faster-whisper==1.2.1"  # ships the model


def bundled_vad_path() -> Path:
    """The Silero VAD ONNX file that ships inside the faster-whisper package."""
    from faster_whisper.utils import get_assets_path

    path = Path(get_assets_path()) / "silero_vad_v6.onnx"
    if not path.is_file():
        raise ModelMissingError(
            f"Silero VAD is missing at {path}. Reinstall: pip install --force-reinstall "
            f"{VAD_PACKAGE}"
        )
    return path


class SileroVAD:
    """The model, loaded once and shared; each conversation gets its own `VADStream`."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        path = path or bundled_vad_path()
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"], sess_options=options
            )
        except Exception as exc:  # onnxruntime's errors on a bad file have no common base
            raise ModelMissingError(
                f"Silero VAD at {path} could not be loaded ({type(exc).__name__}). "
                f"Reinstall: pip install --force-reinstall {VAD_PACKAGE}"
            ) from exc
        self._lock = threading.Lock()

    def stream(self) -> VADStream:
        return VADStream(self)

    def run(
        self, window: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        with self._lock:
            prob, h, c = self.session.run(None, {"input": window[None, :], "h": h, "c": c})
        return float(prob.reshape(-1)[0]), h, c


class VADStream:
    """Speech probabilities of one audio stream, one per 32 ms window, state kept between
    calls so audio can arrive in pieces of any size."""

    def __init__(self, model: SileroVAD) -> None:
        self.model = model
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, samples: np.ndarray) -> list[float]:
        """Feed 16 kHz float samples; return the probability of each window completed."""
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        probs: list[float] = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            framed = np.concatenate([self._context, window])
            prob, self._h, self._c = self.model.run(framed, self._h, self._c)
            self._context = window[-_CONTEXT:]
            probs.append(prob)
        return probs
