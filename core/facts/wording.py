"""A computed fact in words: the note the model reads after the user's message, and the
sentence the agent says itself when the model's answer lacks the value. Written per language,
with fixed names of days and months (strftime follows the process locale)."""

from __future__ import annotations

from datetime import datetime

from core.facts.arithmetic import Calculation
from core.facts.clock import Ask
from core.facts.lexicon import CUBED, PERCENT_OF, ROOT, SQUARED
from core.facts.numbers import written

# How each operator is written in the note (symbols a model reads in any language).
_SYMBOLS = {"+": "+", "-": "-", "*": "×", "/": "÷", "**": "^", ROOT: "√", SQUARED: "²", CUBED: "³"}
_PERCENT_OF = {"en": "% of", "de": "% von", "es": "% de", "fr": "% de", "it": "% di"}

# How each operator is said, for the sentence a voice reads.
_SAID: dict[str, dict[str, str]] = {
    "en": {"+": "plus", "-": "minus", "*": "times", "/": "divided by", "**": "to the power of",
           PERCENT_OF: "percent of", ROOT: "the square root of", SQUARED: "squared",
           CUBED: "cubed"},
    "de": {"+": "plus", "-": "minus", "*": "mal", "/": "geteilt durch", "**": "hoch",
           PERCENT_OF: "Prozent von", ROOT: "die Wurzel aus", SQUARED: "zum Quadrat",
           CUBED: "hoch 3"},
    "es": {"+": "más", "-": "menos", "*": "por", "/": "dividido entre", "**": "elevado a",
           PERCENT_OF: "por ciento de", ROOT: "la raíz cuadrada de", SQUARED: "al cuadrado",
           CUBED: "al cubo"},
    "fr": {"+": "plus", "-": "moins", "*": "fois", "/": "divisé par", "**": "puissance",
           PERCENT_OF: "pour cent de", ROOT: "la racine carrée de", SQUARED: "au carré",
           CUBED: "au cube"},
    "it": {"+": "più", "-": "meno", "*": "per", "/": "diviso", "**": "elevato a",
           PERCENT_OF: "per cento di", ROOT: "la radice quadrata di", SQUARED: "al quadrato",
           CUBED: "al cubo"},
}  # fmt: skip

# "{expression} is {result}."
_RESULT = {
    "en": "{} is {}.",
    "de": "{} ist {}.",
    "es": "{} es {}.",
    "fr": "{} vaut {}.",
    "it": "{} fa {}.",
}
_CALCULATOR = {
    "en": "Calculator",
    "de": "Taschenrechner",
    "es": "Calculadora",
    "fr": "Calculatrice",
    "it": "Calcolatrice",
}
_NOW = {"en": "Now", "de": "Jetzt", "es": "Ahora", "fr": "Maintenant", "it": "Adesso"}
# Said before the value when the agent says it itself: the answer before it may have said a
# wrong one, and the listener needs to know which to believe.
_SAYS = {
    "en": ("The calculator says: {}", "The clock says: {}"),
    "de": ("Der Taschenrechner sagt: {}", "Die Uhr sagt: {}"),
    "es": ("La calculadora dice: {}", "El reloj dice: {}"),
    "fr": ("La calculatrice dit : {}", "L'horloge dit : {}"),
    "it": ("La calcolatrice dice: {}", "L'orologio dice: {}"),
}

WEEKDAYS = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
    "es": "lunes martes miércoles jueves viernes sábado domingo",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "it": "lunedì martedì mercoledì giovedì venerdì sabato domenica",
}
MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre "
    "novembre dicembre",
}
_DATE = {
    "en": "{weekday}, {day} {month} {year}",
    "de": "{weekday}, {day}. {month} {year}",
    "es": "{weekday}, {day} de {month} de {year}",
    "fr": "{weekday} {day} {month} {year}",
    "it": "{weekday} {day} {month} {year}",
}
_CLOCK_SENTENCES: dict[str, dict[Ask, str]] = {
    "en": {Ask.TIME: "It is {time}.", Ask.DATE: "Today is {date}.", Ask.YEAR: "It is {year}."},
    "de": {Ask.TIME: "Es ist {time}.", Ask.DATE: "Heute ist {date}.",
           Ask.YEAR: "Wir haben das Jahr {year}."},
    "es": {Ask.TIME: "Son las {time}.", Ask.DATE: "Hoy es {date}.",
           Ask.YEAR: "Estamos en {year}."},
    "fr": {Ask.TIME: "Il est {time}.", Ask.DATE: "Nous sommes le {date}.",
           Ask.YEAR: "Nous sommes en {year}."},
    "it": {Ask.TIME: "Sono le {time}.", Ask.DATE: "Oggi è {date}.", Ask.YEAR: "Siamo nel {year}."},
}  # fmt: skip
# One o'clock is singular: "Es la 1:05", "È l'una e 5".
_ONE_OCLOCK = {"es": "Es la {time}.", "it": "È l'una e {minute}."}


