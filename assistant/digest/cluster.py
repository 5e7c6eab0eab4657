"""Grouping a day's problem statements into topics, naming them, and keeping topic ids across days.

- Texts are cleaned (leading greetings dropped) and de-duplicated before embedding.
- Up to `embed_limit` distinct texts are embedded (all of them on an ordinary day; fewer when the
  `embed_seconds` budget runs out on a busy machine) and grouped by `partition`: the number of
  topics comes from the day's own vectors (HDBSCAN's dense groups), the topics from Ward's merge
  tree cut at that number; no similarity threshold is fixed in advance, so a domain the method
  was not chosen on gets about as many topics as it has needs. Statements of groups too small
  to report join the nearest reported topic when at least as alike it as the day's floor.
  Grouping sees only the embedding matrix (and the texts, for sampled-out statements and labels):
  the embedder is whatever the caller passes.
- On a day with more distinct texts than that, the embedded ones are a random sample and the rest
  are assigned by their nearest embedded neighbours in TF-IDF space (word n-grams). Embedding is
  the slow step on CPU (tens of texts per second on a busy 2-core machine); this keeps a
  10,000-call day within a minute at some cost in precision for the sampled-out texts.
- Topic identity: today's centroids are matched to the registry's by cosine similarity.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.digest.need import strip_greeting

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[a-záéíóúñü']+", re.IGNORECASE)
# Words that say nothing about which problem a caller has (kept out of generated labels).
_STOP_WORDS = """a an the and or but if so to of in on at for from by with about as into is are was were be been
    am do does did done have has had having i me my mine we our you your it its this that these those
    there here what which who whom when where why how can could would should will shall may might must
    not no nor never just still yet already again very too also even really only please thanks thank
    hi hello hey yes okay ok get got getting gets going go want need needs tell know like one some any
    all much many more most time times day days week weeks month months ago last next since until
    something anything everything every each keep keeps said says say calling call called help them they
    he she his her him us than then now up out over after before while because try tried trying im i'm
    it's don't can't won't didn't haven't isn't doesn't"""
_STOP = frozenset(_STOP_WORDS.split())


def clean_problem(text: str) -> str:
    """The statement without leading greetings (whole words only) and extra spaces."""

    text = " ".join(text.split())
    stripped = strip_greeting(text)
    return stripped if len(stripped.split()) >= 3 else text


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


@dataclass(frozen=True)
class Grouping:
    """The result of `group_texts`.

    Attributes:
        labels: cluster number per input text, -1 when it joined no reported cluster.
        centroids: one unit vector per cluster (rows), from the embedded members.
        centrality: cosine of each input text to its cluster centroid (NaN when not embedded).
        embedded: how many distinct texts were embedded.
        distinct: how many distinct texts there were.
        vectors: the embedded vectors; `rows[i]` is input text i's row in it, -1 if not embedded.
    """

    labels: np.ndarray
    centroids: np.ndarray
    centrality: np.ndarray
    embedded: int
    distinct: int
    vectors: np.ndarray | None = None
    rows: np.ndarray | None = None


def _unit(m: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def _agglomerate(vectors: np.ndarray, similarity: float) -> np.ndarray:
    """Average-linkage clusters of `vectors` cut at cosine `similarity` (the earlier method)."""
    import numpy as np

    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=1.0 - similarity, metric="cosine", linkage="average"
    )
    return model.fit_predict(vectors)


def partition(
    vectors: np.ndarray, min_size: int, repeats: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Topic number per row of `vectors` (unit rows, any embedding), with the number of topics
    chosen from these vectors alone, and the day's similarity floor. `repeats[i]`: how many calls
    said row i's text (texts are de-duplicated before embedding); a row counts that many times,
    up to the size of a dense group, so ten callers saying the same words are a topic.

    How many topics: the dense groups HDBSCAN finds (`min_size + 1` statements at least, so that
    a group still has `min_size` after losing one stray member); its tree is built on the day's
    own distances, so no similarity is fixed in advance. Which statement goes where: Ward's
    merge tree cut at that many topics (Ward's cut gave better topics than HDBSCAN's own groups
    plus nearest-topic assignment on all five sets measured; bench/topics.py --heldout). A
    statement HDBSCAN left out of every dense group stays out (-1) when it is less alike its
    topic's centroid than any dense statement is to its own: the floor, returned as well."""
    import numpy as np

    n = len(vectors)
    density = max(2, min_size + 1)
    times = np.ones(n, dtype=int) if repeats is None else np.clip(np.asarray(repeats, dtype=int), 1, density)
    row = np.repeat(np.arange(n), times)
    if len(row) < density:
        return np.full(n, -1, dtype=int), 1.0
    from sklearn.cluster import HDBSCAN, AgglomerativeClustering

    points = vectors[row]
    dense = HDBSCAN(min_cluster_size=density, min_samples=1, copy=True).fit_predict(points)
    if dense.max() < 0:  # no two groups: maybe all statements are one (HDBSCAN never says so first)
        dense = HDBSCAN(
            min_cluster_size=density, min_samples=1, allow_single_cluster=True, copy=True
        ).fit_predict(points)
    k = min(int(dense.max()) + 1, n)
    if k == 0:  # no group of statements is denser than the rest: no topic today
        return np.full(n, -1, dtype=int), 1.0
    if k == 1:
        labels = np.zeros(len(points), dtype=int)
    else:
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(points)
    first = np.searchsorted(row, np.arange(n))  # a row's copies share their label (distance 0)
    labels, dense = labels[first], dense[first]
    centroids = _unit(np.stack([points[labels[row] == c].mean(axis=0) for c in range(k)]))
    own = np.einsum("ij,ij->i", vectors, centroids[labels])
    floor = float(own[dense >= 0].min())
    return np.where((dense < 0) & (own < floor), -1, labels), floor


