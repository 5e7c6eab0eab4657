"""Redact personal data from transcript text before it is stored, logged or exported.

Regex and table driven, so it is cheap enough to run on every live utterance. It understands
numbers the way a speech recogniser writes them: digits ("4111 1111 ..."), digit words ("four one
one one", "oh", "double four", "twenty six") and mixtures, split by spaces, dashes, slashes, "+",
commas, periods or a separator word ("dash", "slash", or one word repeated between the groups).
The rules read the separator view of `assistant.privacy.separators` (any Unicode dash or space,
format characters such as a zero-width space dropped) and replace in the text as written. A run of such digits is classified by its length, its grouping (3-2-4 is an SSN,
3-3-4 a phone number), a Luhn check, and the nearest context word before it ("card", "social",
"routing", "claim" ...). The design errs towards redacting: a missed card number or SSN costs far
more than a hidden claim number.

Made for real Whisper output:
- `redact(text, context)` reads the turns before (`context`) for context words, so "It is 4111..."
  after the agent's "What is the card number?" is a card number; only `text` is redacted.
- A token with letters glued to a run of 4+ digits ("i87654321", "card4111...", "x6789") is one
  unit and is redacted whole, so no digit of it survives; "7ABC123", "W2", "1990s" are not numbers.
- A run of 12-24 digits that nothing else claims is redacted unless a non-card word (claim, case,
  order, tracking ...) is next to it: [CARD] if 13+ digits and a card was mentioned in the text or
  context, else [ACCOUNT]. Whisper adds and drops digits, so Luhn alone misses real card numbers.

`redact` repeats its pass until nothing changes, so redacting redacted text changes nothing.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from assistant.errors import InputError
from assistant.privacy.numbers import (
    GAP_RE,
    LONG_MAX,
    LONG_MIN,
    NONZERO_ALT,
    NUMBER_WORDS,
    PUNCT_GAP_RE,
    SLASH_DATE_RE,
    TEENS,
    TENS,
    UNIT_RE,
    Unit,
    group_sizes,
    is_mmyy,
    looks_like_quantity_or_years,
    luhn,
    month_ok,
    unit_digits,
)
from assistant.privacy.separators import to_original, view, view_text

TYPES = ("CARD", "CVV", "EXPIRY", "SSN", "ACCOUNT", "ROUTING", "PHONE", "EMAIL", "DOB")
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(TYPES) + r")\]")


@dataclass(frozen=True)
class Span:
    """One redacted stretch of the original text (the raw value is never kept)."""

    type: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """The redacted text and where, in the original text, each placeholder came from."""

    text: str
    spans: tuple[Span, ...]

    @property
    def types(self) -> frozenset[str]:
        """The kinds of data that were redacted."""
        return frozenset(s.type for s in self.spans)


_NUMBER_WORDS = NUMBER_WORDS | set(TYPES)

# --- context words ------------------------------------------------------------------------------

# Order matters where two alternatives start at the same word: the more specific comes first.
_CONTEXT = (
    (
        "CVV",
        r"cvv2?|cvc2?|cid|security\s+code|card\s+verification(?:\s+(?:code|value))?"
        r"|(?:three|four|3|4)[\s-]digit\s+code|code\s+on\s+the\s+back|back\s+of\s+the\s+card"
        r"|c[oó]digo\s+de\s+segur(?:idad|an[cç]a)|code\s+de\s+s[eé]curit[eé]|cryptogramme|sicherheitscode"
        r"|codice\s+di\s+sicurezza|beveiligingscode",
    ),
    (
        "SSN",
        r"social(?:\s+security)?(?:\s+card)?(?:\s+number)?|ssn|s\.\s?s\.\s?n\.?|seguro\s+social"
        r"|seguridad\s+social|s[eé]curit[eé]\s+sociale|seguran[cç]a\s+social|sozialversicherungsnummer"
        r"|burgerservicenummer",
    ),
    (
        "CARD",
        r"(?:credit|debit)(?:\s+card)?(?:\s+number)?|card(?:\s+number)?|visa|master\s?card|amex"
        r"|american\s+express|discover\s+card|tarjeta|long\s+number\s+on\s+the\s+front"
        r"|carte\s+(?:bancaire|de\s+cr[eé]dit)|cart[aã]o|kreditkarte|kartennummer|carta\s+di\s+credito",
    ),
    ("ROUTING", r"routing(?:\s+(?:and|&)\s+transit)?(?:\s+number)?|aba|transit\s+number"),
    (
        "ACCOUNT",
        r"(?:bank\s+|checking\s+|savings\s+)?account(?:\s+number)?|acct|checking|savings|iban|cuenta"
        r"|num[eé]ro\s+de\s+compte|n[uú]mero\s+da\s+conta|kontonummer|numero\s+di\s+conto|rekeningnummer",
    ),
    (
        "EXPIRY",
        r"expir\w*|exp\.?(?:\s+date)?|valid\s+(?:thru|through|until)|good\s+(?:thru|through)"
        r"|vencimiento|caducidad|date\s+d'expiration|validade|ablaufdatum|scadenza|vervaldatum",
    ),
    (
        "DOB",
        r"born|date\s+of\s+birth|birth\s?date|birthday|d\.?\s?o\.?\s?b|fecha\s+de\s+nacimiento|nac[ií]|cumplea[nñ]os"
        r"|date\s+de\s+naissance|data\s+de\s+nascimento|geburtsdatum|geboren|data\s+di\s+nascita|geboortedatum",
    ),
    (
        "PHONE",
        r"(?:tele|cell\s+|mobile\s+|home\s+|work\s+)?phone(?:\s+number)?|cell|mobile|call\s+me(?:\s+back)?"
        r"|call\s?back(?:\s+number)?|reach\s+me|text\s+me|area\s+code|fax|tel[eé]fono",
    ),
    (
        "NEG",
        r"(?:claim|case|ticket|reference|ref|confirmation|order|invoice|form|zip|postal|tracking"
        r"|application|permit|receipt|room|suite|apt|apartment|unit|box|policy|license|licence|plate"
        r"|docket|file|check|cheque|member|employee|badge|item|page|model|serial|route|flight|bus)"
        r"(?:\s+(?:number|no\.?|code|#))?",
    ),
    ("NUMBER", r"number|n[uú]mero|num[eé]ro|nummer|#"),
)
_CONTEXT_RE = re.compile(
    "|".join(rf"(?P<{name}>(?<![\w\[])(?:{alt})(?![^\W\d_]))" for name, alt in _CONTEXT), re.IGNORECASE
)
_WORD_RE = re.compile(r"[^\W\d_]+")
_MAX_WORDS_BEFORE = 8
_MAX_WORDS_AFTER = 3
_MAX_CONTEXT_CHARS = 300
_MAX_WORDS_AFTER_CARD = 12  # a short number this close after a card number is its code or expiry
# Amounts and durations are never personal data, whatever their context.
_MONEY_AFTER_RE = re.compile(
    r"\s*(?:%|percent|dollars?|bucks|cents|minutes?|hours?|seconds?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
# One word between two short runs of digits, with spaces and pause marks around it.
_SEPARATOR_WORD_RE = re.compile(r"[\s,.;:-]*([^\W\d_]{2,10})[\s,.;:-]*")
# Words that join numbers in a list or range, never misheard separators.
_NOT_SEPARATORS = NUMBER_WORDS | {
    "and", "or", "to", "through", "thru", "then", "by", "of", "from", "till", "until", "times", "x",
    "plus", "minus", "is", "was", "were", "are", "at", "on", "in", "for", "with", "th", "st", "nd", "rd",
}  # fmt: skip
_LAST_FOUR_RE = re.compile(r"last\s+(?:four|4)|ending\s+(?:in|with)|ends\s+(?:in|with)", re.IGNORECASE)

# --- e-mail -------------------------------------------------------------------------------------

# Possessive and bounded quantifiers keep every pattern linear on long or hostile input.
_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}+\s?@\s?(?:[^\W_][\w-]{0,62}+\.){1,8}[^\W\d_]{2,24}+(?![\w-])"
)
_TLD = r"com|net|org|gov|edu|mil|us|io|co|info|biz|me|uk|ca|mx|es"
_SPOKEN_EMAIL_RE = re.compile(
    rf"""(?<![\w.-])
    (?:(?:[^\W\d_]\s+){{1,40}}[^\W\d_]            # spelled out: j o h n
      |[^\W_]++(?:\s*+(?:dot|underscore|dash|hyphen|period|punto|point|ponto|punkt|punt|guion|[._-])\s*+[^\W_]++){{0,8}})
    \s+(?:at|@|arroba|arobase|chiocciola|klammeraffe|apenstaartje)\s+
    (?:[^\W_][\w-]{{0,62}}+\s*+(?:dot|punto|point|ponto|punkt|punt|\.)\s*+){{1,5}}(?:{_TLD})\b""",
    re.IGNORECASE | re.VERBOSE,
)

# --- dates --------------------------------------------------------------------------------------

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
# Month names of the other supported languages (es, pt, fr, it, de, nl) for "3 de marzo de 1985".
_MES = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|sep?tiembre|octubre|noviembre|diciembre"
    r"|janeiro|fevereiro|mar[cç]o|maio|junho|julho|setembro|outubro|novembro|dezembro"
    r"|janvier|f[eé]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[eé]cembre"
    r"|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre"
    r"|januar|februar|m[aä]rz|juni|juli|oktober|dezember|januari|februari|maart|mei|augustus)"
)
_ORD_UNIT = r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth"
_ORDINAL = (
    rf"(?:(?:twenty|thirty)[\s-](?:{_ORD_UNIT})|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth"
    rf"|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|{_ORD_UNIT})"
)
_DAYNUM = r"(?:[0-3]?\d(?:st|nd|rd|th)?)"
_DAY_CARDINAL = rf"(?:(?:twenty|thirty)[\s-](?:{NONZERO_ALT})|{'|'.join(TEENS)}|twenty|thirty|{NONZERO_ALT})"
_TENS_ALT = "|".join(TENS)
_TWO_DIGIT_WORDS = (
    rf"(?:(?:{_TENS_ALT})(?:[\s-](?:{NONZERO_ALT}))?|{'|'.join(TEENS)}|oh[\s-](?:{NONZERO_ALT}))"
)
_YEAR = (
    rf"(?:\d{{4}}|'\d{{2}}|(?:nineteen|twenty)[\s-]{_TWO_DIGIT_WORDS}"
    rf"|two\s+thousand(?:\s+and)?(?:\s+(?:{_TWO_DIGIT_WORDS}|{NONZERO_ALT}))?)"
)
_DATE_RE = re.compile(
    rf"""(?<![\w/.-])(?:
      (?P<short>(?:0?[1-9]|1[0-2])\s?/\s?(?:\d{{4}}|\d{{2}}))(?![\w/])
     |\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})(?![\w/.-]\d)
     |\d{{4}}-\d{{1,2}}-\d{{1,2}}(?![\w-])
     |{_MONTH}\s+(?:the\s+)?(?:{_ORDINAL}|{_DAYNUM}|{_DAY_CARDINAL})(?:,?\s+(?:of\s+)?{_YEAR})?\b
     |{_MONTH},?\s+(?:of\s+)?{_YEAR}\b
     |(?:the\s+)?(?:{_ORDINAL}|{_DAYNUM})\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?\b
     |[0-3]?\d\.?\s+(?:de\s+)?{_MES}(?:,?\s+(?:de\s+|del\s+)?\d{{4}})?(?![\w])
    )""",
    re.IGNORECASE | re.VERBOSE,
)


# --- the pass -----------------------------------------------------------------------------------


class _Pass:
    """One left-to-right pass over a text; collects (start, end, type) spans."""

    def __init__(self, text: str, offset: int = 0) -> None:
        # text[:offset] is the conversation before (already redacted): read for context only.
        self.text = text
        self.offset = offset
        self.spans: list[tuple[int, int, str]] = []
        self.keywords = [(m.start(), m.end(), m.lastgroup or "") for m in _CONTEXT_RE.finditer(text)]
        self.kw_ends = [k[1] for k in self.keywords]
        self.card_near = any(k[2] == "CARD" for k in self.keywords) or "[CARD]" in text

    def _words_between(self, a: int, b: int) -> int | None:
        if b - a > _MAX_CONTEXT_CHARS:
            return None
        gap = PLACEHOLDER_RE.sub(" ", self.text[a:b])
        return sum(1 for w in _WORD_RE.findall(gap) if w.lower() not in _NUMBER_WORDS)

    def context(self, start: int, end: int) -> str | None:
        """The nearest context word before the number (else just after it); "number" ranks last."""
        fallback = None
        i = bisect.bisect_right(self.kw_ends, start) - 1
        while i >= 0:
            kstart, kend, kind = self.keywords[i]
            words = self._words_between(kend, start)
            if words is None or words > _MAX_WORDS_BEFORE:
                break
            if kind != "NUMBER":
                return kind
            fallback = fallback or kind
            i -= 1
        if fallback:
            return fallback
        j = bisect.bisect_right(self.kw_ends, end)
        if j < len(self.keywords):
            kstart, _, kind = self.keywords[j]
            words = self._words_between(end, kstart)
            if words is not None and words <= _MAX_WORDS_AFTER and kind not in ("NUMBER", "NEG"):
                return kind
        return None

    def add(self, start: int, end: int, kind: str) -> None:
        self.spans.append((start, end, kind))
        if kind == "CARD":
            self.card_near = True

    def run(self) -> list[tuple[int, int, str]]:
        text = self.text
        pos = self.offset
        for m in _EMAIL_RE.finditer(text, pos):
            self.add(m.start(), m.end(), "EMAIL")
        for m in _SPOKEN_EMAIL_RE.finditer(text, pos):
            self.add(m.start(), m.end(), "EMAIL")
        expiry: list[tuple[int, int, bool]] = []  # (start, end, said "expires")
        for m in _DATE_RE.finditer(text, pos):
            if self._taken(m.start(), m.end()):
                continue
            ctx = self.context(m.start(), m.end())
            if ctx == "DOB":
                self.add(m.start(), m.end(), "DOB")
            elif ctx == "EXPIRY" or (ctx == "CARD" and m.group("short")):
                expiry.append((m.start(), m.end(), ctx == "EXPIRY"))
        taken = sorted(self.spans + [(s, e, "EXPIRY") for s, e, _ in expiry])
        for run in self._runs(taken):
            self._classify_run(run)
        # Only now is it known whether a card number was read out near the date.
        # A bare "4/12" after the word "card" is an expiry only when the card is in this text:
        # after "What is the card number?" in the turn before, it is more often a date.
        card_here = any(k[2] == "CARD" and k[0] >= pos for k in self.keywords) or any(
            sp[2] == "CARD" for sp in self.spans
        )
        card_here = card_here or "[CARD]" in text[pos:]
        for s, e, said in expiry:
            if self.card_near if said else card_here:
                self.add(s, e, "EXPIRY")
        return self._resolve()

    def _taken(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in self.spans)

    def _runs(self, taken: list[tuple[int, int, str]]) -> list[list[Unit]]:
        """Group digit units into runs (one spoken or written number each), skipping taken spans."""
        runs: list[list[Unit]] = []
        current: list[Unit] = []
        prev_end, prev_word, group = -1, False, 0
        starts = [t[0] for t in taken]
        date_slashes = {
            m.start() + i
            for m in SLASH_DATE_RE.finditer(self.text, self.offset)
            for i, c in enumerate(m.group())
            if c == "/"
        }
        for m in UNIT_RE.finditer(self.text, self.offset):
            s, e = m.start(), m.end()
            k = bisect.bisect_right(starts, e) - 1
            if k >= 0 and taken[k][1] > s:
                continue
            is_word = m.group("num") is None and m.group("glued") is None
            joined = False
            if current:
                gap = self.text[prev_end:s]
                if (gap == "" or GAP_RE.fullmatch(gap)) and not (gap == "/" and prev_end in date_slashes):
                    joined = True
                    # Spoken digits separated only by spaces stay one group; a pause mark
                    # (comma, period, dash) or a space between written numbers starts a new one.
                    if PUNCT_GAP_RE.search(gap) or not (is_word and prev_word):
                        group += 1
            if not joined and current:
                runs.append(current)
                current = []
            current.append(Unit(s, e, unit_digits(m), group))
            prev_end, prev_word = e, is_word
        if current:
            runs.append(current)
        return self._join_by_separator_word(runs)

    def _join_by_separator_word(self, runs: list[list[Unit]]) -> list[list[Unit]]:
        """Three or more short runs (at most eight digits each) split by one and the same word are
        one number: the word is a spoken separator the recogniser misheard ("4111, Mash, 1111,
        Mash, 1111", "987 Sash 65 Sash 4321")."""
        words: list[str | None] = []  # words[i]: the separator word between runs i and i + 1
        for a, b in zip(runs, runs[1:], strict=False):
            m = _SEPARATOR_WORD_RE.fullmatch(self.text, a[-1].end, b[0].start)
            short = sum(len(u.digits) for u in a) <= 8 and sum(len(u.digits) for u in b) <= 8
            w = m.group(1).lower() if m and short else None
            words.append(w if w not in _NOT_SEPARATORS else None)
        out: list[list[Unit]] = []
        i = 0
        while i < len(runs):
            j = i
            while j < len(words) and words[j] is not None and words[j] == words[i]:
                j += 1
            if j - i < 2:  # one word between two numbers is no separator yet
                out.append(runs[i])
                i += 1
                continue
            joined: list[Unit] = []
            for run in runs[i : j + 1]:
                shift = (joined[-1].group + 1 - run[0].group) if joined else 0
                joined += [Unit(u.start, u.end, u.digits, u.group + shift) for u in run]
            out.append(joined)
            i = j + 1
        return out

    def _classify_run(self, units: list[Unit]) -> None:
        text = self.text
        start, end = units[0].start, units[-1].end
        ctx = self.context(start, end)
        plus = text[max(0, start - 2) : start].strip().endswith("+")
        money = text[max(0, start - 2) : start].strip().endswith("$") or bool(
            _MONEY_AFTER_RE.match(text, end)
        )
        last4 = bool(_LAST_FOUR_RE.search(text, max(0, start - 60), start))
        info = (ctx, plus, money, last4)
        digits = "".join(u.digits for u in units)
        kind = self._classify(digits, group_sizes(units), info)
        if kind is None and 3 <= len(digits) <= 4 and ctx != "NEG" and not money and self._card_before(start):
            # A short number soon after a card number is its code or expiry, whatever word the
            # recogniser put before it ("the code on the Mac is 737").
            kind = "EXPIRY" if is_mmyy(digits) else "CVV"
        if kind:
            self._emit(units, kind)
            return
        # No reading of the whole run fits: look for a card, SSN or phone number inside it
        # (e.g. a card number followed by its expiry and code in one breath).
        i, after_card, found_before = 0, False, len(self.spans)
        while i < len(units):
            best: tuple[int, str] | None = None
            digits = ""
            groups: list[int] = []
            for j in range(i, len(units)):
                digits += units[j].digits
                if len(digits) > 19:
                    break
                if j == i or units[j].group != units[j - 1].group:
                    groups.append(0)
                groups[-1] += len(units[j].digits)
                is_card = len(digits) >= 13 and digits[0] != "0" and luhn(digits)
                if is_card:
                    best = (j, "CARD")
                elif len(digits) >= 3 and (
                    (i == 0 or units[i - 1].group != units[i].group)
                    and (j + 1 == len(units) or units[j + 1].group != units[j].group)
                ):
                    found = self._classify(digits, tuple(groups), (ctx, plus and i == 0, money, last4), False)
                    if found:
                        best = (j, found)
            if best is None and after_card:
                # Short numbers read out right after a card number are its expiry or code.
                k = i
                while k + 1 < len(units) and units[k + 1].group == units[i].group:
                    k += 1
                tail = "".join(u.digits for u in units[i : k + 1])
                if 3 <= len(tail) <= 4:
                    best = (k, "EXPIRY" if is_mmyy(tail) else "CVV")
            if best is None:
                i += 1
                continue
            self._emit(units[i : best[0] + 1], best[1])
            after_card = after_card or best[1] == "CARD"
            i = best[0] + 1
        if len(self.spans) > found_before and not money:
            # A number found inside a long run must not leave the rest of the run readable
            # ("four nine [PHONE] six seven"): a long run with digits left over goes whole.
            covered = sum(
                len(u.digits) for u in units if any(s <= u.start < e for s, e, _ in self.spans[found_before:])
            )
            if sum(len(u.digits) for u in units) - covered >= 3:
                kind = self._long_number(units, ctx)
                if kind:
                    del self.spans[found_before:]
                    self._emit(units, kind)
        elif len(self.spans) == found_before and not money:
            kind = self._long_number(units, ctx)
            if kind:
                self._emit(units, kind)

    def _card_before(self, start: int) -> bool:
        """Whether a card number was read out in this text shortly before `start`."""
        for s, e, kind in self.spans:
            if kind == "CARD" and s >= self.offset and e <= start:
                words = self._words_between(e, start)
                if words is not None and words <= _MAX_WORDS_AFTER_CARD:
                    return True
        return any(
            (words := self._words_between(m.end(), start)) is not None and words <= _MAX_WORDS_AFTER_CARD
            for m in re.finditer(r"\[CARD\]", self.text[:start])
            if m.start() >= self.offset
        )

    def _long_number(self, units: list[Unit], ctx: str | None) -> str | None:
        """Safety rule for a long run nothing else claimed: in a call, it is a payment number.

        Whisper adds or drops digits, so a spoken card number often fails Luhn and loses its
        grouping. A run of LONG_MIN..LONG_MAX digits is redacted unless a non-card word (claim,
        case, order, tracking ...) is next to it or it is an amount or a list of years. It is
        [CARD] when 13+ digits and a card was mentioned in the text or the turns before, else
        [ACCOUNT] (an unattributed long number: bank, benefit or card account).
        """
        n = sum(len(u.digits) for u in units)
        start, end = units[0].start, units[-1].end
        if not LONG_MIN <= n <= LONG_MAX or ctx == "NEG" or self._neg_after(end):
            return None
        if looks_like_quantity_or_years(self.text[start:end], units):
            return None
        return "CARD" if n >= 13 and self.card_near else "ACCOUNT"

    def _neg_after(self, end: int) -> bool:
        j = bisect.bisect_right(self.kw_ends, end)
        for kstart, _, kind in self.keywords[j:]:
            words = self._words_between(end, kstart)
            if words is None or words > _MAX_WORDS_AFTER:
                return False
            if kind == "NEG":
                return True
        return False

    def _classify(
        self,
        d: str,
        groups: tuple[int, ...],
        info: tuple[str | None, bool, bool, bool],
        luhn_ok: bool | None = None,
    ) -> str | None:
        """The type of one number (its digits and digit-group sizes), or None to keep it."""
        ctx, plus, money, last4 = info
        n = len(d)
        if luhn_ok is None:
            luhn_ok = 13 <= n <= 19 and d[0] != "0" and luhn(d)
        if luhn_ok:
            return "CARD"
        if groups == (3, 2, 4):
            return "SSN"
        if money:
            return None
        if ctx == "CARD" and n >= 8:
            return "CARD"
        if ctx == "SSN" and (n >= 7 or (n == 4 and last4)):
            return "SSN"
        if ctx == "ROUTING" and n >= 8:
            return "ROUTING"
        if ctx == "ACCOUNT" and n >= 6:
            return "ACCOUNT"
        if ctx == "CVV" and 3 <= n <= 4:
            return "CVV"
        if ctx == "EXPIRY" and self.card_near and not last4 and n in (3, 4, 6) and month_ok(d):
            return "EXPIRY"
        if ctx == "DOB" and (n in (6, 8) or (len(groups) == 3 and 4 <= n <= 8)):
            return "DOB"
        if plus and 8 <= n <= 15:
            return "PHONE"
        if ctx in ("PHONE", "NUMBER") and (n == 10 or (n == 11 and d[0] == "1")):
            return "PHONE"
        if ctx == "PHONE" and 7 <= n <= 13:
            return "PHONE"
        if ctx not in (None, "NUMBER"):
            return None
        if groups in ((3, 3, 4), (1, 3, 3, 4)):
            return "PHONE"
        if n == 9 and groups != (5, 4):
            return "SSN"
        if n == 10 and d[0] in "23456789" and d[3] in "23456789":
            return "PHONE"
        if n == 11 and d[0] == "1" and d[1] in "23456789":
            return "PHONE"
        return None

    def _emit(self, units: list[Unit], kind: str) -> None:
        start, end = units[0].start, units[-1].end
        # Take along an opening "(", "+" or "#" so "(555) 123-4567" leaves no stray bracket.
        while start > self.offset and self.text[start - 1] in "(+#":
            start -= 1
        self.add(start, end, kind)

    def _resolve(self) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for s, e, kind in sorted(self.spans):
            if out and s < out[-1][1]:
                # Overlap (e.g. an e-mail address with digits in it): one placeholder for both.
                ps, pe, pk = out[-1]
                out[-1] = (ps, max(pe, e), pk)
                continue
            out.append((s, e, kind))
        return out


def _apply(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int, int, int, str]]]:
    """Replace spans by placeholders; return the new text and (old_s, old_e, new_s, new_e, type)."""
    parts: list[str] = []
    mapping: list[tuple[int, int, int, int, str]] = []
    pos = out_len = 0
    for s, e, kind in spans:
        parts.append(text[pos:s])
        out_len += s - pos
        placeholder = f"[{kind}]"
        mapping.append((s, e, out_len, out_len + len(placeholder), kind))
        parts.append(placeholder)
        out_len += len(placeholder)
        pos = e
    parts.append(text[pos:])
    return "".join(parts), mapping


