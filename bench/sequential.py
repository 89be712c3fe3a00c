"""The sequential pipeline the latency benches compare against: stop silence, then STT, LLM, TTS."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.first_token import messages_for
from bench.ws_client import FRAME_BYTES, LEAD_FRAMES, RATE, SILENCE, Utterance


@dataclass(frozen=True)
class Sequential:
    """One utterance through the non-streaming pipeline, seconds after the last voiced sample."""

    total_s: float  # end of speech + transcription + whole answer + whole synthesis
    stt_s: float
    llm_s: float
    tts_s: float
    heard: str
    answer: str


class SequentialPipeline:
    """Wait for the VAD's stop silence, transcribe, answer in full, speak in full: the server's
    models and prompt, loaded in the bench process, each stage waiting for the one before."""

    def __init__(self) -> None:
        from core.config import Settings
        from core.providers import build_local_llm, build_local_stt
        from core.tts.piper import PiperTTS

        self.settings = Settings()
        self.stop_s = getattr(self.settings, "vad_stop_ms", 400) / 1000
        self.stt = build_local_stt(self.settings)
        self.llm = build_local_llm(self.settings)
        self.tts = PiperTTS()

    def run(self, utterance: Utterance) -> Sequential:
        import numpy as np

        from core.audio import AudioFormat, DecodedAudio
        from core.llm import ChatMessage
        from core.tts.text import speakable

        # What a VAD-driven recorder holds at the end of speech: the lead silence, the
        # utterance up to its last voiced frame, and the stop silence.
        voiced = utterance.pcm[: utterance.voiced_frames * FRAME_BYTES]
        pcm = SILENCE * LEAD_FRAMES + voiced + bytes(int(self.stop_s * RATE) * 2)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        t0 = time.perf_counter()
        transcript = self.stt.transcribe(DecodedAudio(samples, AudioFormat.WAV))
        t1 = time.perf_counter()
        prompt = messages_for(transcript.text, transcript.language or "en")
        messages = [ChatMessage(m["role"], m["content"]) for m in prompt]
        pieces = self.llm.stream(messages, max_tokens=self.settings.llm_max_tokens)
        answer = "".join(p for p in pieces if isinstance(p, str))  # not the model's doubt
        t2 = time.perf_counter()
        audio = b"".join(chunk.pcm for chunk in self.tts.synthesize(speakable(answer)))
        t3 = time.perf_counter()
        if not audio:
            raise RuntimeError(f"Piper spoke nothing for the answer {answer!r}")
        times = (self.stop_s + t3 - t0, t1 - t0, t2 - t1, t3 - t2)
        return Sequential(*(round(t, 4) for t in times), transcript.text, answer)
