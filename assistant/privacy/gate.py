"""The one privacy gate: every text that is stored, logged, exported, streamed or sent to an LLM
passes `gate`, and the storage layer gates again any text that did not (`ensure_gated`).

API (stable: other modules and branches build on these names):

- `Redacted`: a `str` subtype marking text that passed the gate. Storage passes a `Redacted`
  value through and gates any other `str` (fail closed), so a new path cannot forget it.
- `gate(text, context=None, language=None) -> Redacted`: `assistant.privacy.redaction.redact` (English
  rules, context words of several languages), plus number words of es/fr/pt/de/it/nl read with
  `text2num` and phone numbers found by `phonenumbers`. Idempotent.
- `ensure_gated(value)`, `gate_json(value)`: the storage boundary's checks (None passes).
- `gate_message(text)`: for log lines and error messages: `gate`, then every run of 5+ digits
  (an echoed id, a file name) is masked.
- `safe_id(raw)`: a call id or file stem as it may be stored and printed: unchanged when it holds
  no personal data (`call001`, `CA1:0`), else `anon-` + 16 letters from a salted HMAC, stable for
  the same raw id (so a lookup by the raw id finds it). Idempotent: `safe_id(safe_id(x)) == safe_id(x)`.
- `safe_source(source)`: the stored `source` of a call: a path or `file:line` with every folder
  name and the file's stem passed through `safe_id`.
- `CaptureWindow`: per-call fail-closed state. Feed every final in call order through
  `final(speaker, text, translation=None, context="", language=None) -> (text, translation)` and
  every partial caption through `partial(speaker, text, context="", language=None)`. When the agent
  asks for a card, code, expiry, SSN, account/routing number, PIN, password or birth date (or the
  caller starts giving one), `kind` names the requested data and the caller's following speech is
  masked: each run of digits, number words (any supported language) and digit-like ASR noise
  ("IDN 8M, 6 times, 4321") becomes `[KIND]`, across turns ("4539" / "okay" / "1488"), until the
  caller says a full non-numeric sentence (in a turn that read out no digits) or the agent moves
  on (three or more words that are neither fillers nor a new request). Partials read the state,
  never change it. Batch (`calls.CallProcessor.process_utterances`) and live (`LiveCall.privacy`)
  each keep one window per call.
- `install_log_gate()`: every log record's message and string arguments pass `gate_message`.
- `personal_data_found(text) -> str | None`: for text published as written (articles): what the
  gate finds of `REFUSED_IN_PUBLISHED` ("a card number on line 3"), never the value.

Every detector here reads the separator view (`assistant.privacy.separators`: Unicode dashes and
spaces, format characters, full-width forms made plain) and replaces in the text as written.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant import config
from assistant.privacy.numbers import NUMBER_WORDS
from assistant.privacy.redaction import PLACEHOLDER_RE, redact
from assistant.privacy.separators import apply_replacements as _replace
from assistant.privacy.separators import replace_on_view, to_original, view, view_text

# Languages `text2num` reads besides English (English number words are the redactor's own).
OTHER_LANGUAGES = ("es", "fr", "pt", "de", "it", "nl")
SENSITIVE = ("CARD", "CVV", "EXPIRY", "SSN", "ACCOUNT", "ROUTING", "DOB", "PIN", "PASSWORD")


class Redacted(str):
    """Text that passed `gate`. Only `gate` and the functions here create it."""

    __slots__ = ()


# ---------------------------------------------------------------- the gate


class _Token:
    """A word for `text_to_num.find_numbers` (it needs the Token protocol's methods)."""

    def __init__(self, word: str) -> None:
        self.word = word

    def text(self) -> str:
        return self.word

    def nt_separated(self, previous: Any) -> bool:
        return False

    def not_a_number_part(self) -> bool:
        return False


_WORD_TOKEN_RE = re.compile(r"[^\W\d_]+|\d+|[^\w\s]")


def number_word_spans(text: str, languages: Iterable[str] = OTHER_LANGUAGES) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every number written in words in `text`, in any of `languages`."""
    from text_to_num import find_numbers

    words = list(_WORD_TOKEN_RE.finditer(text))
    if not any(w.group()[0].isalpha() for w in words):
        return []
    tokens = [_Token(w.group()) for w in words]
    found: list[tuple[int, int, str]] = []
    for lang in languages:
        for occ in find_numbers(tokens, lang, threshold=0):
            if occ.is_ordinal or not any(words[i].group()[0].isalpha() for i in range(occ.start, occ.end)):
                continue
            digits = "".join(c for c in occ.text if c.isdigit())
            if digits:
                found.append((words[occ.start].start(), words[occ.end - 1].end(), digits))
    return found


def _spell_out(text: str, spans: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int, int, int]]]:
    """`text` with each number-word span written in digits, and the span map."""
    parts, mapping, pos, out_len = [], [], 0, 0
    for s, e, digits in sorted(spans):
        if s < pos:
            continue
        parts.append(text[pos:s])
        out_len += s - pos
        written = digits
        mapping.append((s, e, out_len, out_len + len(written)))
        parts.append(written)
        out_len += len(written)
        pos = e
    parts.append(text[pos:])
    return "".join(parts), mapping


def _back(pos: int, mapping: list[tuple[int, int, int, int]], is_end: bool) -> int:
    shift = 0
    for s, e, ns, ne in mapping:
        if pos < ns:
            break
        if pos < ne or (is_end and pos == ne):
            return e if is_end else s
        shift = e - ne
    return pos + shift


def _other_language_spans(
    text: str, context: str | None, languages: Iterable[str]
) -> list[tuple[int, int, str]]:
    """Numbers spoken in other languages: read them as digits, redact, map back. A number word
    group of more than four digits is a quantity ("un million"), never part of a number read out
    digit by digit or in groups, so it stays a word."""
    spans = [s for s in number_word_spans(text, languages) if len(s[2]) <= 4]
    if not spans:
        return []
    spelled, mapping = _spell_out(text, spans)
    found = redact(spelled, context).spans
    return [(_back(sp.start, mapping, False), _back(sp.end, mapping, True), f"[{sp.type}]") for sp in found]


def _phone_spans(text: str) -> list[tuple[int, int, str]]:
    """International numbers ("+44 20 7946 0958", "+34 612 345 678"), which the digit rules read
    as North American ones; national numbers stay with the rules, which know "claim number"."""
    import phonenumbers

    if "+" not in text or sum(c.isdigit() for c in text) < 7:
        return []
    matches = phonenumbers.PhoneNumberMatcher(text, None, leniency=phonenumbers.Leniency.VALID)
    return [(m.start, m.end, "[PHONE]") for m in matches]


def gate(text: str, context: str | None = None, language: str | None = None) -> Redacted:
    """The one redaction step (see the module docstring). `language` is a hint: number words of
    every supported language are read anyway, so a misdetected call is still redacted."""
    if isinstance(text, Redacted) and not context:
        return text
    out = redact(text, context).text
    if out:
        # The passes read the separator view (`separators`) and replace in the text itself.
        # Only the languages some word of the text is a number word of (cached per word).
        found = {lang for w in _ALPHA_RE.findall(view_text(out)) for lang in _number_languages(w.lower())}
        first = (language,) if language in found else ()
        for lang in (*first, *(x for x in OTHER_LANGUAGES if x in found and x != language)):
            out = replace_on_view(
                out, functools.partial(_other_language_spans, context=context, languages=(lang,))
            )
        out = replace_on_view(out, _phone_spans)
    return Redacted(out)


_ALPHA_RE = re.compile(r"[^\W\d_]+")


@functools.lru_cache(maxsize=65536)
def _number_languages(word: str) -> tuple[str, ...]:
    """The supported languages other than English in which `word` is (part of) a number."""
    from text_to_num import find_numbers

    return tuple(lang for lang in OTHER_LANGUAGES if find_numbers([_Token(word)], lang, threshold=0))


def ensure_gated(value: str | None) -> str | None:
    """The storage boundary: `Redacted` text passes, any other text is gated now."""
    if value is None or isinstance(value, Redacted):
        return value
    return gate(str(value))


# Keys whose values the product made itself, not the caller: ids taken from storage (already safe
# ids), generated topic ids ("T20260310-01" reads like a phone number to the gate), dates, versions.
_SYSTEM_KEYS = frozenset(
    {"call_id", "call_ids", "topic_id", "article_id", "emerging", "knowledge_gaps", "date", "method_version"}
)


def gate_json(value: Any) -> Any:
    """Every string inside a JSON-like value (mapping keys included) gated, except the values of
    the product's own id and date fields (`_SYSTEM_KEYS`)."""
    if isinstance(value, str):
        return ensure_gated(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {ensure_gated(str(k)): v if str(k) in _SYSTEM_KEYS else gate_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [gate_json(v) for v in value]
    return value


_LONG_DIGITS_RE = re.compile(r"\d(?:[\s().+_/-]{0,2}\d){4,}")


def gate_message(text: str) -> Redacted:
    """A log line or error message: URL escapes decoded (an access log's path), gated, and any
    remaining run of 5+ digits masked."""
    from urllib.parse import unquote

    text = str(text)
    gated = gate(unquote(text) if "%" in text else text)
    return Redacted(
        replace_on_view(
            gated, lambda v: [(m.start(), m.end(), "[number]") for m in _LONG_DIGITS_RE.finditer(v)]
        )
    )


# ---------------------------------------------------------------- published text

# What a text that is published as written (a knowledge-base article) may never hold. Phone
# numbers, e-mail addresses and dates stay allowed: an agency's contact details and deadlines
# belong in an article.
REFUSED_IN_PUBLISHED = ("CARD", "CVV", "EXPIRY", "SSN", "ACCOUNT", "ROUTING")
_REFUSED_RE = re.compile(r"\[(" + "|".join(REFUSED_IN_PUBLISHED) + r")\]")
_NAMES = {
    "CARD": "a card number",
    "CVV": "a card security code",
    "EXPIRY": "a card expiry date",
    "SSN": "a Social Security number",
    "ACCOUNT": "a bank account number",
    "ROUTING": "a bank routing number",
}


def _refused_in(text: str, context: str | None = None) -> list[str]:
    gated = gate(text, context)
    before = [m.group(1) for m in _REFUSED_RE.finditer(text)]
    found = [m.group(1) for m in _REFUSED_RE.finditer(gated)]
    for kind in before:  # a placeholder written in the text itself is no personal data
        if kind in found:
            found.remove(kind)
    return found


@functools.lru_cache(maxsize=1024)  # the knowledge base is read again on every change and list
def personal_data_found(text: str) -> str | None:
    """Why `text` may not be published as written ("a card number on line 3"), or None when the
    gate finds none of `REFUSED_IN_PUBLISHED` in it. The value itself is never repeated."""
    found = _refused_in(text)
    if not found:
        return None
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        kinds = _refused_in(line, lines[n - 2] if n > 1 else None)
        if kinds:
            return f"{_NAMES[kinds[0]]} on line {n}" if len(lines) > 1 else _NAMES[kinds[0]]
    return _NAMES[found[0]]


# ---------------------------------------------------------------- identifiers

_SAFE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")  # "/" too: ids like dept/42 are in use
_DIGIT_RUN_RE = re.compile(r"\d{5,}")


@functools.lru_cache(maxsize=4096)
def _id_is_safe(raw: str) -> bool:
    if not _SAFE_ID_RE.fullmatch(raw) or _DIGIT_RUN_RE.search(raw) or sum(c.isdigit() for c in raw) > 8:
        return False
    spaced = re.sub(r"[._:/-]+", " ", raw)
    return gate(spaced) == spaced


@functools.lru_cache(maxsize=8)
def _salt_for(home: str) -> bytes:
    path = Path(home) / "id_salt"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    salt = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(salt.hex())
        path.chmod(0o600)
    except OSError:
        return hashlib.sha256(home.encode()).digest()  # read-only home: stable, not secret
    return salt


def _salt() -> bytes:

    return _salt_for(str(config.get().home))


def id_salt() -> bytes:
    """This installation's secret salt for hashing identifiers (call ids, a caller's number)."""
    return _salt()


def safe_id(raw: str) -> str:
    """A call id (or file stem) that may be stored and printed; see the module docstring."""
    text = str(raw).strip()
    if _id_is_safe(text):
        return text
    digest = hmac.new(_salt(), text.encode("utf-8"), hashlib.sha256).digest()
    return "anon-" + "".join(chr(ord("a") + (b % 26)) for b in digest[:16])


def new_call_id(prefix: str) -> str:
    """A fresh random id `PREFIX-<10 hex>` that `safe_id` keeps as it is: about a quarter of random
    hex ids hold a run of 5 digits, which would be stored as an opaque `anon-` id."""
    import uuid

    while True:
        call_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
        if safe_id(call_id) == call_id:
            return call_id


def safe_source(source: str | None) -> str | None:
    """A call's stored `source`: a word such as live/jsonl unchanged; a path (or `name:line`
    reference) with each folder and the file's stem made a `safe_id`, so a file named after a
    phone number or e-mail address is never kept."""
    if source is None:
        return None
    text = str(source).strip()
    if not text or re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", text):
        return text
    parts = text.replace("\\", "/").split("/")
    out = [safe_id(p) if p not in ("", ".", "..") else p for p in parts[:-1]]
    name, line = parts[-1], ""
    m = re.fullmatch(r"(.+?)(:\d{1,9})", name)
    if m:
        name, line = m.groups()
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,5}", ext):
        stem, ext = name, ""
    out.append((safe_id(stem) if stem else stem) + (f".{ext}" if ext else "") + line)
    return "/".join(out)


# ---------------------------------------------------------------- capture window

_REQUESTS = (
    (
        "CVV",
        r"security\s+code|cvv2?|cvc2?|cid|(?:three|four|3|4)[\s-]digit\s+code|code\s+on\s+the\s+back"
        r"|back\s+of\s+the\s+card|c[oó]digo\s+de\s+segur(?:idad|an[cç]a)|code\s+de\s+s[eé]curit[eé]"
        r"|cryptogramme|sicherheitscode|pr[uü]fnummer|codice\s+di\s+sicurezza|beveiligingscode",
    ),
    (
        "EXPIRY",
        r"expir\w*|exp\.?\s+date|valid\s+(?:thru|through|until)|vencimiento|caducidad|vence"
        r"|date\s+d'expiration|validade|ablaufdatum|g[uü]ltig\s+bis|scadenza|vervaldatum",
    ),
    (
        "SSN",
        r"social(?:\s+security)?|ssn|s\.\s?s\.\s?n|seguro\s+social|seguridad\s+social|s[eé]curit[eé]\s+sociale"
        r"|seguran[cç]a\s+social|sozialversicherung\w*|codice\s+fiscale|burgerservicenummer|bsn|tax\s+id|itin",
    ),
    ("ROUTING", r"routing|transit\s+number|aba|n[uú]mero\s+de\s+ruta"),
    (
        "ACCOUNT",
        r"account\s+number|bank\s+account|checking\s+account|savings\s+account|iban|n[uú]mero\s+de\s+cuenta"
        r"|cuenta\s+bancaria|num[eé]ro\s+de\s+compte|n[uú]mero\s+da\s+conta|kontonummer|numero\s+di\s+conto"
        r"|rekeningnummer",
    ),
    (
        "CARD",
        r"(?:credit|debit)\s+card|card|tarjeta|carte|cart[aã]o|karte\w*|carta|kaart|visa|master\s?card|amex"
        r"|long\s+number",
    ),
    ("PIN", r"pin|passcode|nip"),
    (
        "PASSWORD",
        r"password|contrase[nñ]a|mot\s+de\s+passe|senha|passwort|kennwort|parola\s+d'ordine|wachtwoord",
    ),
    (
        "DOB",
        r"date\s+of\s+birth|birth\s?date|birthday|born|d\.?\s?o\.?\s?b|fecha\s+de\s+nacimiento|naci(?:[oó]|ste)?"
        r"|cumplea[nñ]os|date\s+de\s+naissance|n[ée]e?\s+le|data\s+de\s+nascimento|geburtsdatum|geboren"
        r"|data\s+di\s+nascita|geboortedatum",
    ),
)
_REQUEST_RE = re.compile(
    "|".join(rf"(?P<{kind}>(?<![^\W_])(?:{alt})(?![^\W_]))" for kind, alt in _REQUESTS), re.IGNORECASE
)
# Words that do not make a turn "a full sentence": acknowledgements and fillers of any language.
_FILLER_WORDS = """ok okay yes yeah yep yup no nope mhm mm hmm uh um er ah oh right alright sure fine great
    perfect got it go ahead on and the a rest next continue please thanks thank you so that's that is
    it's its correct sorry wait moment hold one sec second let me see just repeat again say
    sí si vale gracias bien perfecto claro bueno eh este pues y el la es oui merci d'accord ja danke
    nee ok sim obrigado obrigada certo"""
_FILLER = frozenset(_FILLER_WORDS.split())
_TOKEN_RE = re.compile(r"\[[A-Z]+\]|[^\W_]+(?:['’][^\W_]+)?")
_NOISE_RE = re.compile(r"[A-Z]{1,4}")  # "IDN", "M": letters an ASR writes for unclear digits
_EN_NUMBER_WORDS = NUMBER_WORDS | {"thousand", "million", "oh", "o", "zero", "niner"}
_MAX_GAP_WORDS = 2  # numeric tokens this close are one number ("6 times, 4321")


# "card" alone is often the plastic ("I lost my card", "a new card is on its way"): it asks for
# data only next to a word about its number.
_CARD_NUMBER_RE = re.compile(
    r"(?<![^\W_])(?:numbers?|n[uú]mero|num[eé]ro|nummer|numero|digits?|d[ií]gitos|chiffres|ziffern"
    r"|read|go\s+ahead|l[eé]a|d[ií]game|d[eé]me)(?![^\W_])",
    re.IGNORECASE,
)


def request_kind(text: str) -> str | None:
    """The sensitive data a turn asks for or names first (CARD, SSN ...), or None."""
    text = view_text(text)
    for m in _REQUEST_RE.finditer(text):
        if m.lastgroup != "CARD" or _CARD_NUMBER_RE.search(text):
            return m.lastgroup
    return None


def _content_words(tokens: list[re.Match[str]]) -> int:
    return sum(1 for t in tokens if not t.group().startswith("[") and t.group().lower() not in _FILLER)


def _numeric_flags(text: str, tokens: list[re.Match[str]]) -> list[int]:
    """Per token: 2 for digits, number words of any language and sensitive placeholders; 1 for
    digit-like ASR noise (a short all-capital token such as "IDN" or "M", except "I", "A" and
    request words such as "SSN"); 0 for other words."""
    spans = [(s, e) for s, e, _ in number_word_spans(text)]
    flags = []
    for t in tokens:
        w = t.group()
        if (
            any(c.isdigit() for c in w)
            or (w.startswith("[") and w[1:-1] in SENSITIVE)
            or w.lower() in _EN_NUMBER_WORDS
            or any(s <= t.start() and t.end() <= e for s, e in spans)
        ):
            flags.append(2)
        elif _NOISE_RE.fullmatch(w) and w not in ("I", "A") and not _REQUEST_RE.fullmatch(w):
            flags.append(1)
        else:
            flags.append(0)
    return flags


def numeric_regions(text: str, min_tokens: int = 1, gap: int = _MAX_GAP_WORDS) -> list[tuple[int, int]]:
    """(start, end) of each stretch of `text` that reads as one spoken number: numeric tokens at
    most `gap` other words apart, with at least `min_tokens` digit tokens (noise alone is no number).
    Read on the separator view ("fo\u200bur" is "four"); offsets are in `text`."""
    seen = view(text)
    if seen is not None:
        return [to_original(s, e, seen[1]) for s, e in _numeric_regions(seen[0], min_tokens, gap)]
    return _numeric_regions(text, min_tokens, gap)


def _numeric_regions(text: str, min_tokens: int, gap: int) -> list[tuple[int, int]]:
    tokens = list(_TOKEN_RE.finditer(text))
    flags = _numeric_flags(text, tokens)
    regions: list[list[int]] = []  # start, end, digit token count
    last = -10
    for i, (t, level) in enumerate(zip(tokens, flags, strict=True)):
        if not level:
            continue
        if regions and i - last - 1 <= gap:
            regions[-1][1] = t.end()
            regions[-1][2] += level == 2
        else:
            regions.append([t.start(), t.end(), int(level == 2)])
        last = i
    return [(s, e) for s, e, n in regions if n >= min_tokens]


_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.?!;])\s+|[¿¡]")