def _to_original(pos: int, mapping: list[tuple[int, int, int, int, str]], is_end: bool) -> int:
    """Map an offset in a pass's output back to the pass's input."""
    new_starts = [m[2] for m in mapping]
    k = bisect.bisect_right(new_starts, pos) - 1
    if k < 0:
        return pos
    s, e, ns, ne, _ = mapping[k]
    if pos < ne or (is_end and pos == ne):
        return e if is_end else s
    return e + (pos - ne)


def redact(text: str, context: str | None = None) -> Redaction:
    """Replace personal data in `text` with typed placeholders such as `[CARD]` and `[SSN]`.

    `context` is the conversation just before `text` (e.g. the previous turns of either speaker,
    raw or already redacted). Its words count as context for the numbers in `text`, as if they
    preceded it ("What is the card number?" then "It is 4111..."), but only `text` is redacted
    and returned, and the spans are offsets in `text`.
    """
    if not isinstance(text, str) or not (context is None or isinstance(context, str)):
        raise InputError("redaction takes text (str) and an optional context (str or None)")
    if not text:
        return Redaction(text="", spans=())
    seen = view(text)
    if context:
        context = view_text(context)
    if seen is None:
        return _redact_view(text, context)
    # Detect on the separator view, replace in the original: the text keeps its own characters.
    found = _redact_view(seen[0], context).spans
    spans: list[tuple[int, int, str]] = []
    for sp in found:
        s, e = to_original(sp.start, sp.end, seen[1])
        if spans and s < spans[-1][1]:
            # Overlap (a later pass took a placeholder along): one placeholder, the wider span's type.
            ps, pe, pk = spans[-1]
            spans[-1] = (ps, max(pe, e), pk if pe - ps >= e - s else sp.type)
            continue
        spans.append((s, e, sp.type))
    out, _ = _apply(text, spans)
    return Redaction(text=out, spans=tuple(Span(k, s, e) for s, e, k in spans))


