"""Redaction: the hand-written fixture (zero card/SSN misses), idempotency, bad input, the CLI."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from assistant import cli
from assistant.redaction import TYPES, Redaction, Span, redact, redact_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"


CASES = [json.loads(line) for line in (FIXTURES / "redaction_cases.jsonl").read_text().splitlines() if line]
PLACEHOLDER = re.compile(r"\[([A-Z]+)\]")
DIGIT_WORDS = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
SPOKEN_RUN = re.compile(rf"\b{DIGIT_WORDS}(?:[\s,.-]+{DIGIT_WORDS}){{2,}}\b", re.IGNORECASE)


def _score() -> tuple[list[str], list[str], list[str]]:
    """Misses of CARD/SSN, misses of other types, and false positives, each as a line of text."""
    hard_misses, other_misses, false_positives = [], [], []
    for case in CASES:
        out = redact_text(case["text"])
        found = set(PLACEHOLDER.findall(out))
        for kind in set(case["expect"]) - found:
            (hard_misses if kind in ("CARD", "SSN") else other_misses).append(
                f"{kind}: {case['text']!r} -> {out!r}"
            )
        extra = found - set(case["expect"])
        lost = [k for k in case["keep"] if k not in out]
        if extra or lost:
            false_positives.append(f"{sorted(extra)} lost={lost}: {case['text']!r} -> {out!r}")
    return hard_misses, other_misses, false_positives


def test_fixture_is_large_and_varied() -> None:
    assert len(CASES) >= 80
    assert sum(1 for c in CASES if not c["expect"]) >= 30  # hard negatives
    assert {k for c in CASES for k in c["expect"]} == set(TYPES)


def test_fixture_zero_card_and_ssn_misses_and_few_false_positives() -> None:
    hard_misses, other_misses, false_positives = _score()
    print(
        f"\nredaction fixture: {len(CASES)} cases, card/SSN misses {len(hard_misses)}, "
        f"other misses {len(other_misses)}, false positives {len(false_positives)}"
    )
    for line in hard_misses + other_misses + false_positives:
        print("  ", line)
    assert hard_misses == []
    assert len(other_misses) <= 2
    assert len(false_positives) <= 5


@pytest.mark.parametrize("case", [c for c in CASES if c["expect"]], ids=lambda c: c["text"][:40])
def test_no_raw_digits_of_a_positive_remain(case: dict) -> None:
    out = redact_text(case["text"])
    for keep in case["keep"]:
        out = out.replace(keep, " ")
    assert not re.search(r"\d", out), out
    assert not SPOKEN_RUN.search(out), out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["text"][:40])
def test_idempotent(case: dict) -> None:
    once = redact_text(case["text"])
    assert redact_text(once) == once
    assert redact(once).spans == ()


def test_spans_point_into_the_original_and_hold_no_values() -> None:
    text = "card 4111 1111 1111 1111, social 123-45-6789, mail ana@example.org"
    result = redact(text)
    assert isinstance(result, Redaction)
    assert [text[s.start : s.end] for s in result.spans] == [
        "4111 1111 1111 1111",
        "123-45-6789",
        "ana@example.org",
    ]
    assert [s.type for s in result.spans] == ["CARD", "SSN", "EMAIL"]
    assert result.text == "card [CARD], social [SSN], mail [EMAIL]"
    assert result.types == {"CARD", "SSN", "EMAIL"}
    assert set(Span.__dataclass_fields__) == {"type", "start", "end"}


def test_spans_of_a_second_pass_map_to_the_original() -> None:
    # Whatever needs a second pass must still report offsets in the caller's text.
    text = "my card number is 4111 1111 1111 1111 9, phone 555-123-4567"
    result = redact(text)
    for span in result.spans:
        assert re.search(r"\d", text[span.start : span.end])
    assert "[PHONE]" in result.text


def test_card_context_redacts_a_misheard_number_that_fails_luhn() -> None:
    assert redact_text("my visa is 4111 1111 1111 1112") == "my visa is [CARD]"
    # Without context a Luhn-failing 16-digit run is left alone (an order or tracking number).
    assert redact_text("order 4111 1111 1111 1112") == "order 4111 1111 1111 1112"


def test_luhn_valid_card_needs_no_context() -> None:
    assert redact_text("it is 5555 5555 5555 4444 ok") == "it is [CARD] ok"


def test_empty_and_blank_text() -> None:
    assert redact("") == Redaction(text="", spans=())
    assert redact_text("   \n") == "   \n"


def test_text_already_holding_placeholders_is_unchanged() -> None:
    text = "card [CARD], cvv [CVV], ssn [SSN], born [DOB], mail [EMAIL] [PHONE] [ACCOUNT] [ROUTING] [EXPIRY]"
    assert redact(text) == Redaction(text=text, spans=())


def test_non_ascii_text_and_digits() -> None:
    assert (
        redact_text("Número de teléfono: 555-123-4567 ¿vale? 😀") == "Número de teléfono: [PHONE] ¿vale? 😀"
    )
    # Arabic-Indic and full-width digits are digits too.
    assert redact_text("card ٤١١١ ١١١١ ١١١١ ١١١١") == "card [CARD]"
    assert redact_text("ssn １２３-４５-６７８９") == "ssn [SSN]"


def test_very_long_text_completes_and_redacts_throughout() -> None:
    # 100k characters of hostile shapes: long digit strings, spoken digits, near-miss e-mails.
    chunk = "one two three " * 20 + "a dot b dot c " * 20 + "1-2-3-4-5-6 " * 20 + "x" * 200 + " "
    text = (chunk * (100_000 // len(chunk) + 1))[:100_000]
    text = text[:50_000] + " card 4111 1111 1111 1111 " + text[50_000:]
    result = redact(text)
    assert "4111 1111 1111 1111" not in result.text
    assert "CARD" in {s.type for s in result.spans}
    # One 100k-digit run with no context is no card, SSN or phone number.
    assert redact_text("1" * 100_000) == "1" * 100_000


def test_cli_redacts_text_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["redact", "my", "ssn", "is", "123-45-6789"]) == 0
    assert capsys.readouterr().out == "my ssn is [SSN]\n"


def test_cli_reads_stdin_line_by_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("call 555-867-5309\n\nthe form 1040\n"))
    assert cli.main(["redact", "-"]) == 0
    assert capsys.readouterr().out == "call [PHONE]\n\nthe form 1040\n"


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["redact", "--json", "mail tom at gmail dot com"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row == {"text": "mail [EMAIL]", "spans": [{"type": "EMAIL", "start": 5, "end": 25}]}


@pytest.mark.parametrize("argv", [["redact"], ["redact", ""], ["redact", "  "]])
def test_cli_without_text_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
