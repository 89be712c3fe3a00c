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

And what was heard is not heard twice. A transcription that already runs when the user goes
on is let finish: the utterance only grows, so its transcript stays true of the samples it
read, and the next transcription of the utterance reads only what was said after them
(starting in the pause, so no word is cut), in the same language. A long utterance costs
Whisper its length once instead of once per pause: in a browser, 40 s of speech with short
pauses had Whisper re-read up to 30 s at a time, 2.4 s a decode, beside another user's
answer, which then took twice its time. Several known starts are kept, because a pause
often comes less than TAIL_MIN_SAMPLES after the latest: read from there the tail is too
short to hear well, read whole the utterance cost 3.5-4.7 s a decode once it was 26-35 s
long (traced in the browser bench), so it is read from the latest start far enough back.

What is known in text need not be kept as audio either. A turn withdrawn as its speaker goes
on is carried into the next utterance (`carried`) from its latest known start: the words
before it are kept as text, which opens every later transcript of the utterance, and only the
audio after it is kept. Someone talking without end is held to about MAX_UTTERANCE_S of audio
(plus what is not known yet) instead of all they said, 64 KB a second.
"""

from __future__ import annotations

import asyncio
import dataclasses
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

Spoken = tuple[Transcript, float]  # a transcript and Whisper's time in ms
Heard = asyncio.Task[Spoken]


# An utterance is read whole until what is known of it is this long (16 kHz samples): short
# ones cost little, and Whisper hears a sentence best in one piece ...
KNOWN_MIN_SAMPLES = 16000 * 8
# ... and what follows it is read alone only from this long: Whisper, without the words
# before, misheard 1.3 s of "planet is the largest" as "part the"
# (tests/core/listening/test_smart_turn.py).
TAIL_MIN_SAMPLES = 16000 * 2
# How many known starts of the utterance under way are kept (the latest ones).
KNOWN_KEPT = 16


@dataclass(frozen=True)
class _Known:
    """A transcript of the first samples of the utterance under way."""

    samples: np.ndarray
    transcript: Transcript


@dataclass(frozen=True)
class _Settled:
    """What is known in text of the utterance under way, before the audio still kept of it:
    its words, and how many samples were dropped (the audio kept starts after them)."""

    transcript: Transcript | None = None
    dropped: int = 0
    utterance: int = 0  # which utterance of the conversation

    def opening(self, rest: Transcript, language: str | None) -> Transcript:
        """The utterance's transcript: these words, then `rest` (a transcript of the audio
        kept)."""
        before = self.transcript
        if before is None:
            return rest
        text = " ".join(part for part in (before.text.strip(), rest.text.strip()) if part)
        return dataclasses.replace(
            rest,
            text=text,
            language=language or rest.language,
            duration=before.duration + rest.duration,
        )


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
        self._latest_ticket: Ticket | None = None
        self._running: Heard | None = None  # one the model is on, let finish for the next
        self._known: list[_Known] = []  # what is known of the utterance under way, shortest first
        self._settled = _Settled()  # its start dropped from the audio, kept as text
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
        """The user goes on: the pause's guess and verdict are stale, and cancelled (a guess
        the model is on finishes, for what it knows of the utterance)."""
        guess, self._guess = self._guess, None
        if guess is not None and not guess.ticket.started:
            guess.task.cancel()
        self._drop_verdict()

    def heard(self, samples: np.ndarray, *, pinned: str | None) -> asyncio.Future[Spoken]:
        """The turn has ended: its transcription, the pause's guess when the user stayed
        silent since (queued from now on as a turn's own), else a new one. Shielded: an
        answer cancelled while it waits leaves the transcription to the rules here."""
        self._drop_verdict()  # the turn is over: whether it was is no question any more
        guess, self._guess = self._guess, None
        if guess is not None:
            guess.ticket.promote()
            return asyncio.shield(guess.task)
        return asyncio.shield(self._transcribe(samples, pinned, Ticket(owner=self._owner)))

    def new_utterance(self) -> None:
        """The user starts to speak afresh (not going on from a withdrawn turn)."""
        self._settled = _Settled(utterance=self._settled.utterance + 1)

    def carried(self, samples: np.ndarray) -> np.ndarray:
        """A withdrawn turn's `samples` go on into the next utterance: the audio after their
        latest known start, which leaves enough to hear alone (all of them if none does).
        The words before it open every later transcript of the utterance."""
        known = self._known_start(samples)
        if known is None:
            return samples
        cut = len(known.samples)
        before = self._settled
        self._settled = _Settled(known.transcript, before.dropped + cut, before.utterance)
        self._known = [
            _Known(k.samples[cut:], k.transcript) for k in self._known if len(k.samples) > cut
        ]
        return samples[cut:]

    def withdrawn(self) -> None:
        """The turn that ended is withdrawn (the user goes on): nothing waiting to be heard
        is wanted; a transcription the model is on finishes, for what it knows."""
        self._guess = None
        self._replace_latest()
        self._drop_verdict()

    def cancel(self) -> None:
        """A hang-up: nothing still to hear is wanted, not even what the model is on."""
        self.withdrawn()
        if self._running is not None:
            self._running.cancel()

    def _replace_latest(self) -> None:
        """The newest transcription is not wanted: cancelled if it only waits, let finish
        (as `_running`) if the model is on it."""
        latest, ticket = self._latest, self._latest_ticket
        self._latest = self._latest_ticket = None
        if latest is None or latest.done():
            return
        if ticket is not None and ticket.started:
            self._running = latest
        else:
            latest.cancel()

    def _transcribe(self, samples: np.ndarray, pinned: str | None, ticket: Ticket) -> Heard:
        # At most one transcription of a conversation waits for the model: a newer one
        # replaces it (whatever it was for, the user has said more since); one it is on
        # runs out, and the newer one starts from what it heard.
        self._replace_latest()
        running = self._running
        after = running if running is not None and not running.done() else None
        task = self._spawn(self._hear(samples, pinned, ticket, after=after, settled=self._settled))
        self._latest, self._latest_ticket = task, ticket
        return task

    async def _hear(
        self,
        samples: np.ndarray,
        pinned: str | None,
        ticket: Ticket,
        *,
        after: Heard | None,
        settled: _Settled,
    ) -> Spoken:
        """Transcribe `samples` once the transcription the model is on (`after`) is done,
        reading only what follows the part of the utterance already known (`settled`, as
        text, when the transcription was asked for)."""
        if after is not None:
            await asyncio.wait([after])
        # Carried on meanwhile: the same words, with less of them as audio.
        samples, settled = self._rebased(samples, settled) or (samples, settled)
        known = self._known_start(samples)
        if known is None:
            language = pinned or (settled.transcript.language if settled.transcript else None)
            rest, ms = await self._port.transcribe(samples, pinned=language, ticket=ticket)
            heard = settled.opening(rest, language), ms
        else:
            heard = await self._hear_after(known, samples, pinned, ticket)
        now = self._rebased(samples, settled)
        if heard[0].text.strip() and now is not None:
            kept, dropped = now[0], now[1].dropped  # the utterance's length counts all of it
            if dropped + len(kept) >= KNOWN_MIN_SAMPLES:
                self._remember(_Known(kept, heard[0]))
        return heard

    def _rebased(
        self, samples: np.ndarray, settled: _Settled
    ) -> tuple[np.ndarray, _Settled] | None:
        """`samples` of the utterance when `settled` was what of it was text, in terms of
        the utterance now: the audio after what was dropped since. None if they are of
        another utterance (or all dropped)."""
        now = self._settled
        dropped = now.dropped - settled.dropped
        if now.utterance != settled.utterance or not 0 <= dropped < len(samples):
            return None
        return samples[dropped:], now

    def _remember(self, new: _Known) -> None:
        """Keep `new` with the known starts it continues (others were another utterance).
        They are prefixes of one another, kept as views of the newest samples: one array."""
        samples = new.samples
        kept = [known for known in self._known if len(known.samples) < len(samples)]
        while kept and not np.array_equal(samples[: len(kept[-1].samples)], kept[-1].samples):
            kept.pop()
        views = [_Known(samples[: len(known.samples)], known.transcript) for known in kept]
        self._known = [*views, new][-KNOWN_KEPT:]

    def _known_start(self, samples: np.ndarray) -> _Known | None:
        """The longest known start of the utterance that `samples` are which leaves enough
        after it to hear alone, if there is one."""
        for known in reversed(self._known):
            end = len(known.samples)
            if len(samples) - end >= TAIL_MIN_SAMPLES and np.array_equal(
                samples[:end], known.samples
            ):
                return known
        return None

    async def _hear_after(
        self, known: _Known, samples: np.ndarray, pinned: str | None, ticket: Ticket
    ) -> Spoken:
        language = pinned or known.transcript.language
        rest, ms = await self._port.transcribe(
            samples[len(known.samples) :], pinned=language, ticket=ticket
        )
        before = known.transcript
        text = " ".join(part for part in (before.text.strip(), rest.text.strip()) if part)
        whole = dataclasses.replace(
            rest, text=text, language=language, duration=before.duration + rest.duration
        )
        return whole, ms

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