def _redact_view(text: str, context: str | None) -> Redaction:
    """`redact` of text that needs no separator view."""
    prefix = ""
    if context and context.strip():
        # Only the tail can be within reach of a number in `text`. Redacting it first turns its
        # numbers into placeholders, so none of them can join or be mistaken for one in `text`.
        prefix = redact(context[-2 * _MAX_CONTEXT_CHARS :]).text + " \n "
    current = text
    spans: list[tuple[int, int, str]] = []  # in original offsets
    history: list[list[tuple[int, int, int, int, str]]] = []
    for _ in range(8):  # each pass removes digits, so this ends; 2 passes is the usual worst
        found = [
            (s - len(prefix), e - len(prefix), k) for s, e, k in _Pass(prefix + current, len(prefix)).run()
        ]
        if not found:
            break
        for s, e, kind in found:
            for mapping in reversed(history):
                s, e = _to_original(s, mapping, False), _to_original(e, mapping, True)
            spans.append((s, e, kind))
        current, mapping = _apply(current, found)
        history.append(mapping)
    merged = sorted(spans)
    return Redaction(text=current, spans=tuple(Span(k, s, e) for s, e, k in merged))


def redact_text(text: str, context: str | None = None) -> str:
    """Only the redacted text of `redact(text, context)`."""
    return redact(text, context).text
