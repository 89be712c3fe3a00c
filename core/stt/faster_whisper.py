"""Local speech-to-text with faster-whisper on the bundled Whisper base model."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from core.audio import DecodedAudio
from core.errors import TranscriptionError
from core.stt import Transcript

logger = logging.getLogger(__name__)


class FasterWhisperSTT:
    """Whisper base, int8 on the CPU; one shared model, calls serialised by a lock."""

    is_local = True

    def __init__(self, model_dir: Path, *, threads: int = 2, beam_size: int = 1) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:  # pragma: no cover - dependency hint
            raise ImportError("Install faster-whisper: pip install faster-whisper") from exc
        self.name = "local:whisper-base"
        self.beam_size = beam_size
        self._lock = threading.Lock()
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript:
        try:
            with self._lock:
                segments, info = self.model.transcribe(
                    audio.samples,
                    language=language,
                    beam_size=self.beam_size,
                    condition_on_previous_text=False,
                )
                text = " ".join(s.text.strip() for s in segments).strip()
        except Exception as exc:
            logger.exception("Whisper failed on %.1f s of audio", audio.duration)
            raise TranscriptionError(f"Local speech recognition failed: {exc}") from exc
        return Transcript(
            text=text, language=info.language, duration=audio.duration, provider=self.name
        )
