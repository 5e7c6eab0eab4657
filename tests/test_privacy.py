"""The privacy gate (assistant/privacy/gate.py): the capture window, ids, the storage boundary, feedback
comments, the LLM path, logs, and the hostile dev transcripts through `assistant ingest`.

`stored_texts(db)` reads every text column of every table of a DuckDB file: the scan the
"no secret anywhere" checks use.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pytest
from fakes import FakeTranscriber, conversation, fake_processor, feed_call, tone
from service_util import AuthedClient, all_events, make_app, run_call, twilio_messages

from assistant import config, storage
from assistant.calls.processor import RawUtterance
from assistant.live.session import ArticleCatalog, LiveCall, LiveOptions
from assistant.privacy.gate import (
    CaptureWindow,
    Redacted,
    ensure_gated,
    gate,
    gate_message,
    install_log_gate,
    safe_id,
    safe_source,
)

REPO = Path(__file__).resolve().parent.parent
PII_ID = "+15558675309_jane.doe@example.com"
PII_PIECES = ("5558675309", "8675309", "jane.doe", "example.com", "jane")
DIGIT_WORD = (
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|cero|uno|dos|tres|cuatro|cinco|seis"
    r"|siete|ocho|nueve)"
)
FOUR_DIGIT_WORDS = re.compile(rf"\b{DIGIT_WORD}(?:[\s,.-]+{DIGIT_WORD}){{3,}}\b", re.IGNORECASE)


def run(window: CaptureWindow, turns: list[tuple[str, str]]) -> list[str]:
    """Each turn's gated text, fed in order through one window (as batch and live do)."""
    out, texts = [], []
    for speaker, text in turns:
        out.append(window.final(speaker, text, context=" ".join(texts[-2:]))[0])
        texts.append(text)
    return out


