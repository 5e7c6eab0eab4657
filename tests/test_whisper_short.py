"""Whisper with an encoder window sized to the clip (assistant/speech/whisper_short.py), on real models."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from conftest import EVAL_DIR, REPO
from wer_util import normalise, wer

from assistant.errors import InputError
from assistant.privacy.numbers import ONES_ALT
from assistant.speech import audio, whisper_short
from assistant.speech.transcription import TranscriptionOptions, load_transcriber

SAMPLES = REPO / "samples"


DIGIT_WORDS = re.compile(rf"\b(?:(?:{ONES_ALT})\W+){{3}}", re.IGNORECASE)  # three digits read out


def turns(name: str) -> list[tuple[dict, np.ndarray]]:
    """(scripted turn, that speaker's clip) for each turn of a sample call."""
    meta = next(c for c in json.loads((SAMPLES / "calls.json").read_text()) if c["file"] == name)
    data = audio.decode_file(SAMPLES / name, keep_channels=True)
    channel = {speaker: 0 if side == "left" else 1 for side, speaker in meta["channels"].items()}
    out = []
    for turn in meta["turns"]:
        lo, hi = int((turn["start"] - 0.2) * audio.SAMPLE_RATE), int((turn["end"] + 0.2) * audio.SAMPLE_RATE)
        out.append((turn, data[channel[turn["speaker"]], lo:hi]))
    return out


@pytest.fixture(scope="module")
def base():
    return load_transcriber("faster-whisper", "base")


def text_of(result) -> str:  # noqa: ANN001
    return " ".join(s.text for s in result.segments)


def test_short_path_is_only_for_short_clips_without_word_times():
    opts = TranscriptionOptions(short_context=True)
    assert whisper_short.fits(np.zeros(5 * audio.SAMPLE_RATE, np.float32), opts)
    assert not whisper_short.fits(np.zeros(29 * audio.SAMPLE_RATE, np.float32), opts)
    assert not whisper_short.fits(np.zeros(0, np.float32), opts)
    assert not whisper_short.fits(
        np.zeros(5 * audio.SAMPLE_RATE, np.float32), TranscriptionOptions(word_timestamps=True)
    )
    assert (
        whisper_short.compression_ratio("one " * 40)
        > 2.4
        > whisper_short.compression_ratio("I lost my card.")
    )


def test_detection_keeps_to_the_allowed_languages():
    heard = [("<|la|>", 0.70), ("<|es|>", 0.22), ("<|en|>", 0.05), ("<|it|>", 0.03)]
    code, p = whisper_short.pick_language(heard, "-la")
    assert code == "es" and p == pytest.approx(0.22 / 0.30)
    assert whisper_short.pick_language(heard, "en,it")[0] == "en"
    assert whisper_short.pick_language(heard, "")[0] == "la"
    # nothing allowed was heard at all: the best is kept rather than silencing the caller
    assert whisper_short.pick_language([("fi", 1.0)], "en,es") == ("fi", 1.0)
    for bad in ("english", "e1", "-", "en;es"):
        with pytest.raises(InputError, match="speech_languages"):
            whisper_short.pick_language(heard, bad)


@pytest.mark.models
def test_short_window_hears_what_the_30s_window_hears(base, monkeypatch):
    """English sample turns: the short window's words are the normal path's words, and every
    turn is decoded with the short window except where its guard sends it back."""
    calls = []
    real = whisper_short.decode

    def counting(model, clip, options):  # noqa: ANN001, ANN202
        out = real(model, clip, options)
        calls.append(out.ok)
        return out

    monkeypatch.setattr(whisper_short, "decode", counting)
    normal = TranscriptionOptions(beam_size=1, vad=False)
    short = TranscriptionOptions(beam_size=1, vad=False, short_context=True)
    errors = []
    for turn, clip in turns("call-en-benefits.wav") + turns("call-en-payment-pii.wav"):
        if any(ch.isdigit() for ch in text_of(base.transcribe(clip, normal))):
            continue  # digit strings are compared in the test below
        got = base.transcribe(clip, short, speaker=turn["speaker"])
        assert got.info.language == "en"
        assert got.segments and got.segments[0].speaker == turn["speaker"]
        errors.append(wer(text_of(base.transcribe(clip, normal)), text_of(got)))
    assert len(errors) >= 12
    assert max(errors) <= 0.15 and sum(errors) / len(errors) <= 0.05
    assert sum(calls) >= len(errors)  # the short window, not the fallback, produced them


@pytest.mark.models
def test_text_past_its_token_budget_is_refused_and_decoded_the_normal_way(base, monkeypatch):
    """A loop is text running past the clip's token budget; with the budget cut to 10 tokens any
    long sentence looks like one. Finals then get the 30 s path's text, partials get nothing."""
    monkeypatch.setattr(whisper_short, "TOKENS_PER_SECOND", 0)
    _, clip = next(t for t in turns("call-en-payment-pii.wav") if "register to vote" in t[0]["text"])
    direct = whisper_short.decode(base._model, clip, TranscriptionOptions(beam_size=1, language="en"))
    assert not direct.ok and direct.reason == "loop"
    final = TranscriptionOptions(beam_size=1, vad=False, language="en", short_context=True)
    normal = base.transcribe(clip, TranscriptionOptions(beam_size=1, vad=False, language="en"))
    assert text_of(base.transcribe(clip, final)) == text_of(normal)
    assert "register to vote" in normalise(text_of(normal))
    partial = base.transcribe(clip, replace(final, short_fallback=False))
    assert partial.segments == ()


def test_text_of_segments_starting_in_the_padding_is_dropped():
    eot, ts = 50257, 50364  # Whisper's end-of-text and first timestamp token ids
    at = lambda seconds: ts + round(seconds / 0.02)  # noqa: E731
    sequence = [at(0.0), 1, 2, at(1.5), at(1.5), 3, at(2.9), at(3.1), 4, 5, at(4.0), eot]
    assert whisper_short.spoken_tokens(sequence, eot, ts, duration=3.0) == [1, 2, 3]
    assert whisper_short.spoken_tokens(sequence, eot, ts, duration=5.0) == [1, 2, 3, 4, 5]
    assert whisper_short.spoken_tokens([1, 2, eot], eot, ts, duration=1.0) == [1, 2]


@pytest.mark.models
def test_refused_short_result_uses_the_normal_path(base, monkeypatch):
    real = whisper_short.decode
    monkeypatch.setattr(whisper_short, "decode", lambda *a: replace(real(*a), ok=False))
    samples = audio.decode_file(EVAL_DIR / "jfk.flac")[0]
    got = base.transcribe(samples, TranscriptionOptions(beam_size=1, vad=False, short_context=True))
    assert wer((EVAL_DIR / "jfk.txt").read_text(), text_of(got)) <= 0.05


@pytest.mark.models
def test_short_window_detects_language_and_translates(base):
    samples = audio.decode_file(EVAL_DIR / "jfk.flac")[0]
    result = base.transcribe(samples, TranscriptionOptions(beam_size=1, vad=False, short_context=True))
    assert result.info.language == "en" and result.info.language_probability > 0.5
    assert wer((EVAL_DIR / "jfk.txt").read_text(), text_of(result)) <= 0.05
    _, clip = turns("call-es-license.wav")[1]  # "Necesito renovar mi licencia de conducir."
    spanish = base.transcribe(clip, TranscriptionOptions(beam_size=1, vad=False, short_context=True))
    assert spanish.info.language == "es"
    assert "renovar" in normalise(text_of(spanish))
    # Greedy only, as live finals decode: this synthetic voice fails Whisper's log-probability check,
    # and the sampled fallback is not reproducible (CTranslate2 seeds each thread's generator once,
    # on first use), so its text changed between runs ("renew", "renovate").
    english = base.transcribe(
        clip,
        TranscriptionOptions(
            beam_size=1,
            vad=False,
            language="es",
            task="translate",
            short_context=True,
            temperature_fallback=False,
        ),
    )
    assert "renew" in normalise(text_of(english)) and "license" in normalise(text_of(english))


@pytest.mark.models
@pytest.mark.parametrize("kind", ["silence", "white-noise"])
def test_short_window_invents_nothing_on_no_speech(base, kind):
    n = 4 * audio.SAMPLE_RATE
    rng = np.random.default_rng(11)
    samples = (
        np.zeros(n, np.float32) if kind == "silence" else (0.1 * rng.standard_normal(n)).astype(np.float32)
    )
    result = base.transcribe(samples, TranscriptionOptions(beam_size=1, vad=False, short_context=True))
    assert result.segments == ()


def test_language_id_encodes_a_window_sized_to_the_speech_not_30_s():
    from types import SimpleNamespace

    windows: list[tuple[int, ...]] = []

    class Encoder:
        is_multilingual = True

        def encode(self, features, to_cpu=False):  # noqa: ANN001, ANN201
            windows.append(tuple(features.shape))
            return features

        def detect_language(self, encoded):  # noqa: ANN001, ANN201
            return [[("<|es|>", 0.7), ("<|la|>", 0.2), ("<|en|>", 0.1)]]

    model = SimpleNamespace(model=Encoder(), feature_extractor=lambda clip: np.zeros((80, len(clip) // 160)))
    speech = np.ones(60 * audio.SAMPLE_RATE, np.float32)
    language, probability = whisper_short.detect(model, speech, "-la")
    assert language == "es" and probability == pytest.approx(0.7 / 0.8)
    seconds = whisper_short.DETECT_SECONDS + whisper_short.PAD_SECONDS
    assert windows == [(1, 80, int(seconds * 100))]  # 100 frames a second; Whisper's own: 3000


@pytest.mark.models
def test_each_tracks_language_is_identified_on_its_speech(base):
    for name in (
        "call-en-benefits.wav",
        "call-es-food.wav",
        "call-es-license.wav",
        "call-en-payment-pii.wav",
    ):
        expected = "es" if "-es-" in name else "en"
        for track in audio.load_tracks(SAMPLES / name):
            assert base.detect_language(track.samples)[0] == expected, (name, track.speaker)
    assert base.detect_language(audio.decode_file(EVAL_DIR / "jfk.flac")[0])[0] == "en"


@pytest.mark.models
def test_a_batch_of_clips_hears_what_each_clip_hears_alone(base):
    """Finals of several live calls are decoded as one batch (`decode_many`): each clip padded to
    the longest of its batch, the language found per clip. Batches as the service forms them
    (lengths within 2x), over the English sample turns plus Spanish ones, language not given.
    English: the words each clip gets alone. Spanish, which `base` hears less well: the extra
    padding changes a few words, and they are no further from what was said."""
    model = base._model
    opts = TranscriptionOptions(beam_size=1, vad=False, short_context=True)
    clips = [
        ({**turn, "language": name[5:7]}, clip)
        for name in ("call-en-benefits.wav", "call-en-payment-pii.wav", "call-es-food.wav")
        for turn, clip in turns(name)
        # digit strings, written as words in the script: their spelling varies ("41111..." with
        # one "11" more or less, batched or alone, on an AVX-512 CPU)
        if not DIGIT_WORDS.search(turn["text"])
    ]
    batches: list[list[tuple[dict, np.ndarray]]] = []
    for item in sorted(clips, key=lambda tc: len(tc[1])):
        if batches and len(batches[-1]) < 4 and len(item[1]) <= 2 * len(batches[-1][0][1]):
            batches[-1].append(item)
        else:
            batches.append([item])
    assert sum(len(b) > 1 for b in batches) >= 3
    english, right = [], 0
    said = {"alone": 0.0, "batch": 0.0}  # word errors against the script, summed
    for batch in batches:
        together = whisper_short.decode_many(model, [c for _, c in batch], [opts] * len(batch))
        for (turn, clip), got in zip(batch, together, strict=True):
            alone = whisper_short.decode(model, clip, opts)
            assert got.language == alone.language  # found per clip, as alone
            right += got.language == turn["language"]
            if turn["language"] == "en":
                english.append(wer(alone.text, got.text))
            said["alone"] += wer(turn["text"], alone.text)
            said["batch"] += wer(turn["text"], got.text)
    assert len(english) >= 12 and right >= len(clips) - 2  # a very short turn may be misheard
    assert max(english) <= 0.1 and sum(english) / len(english) <= 0.02
    assert said["batch"] <= said["alone"] + 0.02 * len(clips)
    # copies of one clip (calls in step): the very text the clip gets alone
    _, clip = clips[0]
    alone = whisper_short.decode(model, clip, opts)
    assert [d.text for d in whisper_short.decode_many(model, [clip] * 3, [opts] * 3)] == [alone.text] * 3