def _pieces(calculation: Calculation, language: str, *, said: bool) -> str:
    words = []
    for piece in calculation.pieces:
        if isinstance(piece, str):
            if said:
                words.append(_SAID[language][piece])
            elif piece == PERCENT_OF:
                words.append(_PERCENT_OF[language])
            else:
                words.append(_SYMBOLS[piece])
        else:
            number = int(piece) if piece == piece.to_integral_value() else float(piece)
            words.append(written(number, language, money=False))
    text = " ".join(words)
    if not said:  # √81, 3², not √ 81, 3 ²
        text = text.replace("√ ", "√").replace(" ²", "²").replace(" ³", "³")
    return text


def result_text(calculation: Calculation, language: str) -> str:
    """The result as the language writes it ("6,30" for 15 % of 42 euros in German)."""
    return written(calculation.value, language, money=calculation.money)


def calculation_note(calculation: Calculation, language: str) -> str:
    """What the model reads: "(Taschenrechner: 11 × 6 = 66)"."""
    result = result_text(calculation, language)
    shown = float(written(calculation.value, "en"))
    sign = "=" if shown == calculation.value else "≈"
    expression = _pieces(calculation, language, said=False)
    return f"({_CALCULATOR[language]}: {expression} {sign} {result})"


def _attributed(sentence: str, language: str, source: int) -> str:
    """ "Der Taschenrechner sagt: 11 mal 6 ist 66." (German capitalises after the colon)."""
    if language != "de":
        sentence = sentence[0].lower() + sentence[1:]
    return _SAYS[language][source].format(sentence)


def calculation_sentence(calculation: Calculation, language: str) -> str:
    """What a voice says when the answer lacks the result: "Der Taschenrechner sagt: 11 mal 6
    ist 66."."""
    expression = _pieces(calculation, language, said=True)
    sentence = _RESULT[language].format(expression, result_text(calculation, language))
    return _attributed(sentence[0].upper() + sentence[1:], language, 0)


def clock_time(moment: datetime, language: str) -> str:
    """ "14:05" ("14:05 Uhr", "14 h 05")."""
    if language == "fr":
        return f"{moment.hour} h {moment.minute:02d}"
    if language == "de":
        return f"{moment.hour}:{moment.minute:02d} Uhr"
    return f"{moment.hour}:{moment.minute:02d}"


def clock_date(moment: datetime, language: str) -> str:
    """ "Saturday, 5 December 2026" ("Samstag, 5. Dezember 2026")."""
    return _DATE[language].format(
        weekday=WEEKDAYS[language].split()[moment.weekday()],
        day=moment.day,
        month=MONTHS[language].split()[moment.month - 1],
        year=moment.year,
    )


def clock_note(moment: datetime, language: str) -> str:
    """What the model reads: "(Now: 14:05, Saturday, 5 December 2026)"."""
    return f"({_NOW[language]}: {clock_time(moment, language)}, {clock_date(moment, language)})"


def clock_sentence(ask: Ask, moment: datetime, language: str) -> str:
    """What a voice says when the answer lacks the time, the date or the year: "The clock
    says: it is 14:05."."""
    template = _CLOCK_SENTENCES[language][ask]
    if ask is Ask.TIME and moment.hour == 1:
        template = _ONE_OCLOCK.get(language, template)
        if language == "it" and moment.minute == 0:
            template = "È l'una in punto."
    sentence = template.format(
        time=clock_time(moment, language),
        minute=moment.minute,
        date=clock_date(moment, language),
        year=moment.year,
    )
    return _attributed(sentence, language, 1)
