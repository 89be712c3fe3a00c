"""What one conversation asks of the speech recogniser and the end-of-turn model, kept to what
is still wanted.

A person who talks without stopping pauses every second or two. Each pause starts a
transcription (and a verdict of the end-of-turn model), and each turn that ends there and is
withdrawn when they go on starts another, of an utterance that keeps growing. Measured in a
browser before the rules below: 40 s of such speech queued 31 transcriptions, which went on
running for 19 minutes after the hang-up, while another user's press-to-talk waited 24 s.

The rules: at most one transcription of a conversation waits for the model, a newer one
replaces it; the pause's guess and verdict go as soon as the user goes on; a withdrawal or a
hang-up cancels everything still to hear. A cancelled task takes its model call out of the
queue (`core.concurrency.Ticket`), so abandoned work never runs, and the model's lock serves
conversations in turn (`core.concurrency.FairLock`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.concurrency import Ticket
from core.history import TurnRecord
from core.realtime import events as ev
from core.realtime.port import AgentPort
from core.realtime.turns import TurnTaker
from core.stt import Transcript

logger = logging.getLogger(__name__)

Heard = asyncio.Task[tuple[Transcript, float]]  # a transcript and Whisper's time in ms


@dataclass(frozen=True)
class _Guess:
    """The transcription started on a pause, valid while the user stays silent."""

    task: Heard
    ticket: Ticket


class Hearing:
    """One conversation's transcriptions and end-of-turn verdicts.

    `paused`, `resumed` and `heard` follow the turn-taking; `read_ahead` is told a pause's
    transcript while the user still pauses (the engine may read the prompt ahead with it).
    """

    def __init__(
        self,
        *,
        owner: Hashable,
        port: AgentPort,
        turns: TurnTaker,
        emit: Callable[[ev.Event], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
        read_ahead: Callable[[Transcript], None],
    ) -> None:
        self._owner = owner  # whose work the transcriptions are, at the model's lock
        self._port = port
        self._turns = turns
        self._emit = emit
        self._spawn = spawn
        self._read_ahead = read_ahead
        self._latest: Heard | None = None  # the newest transcription, until it is done
        self._guess: _Guess | None = None
        self._verdict: asyncio.Task[float] | None = None  # the pause's end-of-turn verdict

    @property
    def guessing(self) -> bool:
        """A transcription of this pause is under way: the turn, if it ends now, reuses it."""
        return self._guess is not None

    def paused(self, samples: np.ndarray, *, pinned: str | None) -> None:
        """The user pauses: transcribe what they said (a guess, queued behind turns' own
        transcriptions) and, with an end-of-turn model, ask it whether they are done."""
        ticket = Ticket(owner=self._owner, speculative=True)
        task = self._transcribe(samples, pinned, ticket)
        self._guess = _Guess(task, ticket)
        task.add_done_callback(self._announce_guess)
        if self._port.judges_turns:
            self._drop_verdict()
            self._turns.judging()
            verdict = self._verdict = self._spawn(self._port.judge(samples))
            verdict.add_done_callback(self._announce_verdict)

    def resumed(self) -> None:
        """The user goes on: the pause's guess and verdict are stale, and cancelled."""
        guess, self._guess = self._guess, None
        if guess is not None:
            guess.task.cancel()
        self._drop_verdict()

    def heard(self, samples: np.ndarray, *, pinned: str | None) -> Heard:
        """The turn has ended: its transcription, the pause's guess when the user stayed
        silent since (queued from now on as a turn's own), else a new one."""
        self._drop_verdict()  # the turn is over: whether it was is no question any more
        guess, self._guess = self._guess, None
        if guess is not None:
            guess.ticket.promote()
            return guess.task
        return self._transcribe(samples, pinned, Ticket(owner=self._owner))

    def cancel(self) -> None:
        """A withdrawal or a hang-up: nothing still to hear is wanted."""
        self._guess = None
        if self._latest is not None:
            self._latest.cancel()
        self._drop_verdict()

    def _transcribe(self, samples: np.ndarray, pinned: str | None, ticket: Ticket) -> Heard:
        # At most one transcription of a conversation waits for the model: a newer one
        # replaces it (whatever it was for, the user has said more since).
        if self._latest is not None:
            self._latest.cancel()
        task = self._spawn(self._port.transcribe(samples, pinned=pinned, ticket=ticket))
        self._latest = task
        return task

    def _drop_verdict(self) -> None:
        verdict, self._verdict = self._verdict, None
        if verdict is not None:
            verdict.cancel()

    def _announce_guess(self, task: Heard) -> None:
        # The exception is read first, so a failed stale guess is not reported as lost.
        guess = self._guess
        if task.cancelled() or task.exception() or guess is None or guess.task is not task:
            return
        transcript, _ = task.result()
        if transcript.text and self._turns.in_speech:
            self._emit(
                ev.TranscriptEvent(transcript.text, final=False, language=transcript.language)
            )
            self._turns.transcript_heard(transcript.text)
            if self._turns.in_speech:  # still pausing
                self._read_ahead(transcript)

    def _announce_verdict(self, task: asyncio.Task[float]) -> None:
        """The end-of-turn model's word on this pause: done, unsure, or mid-sentence."""
        if task.cancelled():
            return
        failed = task.exception() is not None
        if task is not self._verdict:  # the user went on, or paused again
            return
        if failed:
            logger.warning("The end-of-turn model failed; the VAD alone ends this turn")
            self._turns.turn_uncertain()
            return
        settings, complete = self._port.settings, task.result()
        if complete >= settings.smart_turn_finished:
            self._turns.turn_finished()
        elif complete < settings.smart_turn_unfinished:
            self._turns.turn_unfinished()
        else:
            self._turns.turn_uncertain()


@dataclass
class Said:
    """A spoken turn between the end of its speech and the first of its answer's audio: if
    the user goes on in that time, it is withdrawn and carried into what they say next."""

    samples: np.ndarray
    stored: asyncio.Task[TurnRecord] | None = None  # its row, once the transcript is in
