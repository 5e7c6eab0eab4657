"""Embed, index, search and abstain over the published knowledge-base articles.

Every article becomes passages (its title, each sample question, body chunks). Passage vectors are
cached by the SHA-256 of their text, so a rebuild embeds only new or changed text. FAISS finds
candidate articles; each candidate is then scored exactly (see `docs/retrieval.md`):

    similarity  = mean of the article's top-3 passage cosines with the query
    probability = a softmax head over articles when the knowledge base has many sample questions
                  per article, else a softmax over candidate similarities plus a "none" anchor
    score       = (similarity + probability) / 2, in 0..1

A query is routed by its language (`encoder.route`): English to all-MiniLM-L6-v2, any other
language to the multilingual encoder, which indexes every passage too; an unsure language is
searched both ways and the better-supported answer wins. The search abstains when the best score
is below the threshold of the query's language: the `search_threshold` setting for English, the
calibrated per-language figures of `encoder.py` otherwise. When an article has a published version
in the query's language, that version is the hit (the original linked); when it has none, the hit
says so (`native_missing`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import config
from assistant.errors import InputError
from assistant.knowledge import encoder as ml
from assistant.knowledge.articles import Article, load_articles
from assistant.models import files as models

if TYPE_CHECKING:
    import numpy as np

    from assistant.protocols import Embedder as EmbedderProtocol

FORMAT_VERSION = 2  # 2: multilingual passage vectors and article versions
MAX_QUERY_CHARS = 2000  # MiniLM reads 256 word pieces; longer text only costs time.
APPROX_MIN_PASSAGES = 200_000  # below this, exact search is fast enough (see bench/retrieval.py)
HEAD_MIN_QUESTIONS = 10  # median sample questions per article needed to train the softmax head
TOP_M = 3
ANCHOR = 0.4  # similarity of a typical unrelated text: the "none of these" option
TEMPERATURE = 0.05


@dataclass(frozen=True)
class Hit:
    """One article returned by a search.

    Attributes:
        article_id: the article's id.
        title: its title.
        score: confidence in 0..1 (compare with `search_threshold`).
        passage: the text (title, question or body chunk) that matched best.
        owner, effective, review_by, language, program: copied from the article.
        translation_of: for a native version shown instead of the article that matched, the id of
            the article it translates (the original, linked); else the article's own link, if any.
        native_missing: the query's language has no approved version of this article.
    """

    article_id: str
    title: str
    score: float
    passage: str
    owner: str | None = None
    effective: dt.date | None = None
    review_by: dt.date | None = None
    language: str = "en"
    program: str | None = None
    translation_of: str | None = None
    native_missing: bool = False


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits and whether the search abstained.

    Attributes:
        query: the query as searched (trimmed, possibly shortened).
        hits: best first; kept even when abstaining so a console can show the closest articles.
        abstained: True when no article is confident enough to suggest.
        reason: why it abstained ('' otherwise).
        threshold: the threshold applied.
        language: the query's language ('' when unknown).
        encoder: the encoder whose answer this is (`english` or `multilingual`).
    """

    query: str
    hits: tuple[Hit, ...]
    abstained: bool
    reason: str = ""
    threshold: float = 0.0
    language: str = ""
    encoder: str = "english"


@dataclass
class SearchOptions:
    """How to search.

    Attributes:
        k: how many articles to return.
        program: only articles of this program.
        language: only articles in this language.
        threshold: abstain below this score (None: the threshold of the query's language).
        query_language: the caller's language when known (a call's decision); None: detected.
        answer_language: the language whose published versions are preferred (None: the query's).
    """

    k: int = 3
    program: str | None = None
    language: str | None = None
    threshold: float | None = None
    query_language: str | None = None
    answer_language: str | None = None


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        articles: published articles indexed.
        added, changed, removed: articles compared with the previous index.
        embedded: passages that had to be embedded (the rest came from the cache).
        index_kind: `flat` (exact) or `ivf` (approximate).
        head: True when the softmax head was trained.
        rebuilt_reason: why the previous index was discarded ('' when reused).
    """

    articles: int
    added: int
    changed: int
    removed: int
    embedded: int
    index_kind: str
    head: bool
    rebuilt_reason: str = ""


class Embedder:
    """sentence-transformers embedder on CPU (implements `assistant.protocols.Embedder`)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        cfg = config.get()
        self.model_name = model or cfg.embedding_model
        self.threads = max(1, int(cfg.threads))
        torch.set_num_threads(self.threads)
        try:  # the weight-loading progress bar is noise on a terminal and in logs
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        self._model = SentenceTransformer(models.resolve_embedding(self.model_name), device="cpu")
        dim_of = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim_of() or 0)
        self.batch_size = batch_size
        self.calls = 0  # texts embedded so far (the benchmark and tests read it)
        self.multilingual = ml.MultilingualEncoder()  # loads its weights on first use

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        # A live query is one short text: extra intra-op threads only add barrier waits there, and
        # on a busy 2-core machine they made p95 latency 10x worse (bench/retrieval.py).
        torch.set_num_threads(1 if len(texts) <= 4 else self.threads)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.MULTILINE)


