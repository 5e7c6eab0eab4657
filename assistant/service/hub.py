"""The service's live-call hub: active calls, the model workers, and the database.

Scheduling: `workers` threads (the `live_workers` setting; 2 on a 2-core box) do all model work
(Whisper, embeddings, translation) from one priority queue. They share one loaded Whisper, which
CTranslate2 runs as that many replicas over the same weights (`inter_threads`), so two decodes of
different calls run at once. One worker alone left cores idle: at 8 calls it used 1.4 of 2 cores
and fell behind, because much of a live job is not a wide matrix product (decoder steps of one
token, feature extraction, redaction, search, the DuckDB write), and those do not use the second
core.

Finals (priority 0) and call ends (1) always run before partials (2); a partial is dropped when its
track has already ended or the call's finals are behind (`LiveOptions.max_partial_lag`). Finals
are never dropped. Within a priority the workers are fair between calls (start-time fair
queueing): each job is tagged max(virtual time, the call's previous tag) + 1, and the virtual time
follows the served tags, so a call that floods the queue waits behind its own backlog instead of
ahead of everyone else's. A call runs one job at a time (its finals must reach the privacy gate's
capture window in order, and its state is not shared between threads): a worker takes the first
job in that order whose call is not running on another worker.

Batching (`batch`, the `live_batch` setting): a worker that takes a final also takes up to
`batch - 1` more queued finals of other calls, of similar length, and decodes them as one
Whisper batch (`LiveCall.decode_finals`); then each call's final goes through its own steps in
turn. With 8 calls in step, batches of 4 cut the decode time per final from 0.82-0.85 s to
0.49-0.60 s and the final caption's p95 from 4.8-4.9 s to 3.8-4.1 s (`bench/live.py`, 120 s runs).
Partials are not batched: when they were, the time saved went to more partials, and finals waited
longer.

Database: the hub owns one DuckDB connection (ARCHITECTURE invariant 2) and hands each thread its
own cursor. The worker stores the growing call (status live) after every final, so a crash keeps
every final; on start, calls still marked live are stored as interrupted.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
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
from assistant.live.session import ArticleCatalog, Job, LiveCall, LiveOptions, StageClock
from assistant.live.steps import live_record
from assistant.privacy.gate import safe_id
from assistant.quality.after_call import after_call
from assistant.storage import CallRecord, SuggestionRecord, UtteranceRecord

log = logging.getLogger("assistant.service.app")
PRIORITY = {"final": 0, "end": 1, "partial": 2}
WORKER_NICE = 5  # model work yields the cores (about 3:1) to the event loop reading the media
INTERRUPTED = "interrupted: the service stopped during the call; finals up to then are kept"


def _size(job: Job) -> int:
    """Samples of a final's audio."""
    return len(job.audio) if job.audio is not None else 0


class CallLimitReached(InputError):
    """More concurrent calls than `max_calls`."""


