"""Card and SSN digits split by separators the digit rules did not expect (issue 29, items 1 and 10):
Unicode dashes and spaces, format characters (zero-width space, word joiner, soft hyphen, bidi
marks), "/", "_", "+", full-width forms, and the words Whisper writes for a spoken "dash" or
"slash". Each path an attacker uses is tried: the gate itself, `assistant redact`, `assistant
ingest` of a JSONL transcript, feedback comments and articles through the REST API, and a
knowledge-base file. `privacy_scan` (tests/privacy_scan.py) looks for five digits of a secret in a
row, its last digits standing alone, or four digit words in a row, whatever separates them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from service_util import AuthedClient, make_app

from assistant import config, storage
from assistant.knowledge.articles import ArticleError, article_from_mapping, load_articles
from assistant.privacy.gate import CaptureWindow, gate, gate_message
from assistant.privacy.redaction import redact

CARD, SSN, CVV = "4111111111111111", "123456789", "737"
SECRETS = {"card": CARD, "ssn": SSN}

SEPARATORS = {
    "en dash": "\u2013",
    "em dash": "\u2014",
    "spaced en dash": " \u2013 ",
    "minus sign": "\u2212",
    "hyphen": "\u2010",
    "non-breaking hyphen": "\u2011",
    "figure dash": "\u2012",
    "horizontal bar": "\u2015",
    "small em dash": "\ufe58",
    "full-width hyphen": "\uff0d",
    "slash": "/",
    "spaced slash": " / ",
    "full-width slash": "\uff0f",
    "division slash": "\u2215",
    "underscore": "_",
    "plus": "+",
    "zero-width space": "\u200b",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "zero-width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "byte-order mark": "\ufeff",
    "no-break space": "\u00a0",
    "narrow no-break space": "\u202f",
    "thin space": "\u2009",
    "ideographic space": "\u3000",
    "dash word": " dash ",
    "slash word": " slash ",
    "zero-width space around a hyphen": "\u200b-\u200b",
}


def card(sep: str) -> str:
    return sep.join(["4111", "1111", "1111", "1111"])


def ssn(sep: str) -> str:
    return sep.join(["123", "45", "6789"])


def leaks(privacy_scan, text: str) -> list:  # noqa: ANN001
    return privacy_scan.find_leaks(text, SECRETS)


# ---------------------------------------------------------------- the gate


@pytest.mark.parametrize("name", SEPARATORS)
@pytest.mark.parametrize(
    "template",
    ["card {card} ssn {ssn}", "It is {card}. And my social is {ssn}.", "{card} {ssn}"],
)
def test_gate_redacts_card_and_ssn_whatever_separates_the_digits(privacy_scan, name, template):
    sep = SEPARATORS[name]
    text = template.format(card=card(sep), ssn=ssn(sep))
    assert leaks(privacy_scan, text)  # the scanner sees the secret in the raw text
    out = gate(text)
    assert not leaks(privacy_scan, out), out
    assert "[CARD]" in out and "[SSN]" in out, out
    assert gate(out) == out  # idempotent


@pytest.mark.parametrize("name", ["en dash", "zero-width space", "soft hyphen", "slash", "underscore"])
def test_full_width_digits_and_number_words_with_separators(privacy_scan, name):
    sep = SEPARATORS[name]
    wide = card(sep).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert "[CARD]" in gate(f"card {wide}")
    words = sep.join(["four one one one"] + ["one one one one"] * 3)
    assert not leaks(privacy_scan, gate(f"my card is {words}"))
    assert "[CARD]" in gate(f"mi tarjeta es {sep.join(['cuatro uno uno uno'] + ['uno uno uno uno'] * 3)}")


@pytest.mark.parametrize(
    "heard",
    [
        # What Whisper (the bundled model) wrote for espeak-ng reading digits with "dash" and "slash"
        # spoken between the groups (see tests/fixtures/live-separators.wav).
        "It is 4111-1111-1111-1111-1111-1111-1111-1111 and the code on the Mac is 737.",
        "4111, Mash, 1111, Mash, 1111, Mash, 1111, and the code on the Mac is 737.",
        "It is 4111 dash 1111 dash 1111 dash 1111 and the code on the Mac is 737.",
        "It is 4111/1111/1111/1111 and the code on the Mac is 737.",
        "4111 Sash 1111 Sash 1111 Sash 1111, code on the Mac 737",
        "card 4111 Mash 1111 Mash 1111 1111",
        "My social is 123 slash 45 slash 6789.",
        "My social is 123 Sash 45 Sash 6789.",
        "My social is 123/45/6789.",
    ],
)
def test_what_whisper_writes_for_spoken_separators_is_redacted(privacy_scan, heard):
    out = gate(heard)
    assert not leaks(privacy_scan, out), out
    assert CVV not in out, out


def test_text_around_the_placeholders_keeps_its_own_characters():
    text = "Ticket 12\u201314 \u2014 my card\u00a0is 4111\u200b1111\u200b1111\u200b1111, thanks\u2009!"
    assert gate(text) == "Ticket 12\u201314 \u2014 my card\u00a0is [CARD], thanks\u2009!"
    found = redact(text)
    (span,) = found.spans
    assert (span.type, text[span.start : span.end]) == ("CARD", card("\u200b"))


def test_dates_and_prose_with_dashes_and_slashes_are_not_numbers():
    for text in [
        "The card\u2014it is lost \u2013 I called on 3\u20134 May.",
        "We met on 1/2/2024, 3/4/2024 and 5/6/2024.",
        "Form 1040/2024 is due in 2\u20133 weeks.",
        "Pages 10\u201312 and 14_15 of the guide.",
    ]:
        assert gate(text) == text
    assert gate("born 3/12/1985") == "born [DOB]"


def test_log_lines_mask_long_digit_runs_split_by_unicode_separators():
    line = gate_message("lookup of id 55501\u20131234\u200b567 failed")
    assert "55501" not in line and "1234" not in line, line


# ---------------------------------------------------------------- fail closed while card data is given


def window_run(turns: list[tuple[str, str]]) -> list[str]:
    window = CaptureWindow()
    return [window.final(speaker, text)[0] for speaker, text in turns]


def test_every_digit_run_of_a_turn_that_gives_a_card_is_masked():
    # The caller gives the card without being asked; the code comes many words later, after a
    # word the recogniser got wrong: the gate's "code after a card" rule is too far away to see it.
    said = (
        "The number is 4111 1111 1111 1111. I also have the code, it is on the Mac, um, let me see,"
        " yes I think it is 737."
    )
    (out,) = window_run([("caller", said)])
    assert CVV not in out and "1111" not in out, out


def test_the_code_on_the_mac_is_masked_when_the_agent_asked():
    out = window_run(
        [
            ("agent", "Can I have the card number and the security code?"),
            ("caller", "It is 4111\u20131111\u20131111\u20131111 and the code on the Mac is 737."),
            ("caller", "Sorry, the code on the Mac is 737."),
        ]
    )
    assert all(CVV not in o and "1111" not in o for o in out), out


def test_a_turn_with_only_a_date_of_birth_keeps_its_other_numbers():
    (out,) = window_run([("caller", "I was born on March 3, 1980 and I have 2 kids.")])
    assert out == "I was born on [DOB] and I have 2 kids."


# ---------------------------------------------------------------- the CLI


def assistant(*args: str, stdin: str | None = None, home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_cli_redact_reads_separated_digits_from_stdin(tmp_path):
    lines = [f"card {card(sep)} ssn {ssn(sep)}" for sep in SEPARATORS.values()]
    proc = assistant("redact", "-", stdin="\n".join(lines) + "\n", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "card [CARD] ssn [SSN]"  # the issue's own example (en dash)
    assert out == ["card [CARD] ssn [SSN]"] * len(lines)


def test_cli_redact_json_spans_are_offsets_in_the_text_as_given(tmp_path):
    text = f"card {card(chr(0x2060))}"
    proc = assistant("redact", "--json", text, home=tmp_path)
    row = json.loads(proc.stdout)
    assert row["text"] == "card [CARD]"
    assert row["spans"] == [{"type": "CARD", "start": 5, "end": len(text)}]


def transcript_lines(calls: int = 3) -> list[dict]:
    """`calls` chat transcripts that share out the separators; each separator gets a caller turn
    with a card and its code and one with an SSN, each followed by an agent turn that moves on
    (so the capture window is closed again before the next separator)."""
    names = list(SEPARATORS)
    out = []
    for i in range(calls):
        utterances = [{"speaker": "agent", "text": "How can I help you today?"}]
        for name in names[i::calls]:
            sep = SEPARATORS[name]
            utterances += [
                {
                    "speaker": "caller",
                    "text": f"I want to pay my bill with {card(sep)}, the code on the Mac is 737.",
                },
                {"speaker": "agent", "text": "Thank you. The payment went through."},
                {
                    "speaker": "caller",
                    "text": f"Also my benefits are late, my social is {ssn(sep)} ({name}).",
                },
                {"speaker": "agent", "text": "I see the claim now. It was paid yesterday."},
            ]
        out.append(
            {
                "call_id": f"sep-{i}",
                "started_at": "2026-11-20T09:00:00Z",
                "channel": "chat",
                "utterances": utterances,
            }
        )
    return out


def test_ingest_of_a_jsonl_transcript_stores_prints_and_exports_no_secret(privacy_scan, tmp_path):
    jsonl = tmp_path / "calls.jsonl"
    jsonl.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in transcript_lines()))
    db = tmp_path / "b.duckdb"
    secrets = {**SECRETS, "cvv": CVV}
    proc = assistant("ingest", str(jsonl), "--db", str(db), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout + proc.stderr
    assert "3 stored" in printed, printed
    shown = assistant("calls", "show", "sep-0", "--json", "--db", str(db), home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    found, seen = privacy_scan.scan_duckdb(db, secrets)
    found += privacy_scan.scan_texts("cli", [printed, shown.stdout], secrets)
    assert seen > 0
    assert not found, "\n".join(str(x) for x in found[:20])
    stored = json.loads(shown.stdout)
    assert "[CARD]" in json.dumps(stored) and "[SSN]" in json.dumps(stored)


# ---------------------------------------------------------------- the REST API


def plain_call(call_id: str) -> storage.CallRecord:
    from datetime import UTC, datetime

    return storage.CallRecord(
        call_id=call_id,
        started_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        channel="chat",
        source="jsonl",
        utterances=(storage.UtteranceRecord("caller", 0.0, 1.0, "How do I pay my bill?"),),
        suggestions=(storage.SuggestionRecord("pay my bill", "pt-pay-bill", "Pay", score=0.9),),
    )


def test_feedback_comments_with_separated_digits_are_stored_redacted(privacy_scan, tmp_path):
    with AuthedClient(make_app(tmp_path)) as c:
        con = c.app.state.hub.cursor()
        sids = storage.save_call(con, plain_call("fb-sep"))
        comments = [f"he read {card(sep)} and {ssn(sep)}" for sep in SEPARATORS.values()]
        for comment in comments:
            r = c.post(
                "/calls/fb-sep/feedback", json={"suggestion_id": sids[0], "kind": "used", "comment": comment}
            )
            assert r.status_code == 200, r.text
        served = [f["comment"] for f in c.get("/calls/fb-sep").json()["feedback"]]
        found, seen = privacy_scan.scan_connection(con, SECRETS)
    assert len(served) == len(comments)
    assert all("[CARD]" in s and "[SSN]" in s for s in served), served
    found += privacy_scan.scan_texts("api", served, SECRETS)
    assert seen > 0
    assert not found, "\n".join(str(x) for x in found[:20])


def test_failed_sign_ins_with_separated_digits_leave_no_secret_in_the_audit(privacy_scan, tmp_path):
    with AuthedClient(make_app(tmp_path)) as c:
        names = [f"{card(sep)} {ssn(sep)}" for sep in list(SEPARATORS.values())[:8]]
        for name in names:
            r = c.post("/auth/sign-in", json={"name": name, "password": "not-the-password-1"})
            assert r.status_code in (401, 429), r.text
            assert not leaks(privacy_scan, r.text)
        audit = c.get("/audit").json()
        found, seen = privacy_scan.scan_connection(c.app.state.hub.cursor(), SECRETS)
    assert any("[CARD]" in json.dumps(line) for line in audit), audit
    found += privacy_scan.scan_texts(
        "audit", [json.dumps(line, ensure_ascii=False) for line in audit], SECRETS
    )
    assert seen > 0
    assert not found, "\n".join(str(x) for x in found[:20])


ARTICLE = {"id": "pay-by-phone", "title": "Pay a bill by phone", "body": "Call us to pay a bill."}


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("body", "Example: card 4111\u20131111\u20131111\u20131111 is accepted.", "a card number"),
        ("body", "Intro.\n\nThe SSN 123\u200b45\u200b6789 is checked.", "a Social Security number on line 3"),
        ("title", "Card 4111 1111 1111 1111", "a card number"),
        ("questions", ["what is 123-45-6789 for?"], "a Social Security number"),
        ("say", "Read back 4111/1111/1111/1111", "a card number"),
    ],
)
def test_an_article_holding_a_card_or_ssn_is_refused_naming_the_field(
    privacy_scan, tmp_path, monkeypatch, field, value, kind
):
    (tmp_path / "kb").mkdir()
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(tmp_path / "kb"))
    config.reset()
    with AuthedClient(make_app(tmp_path)) as c:
        created = c.post("/articles", json={**ARTICLE, field: value})
        assert created.status_code == 422, created.text
        (problem,) = created.json()["detail"]
        assert problem["field"] == field
        assert problem["message"].startswith(f"holds {kind}"), problem
        assert not leaks(privacy_scan, created.text)  # the message never repeats the value
        assert c.get("/articles").json() == []
        assert c.post("/articles", json=ARTICLE).status_code == 201
        updated = c.put(f"/articles/{ARTICLE['id']}", json={**ARTICLE, field: value})
        assert updated.status_code == 422, updated.text
        assert updated.json()["detail"][0]["field"] == field
        (stored,) = c.get("/articles").json()
        found, _ = privacy_scan.scan_connection(c.app.state.hub.cursor(), SECRETS)
    assert stored["title"] == ARTICLE["title"] and stored["body"] == ARTICLE["body"]
    files = "".join(p.read_text() for p in (tmp_path / "kb").rglob("*.md"))
    assert not leaks(privacy_scan, files) and not found


def test_a_knowledge_base_file_with_a_card_number_is_not_loaded_or_served(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "ok.md").write_text(
        "---\nid: ok\ntitle: Fine\n---\nCall 1-800-555-0100 or mail help@example.gov.\n"
    )
    (kb / "bad.md").write_text(
        "---\nid: bad\ntitle: Bad\n---\nTest card:\n4111\u20131111\u20131111\u20131111\n"
    )
    articles, problems = load_articles(kb)
    assert [a.id for a in articles] == ["ok"]
    (problem,) = problems
    assert "body" in str(problem) and "a card number on line 2" in str(problem)
    with pytest.raises(ArticleError) as exc:
        article_from_mapping({"id": "x", "title": "T", "tags": ["ssn 123/45/6789"]}, "text")
    assert exc.value.field == "tags"


def test_kb_lint_reports_the_article_and_field(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "bad.md").write_text("---\nid: bad\ntitle: Bad\n---\nRouting 021000021, account 123456789012.\n")
    proc = assistant("kb", "lint", "--no-duplicates", "--kb-dir", str(kb), home=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "bad.md: body: holds a bank" in proc.stdout, proc.stdout
    assert "021000021" not in proc.stdout + proc.stderr


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    config.reset()
    yield
    config.reset()
