"""The service's live-call hub: active calls, the one model worker, and the database.

Scheduling: one worker thread does all model work (Whisper, embeddings, translation) from a
priority queue, so two cores are not split between competing decodes. Finals (priority 0) and
call ends (1) always run before partials (2); a partial is dropped when its track has already
ended or the call's finals are behind (`LiveOptions.max_partial_lag`). Finals are never dropped.
Within a priority the worker is fair between calls (start-time fair queueing): each job is tagged
max(virtual time, the call's previous tag) + 1, and the virtual time follows the served tags, so
a call that floods the queue waits behind its own backlog instead of ahead of everyone else's.

Database: the hub owns one DuckDB connection (ARCHITECTURE invariant 2) and hands each thread its
own cursor. The worker stores the growing call (status live) after every final, so a crash keeps
every final; on start, calls still marked live are stored as interrupted.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from assistant import config, storage
from assistant.calls.processor import CallProcessor, with_llm_summary
from assistant.errors import InputError
from assistant.live.alerts import AlertRules, check_webhook_url, post_alert
from assistant.live.session import ArticleCatalog, Job, LiveCall, LiveOptions
from assistant.live.steps import live_record
from assistant.privacy.gate import safe_id
from assistant.storage import CallRecord, SuggestionRecord, UtteranceRecord

log = logging.getLogger("assistant.service.app")
PRIORITY = {"final": 0, "end": 1, "partial": 2}
INTERRUPTED = "interrupted: the service stopped during the call; finals up to then are kept"


class CallLimitReached(InputError):
    """More concurrent calls than `max_calls`."""


def stored_status(call: Any) -> str:
    """live, complete, interrupted or failed (older files kept interrupted calls as failed + error)."""
    if call.status == "failed" and (call.error or "").startswith("interrupted"):
        return "interrupted"
    return str(call.status)


def record_from_stored(call: Any, **changes: Any) -> Any:
    """A `CallRecord` equal to a stored call (to re-save it with some fields changed)."""

    utterances = tuple(
        UtteranceRecord(
            u.speaker,
            u.start,
            u.end,
            u.text,
            u.language,
            u.translation,
            u.translation_engine,
            u.machine_translated,
            u.sentiment,
            u.sentiment_label,
        )
        for u in call.utterances
    )
    suggestions = tuple(
        SuggestionRecord(
            s.query_text or "",
            s.article_id,
            s.article_title,
            s.article_version,
            s.score,
            s.abstained,
            s.utterance_idx,
            s.created_at,
        )
        for s in sorted(call.suggestions, key=lambda s: int(s.suggestion_id.rsplit(":", 1)[1]))
    )
    fields = {
        name: getattr(call, name)
        for name in (
            "call_id",
            "started_at",
            "ended_at",
            "channel",
            "source",
            "language",
            "language_probability",
            "duration",
            "outcome",
            "reason",
            "summary_text",
            "summary_json",
            "sentiment_start",
            "sentiment_end",
            "sentiment_overall",
            "agent_talk_share",
            "status",
            "error",
            "agent_id",
            "queue",
            "alerts",
        )
    }
    return CallRecord(**{**fields, "utterances": utterances, "suggestions": suggestions, **changes})


class CallHub:
    """Active calls, the model worker and the database connection of one service process."""

    def __init__(
        self,
        processor: CallProcessor,
        db_path: str,
        *,
        options: LiveOptions | None = None,
        max_calls: int = 4,
        catalog: ArticleCatalog | None = None,
        alert_rules: AlertRules | None = None,
        webhook_url: str | None = None,
    ) -> None:
        """`alert_rules` and `webhook_url` (empty: none): from the settings when None."""
        self.processor = processor
        self.alert_rules = alert_rules or AlertRules.from_config()
        url = config.get().alert_webhook_url if webhook_url is None else webhook_url
        self.webhook_url = check_webhook_url(url) if url else ""
        self.db_path = db_path
        self.options = options or LiveOptions()
        self.max_calls = max_calls
        self.catalog = catalog
        self.calls: dict[str, LiveCall] = {}
        self.recent: OrderedDict[str, LiveCall] = OrderedDict()  # ended calls keep their events a while
        self._queue: queue.PriorityQueue[tuple[int, int, int, Job | None]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._vtime = 0  # fair queueing: the tag of the last job served
        self._tags: dict[str, int] = {}  # call id -> tag of its last queued job
        self._lock = threading.Lock()
        self._local = threading.local()
        self._con: Any = None
        self._worker: threading.Thread | None = None
        self._busy = threading.Event()
        self.started = time.monotonic()
        self.interrupted_on_start: list[str] = []
        self.errors = 0
        # The optional LLM summary (an outside endpoint, up to its own 30 s timeout) runs here.
        self._summaries = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant-llm-summary")
        # Alerts go to the webhook off the event loop and the model worker, one at a time, in order.
        self._hooks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant-alert-webhook")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:

        self._con = storage.open_db(self.db_path)
        if self.catalog is None:
            self.catalog = ArticleCatalog.load()
        self.interrupted_on_start = self.mark_interrupted()
        self._worker = threading.Thread(target=self._work, name="assistant-model-worker", daemon=True)
        self._worker.start()

    def close(self, timeout: float = 30.0) -> None:
        """Finish active calls as interrupted (after their queued finals), then stop the worker."""
        for call in list(self.calls.values()):
            self.end_call(call, interrupted=True)
        self.drain(timeout)
        self._queue.put((9, 0, next(self._seq), None))
        if self._worker is not None:
            self._worker.join(timeout)
        self._summaries.shutdown(wait=True, cancel_futures=True)
        self._hooks.shutdown(wait=True, cancel_futures=False)
        if self._con is not None:
            self._con.close()
            self._con = None

    def cursor(self) -> Any:
        """This thread's cursor on the service's one connection."""
        if self._con is None:
            raise InputError("the database is not open (service not started)")
        cur = getattr(self._local, "cursor", None)
        if cur is None or getattr(self._local, "owner", None) is not self._con:
            cur = self._local.cursor = self._con.cursor()
            self._local.owner = self._con
        return cur

    def mark_interrupted(self) -> list[str]:
        """Calls left live by a previous process become interrupted, their finals kept."""

        con = self.cursor()
        found = storage.list_calls(con, status="live", limit=10_000)
        for row in found:
            call = storage.get_call(con, row.call_id)
            if call is not None:
                storage.save_call(con, record_from_stored(call, status="interrupted", error=INTERRUPTED))
        return [c.call_id for c in found]

    # -- calls ---------------------------------------------------------------------------------
    def open_call(
        self,
        call_id: str,
        *,
        started_at: datetime | None = None,
        source: str = "live",
        agent: str | None = None,
        queue: str | None = None,
        language: str | None = None,
    ) -> LiveCall:
        """A new live call; `agent`, `queue` and `language` come from the telephony platform's
        routing (the language is the caller's, as the agent would set it)."""
        call_id = safe_id(call_id)  # never kept, logged or shown raw
        with self._lock:
            if call_id in self.calls:
                raise InputError(f"call {call_id!r} is already streaming")
            if len(self.calls) >= self.max_calls:
                raise CallLimitReached(f"too many concurrent calls (max {self.max_calls}); try again later")
            if storage.call_exists(self.cursor(), call_id, complete_only=False):
                raise InputError(f"call {call_id!r} is already stored; use a new call id")
            assert self.catalog is not None
            call = LiveCall(
                call_id,
                self.processor,
                self.catalog,
                self.options,
                started_at=started_at or datetime.now(UTC),
                source=source,
                on_final=self._store_live,
                agent_id=agent,
                queue=queue,
                alert_rules=self.alert_rules,
                on_alert=self._alert,
            )
            self.calls[call_id] = call
            self.recent.pop(call_id, None)
        call.emit("status", {"state": "live", "lag": 0.0})
        if language:
            call.language.override(language)
            call.emit("language", {"language": language, "probability": 1.0, "overridden": True})
        return call

    def _alert(self, call: LiveCall, item: dict[str, Any]) -> None:
        if self.webhook_url:
            body = {"call_id": call.call_id, "agent": call.agent_id, "queue": call.queue, **item}
            self._hooks.submit(post_alert, self.webhook_url, body)

    def feed(self, call: LiveCall, speaker: str, samples: Any) -> None:
        for job in call.feed(speaker, samples):
            self._submit(job)

    def end_call(self, call: LiveCall, *, interrupted: bool = False) -> None:
        """Finals for open utterances, then the call's end, in the worker's order."""
        with self._lock:
            if self.calls.get(call.call_id) is not call or call.state != "live":
                return
            call.state = "ending"
        for job in call.flush():
            self._submit(job)
        self._submit(Job("end", call, speaker="interrupted" if interrupted else ""))

    def get(self, call_id: str) -> LiveCall | None:

        call_id = safe_id(call_id)
        with self._lock:
            return self.calls.get(call_id) or self.recent.get(call_id)

    def live_calls(self) -> list[LiveCall]:
        """The calls streaming now (a copy)."""
        with self._lock:
            return list(self.calls.values())

    def lags(self) -> dict[str, float]:
        with self._lock:
            calls = list(self.calls.values())
        return {c.call_id: c.lag for c in calls}

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the queue is empty and the worker idle (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._busy.is_set():
                return True
            time.sleep(0.01)
        return False

    # -- worker --------------------------------------------------------------------------------
    def _submit(self, job: Job) -> None:
        with self._lock:
            tag = max(self._vtime, self._tags.get(job.call.call_id, 0)) + 1
            self._tags[job.call.call_id] = tag
            self._queue.put((PRIORITY[job.kind], tag, next(self._seq), job))

    def next_job(self) -> Job | None:
        """The next job in fair order (blocks); None stops the worker."""
        _, tag, _, job = self._queue.get()
        with self._lock:
            self._vtime = max(self._vtime, tag)
        return job

    def _work(self) -> None:
        while True:
            job = self.next_job()
            if job is None:
                return
            self._busy.set()
            try:
                self._run(job)
            except Exception:  # one bad utterance must not stop every call
                self.errors += 1
                log.exception("live job %s for call %s failed", job.kind, job.call.call_id)
            finally:
                self._busy.clear()

    def _run(self, job: Job) -> None:
        call = job.call
        if job.kind == "partial":
            call.run_partial(job)
        elif job.kind == "final":
            call.run_final(job)
        else:
            self._finish(call, interrupted=job.speaker == "interrupted")

    def _store_live(self, call: LiveCall) -> None:

        storage.save_call(self.cursor(), live_record(call, "live"))

    def _finish(self, call: LiveCall, *, interrupted: bool) -> None:

        stored = True
        try:
            record = call.finish("interrupted" if interrupted else "complete")
            if interrupted:
                record = replace(record, error=INTERRUPTED)
            # A stream that carried no speech (empty, malformed, silence) is not a call anyone can
            # read or rate: nothing is stored, and the status event says so.
            stored = bool(record.utterances)
            if stored:
                storage.save_call(self.cursor(), record)
            if record.summary_json and stored:
                call.emit("summary", dict(record.summary_json))
            if stored and config.get().llm_url:
                # Up to 30 s on an outside endpoint: never on the model worker, which serves every call.
                self._summaries.submit(self._add_llm_summary, call, record)
        finally:
            call.state = "interrupted" if interrupted else "ended"
            status: dict[str, Any] = {"state": call.state, "lag": 0.0}
            if not stored:
                status.update(stored=False, reason="nothing was heard; the call is not stored")
            call.emit("status", status)
            with self._lock:
                self._tags.pop(call.call_id, None)
                self.calls.pop(call.call_id, None)
                self.recent[call.call_id] = call
                while len(self.recent) > 50:
                    self.recent.popitem(last=False)

    def _add_llm_summary(self, call: LiveCall, record: Any) -> None:
        try:
            updated = with_llm_summary(record)
            if updated is record or updated.summary_json is None:
                return
            generated = updated.summary_json["llm_summary"]
            if storage.add_to_summary(self.cursor(), record.call_id, "llm_summary", generated):
                call.emit("summary", dict(updated.summary_json))
        except Exception:  # the extractive summary stands on its own
            log.exception("LLM summary for call %s failed", record.call_id)

    # -- model maintenance ---------------------------------------------------------------------
    def swap_index(self, index: Any) -> None:
        """Use a rebuilt index for the searches that follow."""
        embedder, _ = self.processor.search_engine()
        self.processor = CallProcessor(
            self.processor.options,
            transcriber=self.processor._transcriber,
            embedder=embedder,
            index=index,
            translator=self.processor._translator,
        )
        with self._lock:
            for call in self.calls.values():
                call.processor = self.processor

    def reload_catalog(self) -> None:
        self.catalog = ArticleCatalog.load()
        with self._lock:
            for call in self.calls.values():
                call.catalog = self.catalog
