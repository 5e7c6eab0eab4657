"""Transcription with the real bundled Whisper models (tier 3) and the segment filter (tier 1)."""

from __future__ import annotations

import json
import re
from difflib import SequenceMatcher

import numpy as np
import pytest
from audio_util import encode
from conftest import EVAL_DIR, REPO
from wer_util import normalise, wer

from assistant.speech import audio
from assistant.speech.transcription import (
    Segment,
    TranscriptionOptions,
    keep_segment,
    load_transcriber,
    split_turns,
    transcribe_file,
    transcribe_tracks,
)

SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def base():
    return load_transcriber("faster-whisper", "base")


def test_segment_filter_drops_whisper_inventions():
    opts = TranscriptionOptions()
    good = Segment(0, 2, "caller", "Where is my unemployment check?", -0.3, 0.1, 1.2)
    assert keep_segment(good, opts)
    assert not keep_segment(Segment(0, 2, "caller", "Thank you for watching!", -0.4, 0.5, 1.1), opts)
    assert not keep_segment(
        Segment(0, 2, "caller", "no no no no no no no no no no no no", -0.2, 0.1, 3.5), opts
    )
    assert not keep_segment(Segment(0, 2, "caller", "hmm", -1.5, 0.9, 1.0), opts)
    assert not keep_segment(Segment(0, 2, "caller", " ... ", -0.1, 0.0, 1.0), opts)
    # A real "thank you" from a confident speaker stays.
    assert keep_segment(Segment(0, 2, "caller", "Thank you.", -0.2, 0.05, 1.0), opts)


def test_turns_split_at_the_other_speakers_turn_and_at_long_pauses():
    speech = {
        # the caller reads a card in groups, hears the question, reads the SSN, pauses long, adds
        "caller": [(6.8, 9.3), (9.6, 12.1), (12.5, 17.1), (25.1, 27.5), (27.8, 31.2), (34.0, 35.0)],
        "agent": [(0.3, 1.7), (2.0, 5.5), (18.4, 23.8)],
    }
    turns = split_turns(speech)
    assert turns["caller"] == [(6.8, 17.1), (25.1, 31.2), (34.0, 35.0)]
    assert turns["agent"] == [(0.3, 5.5), (18.4, 23.8)]
    # a speaker talking on and on is cut at the longest pause, never inside speech
    talk = [(float(i), i + 0.8) for i in range(40)] + [(40.3, 41.0)]
    talk[20] = (20.0, 20.3)
    long = split_turns({"agent": talk}, longest=25.0)["agent"]
    assert long == [(0.0, 20.3), (21.0, 41.0)]
    assert all(hi - lo <= 25.0 for lo, hi in split_turns({"agent": talk}, longest=10.0)["agent"])
    assert split_turns({"caller": []}) == {"caller": []}


@pytest.mark.models
@pytest.mark.parametrize("name", ["digits-george.wav", "digits-jackson.wav", "digits-lucas.wav"])
def test_stereo_caller_answers_are_separate_turns_after_each_question(name):
    """The caller reads a card, the agent asks for the SSN, the caller reads it: two caller
    utterances, each after the agent's question, with their own timing (one 30 s Whisper window
    used to merge them into one utterance spanning the question)."""
    from assistant.calls.processor import merge_segments

    result = transcribe_file(EVAL_DIR / "real-dev" / "digits" / name)
    turns = merge_segments(result.segments)
    assert [u.speaker for u in turns] == ["agent", "caller", "agent", "caller", "agent"]
    ask_card, card, ask_ssn, ssn, _ = turns
    assert "card" in ask_card.text.lower() and "social security" in ask_ssn.text.lower()
    assert ask_card.end <= card.start < card.end <= ask_ssn.start < ask_ssn.end <= ssn.start
    gold = {g["file"]: g for g in json.loads((EVAL_DIR / "real-dev" / "digits" / "gold.json").read_text())}
    # each answer holds its own number (Whisper may mishear a digit, so nearly equal is enough)
    for turn, number in ((card, gold[name]["card"]), (ssn, gold[name]["ssn"])):
        assert SequenceMatcher(None, re.sub(r"\D", "", turn.text), number).ratio() >= 0.8, turn.text


@pytest.mark.models
def test_stereo_sample_call_turns_follow_the_script():
    """Every scripted turn of the payment call is one segment of its speaker, in order, starting
    within half a second of the script."""
    meta = next(
        c for c in json.loads((SAMPLES / "calls.json").read_text()) if c["file"] == "call-en-payment-pii.wav"
    )
    result = transcribe_file(SAMPLES / "call-en-payment-pii.wav")
    assert [s.speaker for s in result.segments] == [t["speaker"] for t in meta["turns"]]
    assert all(abs(s.start - t["start"]) < 0.5 for s, t in zip(result.segments, meta["turns"], strict=True))


@pytest.mark.models
def test_jfk_is_transcribed_accurately_and_detected_as_english(base):
    result = transcribe_file(EVAL_DIR / "jfk.flac", engine="faster-whisper", model="base")
    text = " ".join(s.text for s in result.segments)
    assert result.info.language == "en" and result.info.language_probability > 0.5
    assert wer((EVAL_DIR / "jfk.txt").read_text(), text) <= 0.05
    # one voice and no agent words: the mono track is diarized but stays one "unknown" speaker
    assert {s.speaker for s in result.segments} == {"unknown"}


