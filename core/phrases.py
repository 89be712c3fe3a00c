"""Fixed lines the agent says without its model (a goodbye, a filler), in the languages of the
bundled voices; `say` falls back to English for any other."""

from __future__ import annotations

from enum import StrEnum


class Line(StrEnum):
    GOODBYE = "goodbye"
    TRANSFER = "transfer"
    FILLER = "filler"
    STILL_THERE = "still_there"
    IDLE_GOODBYE = "idle_goodbye"


_LINES: dict[Line, dict[str, str]] = {
    Line.GOODBYE: {
        "en": "Goodbye!",
        "fr": "Au revoir !",
        "es": "¡Adiós!",
        "de": "Auf Wiedersehen!",
        "it": "Arrivederci!",
        "pt": "Adeus!",
    },
    Line.TRANSFER: {
        "en": "I am putting you through to a person now.",
        "fr": "Je vous passe une personne tout de suite.",
        "es": "Le paso con una persona ahora mismo.",
        "de": "Ich verbinde Sie jetzt mit einer Person.",
        "it": "La metto in contatto con una persona adesso.",
        "pt": "Vou passar a chamada para uma pessoa agora.",
    },
    Line.FILLER: {
        "en": "One moment, please.",
        "fr": "Un instant, s'il vous plaît.",
        "es": "Un momento, por favor.",
        "de": "Einen Moment, bitte.",
        "it": "Un momento, per favore.",
        "pt": "Um momento, por favor.",
    },
    Line.STILL_THERE: {
        "en": "Are you still there?",
        "fr": "Vous êtes toujours là ?",
        "es": "¿Sigue ahí?",
        "de": "Sind Sie noch da?",
        "it": "È ancora lì?",
        "pt": "Ainda está aí?",
    },
    Line.IDLE_GOODBYE: {
        "en": "I have not heard from you, so I will hang up now. Goodbye!",
        "fr": "Je ne vous entends plus, je vais raccrocher. Au revoir !",
        "es": "No le oigo, así que voy a colgar. ¡Adiós!",
        "de": "Ich höre nichts mehr von Ihnen, ich lege jetzt auf. Auf Wiedersehen!",
        "it": "Non la sento più, quindi chiudo la chiamata. Arrivederci!",
        "pt": "Não o ouço mais, vou desligar agora. Adeus!",
    },
}


def say(line: Line, language: str) -> str:
    """`line` in `language` (English when it has no translation)."""
    return _LINES[line].get(language, _LINES[line]["en"])
