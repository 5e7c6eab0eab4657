"""Shared test helpers and fakes (not a test module): what several test modules use."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence

import numpy as np

from assistant.calls.processor import CallOptions, CallProcessor
from assistant.knowledge.articles import Article
from assistant.knowledge.search import Hit, SearchResult
from assistant.live.session import LiveCall
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


class ZeroEmbedder:
    model_name = "fake"
    dimension = 4

    def embed(self, texts):  # noqa: ANN001, ANN201
        return np.zeros((len(texts), 4), dtype=np.float32)


class FakeIndex:
    """Suggests pt-pay-bill for bills and vote-register for voting; abstains otherwise."""

    def search_vector(self, query, vector, options, threshold, **route):  # noqa: ANN001, ANN003, ANN201
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
        CallOptions(), transcriber=FakeTranscriber(), embedder=ZeroEmbedder(), index=FakeIndex()
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


def feed_call(call: LiveCall, tracks: dict[str, np.ndarray], frame: int = 320) -> None:
    for pos in range(0, len(tracks["agent"]), frame):
        for speaker, samples in tracks.items():
            run_jobs(call, call.feed(speaker, samples[pos : pos + frame]))


class FakeEmbedder:
    """Bag of words hashed into 256 dimensions: texts sharing words are similar, others near 0."""

    model_name = "fake-bow"
    dimension = 256

    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        self.seen.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


ARTICLES = [
    Article(
        id="renew-licence",
        title="Renew a driving licence",
        body="Renew your driving licence online with form DL-1.",
        questions=("how do i renew my driving licence", "driving licence expired renew"),
        program="licences",
        owner="dmv",
        effective=dt.date(2025, 1, 1),
    ),
    Article(
        id="pay-property-tax",
        title="Pay property tax",
        body="Pay property tax online or by cheque.",
        questions=("how do i pay my property tax", "property tax bill payment"),
        program="taxes",
    ),
    Article(
        id="report-pothole",
        title="Report a pothole",
        body="Report a pothole on the city website.",
        questions=("there is a pothole on my street", "report road damage pothole"),
        program="city",
    ),
]