def _has_plain_sentence(text: str) -> bool:
    """Whether `text` holds a full sentence without a digit or number word: four or more words
    besides fillers ("okay", "yes", "one moment" do not count)."""
    for sentence in _SENTENCE_SPLIT_RE.split(view_text(text)):
        tokens = list(_TOKEN_RE.finditer(sentence))
        if _content_words(tokens) >= 4 and 2 not in _numeric_flags(sentence, tokens):
            return True
    return False


_SENSITIVE_PLACEHOLDER_RE = re.compile(r"\[(" + "|".join(SENSITIVE) + r")\]")


def _masks(text: str, regions: Iterable[tuple[int, int]], kind: str) -> list[tuple[int, int, str]]:
    """The replacement of each region: a placeholder the rules already chose inside it keeps its
    type ("[SSN]" stays [SSN] in a card window; "[CARD] 6467" is one [CARD]), else `[kind]`; a
    region that is already one placeholder stays as it is."""
    out = []
    for s, e in regions:
        found = _SENSITIVE_PLACEHOLDER_RE.search(text, s, e)
        if found and found.start() == s and found.end() == e:
            continue
        out.append((s, e, found.group() if found else f"[{kind}]"))
    return out


def mask_numbers(text: str, kind: str, after: int = 0, min_tokens: int = 1) -> str:
    """Every numeric region of `text` (from offset `after`, with at least `min_tokens` digit
    tokens) masked (see `_masks`)."""
    regions = [(s, e) for s, e in numeric_regions(text, min_tokens) if s >= after]
    return _replace(text, _masks(text, regions, kind))


