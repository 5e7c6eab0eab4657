"""Mono diarization: who spoke when in one channel, and which voice is the agent.

Tier 1: role cues, clustering and turn smoothing on made-up numbers; the voice encoder on a
synthetic call of two espeak-ng voices (different pitch) taking turns. Tier 3: a real two-voice
call from the eval set mixed down to mono, transcribed, scored with the shared DER tool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.speech import diarization as dz
from assistant.speech.audio import SAMPLE_RATE, Track, resample
from assistant.speech.transcription import speech_spans

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
if not EVAL.exists():
    EVAL = Path("/work/shared/eval")
DER_TOOL = EVAL.parent / "tools" / "der.py"


# -- roles --------------------------------------------------------------------------------------
def test_roles_follow_what_each_voice_says() -> None:
    texts = {
        "speaker 1": "Hi, I need help, my card was declined. It is four one one one two two two two.",
        "speaker 2": "Thank you for calling State Services, how can I help? What is your card number?",
    }
    assert dz.assign_roles(texts) == {"speaker 1": "caller", "speaker 2": "agent"}


def test_roles_in_spanish() -> None:
    texts = {
        "speaker 1": "Gracias por llamar a la oficina de servicios. ¿En qué le puedo ayudar?",
        "speaker 2": "Hola, necesito renovar mi licencia.",
    }
    assert dz.assign_roles(texts) == {"speaker 1": "agent", "speaker 2": "caller"}


def test_roles_stay_unnamed_when_the_words_do_not_tell() -> None:
    texts = {"speaker 1": "Okay.", "speaker 2": "Yes, sure."}
    assert dz.assign_roles(texts) == {"speaker 1": "speaker 1", "speaker 2": "speaker 2"}
    one = {"speaker 1": "Thank you for calling, how can I help you?"}
    assert dz.assign_roles(one) == {"speaker 1": "speaker 1"}


# -- clustering and turns on made-up embeddings ----------------------------------------------------
def _voices(n_a: int, n_b: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.abs(rng.normal(size=256)) + 1.0
    a, b = base + np.abs(rng.normal(size=256)), base + np.abs(rng.normal(size=256))
    x = np.concatenate([a + 0.3 * rng.normal(size=(n_a, 256)), b + 0.3 * rng.normal(size=(n_b, 256))])
    x = np.abs(x)
    truth = np.array([0] * n_a + [1] * n_b)
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def test_two_voices_are_found_even_when_all_embeddings_are_alike() -> None:
    x, truth = _voices(30, 12)
    labels, cents = dz.cluster_voices(x)
    assert len(cents) == 2
    agree = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agree == 1.0


def test_a_voice_with_almost_no_speech_is_folded_into_the_other() -> None:
    x, _ = _voices(40, 2)
    labels, cents = dz.cluster_voices(x)
    assert len(cents) == 1 and set(labels.tolist()) == {0}


def test_one_window_gives_one_voice() -> None:
    x, _ = _voices(1, 0)
    labels, cents = dz.cluster_voices(x)
    assert labels.tolist() == [0] and len(cents) == 1


def test_short_runs_join_their_longer_neighbour() -> None:
    runs = [(0, 100, 0), (100, 120, 1), (120, 300, 0), (300, 500, 1)]
    assert dz._absorb_short(runs, 50) == [(0, 300, 0), (300, 500, 1)]


def test_windows_cover_each_span_and_a_short_span_gets_its_own() -> None:
    wins = dz.window_starts([(0.0, 1.0), (2.0, 5.0)])
    assert wins[0] == (0.0, 1.0)
    assert wins[1][0] == 2.0 and wins[-1] == (3.5, 5.0)
    assert all(abs((b - a) - dz.WINDOW_SECONDS) < 1e-9 for a, b in wins[1:])


# -- the voice encoder on synthetic speech ------------------------------------------------------------
def _espeak(text: str, voice: str, pitch: int, tmp: Path) -> np.ndarray:
    out = tmp / f"{abs(hash((text, voice)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-w", str(out), text], check=True)
    with wave.open(str(out)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
        rate = w.getframerate()
    # telephone: down to 8 kHz and back, as a mono call recorder would keep it
    return resample(resample(x, rate, 8000), 8000, SAMPLE_RATE)


TURNS = [
    ("a", "Good morning, this is the benefits office. How can I help you today?"),
    ("b", "Hello, I am calling because my payment did not arrive this month."),
    ("a", "I am sorry to hear that. Can you give me your claim number please?"),
    ("b", "Yes, it is on the letter you sent me, let me find it for you."),
    ("a", "Take your time. I will wait on the line while you look for it."),
    ("b", "Thank you, I found it now, it is at the top of the first page."),
]


@pytest.fixture(scope="module")
def synthetic_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    tmp = tmp_path_factory.mktemp("espeak")
    pieces, truth, t = [], [], 0.0
    gap = np.zeros(int(0.7 * SAMPLE_RATE), np.float32)
    for who, text in TURNS:
        voice = _espeak(text, "en-us", 25, tmp) if who == "a" else _espeak(text, "en-us+f3", 80, tmp)
        pieces += [voice, gap]
        truth.append((t, t + len(voice) / SAMPLE_RATE, who))
        t += (len(voice) + len(gap)) / SAMPLE_RATE
    return np.concatenate(pieces).astype(np.float32), truth


@pytest.mark.models
def test_two_synthetic_voices_taking_turns_are_told_apart(synthetic_call) -> None:  # type: ignore[no-untyped-def]
    samples, truth = synthetic_call
    turns = dz.diarize(samples, speech_spans(samples))
    assert {t.speaker for t in turns} == {"speaker 1", "speaker 2"}
    assert turns[0].speaker == "speaker 1"
    # label each 10 ms of the true speech with the voice diarization gave it
    right = total = 0
    mapping = {"a": "speaker 1", "b": "speaker 2"}  # voice a speaks first
    for lo, hi, who in truth:
        for f in np.arange(lo + 0.25, hi - 0.25, 0.01):  # 0.25 s collar, as in DER scoring
            total += 1
            said = next((t.speaker for t in turns if t.start <= f < t.end), None)
            right += said == mapping[who]
    assert right / total >= 0.9


@pytest.mark.models
def test_silence_has_no_turns() -> None:
    assert (
        dz.diarize(np.zeros(SAMPLE_RATE * 3, np.float32), speech_spans(np.zeros(SAMPLE_RATE * 3, np.float32)))
        == []
    )


def test_stereo_is_never_diarized(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.speech import transcription as tr

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("stereo must not be diarized")

    monkeypatch.setattr(tr, "diarize", boom)

    class Fake:
        def transcribe(self, audio, options, speaker="unknown"):  # type: ignore[no-untyped-def]
            seg = tr.Segment(0.0, 1.0, speaker, "hello")
            return tr.Transcript((seg,), tr.TranscriptionInfo("en", 1.0, 1.0))

    monkeypatch.setattr(tr, "speech_spans", lambda s: [(0.0, 1.0)])
    tracks = [
        Track("agent", np.zeros(SAMPLE_RATE, np.float32)),
        Track("caller", np.zeros(SAMPLE_RATE, np.float32)),
    ]
    out = tr.transcribe_tracks(tracks, Fake(), tr.TranscriptionOptions())  # type: ignore[arg-type]
    assert {s.speaker for s in out.segments} == {"agent", "caller"}


# -- tier 3: a real call mixed to mono --------------------------------------------------------------
@pytest.mark.models
def test_real_mono_mix_gets_turns_and_roles(tmp_path: Path) -> None:
    stereo = EVAL / "real-dev" / "digits" / "digits-lucas.wav"
    if not stereo.exists() or not DER_TOOL.exists():
        pytest.skip("eval data not here")
    from assistant.speech.audio import load_tracks
    from assistant.speech.transcription import TranscriptionOptions, load_transcriber, transcribe_tracks

    both = load_tracks(stereo)
    mono = Track("unknown", (both[0].samples + both[1].samples).astype(np.float32))
    transcript = transcribe_tracks(
        [mono], load_transcriber(), TranscriptionOptions.from_config(language="en")
    )
    assert {s.speaker for s in transcript.segments} == {"agent", "caller"}
    call = {
        "utterances": [{"speaker": s.speaker, "start": s.start, "end": s.end} for s in transcript.segments]
    }
    (tmp_path / "call.json").write_text(json.dumps(call))
    out = subprocess.run(
        [sys.executable, str(DER_TOOL), str(tmp_path / "call.json"), str(stereo)],
        capture_output=True,
        text=True,
        check=True,
    )
    score = json.loads(out.stdout)
    assert score["der"] <= 0.15
    assert score["map"] == {"agent": "agent", "caller": "caller"}
