"""What a digest is: its options, topics and the digest itself, and the day arithmetic shared by
building, rendering and the console. No I/O here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from assistant import config
from assistant.errors import InputError

METHOD_VERSION = "digest-3"  # 3: topics chosen from the day's data (HDBSCAN count, Ward cut)
BASELINE_DAYS = 7
GAP_SHARE = 0.5


@dataclass
class DigestOptions:
    """How a digest is computed.

    Attributes:
        emerging_factor: a topic is emerging when new, or when its calls reach this multiple of
            its mean over the previous 7 days.
        cluster_similarity: with `grouping` "threshold", the cosine similarity (average linkage)
            at which problem statements join one topic.
        grouping: "threshold" (the default: average linkage at `cluster_similarity`, chosen on
            DSTC11 insurance) or "density" (the number of topics chosen from each day's data,
            `digest.cluster.partition`; holds better on other domains but splits paraphrased
            needs on small days, see README).
        match_similarity: cosine similarity at which a topic continues a registered topic.
        merge_similarity: clusters whose calls mostly match one article are merged when their
            centroids are at least this similar (the article says one need; the centroids check
            that it is not an out-of-domain article catching several needs).
        strong_anchor: ... unless at least this share of both clusters' calls matched the article.
        anchor_coverage: a cluster's article is the one most of its calls that matched an article
            matched, when at least this share of its calls did (else most of all its calls).
        centroid_merge: clusters whose centroids are at least this similar merge (None: off).
        min_topic_calls: smaller groups are not reported as topics; with "density" grouping a
            dense group (which sets the number of topics) has at least one statement more.
        embed_limit: at most this many distinct statements are embedded (see `digest_cluster`).
        embed_seconds: time budget for embedding (at least 256 statements are embedded); None: no
            limit, the default, so that a day's digest does not depend on how busy the machine is.
        kb_anchor: clusters whose statements mostly match one knowledge-base article are merged,
            also when the call itself drew no search (see `kb_anchors`).
        memory_similarity: an untranslated statement is grouped by the translation of the day's
            translated statement most like it when they are at least this alike (TF-IDF cosine over
            character n-grams; see `digest.cluster.memory_matches`).
        memory_vote: ... and a less alike match (at least this) still votes for the topic its
            translated statement is in (`join_by_memory`).
        top_n: topics listed in the digest text.
    """

    emerging_factor: float = 2.0
    cluster_similarity: float = 0.55
    grouping: str = "threshold"
    match_similarity: float = 0.8
    merge_similarity: float = 0.6
    centroid_merge: float | None = None
    strong_anchor: float = 0.9
    anchor_coverage: float = 0.4
    min_topic_calls: int = 3
    embed_limit: int = 1000
    embed_seconds: float | None = None
    kb_anchor: bool = True
    memory_similarity: float = 0.5
    memory_vote: float = 0.15
    top_n: int = 10

    def __post_init__(self) -> None:
        if self.grouping not in ("threshold", "density"):
            raise InputError(f"digest grouping {self.grouping!r} is not 'threshold' or 'density'")

    @classmethod
    def from_config(cls, **overrides: Any) -> DigestOptions:
        cfg = config.get()
        base = cls(
            emerging_factor=cfg.digest_emerging_factor,
            cluster_similarity=cfg.digest_cluster_similarity,
            min_topic_calls=cfg.digest_min_topic_calls,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Topic:
    """A topic of one day (the rich form; `storage.DigestTopic` is what the table keeps)."""

    topic_id: str
    label: str
    calls: int
    share: float
    change: float | None
    previous_mean: float | None
    emerging: bool
    knowledge_gap: float
    gap_calls: int
    sentiment: float | None
    resolved_share: float | None
    median_handle_time: float | None
    languages: dict[str, int]
    quotes: tuple[str, ...]
    article_id: str | None = None
    rank: int = 0
    call_ids: tuple[str, ...] = field(default=(), compare=False, repr=False)
    escalations: int = 0

    @property
    def is_gap(self) -> bool:
        """A knowledge gap: at least half its calls had no (helpful) approved answer. The one
        notion shared with the gap queue (`storage.open_questions`)."""
        return self.gap_calls > 0 and self.knowledge_gap >= GAP_SHARE


@dataclass(frozen=True)
class Digest:
    """A day's digest. `topics` are sorted by calls, descending."""

    date: date
    method_version: str
    total_calls: int
    no_answer_share: float | None
    languages: dict[str, int]
    topics: tuple[Topic, ...] = ()
    skipped_calls: int = 0
    derived_reasons: int = 0
    unassigned_calls: int = 0
    embedded: int = 0
    gap_threshold: float = 0.5
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    escalated_calls: int = 0
    language_equity: tuple[dict[str, Any], ...] = ()
    missing_native_articles: tuple[dict[str, Any], ...] = ()

    @property
    def emerging(self) -> list[Topic]:
        return [t for t in self.topics if t.emerging]

    @property
    def knowledge_gaps(self) -> list[Topic]:
        """Topics flagged as gaps (`Topic.is_gap`), most calls affected first."""
        gaps = [t for t in self.topics if t.is_gap]
        return sorted(gaps, key=lambda t: (-t.gap_calls, t.topic_id))

    def to_json(self) -> dict[str, Any]:
        """The `assistant digest --json` object."""
        return {
            "date": self.date.isoformat(),
            "method_version": self.method_version,
            "total_calls": self.total_calls,
            "no_answer_share": self.no_answer_share,
            "languages": dict(self.languages),
            "skipped_calls": self.skipped_calls,
            "unassigned_calls": self.unassigned_calls,
            "escalated_calls": self.escalated_calls,
            "topics": [
                {
                    **asdict(t),
                    "quotes": list(t.quotes),
                    "call_ids": list(t.call_ids),
                    "knowledge_gap_flag": t.is_gap,
                }
                for t in self.topics
            ],
            "language_equity": [dict(x) for x in self.language_equity],
            "missing_native_articles": [dict(x) for x in self.missing_native_articles],
            "emerging": [t.topic_id for t in self.emerging],
            "knowledge_gaps": [t.topic_id for t in self.knowledge_gaps],
            "digest_text": self.text,
        }


