"""The daily pain-point digest: what callers struggled with on a day, for supervisors.

From each stored call of the day: its problem statements (the summary's reason and the caller
utterances that drew a suggestion or an abstention; redacted, translated text when there is one).
They are grouped by meaning into topics (`digest_cluster`), each topic is matched to the topic
registry so its id persists across days, and per topic we count calls, compare with the mean of
the previous 7 stored digests, and measure sentiment, resolution, handle time, languages and the
knowledge gap (calls whose search abstained or whose suggestion an agent marked not helpful).
`build_digest` computes, `run_digest` computes and stores (backfilling the previous 7 days first
when they have no digest). Rendering lives in `digest_render`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from assistant import config, storage
from assistant.digest.cluster import (
    group_texts,
    match_registry,
    memory_matches,
    merge_close,
    unit,
    word_counts,
)
from assistant.digest.model import (
    BASELINE_DAYS,
    GAP_SHARE,
    METHOD_VERSION,
    Digest,
    DigestOptions,
    Topic,
    check_not_future,
)
from assistant.digest.render import digest_text
from assistant.digest.stats import (
    Problem,
    call_problems,
    escalated,
    topic_stats,
    translation_memory,
    unique_labels,
)
from assistant.errors import AssistantError, InputError
from assistant.knowledge.articles import load_articles
from assistant.knowledge.index import ensure_index
from assistant.knowledge.search import Embedder, SearchOptions

# ---------------------------------------------------------------- building


def previous_counts(con: Any, day: date) -> tuple[dict[str, float], int]:
    """Mean calls per topic id over the stored digests of the previous 7 days that had calls, and
    how many such days there were (0: no baseline)."""

    totals: Counter[str] = Counter()
    days = 0
    for back in range(1, BASELINE_DAYS + 1):
        stored = storage.get_digest(con, day - timedelta(days=back))
        if stored is None or not stored.total_calls:
            continue
        days += 1
        for t in stored.topics:
            totals[t.topic_id] += t.calls
    return ({k: v / days for k, v in totals.items()} if days else {}), days


def build_digest(
    con: Any, day: date, embedder: Any, options: DigestOptions | None = None
) -> tuple[Digest, list[Any]]:
    """Compute a day's digest from its stored calls; returns it and the registry updates to save."""
    import numpy as np

    options = options or DigestOptions.from_config()
    calls = _day_calls(con, day)
    languages = Counter(c.language or "unknown" for c in calls)
    kb = knowledge_articles() if calls else KnowledgeArticles()
    agent_language = str(config.get().agent_language)
    found_in: list[tuple[Problem, str | None]] = []  # each problem, and its language if untranslated
    skipped = derived = 0
    escalations: set[int] = set()
    for i, call in enumerate(calls):
        found, was_derived = call_problems(call, i)
        derived += was_derived
        if escalated(call):
            escalations.add(i)
        if not found:
            skipped += 1
        untranslated = (call.language or agent_language) != agent_language and not any(
            u.translation for u in call.utterances
        )
        found_in.extend((p, call.language if untranslated else None) for p in found)
    # An untranslated statement borrows the translation of the day's translated statement that
    # is nearly the same (`memory_similarity`); a less alike match still votes (`join_by_memory`).
    foreign = [i for i, (_, language) in enumerate(found_in) if language]
    memory = translation_memory(calls) if foreign else []
    best, alike = memory_matches([found_in[i][0].text for i in foreign], [m[1] for m in memory])
    match = np.full(len(found_in), -1, dtype=int)
    match_similarity = np.zeros(len(found_in))
    match[foreign], match_similarity[foreign] = best, alike
    problems = [
        kb.language_independent(
            p,
            language,
            memory[match[i]][2]
            if match[i] >= 0 and match_similarity[i] >= options.memory_similarity
            else None,
        )
        for i, (p, language) in enumerate(found_in)
    ]
    no_answer = {p.call for p in problems if p.no_answer}
    base = Digest(
        date=day,
        method_version=METHOD_VERSION,
        total_calls=len(calls),
        no_answer_share=round(len(no_answer) / len(calls), 4) if calls else None,
        languages=dict(languages.most_common()),
        skipped_calls=skipped,
        derived_reasons=derived,
        gap_threshold=GAP_SHARE,
        escalated_calls=len(escalations),
    )
    if not problems:
        base = replace(base, **equity(calls, problems, kb, agent_language))
        return replace(base, text=digest_text(base, options.top_n)), []

    grouping = group_texts(
        [p.group_text for p in problems],
        embedder,
        similarity=None if options.grouping == "density" else options.cluster_similarity,
        min_size=options.min_topic_calls,
        embed_limit=options.embed_limit,
        embed_seconds=options.embed_seconds,
        weights=[str(p.call) for p in problems],
    )
    anchors = [p.article_id for p in problems]
    if options.kb_anchor:
        anchors = [kb.canonical(a) for a in kb_anchors(problems, grouping, embedder)]
    labels = merge_by_article(
        grouping.labels,
        problems,
        anchors,
        grouping.centroids,
        options.merge_similarity,
        options.strong_anchor,
        options.anchor_coverage,
    )
    if options.grouping == "density":
        labels = split_foreign(labels, problems, anchors)
    if options.centroid_merge is not None:
        labels = merge_close(labels, grouping.centroids, options.centroid_merge)
    if memory:
        memory_call = np.array([m[0] for m in memory])
        labels = join_by_memory(
            labels,
            problems,
            np.where(match >= 0, memory_call[np.maximum(match, 0)], -1),
            match_similarity,
            options.memory_vote,
        )
    grouping = replace(grouping, labels=attach_by_article(labels, problems, anchors))
    registry = storage.registered_topics(con)
    matches = match_registry(grouping.centroids, registry, options.match_similarity)
    # Clusters continuing the same registry topic are one topic today.
    topic_of_cluster: list[str] = []
    new_n = 0
    taken = {r.topic_id for r in registry}
    for m in matches:
        if m is not None:
            topic_of_cluster.append(registry[m].topic_id)
            continue
        new_n += 1
        tid = f"T{day:%Y%m%d}-{new_n:02d}"
        while tid in taken:
            new_n += 1
            tid = f"T{day:%Y%m%d}-{new_n:02d}"
        taken.add(tid)
        topic_of_cluster.append(tid)
    members: dict[str, list[int]] = {}
    for i, label in enumerate(grouping.labels):
        if label >= 0:
            members.setdefault(topic_of_cluster[label], []).append(i)
    prev_mean, baseline_days = previous_counts(con, day)
    background = word_counts([p.text for p in problems])
    topics: list[Topic] = []
    updates: list[Any] = []
    reg_by_id = {r.topic_id: r for r in registry}
    for tid, idx in members.items():
        topic = topic_stats(tid, idx, problems, calls, grouping, background, options, agent_language)
        topic = replace(topic, escalations=len({problems[i].call for i in idx} & escalations))
        mean = prev_mean.get(tid, 0.0) if baseline_days else None
        change = None if not mean else round((topic.calls - mean) / mean, 4)
        emerging = bool(baseline_days) and (not mean or topic.calls >= options.emerging_factor * mean)
        topics.append(replace(topic, change=change, previous_mean=mean, emerging=emerging))
        vec = unit(np.mean([grouping.centroids[k] for k in set(grouping.labels[idx])], axis=0))
        old = reg_by_id.get(tid)
        if old is not None:  # drift slowly so a topic keeps its id as wording shifts
            vec = unit(0.8 * np.asarray(old.centroid, dtype=np.float32) + 0.2 * vec)
        updates.append(storage.RegisteredTopic(tid, topic.label, tuple(float(x) for x in vec), day, day))
    topics.sort(key=lambda t: (-t.calls, t.topic_id))
    topics = [replace(t, rank=r) for r, t in enumerate(unique_labels(topics), start=1)]
    label_of = {t.topic_id: t.label for t in topics}
    updates = [replace(u, label=label_of.get(u.topic_id, u.label)) for u in updates]
    assigned = {problems[i].call for idx in members.values() for i in idx}
    digest = replace(
        base,
        topics=tuple(topics),
        unassigned_calls=len({p.call for p in problems}) - len(assigned),
        embedded=grouping.embedded,
        **equity(
            calls,
            [replace(p, article_id=a) for p, a in zip(problems, anchors, strict=True)],
            kb,
            agent_language,
        ),
    )
    return replace(digest, text=digest_text(digest, options.top_n)), updates


