"""The live service's model workers (issue 20): two workers decode at once, finals go before
partials, each call runs one job at a time and in order. Fakes only; no timed assertions (the
barriers' timeouts only turn a hang into a failure)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import SCRIPT, FakeIndex, FakeTranscriber, ZeroEmbedder, fake_processor, tone

from assistant import config
from assistant.calls.processor import CallOptions, CallProcessor
from assistant.errors import ModelNotAvailable
from assistant.live.session import ArticleCatalog, Job, LiveCall
from assistant.service.hub import CallHub, yield_to_io
from assistant.speech import transcription

AUDIO = np.zeros(160, np.float32)


def call(call_id: str) -> SimpleNamespace:
    return SimpleNamespace(call_id=call_id)


def test_a_final_of_call_b_is_not_stuck_behind_partials_of_call_a(tmp_path: Path) -> None:
    h = CallHub(fake_processor(), str(tmp_path / "q.duckdb"), workers=2)
    a, b = call("A"), call("B")
    for _ in range(5):
        h._submit(Job("partial", a, "caller"))  # type: ignore[arg-type]
    running = h.next_job()  # one worker decodes A's first partial
    assert running is not None and running.call is a
    h._submit(Job("final", b, "caller", AUDIO))  # type: ignore[arg-type]
    taken = h.next_job()  # the other worker
    assert taken is not None and (taken.call, taken.kind) == (b, "final")
    h.done(taken)
    # While A's partial runs, a free worker passes over A's queued partials to B's work ...
    h._submit(Job("partial", b, "caller"))  # type: ignore[arg-type]
    taken = h.next_job()
    assert taken is not None and (taken.call, taken.kind) == (b, "partial")
    h.done(taken)
    # ... and once it is done, A's next partial is the next job.
    h.done(running)
    taken = h.next_job()
    assert taken is not None and (taken.call, taken.kind) == (a, "partial")


class RecordingHub(CallHub):
    """A hub whose jobs only record which worker ran them, when, and for which call."""

    def __init__(self, tmp_path: Path, workers: int) -> None:
        super().__init__(
            fake_processor(), str(tmp_path / "w.duckdb"), workers=workers, catalog=ArticleCatalog()
        )
        self.meet = threading.Barrier(2, timeout=30)  # the first jobs of A and B wait for each other
        self.lock = threading.Lock()
        self.running: dict[str, int] = {}
        self.overlaps: list[str] = []  # calls seen running two jobs at once
        self.order: dict[str, list[int]] = {}
        self.threads: set[str] = set()

    def _run(self, job: Job, decoded: object = None) -> None:
        cid = job.call.call_id
        with self.lock:
            self.running[cid] = self.running.get(cid, 0) + 1
            if self.running[cid] > 1:
                self.overlaps.append(cid)
            self.threads.add(threading.current_thread().name)
            first = cid not in self.order
            self.order.setdefault(cid, []).append(int(job.start))
        try:
            if first:
                self.meet.wait()  # passes only if both calls' first jobs run at the same time
        finally:
            with self.lock:
                self.running[cid] -= 1


def test_two_workers_decode_two_calls_at_once_and_each_call_in_order(tmp_path: Path) -> None:
    h = RecordingHub(tmp_path, workers=2)
    h.start()
    try:
        a, b = call("A"), call("B")
        for n in range(6):
            for c in (a, b):
                h._submit(Job("final", c, "caller", AUDIO, start=float(n)))  # type: ignore[arg-type]
        assert h.drain(60)
    finally:
        h.close()
    assert h.errors == 0  # the barrier passed: A's and B's first finals ran at the same time
    assert len(h.threads) == 2 and all(n > 0 for n in h.served.values())
    assert h.overlaps == []  # never two jobs of one call at once
    assert h.order == {"A": list(range(6)), "B": list(range(6))}  # each call's finals in order


def test_one_worker_still_serves_everything(tmp_path: Path) -> None:
    h = RecordingHub(tmp_path, workers=1)
    h.meet = threading.Barrier(1)
    h.start()
    try:
        for n in range(3):
            h._submit(Job("final", call("A"), "caller", AUDIO, start=float(n)))  # type: ignore[arg-type]
        assert h.drain(60)
    finally:
        h.close()
    assert h.order == {"A": [0, 1, 2]} and list(h.served.values()) == [3]


def test_whisper_is_loaded_with_one_replica_per_live_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import faster_whisper

    seen: dict[str, object] = {}

    class Recorder:
        def __init__(self, path: str, **kwargs: object) -> None:
            seen.update(kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", Recorder)
    monkeypatch.setattr(transcription.models, "resolve_whisper", lambda name: "/models/whisper-" + name)
    monkeypatch.setenv("ASSISTANT_LIVE_WORKERS", "3")
    monkeypatch.setenv("ASSISTANT_THREADS", "2")
    config.reset()
    monkeypatch.setattr(transcription, "_cache", {})
    try:
        engine = transcription.load_transcriber("faster-whisper", "replica-test")
    finally:
        config.reset()
    assert seen["num_workers"] == 3 and seen["cpu_threads"] == 2
    assert isinstance(engine, transcription.FasterWhisperTranscriber) and engine.workers == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_workers_yield_the_cores_to_the_event_loop_and_their_threads_inherit_it() -> None:
    import os

    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: dict[str, int] = {}

    def worker() -> None:
        before = nice()
        yield_to_io(3)
        seen["worker"] = nice() - before
        child = threading.Thread(target=lambda: seen.__setitem__("child", nice() - before))
        child.start()
        child.join()

    main_before = nice()
    if main_before > 16:
        pytest.skip("this process already runs at nearly the lowest priority")
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"worker": 3, "child": 3}
    assert nice() == main_before  # the calling thread keeps its priority


class LoadingProcessor(CallProcessor):
    """Records which thread loads the engines; `fail` makes loading Whisper fail."""

    def __init__(self, fail: bool = False) -> None:
        fake = fake_processor()
        super().__init__(fake.options, transcriber=None, embedder=fake._embedder, index=fake._index)
        self.fail = fail
        self.loaded_on: list[str] = []

    @property
    def transcriber(self) -> object:
        self.loaded_on.append(threading.current_thread().name)
        if self.fail:
            raise ModelNotAvailable("no Whisper here", hint="install it")
        return fake_processor().transcriber


def test_warm_start_loads_the_engines_on_a_worker_and_reports_a_failure(tmp_path: Path) -> None:
    processor = LoadingProcessor()
    h = CallHub(processor, str(tmp_path / "warm.duckdb"), workers=2, catalog=ArticleCatalog())
    h.start(warm=True)
    h.close()
    assert processor.loaded_on == ["assistant-model-worker-0"]
    broken = CallHub(LoadingProcessor(fail=True), str(tmp_path / "b.duckdb"), catalog=ArticleCatalog())
    with pytest.raises(ModelNotAvailable):
        broken.start(warm=True)
    broken.close()


# -- finals of several calls in one batch ---------------------------------------------------------


def audio(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


def test_a_worker_takes_queued_finals_of_other_calls_as_one_batch(tmp_path: Path) -> None:
    h = CallHub(fake_processor(), str(tmp_path / "b.duckdb"), workers=2, batch=4)
    a, b, c, d, e, f = (call(x) for x in "ABCDEF")
    h._submit(Job("final", a, "caller", audio(3.0), start=0.0))  # type: ignore[arg-type]
    h._submit(Job("final", a, "caller", audio(3.0), start=1.0))  # type: ignore[arg-type]  # A's next final
    h._submit(Job("partial", d, "caller"))  # type: ignore[arg-type]
    h._submit(Job("final", b, "agent", audio(2.0)))  # type: ignore[arg-type]
    h._submit(Job("final", e, "caller", audio(9.0)))  # type: ignore[arg-type]  # 3x longer than A's
    h._submit(Job("final", c, "caller", audio(4.0)))  # type: ignore[arg-type]
    h._submit(Job("final", f, "caller", audio(2.5)))  # type: ignore[arg-type]

    first = h.next_jobs(4)
    # A's first final, then other calls' finals in fair order: not A's second (a call's finals
    # run in order, one at a time), not E's (too long to share A's window), not D's partial
    assert [(j.call.call_id, j.kind) for j in first if j] == [
        ("A", "final"),
        ("B", "final"),
        ("C", "final"),
        ("F", "final"),
    ]
    second = h.next_jobs(4)  # the other worker: E's final; A's second waits for A's first
    assert [(j.call.call_id, j.start) for j in second if j] == [("E", 0.0)]
    for job in first + second:
        h.done(job)
    third = h.next_jobs(4)
    assert [(j.call.call_id, j.start) for j in third if j] == [("A", 1.0)]
    h.done(third[0])
    assert [(j.call.call_id, j.kind) for j in h.next_jobs(4) if j] == [("D", "partial")]


def due_call(call_id: str, due: float | None) -> SimpleNamespace:
    """A live call whose next final is `due` seconds away (None: none is)."""
    return SimpleNamespace(call_id=call_id, final_due=lambda: due)


def test_a_worker_waits_briefly_for_finals_other_calls_are_about_to_cut(tmp_path: Path) -> None:
    h = CallHub(fake_processor(), str(tmp_path / "w.duckdb"), workers=2, batch=4, batch_wait=5.0)
    a, b, c = due_call("A", None), due_call("B", 0.05), due_call("C", None)
    h.calls.update({"A": a, "B": b, "C": c})  # type: ignore[dict-item]
    h._submit(Job("final", a, "caller", audio(3.0)))  # type: ignore[arg-type]

    def b_ends() -> None:
        time.sleep(0.1)
        h._submit(Job("final", b, "caller", audio(3.0)))  # type: ignore[arg-type]
        b.final_due = lambda: None  # B's hangover is over: its final is cut and queued

    threading.Thread(target=b_ends).start()
    taken = h.next_jobs(4)
    # A's final waited for B's, and not for C (which is not ending an utterance)
    assert [j.call.call_id for j in taken if j] == ["A", "B"]
    for job in taken:
        h.done(job)

    # no other call in a hangover: no wait; a call due later than batch_wait is not waited for
    h2 = CallHub(fake_processor(), str(tmp_path / "w2.duckdb"), workers=2, batch=4, batch_wait=0.2)
    d, e = due_call("D", None), due_call("E", 0.5)
    h2.calls.update({"D": d, "E": e})  # type: ignore[dict-item]
    h2._submit(Job("final", d, "caller", audio(3.0)))  # type: ignore[arg-type]
    assert [j.call.call_id for j in h2.next_jobs(4) if j] == ["D"]
    h2._submit(Job("final", e, "caller", audio(3.0)))  # type: ignore[arg-type]
    assert [j.call.call_id for j in h2.next_jobs(4) if j] == ["E"]


def test_a_gathering_worker_holds_its_call_so_no_other_worker_runs_it(tmp_path: Path) -> None:
    """While a worker waits to fill a batch, the calls already in it count as running: another
    worker must not take their next job (a call's jobs run one at a time, in order)."""
    h = CallHub(fake_processor(), str(tmp_path / "g.duckdb"), workers=2, batch=4, batch_wait=5.0)
    a, b = due_call("A", None), due_call("B", 0.05)
    h.calls.update({"A": a, "B": b})  # type: ignore[dict-item]
    h._submit(Job("final", a, "caller", audio(3.0)))  # type: ignore[arg-type]
    got: list[list[Job | None]] = []
    worker = threading.Thread(target=lambda: got.append(h.next_jobs(4)))
    worker.start()
    time.sleep(0.1)  # the worker holds A's final and waits for B's
    h._submit(Job("partial", a, "agent"))  # type: ignore[arg-type]
    h._submit(Job("final", b, "caller", audio(3.0)))  # type: ignore[arg-type]
    b.final_due = lambda: None
    worker.join(10)
    assert [j.call.call_id for j in got[0] if j] == ["A", "B"]
    assert h._first_runnable() is None  # A's partial waits for A's final to be done
    for job in got[0]:
        h.done(job)
    assert [(j.call.call_id, j.kind) for j in h.next_jobs(4) if j] == [("A", "partial")]


def test_a_partial_gives_way_to_finals_queued_or_about_to_be_cut(tmp_path: Path) -> None:
    h = CallHub(fake_processor(), str(tmp_path / "p.duckdb"), workers=2, batch=4, batch_wait=0.25)
    ran: list[str] = []

    def live(call_id: str, due: float | None) -> SimpleNamespace:
        track = SimpleNamespace(partial_pending=True)
        return SimpleNamespace(
            call_id=call_id,
            final_due=lambda: due,
            tracks={"caller": track},
            run_partial=lambda job: ran.append(job.call.call_id),
        )

    a, b = live("A", None), live("B", None)
    h.calls.update({"A": a, "B": b})  # type: ignore[dict-item]
    h._run(Job("partial", a, "caller"))  # type: ignore[arg-type]
    assert ran == ["A"]  # nothing waiting: the partial runs
    h._submit(Job("final", b, "caller", audio(2.0)))  # type: ignore[arg-type]
    h._run(Job("partial", a, "caller"))  # type: ignore[arg-type]
    assert ran == ["A"] and a.tracks["caller"].partial_pending is False  # dropped, asked again later
    h.next_jobs(1)  # B's final taken
    c = live("C", 0.1)  # C's utterance ends in 0.1 s
    h.calls["C"] = c  # type: ignore[assignment]
    h._run(Job("partial", a, "caller"))  # type: ignore[arg-type]
    assert ran == ["A"]
    c.final_due = lambda: 0.5  # later than batch_wait: no reason to wait
    h._run(Job("partial", a, "caller"))  # type: ignore[arg-type]
    assert ran == ["A", "A"]


def test_batch_of_one_leaves_every_job_alone(tmp_path: Path) -> None:
    h = CallHub(fake_processor(), str(tmp_path / "b1.duckdb"), workers=1, batch=1)
    for name in "AB":
        h._submit(Job("final", call(name), "caller", audio(2.0)))  # type: ignore[arg-type]
    assert [j.call.call_id for j in h.next_jobs(h.batch) if j] == ["A"]


class BatchingTranscriber(FakeTranscriber):
    """The fake transcriber with a batch entry point that records each batch's size."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def transcribe_many(self, clips, options, speakers):  # noqa: ANN001, ANN201
        self.batches.append(len(clips))
        return [
            self.transcribe(c, o, s)
            for c, o, s in zip(reversed(clips), reversed(options), reversed(speakers), strict=True)
        ][::-1]


def test_a_batch_decode_gives_each_call_its_own_final(tmp_path: Path) -> None:
    engine = BatchingTranscriber()
    processor = CallProcessor(CallOptions(), transcriber=engine, embedder=ZeroEmbedder(), index=FakeIndex())
    calls = [LiveCall(f"call-{n}", processor, ArticleCatalog()) for n in range(3)]
    freqs = (400, 800, 600)  # each call says a different scripted sentence
    jobs = [
        Job("final", c, SCRIPT[f][0], tone(f, SCRIPT[f][2]), start=0.0, end=SCRIPT[f][2])
        for c, f in zip(calls, freqs, strict=True)
    ]
    for c in calls:
        c.pending_finals.append(time.monotonic())  # as when the call cut the final (`LiveCall.feed`)
    decoded = LiveCall.decode_finals(jobs)
    assert engine.batches == [3] and len(decoded) == 3
    for job, transcript in zip(jobs, decoded, strict=True):
        job.call.run_final(job, transcript)
    heard = [[r.text for r in c.records] for c in calls]
    assert heard[0] == [SCRIPT[400][1]]
    assert heard[1] == ["It is [CARD]."]  # the card number call is redacted like any final
    assert heard[2] == [SCRIPT[600][1]]
    assert calls[0].clock.snapshot()["final_decode"]["jobs"] == 3
