"""Local speech-to-text with faster-whisper on the bundled Whisper base model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.audio import SAMPLE_RATE, DecodedAudio
from core.concurrency import FairLock, Holding, current_ticket
from core.errors import TranscriptionError
from core.stt import Transcript

logger = logging.getLogger(__name__)

# Whisper's encoder is trained on 30 s windows (3000 mel frames), and pays for all of them even
# for a two-second question. Encoding a shorter window (the speech plus a margin, at least 10 s)
# gives the same words on short utterances at a third of the cost (measured: 0.22 s against
# 0.71 s per utterance over ten Piper sentences, identical word error rate). Shorter windows
# than 10 s make the decoder repeat itself, so that is the floor.
SHORT_WINDOW_MIN_FRAMES = 1000
SHORT_WINDOW_MARGIN_FRAMES = 300
FULL_WINDOW_FRAMES = 3000
# Utterances up to this long take the one-window path; longer audio goes through
# faster-whisper's own segment-by-segment transcription.
SHORT_AUDIO_SECONDS = 25.0
# Whisper's own rule for a silent window: likely no speech and an unlikely transcript.
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MAX_TOKENS = 448  # Whisper's decoder context
# faster-whisper's own `compression_ratio_threshold`: a transcript that compresses this well
# repeats itself, the mark of a greedy decode caught in a loop ("of the devil of the devil...",
# heard once for "What is the capital of Italy?")
LOOPING_COMPRESSION = 2.4


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
        self.lock = FairLock()
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads
        )

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript:
        # A call cancelled while it waits for the lock leaves the queue unserved, and one
        # cancelled while it runs stops at its next step: both raise `Abandoned`, which is no
        # `Exception`, so it is neither logged nor wrapped here.
        try:
            with Holding(self.lock, current_ticket()) as hold:
                if audio.duration <= SHORT_AUDIO_SECONDS:
                    text, detected = self._short(hold, audio.samples, language)
                else:
                    text, detected = self._long(hold, audio.samples, language)
        except Exception as exc:
            logger.exception("Whisper failed on %.1f s of audio", audio.duration)
            raise TranscriptionError(f"Local speech recognition failed: {exc}") from exc
        return Transcript(text=text, language=detected, duration=audio.duration, provider=self.name)

    def _long(self, hold: Holding, samples: np.ndarray, language: str | None) -> tuple[str, str]:
        segments, info = self.model.transcribe(
            samples,
            language=language,
            beam_size=self.beam_size,
            condition_on_previous_text=False,
        )
        texts: list[str] = []
        for segment in segments:  # each 30 s window is decoded when the loop asks for it
            texts.append(segment.text.strip())
            hold.between_steps()
        return " ".join(texts).strip(), info.language

    def _short(self, hold: Holding, samples: np.ndarray, language: str | None) -> tuple[str, str]:
        """One encoder pass over a window fitted to the speech, shared by language detection
        and decoding (faster-whisper's `transcribe` encodes twice when it detects). A guess
        waits between the two while a turn's work runs (`Holding.between_steps`), so that
        its decoding does not share the two cores with another user's answer."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio

        model = self.model
        features = model.feature_extractor(samples)
        frames = features.shape[-1]
        window = min(
            FULL_WINDOW_FRAMES,
            max(SHORT_WINDOW_MIN_FRAMES, frames + SHORT_WINDOW_MARGIN_FRAMES),
        )
        encoded = model.encode(pad_or_trim(features, window))
        hold.between_steps()  # the decoder is the other half of the work
        if language is None:
            best = model.model.detect_language(encoded)[0][0][0]  # e.g. "<|fr|>"
            language = best[2:-2]
        tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language=language)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        seconds = len(samples) / SAMPLE_RATE
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            # Speech runs at up to ~5 tokens a second; twice that (Whisper's 448 at most) still
            # stops a confused decoder that loops on.
            max_length=min(MAX_TOKENS, int(seconds * 10) + 32),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        tokens = result.sequences_ids[0]
        logprob = result.scores[0] if result.scores else 0.0
        if result.no_speech_prob > NO_SPEECH_PROB and logprob < LOW_LOGPROB:
            return "", language
        text = tokenizer.decode(tokens).strip()
        if get_compression_ratio(text) > LOOPING_COMPRESSION:
            # Decoded again the long way: faster-whisper's temperature fallback samples anew
            # whatever compresses too well.
            logger.warning("Whisper looped on %.1f s of speech (%r); decoding again", seconds, text)
            return self._long(hold, samples, language)
        return text, language
