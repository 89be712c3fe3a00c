"""Cutting text, whole or streamed token by token, into speakable pieces."""

from __future__ import annotations

import random

import pytest

from core.tts.text import MAX_PIECE_CHARS, SentenceBuffer, speakable, split_sentences

CASES = {
    "sentences": (
        "Hello there. How are you? I am fine!",
        ["Hello there.", "How are you?", "I am fine!"],
    ),
    "titles and times": (
        "Dr. Smith met Mrs. Jones at 3.5 p.m. on Main St. yesterday. Then they left.",
        ["Dr. Smith met Mrs. Jones at 3.5 p.m. on Main St. yesterday.", "Then they left."],
    ),
    "e.g. and i.e.": (
        "Take a fruit, e.g. an apple. Or a nut, i.e. a Brazil nut.",
        ["Take a fruit, e.g. an apple.", "Or a nut, i.e. a Brazil nut."],
    ),
    "decimals": (
        "Pi is about 3.14159 and e is 2.718. Both are irrational.",
        ["Pi is about 3.14159 and e is 2.718.", "Both are irrational."],
    ),
    "ellipses": (
        "Wait... what? Well… I think so. Okay...",
        ["Wait... what?", "Well…", "I think so.", "Okay..."],
    ),
    "spanish": (
        "¿Dónde está la biblioteca? ¡Hola! Me llamo Ana, ¿y tú?",
        ["¿Dónde está la biblioteca?", "¡Hola!", "Me llamo Ana, ¿y tú?"],
    ),
    "french": (
        "M. Dupont habite à Paris. Il aime le café !",
        ["M. Dupont habite à Paris.", "Il aime le café !"],
    ),
    "quotes": ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    "initials and years": (
        "J. R. R. Tolkien wrote books. He was born in 1892. Then he moved.",
        ["J. R. R. Tolkien wrote books.", "He was born in 1892.", "Then he moved."],
    ),
    "numbered steps": (
        "Steps: 1. Mix the flour. 2. Bake it.",
        ["Steps: 1. Mix the flour.", "2. Bake it."],
    ),
    "lines": ("First line\nSecond line\n\nThird", ["First line", "Second line", "Third"]),
    "cjk": ("你好。我很好！", ["你好。", "我很好！"]),
    "long sentence in clauses": (
        "When the weather is nice and warm in the summer, we like to go to the beach with "
        "our friends; and we stay there until the sun goes down over the sea.",
        [
            "When the weather is nice and warm in the summer,",
            "we like to go to the beach with our friends;",
            "and we stay there until the sun goes down over the sea.",
        ],
    ),
    "short sentence keeps its commas": (
        "Yes, of course, I can help. Sure.",
        ["Yes, of course, I can help.", "Sure."],
    ),
    "nothing to say": ("  ... !! ", []),
}


@pytest.mark.parametrize("name", CASES)
def test_split_sentences(name: str) -> None:
    text, expected = CASES[name]
    assert split_sentences(text) == expected


def test_a_long_run_without_punctuation_is_cut_at_a_space() -> None:
    text = "word " * 120
    pieces = split_sentences(text)
    assert len(pieces) > 1
    assert all(len(p) <= MAX_PIECE_CHARS for p in pieces)
    assert " ".join(pieces).split() == text.split()


@pytest.mark.parametrize("name", CASES)
def test_streamed_text_gives_the_same_pieces_in_any_chunking(name: str) -> None:
    text, _ = CASES[name]
    expected = split_sentences(text)
    for seed in range(25):
        rng = random.Random(seed)
        buffer = SentenceBuffer()
        pieces: list[str] = []
        i = 0
        while i < len(text):
            size = rng.randint(1, 8)
            pieces += buffer.feed(text[i : i + size])
            i += size
        pieces += buffer.flush()
        assert pieces == expected, f"seed {seed}"


def test_a_piece_is_handed_back_as_soon_as_the_next_word_starts() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("Hello there") == []
    assert buffer.feed(".") == []  # could still be "..." or a closing quote
    assert buffer.feed(" ") == []  # the next word decides (a lower-case one continues)
    assert buffer.feed("How") == ["Hello there."]
    assert buffer.feed(" are you?") == []
    assert buffer.flush() == ["How are you?"]
    assert buffer.flush() == []


def test_dr_is_not_an_end_even_when_streamed() -> None:
    buffer = SentenceBuffer()
    assert buffer.feed("Ask Dr. ") == []
    assert buffer.feed("Smith. Now") == ["Ask Dr. Smith."]


def test_speakable_drops_markdown() -> None:
    text = "## Plan\n**Bold** and *it* with `code`, see [docs](http://x.y).\n- one\n2. two"
    assert speakable(text) == "Plan\nBold and it with code, see docs.\none\ntwo"


# A phrase for a voice that must not wait for the sentence's end (`take_phrase`).
PHRASES = [
    # (text so far, min words, the phrase cut, what stays)
    (
        "This quote from President Lincoln is a powerful ",
        3,
        "This quote from President Lincoln",
        "is a powerful ",
    ),
    ("Paris, the capital", 1, "Paris,", " the capital"),
    ("The capital of France", 3, None, "The capital of France"),  # 2 words before "of"
    ("Der höchste Berg ist die Zugspitze und ", 3, "Der höchste Berg ist die Zugspitze", "und "),
    ("La capitale de la France est ", 3, "La capitale de la France", "est "),
    # A last word still being written that reads as a phrase start counts as one; if it
    # grows into another word ("island"), the cut was still between two whole words.
    ("La capitale de la France est", 3, "La capitale de la France", "est"),
    ("The capital of Italy is", 3, "The capital of Italy", "is"),
    ("Una casa e", 2, None, "Una casa e"),  # "e" may be the start of any word
    ("Well, I think", 3, None, "Well, I think"),  # too few words before the comma
    ("The importance", 3, None, "The importance"),  # no boundary yet
    ("It was a cold day that ", 3, "It was a cold day", "that "),
    ("It was a cold day that", 3, "It was a cold day", "that"),
    # A sentence that seems to end with the text so far is taken whole at once.
    ("Spiders have eight legs.", 3, "Spiders have eight legs.", ""),
    ("Is it big?", 3, "Is it big?", ""),
    ('He said "yes."', 3, 'He said "yes."', ""),
    ("Call Dr.", 2, None, "Call Dr."),  # an abbreviation: a name follows
    ("The answer is 3.", 3, None, "The answer is 3."),  # or 3.5
    ("Well.", 3, None, "Well."),  # too few words
]


@pytest.mark.parametrize(("text", "words", "phrase", "rest"), PHRASES)
def test_take_phrase_cuts_whole_words_at_a_natural_boundary(
    text: str, words: int, phrase: str | None, rest: str
) -> None:
    buffer = SentenceBuffer()
    assert buffer.feed(text) == []
    assert buffer.take_phrase(min_words=words) == phrase
    assert buffer.pending.strip() == rest.strip()


def test_after_a_phrase_the_sentence_goes_on_as_one_piece() -> None:
    buffer = SentenceBuffer()
    buffer.feed("The capital of France is Paris")
    assert buffer.take_phrase(min_words=3) == "The capital of France"
    assert buffer.feed(". It is big.") == ["is Paris."]
    assert buffer.flush() == ["It is big."]
