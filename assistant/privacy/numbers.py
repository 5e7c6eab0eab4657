"""Number reading for `assistant.privacy.redaction`: digit words, digit units, grouping and checksums.

Internal to the redaction module; nothing here is public API. A "unit" is one token that stands
for one or more digits ("4111", "four", "double one", "twenty six", or a token with letters
glued to a long digit run such as "i87654321"); `redaction` joins units into runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ONES = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "niner": "9",
}  # fmt: skip
TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5",
    "sixty": "6", "seventy": "7", "eighty": "8", "ninety": "9",
}  # fmt: skip
ONES_ALT = "|".join(sorted(ONES, key=len, reverse=True))
NONZERO_ALT = "one|two|three|four|five|six|seven|eight|nine"
# Words that belong to numbers; they do not count as distance between a context word and a number.
# Separator words: Whisper writes a spoken "dash" as "-" or "dash", a "slash" as "/" or "slash".
SEPARATOR_WORDS = ("dash", "hyphen", "slash", "stroke", "underscore")
NUMBER_WORDS = set(ONES) | set(TEENS) | set(TENS) | {"double", "triple", "hundred", *SEPARATOR_WORDS}

# Written digits glued to letters with a short digit run ("7ABC123", "2nd", "W2", "1990s") are
# not numbers we redact. A token with a run of four or more digits and letters glued to it is:
# Whisper writes a misheard digit as a letter ("nine" -> "i87654321") or glues the context word
# ("card4111..."), and redacting only the digit run would leave the glued digits in the text.
# Both digit alternatives refuse to start inside a token, so no unit begins mid-token.
UNIT_RE = re.compile(
    rf"""(?<![^\W_])(?P<glued>(?!\d{{1,4}}(?:s|st|nd|rd|th)(?![^\W_]))
        (?=[^\W_]*?\d{{4}})(?=[^\W_]*?[^\W\d_])[^\W_]++)
    |(?<![^\W_])(?P<num>\d++)(?![^\W\d_])
    |\b(?P<mult>double|triple)[\s-]++(?P<mw>{ONES_ALT})\b
    |\b(?P<tens>{"|".join(TENS)})(?:[\s-]++(?P<tu>{NONZERO_ALT})\b)?\b
    |\b(?P<teen>{"|".join(TEENS)})\b
    |\b(?P<one>{ONES_ALT})(?:\s++(?P<hund>hundred)\b)?\b""",
    re.IGNORECASE | re.VERBOSE,
)
# What may stand between two units of one spoken or written number (in the separator view of
# `assistant.privacy.separators`, where every Unicode dash is "-" and "_" is "-" too).
_SEPARATOR_ALT = "|".join(SEPARATOR_WORDS)
GAP_RE = re.compile(rf"(?:[\s,.()/+\-]|\b(?:{_SEPARATOR_ALT})\b){{1,8}}", re.IGNORECASE)
PUNCT_GAP_RE = re.compile(rf"[,.()/+\-]|{_SEPARATOR_ALT}", re.IGNORECASE)
# A slash between the parts of a date ("3/12/1985", "12/26", "2024/03/12") joins no number, unless
# the date shape is only a piece of digits read out one by one ("4 1 1 1/1 1 1 1").
SLASH_DATE_RE = re.compile(
    r"(?<![\d/])(?<!\d\s)(?<!\d-)"
    r"(?:\d{1,2}/\d{1,2}(?:/(?:\d{4}|\d{2}))?|\d{1,2}/\d{4}|\d{4}/\d{1,2}/\d{1,2})"
    r"(?![\d/])(?!\s\d)(?!-\d)"
)

# Long runs written as quantities ("1,250,000,000,000", "3.14159265358979") are not identifiers.
_QUANTITY_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
# The safety rule covers the lengths of card, bank account and IBAN-like numbers; longer runs are
# digit strings nobody reads out (and the sub-run search still finds a card inside them).
LONG_MIN, LONG_MAX = 12, 24


@dataclass(frozen=True)
class Unit:
    """One digit unit: its place in the text, its digits, and which spoken group it belongs to."""

    start: int
    end: int
    digits: str
    group: int


def unit_digits(m: re.Match[str]) -> str:
    """The digits one `UNIT_RE` match stands for."""
    g = m.group
    if g("glued"):
        # Only the digits: the letters are a misheard digit or a glued word, and are redacted
        # with the token but cannot be read as a digit reliably.
        return "".join(str(int(c)) for c in g("glued") if c.isdecimal())
    if g("num"):
        # int() also reads other scripts' decimal digits ("٤١١١", full-width "４").
        return "".join(str(int(c)) for c in g("num"))
    if g("mult"):
        return ONES[g("mw").lower()] * (2 if g("mult").lower() == "double" else 3)
    if g("tens"):
        return TENS[g("tens").lower()] + (ONES[g("tu").lower()] if g("tu") else "0")
    if g("teen"):
        return TEENS[g("teen").lower()]
    return ONES[g("one").lower()] + ("00" if g("hund") else "")


def luhn(digits: str) -> bool:
    """The payment-card checksum."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def month_ok(digits: str) -> bool:
    """Whether an expiry-shaped number starts with a month (1-12)."""
    return 1 <= int(digits[:2] if len(digits) in (4, 6) else digits[:1]) <= 12


def is_mmyy(digits: str) -> bool:
    """Whether four digits read as MMYY."""
    return len(digits) == 4 and 1 <= int(digits[:2]) <= 12


def group_sizes(units: list[Unit]) -> tuple[int, ...]:
    """The digit count of each spoken or written group in a run ("4111 1111" -> (4, 4))."""
    sizes: list[int] = []
    last = None
    for u in units:
        if u.group != last:
            sizes.append(0)
            last = u.group
        sizes[-1] += len(u.digits)
    return tuple(sizes)


def looks_like_quantity_or_years(raw: str, units: list[Unit]) -> bool:
    """A long run that is an amount ("1,250,000,000,000") or a list of years ("2021, 2022, 2023")."""
    if _QUANTITY_RE.fullmatch(raw):
        return True
    groups: list[str] = []
    last = None
    for u in units:
        if u.group != last:
            groups.append("")
            last = u.group
        groups[-1] += u.digits
    return len(groups) > 1 and all(_YEAR_RE.fullmatch(g) for g in groups)
