"""Serve every request: when the cloud provider fails, the local model takes the turn."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from core.audio import DecodedAudio
from core.concurrency import abandoned
from core.errors import ProviderError, TranscriptionError
from core.llm import LLM, ChatMessage
from core.llm.doubt import Unsure
from core.stt import STT, Transcript
from core.tools import JsonObject, ToolCall

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Switch:
    """The primary LLM failed; `provider` answers from here on. `restart` means text already
    streamed from the failed provider must be discarded."""

    provider: str
    reason: str
    restart: bool


def transcribe(
    primary: STT,
    fallback: STT | None,
    audio: DecodedAudio,
    *,
    language: str | None,
) -> Transcript:
    """Transcribe with `primary`, or with `fallback` (recording why) when the primary fails.

    If the call was abandoned by the time the primary fails (`core.concurrency.Ticket`), its
    error is raised instead: nobody waits for this transcript any more (a speculative one the
    user talked past), and the local model's time is better left to the transcriptions that
    are still wanted.
    """
    try:
        return primary.transcribe(audio, language=language)
    except (ProviderError, TranscriptionError) as exc:
        if fallback is None or abandoned():
            raise
        reason = f"{primary.name} failed ({exc}); served by {fallback.name}"
        logger.warning("Speech-to-text fallback: %s", reason)
        result = fallback.transcribe(audio, language=language)
        return dataclasses.replace(result, fallback=reason)


def stream_answer(
    primary: LLM,
    fallback: LLM | None,
    messages: list[ChatMessage],
    *,
    max_tokens: int,
    tools: list[JsonObject] | None = None,
) -> Iterator[Token | ToolCall | Switch | Unsure]:
    """Stream tokens (and tool calls) from `primary`; on failure, before or during the stream,
    switch once."""
    emitted = False
    try:
        for piece in primary.stream(messages, max_tokens=max_tokens, tools=tools):
            emitted = True
            yield Token(piece) if isinstance(piece, str) else piece
        return
    except ProviderError as exc:
        if fallback is None:
            raise
        reason = f"{primary.name} failed ({exc}); served by {fallback.name}"
        logger.warning("LLM fallback: %s", reason)
    yield Switch(provider=fallback.name, reason=reason, restart=emitted)
    for piece in fallback.stream(messages, max_tokens=max_tokens, tools=tools):
        yield Token(piece) if isinstance(piece, str) else piece
