"""Live call sessions: endpointing, partials, finals, redaction and the end of a call, with fakes.

The fakes here are shared with test_service.py: `FakeTranscriber` "hears" tone bursts, each
frequency standing for one scripted sentence, and returns a prefix of it proportional to how much
of the burst it was given (so partials grow like real ones).
"""

from __future__ import annotations

import numpy as np
import pytest
from fakes import (
    FakeTranscriber,
    conversation,
    fake_processor,
    feed_call,
    tone,
)

from assistant.live.session import ArticleCatalog, Endpointer, LiveCall, LiveOptions, TrackStream
from assistant.vocab import confidence_word


@pytest.fixture
def call() -> LiveCall:
    return LiveCall("live-1", fake_processor(), ArticleCatalog.load(), LiveOptions())


# -- endpointing ----------------------------------------------------------------------------------


def test_endpointer_finds_start_and_end_after_hangover() -> None:
    ep = Endpointer(LiveOptions(endpoint_silence=0.4))
    frames = [np.zeros(320, np.float32)] * 10 + [tone(500, 0.02)] * 20 + [np.zeros(320, np.float32)] * 30
    changes = [(i, c) for i, f in enumerate(frames) if (c := ep.step(f))]
    assert changes[0] == (12, "start")  # three speech frames
    assert changes[1] == (30 + 19, "end")  # 20 silent frames = 0.4 s


def test_track_cuts_utterances_and_requests_partials() -> None:
    track = TrackStream("caller", LiveOptions(partial_interval=1.0, first_partial=0.7))
    audio = np.concatenate([np.zeros(8000, np.float32), tone(400, 2.5), np.zeros(16000, np.float32)])
    actions = track.feed(audio[:16000])  # 0.5 s of silence, then 0.5 s of speech
    assert actions == []
    actions = track.feed(audio[16000:19200])  # 0.7 s of utterance audio (with its pre-roll)
    assert [k for k, _ in actions] == ["partial"]
    track.partial_shown = True  # that partial showed text: from now on one a second
    actions = track.feed(audio[19200:])
    kinds = [k for k, _ in actions]
    assert kinds == ["partial", "final"]  # at 1.7 s; 2.7 s falls in the hangover after speech
    clip, start, end = actions[-1][1]
    assert start == pytest.approx(0.5 - 0.2, abs=0.1) and end - start == pytest.approx(2.5 + 0.4, abs=0.15)


def test_partials_keep_the_first_pace_until_one_shows_text() -> None:
    """A first partial over a breath or half a word can decode to nothing; the next one must not
    wait a whole partial interval, or the caption shows up late."""
    track = TrackStream("caller", LiveOptions(partial_interval=1.0, first_partial=0.5))
    actions = track.feed(np.concatenate([np.zeros(8000, np.float32), tone(400, 2.1)]))
    assert [k for k, _ in actions] == ["partial"] * 4  # at 0.5, 1.0, 1.5 and 2.0 s of utterance audio


def test_clicks_are_not_utterances() -> None:
    track = TrackStream("caller", LiveOptions())
    assert track.feed(np.concatenate([tone(400, 0.08), np.zeros(16000, np.float32)])) == []


def test_max_utterance_cuts_long_speech() -> None:
    track = TrackStream("caller", LiveOptions(max_utterance=2.0, partial_interval=10))
    finals = [a for a in track.feed(tone(400, 5.0)) if a[0] == "final"]
    assert len(finals) == 2


def test_flush_finalises_open_utterance() -> None:
    track = TrackStream("caller", LiveOptions())
    assert [k for k, _ in track.feed(tone(400, 1.0)) if k == "final"] == []
    assert [k for k, _ in track.flush()] == ["final"]
    assert track.flush() == []


def test_confidence_words() -> None:
    assert [confidence_word(s) for s in (0.9, 0.65, 0.55)] == ["high", "medium", "low"]


# -- a whole call ---------------------------------------------------------------------------------


def test_call_partials_finals_suggestion_and_redaction(call: LiveCall) -> None:
    feed_call(call, conversation())
    events, cursor = call.events_since(0)
    captions = [e["data"] for e in events if e["type"] == "caption"]
    for speaker in ("agent", "caller"):
        assert any(c["speaker"] == speaker and not c["final"] for c in captions)
        assert any(c["speaker"] == speaker and c["final"] for c in captions)
    suggestion = next(e["data"] for e in events if e["type"] == "suggestion")
    assert suggestion["article_id"] == "pt-pay-bill" and suggestion["confidence"] == "high"
    assert suggestion["suggestion_id"] == "live-1:0" and "property tax" in suggestion["answer"].lower()
    assert "4111" not in str(events)
    assert any("[CARD]" in c["text"] for c in captions if c["final"])
    assert cursor == len(events) and call.events_since(cursor) == ([], cursor)


def test_partials_are_greedy_and_skipped_when_behind(call: LiveCall) -> None:
    call.options.max_partial_lag = -1.0  # always "behind"
    call.pending_finals.append(0.0)
    feed_call(call, conversation())
    assert call.partials_skipped > 0 and call.partials_done == 0
    assert all(beam == 1 for _, _, beam in call.processor.transcriber.calls)


