"""A detection view of text for the privacy gate: what can sit between the digits of a number,
made plain, with a map back to the original offsets.

Text can split a card number or SSN with characters the digit rules do not expect: an en or em
dash, a minus sign, a zero-width space, a word joiner, a soft hyphen, a bidi mark, a full-width
digit or slash, a narrow no-break space, an underscore, a combining mark on a digit. `view(text)`
returns the text with these made plain:

- format characters (Unicode category Cf: zero-width space and joiners, word joiner, soft hyphen,
  bidi marks, byte-order mark) are dropped;
- combining marks (category M) right after a digit are dropped (a keycap "4\ufe0f\u20e3" is "4");
- every Unicode dash (category Pd), minus sign and "_" becomes "-", every Unicode space " ",
  fraction and division slashes "/";
- other characters are folded by NFKC (full-width "\uff14" is "4", superscript "\u00b9" is "1").

The detectors run on the view; the spans they find are mapped back with `to_original`, so the
stored text keeps its own characters everywhere outside a placeholder (readable as written).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable

# Dash-like characters outside category Pd (minus signs, modifier and heavy minus, small and full-width hyphen-minus).
_DASHES = frozenset("\u2212\u2043\u02d7\u2796\ufe63\uff0d\u2011")
_SLASHES = frozenset("\u2044\u2215\u29f8\uff0f\u2571")


@functools.lru_cache(maxsize=8192)
def _fold(c: str) -> str:
    """What one non-ASCII character is in the view."""
    category = unicodedata.category(c)
    if category == "Cf":
        return ""
    if category == "Pd" or c in _DASHES:
        return "-"
    if category in ("Zs", "Zl", "Zp") or c.isspace():
        return " "
    if c in _SLASHES:
        return "/"
    folded = unicodedata.normalize("NFKC", c)
    # NFKC may itself give a dash or a space ("\ufe58" small em dash); fold those too.
    return "".join("-" if unicodedata.category(f) == "Pd" else f for f in folded)


def view(text: str) -> tuple[str, list[int]] | None:
    """(the view of `text`, the original offset of each view character plus one for the end), or
    None when the view is `text` itself (plain ASCII without "_", the common case)."""
    if text.isascii() and "_" not in text:
        return None
    out: list[str] = []
    index: list[int] = []
    after_digit = False
    for i, c in enumerate(text):
        if c.isascii():
            f = "-" if c == "_" else c
        elif after_digit and unicodedata.category(c)[0] == "M":
            f = ""
        else:
            f = _fold(c)
        for ch in f:
            out.append(ch)
            index.append(i)
        if f:
            after_digit = f[-1].isdigit()
    index.append(len(text))
    seen = "".join(out)
    return None if seen == text else (seen, index)


def view_text(text: str) -> str:
    """Only the view's text (`text` itself when nothing changes)."""
    seen = view(text)
    return text if seen is None else seen[0]


def to_original(start: int, end: int, index: list[int]) -> tuple[int, int]:
    """A (start, end) span of the view as a span of the original text. A span starting or ending
    inside a character's expansion covers the whole character, and a dropped character between
    two characters of the span is inside it."""
    if end <= start:
        return index[start], index[start]
    return index[start], index[end - 1] + 1


def replace_on_view(text: str, find: Callable[[str], Iterable[tuple[int, int, str]]]) -> str:
    """`text` with each (start, end, replacement) that `find` returns for its view applied to the
    original text (in order; a span overlapping an earlier one is skipped)."""
    seen = view(text)
    if seen is None:
        return apply_replacements(text, sorted(find(text)))
    return apply_replacements(text, sorted((*to_original(s, e, seen[1]), r) for s, e, r in find(seen[0])))


def apply_replacements(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, replacement) applied, in order; overlapping spans skipped."""
    out, pos = [], 0
    for start, end, replacement in spans:
        if start < pos:
            continue
        out.extend([text[pos:start], replacement])
        pos = end
    out.append(text[pos:])
    return "".join(out)
