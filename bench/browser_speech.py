"""What the browser bench says: Piper speech for each scenario, made once for every app run."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from bench.browser_driver import LOUD, RATE
from bench.browser_scenarios import Line
from bench.common import speech_pcm16, speech_with_pauses
from bench.multiturn import BARGE_IN, SCRIPT

RECORDED = (
    "What is the capital of Italy?",
    "Um, |0.5| how many legs does a spider have?",
    "So, |0.4| which planet is the largest one?",
    "Er, |0.4| who wrote Romeo and Juliet?",
    "How many days are there in a week?",
    "Well, |0.5| what colour is the sky on a clear day?",
)
TYPED = (
    "What do bees make?",
    "Name a primary color.",
    "What is the opposite of hot?",
)
QUESTION = "What is the capital of France?"  # the other user's, over REST
# The nonstop talker: sentences said one after another with short pauses, for NONSTOP_S.
NONSTOP_S = 40.0
NONSTOP_PAUSES_S = (0.2, 0.35, 0.5, 0.25, 0.45, 0.3)
NONSTOP = (
    "I wanted to tell you about my trip to the mountains last summer",
    "We drove for six hours before we reached the little village at the end of the valley",
    "The weather was warm during the day but the nights were really cold",
    "Every morning we walked up to the lake and watched the fog lift over the water",
    "My brother caught a fish on the second day and we cooked it over a small fire",
    "On the way back we stopped at a farm that sold fresh cheese and bread",
    "I think we will go back next year with the whole family",
    "There is also a path along the river that we did not have time to explore",
)


@dataclass(frozen=True)
class Speech:
    hands_free: list[Line]
    recorded: list[Line]
    typed: tuple[str, ...]
    question: str
    nonstop: bytes  # PCM16 at RATE


def trimmed(pcm: bytes) -> np.ndarray:
    """The samples of `pcm` from its first voiced sample to its last."""
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > LOUD)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]


def nonstop_pcm() -> bytes:
    """NONSTOP's sentences, trimmed and joined by NONSTOP_PAUSES_S in turn, for NONSTOP_S."""
    sentences = [trimmed(pcm) for pcm in speech_pcm16(NONSTOP, RATE)]
    pieces: list[np.ndarray] = []
    total = 0
    pauses = itertools.cycle(NONSTOP_PAUSES_S)
    for sentence in itertools.cycle(sentences):
        if total >= NONSTOP_S * RATE:
            break
        if pieces:
            pieces.append(np.zeros(int(next(pauses) * RATE), dtype="<i2"))
        pieces.append(sentence)
        total += sum(len(p) for p in pieces[-2:])
    return np.concatenate(pieces).astype("<i2").tobytes()


def make_speech() -> Speech:
    """Every utterance of the bench, spoken by Piper (pauses cut in by speech_with_pauses)."""
    raw = [line.removeprefix(BARGE_IN) for line in SCRIPT]
    hands_free = [
        Line(text, pcm, line.startswith(BARGE_IN))
        for line, (text, pcm) in zip(SCRIPT, speech_with_pauses(raw, RATE), strict=True)
    ]
    recorded = [Line(text, pcm) for text, pcm in speech_with_pauses(RECORDED, RATE)]
    nonstop = nonstop_pcm()
    seconds = [round(len(line.pcm) / 2 / RATE, 1) for line in hands_free]
    print(f"Speech: hands-free lines of {seconds} s; nonstop {len(nonstop) / 2 / RATE:.1f} s")
    return Speech(hands_free, recorded, TYPED, QUESTION, nonstop)
