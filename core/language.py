"""Detect the language of what the user said, robustly even on a few words."""

from __future__ import annotations

import logging
import re
import threading

from core.errors import InvalidInputError

logger = logging.getLogger(__name__)

AUTO = "auto"

NAMES: dict[str, str] = {
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "tr": "Turkish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "ro": "Romanian",
    "hu": "Hungarian",
    "el": "Greek",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ca": "Catalan",
}

# Very common words: on a short utterance they say more than character statistics do.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the a an is are was what who how why where when do does you i my your it this that "
        "and of to in can could would please hello hi thanks thank yes no tell me".split()
    ),
    "fr": frozenset(
        "le la les un une est sont et de des du que qui quoi comment pourquoi où quand je tu "
        "vous il elle mon ma mes ton votre c'est bonjour salut merci oui non est-ce "
        "quelle quel pouvez peux dis-moi s'il plaît".split()
    ),
    "es": frozenset(
        "el la los las un una es son y de del que qué quién cómo por porqué dónde cuándo yo "
        "tú usted mi mis tu su hola gracias sí no puedes puede dime cuál favor está".split()
    ),
    "de": frozenset(
        "der die das ein eine ist sind und von zu wie was wer warum wo wann ich du sie mein "
        "hallo danke ja nein bitte kannst können".split()
    ),
    "it": frozenset(
        "il lo la gli le un una è sono e di che chi come perché dove quando io tu lei mio "
        "ciao grazie sì puoi".split()
    ),
    "pt": frozenset(
        "o a os as um uma é são e de do da que quem como porque onde quando eu você meu "
        "olá obrigado obrigada sim não pode".split()
    ),
}
_MARKS = {"es": "ñ¿¡", "fr": "çœêèàùâîôû", "de": "ßäöü", "pt": "ãõ"}
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
_lock = threading.Lock()
_ready = False


def validate(value: str | None) -> str | None:
    """Accept None, "auto" or a known ISO 639-1 code, else raise `InvalidInputError`."""
    if value is None or value == AUTO or value in NAMES:
        return value
    raise InvalidInputError(
        f"Unknown language '{value}'. Use \"auto\" or one of: {', '.join(NAMES)}."
    )


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code, for prompts ("fr" -> "French")."""
    return NAMES.get(code, code)


def warm_up() -> None:
    """Load langdetect's profiles now rather than on the first user's turn."""
    global _ready
    with _lock:
        if not _ready:
            from langdetect import DetectorFactory, detect_langs

            DetectorFactory.seed = 0  # deterministic results
            detect_langs("warm up the language detector")
            _ready = True


def _stopword_votes(words: list[str], text: str) -> dict[str, float]:
    votes: dict[str, float] = {}
    for code, vocab in _STOPWORDS.items():
        hits = sum(1 for w in words if w in vocab)
        if hits:
            votes[code] = float(hits)
    for code, marks in _MARKS.items():
        if any(ch in marks for ch in text):
            votes[code] = votes.get(code, 0.0) + 1.5
    return votes


def detect(text: str, *, fallback: str) -> str:
    """The ISO 639-1 code of `text`'s language, or `fallback` when the text says too little.

    Long text goes to langdetect. Short text (a few words) is judged first on common words and
    accents, then on langdetect only when it is confident, and otherwise keeps `fallback`
    (the conversation's language so far), since statistics on three words are noise.
    """
    words = [w.lower() for w in _WORD.findall(text)]
    letters = sum(ch.isalpha() for ch in text)
    if letters < 2:
        return fallback
    warm_up()
    from langdetect import detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    try:
        guesses = detect_langs(text)
    except LangDetectException:
        guesses = []
    best = guesses[0] if guesses else None
    best_code = best.lang.split("-")[0] if best else None

    if len(words) >= 6 and best is not None and best.prob >= 0.8:
        return str(best_code)

    votes = _stopword_votes(words, text)
    if votes:
        ranked = sorted(votes.items(), key=lambda kv: kv[1], reverse=True)
        if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
            return ranked[0][0]
        if best_code in dict(ranked[:2]):
            return str(best_code)
    if best is not None and best.prob >= 0.95 and len(words) >= 3:
        return str(best_code)
    return fallback
