"""The words of an arithmetic question in each language: operators, the small numbers that
text2num leaves as words, and every other word such a question may hold. A message with any
word outside these is not read as arithmetic, which is what keeps false triggers at zero."""

from __future__ import annotations

from dataclasses import dataclass

# What an operator phrase stands for: a binary operator of the calculator, or one of these.
PERCENT_OF = "%of"  # "15 % of 80": (15 / 100) * 80
SQUARED = "**2"  # postfix
CUBED = "**3"  # postfix
ROOT = "sqrt"  # prefix: "the square root of 81"

# Symbols read the same in every language ("12 × 3", "2^10", "15 % of 80").
SYMBOLS = {
    "+": "+",
    "-": "-",
    "−": "-",
    "*": "*",
    "×": "*",
    "·": "*",
    "x": "*",
    "/": "/",
    "÷": "/",
    "^": "**",
    "**": "**",
    "²": SQUARED,
    "³": CUBED,
    "√": ROOT,
}

# Money may stand beside any number; an amount of money is said with two decimals.
CURRENCIES = frozenset(
    "€ $ £ euro euros eur dollar dollars dólar dólares dollari pound pounds bucks franken "
    "francs franchi franco francos pesos peso".split()
)


@dataclass(frozen=True)
class Lexicon:
    """One language's arithmetic words, lower case."""

    operators: dict[tuple[str, ...], str]  # a phrase -> a calculator operator or the above
    small: dict[str, int]  # number words text2num leaves as words when they stand alone
    of: frozenset[str]  # "of" after a percentage ("15 % of 80", "15 % tip on 42 euros")
    tips: frozenset[str]  # a tip is a percentage of a bill
    fillers: frozenset[str]  # every other word the question may hold


