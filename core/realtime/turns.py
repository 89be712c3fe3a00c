"""Turn-taking on a live audio stream: when the user starts speaking, pauses, resumes, is done.

Decisions are counted in audio (32 ms VAD windows), never in wall-clock time, so the same
audio always makes the same turns. What to do about them is the listener's business.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Literal, Protocol

import numpy as np

from core.audio import SAMPLE_RATE
from core.config import Settings
from core.listening.vad import WINDOW, WINDOW_MS, SileroVAD
from core.realtime.resample import Resampler
from core.realtime.turn_end import Heard, heard

# The end-of-turn model's word on a pause; None when there is none (no model, or unsure).
Verdict = Literal["judging", "finished", "unfinished"] | None

# A barge-in needs BARGE_IN_MS of voice within this many windows more (not one unbroken run).
BARGE_IN_SLACK_WINDOWS = 2

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
        self._recent: deque[bool] = deque(maxlen=self._barge_windows + BARGE_IN_SLACK_WINDOWS)
        self._max_windows = int(settings.max_utterance_s * 1000 // WINDOW_MS)
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, PREROLL_MS // WINDOW_MS))
        self._pending = np.zeros(0, dtype=np.float32)
        self._windows = 0
        self._voiced_run = 0
        self._silence_run = 0
        self._utterance: list[np.ndarray] = []
        self._carried = 0  # windows of it carried on from a withdrawn turn (`carry_on`)
        self._heard: Heard | None = None  # what this pause's transcript says, once it is in
        self._verdict: Verdict = None  # the end-of-turn model's word on this pause, if any
        self.in_speech = False
        self.last_voice_at = 0.0  # wall clock of the last voiced window

    @property
    def audio_ms(self) -> int:
        return self._windows * WINDOW_MS

    @property
    def held_s(self) -> float:
        """Seconds of the utterance under way held as audio."""
        return len(self._utterance) * WINDOW_MS / 1000

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

    # What is known about the pause in progress decides how long it may last (`_limit`). The
    # transcript and the end-of-turn model answer in whichever order the CPU allows, so each
    # signal is kept and the limit is worked out from all of them.

    def transcript_heard(self, text: str) -> None:
        """The transcript of what was said up to this pause."""
        if self._pausing():
            self._heard = heard(text)
            self._end_if_long_enough()

    def judging(self) -> None:
        """The end-of-turn model is judging this pause: until it says, the pause may last up
        to VAD_STOP_UNFINISHED_MS (so a busy CPU cannot turn a slow verdict into a cut)."""
        if self._pausing():
            self._verdict = "judging"

    def turn_finished(self) -> None:
        """The end-of-turn model is sure the turn is complete: a short silence will do."""
        self._judged("finished")

    def turn_unfinished(self) -> None:
        """The end-of-turn model heard a sentence still going on: this pause may last up to
        VAD_STOP_UNFINISHED_MS before the turn ends."""
        self._judged("unfinished")

    def turn_uncertain(self) -> None:
        """The end-of-turn model cannot tell (or failed): VAD_STOP_MS decides, as without it."""
        self._judged(None)

    def _judged(self, verdict: Verdict) -> None:
        if self._pausing():
            self._verdict = verdict
            self._end_if_long_enough()

    def _pausing(self) -> bool:
        return self.in_speech and self._silence_run >= self._pause_windows

    def _limit(self) -> int:
        """Silent windows this pause may last before the turn ends:
        - a complete question: VAD_STOP_FINISHED_MS, whatever the model says (measured: it
          often hears the end of a question as unfinished, and waiting only delays the answer);
        - a transcript that plainly goes on ("and", "um", a comma, "Can you tell me"):
          VAD_STOP_UNFINISHED_MS, whatever the model says (it hears some commas as final);
        - the model sure the turn is complete, and a transcript of a statement of three words
          or more: VAD_STOP_FINISHED_MS. The transcript is waited for, which costs nothing
          (the answer needs it anyway) and keeps an "Okay." said before the rest from ending
          the turn;
        - the model hearing the voice go on, or still judging: VAD_STOP_UNFINISHED_MS;
        - otherwise VAD_STOP_MS.
        """
        if self._heard == "question":
            return self._finished_windows
        if self._heard == "going on":
            return self._unfinished_windows
        if self._verdict == "finished":
            return self._finished_windows if self._heard == "said" else self._stop_windows
        if self._verdict in ("judging", "unfinished"):
            return self._unfinished_windows
        return self._stop_windows

    def _end_if_long_enough(self) -> None:
        if self.in_speech and self._silence_run >= self._limit():
            self.end_now()

    def _new_pause(self) -> None:
        self._heard = None
        self._verdict = None

    def carry_on(self, samples: np.ndarray) -> None:
        """The utterance just started goes on from the turn that last ended (the listener
        withdrew it: none of its answer was heard), so `samples`, what was said before the
        pause, open it. Called from `speech_started`."""
        if self.in_speech and len(samples):
            carried = np.split(samples, range(WINDOW, len(samples), WINDOW))
            self._utterance[:0] = carried
            # MAX_UTTERANCE_S counts from here: a turn ended at that length and withdrawn
            # would otherwise end again on the next window, and again (measured: a turn, a
            # transcription and an answer withdrawn every ~0.25 s for as long as a person
            # talked on past 30 s, beside another user's answer).
            self._carried = len(carried)

    def end_now(self) -> None:
        """End the turn in progress (for instance, the client is done)."""
        if not self.in_speech:
            return
        samples = np.concatenate(self._utterance) if self._utterance else np.zeros(0)
        self.in_speech = False
        self._utterance = []
        self._new_pause()
        self._voiced_run = self._silence_run = 0
        self.listener.speech_ended(samples, at_ms=self.audio_ms, last_voice_at=self.last_voice_at)

    def _window(self, window: np.ndarray, voiced: bool) -> None:
        self._windows += 1
        if self.in_speech:
            self._utterance.append(window)
            if voiced:
                if self._silence_run >= self._pause_windows:
                    self._new_pause()
                    self.listener.resumed()
                self._voiced_run += 1
                self._silence_run = 0
                self.last_voice_at = time.perf_counter()
            else:
                self._voiced_run = 0
                self._silence_run += 1
                if self._silence_run == self._pause_windows:
                    self.listener.paused(np.concatenate(self._utterance))
                self._end_if_long_enough()
            if self.in_speech and len(self._utterance) - self._carried >= self._max_windows:
                self.end_now()
            return
        self._preroll.append(window)
        self._recent.append(voiced)
        if not voiced:
            self._voiced_run = 0
            return
        self._voiced_run += 1
        self.last_voice_at = time.perf_counter()
        busy = self.listener.agent_busy()
        if busy:
            # Over the agent's voice: BARGE_IN_MS of voice within a few windows more, so one
            # window that dips inside a short "Wait," does not make it wait for the next word.
            starts = sum(self._recent) >= self._barge_windows
        else:
            starts = self._voiced_run >= self._start_windows
        if starts:
            self._recent.clear()
            self.in_speech = True
            self._silence_run = 0
            self._utterance = list(self._preroll)
            self._carried = 0
            self._preroll.clear()
            self.listener.speech_started(at_ms=self.audio_ms, barge_in=busy)
