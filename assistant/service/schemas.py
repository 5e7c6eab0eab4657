"""Every JSON shape the service sends: one pydantic model each, shared by the routes
(`response_model=`), the HTTP client and its in-memory fake (both validate what they return with
`parse`), and `assistant openapi`.

Models forbid fields they do not declare: a route, the client and the fake cannot drift apart
without a test failing. Vocabularies come from `assistant.vocab`.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from assistant.vocab import AlertKind, ArticleStatus, Confidence, FeedbackKind, SentimentTrend, Speaker


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- health ------------------------------------------------------------------------------------
class ModelsHealth(Schema):
    transcriber: str | None
    embedder: str | None
    index: str


class DatabaseHealth(Schema):
    path: str
    ok: bool
    error: str | None


class StageTime(Schema):
    """Live model work of one stage since the service started."""

    jobs: int
    seconds: float


class Health(Schema):
    status: Literal["ok", "degraded"]
    models: ModelsHealth
    database: DatabaseHealth
    active_calls: int
    lag: dict[str, float]
    worker_errors: int
    live_workers: dict[str, int]
    live_stages: dict[str, StageTime]


class BriefHealth(Schema):
    """What `GET /health` tells someone who has not signed in (a load balancer, `assistant up`)."""

    status: Literal["ok", "degraded"]


# -- calls -------------------------------------------------------------------------------------
class Wrapup(Schema):
    """The wrap-up codes suggested at call end, and the one the agent confirmed (issue 35)."""

    suggested: list[str] = []
    chosen: str | None = None


class Evidence(Schema):
    start: float | None
    speaker: str
    text: str


class QaAnswer(Schema):
    question: str
    answer: Literal["yes", "no", "n/a"]
    evidence: Evidence | None


class CallScore(Schema):
    """A call's answers to one scorecard: `assistant qa score --json` items, `scores` of a call."""

    scorecard: str
    score: float
    max_score: float
    answers: list[QaAnswer]
    call_id: str | None = None
    scored_at: str | None = None


class WrapupSet(Wrapup):
    """`POST /calls/{id}/wrapup`: the call's codes after the agent confirmed one."""

    call_id: str


class CallRow(Schema):
    """A call in a list: `GET /calls`, `assistant calls list --json`."""

    call_id: str
    started_at: str | None
    channel: str
    language: str | None
    duration: float | None
    outcome: str | None
    status: str
    reason: str | None = None
    wrapup: Wrapup = Field(default_factory=lambda: Wrapup())


class Utterance(Schema):
    speaker: Speaker
    start: float | None
    end: float | None
    text: str
    language: str | None
    translation: str | None
    machine_translated: bool


class CallSuggestion(Schema):
    suggestion_id: str | None
    article_id: str | None
    title: str | None
    score: float | None
    abstained: bool
    utterance: str | None


class FeedbackItem(Schema):
    suggestion_id: str
    kind: FeedbackKind
    comment: str | None


class Alert(Schema):
    """An alert a live call raised (`assistant/live/alerts.py`); `detail` is redacted text."""

    kind: AlertKind
    at: str
    detail: str


class CallDetail(CallRow):
    """One call with its transcript: `GET /calls/{id}`, `assistant calls show --json`."""

    utterances: list[Utterance]
    suggestions: list[CallSuggestion]
    feedback: list[FeedbackItem]
    summary: dict[str, Any]
    queue: str | None = None
    alerts: list[Alert] = []
    scores: list[CallScore] = []
    metrics: dict[str, Any] | None = None


class FeedbackSaved(Schema):
    feedback_id: str
    call_id: str
    suggestion_id: str
    article_id: str | None
    kind: FeedbackKind
    created_at: str | None


class OutcomeSet(Schema):
    call_id: str
    outcome: str
    status: str


class LanguageSet(Schema):
    call_id: str
    language: str
    overridden: bool


class DemoCall(Schema):
    call_id: str


# -- events (GET /calls/{id}/events) ---------------------------------------------------------
class Caption(Schema):
    speaker: str
    text: str
    start: float | None
    end: float | None
    final: bool
    language: str | None
    translation: str | None
    machine_translated: bool
    confidence: float | None = None  # finals: the recognizer's, 0-1


class NativeAnswer(Schema):
    """The answer in the caller's language: a published translation, or a labelled machine one."""

    text: str
    language: str
    machine_translated: bool
    engine: str | None
    say: str | None = None


