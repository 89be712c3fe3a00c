"""Cut text, whole or arriving token by token, into pieces a voice can speak one at a time."""

from __future__ import annotations

import re

# A piece is cut at a clause mark (, ; :) only when both sides have at least this many
# characters, so short sentences stay whole and long ones start playing sooner.
CLAUSE_MIN_CHARS = 40
# A run without any punctuation is cut at a space once it grows past this.
MAX_PIECE_CHARS = 250

_ENDS = ".!?…"
_CJK_ENDS = "。！？"
_CLAUSES = ",;:"
_CLOSERS = "\"'”’»)]」』"
_OPENERS = "\"'“‘«([¿¡"

# Words that a period follows without ending the sentence; lower case, no final dot. Dotted
# forms (e.g., i.e., p.ej., z.B.) and single letters (initials) are recognised by their shape.
ABBREVIATIONS = frozenset(
    # English
    "mr mrs ms dr prof sr jr st mt vs etc approx dept fig est cf "
    # French, Spanish, Italian, Portuguese
    "mme mlle mm pr sra srta dra ud uds pág núm sig dott av "
    # German
    "hr bzw usw ca evtl nr str".split()
)

# Words a spoken phrase may start with, by language: a piece cut just before one of them (a
# conjunction, a relative pronoun, a preposition, a linking verb) ends where a speaker could
# breathe, so a cut there sounds like a phrase rather than a word missing. Lower case.
PHRASE_STARTS = frozenset(
    # English
    "and but or so because which that who whom whose where when while if although though "
    "with without to for of in on at from by about into than as is are was were has have "
    # French
    "et mais ou donc car qui que dont où quand si avec sans pour de du des dans sur est sont "
    # Spanish
    "y pero porque quien cuando donde con sin para por del en es son "
    # German
    "und aber oder denn weil dass wenn als mit ohne für von zu im auf ist sind "
    # Italian
    "e ma perché che chi dove quando se con senza per di del della nel è sono".split()
)

_MARKDOWN = [
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE), ""),  # headings
    (re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+", re.MULTILINE), ""),  # list bullets and numbers
    (re.compile(r"(\*\*|__|\*|`+)"), ""),  # emphasis and code marks
]