def need_words(text: str) -> frozenset[str]:
    """The content words of a need, singular ("cards" -> "card"): what two wordings of one need share."""
    words = (w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2)
    return frozenset(w[:-1] if w.endswith("s") and not w.endswith("ss") else w for w in words)


def same_need(labels: np.ndarray, texts: Sequence[str], sims: np.ndarray) -> np.ndarray:
    """Topics that name the same need become one, renumbered 0.. by first appearance of the kept
    number. A topic names the need of its label (`phrase_label` of its most central statements,
    `sims[i, k]`: statement i's likeness to topic k); two topics name the same need when those
    labels have the same content words ("My water bill came out so high" and "The water bill
    came out very high"): split by density, but said alike."""
    import numpy as np

    out = np.array(labels, copy=True)
    first: dict[frozenset[str], int] = {}
    for k in sorted({int(x) for x in labels if x >= 0}):
        members = np.flatnonzero(labels == k)
        central = [texts[i] for i in members[np.argsort(-sims[members, k])][:5]]
        key = need_words(phrase_label(central) or central[0])
        if not key:
            continue
        if key in first:
            out[members] = first[key]
        else:
            first[key] = k
    kept = sorted({int(x) for x in out if x >= 0})
    renumber = np.full(int(max(kept, default=-1)) + 2, -1)
    renumber[kept] = np.arange(len(kept))
    return renumber[out]  # -1 indexes the last slot, which stays -1


def _tfidf_assign(known: Sequence[str], known_labels: np.ndarray, unknown: Sequence[str]) -> np.ndarray:
    """Label each unknown text by a similarity-weighted vote of its 5 nearest known texts (TF-IDF)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    k_matrix = vectorizer.fit_transform(known)
    u_matrix = vectorizer.transform(unknown)
    out = np.full(len(unknown), -1, dtype=int)
    n_labels = int(known_labels.max()) + 1 if len(known_labels) else 0
    for first in range(0, len(unknown), 1000):  # bounded dense block
        sims = (u_matrix[first : first + 1000] @ k_matrix.T).toarray()
        top = np.argsort(-sims, axis=1)[:, :5]
        for row, idx in enumerate(top):
            votes = np.zeros(n_labels + 1)
            for j in idx:
                if sims[row, j] > 0.1:
                    votes[known_labels[j] + 1] += sims[row, j]  # slot 0 collects "no cluster"
            if votes.any():
                out[first + row] = int(np.argmax(votes)) - 1
    return out


def _embed_sample(
    distinct: Sequence[str], embedder: Any, limit: int, seconds: float | None, rng: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Embed a random sample of at most `limit` texts, in chunks, stopping once `seconds` are spent
    (at least 256 texts are embedded): every prefix of a random order is itself a random sample, so
    a busy machine gets a smaller sample instead of a late digest."""
    import time

    import numpy as np

    n = len(distinct)
    order = np.arange(n) if n <= limit else rng.permutation(n)[:limit]
    chunks, done, start = [], 0, time.perf_counter()
    while done < len(order):
        if seconds is not None and done >= 256 and time.perf_counter() - start > seconds:
            break
        part = order[done : done + 128]
        chunks.append(np.asarray(embedder.embed([distinct[i] for i in part]), dtype=np.float32))
        done += len(part)
    sample = order[:done]
    keep = np.argsort(sample)
    return sample[keep], np.concatenate(chunks)[keep]