class Suggestion(Schema):
    """A suggestion event: `say` is the short line to read out (the article's, else the answer's
    first sentence), then the whole `answer`."""

    suggestion_id: str | None
    utterance: str | None
    abstained: bool
    article_id: str | None
    title: str | None
    score: float | None
    confidence: Confidence | None
    say: str | None = None
    answer: str | None
    owner: str | None
    effective: str | None
    answer_in_caller_language: NativeAnswer | None


class LanguageDecision(Schema):
    language: str
    probability: float | None
    overridden: bool


class Sentiment(Schema):
    label: str
    score: float | None


class Status(Schema):
    state: str
    lag: float
    rejected: int | None = None
    stored: bool | None = None
    reason: str | None = None


class _Event(Schema):
    seq: int
    call_id: str


class CaptionEvent(_Event):
    type: Literal["caption"]
    data: Caption


class SuggestionEvent(_Event):
    type: Literal["suggestion"]
    data: Suggestion


class LanguageEvent(_Event):
    type: Literal["language"]
    data: LanguageDecision


class SentimentEvent(_Event):
    type: Literal["sentiment"]
    data: Sentiment


class SummaryEvent(_Event):
    type: Literal["summary"]
    data: dict[str, Any]


class StatusEvent(_Event):
    type: Literal["status"]
    data: Status


class AlertEvent(_Event):
    type: Literal["alert"]
    data: Alert


Event = Annotated[
    CaptionEvent | SuggestionEvent | LanguageEvent | SentimentEvent | SummaryEvent | StatusEvent | AlertEvent,
    Field(discriminator="type"),
]


# -- the floor (GET /floor) --------------------------------------------------------------------
class FloorSuggestion(Schema):
    suggestion_id: str
    article_id: str | None
    title: str | None
    abstained: bool
    confidence: Confidence | None
    feedback: FeedbackKind | None


class FloorCall(Schema):
    """One live call on the supervisor floor."""

    call_id: str
    agent: str | None
    queue: str | None
    started_at: str | None
    duration: float
    language: str | None
    sentiment: str | None
    sentiment_trend: SentimentTrend | None
    latest_need: str | None
    alerts: list[Alert]
    last_suggestion: FloorSuggestion | None = None


class Floor(Schema):
    """`GET /floor`, `assistant floor --json`: every live call the asker may see (agents: their own)."""

    calls: list[FloorCall]


class Events(Schema):
    events: list[Event]
    cursor: int


# -- knowledge ---------------------------------------------------------------------------------
class SearchHit(Schema):
    """`passage` is what matched; `say` and `answer` are the article's line to read out and its
    whole answer, `confidence` the word for `score`."""

    id: str
    title: str
    score: float
    passage: str | None
    confidence: Confidence | None = None
    say: str | None = None
    answer: str | None = None
    owner: str | None
    effective: str | None
    review_by: str | None
    program: str | None
    language: str | None


class SearchResults(Schema):
    query: str
    abstained: bool
    reason: str | None
    hits: list[SearchHit]


class ArticleUsage(Schema):
    suggested: int
    helpful: int
    not_helpful: int
    used: int
    last_suggested: str | None


class PendingDraft(Schema):
    """An edit of a published article that waits to be published; `article` holds its fields."""

    author: str
    created_at: str | None
    article: dict[str, Any]


class ArticleEvent(Schema):
    at: str
    user: str
    action: str


class Article(Schema):
    id: str
    title: str
    program: str | None
    language: str
    status: ArticleStatus
    owner: str | None
    effective: str | None
    review_by: str | None
    questions: list[str]
    body: str
    tags: list[str]
    translation_of: str | None
    grade: float | None
    pending_draft: PendingDraft | None
    usage: ArticleUsage
    say: str | None = None


class IndexReport(Schema):
    articles: int
    added: int
    changed: int
    removed: int
    embedded: int
    index_kind: str
    head: bool
    problems: int


class Gap(Schema):
    query: str
    count: int
    last_seen: str | None
    topic_id: str | None
    topic_label: str | None


# -- digests -----------------------------------------------------------------------------------
class DigestTopic(Schema):
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
    quotes: list[str]
    article_id: str | None
    rank: int
    call_ids: list[str]
    escalations: int
    knowledge_gap_flag: bool


class LanguageEquity(Schema):
    language: str
    calls: int
    no_answer_share: float
    resolved_share: float


