"""The one place a turn's language and personality are decided.

Every channel asks here: REST, the page, the live conversation and the phone. The rules:

- **Language**: the session's pinned language, else the user's, else what was heard (the
  speech recogniser's verdict on a recording, or detection on typed text, which leans to the
  conversation's last language on a message too short to tell; where the numbers of a typed
  question read in one language only, that one: "Elf mal sechs?" is German), else the
  server's default.
- **Personality**: the turn's own choice, the session's, the user's, else the default; a
  custom personality without its prompt falls back to the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import language, personalities
from core.config import Settings
from core.facts import Fact, find_fact
from core.history import SessionRecord, UserRecord


def pinned_language(user: UserRecord, session: SessionRecord | None) -> str | None:
    """The language a session (if any yet) or user has pinned, or None for detection."""
    for value in (session.language if session else None, user.language):
        if value and value != language.AUTO:
            return value
    return None


@dataclass(frozen=True)
class TurnContext:
    """Who a turn is for and how it is answered, decided once."""

    user: UserRecord
    session: SessionRecord | None
    settings: Settings

    @property
    def pinned(self) -> str | None:
        """The language the session or user has pinned, or None: then it is detected."""
        return pinned_language(self.user, self.session)

    def language(
        self, *, heard: str | None = None, text: str | None = None, prior: str | None = None
    ) -> str:
        """The turn's language: pinned, else `heard` (the recogniser's verdict), else detected
        on `text` (leaning to `prior`, the conversation's last language), else `prior`, else
        the server's default."""
        pinned = self.pinned
        if pinned:
            return pinned
        if heard:
            return heard
        fallback = prior or self.settings.default_language
        if text:
            return language.detect(text, fallback=fallback)
        return fallback

    def typed(self, text: str, *, prior: str | None) -> tuple[str, Fact | None]:
        """A typed message's language and the fact it asks for (core/facts): detected, unless
        pinned, and where only another language reads its numbers ("Elf mal sechs?", which
        detection calls English), that language."""
        lang = self.language(text=text, prior=prior)
        fact = self.fact(text, lang, settled=self.pinned is not None)
        return (fact.language if fact else lang), fact

    def fact(self, text: str, lang: str, *, settled: bool = True) -> Fact | None:
        """The fact `text` asks for, read in `lang` (in others too unless `settled`: pinned,
        or heard by the recogniser), on the user's clock."""
        return find_fact(text, language=lang, time_zone=self.time_zone, settled=settled)

    def personality(self, *overrides: str | None) -> tuple[str, str | None]:
        """The personality (the first of `overrides` given, the session's, the user's, else
        the default) and the custom prompt; a custom one without a prompt falls back."""
        session, user = self.session, self.user
        default = self.settings.default_personality
        for value in (*overrides, session.personality if session else None, user.personality):
            if value:
                name = value
                break
        else:
            name = default
        custom = (session.custom_prompt if session else None) or user.custom_prompt
        if name == personalities.CUSTOM and not custom:
            name = default
        return name, custom

    @property
    def time_zone(self) -> str:
        """The zone the user's clock reads in."""
        return self.user.time_zone or self.settings.time_zone
