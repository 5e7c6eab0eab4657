"""All DuckDB I/O of the product: every function takes a connection (`open_db(path)`, or in tests
`duckdb.connect(":memory:")` followed by `migrate(con)`).

- One writer per file: DuckDB lets one process open a file read-write, and no other process may
  open it at all meanwhile. The service owns the file; `open_db` raises InputError naming the
  process that holds the lock, so the CLI and console can say "use the running service".
- Threads: a DuckDB connection is not safe to share across threads, and a transaction belongs to
  the connection. A service that shares one connection gives each thread its own
  `con.cursor()` (a cursor is a connection to the same database) and passes that here.
- Timestamps are stored as naive `TIMESTAMP` in UTC. Inputs may be aware (converted to UTC) or
  naive (taken as UTC); every datetime returned is timezone-aware UTC.
- Writes that replace something (`save_call`, `save_digest`) run in one transaction: they never
  leave duplicates or a half-written call, and on error the previous version stays. A committed
  call survives a killed process (DuckDB's write-ahead log).
- Text arrives redacted; redaction is the pipeline's job (ARCHITECTURE invariant 3).

Modules: `schema` (open, migrations, helpers), `records` (dataclasses), `calls` (calls, feedback, ingest
errors), `digest` (digests, topic registry, per-day reads, article usage, open questions), `identity` (users,
sessions, API keys, the audit log), `articles` (drafts waiting to be published, article history); this module
re-exports their API (`from assistant import storage`).

May import: privacy (the gate runs on every stored text) and the basics. Imported by every domain package.
"""

from __future__ import annotations

from assistant.storage.articles import (
    ArticleDraft,
    ArticleEvent,
    add_article_event,
    article_history,
    close_draft,
    get_draft,
    list_drafts,
    save_draft,
)
from assistant.storage.calls import (
    add_feedback,
    add_to_summary,
    call_exists,
    encode_cursor,
    get_call,
    list_calls,
    list_calls_page,
    list_ingest_errors,
    record_ingest_error,
    save_call,
    suggestion_id,
)
from assistant.storage.digest import (
    ArticleUsage,
    DigestTopic,
    OpenQuestion,
    RegisteredTopic,
    StoredDigest,
    article_usage,
    calls_for_day,
    digest_calls,
    get_digest,
    list_digest_dates,
    open_questions,
    registered_topics,
    save_digest,
)
from assistant.storage.erase import calls_started_before, delete_call, delete_calls, strip_digest_quotes
from assistant.storage.identity import (
    AuditFilter,
    AuditLine,
    AuditPage,
    StoredKey,
    StoredUser,
    Throttle,
    add_audit,
    audit_page,
    clear_throttle,
    delete_audit_before,
    delete_expired_sessions,
    delete_key,
    delete_session,
    delete_user,
    delete_user_sessions,
    get_key,
    get_throttle,
    get_user,
    key_by_hash,
    list_audit,
    list_keys,
    list_users,
    locks_by_name,
    prune_throttle,
    save_key,
    save_session,
    save_throttle,
    save_user,
    session_user,
    set_user_password,
    set_user_roles,
)
from assistant.storage.records import (
    CallRecord,
    Feedback,
    IngestError,
    StoredCall,
    StoredSuggestion,
    StoredUtterance,
    SuggestionRecord,
    UtteranceRecord,
)
from assistant.storage.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Connection,
    connect,
    migrate,
    open_db,
    schema_version,
    transaction,
)
from assistant.vocab import CHANNELS, FEEDBACK_KINDS, OUTCOMES, SPEAKERS, STATUSES

__all__ = [
    "ArticleDraft",
    "ArticleEvent",
    "add_article_event",
    "article_history",
    "close_draft",
    "get_draft",
    "list_drafts",
    "save_draft",
    "AuditFilter",
    "AuditLine",
    "AuditPage",
    "StoredKey",
    "StoredUser",
    "add_audit",
    "delete_audit_before",
    "delete_expired_sessions",
    "delete_key",
    "delete_session",
    "delete_user",
    "get_key",
    "get_user",
    "key_by_hash",
    "list_audit",
    "list_keys",
    "list_users",
    "Throttle",
    "audit_page",
    "clear_throttle",
    "delete_user_sessions",
    "get_throttle",
    "locks_by_name",
    "prune_throttle",
    "save_throttle",
    "save_key",
    "save_session",
    "save_user",
    "session_user",
    "set_user_password",
    "set_user_roles",
    "calls_started_before",
    "strip_digest_quotes",
    "transaction",
    "CHANNELS",
    "FEEDBACK_KINDS",
    "MIGRATIONS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "SPEAKERS",
    "STATUSES",
    "ArticleUsage",
    "CallRecord",
    "Connection",
    "DigestTopic",
    "Feedback",
    "IngestError",
    "OpenQuestion",
    "RegisteredTopic",
    "StoredCall",
    "StoredDigest",
    "StoredSuggestion",
    "StoredUtterance",
    "SuggestionRecord",
    "UtteranceRecord",
    "add_feedback",
    "add_to_summary",
    "article_usage",
    "call_exists",
    "calls_for_day",
    "digest_calls",
    "connect",
    "delete_call",
    "delete_calls",
    "encode_cursor",
    "get_call",
    "get_digest",
    "list_calls",
    "list_calls_page",
    "list_digest_dates",
    "list_ingest_errors",
    "migrate",
    "open_db",
    "open_questions",
    "record_ingest_error",
    "registered_topics",
    "save_call",
    "save_digest",
    "schema_version",
    "suggestion_id",
]