class MissingNativeArticle(Schema):
    language: str
    article_id: str
    title: str
    calls: int


class Digest(Schema):
    """A day's digest: `GET /digests/{date}`, `assistant digest --json`."""

    date: str
    method_version: str
    total_calls: int
    no_answer_share: float | None
    languages: dict[str, int]
    skipped_calls: int
    unassigned_calls: int
    escalated_calls: int
    topics: list[DigestTopic]
    language_equity: list[LanguageEquity]
    missing_native_articles: list[MissingNativeArticle]
    emerging: list[str]
    knowledge_gaps: list[str]
    digest_text: str


# -- batch -------------------------------------------------------------------------------------
# -- identity and administration ----------------------------------------------------------------
class SessionIssued(Schema):
    token: str
    user: str
    roles: list[str]
    expires_at: str


class SignedOut(Schema):
    signed_out: bool


class Me(Schema):
    name: str
    kind: str
    roles: list[str]
    scopes: list[str]


class User(Schema):
    name: str
    roles: list[str]
    source: str
    locked: bool
    locked_until: str | None
    created_at: str


class UserAdded(Schema):
    name: str
    roles: list[str]
    password: str | None


class UserRemoved(Schema):
    name: str
    removed: bool


class UserRoles(Schema):
    name: str
    roles: list[str]


class UserUnlocked(Schema):
    name: str
    sources: int


class PasswordSet(Schema):
    name: str
    password_set: bool


class ApiKey(Schema):
    name: str
    scopes: list[str]
    created_at: str
    created_by: str


class KeyCreated(Schema):
    name: str
    key: str
    scopes: list[str]
    client_secret: str | None = None


class KeyRevoked(Schema):
    name: str
    revoked: bool


class AuditLine(Schema):
    id: int
    at: str
    user: str
    action: str
    target: str
    source: str = ""  # the client address of a sign-in line


class AuditPage(Schema):
    """A page of the audit view: lines newest first, how many match in all, the next page's
    cursor (`before`), and the latest alert lines to show above them."""

    total: int
    next_before: int | None
    lines: list[AuditLine]
    alerts: list[AuditLine]


class RetentionReport(Schema):
    dry_run: bool
    transcript_days: int
    audit_days: int
    calls_deleted: int
    call_ids: list[str]
    digest_topics_stripped: int
    audit_lines_deleted: int


class ProcessedSuggestion(Schema):
    suggestion_id: str | None
    article_id: str | None
    title: str | None
    score: float | None
    utterance: str | None
    abstained: bool


class ProcessedCall(Schema):
    """`POST /calls/process` and `assistant process-call --json`."""

    call_id: str
    language: str | None
    duration: float | None
    reason: str | None
    outcome: str | None
    sentiment: dict[str, Any]
    suggestions: list[ProcessedSuggestion]
    summary_text: str | None


class CallDeleted(Schema):
    call_id: str
    deleted: bool


class IngestReport(Schema):
    stored: int
    skipped: int
    failed: int
    duplicates: int
    errors: list[tuple[str, str]]
    notes: list[tuple[str, str]]


@functools.cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def parse(model: Any, data: Any) -> Any:
    """`data` checked against `model` (a model, or `list[Model]`) and returned as plain JSON
    (dicts and lists), the form the console works with. Raises `pydantic.ValidationError` on a
    shape that does not match."""
    adapter = _adapter(model)
    return adapter.dump_python(adapter.validate_python(data), mode="json")


# What each method of the console's client returns (the HTTP client and the fake alike). Methods
# that return a tuple or text check their parts themselves.
CLIENT_RETURNS: dict[str, Any] = {
    "health": Health,
    "list_calls": list[CallRow],
    "get_call": CallDetail,
    "floor": Floor,
    "feedback": FeedbackSaved,
    "set_outcome": OutcomeSet,
    "set_language": LanguageSet,
    "search": SearchResults,
    "articles": list[Article],
    "create_article": Article,
    "save_article": Article,
    "set_article_status": Article,
    "rebuild_index": IndexReport,
    "knowledge_gaps": list[Gap],
    "digest_dates": list[str],
    "digest": Digest | None,
    "build_digest": Digest,
    "ingest": IngestReport,
    "sign_in": SessionIssued,
    "sign_in_oidc": SessionIssued,
    "users": list[User],
    "audit": list[AuditLine],
    "audit_page": AuditPage,
}