def speakable(text: str) -> str:
    """Drop the markdown a chat model likes to write, which a voice would read out."""
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    return text


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _word_before(text: str, end: int) -> str:
    """The word that ends at `end` (exclusive), without opening quotes or brackets."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS)


def _is_abbreviation(word: str) -> bool:
    lowered = word.lower()
    if lowered in ABBREVIATIONS or ("." in word and any(ch.isalpha() for ch in word)):
        return True  # "Dr", "e.g", "U.S"; not "2.718"
    if len(word) == 1 and word.isalpha():  # an initial: "J. R. R. Tolkien"
        return True
    # "1." in a numbered list; larger numbers ("in 1990.") do end sentences.
    return word.isdigit() and len(word) <= 2


def _ends_sentence(word: str) -> bool:
    """Whether a sentence seems to end with `word`, the last one so far: "legs." or "so?",
    not "Dr.", "e.g.", "3." (a list or 3.5) or a word without a terminator."""
    bare = word.rstrip(_CLOSERS)
    if bare[-1:] in "!?…" or bare[-1:] in _CJK_ENDS:
        return _has_word(bare)
    if not bare.endswith(".") or bare.endswith(".."):
        return False
    stem = bare[:-1].lstrip(_OPENERS)
    return any(ch.isalpha() for ch in stem) and not _is_abbreviation(stem)


class SentenceBuffer:
    """Collect text as it streams in and hand back each piece as soon as it is complete.

    `feed` returns the pieces that the new text completed; `flush` returns what is left when
    the stream ends. Feeding a text in any chunking gives the same pieces as
    `split_sentences` on the whole text: a cut is only decided once the characters it depends
    on have arrived.
    """

    def __init__(
        self, *, clause_min: int = CLAUSE_MIN_CHARS, max_chars: int = MAX_PIECE_CHARS
    ) -> None:
        self._text = ""
        self._clause_min = clause_min
        self._max_chars = max_chars

    def set_limits(self, *, clause_min: int, max_chars: int) -> None:
        """Change where pieces are cut from now on (say, after an answer's first piece)."""
        self._clause_min = clause_min
        self._max_chars = max_chars

    @property
    def pending(self) -> str:
        """The text fed but not handed back in a piece yet."""
        return self._text

    def take_phrase(self, *, min_words: int, any_word: bool = False) -> str | None:
        """Cut the longest phrase the text so far allows, for a voice that must not wait for
        the sentence's end: up to its last clause mark (, ; :) or to just before its last
        phrase-starting word (`PHRASE_STARTS`), once at least `min_words` words come before
        the cut; with `any_word`, failing those, after its last whole word. Only whole words
        are cut (a word counts once a space follows it). None when there is no such cut yet.

        The voice is waiting, so two cuts do not wait for the next token as `feed` does: a
        sentence that seems to end with the text so far ("legs.", not "Dr." or "3.") is
        taken whole, and a last word still being written that reads as a phrase start ("is",
        "of") counts as one. If it grows into another word ("island"), the cut before it is
        still between two whole words."""
        text = self._text
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        complete = len(words) if text[-1:].isspace() else len(words) - 1
        if len(words) >= max(min_words, 1) and complete < len(words):
            if _ends_sentence(text[words[-1][0] : words[-1][1]]):
                piece, self._text = text.strip(), ""
                return piece
        cut = None
        for n in range(min_words, complete + 1):
            start, end = words[n - 1]
            word = text[start:end]
            if word[-1] in _CLAUSES or word.rstrip(_CLOSERS)[-1:] in _CLAUSES:
                cut = end
            elif n < len(words):
                following = text[words[n][0] : words[n][1]].strip(_OPENERS).lower()
                whole = n < complete or len(following) >= 2  # "e" may be "elephant"
                if whole and following in PHRASE_STARTS:
                    cut = end
        if cut is None and any_word and complete >= min_words:
            cut = words[complete - 1][1]
        if cut is None:
            return None
        piece, self._text = text[:cut].strip(), text[cut:]
        return piece if _has_word(piece) else None

    def feed(self, delta: str) -> list[str]:
        """Add streamed text; return the pieces it completed (often none)."""
        self._text += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """The stream has ended: return every remaining piece."""
        pieces = self._drain(final=True)
        rest, self._text = self._text.strip(), ""
        if _has_word(rest):
            pieces.append(rest)
        return pieces

    def _drain(self, *, final: bool) -> list[str]:
        pieces: list[str] = []
        while (cut := self._next_cut(final)) is not None:
            piece, self._text = self._text[:cut].strip(), self._text[cut:]
            if _has_word(piece):
                pieces.append(piece)
        return pieces

    def _next_cut(self, final: bool) -> int | None:
        """Where the first piece ends, or None when that is not known yet (or never)."""
        text = self._text
        size = len(text)
        i = 0
        while i < size:
            ch = text[i]
            if ch == "\n" and _has_word(text[:i]):
                return i + 1
            if ch in _ENDS or ch in _CJK_ENDS:
                cut = self._sentence_end(i, final)
                if cut is not None:
                    return cut if cut > 0 else None
                i = self._skip_run(i)
                continue
            if ch in _CLAUSES:
                cut = self._clause_end(i, final)
                if cut is not None:
                    return cut if cut > 0 else None
            if i >= self._max_chars:
                return self._hard_cut(i)
            i += 1
        return None

    def _skip_run(self, i: int) -> int:
        text = self._text
        while i < len(text) and (text[i] in _ENDS or text[i] in _CJK_ENDS):
            i += 1
        return i

    def _sentence_end(self, i: int, final: bool) -> int | None:
        """The cut after the terminator run at `i`; None if it does not end a sentence,
        0 if that depends on text that has not arrived yet."""
        text = self._text
        size = len(text)
        run_end = self._skip_run(i)
        end = run_end
        while end < size and text[end] in _CLOSERS:
            end += 1
        if end == size and not final:
            return 0  # closing quotes or more dots may follow
        run = text[i:run_end]
        if any(ch in _CJK_ENDS for ch in run):
            return end if _has_word(text[:end]) else None
        if end < size and not text[end].isspace():
            return None  # 3.5, e.g.x, www.example.com
        following = end
        while following < size and text[following].isspace():
            following += 1
        if following == size:
            if not final:
                return 0  # the next word decides
            return end if _has_word(text[:end]) else None
        if not _has_word(text[:i]):
            return None
        if "!" not in run and "?" not in run:
            # "Wait... what?" and "approx. five" go on; so do abbreviations before a name.
            if text[following].islower():
                return None
            if run == "." and _is_abbreviation(_word_before(text, i)):
                return None
        return end

    def _clause_end(self, i: int, final: bool) -> int | None:
        """The cut after a clause mark at `i` when the sentence is long on both sides."""
        text = self._text
        size = len(text)
        end = i + 1
        while end < size and text[end] in _CLOSERS:
            end += 1
        if end == size:
            return None if final else 0
        if not text[end].isspace() or len(text[:end].strip()) < self._clause_min:
            return None
        # The rest of the sentence must be long too: no sentence end within the next
        # `clause_min` characters. Wait until they have arrived (or the text has ended).
        window_end = end + self._clause_min
        if window_end >= size and not final:
            return 0
        for j in range(end, min(window_end, size)):
            if text[j] == "\n" or text[j] in _CJK_ENDS:
                return None
            if text[j] in _ENDS and (j + 1 == size or text[j + 1].isspace()):
                return None
        if window_end > size:
            return None  # the text ends within the window
        return end

    def _hard_cut(self, i: int) -> int:
        """No punctuation for too long: cut at the last space (or right here)."""
        space = self._text.rfind(" ", 0, i)
        return space + 1 if space > 0 else i


def split_sentences(text: str) -> list[str]:
    """Split `text` into speakable pieces: sentences, and clauses of long sentences."""
    buffer = SentenceBuffer()
    return buffer.feed(text) + buffer.flush()
