"""What the model is asked: the system prompt of a personality and language, the history that
fits, the new message; and whose personality and language a turn gets. No I/O."""

from __future__ import annotations

from core import personalities
from core.config import Settings
from core.errors import InvalidInputError
from core.history import TurnRecord
from core.llm import ChatMessage
from core.providers import Providers

# Tokens kept free beyond the answer itself, for the chat template's own markers.
_TEMPLATE_MARGIN = 64


def with_reminder(text: str, language: str, previous: str | None) -> str:
    """A user message as the model sees it. When the user changes language, the message ends
    with a reminder in the new one: small models follow the conversation's earlier language
    over the system prompt. Otherwise it is left alone, as measured on the evaluation set: a
    reminder on every message made them repeat statements back. It depends only on the turn
    and the one before it, so the prompt of the next turn starts with the tokens of this one
    and llama.cpp reuses its cache instead of reading the history again."""
    if previous is None or previous == language:
        return text
    return f"{text}\n\n{personalities.reply_reminder(language)}"


class Prompts:
    """Builds prompts that fit the models' context and the server's per-message limit."""

    def __init__(self, settings: Settings, providers: Providers) -> None:
        self.settings = settings
        self.providers = providers

    def build_messages(
        self,
        history: list[TurnRecord],
        user_text: str,
        *,
        language: str,
        personality: str,
        custom: str | None,
        reserved: int = 0,
        note: str | None = None,
    ) -> list[ChatMessage]:
        """System prompt, as many earlier turns as fit the model's context, the new message.
        `reserved` tokens are kept free (the tools' descriptions). A `note` (a computed fact,
        core/facts) ends the new message: the prompt's beginning, and so the model's cache of
        it, stays the same. `InvalidInputError` for a message too long to be read."""
        llm = self.providers.llm
        system = personalities.system_prompt(personality, custom_prompt=custom, language=language)
        budget = min(llm.context_tokens, self.settings.llm_context_tokens)
        if self.providers.llm_fallback is not None:
            budget = min(budget, self.providers.llm_fallback.context_tokens)
        budget -= self.settings.llm_max_tokens + _TEMPLATE_MARGIN + reserved
        message_tokens = self.tokens(user_text)
        budget -= self.tokens(system) + message_tokens + (self.tokens(note) if note else 0)
        if budget < 0:
            raise InvalidInputError(
                "The message (with the personality's prompt) is too long for the language "
                f"model by about {-budget} tokens; send a shorter one."
            )
        limit = self.message_token_limit()
        if limit is not None and message_tokens > limit:
            raise InvalidInputError(
                f"The message is {message_tokens} tokens long; this server reads at most {limit} "
                f"tokens per message (about {self.settings.max_prompt_seconds:g} s of its local "
                "model's time, MAX_PROMPT_SECONDS). Send a shorter one."
            )
        previous = [None, *(turn.language for turn in history)]
        earlier: list[ChatMessage] = []
        for turn, before in zip(reversed(history), reversed(previous[:-1]), strict=True):
            if not turn.answer:
                continue
            cost = self.tokens(turn.user_text) + self.tokens(turn.answer) + 8
            if cost > budget:
                break
            budget -= cost
            earlier[:0] = [
                ChatMessage("user", with_reminder(turn.user_text, turn.language, before)),
                ChatMessage("assistant", turn.answer),
            ]
        text = f"{user_text}\n\n{note}" if note else user_text
        return [
            ChatMessage("system", system),
            *earlier,
            ChatMessage("user", with_reminder(text, language, previous[-1])),
        ]

    def message_token_limit(self) -> int | None:
        """The longest message, in tokens, that the local model reads within MAX_PROMPT_SECONDS
        (so one request cannot hold it for half a minute); None with a cloud model first, or
        before the reading speed is measured."""
        speed = self.providers.prompt_tokens_per_s
        if speed is None or not self.providers.llm.is_local:
            return None
        return max(64, int(speed * self.settings.max_prompt_seconds))

    def tokens(self, text: str) -> int:
        counter = self.providers.llm_fallback or self.providers.llm
        return counter.count_tokens(text)
