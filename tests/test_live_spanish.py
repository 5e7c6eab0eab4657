"""A Spanish caller turn with partial captions but no final (issue 16).

Cause: a final whose short-window decode is merely unsure goes to Whisper's 30 s path. With the
caller's language not yet known, that pass detected the language on 30 s of mostly padding (a
short Spanish turn came back as Thai), and its no-speech check, raised by the padding, could drop
the turn entirely, while the partials (short window) had shown text. The second pass now decodes
in the language the short window heard, and keeps the short window's text when it finds nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.speech import whisper_short
from assistant.speech.transcription import FasterWhisperTranscriber, TranscriptionOptions

REPO = Path(__file__).resolve().parent.parent


class SilentLongPass:
    """A WhisperModel stand-in whose 30 s pass finds no speech; records the language asked for."""

    def __init__(self) -> None:
        self.model = SimpleNamespace(is_multilingual=True)
        self.languages: list[str | None] = []

    def transcribe(self, audio, language=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        self.languages.append(language)
        return iter(()), SimpleNamespace(language=language or "th", language_probability=0.4)

    def detect_language(self, audio, vad_filter=True):  # noqa: ANN001, ANN201
        return "th", 0.4, [("th", 0.4), ("es", 0.3)]


def test_unsure_final_keeps_the_language_and_text_the_short_window_heard(monkeypatch) -> None:  # noqa: ANN001
    heard = whisper_short.ShortDecode(
        ok=False,
        reason="unsure",
        text="Hola, perdí mi tarjeta de beneficios de alimentos.",
        language="es",
        language_probability=0.8,
        avg_logprob=-1.2,
        no_speech_prob=0.2,
        compression_ratio=1.1,
    )
    monkeypatch.setattr(whisper_short, "decode", lambda model, audio, options: heard)
    engine = FasterWhisperTranscriber.__new__(FasterWhisperTranscriber)
    engine._model = SilentLongPass()
    engine._lock = threading.Lock()
    final = TranscriptionOptions(beam_size=1, vad=False, short_context=True, temperature_fallback=False)
    got = engine.transcribe(np.zeros(16000 * 4, np.float32), final, speaker="caller")
    assert engine._model.languages == ["es"]  # not detected again on 30 s of padding
    assert [s.text for s in got.segments] == [heard.text]
    assert got.segments[0].speaker == "caller"


@pytest.mark.models
def test_spanish_sample_through_the_live_path_has_a_final_for_every_caller_turn(tmp_path: Path) -> None:
    from assistant import config
    from assistant.calls.processor import CallProcessor
    from assistant.live.session import LiveOptions
    from assistant.service.hub import CallHub
    from assistant.speech.audio import AudioOptions, Upsampler, encode_mulaw, load_tracks, resample

    hub = CallHub(CallProcessor(), str(tmp_path / "es.duckdb"), options=LiveOptions.from_config())
    hub.start()
    try:
        path = REPO / "samples" / "call-es-food.wav"
        tracks = load_tracks(path, AudioOptions(agent_channel=config.get().agent_channel))
        frames = {t.speaker: encode_mulaw(resample(t.samples, 16000, 8000)) for t in tracks}
        call = hub.open_call("es-food")
        upsamplers = {speaker: Upsampler() for speaker in frames}  # as the media socket does
        for pos in range(0, max(len(f) for f in frames.values()), 160):
            for speaker, data in frames.items():
                if pos < len(data):
                    hub.feed(call, speaker, upsamplers[speaker](data[pos : pos + 160]))
        hub.end_call(call)
        assert hub.drain(600)
        events, _ = call.events_since(0)
    finally:
        hub.close()
    finals = [e["data"] for e in events if e["type"] == "caption" and e["data"]["final"]]
    caller = [f for f in finals if f["speaker"] == "caller"]
    assert len(caller) == 2, finals  # "I lost my food benefits card", "how long does the card take"
    assert all(f["language"] == "es" and f["text"] for f in caller)
    assert not any(any("\u0e00" <= ch <= "\u0e7f" for ch in f["text"]) for f in finals)  # no Thai