def kb_anchors(problems: Sequence[Any], grouping: Any, embedder: Any) -> list[str | None]:
    """Each problem's article: the one suggested during the call, else the knowledge base's best
    match for its (already computed) vector when above the search threshold. Calls whose need was
    not searched (no cue word) then still meet the calls that were, in `merge_by_article`."""
    anchors = [p.article_id for p in problems]
    if grouping.vectors is None or grouping.rows is None:  # nothing was grouped: no vectors to search
        return anchors
    todo = [i for i, p in enumerate(problems) if p.article_id is None and grouping.rows[i] >= 0]
    if not todo:
        return anchors
    index = _knowledge_index(embedder)
    if index is None:
        return anchors

    threshold = float(config.get().search_threshold)
    for i in todo:
        result = index.search_vector(
            problems[i].text, grouping.vectors[grouping.rows[i]], SearchOptions(k=1), threshold
        )
        if not result.abstained and result.hits:
            anchors[i] = result.hits[0].article_id
    return anchors


def _knowledge_index(embedder: Any) -> Any:
    """The knowledge index for the digest's embedder, or None (a fake embedder, no knowledge base)."""

    real = embedder.real() if callable(getattr(embedder, "real", None)) else embedder  # a wrapper
    if not isinstance(real, Embedder):
        return None
    cfg = config.get()
    try:
        index, _ = ensure_index(cfg.kb_dir, cfg.index_dir, real)
    except AssistantError:
        return None
    return index