def stored_texts(db: str | Path) -> str:
    """Every text (VARCHAR/JSON) column of every table in the file, as one string."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        parts = []
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') AND table_schema = 'main'"
        ).fetchall()
        for table, column in columns:
            parts += [str(v) for (v,) in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall()]
        return "\n".join(parts)
    finally:
        con.close()


def leaks(text: str, secret: str) -> list[str]:
    """Pieces of `secret` found in `text`: 5 digits of it in one run (digits that spaces, commas,
    dots or dashes join), or its last four standing alone."""
    runs = [re.sub(r"\D", "", m.group()) for m in re.finditer(r"\d(?:[\s,.\-]{0,3}\d)*", text)]
    found = [secret[i : i + 5] for i in range(len(secret) - 4) if any(secret[i : i + 5] in r for r in runs)]
    if re.search(rf"(?<!\d){secret[-4:]}(?!\d)", text):
        found.append(secret[-4:])
    return found


# ---------------------------------------------------------------- the capture window


def test_ssn_request_masks_asr_noise_that_is_no_digit_rule() -> None:
    # The demo call over mu-law: Whisper wrote the SSN as "IDN 8M, 6 times, 4321".
    out = run(
        CaptureWindow(),
        [
            ("agent", "Can you confirm your social security number?"),
            ("caller", "My social IDN 8M, 6 times, 4321."),
        ],
    )
    assert out[1] == "My social [SSN]."
    assert gate("My social IDN 8M, 6 times, 4321.") != "My social [SSN]."  # the window made the difference


def test_a_number_read_in_groups_is_masked_across_turns() -> None:
    window = CaptureWindow()
    card = run(
        window,
        [
            ("agent", "What is the card number?"),
            ("caller", "4539"),
            ("caller", "1488"),
            ("caller", "okay"),
            ("caller", "0343"),
            ("agent", "mm-hm"),
            ("caller", "6467"),
        ],
    )
    assert card[1:] == ["[CARD]", "[CARD]", "okay", "[CARD]", "mm-hm", "[CARD]"]
    ssn = run(
        window,
        [("agent", "And your social security number?"), ("caller", "512 44"), ("caller", "7391")],
    )
    assert ssn[1:] == ["[SSN]", "[SSN]"]


def test_spanish_request_and_number_words() -> None:
    out = run(
        CaptureWindow(),
        [
            ("agent", "¿Cuál es su número de seguro social?"),
            ("caller", "cinco uno dos"),
            ("caller", "cuatro cuatro"),
            ("caller", "siete tres nueve uno"),
        ],
    )
    assert out[1:] == ["[SSN]", "[SSN]", "[SSN]"]


def test_the_window_closes_on_a_sentence_or_when_the_agent_moves_on() -> None:
    window = CaptureWindow()
    out = run(
        window,
        [
            ("agent", "Can I have your social security number?"),
            ("caller", "Sorry, I do not have it with me right now."),
            ("caller", "Can I come in on the 5th at 10 am?"),
        ],
    )
    assert out[2] == "Can I come in on the 5th at 10 am?" and window.kind is None
    out = run(
        window,
        [
            ("agent", "What is the card number?"),
            ("caller", "4539 1488 0343 6467"),
            ("agent", "Thank you, your payment of 45 dollars is scheduled for the third of March."),
            ("caller", "Great, I will call back in 2 days."),
        ],
    )
    assert out[2:] == [
        "Thank you, your payment of 45 dollars is scheduled for the third of March.",
        "Great, I will call back in 2 days.",
    ]


def test_a_sentence_with_digits_keeps_the_window_open_and_a_lone_number_word_is_no_digit() -> None:
    window = CaptureWindow()
    out = run(
        window,
        [
            ("agent", "What is the card number?"),
            ("caller", "It is 4321. Sorry, I need to find the rest of it."),
            ("caller", "4539"),
            ("caller", "One more thing. How do I register to vote at my new address?"),
        ],
    )
    assert out[1:] == [
        "It is [CARD]. Sorry, I need to find the rest of it.",
        "[CARD]",
        "One more thing. How do I register to vote at my new address?",
    ]
    assert window.kind is None


def test_a_placeholder_the_rules_chose_keeps_its_type_in_a_window() -> None:
    out = run(
        CaptureWindow(),
        [
            ("agent", "I can take the card number now."),
            ("caller", "It's 4111 1111 1111 1111, and my social is 987-65-4321."),
        ],
    )
    assert out[1] == "It's [CARD], and my social is [SSN]."


def test_the_caller_can_open_the_window_and_a_password_is_masked_whole() -> None:
    out = run(CaptureWindow(), [("caller", "my social is"), ("caller", "five one two"), ("caller", "44")])
    assert out[1:] == ["[SSN]", "[SSN]"]
    out = run(CaptureWindow(), [("agent", "What is your password?"), ("caller", "sunshine dog")])
    assert out[1] == "[PASSWORD]"


def test_partials_follow_the_window_and_never_change_it() -> None:
    window = CaptureWindow()
    run(window, [("agent", "¿Me da el número de su tarjeta?")])
    assert window.partial("caller", "cuatro nueve dos") == "[CARD]"
    assert window.partial("caller", "four five three IDN 9") == "[CARD]"
    assert window.kind == "CARD"
    closed = CaptureWindow()
    assert closed.partial("caller", "es cuatro nueve dos nueve") == "es …"
    assert closed.partial("caller", "I have two kids") == "I have two kids"


# ---------------------------------------------------------------- the gate


@pytest.mark.parametrize(
    ("text", "placeholder"),
    [
        ("mi seguro social es cinco uno dos cuatro cuatro siete tres nueve uno", "[SSN]"),
        (
            "mi tarjeta es cuatro cinco tres nueve uno cuatro ocho ocho cero tres cuatro tres seis cuatro seis siete",
            "[CARD]",
        ),
        ("nací el catorce de julio de mil novecientos ochenta y dos", "[DOB]"),
        ("mi correo es juan arroba ejemplo punto com", "[EMAIL]"),
        ("call me on +44 20 7946 0958", "[PHONE]"),
    ],
)
def test_gate_reads_other_languages_and_international_numbers(text: str, placeholder: str) -> None:
    out = gate(text)
    assert placeholder in out and isinstance(out, Redacted)
    assert not re.search(r"\d", out) and not FOUR_DIGIT_WORDS.search(out)
    assert gate(out) == out


def test_ensure_gated_passes_gated_text_and_gates_the_rest() -> None:
    done = gate("It is 4111 1111 1111 1111")
    assert ensure_gated(done) is done
    assert ensure_gated("It is 4111 1111 1111 1111") == "It is [CARD]"
    assert ensure_gated(None) is None


# ---------------------------------------------------------------- identifiers


def test_ids_with_personal_data_become_stable_opaque_ids() -> None:
    opaque = safe_id(PII_ID)
    assert opaque.startswith("anon-") and not any(p in opaque for p in PII_PIECES)
    assert safe_id(PII_ID) == opaque and safe_id(opaque) == opaque and not re.search(r"\d", opaque)
    for keep in ("call001", "CA1", "demo-3f2a", "2026-11-29"):
        assert safe_id(keep) == keep
    for bad in ("5558675309", "call-555-867-5309", "4111-1111-1111-1111", "512-44-7391", "jane@x.org"):
        assert safe_id(bad).startswith("anon-"), bad
    assert safe_source(f"/rec/{PII_ID}.wav") == f"/rec/{opaque}.wav"
    assert safe_source("calls.jsonl:7") == "calls.jsonl:7" and safe_source("live") == "live"


# ---------------------------------------------------------------- the storage boundary


def pii_call(call_id: str = PII_ID) -> storage.CallRecord:
    """A call record built without the gate, as a careless new path would."""
    return storage.CallRecord(
        call_id=call_id,
        started_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        channel="voice",
        source=f"/rec/{PII_ID}.wav",
        reason="pay with card 4111 1111 1111 1111",
        summary_text="Caller gave SSN 512-44-7391.",
        summary_json={"quotes": ["mi correo es juan arroba ejemplo punto com"]},
        utterances=(
            storage.UtteranceRecord("caller", 0.0, 1.0, "My card is 4111 1111 1111 1111", translation=None),
            storage.UtteranceRecord(
                "caller", 1.0, 2.0, "mi seguro social es cinco uno dos cuatro cuatro siete tres nueve uno"
            ),
        ),
        suggestions=(storage.SuggestionRecord("card 4111 1111 1111 1111", "pt-pay-bill", "Pay", score=0.9),),
    )


def test_storage_gates_text_that_did_not_pass_the_gate(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    con = storage.open_db(db)
    sids = storage.save_call(con, pii_call())
    storage.add_feedback(con, PII_ID, sids[0], "helpful", "caller's card 4111 1111 1111 1111, email jo@x.org")
    storage.record_ingest_error(con, f"/in/{PII_ID}.wav", f"cannot decode /in/{PII_ID}.wav (call 5558675309)")
    found = storage.get_call(con, PII_ID)  # the raw id finds the call stored under its opaque id
    assert found is not None and found.call_id == safe_id(PII_ID)
    con.close()
    text = stored_texts(db)
    for secret in ("4111111111111111", "512447391"):
        assert leaks(text, secret) == [], secret
    assert not any(p in text for p in PII_PIECES) and "arroba" not in text and "jo@x.org" not in text


# ---------------------------------------------------------------- feedback comments: API and CLI


def test_feedback_comment_is_redacted_through_the_api(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path)) as c:
        con = c.app.state.hub.cursor()
        sids = storage.save_call(con, pii_call("fb-1"))
        r = c.post(
            "/calls/fb-1/feedback",
            json={"suggestion_id": sids[0], "kind": "not_helpful", "comment": "he read 4111 1111 1111 1111"},
        )
        assert r.status_code == 200
        comment = c.get("/calls/fb-1").json()["feedback"][0]["comment"]
    assert comment == "he read [CARD]"


def test_feedback_comment_is_redacted_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "f.duckdb"
    con = storage.open_db(db)
    sids = storage.save_call(con, pii_call("fb-2"))
    con.close()
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "feedback", "fb-2", sids[0], "--helpful", "--db", str(db),
         "--comment", "su seguro social es cinco uno dos cuatro cuatro siete tres nueve uno"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    con = storage.open_db(db)
    comment = storage.get_call(con, "fb-2").feedback[0].comment  # type: ignore[union-attr]
    con.close()
    assert comment == "su seguro social es [SSN]"


# ---------------------------------------------------------------- a call id with personal data


def test_call_id_with_pii_through_batch_is_never_stored_or_printed(tmp_path: Path) -> None:
    jsonl = tmp_path / "calls.jsonl"
    line = {
        "call_id": PII_ID,
        "started_at": "2026-11-20T09:00:00Z",
        "channel": "chat",
        "utterances": [{"speaker": "caller", "text": "Hello, thanks."}],
    }
    bad = {"call_id": "+15551234567", "channel": "chat", "utterances": []}
    jsonl.write_text(json.dumps(line) + "\n" + json.dumps(bad) + "\n")
    db = tmp_path / "b.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(jsonl), "--db", str(db)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    printed = proc.stdout + proc.stderr
    assert "1 stored" in printed, printed
    text = stored_texts(db)
    assert safe_id(PII_ID) in text
    for piece in (*PII_PIECES, "5551234567"):
        assert piece not in text and piece not in printed, piece


def test_recording_named_after_a_person_keeps_no_name(tmp_path: Path) -> None:
    from audio_util import encode

    tracks = conversation(16000)
    path = encode(
        tmp_path / f"{PII_ID}.wav",
        np.stack([tracks["agent"], tracks["caller"]]),
        16000,
        "pcm_s16le",
        channels=2,
    )
    record = fake_processor().process_file(path)
    assert record.call_id == safe_id(PII_ID) and record.source.endswith(f"{safe_id(PII_ID)}.wav")
    assert not any(p in json.dumps(record.__dict__, default=str) for p in PII_PIECES)


def test_call_id_with_pii_through_the_live_sockets(tmp_path: Path) -> None:
    from starlette.websockets import WebSocketDisconnect

    with AuthedClient(make_app(tmp_path)) as c:
        messages = twilio_messages("CAx", conversation(8000))
        start = json.loads(messages[1])
        start["start"]["customParameters"] = {"call_id": PII_ID}
        messages[1] = json.dumps(start)
        assert run_call(c, messages) == 1000
        events = all_events(c, PII_ID)  # the raw id still finds the call
        tracks = conversation(16000)
        pcm = (np.stack([tracks["agent"], tracks["caller"]], axis=1) * 32767).astype("<i2")
        with c.websocket_connect("/media/raw?call_id=%2B15551234567%40x.org&channels=2") as ws:
            for pos in range(0, len(pcm), 3200):
                ws.send_bytes(pcm[pos : pos + 3200].tobytes())
            ws.send_text('{"event": "stop"}')
            with pytest.raises(WebSocketDisconnect):
                ws.receive_text()
        assert c.app.state.hub.drain(30)
        listed = json.dumps(c.get("/calls").json())
    assert events and all(e["call_id"] == safe_id(PII_ID) for e in events)
    text = stored_texts(tmp_path / "svc.duckdb") + listed + json.dumps(events)
    for piece in (*PII_PIECES, "5551234567", "x.org"):
        assert piece not in text, piece


# ---------------------------------------------------------------- live: groups and Spanish


def test_live_split_turns_and_spanish_never_show_a_digit() -> None:
    # tone -> (speaker, what the fake recogniser hears, seconds); gaps > the 0.6 s endpoint
    script = {
        500: ("agent", "What is the card number?", 1.0),
        700: ("caller", "4539", 0.8),
        900: ("caller", "1488", 0.8),
        1100: ("caller", "okay", 0.5),
        1300: ("caller", "0343 6467", 1.2),
        1500: ("agent", "¿Y su número de seguro social?", 1.0),
        1700: ("caller", "cinco uno dos", 1.0),
        1900: ("caller", "cuatro cuatro siete tres nueve uno", 1.5),
        2100: ("caller", "Quiero saber cuándo llega mi reembolso de impuestos.", 1.5),
    }
    rate, at = 16000, 0.3
    tracks = {"agent": np.zeros(int(20 * rate), np.float32), "caller": np.zeros(int(20 * rate), np.float32)}
    for freq, (speaker, _, seconds) in script.items():
        burst = tone(freq, seconds, rate)
        pos = int(at * rate)
        tracks[speaker][pos : pos + len(burst)] = burst
        at += seconds + 1.0
    processor = fake_processor()
    processor._transcriber = FakeTranscriber(script)
    options = LiveOptions(partial_interval=0.3, first_partial=0.3)
    call = LiveCall("live-split", processor, ArticleCatalog.load(), options)
    feed_call(call, tracks)
    events, _ = call.events_since(0)
    captions = [e["data"] for e in events if e["type"] == "caption"]
    assert sum(1 for x in captions if x["final"] and x["speaker"] == "caller") == 7
    assert any(not x["final"] and x["speaker"] == "caller" for x in captions)
    record = call.finish()
    shown = json.dumps(events, ensure_ascii=False) + json.dumps(
        record.__dict__, default=str, ensure_ascii=False
    )
    for group in ("4539", "1488", "0343", "6467", "7391"):
        assert group not in shown, group
    assert not FOUR_DIGIT_WORDS.search(shown) and "cinco uno dos" not in shown
    assert "Quiero saber cuándo llega mi reembolso de impuestos." in shown  # the window closed


# ---------------------------------------------------------------- the LLM summary


def test_llm_gets_only_gated_text_and_its_reply_is_gated_in_every_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content.decode())
        reply = "La persona dio su tarjeta cuatro cinco tres nueve uno cuatro ocho ocho cero tres cuatro tres seis cuatro seis siete."
        return httpx.Response(200, json={"choices": [{"message": {"content": reply}}]})

    real_client = httpx.Client

    def client(*args, transport=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        return real_client(*args, transport=transport or httpx.MockTransport(handler), **kwargs)

    monkeypatch.setattr(httpx, "Client", client)
    monkeypatch.setenv("ASSISTANT_LLM_URL", "http://llm.local/v1")
    config.reset()
    turns = [
        RawUtterance("agent", 0.0, 1.0, "¿Cuál es el número de la tarjeta?"),
        RawUtterance("caller", 1.5, 2.5, "cuatro cinco tres nueve"),
        RawUtterance("caller", 3.0, 4.0, "uno cuatro ocho ocho"),
        RawUtterance("caller", 4.5, 6.0, "Quiero pagar mi factura de impuestos."),
    ]
    record = fake_processor().process_utterances(
        "llm-1", datetime(2026, 11, 20, tzinfo=UTC), turns, channel="chat"
    )
    assert sent and "4539" not in sent[0] and "cinco tres nueve" not in sent[0] and "[CARD]" in sent[0]
    summary = record.summary_json["llm_summary"]["text"]  # type: ignore[index]
    assert "[CARD]" in summary and not FOUR_DIGIT_WORDS.search(summary)


# ---------------------------------------------------------------- logs


def test_log_lines_pass_the_gate(caplog: pytest.LogCaptureFixture) -> None:
    install_log_gate()
    with caplog.at_level(logging.INFO):
        logging.getLogger("assistant.test").info("call %s from %s failed", PII_ID, "4111 1111 1111 1111")
        logging.getLogger("uvicorn.access").info('"GET /calls/+15558675309/events HTTP/1.1" 200')
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "GET",
            "/calls/%2B15558675309_jane.doe%40example.com",
            "1.1",
            200,
        )
    text = caplog.text
    assert not any(p in text for p in ("5558675309", "jane.doe", "4111")), text
    assert gate_message("job 193847 failed") == "job [number] failed"


# ---------------------------------------------------------------- the hostile dev transcripts


def eval_dir() -> Path:
    from conftest import EVAL_DIR

    return EVAL_DIR


@pytest.mark.models  # the ingest searches the knowledge base with the bundled MiniLM
@pytest.mark.skipif(not (eval_dir() / "privacy-dev").is_dir(), reason="shared eval data not present")
def test_hostile_transcripts_through_ingest_leave_no_secret_in_any_column(tmp_path: Path) -> None:
    src = eval_dir() / "privacy-dev"
    secrets = json.loads((src / "secrets.json").read_text())
    db = tmp_path / "h.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "ingest", str(src / "hostile.jsonl"), "--db", str(db)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0 and "5 stored" in proc.stdout, proc.stdout + proc.stderr
    text = stored_texts(db) + proc.stdout + proc.stderr
    for secret in secrets["secrets"]:
        assert leaks(text, secret) == [], secret
    for phrase in secrets["also_absent"]:
        assert phrase not in text, phrase
    assert not FOUR_DIGIT_WORDS.search(text)
    assert "[CARD]" in text and "[SSN]" in text and "[DOB]" in text and "[EMAIL]" in text


# ---------------------------------------------------------------- the bundled demo call, live


def _free_port() -> int:
    import os
    import socket

    if os.environ.get("ASSISTANT_TEST_PORT"):
        return int(os.environ["ASSISTANT_TEST_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.models
def test_bundled_demo_call_through_the_live_path_at_real_time_stores_ssn_and_card(tmp_path: Path) -> None:
    """`assistant serve` + the simulate-call client at real-time pace over mu-law (the console's
    demo call): the caller's card and SSN are stored as [CARD] and [SSN], no digit of either
    anywhere (captions, partials, database, service log)."""
    import time

    from assistant.service.client import ServiceClient, ServiceUnavailable
    from assistant.service.sim import SimOptions, simulate

    port = _free_port()
    db = tmp_path / "demo.duckdb"
    log = (tmp_path / "service.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--db", str(db)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        client = ServiceClient(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 300
        while True:
            try:
                client.health()
                break
            except ServiceUnavailable:
                assert server.poll() is None and time.monotonic() < deadline, "service did not start"
                time.sleep(0.5)
        client.close()
        result = simulate(
            str(REPO / "samples" / "call-en-payment-pii.wav"),
            SimOptions(url=f"ws://127.0.0.1:{port}/media", realtime=True, echo=False),
            call_id="demo-pii",
        )
        assert result.stored
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    events = json.dumps([e for _, e in result.events], ensure_ascii=False)
    con = duckdb.connect(str(db), read_only=True)
    caller = [
        t
        for (t,) in con.execute(
            "SELECT text FROM utterances WHERE speaker = 'caller' ORDER BY idx"
        ).fetchall()
    ]
    con.close()
    everything = stored_texts(db) + events + (tmp_path / "service.log").read_text()
    print("\nstored caller turns:", *caller, sep="\n  ")
    assert any("[CARD]" in t for t in caller) and any("[SSN]" in t for t in caller), caller
    for t in caller:
        if "[CARD]" in t or "[SSN]" in t:
            assert not re.search(r"\d", t), t
    for secret in ("4111111111111111", "987654321"):
        assert leaks(everything, secret) == [], secret
    assert not FOUR_DIGIT_WORDS.search(everything)


def test_demo_call_ids_are_kept_as_they_are() -> None:
    # A random hex id often holds a run of 5 digits, which the gate would store as `anon-...`: the
    # console and its browser test then could not name the demo call they started.
    from assistant.service.app import demo_call_id

    ids = [demo_call_id() for _ in range(200)]
    assert all(re.fullmatch(r"demo-[0-9a-f]{10}", i) and safe_id(i) == i for i in ids)
