"""Scan what a run stored and logged for pieces of known secrets (tests only).

The leak rules are the ones the spoken-digit evaluation uses (../shared/eval/README.md): for each
secret (a card number, an SSN) a leak is
- `run5`: five consecutive digits of the secret, written as digits (spaces, commas, hyphens or a
  sentence's ". " between them do not break the run) or as digit words ("six zero one one eight");
- `last4`: the secret's last four digits standing alone (not part of a longer number);
- `words4`: four or more spoken digit words in a row ("one two three four"), whatever they say.

`scan_duckdb` reads every table and every text, JSON or nested column that can hold text
(found through information_schema, so a table added later is scanned too); `scan_log` reads a
log file. Values that are only machine noise (ISO timestamps, hex ids) are skipped, and JSON is
scanned by its string values, so a stored float never counts as a digit run.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ES = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")  # Spanish cases
DIGIT_WORDS = {"oh": "0", **{w: str(i) for words in (_EN, _ES) for i, w in enumerate(words)}}
_WORD = "|".join(sorted(DIGIT_WORDS, key=len, reverse=True))
_WORD_RUN = re.compile(rf"\b(?:{_WORD})\b(?:[\s,.\-]+\b(?:{_WORD})\b){{3,}}", re.IGNORECASE)
_WORD_ONE = re.compile(rf"\b(?:{_WORD})\b", re.IGNORECASE)
# Between two digits of one number: spaces, a comma, hyphen, any Unicode dash, slash, underscore
# or plus (with spaces), a sentence end, and invisible format characters (zero-width space, word
# joiner, soft hyphen, bidi marks) anywhere around them.
_INVISIBLE = "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_DASH = "\u2010-\u2015\u2043\u2212\ufe58\ufe63\uff0d"
_SEPARATOR = re.compile(
    rf"(?<=\d)(?:[\s{_INVISIBLE}]*[,\-/_+{_DASH}][\s{_INVISIBLE}]*|\.?[\s{_INVISIBLE}]+|[{_INVISIBLE}]+)(?=\d)"
)
_NOISE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?)?"  # ISO time
    r"|\b(?=[0-9a-f-]*[a-f])(?=[0-9a-f-]*\d)[0-9a-f]{8,}(?:-[0-9a-f]+)*\b",  # hex ids, UUIDs
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Leak:
    """A secret's piece found somewhere: `where` is `table.column` or `log:line`, `rule` one of
    run5, last4, words4, `secret` the secret's name, `text` the value it was found in."""

    where: str
    rule: str
    secret: str
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.rule} of {self.secret} in {self.text[:200]!r}"


def _digits_view(text: str) -> str:
    """The text with digit words as digits and the separators inside numbers removed."""
    # NFKC: full-width and other compatibility digits count as the digits they stand for.
    as_digits = _WORD_ONE.sub(lambda m: DIGIT_WORDS[m.group(0).lower()], unicodedata.normalize("NFKC", text))
    return _SEPARATOR.sub("", as_digits)


def find_leaks(text: str, secrets: dict[str, str]) -> list[tuple[str, str]]:
    """(rule, secret name) for every leak rule `text` breaks."""
    text = _NOISE.sub(" ", text)
    found: list[tuple[str, str]] = []
    if _WORD_RUN.search(text):
        found.append(("words4", "*"))
    view = _digits_view(text)
    runs = re.findall(r"\d+", view)
    # a number standing alone: not the decimals or the integer part of a number like 12.5970
    alone = re.findall(r"(?<!\d)(?<!\d[.,])\d+(?![.,]?\d)", view)
    for name, secret in secrets.items():
        digits = re.sub(r"\D", "", secret)
        pieces = {digits[i : i + 5] for i in range(len(digits) - 4)}
        if any(p in run for run in runs for p in pieces):
            found.append(("run5", name))
        if digits[-4:] in alone:
            found.append(("last4", name))
    return found


def _strings(value: Any) -> list[str]:
    """The string leaves (and keys) of a parsed JSON value; numbers are not text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def scan_texts(where: str, texts: list[str], secrets: dict[str, str]) -> list[Leak]:
    return [Leak(where, rule, name, text) for text in texts for rule, name in find_leaks(text, secrets)]


def text_columns(con: Any) -> list[tuple[str, str, str, str]]:
    """(schema, table, column, type) of every column that can hold text, in every user table."""
    rows = con.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema NOT IN ('information_schema', 'pg_catalog') "
        "ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall()
    return [r for r in rows if re.search(r"VARCHAR|JSON|TEXT|STRUCT|MAP|UNION", r[3], re.IGNORECASE)]


def scan_connection(con: Any, secrets: dict[str, str]) -> tuple[list[Leak], int]:
    """Leaks in every text column of an open DuckDB connection, and how many values were read."""
    leaks: list[Leak] = []
    seen = 0
    for schema, table, column, kind in text_columns(con):
        values = con.execute(
            f'SELECT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL'
        ).fetchall()
        seen += len(values)
        texts: list[str] = []
        for (value,) in values:
            if kind.upper() == "JSON":
                try:
                    texts.extend(_strings(json.loads(value)))
                    continue
                except ValueError:
                    pass
            texts.append(value)
        leaks += scan_texts(f"{table}.{column}", texts, secrets)
    return leaks, seen


def scan_duckdb(path: str | Path, secrets: dict[str, str]) -> tuple[list[Leak], int]:
    """Leaks in every text column of a DuckDB file (opened read-only), and the values read."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return scan_connection(con, secrets)
    finally:
        con.close()


def scan_log(path: str | Path, secrets: dict[str, str]) -> list[Leak]:
    """Leaks in a log file, line by line."""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return [
        Leak(f"{Path(path).name}:{n}", rule, name, line)
        for n, line in enumerate(lines, 1)
        for rule, name in find_leaks(line, secrets)
    ]
