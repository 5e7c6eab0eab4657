"""Every extension point in one place. Test fakes implement these; engines are chosen by settings.

The result types live in the module of the stage that makes them (`Segment` in transcription,
`Hit` in retrieval ...); these protocols name them only for type checkers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from assistant.speech.transcription import Transcript, TranscriptionOptions


@runtime_checkable
class Transcriber(Protocol):
    """Turns 16 kHz mono float32 audio into timed text segments (faster-whisper, openai-whisper)."""

    name: str

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, speaker: str = "unknown"
    ) -> Transcript: ...

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension (sentence-transformers)."""

    model_name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class Translator(Protocol):
    """Translates text between two ISO 639-1 languages (argostranslate)."""

    name: str

    def translate(self, text: str, source: str, target: str) -> str: ...