class CaptureWindow:
    """Per-call redaction state for fail-closed capture (see the module docstring)."""

    def __init__(self) -> None:
        self.kind: str | None = None  # the placeholder type of the open window, None when closed

    @property
    def is_open(self) -> bool:
        return self.kind is not None

    def final(
        self,
        speaker: str,
        text: str,
        translation: str | None = None,
        context: str = "",
        language: str | None = None,
    ) -> tuple[Redacted, Redacted | None]:
        """Gate one final utterance in call order and advance the window."""
        red = gate(text, context, language)
        red_tr = gate(translation, context) if translation is not None else None
        asked = request_kind(text) or (request_kind(translation) if translation else None)
        if speaker == "agent":
            if asked:
                self.kind = asked
            elif _content_words(list(_TOKEN_RE.finditer(red))) >= 3:
                self.kind = None  # the agent moved on ("Thank you. The payment went through.")
            if self.kind and not asked:  # a read-back while the window is open
                red, red_tr = self._mask(red, red_tr, lone_words=False)
            return red, red_tr
        if self.kind == "PASSWORD":
            self.kind = None  # whatever follows a password request is the password
            return Redacted("[PASSWORD]"), (Redacted("[PASSWORD]") if red_tr is not None else None)
        if self.kind:
            if _has_plain_sentence(red) and not asked:
                # A full non-numeric sentence closes the window, unless the turn also read out
                # digits ("It is 4321. Sorry, I need to find the rest."): the rest may follow.
                # A lone number word is no digit ("One more thing. How do I register to vote?").
                masked, masked_tr = self._mask(red, red_tr, lone_words=False)
                if masked == red:
                    self.kind = None
                return masked, masked_tr
            red, red_tr = self._mask(red, red_tr)
            return red, red_tr
        # Closed: the caller's own words can open it ("my social is ...", a card number read out).
        given = next((k for k in SENSITIVE if f"[{k}]" in red), None)
        if asked:
            m = next((x for x in _REQUEST_RE.finditer(red) if x.lastgroup == asked), None)
            after = m.end() if m else 0
            if numeric_regions(red[after:], min_tokens=3) or not _content_words(
                list(_TOKEN_RE.finditer(red[after:]))
            ):
                # Only a stretch of three or more numeric tokens counts in the caller's own
                # turn, so "I lost my card on May 3" keeps its date.
                red = Redacted(mask_numbers(red, asked, after, min_tokens=3))
                self.kind = asked
        if given and not self.kind:
            self.kind = given
        if given and given != "DOB":
            # Card (or SSN, account) data is being given in this turn: every other digit run of
            # it is masked too, whatever word the recogniser put before it ("the code on the Mac
            # is 737"). A date of birth alone does not make the turn's other numbers sensitive.
            red, red_tr = self._mask(red, red_tr, lone_words=False)
        return red, red_tr

    def _mask(
        self, red: str, red_tr: str | None, lone_words: bool = True
    ) -> tuple[Redacted, Redacted | None]:
        kind = self.kind or "ACCOUNT"

        def mask(text: str) -> Redacted:
            regions = numeric_regions(text)
            if not lone_words:
                regions = [
                    (s, e)
                    for s, e in regions
                    if any(c.isdigit() for c in text[s:e]) or numeric_regions(text[s:e], min_tokens=2)
                ]
            return Redacted(_replace(text, _masks(text, regions, kind)))

        return mask(red), (mask(red_tr) if red_tr is not None else None)

    def partial(self, speaker: str, text: str, context: str = "", language: str | None = None) -> Redacted:
        """A partial caption made safe to show; the window is read, never changed. Outside a
        window every digit and every run of two or more number words is hidden too, because a
        half-spoken card number is not yet recognisable as one; the final decides."""
        red = gate(text, context, language)
        if self.kind and speaker != "agent":
            return Redacted(mask_numbers(red, self.kind))
        hidden = [
            (s, e, "…")
            for s, e in numeric_regions(red, gap=0)
            if any(c.isdigit() for c in red[s:e]) or len(numeric_regions(red[s:e], min_tokens=2)) > 0
        ]
        return Redacted(_replace(red, hidden))


# ---------------------------------------------------------------- logs


def _gate_record_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = gate_message(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(gate_message(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: gate_message(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return record

    factory._privacy_gate = True  # type: ignore[attr-defined]
    return factory


def install_log_gate() -> None:
    """Make every log record of this process pass `gate_message` (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "_privacy_gate", False):
        logging.setLogRecordFactory(_gate_record_factory(current))


__all__ = [
    "PLACEHOLDER_RE",
    "SENSITIVE",
    "CaptureWindow",
    "Redacted",
    "ensure_gated",
    "gate",
    "gate_json",
    "gate_message",
    "install_log_gate",
    "mask_numbers",
    "numeric_regions",
    "personal_data_found",
    "request_kind",
    "safe_id",
    "safe_source",
]