def test_finish_sorts_utterances_and_keeps_suggestion_ids(call: LiveCall) -> None:
    feed_call(call, conversation())
    record = call.finish()
    starts = [u.start for u in record.utterances]
    assert starts == sorted(starts) and len(starts) == 4
    assert record.suggestions[0].article_id == "pt-pay-bill"
    assert record.utterances[record.suggestions[0].utterance_idx].speaker == "caller"
    assert record.summary_json and record.status == "complete" and record.ended_at is not None
    assert "4111" not in str(record)


def test_call_end_does_not_search_or_translate_again(call: LiveCall, monkeypatch) -> None:  # noqa: ANN001
    searched: list[str] = []
    index = call.processor.search_engine()[1]
    real = index.search_vector
    monkeypatch.setattr(index, "search_vector", lambda q, *a, **k: searched.append(q) or real(q, *a, **k))
    feed_call(call, conversation())
    during = list(searched)
    assert during, "the live call searched the knowledge base"
    translated: list[str] = []
    monkeypatch.setattr(call.processor, "_text_translation", lambda text, lang: translated.append(text))
    record = call.finish()
    assert searched == during, "call end searched again"
    assert translated == []
    # the summary names the article suggested live
    assert "pt-pay-bill" in str(record.summary_json.get("articles"))


def test_native_answer_in_caller_language(call: LiveCall) -> None:
    from assistant.live.steps import answer_in_language

    article = call.catalog.by_id["snap-ebt-card-replace"]
    native = answer_in_language(call, article, "es")
    assert native is not None and native["machine_translated"] is False
    assert native["text"] == call.catalog.by_id["snap-ebt-card-replace-es"].body
    assert answer_in_language(call, article, "en") is None


def test_empty_call_id_is_refused() -> None:
    from assistant.errors import InputError

    with pytest.raises(InputError):
        LiveCall(" ", fake_processor(), ArticleCatalog())


def test_partials_hide_every_number() -> None:
    from assistant.live.session import redact_partial

    assert redact_partial("It is 4111", "") == "It is …"
    assert redact_partial("my card is four one one one one", "") == "my card is …"
    assert redact_partial("call me at 555-123-4567", "") == "call me at [PHONE]"
    assert redact_partial("I want to pay my bill", "") == "I want to pay my bill"


def test_live_decodes_use_the_short_window_and_never_the_sampling_fallback(call: LiveCall) -> None:
    feed_call(call, conversation())
    used = call.processor.transcriber.options
    assert used and all(o.short_context and not o.temperature_fallback and not o.vad for o in used)
    # partials never fall back to the 30 s window; finals do
    assert {o.short_fallback for o in used} == {True, False}


def test_partial_model_used_for_english_partials_only(monkeypatch) -> None:  # noqa: ANN001
    import assistant.live.session as session

    small = FakeTranscriber()
    monkeypatch.setattr(session, "load_transcriber", lambda model=None, engine=None: small)
    processor = fake_processor()
    call = LiveCall("p-1", processor, ArticleCatalog(), LiveOptions(partial_model="tiny.en"))
    twice = {speaker: np.concatenate([audio, audio]) for speaker, audio in conversation().items()}
    feed_call(call, twice)
    # a track's first two utterances are heard before its language is settled: the main model
    assert call.agent_language.settled and call.language.settled
    assert small.calls and all(beam == 1 for _, _, beam in small.calls)
    assert len(processor.transcriber.calls) >= 4  # every final, and the partials before English was known


def test_the_agent_is_heard_in_the_agent_language_until_the_caller_speaks_another(call: LiveCall) -> None:
    """Whisper's language ID on one short telephone greeting can be wrong (English heard as
    Finnish), so the agent's speech is decoded in `agent_language` while the caller's language is
    unknown or the same; once the caller is heard in another language, the agent's is detected."""
    assert call.decode_options("agent", 1).language == "en"
    assert call.decode_options("caller", 1).language is None  # the caller's is always detected
    call.language.add_speech("en", 0.9, 3.0)
    assert call.decode_options("agent", 1).language == "en"
    spanish = LiveCall("live-es", fake_processor(), ArticleCatalog(), LiveOptions())
    spanish.language.add_speech("es", 0.95, 3.0)
    assert spanish.decode_options("agent", 1).language is None  # a bilingual agent may answer in it
    spanish.agent_language.override("es")
    assert spanish.decode_options("agent", 1).language == "es"


def test_a_track_in_its_hangover_says_when_its_final_is_due() -> None:
    track = TrackStream("caller", LiveOptions(endpoint_silence=0.6))
    assert track.final_due() is None
    track.feed(tone(300, 1.0))
    assert track.final_due() is None  # speaking
    track.feed(np.zeros(3200, np.float32))  # 0.2 s of silence
    due = track.final_due()
    assert due is not None and 0.35 <= due <= 0.45
    actions = track.feed(np.zeros(8000, np.float32))
    assert [kind for kind, _ in actions] == ["final"] and track.final_due() is None
