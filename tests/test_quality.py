"""Quality review (issue 35): scorecards, scoring rules and evidence, call metrics, wrap-up codes,
storage, CLI and REST. Matching by meaning uses the bag-of-words FakeEmbedder here (texts sharing
words are close); the real multilingual encoder is measured in test_quality_models.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from service_util import AuthedClient, as_user, hub, make_app, run_call, twilio_messages, wait_for

from assistant import storage
from assistant.cli import main
from assistant.errors import InputError
from assistant.quality import after_call as after_call_module
from assistant.quality import review, wrapup
from assistant.quality.after_call import after_call
from assistant.quality.metrics import call_metrics
from assistant.quality.scorecards import load_scorecard, parse_scorecard
from assistant.quality.scoring import Line, bank_for, embed_lines, score_call
from assistant.storage import CallRecord, UtteranceRecord
from assistant.storage import quality as qstore

CARD = {
    "id": "t",
    "title": "test card",
    "questions": [
        {
            "id": "disclosure",
            "speaker": "agent",
            "within_s": 30,
            "any": ["this call is recorded"],
            "weight": 2,
        },
        {"id": "account", "speaker": "agent", "any": ["your account balance shows"], "weight": 0},
        {
            "id": "verify",
            "speaker": "agent",
            "any": ["confirm your date of birth"],
            "before": "account",
            "weight": 3,
        },
        {"id": "blame", "speaker": "agent", "none": ["that is your own fault"], "weight": 2},
        {"id": "thanks", "speaker": "caller", "any": ["thank you very much"], "weight": 1},
    ],
}


def score(lines: list[Line], card: dict | None = None):  # noqa: ANN201
    parsed = parse_scorecard(card or CARD)
    embedder = FakeEmbedder()
    return score_call(
        "c", parsed, lines, embed_lines([x.text for x in lines], embedder), bank_for(parsed, embedder)
    )


def answers(result) -> dict[str, tuple[str, float | None]]:  # noqa: ANN001
    return {a.question: (a.answer, a.evidence.start if a.evidence else None) for a in result.answers}


# ---------------------------------------------------------------- scorecards


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"questions": []}, "non-empty 'questions'"),
        ({"id": "bad id!"}, "needs an 'id'"),
        ({"questions": [{"id": "q", "any": ["a"], "none": ["b"]}]}, "exactly one of 'any'"),
        ({"questions": [{"id": "q"}]}, "exactly one of 'any'"),
        ({"questions": [{"id": "q", "any": []}]}, "non-empty list"),
        ({"questions": [{"id": "q", "any": ["a"], "speaker": "robot"}]}, "'speaker' must be one of"),
        ({"questions": [{"id": "q", "any": ["a"], "weight": -1}]}, "'weight' must be a number"),
        ({"questions": [{"id": "q", "any": ["a"], "within": 3}]}, "unknown key"),
        ({"questions": [{"id": "q", "any": ["a"], "before": "nope"}]}, "names no question"),
        ({"questions": [{"id": "q", "any": ["a"]}, {"id": "q", "any": ["b"]}]}, "used twice"),
        (
            {"questions": [{"id": "q", "none": ["a"], "before": "r"}, {"id": "r", "any": ["b"]}]},
            "needs an 'any'",
        ),
    ],
)
def test_a_malformed_scorecard_is_a_clear_error(change, message):
    with pytest.raises(InputError, match=message):
        parse_scorecard({**CARD, **change}, "card.yaml")


def test_the_fingerprint_changes_with_what_decides_an_answer():
    a = parse_scorecard(CARD)
    b = parse_scorecard({**CARD, "title": "another title"})
    c = parse_scorecard(
        {**CARD, "questions": [{**CARD["questions"][0], "within_s": 40}, *CARD["questions"][1:]]}
    )
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_the_issue_format_loads(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text((Path(__file__).parent / "fixtures" / "quality" / "scorecard.yaml").read_text())
    card = load_scorecard(path)
    assert [q.id for q in card.questions][:2] == ["greeting", "recording-disclosure"]
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML at line"):
        load_scorecard(tmp_path / "broken.yaml")


# ---------------------------------------------------------------- scoring rules


def test_yes_answers_carry_the_first_matching_utterance_and_weights_add_up():
    lines = [
        Line("agent", 0.0, "hello there"),
        Line("agent", 4.0, "please know this call is recorded"),
        Line("agent", 9.0, "can you confirm your date of birth"),
        Line("agent", 15.0, "your account balance shows ten dollars"),
        Line("caller", 20.0, "thank you very much"),
    ]
    result = score(lines)
    assert answers(result) == {
        "disclosure": ("yes", 4.0),
        "account": ("yes", 15.0),
        "verify": ("yes", 9.0),
        "blame": ("yes", None),
        "thanks": ("yes", 20.0),
    }
    assert (result.score, result.max_score) == (8, 8)
    evidence = result.to_json()["answers"][0]["evidence"]
    assert evidence == {"start": 4.0, "speaker": "agent", "text": "please know this call is recorded"}


def test_window_order_none_and_speaker_rules():
    lines = [
        Line("caller", 1.0, "is this call recorded"),  # the caller saying it does not count
        Line("agent", 5.0, "your account balance shows ten dollars"),
        Line("agent", 9.0, "now confirm your date of birth"),  # after the account: order broken
        Line("agent", 12.0, "well that is your own fault"),
        Line("agent", 45.0, "by the way this call is recorded"),  # outside within_s 30
    ]
    result = answers(score(lines))
    assert result["disclosure"] == ("no", None)
    assert result["verify"] == ("no", None)
    assert result["blame"] == ("no", 12.0)  # a "no" of a none question carries its evidence
    assert result["account"] == ("yes", 5.0)


def test_a_side_that_never_speaks_is_not_applicable_and_not_counted():
    result = score([Line("agent", 0.0, "this call is recorded")])
    assert answers(result)["thanks"] == ("n/a", None)
    assert result.max_score == 7  # 2 + 0 + 3 + 2; the caller question's weight is left out


def test_an_unsaid_before_target_leaves_the_order_rule_holding():
    result = answers(score([Line("agent", 3.0, "please confirm your date of birth")]))
    assert result["verify"] == ("yes", 3.0)
    assert result["account"] == ("no", None)


def test_a_near_miss_sharing_a_word_is_rejected_by_contrast():
    # "record" alone is not the disclosure: it is nearer an everyday anchor ("Let me record that change.").
    result = answers(score([Line("agent", 2.0, "let me record that change")]))
    assert result["disclosure"] == ("no", None)


# ---------------------------------------------------------------- metrics


def test_metrics_from_speech_with_overlaps_and_a_hold():
    speech = {
        "agent": [(0.0, 4.0), (6.0, 10.0), (30.0, 34.0)],
        "caller": [(3.0, 5.0), (9.5, 12.0), (33.8, 36.0)],
    }
    m = call_metrics(speech, duration=40.0, words={"agent": 24, "caller": 10}).to_json()
    assert m["talk_s"] == {"agent": 12.0, "caller": 6.7}
    assert m["overtalk_s"] == 1.7  # 3-4, 9.5-10, 33.8-34
    assert m["non_talk_s"] == 40.0 - (12.0 + 6.7 - 1.7)
    assert m["longest_silence_s"] == 18.0  # the hold: 12 -> 30
    # caller at 3.0 (agent goes on 1 s): yes; caller at 9.5 (agent goes on 0.5 s): yes;
    # caller at 33.8 (agent goes on 0.2 s): no. The agent never starts while the caller speaks.
    assert m["interruptions"] == {"agent": 0, "caller": 2}
    assert m["words_per_minute"] == {"agent": 120.0, "caller": round(10 / (6.7 / 60), 1)}


def test_metrics_join_a_speakers_short_pauses_into_one_turn():
    speech = {"agent": [(0.0, 5.0)], "caller": [(1.0, 2.0), (2.3, 3.0)]}  # one interruption, not two
    assert call_metrics(speech).interruptions == {"agent": 0, "caller": 1}


# ---------------------------------------------------------------- wrap-up codes


def test_wrapup_codes_rank_by_label_and_learn_from_confirmed_calls():
    codes = wrapup.parse_codes(
        [{"code": "PayBill"}, {"code": "ReportOutage", "label": "report a power outage"}, {"code": "Other"}],
        "codes",
    )
    assert codes[0].label == "pay bill"
    embedder = FakeEmbedder()
    s = wrapup.Suggester(codes, embedder)
    assert s.rank(embedder.embed(["my power is out, an outage on my street"])[0])[0] == "ReportOutage"
    need = embedder.embed(["the lights went dark in my building"])[0]
    assert s.rank(need)[0] != "ReportOutage"
    s.learn("ReportOutage", embedder.embed(["the lights went dark"])[0])
    assert s.rank(need)[0] == "ReportOutage"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "non-empty YAML list"),
        ([{"label": "x"}], "needs a 'code'"),
        ([{"code": "a"}, {"code": "a"}], "twice"),
    ],
)
def test_bad_wrapup_codes_are_clear_errors(data, message):
    with pytest.raises(InputError, match=message):
        wrapup.parse_codes(data, "codes.yaml")


# ---------------------------------------------------------------- call end, storage, CLI, REST


def stored_call(con, call_id: str = "qa-1", day: int = 3) -> None:  # noqa: ANN001
    utterances = (
        UtteranceRecord("agent", 0.0, 3.0, "hello, this call is recorded", "en"),
        UtteranceRecord("caller", 2.5, 6.0, "my power is out, an outage on my street", "en"),
        UtteranceRecord("agent", 7.0, 9.0, "please confirm your date of birth", "en"),
        UtteranceRecord("agent", 10.0, 12.0, "your account balance shows nothing due", "en"),
    )
    storage.save_call(
        con,
        CallRecord(call_id, datetime(2026, 11, day, 10, tzinfo=UTC), "voice", "test", utterances=utterances),
    )


@pytest.fixture
def quality_home(tmp_path, monkeypatch):  # noqa: ANN201
    from assistant import config

    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "t.yaml").write_text(json.dumps(CARD))  # JSON is YAML
    codes = tmp_path / "codes.yaml"
    codes.write_text(json.dumps([{"code": "PayBill"}, {"code": "ReportOutage", "label": "report an outage"}]))
    monkeypatch.setenv("ASSISTANT_SCORECARDS_DIR", str(cards))
    monkeypatch.setenv("ASSISTANT_WRAPUP_CODES", str(codes))
    config.reset()
    embedder = FakeEmbedder()
    monkeypatch.setattr(after_call_module, "shared_embedder", lambda: embedder)
    monkeypatch.setattr(review, "shared_embedder", lambda: embedder)
    yield tmp_path
    config.reset()


def test_after_call_stores_scores_metrics_and_wrapup_with_the_call(quality_home):
    con = storage.connect(":memory:")
    storage.migrate(con)
    stored_call(con)
    done = after_call(con, "qa-1")
    assert done is not None and done.wrapup[0] == "ReportOutage"
    call = storage.get_call(con, "qa-1")
    assert call.quality["metrics"]["overtalk_s"] == 0.5
    assert call.quality["metrics"]["interruptions"] == {"agent": 0, "caller": 1}
    (card,) = call.quality["scores"]
    assert card["scorecard"] == "t" and card["score"] == 7 and card["max_score"] == 8
    assert card["answers"][0]["evidence"] == {
        "start": 0.0,
        "speaker": "agent",
        "text": "hello, this call is recorded",
    }
    assert storage.list_calls(con)[0].quality == {
        "wrapup": {"suggested": ["ReportOutage", "PayBill"], "chosen": None}
    }
    storage.delete_call(con, "qa-1")
    for table in qstore.QUALITY_TABLES:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_a_changed_scorecard_is_rescored_from_stored_vectors(quality_home):
    con = storage.connect(":memory:")
    storage.migrate(con)
    stored_call(con)
    after_call(con, "qa-1")
    card = parse_scorecard(CARD)
    assert qstore.stale_scores(con, "t", card.fingerprint) == []
    changed = {**CARD, "questions": [{**CARD["questions"][0], "within_s": 0.0}, *CARD["questions"][1:]]}
    (quality_home / "cards" / "t.yaml").write_text(json.dumps(changed))
    assert review.rescore_changed(con) == {"t": 1}
    (stored,) = qstore.scores_for(con, ["qa-1"])["qa-1"]
    assert stored["fingerprint"] == parse_scorecard(changed).fingerprint
    assert stored["answers"][0]["answer"] == "yes"  # said at 0.0 s, still inside a 0 s window
    assert review.rescore_changed(con) == {"t": 0}


def test_qa_score_cli_prints_the_issue_shape(quality_home, capsys):
    db = quality_home / "a.duckdb"
    con = storage.open_db(db)
    stored_call(con, "qa-1", day=3)
    stored_call(con, "qa-2", day=4)
    con.close()
    card = quality_home / "cards" / "t.yaml"
    assert (
        main(["qa", "score", "--scorecard", str(card), "--date", "2026-11-03", "--db", str(db), "--json"])
        == 0
    )
    (item,) = json.loads(capsys.readouterr().out)
    assert set(item) == {"call_id", "scorecard", "score", "max_score", "answers"}
    assert item["call_id"] == "qa-1" and item["scorecard"] == "t"
    assert {a["question"]: a["answer"] for a in item["answers"]}["verify"] == "yes"
    assert main(["calls", "wrapup", "qa-2", "ReportOutage", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["calls", "list", "--db", str(db), "--json"]) == 0
    rows = {r["call_id"]: r["wrapup"] for r in json.loads(capsys.readouterr().out)}
    assert rows["qa-2"]["chosen"] == "ReportOutage" and rows["qa-1"] == {"suggested": [], "chosen": None}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--call", "nope"], "no stored call"),
        (["--date", "2026-13-01"], "YYYY-MM-DD"),
    ],
)
def test_qa_score_bad_input_exits_2(quality_home, capsys, argv, message):
    db = quality_home / "a.duckdb"
    con = storage.open_db(db)
    stored_call(con)
    con.close()
    card = quality_home / "cards" / "t.yaml"
    assert main(["qa", "score", "--scorecard", str(card), "--db", str(db), *argv]) == 2
    assert message in capsys.readouterr().err
    bad = quality_home / "bad.yaml"
    bad.write_text("id: x\nquestions: []\n")
    assert main(["qa", "score", "--scorecard", str(bad), "--call", "qa-1", "--db", str(db)]) == 2
    assert main(["calls", "wrapup", "qa-1", "NoSuchCode", "--db", str(db)]) == 2
    con = storage.open_db(db)
    assert storage.get_call(con, "qa-1") is not None  # nothing stored was lost
    con.close()


def test_rest_carries_scores_metrics_and_takes_a_wrapup(quality_home):
    with AuthedClient(make_app(quality_home)) as c:
        con = c.app.state.hub.cursor()
        stored_call(con)
        after_call(con, "qa-1")
        body = c.get("/calls/qa-1").json()
        assert body["scores"][0]["scorecard"] == "t" and body["metrics"]["talk_s"]["agent"] == 7.0
        assert body["wrapup"]["suggested"][0] == "ReportOutage"
        assert c.post("/calls/qa-1/wrapup", json={"code": "Nope"}).status_code == 400
        made = c.post("/calls/qa-1/wrapup", json={"code": "PayBill"})
        assert made.status_code == 200 and made.json()["chosen"] == "PayBill"
        assert c.get("/calls").json()[0]["wrapup"]["chosen"] == "PayBill"
        other = as_user(c, "someone", "agent")  # an agent who did not handle the call cannot see it
        assert c.post("/calls/qa-1/wrapup", json={"code": "PayBill"}, headers=other).status_code == 404


def test_metrics_of_a_stereo_call_with_overlaps_and_a_hold_from_each_channels_voice_activity():
    """overlap_hold.flac: espeak-ng turns placed at set times (see its .json): the caller cuts in
    twice, the agent once, and a 5.7 s hold. Gold = the rendered clips' own speech."""
    from assistant.speech.audio import AudioOptions, load_tracks
    from assistant.speech.transcription import speech_spans

    folder = Path(__file__).parent / "fixtures" / "quality"
    want = json.loads((folder / "overlap_hold.json").read_text())
    gold = want["gold"]
    tracks = load_tracks(folder / "overlap_hold.flac", AudioOptions(agent_channel="left"))
    got = call_metrics({t.speaker: speech_spans(t.samples) for t in tracks}, want["duration_s"]).to_json()

    def near(a: float, b: float) -> bool:
        return abs(a - b) <= max(1.0, 0.15 * b)

    assert all(near(got["talk_s"][who], gold["talk_s"][who]) for who in ("agent", "caller")), got
    assert near(got["overtalk_s"], gold["overtalk_s"]) and near(got["non_talk_s"], gold["non_talk_s"]), got
    assert abs(got["longest_silence_s"] - gold["longest_silence_s"]) <= 1.0
    assert got["interruptions"] == gold["interruptions"] == {"agent": 1, "caller": 2}