@pytest.mark.models
def test_jfk_over_8khz_mulaw_telephony(base, tmp_path):
    samples = audio.decode_file(EVAL_DIR / "jfk.flac")[0]
    narrow = audio.resample(samples, 16000, 8000)
    path = encode(tmp_path / "jfk-mulaw.wav", narrow, 8000, "pcm_mulaw")
    result = transcribe_file(path, engine="faster-whisper", model="base")
    text = " ".join(s.text for s in result.segments)
    assert wer((EVAL_DIR / "jfk.txt").read_text(), text) <= 0.10
    # The same through raw media-stream frames (no WAV header), as a telephony fork sends them.
    raw = audio.g711_to_whisper(audio.encode_mulaw(narrow))
    streamed = base.transcribe(raw, TranscriptionOptions(), speaker="caller")
    assert wer((EVAL_DIR / "jfk.txt").read_text(), " ".join(s.text for s in streamed.segments)) <= 0.10


@pytest.mark.models
def test_stereo_call_labels_agent_and_caller(base):
    result = transcribe_file(SAMPLES / "call-en-benefits.wav", engine="faster-whisper", model="base")
    agent = normalise(" ".join(s.text for s in result.segments if s.speaker == "agent"))
    caller = normalise(" ".join(s.text for s in result.segments if s.speaker == "caller"))
    assert "status of your claim" in agent and "driver license" not in agent
    assert "driver license" in caller and "status of your claim" not in caller
    assert "received my payment" in caller
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert set(result.tracks) == {"agent", "caller"}


@pytest.mark.models
@pytest.mark.parametrize("kind", ["silence", "white-noise", "hold-tone"])
def test_no_speech_gives_no_segments(base, kind):
    rng = np.random.default_rng(7)
    n = 10 * audio.SAMPLE_RATE
    if kind == "silence":
        samples = np.zeros(n, dtype=np.float32)
    elif kind == "white-noise":
        samples = (0.1 * rng.standard_normal(n)).astype(np.float32)
    else:  # music-on-hold style: alternating tones
        t = np.arange(n) / audio.SAMPLE_RATE
        samples = (0.3 * np.sin(2 * np.pi * np.where((t % 1) < 0.5, 440, 660) * t)).astype(np.float32)
    tracks = [audio.Track("unknown", samples)]
    result = transcribe_tracks(tracks, base, TranscriptionOptions())
    assert result.segments == ()
    # Even with the VAD off, the segment filter must drop what Whisper invents.
    unfiltered = base.transcribe(samples, TranscriptionOptions(vad=False))
    assert unfiltered.segments == ()


@pytest.mark.models
def test_tiny_en_model_and_translate_is_refused():
    from assistant.errors import InputError

    tiny = load_transcriber("faster-whisper", "tiny.en")
    samples = audio.decode_file(EVAL_DIR / "jfk.flac")[0]
    result = tiny.transcribe(samples, TranscriptionOptions(beam_size=1))
    assert result.info.language == "en"
    assert wer((EVAL_DIR / "jfk.txt").read_text(), " ".join(s.text for s in result.segments)) <= 0.15
    with pytest.raises(InputError, match="English-only"):
        tiny.transcribe(samples, TranscriptionOptions(task="translate"))


@pytest.mark.models
def test_openai_whisper_engine_loads_a_checkpoint_and_runs(tmp_path):
    """A tiny randomly initialised checkpoint goes through whisper.load_model: plumbing, not quality."""
    from dataclasses import asdict

    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51865,
        n_text_ctx=448,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    checkpoint = tmp_path / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, checkpoint)
    assert whisper.load_model(str(checkpoint), device="cpu").dims.n_text_state == 32

    engine = load_transcriber("openai-whisper", str(checkpoint))
    assert engine.name == "openai-whisper"
    samples = audio.decode_file(EVAL_DIR / "jfk.flac")[0]
    language, probability = engine.detect_language(samples)
    assert isinstance(language, str) and 0.0 <= probability <= 1.0
    result = engine.transcribe(samples, TranscriptionOptions(beam_size=1, language="en"), speaker="caller")
    assert result.info.language == "en" and abs(result.info.duration - 11.0) < 0.1
    assert all(isinstance(s, Segment) and s.speaker == "caller" for s in result.segments)
    json.dumps(result.to_json())


def test_a_start_in_the_pause_before_speech_moves_to_where_the_speech_starts():
    """Whisper may time a first word a little before the speech; mapped back from the VAD's joined
    speech, that falls in the pause before it, and the segment is moved to the speech's start."""
    from assistant.speech.transcription import Segment, Word, snap_to_speech

    rate = audio.SAMPLE_RATE
    chunks = [
        {"start": int(28.5 * rate), "end": int(33.46 * rate)},
        {"start": int(36.94 * rate), "end": int(41.62 * rate)},
    ]
    words = (Word(36.58, 37.1, " One", 0.9), Word(37.1, 37.4, " more", 0.9))
    seg = Segment(start=36.58, end=40.0, speaker="caller", text="One more", words=words)
    (moved,) = snap_to_speech([seg], chunks)
    assert moved.start == pytest.approx(36.94) and moved.words[0].start == pytest.approx(36.94)
    assert moved.words[1] == words[1] and moved.text == seg.text
    inside = Segment(start=30.0, end=32.0, speaker="caller", text="x")
    assert snap_to_speech([inside], chunks) == [inside]
    short = Segment(start=34.0, end=34.5, speaker="caller", text="x")  # ends before the speech: kept
    assert snap_to_speech([short], chunks) == [short]
    after = Segment(start=45.0, end=46.0, speaker="caller", text="x")
    assert snap_to_speech([after], chunks) == [after]
