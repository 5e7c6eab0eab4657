"""The call pipeline: utterances, need detection, summary, storage of redacted records, ingest."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from conftest import REPO

from assistant import storage
from assistant.calls.processor import CallProcessor, RawUtterance, merge_segments, states_need
from assistant.speech.transcription import Segment
from assistant.text.summary import detect_outcome, talk_share

CARD_DIGITS = "4111111111111111"
SSN_DIGITS = "987654321"


def test_need_detection_skips_small_talk():
    assert states_need("Hi, I filed for unemployment three weeks ago and I have not been paid.")
    assert states_need("How do I register to vote at my new address?")
    assert states_need("Perdí mi tarjeta de beneficios y necesito una nueva.")
    for small_talk in (
        "Hi there.",
        "Thank you so much for your help.",
        "Okay, yes.",
        "Great, that helps a lot.",
        "It is [CARD].",
        "Goodbye, have a nice day.",
    ):
        assert not states_need(small_talk), small_talk


def test_segments_of_one_speaker_merge_across_short_pauses():
    segs = [
        Segment(0, 2, "caller", "I lost"),
        Segment(2.3, 4, "caller", "my card."),
        Segment(4.5, 6, "agent", "Sorry."),
        Segment(9, 10, "caller", "Hello?"),
    ]
    merged = merge_segments(segs)
    assert [(u.speaker, u.text) for u in merged] == [
        ("caller", "I lost my card."),
        ("agent", "Sorry."),
        ("caller", "Hello?"),
    ]


def test_outcome_and_talk_share():
    assert detect_outcome(["I'll transfer you to the tax office now."]) == "transferred"
    assert detect_outcome(["We will mail you a letter next week."]) == "follow-up"
    assert detect_outcome(["The payment went through.", "Thanks"]) == "resolved"
    assert detect_outcome(["Hello.", "Goodbye."]) == "unknown"
    assert talk_share([("agent", 0, 3), ("caller", 3, 4)]) == 0.75
    assert talk_share([]) is None


@pytest.fixture(scope="module")
def processor():
    return CallProcessor()


def all_stored_text(db_path) -> str:
    """Every text-like value in every table of the database, joined."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    chunks = []
    for (table,) in con.execute("select table_name from information_schema.tables").fetchall():
        for row in con.execute(f'select * from "{table}"').fetchall():
            chunks.extend(str(v) for v in row if v is not None)
    con.close()
    return "\n".join(chunks)


@pytest.mark.models
def test_transcript_call_is_stored_redacted_with_suggestions(processor, tmp_path):
    utterances = [
        RawUtterance("agent", 0, 3, "State Services, how can I help?"),
        RawUtterance("caller", 3, 9, "I want to pay my property tax bill but the website shows an error."),
        RawUtterance("agent", 9, 11, "I can take the card number now."),
        RawUtterance("caller", 11, 16, "It's 4111 1111 1111 1111, and my social is 987-65-4321."),
        RawUtterance("caller", 16, 20, "Also how do I register to vote at my new address?"),
        RawUtterance("agent", 20, 23, "You can update your registration online. The payment went through."),
        RawUtterance("caller", 23, 25, "Thank you so much."),
    ]
    record = processor.process_utterances(
        "t-1", datetime(2026, 11, 21, 15, tzinfo=UTC), utterances, channel="chat"
    )
    db = tmp_path / "calls.duckdb"
    con = storage.open_db(db)
    storage.save_call(con, record)
    con.close()
    text = all_stored_text(db)
    assert CARD_DIGITS not in text.replace(" ", "") and "4111" not in text
    assert SSN_DIGITS not in text.replace("-", "") and "6789" not in text and "4321" not in text
    suggested = [s.article_id for s in record.suggestions if not s.abstained]
    assert suggested[:2] == ["pt-pay-bill", "vote-register"]
    assert record.outcome == "resolved" and record.language == "en"
    assert "[CARD]" in text and "[SSN]" in text
    drivers = record.summary_json["sentiment_drivers"]
    assert drivers and all(record.utterances[d["utterance_idx"]].speaker == "caller" for d in drivers)
    assert any("error" in d["text"] or "Thank you" in d["text"] for d in drivers)


@pytest.mark.models
def test_an_article_is_suggested_once_per_call(processor):
    utterances = [
        RawUtterance("caller", 0, 3, "I lost my driver license, how do I get a new one?"),
        RawUtterance("caller", 4, 7, "Like I said, my driver license is lost and I need a replacement."),
    ]
    record = processor.process_utterances("t-2", datetime.now(UTC), utterances)
    ids = [s.article_id for s in record.suggestions if not s.abstained]
    assert ids == ["dl-replace-lost"]