def merge_by_article(
    labels: Any,
    problems: Sequence[Any],
    anchors: Sequence[str | None] | None = None,
    centroids: Any = None,
    similarity: float = 0.0,
    strong: float = 1.01,
    coverage: float = 1.01,
) -> Any:
    """Clusters whose calls mostly matched the same article are one topic: wording split them,
    but the knowledge base says it is one problem. With `centroids`, a cluster joins another of
    the same article only when their centroids are at least `similarity` alike, unless most of
    its statements are untranslated text in another language (the English embedding cannot
    compare those with the agent's language, so for them the article decides), or at least a
    `strong` share of both clusters' calls matched the article. "Mostly" counts the calls that
    matched any article when they are at least a `coverage` share of the cluster's (a need the
    search missed is not another need), else all its calls."""
    import numpy as np

    anchors = anchors if anchors is not None else [p.article_id for p in problems]
    majority: dict[str, list[tuple[int, float]]] = {}
    out = np.array(labels, copy=True)
    for cluster in sorted({int(x) for x in labels if x >= 0}):
        members = [int(i) for i in np.flatnonzero(labels == cluster)]
        per_call: dict[int, set[str]] = {}
        for i in members:
            found = per_call.setdefault(problems[i].call, set())
            if anchors[i]:
                found.add(str(anchors[i]))
        per_article = Counter(a for found in per_call.values() for a in found)
        if not per_article:
            continue
        article, n = per_article.most_common(1)[0]
        share = n / len(per_call)
        foreign = sum(bool(getattr(problems[i], "untranslated", False)) for i in members) > len(members) / 2
        anchored = sum(1 for found in per_call.values() if found)
        if share <= 0.5 and not foreign and anchored >= coverage * len(per_call) and n * 2 > anchored:
            share = n / anchored  # a call with no article is no evidence against this one
        if share <= 0.5:
            continue
        target = next(
            (
                k
                for k, k_share in majority.get(article, [])
                if centroids is None
                or foreign
                or min(share, k_share) >= strong
                or float(centroids[k] @ centroids[cluster]) >= similarity
            ),
            None,
        )
        if target is None:
            majority.setdefault(article, []).append((cluster, share))
        else:
            out[members] = target
    return out


def join_by_memory(
    labels: Any, problems: Sequence[Any], match_call: Any, similarity: Any, floor: float
) -> Any:
    """A group of untranslated statements (a cluster most of whose statements are untranslated,
    or one such statement in no cluster) joins the topic that most of its statements' translation
    memory matches are in (`match_call[i]`: the call of statement i's most alike translated
    statement, when at least `floor` alike): one such match may be a chance likeness of words, but
    most of a group's pointing at one topic is the same need said in the same language."""
    import numpy as np

    out = np.array(labels, copy=True)
    topic_of_call: dict[int, int] = {}
    for i, p in enumerate(problems):
        if labels[i] >= 0 and not p.untranslated:
            topic_of_call.setdefault(p.call, int(labels[i]))
    groups = [np.flatnonzero(labels == c) for c in sorted({int(x) for x in labels if x >= 0})]
    groups += [np.array([i]) for i in np.flatnonzero(labels < 0)]
    for members in groups:
        untranslated = [int(i) for i in members if problems[int(i)].untranslated]
        if len(untranslated) * 2 <= len(members):
            continue
        named = Counter(
            topic_of_call.get(int(match_call[i]))
            for i in untranslated
            if match_call[i] >= 0 and similarity[i] >= floor
        )
        topic, n = named.most_common(1)[0] if named else (None, 0)
        if topic is not None and topic != labels[members[0]] and n * 2 > len(untranslated):
            out[members] = topic
    return out