# ---------------------------------------------------------------- dates


def parse_day(text: str, what: str = "--date") -> date:
    """A YYYY-MM-DD date; InputError otherwise."""
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"{what} {text!r} is not a date; use YYYY-MM-DD") from None


def check_not_future(day: date) -> None:
    today = datetime.now(UTC).date()
    if day > today:
        raise InputError(f"{day} is in the future (today is {today} UTC); a digest covers a past day")


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def from_stored(stored: Any) -> Digest:
    """A `Digest` rebuilt from a stored one (its payload), for exports without recomputing."""
    payload = dict(stored.payload)
    topics = tuple(
        Topic(**{k: v for k, v in t.items() if k in Topic.__dataclass_fields__})
        for t in payload.get("topics", [])
    )
    topics = tuple(replace(t, quotes=tuple(t.quotes), call_ids=tuple(t.call_ids)) for t in topics)
    return Digest(
        date=stored.digest_date,
        method_version=stored.method_version,
        total_calls=stored.total_calls,
        no_answer_share=stored.no_answer_share,
        languages=dict(stored.languages),
        topics=topics,
        skipped_calls=payload.get("skipped_calls", 0),
        unassigned_calls=payload.get("unassigned_calls", 0),
        text=stored.digest_text or "",
        escalated_calls=payload.get("escalated_calls", 0),
        language_equity=tuple(payload.get("language_equity", ())),
        missing_native_articles=tuple(payload.get("missing_native_articles", ())),
    )


def days_between(since: date, until: date) -> list[date]:
    """Every day from `since` to `until`, both included."""
    if until < since:
        raise InputError(f"--until {until} is before --since {since}")
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]