@pytest.mark.models
def test_process_call_on_the_sample_with_card_and_ssn(tmp_path):
    db = tmp_path / "pii.duckdb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "process-call",
            str(REPO / "samples" / "call-en-payment-pii.wav"),
            "--db",
            str(db),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["call_id"] == "call-en-payment-pii" and data["language"] == "en"
    assert {
        "call_id",
        "language",
        "duration",
        "reason",
        "outcome",
        "sentiment",
        "suggestions",
        "summary_text",
    } <= set(data)
    suggested = [s["article_id"] for s in data["suggestions"] if not s["abstained"]]
    assert "pt-pay-bill" in suggested and "vote-register" in suggested
    text = all_stored_text(db)
    compact = "".join(ch for ch in text if ch.isdigit() or ch == "\n")
    assert CARD_DIGITS not in compact and "87654321" not in compact and "7654321" not in compact
    # Re-processing the same call replaces it.
    again = subprocess.run(
        [sys.executable, "-m", "assistant", "calls", "list", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert [c["call_id"] for c in json.loads(again.stdout)] == ["call-en-payment-pii"]


def _jsonl_calls(path, n):
    topics = [
        "Where is my unemployment payment? It has been three weeks.",
        "I lost my food benefits card and need a new one.",
        "How do I renew my driver license online?",
        "My water bill is way too high this month, why?",
    ]
    with path.open("w") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "call_id": f"c{i:04d}",
                        "started_at": f"2026-11-21T{8 + i % 9:02d}:00:00Z",
                        "channel": "chat",
                        "utterances": [
                            {"speaker": "agent", "text": "Hello, how can I help?", "start": 0, "end": 2},
                            {"speaker": "caller", "text": topics[i % 4], "start": 2, "end": 6},
                        ],
                    }
                )
                + "\n"
            )


@pytest.mark.models
def test_ingest_killed_part_way_then_rerun_has_every_call_once(tmp_path):
    src = tmp_path / "calls.jsonl"
    _jsonl_calls(src, 200)
    with src.open("a") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"call_id": "", "utterances": []}) + "\n")
    db = tmp_path / "ingest.duckdb"
    cmd = [sys.executable, "-m", "assistant", "ingest", str(src), "--db", str(db)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = 0
    assert proc.stderr is not None
    deadline = time.monotonic() + 600
    for line in proc.stderr:
        if ": stored" in line:
            seen += 1
        if seen >= 40 or time.monotonic() > deadline:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert seen >= 40
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert "already stored" in rerun.stdout
    con = storage.open_db(db)
    try:
        assert con.execute("select count(*), count(distinct call_id) from calls").fetchone() == (200, 200)
        errors = storage.list_ingest_errors(con)
    finally:
        con.close()
    assert any(":201" in e.source for e in errors) and any(":202" in e.source for e in errors)
    assert "calls.jsonl:201" in rerun.stderr


def test_ingest_of_a_missing_source_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "ingest",
            str(tmp_path / "nope.jsonl"),
            "--db",
            str(tmp_path / "x.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_feedback_on_unknown_call_and_show_unknown_call(tmp_path):
    db = str(tmp_path / "f.duckdb")
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "feedback", "nope", "nope:0", "--helpful", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "calls", "show", "nope", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no stored call" in proc.stderr


@pytest.mark.models
def test_spanish_call_is_translated_by_whisper_and_finds_the_article(processor, tmp_path):
    """No argos pack installed: the caller's Spanish speech reaches search through Whisper's own
    speech translation, labelled as machine translation."""
    record = processor.process_file(REPO / "samples" / "call-es-license.wav")
    assert record.language == "es"
    caller = [u for u in record.utterances if u.speaker == "caller"]
    assert caller and all(u.machine_translated and u.translation_engine == "whisper" for u in caller)
    # Whisper spells it either way ("licences" on an AMD EPYC model 17, "license" on earlier CPUs)
    assert re.search(r"licen[cs]e", caller[0].translation.lower())
    assert "licencia" in caller[0].text.lower()
    assert [s.article_id for s in record.suggestions if not s.abstained] == ["dl-renew"]


@pytest.mark.models
def test_batch_speech_translation_never_falls_back_to_the_30_s_window(processor, monkeypatch):
    """Like a live call's, a batch translation keeps the short window's text when Whisper is
    unsure of it and gives none when it loops: the espeak Spanish sample has one clip of each, and
    the 30 s pass spent 2.6 s on them for a YouTube sign-off ("see the link in the description")
    and a loop the guard then dropped."""
    model = processor.transcriber._model
    tasks: list[str] = []
    real = model.transcribe

    def spy(*args, **kwargs):
        tasks.append(kwargs.get("task", "transcribe"))
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "transcribe", spy)
    record = processor.process_file(REPO / "samples" / "call-es-food.wav")
    assert record.language == "es"
    assert tasks and "translate" not in tasks  # the tracks' 30 s transcription only
    translations = [u.translation for u in record.utterances if u.translation]
    assert len(translations) >= 3 and all(
        u.translation_engine == "whisper" for u in record.utterances if u.translation
    )
    assert not any("description" in t.lower() or "you can attack" in t.lower() for t in translations)


@pytest.mark.models
def test_optional_llm_summary_gets_redacted_turns(processor, monkeypatch):
    from assistant import config
    from assistant.calls import processor as processor_module

    sent = {}

    def fake_llm(transcript, **kwargs):
        sent["transcript"] = transcript
        sent["url"] = kwargs["url"]
        return "The caller asked how to pay a property tax bill."

    monkeypatch.setattr(processor_module, "llm_summary", fake_llm)
    monkeypatch.setenv("ASSISTANT_LLM_URL", "http://127.0.0.1:9/v1")
    config.reset()
    record = processor.process_utterances(
        "llm-1",
        datetime.now(UTC),
        [RawUtterance("caller", 0, 4, "How do I pay my property tax? My SSN is 987-65-4321.")],
    )
    assert sent["url"] == "http://127.0.0.1:9/v1"
    assert "987" not in str(sent["transcript"]) and "[SSN]" in str(sent["transcript"])
    assert record.summary_json["llm_summary"]["machine_generated"] is True