def test_a_live_call_gets_the_same_call_end_step_as_batch(quality_home):
    with AuthedClient(make_app(quality_home)) as c:
        assert run_call(c, twilio_messages("CA-quality")) == 1000
        assert hub(c).drain(60)
        # wrap-up codes are stored last
        body = wait_for(
            lambda: (b := c.get("/calls/CA-quality").json())["wrapup"]["suggested"] and b, timeout=60
        )
        assert body["scores"][0]["scorecard"] == "t"
        assert body["metrics"]["source"] == "utterances" and set(body["metrics"]["talk_s"]) == {
            "agent",
            "caller",
        }


def test_a_compliance_reminder_comes_once_near_the_windows_end_unless_it_was_said():
    from assistant.quality.reminders import ComplianceWatch

    card = parse_scorecard(CARD)
    watch = ComplianceWatch([card], FakeEmbedder())
    assert watch.open_questions == ["t/disclosure"]
    assert watch.due(10.0) == []  # 10 of 30 s: too early
    watch.said("caller", "is this call recorded", 12.0)  # the caller saying it does not count
    (reminder,) = watch.due(23.0)
    assert reminder["question"] == "disclosure" and reminder["window_end_s"] == 30.0
    assert watch.due(24.0) == []  # once
    said = ComplianceWatch([card], FakeEmbedder())
    said.said("agent", "hello, this call is recorded", 3.0)
    assert said.open_questions == [] and said.due(25.0) == []
