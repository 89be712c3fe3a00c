"""An answer the model doubts says so after the sentence it is about, in the user's language:
streamed, and stored, as part of the answer."""

from __future__ import annotations

import asyncio

import pytest

from core.llm.doubt import Unsure
from core.results import AnswerDelta
from core.turns.answer_loop import AnswerLoop
from core.turns.hedge import CAVEATS, asks, between_sentences


class Scripted:
    """A language model that streams the given pieces, `Unsure` among them."""

    name = "scripted"
    is_local = True
    calls_tools = False
    lock = None
    context_tokens = 4096

    def __init__(self, pieces: list[object]) -> None:
        self.pieces = pieces

    def stream(self, messages, *, max_tokens, tools=None):  # type: ignore[no-untyped-def]
        yield from self.pieces


class NoTools:
    def specs(self) -> None:
        return None


def answered(pieces: list[object], language: str = "en", *, may_hedge: bool = True) -> str:
    from core.providers import Providers

    providers = Providers(stt=None, llm=Scripted(pieces), tts=None)  # type: ignore[arg-type]
    loop = AnswerLoop(
        providers,
        NoTools(),  # type: ignore[arg-type]
        max_tokens=64,
        start=0.0,
        owner="test",
        language=language,
        may_hedge=may_hedge,
    )

    async def run() -> str:
        streamed = "".join([e.text async for e in loop.run([]) if isinstance(e, AnswerDelta)])
        assert streamed == loop.text
        return streamed

    return asyncio.run(run())


def test_the_caveat_follows_the_sentence_the_doubted_clause_is_in() -> None:
    pieces = ["Die", " Mauer", " fiel", " 1961", ".", Unsure(-0.3), " Sie", " stand", "."]

    assert answered(pieces, "de") == (
        "Die Mauer fiel 1961. Aber ich bin mir nicht sicher, ob das stimmt. Sie stand."
    )


def test_the_caveat_waits_for_the_end_of_the_sentence_or_of_the_answer() -> None:
    clause = ["The", " Loire", ",", Unsure(-0.4), " at", " 1", ".", "7", " km"]

    assert answered(clause, "en") == "The Loire, at 1.7 km But I'm not sure about that."
    assert answered(["Sì", "!", Unsure(-0.2)], "it") == "Sì! Però non sono sicuro che sia così."


def test_a_computed_answer_and_a_sure_one_say_nothing_more() -> None:
    assert answered(["Sechsundsechzig", ".", Unsure(-0.5)], "de", may_hedge=False) == (
        "Sechsundsechzig."
    )
    assert answered(["Rome", ".", " It", "."], "en") == "Rome. It."


@pytest.mark.parametrize(
    ("text", "following", "between"),
    [("1961.", " Sie", True), ("3.", "5", False), ("Oui !", " Et", True), ("Rome", " is", False)],
)
def test_a_new_sentence_begins_after_a_mark_and_a_space(
    text: str, following: str, between: bool
) -> None:
    assert between_sentences(text, following) is between


def test_every_caveat_is_one_the_quality_bench_counts_as_hedged() -> None:
    from bench.expected import hedged as counted
    from bench.quality import plain

    for language, words in CAVEATS.items():
        assert counted(plain(words), language), language


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("What is the capital of Italy?", True),
        ("wer hat die Relativitätstheorie entwickelt", True),  # a transcript without its "?"
        ("¿Cuál es el río más largo?", True),
        ("Quanti giorni ha una settimana", True),
        ("I finally finished reading my first book.", False),
        ("Mein Computer ist gerade abgestürzt.", False),
        ("Je suis rentré de vacances hier.", False),
    ],
)
def test_only_a_question_may_be_answered_with_a_doubt(text: str, question: bool) -> None:
    assert asks(text) is question