def plain_text(markdown: str) -> str:
    """Markdown body without list markers, heading hashes and emphasis (for embedding and grading)."""
    text = _LIST_MARKER.sub("", markdown)
    text = re.sub(r"^#+\s*", "", text, flags=re.MULTILINE)
    return re.sub(r"[*_`]+", "", text)


def body_chunks(body: str, max_words: int = 80) -> list[str]:
    """Split a body into passages of at most about `max_words` words, on paragraph and sentence ends."""
    chunks: list[str] = []
    current: list[str] = []
    for para in re.split(r"\n\s*\n", plain_text(body)):
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(para.split())):
            if not sentence:
                continue
            if current and len(" ".join(current + [sentence]).split()) > max_words:
                chunks.append(" ".join(current))
                current = []
            current.append(sentence)
        if current and len(" ".join(current).split()) >= max_words // 2:
            chunks.append(" ".join(current))
            current = []
    if current:
        chunks.append(" ".join(current))
    return chunks


def passages(article: Article) -> list[tuple[str, str]]:
    """(kind, text) pairs embedded for an article: title, questions, body chunks."""
    out = [("title", article.title)]
    out += [("question", q) for q in article.questions]
    out += [("body", c) for c in body_chunks(article.body)]
    seen: set[str] = set()
    unique = []
    for kind, text in out:
        if text.strip() and text not in seen:
            seen.add(text)
            unique.append((kind, text))
    return unique


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _meta(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title,
        "owner": article.owner,
        "effective": article.effective.isoformat() if article.effective else None,
        "review_by": article.review_by.isoformat() if article.review_by else None,
        "language": article.language,
        "program": article.program,
        "translation_of": article.translation_of,
        "hash": article.content_hash(),
    }


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@dataclass
class KnowledgeIndex:
    """A loaded index: article metadata, passage vectors, the FAISS index and the optional head.

    `ml_vectors` / `ml_head` are the same passages and head for the multilingual encoder (None in
    an index built with an English-only embedder); they are searched exactly with numpy.
    """

    model_name: str
    dimension: int
    articles: list[dict[str, Any]]
    passage_article: np.ndarray  # row -> article position
    passage_text: list[str]
    vectors: np.ndarray
    faiss_index: Any
    index_kind: str = "flat"
    head: tuple[np.ndarray, np.ndarray] | None = None
    ml_vectors: np.ndarray | None = None
    ml_head: tuple[np.ndarray, np.ndarray] | None = None
    _rows: list[np.ndarray] = field(default_factory=list, repr=False)
    _versions: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    _family: np.ndarray | None = field(default=None, repr=False)  # position -> family number

    def __post_init__(self) -> None:
        import faiss
        import numpy as np

        # One query at a time: FAISS's OpenMP threads gain nothing there and, next to torch's own
        # thread pool on a small machine, spin-wait into 10x slower, spiky searches (bench/retrieval.py).
        faiss.omp_set_num_threads(1)

        order = np.argsort(self.passage_article, kind="stable")
        bounds = np.searchsorted(self.passage_article[order], np.arange(len(self.articles) + 1))
        self._rows = [order[bounds[i] : bounds[i + 1]] for i in range(len(self.articles))]
        # (original article id, language) -> position of that version
        families: dict[str, int] = {}
        family = []
        for pos, a in enumerate(self.articles):
            original = a.get("translation_of") or a["id"]
            self._versions.setdefault((original, a["language"]), pos)
            family.append(families.setdefault(original, len(families)))
        self._family = np.array(family, dtype=np.int64)

    @property
    def multilingual(self) -> bool:
        return self.ml_vectors is not None

    def search_vector(
        self,
        query: str,
        qvec: np.ndarray,
        options: SearchOptions,
        threshold: float,
        *,
        multilingual: bool = False,
        language: str = "",
    ) -> SearchResult:
        """Rank articles for one L2-normalised query vector (of the multilingual encoder when
        `multilingual`); `language` is the query's language, for native versions."""
        import numpy as np

        encoder = "multilingual" if multilingual else "english"
        if not self.articles:
            reason = "the knowledge base has no published articles"
            return SearchResult(query, (), True, reason, threshold, language, encoder)
        allowed = None
        if options.program or options.language:
            allowed = np.array(
                [
                    (not options.program or a["program"] == options.program)
                    and (not options.language or a["language"] == options.language)
                    for a in self.articles
                ]
            )
            if not allowed.any():
                reason = "no published article matches the filters"
                return SearchResult(query, (), True, reason, threshold, language, encoder)
        vectors = self.ml_vectors if multilingual and self.ml_vectors is not None else self.vectors
        head = self.ml_head if multilingual else self.head
        candidates = self._candidates(qvec, options, allowed, vectors if multilingual else None)
        sims = np.empty(len(candidates), dtype=np.float32)
        best_rows = np.empty(len(candidates), dtype=np.int64)
        for i, a in enumerate(candidates):
            rows = self._rows[a]
            s = vectors[rows] @ qvec
            top = np.sort(s)[::-1][:TOP_M]
            sims[i] = top.mean()
            best_rows[i] = rows[int(np.argmax(s))]
        sims = np.clip(sims, 0.0, 1.0)
        # The versions of one article (an original and its translations) are one answer: keep the
        # best-matching version of each, so they do not split the probability between them.
        assert self._family is not None
        fam = self._family[candidates]
        by_sim = np.argsort(-sims, kind="stable")
        keep = np.sort(by_sim[np.unique(fam[by_sim], return_index=True)[1]])
        candidates, sims, best_rows, fam = candidates[keep], sims[keep], best_rows[keep], fam[keep]
        if head is not None:
            weight, bias = head
            logits = (qvec * 10.0) @ weight + bias
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            prob = np.bincount(self._family, weights=probs)[fam]
        else:
            z = np.append(sims, ml.anchor_for(language) if multilingual else ANCHOR) / TEMPERATURE
            z = np.exp(z - z.max())
            prob = (z / z.sum())[:-1]
        scores = 0.5 * sims + 0.5 * prob
        order = np.argsort(-scores, kind="stable")
        hits: list[Hit] = []
        seen: set[str] = set()
        for i in order:
            hit = self._hit(int(candidates[i]), float(scores[i]), self.passage_text[best_rows[i]], language)
            if hit.article_id not in seen:  # a native version can stand in for a hit already listed
                seen.add(hit.article_id)
                hits.append(hit)
            if len(hits) >= max(1, options.k):
                break
        best = hits[0].score
        if best < threshold:
            reason = f"best score {best:.2f} is below the threshold {threshold:.2f}"
            return SearchResult(query, tuple(hits), True, reason, threshold, language, encoder)
        return SearchResult(query, tuple(hits), False, "", threshold, language, encoder)

    def _hit(self, pos: int, score: float, passage: str, language: str) -> Hit:
        """The hit for article `pos`, or for its published version in `language` when one exists."""
        a = self.articles[pos]
        missing = False
        if language and language != a["language"]:
            native = self._versions.get((a.get("translation_of") or a["id"], language))
            if native is not None:
                a = self.articles[native]
                passage = a["title"]
            else:
                missing = True
        original = a.get("translation_of")
        return Hit(
            article_id=a["id"],
            title=a["title"],
            score=round(score, 4),
            passage=passage,
            owner=a["owner"],
            effective=_date(a["effective"]),
            review_by=_date(a["review_by"]),
            language=a["language"],
            program=a["program"],
            translation_of=original,
            native_missing=missing,
        )

    def _candidates(
        self,
        qvec: np.ndarray,
        options: SearchOptions,
        allowed: np.ndarray | None,
        exact: np.ndarray | None = None,
    ) -> np.ndarray:
        import numpy as np

        n_articles = len(self.articles)
        if allowed is not None and allowed.sum() <= 2000:
            return np.flatnonzero(allowed)
        if n_articles <= 64:
            return np.arange(n_articles)
        n = min(len(self.passage_text), max(64, 16 * options.k) * (4 if allowed is not None else 1))
        if exact is not None:  # the multilingual vectors have no FAISS index: one matrix product
            sims = exact @ qvec
            top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
            ids = top[np.argsort(-sims[top], kind="stable")]
        else:
            _, found_ids = self.faiss_index.search(qvec[None, :].astype(np.float32), n)
            ids = found_ids[0][found_ids[0] >= 0]
        found = self.passage_article[ids]
        _, first = np.unique(found, return_index=True)
        cands = found[np.sort(first)]
        if allowed is not None:
            cands = cands[allowed[cands]]
        return cands


