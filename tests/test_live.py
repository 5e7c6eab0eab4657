"""Live call sessions: endpointing, partials, finals, redaction and the end of a call, with fakes.

The fakes here are shared with test_service.py: `FakeTranscriber` "hears" tone bursts, each
frequency standing for one scripted sentence, and returns a prefix of it proportional to how much
of the burst it was given (so partials grow like real ones).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from assistant.calls.processor import CallOptions, CallProcessor
from assistant.knowledge.search import Hit, SearchResult
from assistant.live.session import (
    ArticleCatalog,
    Endpointer,
    LiveCall,
    LiveOptions,
    TrackStream,
    confidence_word,
)
from assistant.speech.transcription import Segment, Transcript, TranscriptionInfo

RATE = 16_000
SCRIPT = {
    400: ("caller", "I want to pay my property tax bill but the website keeps giving me an error.", 2.0),
    600: ("agent", "I can take the payment by phone. What is the card number?", 1.5),
    800: ("caller", "It is 4111 1111 1111 1111.", 2.0),
    1000: ("agent", "Thank you. The payment went through.", 1.2),
}


class FakeTranscriber:
    """Implements the Transcriber protocol for tone-coded audio."""

    name = "fake-whisper"

    def __init__(self, script: dict[int, tuple[str, str, float]] | None = None) -> None:
        self.calls: list[tuple[str, float, int]] = []
        self.options: list = []
        self.script = script or SCRIPT  # tone frequency -> (speaker, sentence, seconds)

    def transcribe(self, audio: np.ndarray, options, speaker: str = "unknown") -> Transcript:  # noqa: ANN001
        duration = len(audio) / RATE
        self.calls.append((speaker, duration, options.beam_size))
        self.options.append(options)
        text = ""
        if len(audio) and float(np.abs(audio).max()) > 0.01:
            spectrum = np.abs(np.fft.rfft(audio))
            freq = float(np.argmax(spectrum)) * RATE / len(audio)
            tone = min(self.script, key=lambda f: abs(f - freq))
            _, sentence, full = self.script[tone]
            words = sentence.split()
            n = max(1, min(len(words), round(len(words) * duration / full)))
            text = " ".join(words[:n])
        segments = (Segment(0.0, duration, speaker, text),) if text else ()
        return Transcript(segments, TranscriptionInfo("en", 0.99, duration))

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        return "en", 0.99


class FakeEmbedder:
    model_name = "fake"
    dimension = 4

    def embed(self, texts):  # noqa: ANN001, ANN201
        return np.zeros((len(texts), 4), dtype=np.float32)


class FakeIndex:
    """Suggests pt-pay-bill for bills and vote-register for voting; abstains otherwise."""

    def search_vector(self, query, vector, options, threshold):  # noqa: ANN001, ANN201
        for word, art, title in (
            ("bill", "pt-pay-bill", "Pay a property tax bill"),
            ("vote", "vote-register", "Register to vote"),
        ):
            if word in query.lower():
                hit = Hit(
                    art, title, 0.91, query, owner="Treasury", effective=dt.date(2024, 1, 1), language="en"
                )
                return SearchResult(query, (hit,), False, threshold=threshold)
        return SearchResult(query, (), True, reason="below threshold", threshold=threshold)


def fake_processor() -> CallProcessor:
    return CallProcessor(
        CallOptions(), transcriber=FakeTranscriber(), embedder=FakeEmbedder(), index=FakeIndex()
    )


def tone(freq: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def conversation(rate: int = RATE) -> dict[str, np.ndarray]:
    """Two tracks: agent 600 Hz at 0.5 s, caller 400 Hz at 2.6 s, caller 800 Hz at 5.4 s, agent 1000 Hz at 7.9 s."""
    length = int(10.0 * rate)
    tracks = {"agent": np.zeros(length, np.float32), "caller": np.zeros(length, np.float32)}
    for start, freq in ((0.5, 600), (2.6, 400), (5.4, 800), (7.9, 1000)):
        speaker, _, seconds = SCRIPT[freq]
        burst = tone(freq, seconds, rate)
        pos = int(start * rate)
        tracks[speaker][pos : pos + len(burst)] = burst
    return tracks


def run_jobs(call: LiveCall, jobs) -> None:  # noqa: ANN001
    for job in sorted(jobs, key=lambda j: j.kind != "final"):
        (call.run_final if job.kind == "final" else call.run_partial)(job)


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


def feed_call(call: LiveCall, tracks: dict[str, np.ndarray], frame: int = 320) -> None:
    for pos in range(0, len(tracks["agent"]), frame):
        for speaker, samples in tracks.items():
            run_jobs(call, call.feed(speaker, samples[pos : pos + frame]))


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
    import assistant.speech.transcription as transcription

    small = FakeTranscriber()
    monkeypatch.setattr(transcription, "load_transcriber", lambda model=None, engine=None: small)
    processor = fake_processor()
    call = LiveCall("p-1", processor, ArticleCatalog(), LiveOptions(partial_model="tiny.en"))
    twice = {speaker: np.concatenate([audio, audio]) for speaker, audio in conversation().items()}
    feed_call(call, twice)
    # a track's first two utterances are heard before its language is settled: the main model
    assert call.agent_language.settled and call.language.settled
    assert small.calls and all(beam == 1 for _, _, beam in small.calls)
    assert len(processor.transcriber.calls) >= 4  # every final, and the partials before English was known
