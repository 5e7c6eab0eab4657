"""Reading grade of an answer (Flesch-Kincaid), computed offline.

textstat 0.7.5+ counts English syllables with NLTK's CMU dictionary and downloads it on first use,
which fails on an air-gapped site; so the grade is computed here from the published formula with
Pyphen's hyphenation dictionaries (shipped inside the pyphen package) for syllables.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,:]\d+)*")
_MARKDOWN = re.compile(r"^\s*(?:[-*+]|\d+[.)]|#+)\s+", re.MULTILINE)


@lru_cache(maxsize=4)
def _hyphenator(lang: str):  # type: ignore[no-untyped-def]
    import pyphen

    return pyphen.Pyphen(lang=lang if lang in pyphen.LANGUAGES else "en_US")


def syllables(word: str, lang: str = "en_US") -> int:
    word = word.lower().strip("'’-")
    if not word:
        return 0
    if word[0].isdigit():
        return 1  # a number read out counts as one unit
    return len(_hyphenator(lang).positions(word)) + 1


def strip_markdown(text: str) -> str:
    """Plain text of a Markdown answer: list markers, headings and emphasis removed."""
    text = _MARKDOWN.sub("", text)
    return re.sub(r"[*_`]+", "", text)


def flesch_kincaid_grade(text: str) -> float:
    """US school grade needed to read `text`: 0.39 * words/sentence + 11.8 * syllables/word - 15.59."""
    plain = strip_markdown(text)
    words = _WORD.findall(plain)
    if not words:
        return 0.0
    # List items and paragraphs end a sentence even without a full stop.
    sentences = max(1, len([p for p in re.split(r"[.!?]+(?:\s|$)|\n+", plain) if _WORD.search(p)]))
    syl = sum(syllables(w) for w in words)
    return round(0.39 * len(words) / sentences + 11.8 * syl / len(words) - 15.59, 1)