def group_texts(
    texts: Sequence[str],
    embedder: Any,
    *,
    min_size: int,
    embed_limit: int,
    embed_seconds: float | None = None,
    weights: Sequence[str] | None = None,
    seed: int = 0,
    similarity: float | None = None,
) -> Grouping:
    """Cluster problem statements by meaning; `weights[i]` is the call a text belongs to (clusters
    smaller than `min_size` distinct calls are not reported). With `similarity`, the earlier
    method: average linkage cut at that cosine, and every statement joins its nearest reported
    topic when at least that alike; without, `partition` (the number of topics from the data)."""
    import numpy as np

    keys = [clean_problem(t).lower() for t in texts]
    distinct = list(dict.fromkeys(keys))
    position = {k: i for i, k in enumerate(distinct)}
    text_to_distinct = np.array([position[k] for k in keys], dtype=int)
    n = len(distinct)
    if n == 0:
        return Grouping(np.zeros(0, int), np.zeros((0, 0), np.float32), np.zeros(0), 0, 0)
    rng = np.random.default_rng(seed)
    sample, vectors = _embed_sample(distinct, embedder, embed_limit, embed_seconds, rng)
    vectors = _unit(vectors)
    owners = list(weights) if weights is not None else [str(i) for i in range(len(texts))]
    said_by: dict[int, set[str]] = {}
    for i, d in enumerate(text_to_distinct):
        said_by.setdefault(int(d), set()).add(owners[i])
    if similarity is None:
        raw, floor = partition(vectors, min_size, np.array([len(said_by[int(d)]) for d in sample]))
    else:
        raw, floor = _agglomerate(vectors, similarity), similarity

    # Calls per raw cluster decide which are big enough to report.
    d_label = np.full(n, -1, dtype=int)
    d_label[sample] = raw
    calls_in: dict[int, set[str]] = {}
    for i, d in enumerate(text_to_distinct):
        if d_label[d] >= 0:
            calls_in.setdefault(int(d_label[d]), set()).add(owners[i])
    big = sorted(
        (c for c, members in calls_in.items() if len(members) >= min_size), key=lambda c: -len(calls_in[c])
    )
    if not big:
        empty = np.full(len(texts), -1, dtype=int)
        return Grouping(
            empty, np.zeros((0, vectors.shape[1]), np.float32), np.full(len(texts), np.nan), len(sample), n
        )
    renumber = {c: k for k, c in enumerate(big)}
    centroids = _unit(np.stack([vectors[raw == c].mean(axis=0) for c in big]))
    # A statement of a group too small to report joins its nearest reported topic when at least as
    # alike it as the day's floor (`partition`); reported topics keep their members.
    sims = vectors @ centroids.T
    nearest = sims.argmax(axis=1)
    best = sims[np.arange(len(vectors)), nearest]
    kept = np.array([renumber.get(int(c), -1) for c in raw])
    if similarity is None:
        sample_label = np.where((kept < 0) & (best >= floor), nearest, kept)
    else:
        sample_label = np.where(best >= similarity, nearest, kept)
    sample_label = same_need(sample_label, [distinct[i] for i in sample], sims)
    centroids = _unit(
        np.stack([vectors[sample_label == k].mean(axis=0) for k in range(sample_label.max() + 1)])
    )
    d_label = np.full(n, -1, dtype=int)
    d_label[sample] = sample_label
    d_central = np.full(n, np.nan)
    d_central[sample] = np.where(
        sample_label >= 0,
        (vectors @ centroids.T)[np.arange(len(sample)), np.maximum(sample_label, 0)],
        np.nan,
    )
    if len(sample) < n:
        rest = np.setdiff1d(np.arange(n), sample)
        d_label[rest] = _tfidf_assign(
            [distinct[i] for i in sample], sample_label, [distinct[i] for i in rest]
        )
    d_row = np.full(n, -1, dtype=int)
    d_row[sample] = np.arange(len(sample))
    return Grouping(
        d_label[text_to_distinct],
        centroids,
        d_central[text_to_distinct],
        len(sample),
        n,
        vectors,
        d_row[text_to_distinct],
    )


def memory_matches(queries: Sequence[str], originals: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each untranslated statement in `queries`, the most alike of `originals` (the day's
    translated statements as said) and how alike (-1 and 0.0 when there are none): a translation
    memory's fuzzy match. Alike means lexically (cosine of TF-IDF over character 3-5-grams, which
    also meets "renovar" with "renuevo"), as translation memories match: query and original
    share a language, and the embedding model reads only English."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    best = np.full(len(queries), -1, dtype=int)
    similarity = np.zeros(len(queries))
    if not len(queries) or not len(originals):
        return best, similarity
    lowered = [q.lower() for q in queries]
    known_texts = [o.lower() for o in originals]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vectorizer.fit(known_texts + lowered)
    known = vectorizer.transform(known_texts)
    for first in range(0, len(queries), 1000):  # bounded dense block
        sims = (vectorizer.transform(lowered[first : first + 1000]) @ known.T).toarray()
        best[first : first + len(sims)] = sims.argmax(axis=1)
        similarity[first : first + len(sims)] = sims.max(axis=1)
    return np.where(similarity > 0, best, -1), similarity