def clean_query(text: str) -> str:
    """A query ready to embed; empty (or whitespace) queries are an `InputError`."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("empty query: type what the caller asked")
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def search_many(
    texts: Sequence[str], options: SearchOptions, *, index: KnowledgeIndex, embedder: EmbedderProtocol
) -> list[SearchResult]:
    """Search several queries at once (one batched embedding call per encoder).

    Each query goes the way `encoder.route` sends it; the multilingual route needs an index with
    multilingual vectors and an embedder with a `multilingual` encoder (else English for all).
    """

    english_threshold = float(config.get().search_threshold)
    queries = [clean_query(t) for t in texts]
    second = getattr(embedder, "multilingual", None)
    routes = [ml.route(q, options.query_language) for q in queries]
    if second is None or not getattr(index, "multilingual", False):
        routes = [ml.Route(r.language, True, False) for r in routes]
    found: dict[tuple[int, bool], SearchResult] = {}
    for multilingual, encode in ((False, embedder), (True, second)):
        todo = [i for i, r in enumerate(routes) if (r.multilingual if multilingual else r.english)]
        if not todo or encode is None:
            continue
        vectors = encode.embed([queries[i] for i in todo])
        for i, vec in zip(todo, vectors, strict=True):
            lang = routes[i].language
            native = options.answer_language or lang
            threshold = options.threshold
            if threshold is None:
                threshold = ml.threshold_for(lang) if multilingual else english_threshold
            result = index.search_vector(
                queries[i], vec, options, threshold, multilingual=multilingual, language=native
            )
            found[i, multilingual] = replace(result, language=lang)  # the query's, not the answer's
    return [_better(found.get((i, False)), found.get((i, True))) for i in range(len(queries))]


def search_caller(
    words: str,
    english: str | None,
    language: str,
    options: SearchOptions,
    *,
    index: KnowledgeIndex,
    embedder: EmbedderProtocol,
) -> SearchResult:
    """A caller's need, searched in the caller's own `words` (in `language`) and, when there is
    one, in the `english` translation; the better-supported answer wins, shown in the caller's
    language where a published version exists. The batch and live paths both search this way."""
    mine = replace(options, query_language=language or None, answer_language=language or None)
    own = search_many([words], mine, index=index, embedder=embedder)[0]
    if not english or english == words:
        return own
    translated = replace(options, query_language="en", answer_language=language or None)
    return _better(own, search_many([english], translated, index=index, embedder=embedder)[0])


def _margin(result: SearchResult) -> float:
    return (result.hits[0].score if result.hits else 0.0) - result.threshold


def _better(english: SearchResult | None, multilingual: SearchResult | None) -> SearchResult:
    """The better-supported of two searches of one query: the larger margin over its threshold."""
    if english is None or multilingual is None:
        result = english or multilingual
        assert result is not None
        return result
    return multilingual if _margin(multilingual) > _margin(english) else english


def result_to_json(result: SearchResult) -> dict[str, Any]:
    """The `--json` / `--queries-file` shape of a result."""
    return {
        "query": result.query,
        "abstained": result.abstained,
        "reason": result.reason,
        "language": result.language,
        "encoder": result.encoder,
        "hits": [
            {
                "id": h.article_id,
                "title": h.title,
                "score": h.score,
                "passage": h.passage,
                "language": h.language,
                "translation_of": h.translation_of,
                "native_missing": h.native_missing,
            }
            for h in result.hits
        ],
    }


def published(articles: Sequence[Article]) -> list[Article]:
    return [a for a in articles if a.published]


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename (never a half-written file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def new_build_id() -> str:
    return uuid.uuid4().hex[:12]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=False).encode("utf-8")


__all__ = [
    "Article",
    "BuildReport",
    "Embedder",
    "Hit",
    "KnowledgeIndex",
    "SearchOptions",
    "SearchResult",
    "load_articles",
    "search_many",
]
