"""Turn-taking on a live audio stream: when the user starts speaking, pauses, resumes, is done.

Decisions are counted in audio (32 ms VAD windows), never in wall-clock time, so the same
audio always makes the same turns. What to do about them is the listener's business.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

import numpy as np

from core.audio import SAMPLE_RATE
from core.config import Settings
from core.realtime.resample import Resampler
from core.realtime.vad import WINDOW, WINDOW_MS, SileroVAD

# Audio kept from before the VAD's decision, so the first syllable is not clipped.
PREROLL_MS = 320


class TurnListener(Protocol):
    """What a `TurnTaker` tells (and asks) the conversation it serves."""

    def agent_busy(self) -> bool:
        """The agent is answering or speaking: starting to talk then is a barge-in."""
        ...

    def speech_started(self, *, at_ms: int, barge_in: bool) -> None: ...

    def paused(self, samples: np.ndarray) -> None:
        """The user has paused long enough to transcribe what they said, just in case."""
        ...

    def resumed(self) -> None:
        """The user speaks again after a pause: anything guessed from it is stale."""
        ...

    def speech_ended(self, samples: np.ndarray, *, at_ms: int, last_voice_at: float) -> None: ...


class TurnTaker:
    """16 kHz VAD windows in; start of speech, pause, resumption and end of turn out."""

    def __init__(
        self, *, vad: SileroVAD, settings: Settings, sample_rate: int, listener: TurnListener
    ) -> None:
        self.listener = listener
        self._resample = Resampler(sample_rate, SAMPLE_RATE)
        self._vad = vad.stream()
        self._threshold = settings.vad_threshold
        self._start_windows = max(1, settings.vad_start_ms // WINDOW_MS)
        self._stop_windows = max(1, settings.vad_stop_ms // WINDOW_MS)
        self._finished_windows = max(1, settings.vad_stop_finished_ms // WINDOW_MS)
        self._unfinished_windows = max(
            self._stop_windows, settings.vad_stop_unfinished_ms // WINDOW_MS
        )
        self._pause_windows = max(1, settings.speculative_stt_ms // WINDOW_MS)
        self._barge_windows = max(1, settings.barge_in_ms // WINDOW_MS)
        self._max_windows = int(settings.max_utterance_s * 1000 // WINDOW_MS)
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, PREROLL_MS // WINDOW_MS))
        self._pending = np.zeros(0, dtype=np.float32)
        self._windows = 0
        self._voiced_run = 0
        self._silence_run = 0
        self._utterance: list[np.ndarray] = []
        self._sounds_finished = False  # this pause's transcript is a complete question
        self._unfinished = False  # the end-of-turn model heard a sentence still going on
        self._judging = False  # its verdict on this pause is on the way: the pause may wait
        self.in_speech = False
        self.last_voice_at = 0.0  # wall clock of the last voiced window

    @property
    def audio_ms(self) -> int:
        return self._windows * WINDOW_MS

    def feed(self, pcm: bytes) -> None:
        """PCM16 little-endian mono at the stream's rate, any length."""
        samples = self._resample(pcm).astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, samples])
        usable = len(self._pending) - len(self._pending) % WINDOW
        if not usable:
            return
        chunk, self._pending = self._pending[:usable], self._pending[usable:]
        for i, prob in enumerate(self._vad.process(chunk)):
            self._window(chunk[i * WINDOW : (i + 1) * WINDOW], prob >= self._threshold)

    def transcript_finished(self) -> None:
        """The transcript of this pause is a complete question: a short silence will do, even
        if the end-of-turn model heard the voice going on (measured: it often does at the end
        of a question, and waiting then only delays the answer)."""
        if self.in_speech and self._silence_run >= self._pause_windows:
            self._unfinished = False
            self._finished()

    def judging(self) -> None:
        """The end-of-turn model is judging this pause: until it says, the pause may last up
        to VAD_STOP_UNFINISHED_MS (so a busy CPU cannot turn a slow verdict into a cut)."""
        if self.in_speech:
            self._judging = True

    def turn_finished(self) -> None:
        """The end-of-turn model is sure the turn is complete: a short silence will do."""
        self._judging = False
        if self.in_speech and self._silence_run >= self._pause_windows and not self._unfinished:
            self._finished()

    def turn_uncertain(self) -> None:
        """The end-of-turn model cannot tell (or failed): VAD_STOP_MS decides, as without it."""
        self._judging = False
        if self.in_speech and self._silence_run >= self._stop_windows and not self._unfinished:
            self.end_now()

    def _finished(self) -> None:
        self._sounds_finished = True
        if self._silence_run >= self._finished_windows:
            self.end_now()

    def turn_unfinished(self) -> None:
        """The end-of-turn model heard a sentence still going on: this pause may last up to
        VAD_STOP_UNFINISHED_MS before the turn ends."""
        self._judging = False
        if self.in_speech and self._silence_run >= self._pause_windows:
            self._unfinished = True
            self._sounds_finished = False

    def end_now(self) -> None:
        """End the turn in progress (for instance, the client is done)."""
        if not self.in_speech:
            return
        samples = np.concatenate(self._utterance) if self._utterance else np.zeros(0)
        self.in_speech = False
        self._utterance = []
        self._sounds_finished = self._unfinished = self._judging = False
        self._voiced_run = self._silence_run = 0
        self.listener.speech_ended(samples, at_ms=self.audio_ms, last_voice_at=self.last_voice_at)

    def _window(self, window: np.ndarray, voiced: bool) -> None:
        self._windows += 1
        if self.in_speech:
            self._utterance.append(window)
            if voiced:
                if self._silence_run >= self._pause_windows:
                    self._sounds_finished = self._unfinished = self._judging = False
                    self.listener.resumed()
                self._voiced_run += 1
                self._silence_run = 0
                self.last_voice_at = time.perf_counter()
            else:
                self._voiced_run = 0
                self._silence_run += 1
                if self._silence_run == self._pause_windows:
                    self.listener.paused(np.concatenate(self._utterance))
                finished = self._sounds_finished and self._silence_run >= self._finished_windows
                held = self._unfinished or self._judging
                stop = self._unfinished_windows if held else self._stop_windows
                if self._silence_run >= stop or finished:
                    self.end_now()
            if self.in_speech and len(self._utterance) >= self._max_windows:
                self.end_now()
            return
        self._preroll.append(window)
        if not voiced:
            self._voiced_run = 0
            return
        self._voiced_run += 1
        self.last_voice_at = time.perf_counter()
        busy = self.listener.agent_busy()
        if self._voiced_run >= (self._barge_windows if busy else self._start_windows):
            self.in_speech = True
            self._silence_run = 0
            self._utterance = list(self._preroll)
            self._preroll.clear()
            self.listener.speech_started(at_ms=self.audio_ms, barge_in=busy)