def merge_close(labels: np.ndarray, centroids: np.ndarray, similarity: float) -> np.ndarray:
    """Clusters whose centroids are at least `similarity` alike become one (transitively; the
    lower cluster number is kept): the same need, split by wording."""
    import numpy as np

    k = len(centroids)
    parent = list(range(k))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    if k > 1:
        sims = centroids @ centroids.T
        for a, b in zip(*np.nonzero(np.triu(sims >= similarity, 1)), strict=True):
            ra, rb = root(int(a)), root(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    mapping = np.array([root(c) for c in range(k)] + [-1])
    return np.where(labels >= 0, mapping[labels], -1)


def match_registry(centroids: np.ndarray, registry: Sequence[Any], similarity: float) -> list[int | None]:
    """For each of today's centroids, the index of the registry topic it continues, or None.

    Greedy by similarity, one registry topic per cluster; a second cluster close to an already
    matched registry topic is also given it (the caller merges the two: same problem, split today).
    """
    import numpy as np

    out: list[int | None] = [None] * len(centroids)
    usable = [i for i, r in enumerate(registry) if len(r.centroid) == centroids.shape[1]]
    if not usable or not len(centroids):
        return out
    reg = _unit(np.array([registry[i].centroid for i in usable], dtype=np.float32))
    sims = centroids @ reg.T
    taken: set[int] = set()
    for flat in np.argsort(-sims, axis=None):
        c, r = divmod(int(flat), len(usable))
        if sims[c, r] < similarity:
            break
        if out[c] is None and r not in taken:
            out[c] = usable[r]
            taken.add(r)
    for c in range(len(centroids)):
        if out[c] is None:
            r = int(sims[c].argmax())
            if sims[c, r] >= similarity:
                out[c] = usable[r]
    return out


def keyword_label(
    texts: Sequence[str], central: str, background: Counter[str], total: int, words: int = 5
) -> str:
    """A short phrase from the words that set this topic's statements apart, in the order the
    most representative statement uses them."""
    own: Counter[str] = Counter()
    for t in texts:
        own.update({w for w in _WORD.findall(t.lower()) if w not in _STOP and len(w) > 2})
    if not own:
        return clean_problem(central)[:60]
    n = len(texts)
    score = {w: c / n - background.get(w, 0) / max(total, 1) * 0.5 for w, c in own.items()}
    # A label word must be common in the topic (>= 35% of its statements) and rarer elsewhere.
    common = {w: sc for w, sc in score.items() if own[w] / n >= 0.35}
    keep = {w for w, _ in sorted(common.items(), key=lambda kv: -kv[1])[: words + 2] if common[w] > 0.15}
    ordered: list[str] = []
    for w in _WORD.findall(central.lower()):
        if w in keep and w not in ordered:
            ordered.append(w)
    for w, _ in sorted(score.items(), key=lambda kv: -kv[1]):
        if len(ordered) >= 3:
            break
        if w in keep and w not in ordered:
            ordered.append(w)
    return " ".join(ordered[:words]) or clean_problem(central)[:60]


_CLAUSE = re.compile(
    r"[.,;:!?]+\s*|\s+(?:when|because|but|and then|even though|every time)\s+", re.IGNORECASE
)


def phrase_label(central: Sequence[str], max_words: int = 9) -> str | None:
    """The shortest first clause (4 to `max_words` words) among the most representative
    statements, e.g. "Why is my water bill so high"; None when none fits."""
    options = []
    for text in central:
        clause = _CLAUSE.split(clean_problem(text), maxsplit=1)[0].strip()
        words = clause.split()
        if 4 <= len(words) <= max_words and not re.search(r"\[[A-Z_]+\]", clause):
            options.append((len(words), clause))
    if not options:
        return None
    clause = min(options)[1]
    return clause[0].upper() + clause[1:]


def word_counts(texts: Sequence[str]) -> Counter[str]:
    """In how many texts each content word appears (the background for `keyword_label`)."""
    out: Counter[str] = Counter()
    for t in texts:
        out.update({w for w in _WORD.findall(t.lower()) if w not in _STOP and len(w) > 2})
    return out


def unit(m: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return _unit(m)