def _phrases(table: dict[str, str]) -> dict[tuple[str, ...], str]:
    return {tuple(phrase.split()): operator for phrase, operator in table.items()}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEXICONS: dict[str, Lexicon] = {
    "en": Lexicon(
        operators=_phrases(
            {
                "plus": "+",
                "and": "+",
                "added to": "+",
                "minus": "-",
                "less": "-",
                "take away": "-",
                "times": "*",
                "multiplied by": "*",
                "divided by": "/",
                "over": "/",
                "to the power of": "**",
                "to the power": "**",
                "raised to the power of": "**",
                "raised to the": "**",
                "raised to": "**",
                "to the": "**",
                "squared": SQUARED,
                "cubed": CUBED,
                "square root of": ROOT,
                "the square root of": ROOT,
            }
        ),
        small={"zero": 0, "one": 1, "two": 2, "three": 3, "second": 2, "third": 3},
        of=_words("of on for"),
        tips=_words("tip tips"),
        fillers=_words(
            "what what's whats is are how much many does do make makes equal equals calculate "
            "compute work out tell me please can could would you the result answer of a an so "
            "then hey ok okay quick quickly exactly i i'd need want like to know give again "
            "now in total be will it that this say let's let see um uh well just is it's if "
            "get we with = ? ! . , : ;"
        ),
    ),
    "de": Lexicon(
        operators=_phrases(
            {
                "plus": "+",
                "und": "+",
                "minus": "-",
                "weniger": "-",
                "mal": "*",
                "multipliziert mit": "*",
                "geteilt durch": "/",
                "dividiert durch": "/",
                "durch": "/",
                ":": "/",
                "hoch": "**",
                "zum quadrat": SQUARED,
                "quadrat": SQUARED,
                "die wurzel aus": ROOT,
                "wurzel aus": ROOT,
                "die quadratwurzel aus": ROOT,
                "die quadratwurzel von": ROOT,
                "quadratwurzel aus": ROOT,
                "quadratwurzel von": ROOT,
            }
        ),
        small={"null": 0, "eins": 1, "ein": 1, "eine": 1, "zwei": 2, "drei": 3},
        of=_words("von auf für"),
        tips=_words("trinkgeld"),
        fillers=_words(
            "was ist sind wie viel viele wieviel macht machen ergibt ergeben gibt das die der "
            "den dem ein eine einen rechne rechnen berechne berechnen mir mal du sie kannst "
            "können könntest könnten bitte sag sage sagen weißt weisst wissen ich möchte will "
            "gern gerne gleich genau denn eigentlich noch hallo hey ok okay also dann zusammen "
            "ergebnis resultat von insgesamt es bei wäre waere hätte ich's schnell = ? ! . , ;"
        ),
    ),
    "es": Lexicon(
        operators=_phrases(
            {
                "más": "+",
                "mas": "+",
                "y": "+",
                "menos": "-",
                "por": "*",
                "multiplicado por": "*",
                "veces": "*",
                "dividido entre": "/",
                "dividido por": "/",
                "dividido para": "/",
                "entre": "/",
                "elevado a la": "**",
                "elevado a": "**",
                "a la": "**",
                "al cuadrado": SQUARED,
                "al cubo": CUBED,
                "la raíz cuadrada de": ROOT,
                "raíz cuadrada de": ROOT,
                "la raiz cuadrada de": ROOT,
                "raiz cuadrada de": ROOT,
            }
        ),
        small={
            "cero": 0,
            "uno": 1,
            "una": 1,
            "un": 1,
            "dos": 2,
            "tres": 3,
            "segunda": 2,
            "tercera": 3,
        },
        of=_words("de del sobre para en"),
        tips=_words("propina"),
        fillers=_words(
            "qué que cuánto cuanto cuánta cuanta es son da dan hace hacen resulta igual a el "
            "la los las lo un una de del resultado calcula calcular calcúlame calculame dime "
            "me puedes podrías podrias puede podría podria por favor cuál cual sabes hola "
            "oye total en entonces exactamente sería seria quiero saber rápido rapido = ? ! "
            ". , ; ¿ ¡"
        ),
    ),
    "fr": Lexicon(
        operators=_phrases(
            {
                "plus": "+",
                "et": "+",
                "moins": "-",
                "fois": "*",
                "multiplié par": "*",
                "multiplie par": "*",
                "divisé par": "/",
                "divise par": "/",
                "puissance": "**",
                "à la puissance": "**",
                "a la puissance": "**",
                "exposant": "**",
                "au carré": SQUARED,
                "au carre": SQUARED,
                "au cube": CUBED,
                "la racine carrée de": ROOT,
                "racine carrée de": ROOT,
                "la racine carree de": ROOT,
                "racine carree de": ROOT,
            }
        ),
        small={"zéro": 0, "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3},
        of=_words("de du des sur pour"),
        tips=_words("pourboire"),
        fillers=_words(
            "combien font fait faire fais égal égale égalent egal egale est c' c'est qu' que "
            "quel quelle est-ce le la les l' un une de du des résultat resultat calcule "
            "calculer calculez dis dites moi dis-moi dites-moi peux pouvez tu vous s' il te "
            "plaît plait ça ca bonjour salut alors donc exactement total au en je voudrais "
            "veux savoir sais rapidement me = ? ! . , ;"
        ),
    ),
    "it": Lexicon(
        operators=_phrases(
            {
                "più": "+",
                "piu": "+",
                "e": "+",
                "meno": "-",
                "per": "*",
                "moltiplicato per": "*",
                "volte": "*",
                "diviso per": "/",
                "diviso": "/",
                "elevato alla": "**",
                "elevato a": "**",
                "alla": "**",
                "al quadrato": SQUARED,
                "al cubo": CUBED,
                "la radice quadrata di": ROOT,
                "radice quadrata di": ROOT,
            }
        ),
        small={
            "zero": 0,
            "uno": 1,
            "una": 1,
            "un": 1,
            "due": 2,
            "tre": 3,
            "seconda": 2,
            "terza": 3,
        },
        of=_words("di del della dello su sul sulla sullo"),
        tips=_words("mancia"),
        fillers=_words(
            "quanto quant' quanti fa fanno è e' sono il lo la l' i gli le un uno una di del "
            "della risultato calcola calcolare calcolami dimmi mi puoi potresti può per favore "
            "cosa cos' che qual quale ciao allora esattamente totale in sai ecco uguale "
            "vorrei sapere = ? ! . , ;"
        ),
    ),
}