def split_foreign(labels: Any, problems: Sequence[Any], anchors: Sequence[str | None]) -> Any:
    """A topic most of whose statements are untranslated and whose calls do not mostly share an
    article is no topic: an embedding that does not read their language put them together for
    their language, not their need. Its statements leave it (-1), so that the translation memory
    (`join_by_memory`) or their article (`attach_by_article`) places each one."""
    import numpy as np

    out = np.array(labels, copy=True)
    for cluster in sorted({int(x) for x in labels if x >= 0}):
        members = np.flatnonzero(labels == cluster)
        if sum(bool(problems[int(i)].untranslated) for i in members) * 2 <= len(members):
            continue
        calls = {problems[int(i)].call for i in members}
        per_article = Counter(a for _, a in {(problems[int(i)].call, anchors[int(i)]) for i in members} if a)
        if not per_article or per_article.most_common(1)[0][1] * 2 <= len(calls):
            out[members] = -1
    return out


def attach_by_article(labels: Any, problems: Sequence[Any], anchors: Sequence[str | None]) -> Any:
    """A statement in no topic (its wording formed too small a group) joins the topic most of
    whose calls matched the same article as it did: the article says it is that need."""
    import numpy as np

    out = np.array(labels, copy=True)
    topic_of_article: dict[str, int] = {}
    for cluster in sorted({int(x) for x in labels if x >= 0}):
        members = [int(i) for i in np.flatnonzero(labels == cluster)]
        calls = {problems[i].call for i in members}
        per_article = Counter(a for _, a in {(problems[i].call, anchors[i]) for i in members if anchors[i]})
        if per_article:
            article, n = per_article.most_common(1)[0]
            if n / len(calls) > 0.5 and article is not None:
                topic_of_article.setdefault(article, cluster)
    for i in np.flatnonzero(labels < 0):
        article = anchors[int(i)]
        if article in topic_of_article:
            out[i] = topic_of_article[article]
    return out


@dataclass(frozen=True)
class KnowledgeArticles:
    """What the digest needs from the knowledge base: each article's canonical (agent-language)
    id and language, the canonical articles' titles, and which languages each canonical article
    exists in."""

    canonical_of: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    languages: dict[str, set[str]] = field(default_factory=dict)
    language_of: dict[str, str] = field(default_factory=dict)

    def canonical(self, article_id: str | None) -> str | None:
        return self.canonical_of.get(article_id, article_id) if article_id else None

    def language_independent(self, problem: Any, foreign: str | None, borrowed: str | None = None) -> Any:
        """The problem with its article made canonical (an article's translation counts as the
        article) and its title in the agent's language. For untranslated text in another
        language (`foreign`: its code), what is grouped is a language-independent form: the
        translation `borrowed` from the day's most alike translated statement, else, when it
        matched an article written in its language, the canonical article's title. (A match
        across languages is not trusted for this: the embedding model is English-only, so such
        matches are often wrong; within Spanish too, a native match is weaker evidence than a
        caller who said nearly the same and was translated.)"""
        article = self.canonical(problem.article_id)
        title = self.titles.get(article, problem.article_title) if article else problem.article_title
        native = bool(foreign) and self.language_of.get(problem.article_id or "") == foreign
        key = (borrowed or "") if foreign else ""
        key = key or (title if native and title else "")
        return replace(
            problem, article_id=article, article_title=title, key=key, untranslated=bool(foreign) and not key
        )


def knowledge_articles() -> KnowledgeArticles:
    """The configured knowledge base's articles as `KnowledgeArticles` (empty when unreadable)."""

    cfg = config.get()
    try:
        articles, _ = load_articles(cfg.kb_dir)
    except (AssistantError, OSError):
        return KnowledgeArticles()
    canonical = {a.id: a.translation_of or a.id for a in articles}
    titles = {a.id: a.title for a in articles if not a.translation_of}
    languages: dict[str, set[str]] = {}
    for a in articles:
        languages.setdefault(canonical[a.id], set()).add(a.language)
    return KnowledgeArticles(canonical, titles, languages, {a.id: a.language for a in articles})