def yield_to_io(nice: int = WORKER_NICE) -> None:
    """Lower this thread's CPU priority by `nice` (Linux keeps it per thread; threads it starts
    inherit it, CTranslate2's replica and OpenMP threads among them when it loads a model).

    The event loop reads every call's media (800 frames a second at 8 calls) and answers the
    clients' keepalive pings; when decodes and other work filled both cores, it fell behind
    reading and clients dropped their calls. Elsewhere (no per-thread priority) this does nothing.
    """
    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass


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
        max_calls: int = 8,
        catalog: ArticleCatalog | None = None,
        workers: int = 2,
        batch: int = 1,
        batch_wait: float = 0.0,
        alert_rules: AlertRules | None = None,
        webhook_url: str | None = None,
    ) -> None:
        """`batch`: finals of up to this many calls are decoded together (`next_jobs`);
        `batch_wait`: how long a worker holding a final waits for finals about to be cut.
        `alert_rules` and `webhook_url` (empty: none): from the settings when None."""
        self.processor = processor
        self.alert_rules = alert_rules or AlertRules.from_config()
        url = config.get().alert_webhook_url if webhook_url is None else webhook_url
        self.webhook_url = check_webhook_url(url) if url else ""
        self.db_path = db_path
        self.options = options or LiveOptions()
        self.max_calls = max_calls
        self.catalog = catalog
        self.workers = max(1, workers)
        self.batch = max(1, batch)
        self.batch_wait = max(0.0, batch_wait)
        self.calls: dict[str, LiveCall] = {}
        self.recent: OrderedDict[str, LiveCall] = OrderedDict()  # ended calls keep their events a while
        self._queue: list[tuple[int, int, int, Job | None]] = []  # a heap: (priority, tag, seq, job)
        self._ready = threading.Condition()  # guards the queue, _running and _active
        self._running: dict[str, str] = {}  # call id -> name of the worker running its job
        self._active = 0  # jobs taken and not yet done
        self._seq = itertools.count()
        self._vtime = 0  # fair queueing: the tag of the last job served
        self._tags: dict[str, int] = {}  # call id -> tag of its last queued job
        self._lock = threading.Lock()
        self._store_lock = threading.Lock()  # the workers' DuckDB writes, one at a time
        self._local = threading.local()
        self._con: Any = None
        self._threads: list[threading.Thread] = []
        self.served: dict[str, int] = {}  # worker name -> jobs run (health, tests)
        self.clock = StageClock()  # seconds of model work per stage (health, bench/live.py)
        self.started = time.monotonic()
        self.interrupted_on_start: list[str] = []
        self.errors = 0
        # The optional LLM summary (an outside endpoint, up to its own 30 s timeout) runs here.
        self._summaries = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant-llm-summary")
        # Alerts go to the webhook off the event loop and the model worker, one at a time, in order.
        self._hooks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assistant-alert-webhook")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, *, warm: bool = False) -> None:
        """Open the database and start the workers; `warm`: the first worker loads Whisper, the
        embedder and the index (so their threads inherit its lower priority) and this returns
        once they are loaded, raising what loading raised."""

        self._con = storage.open_db(self.db_path)
        if self.catalog is None:
            self.catalog = ArticleCatalog.load()
        self.interrupted_on_start = self.mark_interrupted()
        warmed = threading.Event() if warm else None
        failed: list[BaseException] = []
        for n in range(self.workers):
            name = f"assistant-model-worker-{n}"
            self.served[name] = 0
            args = (warmed if n == 0 else None, failed)
            self._threads.append(threading.Thread(target=self._work, args=args, name=name, daemon=True))
        for thread in self._threads:
            thread.start()
        if warmed is not None:
            warmed.wait()
            if failed:
                raise failed[0]

    def close(self, timeout: float = 30.0) -> None:
        """Finish active calls as interrupted (after their queued finals), then stop the workers."""
        for call in list(self.calls.values()):
            self.end_call(call, interrupted=True)
        self.drain(timeout)
        with self._ready:
            for _ in self._threads:
                heapq.heappush(self._queue, (9, 0, next(self._seq), None))
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
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
        endpoint_silence: float | None = None,
    ) -> LiveCall:
        """A new live call; `agent`, `queue` and `language` come from the telephony platform's
        routing (the language is the caller's, as the agent would set it); `endpoint_silence`:
        this call's own (`LiveOptions`), else the service's."""
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
                replace(self.options, endpoint_silence=endpoint_silence)
                if endpoint_silence
                else self.options,
                started_at=started_at or datetime.now(UTC),
                source=source,
                on_final=self._store_live,
                agent_id=agent,
                queue=queue,
                alert_rules=self.alert_rules,
                on_alert=self._alert,
                clock=self.clock,
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

    def cut(self, call: LiveCall) -> None:
        """End the open utterances now (the platform paused the stream or changed its language)."""
        if call.state == "live":
            for job in call.flush():
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
        """Wait until the queue is empty and every worker idle (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._ready.wait(left)
        return True

    # -- workers -------------------------------------------------------------------------------
    def _submit(self, job: Job) -> None:
        with self._ready:
            tag = max(self._vtime, self._tags.get(job.call.call_id, 0)) + 1
            self._tags[job.call.call_id] = tag
            heapq.heappush(self._queue, (PRIORITY[job.kind], tag, next(self._seq), job))
            # every waiter: a worker gathering a batch waits on this condition as idle ones do
            self._ready.notify_all()

    def next_job(self) -> Job | None:
        """The next job in fair order whose call no other worker is running (blocks until there
        is one); None stops the worker. The caller runs the job, then calls `done(job)`."""
        return self.next_jobs(1)[0]

    def next_jobs(self, limit: int) -> list[Job | None]:
        """`next_job`, and when that is a final, up to `limit - 1` more finals of other calls
        that no worker is running, in fair order, to decode in one batch: queued ones, then
        (`batch_wait`) ones about to be cut. A final joins only when its audio is at most twice as
        long as the shortest in the batch, and the longest at most twice as long as it (the batch
        shares one encoder window, the longest's). The caller runs them, then calls `done` for
        each."""
        with self._ready:
            while True:
                entry = self._first_runnable()
                if entry is not None:
                    break
                self._ready.wait()
            taken = [entry]
            self._take(entry)
            first = entry[3]
            if first is not None and first.kind == "final" and limit > 1:
                self._take_more_finals(taken, limit)
                self._gather(taken, limit)
            return [job for _, _, _, job in taken]

    def _take(self, entry: tuple[int, int, int, Job | None]) -> None:
        """Mark a job as running (called with `_ready` held)."""
        self._active += 1
        job = entry[3]
        if job is not None:
            self._vtime = max(self._vtime, entry[1])
            self._running[job.call.call_id] = threading.current_thread().name

    def _gather(self, taken: list[tuple[int, int, int, Job | None]], limit: int) -> None:
        """Wait up to `batch_wait` for the finals of other calls whose utterance is in its
        hangover, and add them to `taken` as they are queued (called with `_ready` held).

        Calls that speak in step end their turns within a fraction of a second of each other.
        Without the wait, the first final went alone to each worker, and the others queued behind
        those decodes: in `bench/live.py` with 8 calls, single decodes of 0.7-1.0 s, then
        batches of 4 and 2, the last final of a turn done ~3 s after the first was cut. A call
        whose hangover ends later than `batch_wait` is not waited for, and a lone call never
        waits."""
        if self.batch_wait <= 0:
            return
        deadline = time.monotonic() + self.batch_wait
        while len(taken) < limit:
            due = self._finals_due({e[3].call.call_id for e in taken if e[3] is not None})
            left = deadline - time.monotonic()
            if not due or left <= 0:
                return
            self._ready.wait(min(left, max(due) + 0.05))
            self._take_more_finals(taken, limit)

    def _finals_due(self, besides: set[str] | frozenset[str] = frozenset()) -> list[float]:
        """Seconds until each live call not in `besides` cuts a final, for those that will
        within `batch_wait`."""
        calls = [c for c in list(self.calls.values()) if c.call_id not in besides]
        return [d for c in calls if (d := c.final_due()) is not None and d <= self.batch_wait]

    def _take_more_finals(self, taken: list[tuple[int, int, int, Job | None]], limit: int) -> None:
        """Take queued finals to batch with those `taken`, up to `limit` in all, and add them to
        `taken` (called with `_ready` held)."""
        jobs = [e[3] for e in taken if e[3] is not None]
        calls = {job.call.call_id for job in jobs}
        sizes = [_size(job) for job in jobs]
        found: list[tuple[int, int, int, Job | None]] = []
        skipped = []
        while self._queue and len(taken) + len(found) < limit and self._queue[0][0] == PRIORITY["final"]:
            entry = heapq.heappop(self._queue)
            job = entry[3]
            assert job is not None  # the stop sentinel has its own priority
            size = _size(job)
            lo, hi = min(*sizes, size), max(*sizes, size)
            if job.call.call_id in self._running or job.call.call_id in calls or hi > 2 * max(lo, 1):
                skipped.append(entry)
                continue
            calls.add(job.call.call_id)
            sizes.append(size)
            found.append(entry)
        for entry in skipped:
            heapq.heappush(self._queue, entry)
        for entry in found:
            self._take(entry)
        taken.extend(found)

    def _first_runnable(self) -> tuple[int, int, int, Job | None] | None:
        skipped = []
        found = None
        while self._queue:
            entry = heapq.heappop(self._queue)
            job = entry[3]
            if job is None or job.call.call_id not in self._running:
                found = entry
                break
            skipped.append(entry)  # its call is running elsewhere: keep its place
        for entry in skipped:
            heapq.heappush(self._queue, entry)
        return found

    def done(self, job: Job | None) -> None:
        """A job taken with `next_job` has finished: its call may run its next job."""
        with self._ready:
            self._active -= 1
            if job is not None:
                self._running.pop(job.call.call_id, None)
            self._ready.notify_all()

    def _work(self, warmed: threading.Event | None = None, failed: list[BaseException] | None = None) -> None:
        """A worker: lower its priority, warm the engines when asked, then run jobs until stopped."""
        yield_to_io()
        if warmed is not None:
            try:
                _ = self.processor.transcriber
                self.processor.search_engine()
            except Exception as exc:  # start() re-raises it on the service's thread
                if failed is not None:
                    failed.append(exc)
            finally:
                warmed.set()
        name = threading.current_thread().name
        while True:
            jobs = self.next_jobs(self.batch)
            if jobs[0] is None:
                self.done(None)
                return
            batch = [job for job in jobs if job is not None]
            decoded: list[Any] = [None] * len(batch)
            if len(batch) > 1:  # finals of several calls
                try:
                    decoded = LiveCall.decode_finals(batch)
                except Exception:  # each final then decodes on its own, below
                    log.exception("batched decode of %d finals failed", len(batch))
            for job, transcript in zip(batch, decoded, strict=True):
                try:
                    self._run(job, transcript)
                except Exception:  # one bad utterance must not stop every call
                    self.errors += 1
                    log.exception("live job %s for call %s failed", job.kind, job.call.call_id)
                finally:
                    self.served[name] = self.served.get(name, 0) + 1
                    self.done(job)

    def _run(self, job: Job, decoded: Any = None) -> None:
        call = job.call
        if job.kind == "partial":
            if self._finals_first():
                call.tracks[job.speaker].partial_pending = False  # the next one is asked for later
                self.clock.add("partial_given_way", 0.0)
                return
            call.run_partial(job)
        elif job.kind == "final":
            call.run_final(job, decoded)
        else:
            self._finish(call, interrupted=job.speaker == "interrupted")

    def _finals_first(self) -> bool:
        """Whether a partial about to start gives way to finals: one is queued, or a call is
        about to cut one (within `batch_wait`). A partial that starts just before a turn's finals
        holds a worker for 0.4-0.7 s at 8 calls, and one decoding beside a batch of finals slows
        it; a dropped partial is asked for again after `partial_interval` more speech. With 8
        calls in step (`bench/live.py`, 60 s) the final caption's p95 went from 3.80 to 3.18 s."""
        with self._ready:
            if any(entry[0] == PRIORITY["final"] for entry in self._queue):
                return True
        return self.batch_wait > 0 and bool(self._finals_due())

    def _store_live(self, call: LiveCall) -> None:

        began = time.perf_counter()
        with self._store_lock:
            storage.save_call(self.cursor(), live_record(call, "live"))
        self.clock.add("store", time.perf_counter() - began)

    def _finish(self, call: LiveCall, *, interrupted: bool) -> None:

        stored = True
        began = time.perf_counter()
        try:
            record = call.finish("interrupted" if interrupted else "complete")
            if interrupted:
                record = replace(record, error=INTERRUPTED)
            # A stream that carried no speech (empty, malformed, silence) is not a call anyone can
            # read or rate: nothing is stored, and the status event says so.
            stored = bool(record.utterances)
            if stored:
                with self._store_lock:
                    storage.save_call(self.cursor(), record)
                # The same call-end step as batch, off the model worker (scoring embeds the call).
                self._summaries.submit(self._after_call, record.call_id)
            if record.summary_json and stored:
                call.emit("summary", dict(record.summary_json))
            if stored and config.get().llm_url:
                # Up to 30 s on an outside endpoint: never on the model worker, which serves every call.
                self._summaries.submit(self._add_llm_summary, call, record)
        finally:
            self.clock.add("end", time.perf_counter() - began)
            call.state = "interrupted" if interrupted else "ended"
            status: dict[str, Any] = {"state": call.state, "lag": 0.0}
            if not stored:
                status.update(stored=False, reason="nothing was heard; the call is not stored")
            call.emit("status", status)
            with self._ready:
                self._tags.pop(call.call_id, None)
            with self._lock:
                self.calls.pop(call.call_id, None)
                self.recent[call.call_id] = call
                while len(self.recent) > 50:
                    self.recent.popitem(last=False)

    def _after_call(self, call_id: str) -> None:
        try:
            after_call(self.cursor(), call_id)
        except Exception:  # the call is stored; its quality review can be run again (`qa score`)
            log.exception("after-call work for %s failed", call_id)

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