def equity(
    calls: Sequence[Any], problems: Sequence[Any], kb: KnowledgeArticles, agent_language: str
) -> dict[str, Any]:
    """Language equity: per caller language, calls, share without an approved answer and share
    resolved; and the articles callers in another language needed that have no version in their
    language, ranked by those callers' calls."""
    unanswered = {p.call for p in problems if p.no_answer or p.not_helpful}
    by_language: dict[str, list[int]] = {}
    for i, call in enumerate(calls):
        by_language.setdefault(call.language or "unknown", []).append(i)
    rows = [
        {
            "language": code,
            "calls": len(idx),
            "no_answer_share": round(sum(i in unanswered for i in idx) / len(idx), 4),
            "resolved_share": round(sum(calls[i].outcome == "resolved" for i in idx) / len(idx), 4),
        }
        for code, idx in sorted(by_language.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    needed: Counter[tuple[str, str]] = Counter()
    for code, idx in by_language.items():
        if code in (agent_language, "unknown"):
            continue
        members = set(idx)
        for article in {(p.call, p.article_id) for p in problems if p.call in members and p.article_id}:
            if code not in kb.languages.get(article[1], {agent_language}):
                needed[(code, article[1])] += 1
    missing = [
        {"language": code, "article_id": article, "title": kb.titles.get(article, article), "calls": n}
        for (code, article), n in sorted(needed.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {"language_equity": tuple(rows), "missing_native_articles": tuple(missing)}


def _day_calls(con: Any, day: date) -> list[Any]:
    import duckdb

    try:
        return storage.calls_for_day(con, day)
    except duckdb.CatalogException:
        raise InputError("the database has no calls table; ingest calls first (assistant ingest)") from None


# ---------------------------------------------------------------- storing


def save(con: Any, digest: Digest, updates: Sequence[Any]) -> None:
    """Store a digest, replacing that date's (one transaction, with the registry updates)."""

    payload = digest.to_json()
    topics = [
        storage.DigestTopic(
            topic_id=t.topic_id,
            label=t.label,
            calls=t.calls,
            share=t.share,
            change=t.change,
            emerging=t.emerging,
            knowledge_gap=t.is_gap,
            sentiment=t.sentiment,
            resolved_share=t.resolved_share,
            median_handle_time=t.median_handle_time,
            languages=t.languages,
            quotes=t.quotes,
            rank=t.rank,
        )
        for t in digest.topics
    ]
    members = {t.topic_id: t.call_ids for t in digest.topics}
    storage.save_digest(con, digest.date, digest.method_version, payload, topics, updates, members)


def run_digest(
    con: Any,
    day: date,
    embedder: Any = None,
    options: DigestOptions | None = None,
    *,
    backfill: bool = True,
    progress: Any = None,
) -> Digest:
    """Compute and store the digest of `day`. With `backfill`, each of the previous 7 days that
    has calls but no digest (of this method version) is computed first, oldest first, so the
    baseline and the topic registry exist."""

    check_not_future(day)
    options = options or DigestOptions.from_config()
    if embedder is None:
        embedder = LazyEmbedder()
    if backfill:
        for back in range(BASELINE_DAYS, 0, -1):
            earlier = day - timedelta(days=back)
            stored = storage.get_digest(con, earlier)
            if stored is not None and stored.method_version == METHOD_VERSION:
                continue
            if not _day_calls(con, earlier) and stored is None:
                continue
            if progress:
                progress(f"backfill: digest of {earlier}")
            run_digest(con, earlier, embedder, options, backfill=False)
    digest, updates = build_digest(con, day, embedder, options)
    save(con, digest, updates)
    return digest


def default_embedder() -> Any:
    """The MiniLM embedder, with larger batches (problem statements are short) and one thread.

    The digest is a batch job beside the live path: with two intra-op threads on a busy 2-core
    machine (load 10) the threads wait on each other, and 1,000 statements took 17-19 s of CPU
    and 36-67 s; with one, 12 s of CPU and 24-28 s (bench/digest.py)."""

    embedder = Embedder(batch_size=128)
    embedder.threads = 1
    return embedder


class LazyEmbedder:
    """`default_embedder()` loaded on the first `embed` call (an empty day never loads the model)."""

    def __init__(self) -> None:
        self._embedder: Any = None

    def real(self) -> Any:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def embed(self, texts: Sequence[str]) -> Any:
        return self.real().embed(texts)
