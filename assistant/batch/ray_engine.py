"""Batch ingest on a Ray cluster: workers process calls, the driver stays the only DuckDB writer.

Each Ray actor builds one `CallProcessor` (Whisper, MiniLM and the index load once per actor) and
returns `CallRecord`s; the driver stores each record as it arrives, in its own transaction, so the
crash-safety of the local ingest holds: a re-run skips stored calls, a failed file is recorded
and the batch goes on, and the calls of a worker that dies are given to a fresh actor.

Audio must be reachable from every node: a path on a shared file system, or an fsspec URL
(`s3://`, `gs://`, `abfs://`, `http(s)://`, `file://`, ...) that workers read into a temp file.
Ray is an optional extra and is imported only here, only when asked for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from assistant import storage
from assistant.batch.ingest import (
    AUDIO_SUFFIXES,
    CallIds,
    IngestReport,
    Job,
    jobs,
    jsonl_jobs,
    note_held,
    store,
)
from assistant.calls.processor import CallProcessor, RawUtterance
from assistant.errors import AssistantError, InputError

if TYPE_CHECKING:
    from assistant.batch.ingest import IngestReport, Job

INSTALL_HINT = "pip install 'contact-assistant[ray]'"
CONNECT_TIMEOUT_SECONDS = 5.0
# In flight per actor: the second call waits in the actor's queue, so it never idles while the
# driver stores the first result.
IN_FLIGHT_PER_ACTOR = 2
# How often one call may lose its worker before it is recorded as failed (a file that kills
# every process that opens it must not loop forever).
MAX_ATTEMPTS = 3
# Settings and model switches the driver forwards to the workers' environment.
FORWARDED_ENV_PREFIXES = ("ASSISTANT_", "HF_", "TRANSFORMERS_", "ARGOS_")


@dataclass
class RayOptions:
    """Where and how wide to run.

    Attributes:
        address: None starts a private Ray on this machine; `auto` joins the cluster started
            here with `ray start`; `ray://HOST:10001` connects through the Ray Client.
        workers: actors to start (default: one per CPU of the cluster).
        connect_timeout: seconds to wait for a remote cluster before giving up.
    """

    address: str | None = None
    workers: int | None = None
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS


def import_ray() -> Any:
    """The `ray` module, or InputError naming the install command."""
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def is_url(source: str | Path) -> bool:
    """True for an fsspec URL (`s3://...`), False for a plain path."""
    return "://" in str(source)


# -- worker side ------------------------------------------------------------------------------
class CallWorker:
    """One actor's state: a CallProcessor that keeps its engines loaded between calls."""

    def __init__(self) -> None:

        self.processor = CallProcessor()

    def pid(self) -> int:
        return os.getpid()

    def warm_up(self) -> int:
        """Load Whisper, the embedder and the index now (building the index when stale)."""
        _ = self.processor.transcriber
        self.processor.search_engine()
        return os.getpid()

    def process(self, call_id: str, location: str, data: dict[str, Any] | None) -> tuple[str, Any]:
        """("ok", CallRecord) or ("error", message); never raises for a bad call."""

        try:
            if data is not None:
                return "ok", self._utterances(call_id, data)
            return "ok", self._audio(call_id, location)
        except AssistantError as exc:
            return "error", str(exc)
        except Exception as exc:  # a bug or a codec crash on one file must not end the batch
            return "error", f"{location}: {type(exc).__name__}: {exc}"

    def _utterances(self, call_id: str, data: dict[str, Any]) -> Any:

        utterances = [
            RawUtterance(u.get("speaker", "unknown"), u.get("start"), u.get("end"), u["text"])
            for u in data["utterances"]
        ]
        return self.processor.process_utterances(
            call_id, data["started_at"], utterances, channel=data["channel"], source="jsonl"
        )

    def _audio(self, call_id: str, location: str) -> Any:
        if not is_url(location) or location.startswith("file://"):
            path = Path(urlparse(location).path if is_url(location) else location)
            if not path.is_file():
                raise InputError(
                    f"{location}: not found on worker {socket.gethostname()} "
                    "(audio must be on a shared file system or at a URL every node can read)"
                )
            return self.processor.process_file(path, call_id=call_id)
        with _fetched(location) as (tmp, modified):
            record = self.processor.process_file(tmp, call_id=call_id, started_at=modified)
        return replace(record, source=location)


class _fetched:
    """Context manager: an fsspec URL copied to a local temp file, with its modification time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tmp: Path | None = None

    def __enter__(self) -> tuple[Path, datetime]:
        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(self.url)
            modified = _modified(fs, path)
            fd, name = tempfile.mkstemp(suffix=Path(path).suffix)
            self.tmp = Path(name)
            with os.fdopen(fd, "wb") as out, fs.open(path, "rb") as src:
                while block := src.read(1 << 20):
                    out.write(block)
        except (OSError, ValueError, ImportError) as exc:
            self.__exit__()  # __exit__ is not called when __enter__ raises: drop the partial copy here
            raise InputError(f"{self.url}: cannot read ({type(exc).__name__}: {exc})") from None
        return self.tmp, modified

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _modified(fs: Any, path: str) -> datetime:
    """The object's modification time (the call's start, as for local files), else now."""
    try:
        ts = fs.modified(path)
    except (NotImplementedError, OSError, AttributeError, ValueError):
        return datetime.now(UTC)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# -- driver side ------------------------------------------------------------------------------
def url_jobs(url: str, report: IngestReport) -> Iterator[Job]:
    """The calls under an fsspec URL: a folder of recordings, one recording, or a JSONL file."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
        if fs.isdir(root):
            paths = sorted(p for p in fs.find(root) if Path(p).suffix.lower() in AUDIO_SUFFIXES)
            for p in paths:
                full = fs.unstrip_protocol(p)
                yield Job(Path(p).stem, full, fingerprint=full)
            return
        if not fs.isfile(root):
            raise InputError(f"no such file or folder: {url}")
        if Path(root).suffix.lower() in AUDIO_SUFFIXES:
            yield Job(Path(root).stem, url, fingerprint=url)
            return
        with fs.open(root, "rt", encoding="utf-8", errors="replace") as fh:
            lines = list(fh)
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"{url}: cannot list or read ({type(exc).__name__}: {exc})") from None
    yield from jsonl_jobs(lines, url, report)


def _check_reachable(address: str, timeout: float) -> None:
    """Fail fast, naming the address, when a Ray Client endpoint does not answer."""
    parsed = urlparse(address)
    host, port = parsed.hostname, parsed.port or 10001
    if not host:
        raise InputError(f"Ray address {address!r} has no host (use ray://HOST:10001 or auto)")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise InputError(
            f"cannot reach the Ray cluster at {address} within {timeout:g} s ({exc.strerror or exc})"
        ) from None


def connect(ray: Any, options: RayOptions) -> bool:
    """Join or start Ray; True when this call started it (and so must shut it down)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = options.address
    if address and address.startswith("ray://"):
        _check_reachable(address, options.connect_timeout)
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "configure_logging": False}
    if address is None or address == "local":
        ray.init(
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            object_store_memory=256 * 1024 * 1024,
            **quiet,
        )
        return True
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
    return True


def _actor_env(cpus: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    # One actor per CPU slot: Whisper threads match the slot so actors do not fight for cores.
    env.setdefault("ASSISTANT_THREADS", str(cpus))
    env.setdefault("OMP_NUM_THREADS", str(cpus))
    return env


def _plan(ray: Any, workers: int | None) -> tuple[int, int]:
    """(actors, CPUs per actor) from --workers or the cluster's CPUs; an actor fits on one node."""
    total = int(ray.cluster_resources().get("CPU", 1)) or 1
    node_max = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")), default=1)
    n = workers or total
    cpus = max(1, min(total // n, node_max or 1))
    return n, cpus


class ActorPool:
    """Actors that each hold loaded engines; a dead actor is replaced by a fresh one."""

    def __init__(self, ray: Any, size: int, cpus: int) -> None:
        self.ray = ray
        self.cpus = cpus
        self.remote_cls = ray.remote(max_restarts=0, max_task_retries=0)(CallWorker)
        self.actors: list[Any] = []
        first = self._new()
        # With several actors, the first builds a missing or stale index alone (parallel builds into
        # one folder race); a single actor loads lazily, so a batch of bad files costs no model load.
        try:
            if size > 1:
                ray.get(first.warm_up.remote())
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, AssistantError):
                raise exc.cause from None
            raise
        self.actors.append(first)
        for _ in range(size - 1):
            self.actors.append(self._new())
        self.in_flight: dict[Any, int] = {a: 0 for a in self.actors}

    def _new(self) -> Any:
        return self.remote_cls.options(
            num_cpus=self.cpus, runtime_env={"env_vars": _actor_env(self.cpus)}
        ).remote()

    def free(self) -> Any | None:
        """An actor with room for one more call, least loaded first."""
        actor = min(self.actors, key=lambda a: self.in_flight[a], default=None)
        return actor if actor is not None and self.in_flight[actor] < IN_FLIGHT_PER_ACTOR else None

    def replace(self, dead: Any) -> None:
        """Swap a dead actor for a new one (its calls are resubmitted by the caller)."""
        if dead not in self.in_flight:
            return
        with contextlib.suppress(Exception):  # already gone: nothing to clean up
            self.ray.kill(dead, no_restart=True)
        i = self.actors.index(dead)
        del self.in_flight[dead]
        fresh = self._new()
        self.actors[i] = fresh
        self.in_flight[fresh] = 0

    def shutdown(self) -> None:
        for actor in self.actors:
            with contextlib.suppress(Exception):  # best effort at the end of a batch
                self.ray.kill(actor, no_restart=True)


def ingest_ray(
    source: str | Path,
    db: str | Path | None = None,
    *,
    options: RayOptions | None = None,
    progress: Callable[[str], None] | None = None,
    on_pool: Callable[[ActorPool], None] | None = None,
) -> IngestReport:
    """`pipelines.ingest.ingest` with the calls processed by Ray actors; returns the counts.

    `on_pool` is called once with the pool after each store (tests use it to kill a worker).
    """

    options = options or RayOptions()
    if options.workers is not None and options.workers < 1:
        raise InputError(f"--workers must be at least 1, not {options.workers}")
    ray = import_ray()
    report = IngestReport()
    todo = list(url_jobs(str(source), report) if is_url(source) else jobs(Path(source), report))
    con = storage.open_db(db)
    started = pool = None
    try:
        for err_source, message in report.errors:
            storage.record_ingest_error(con, err_source, message)
        queue: deque[tuple[int, Job]] = deque()
        ids = CallIds(con)
        for n, job in enumerate(todo, start=1):
            call_id, held = ids.claim(job)
            if held is not None:
                note_held(report, job, call_id, held)
            else:
                queue.append((n, replace(job, call_id=call_id)))
        if not queue:
            return report
        started = connect(ray, options)
        size, cpus = _plan(ray, options.workers)
        pool = ActorPool(ray, min(size, len(queue)), cpus)
        _run(ray, pool, queue, len(todo), con, report, progress, on_pool)
    finally:
        con.close()
        if pool is not None:
            pool.shutdown()
        if started:
            ray.shutdown()
    return report


def _run(
    ray: Any,
    pool: ActorPool,
    queue: deque[tuple[int, Job]],
    total: int,
    con: Any,
    report: IngestReport,
    progress: Callable[[str], None] | None,
    on_pool: Callable[[ActorPool], None] | None,
) -> None:
    """Submit, store as results arrive, resubmit the calls of a dead actor."""
    from ray.exceptions import RayActorError

    pending: dict[Any, tuple[int, Job, Any]] = {}
    attempts: dict[str, int] = {}

    def fail(n: int, job: Job, message: str) -> None:
        report.failed += 1
        report.errors.append((job.source, message))
        storage.record_ingest_error(con, job.source, message)
        if progress:
            progress(f"[{n}/{total}] {job.call_id}: FAILED {message}")

    while queue or pending:
        while queue and (actor := pool.free()) is not None:
            n, job = queue.popleft()
            location = str(job.path) if job.path is not None else job.source
            ref = actor.process.remote(job.call_id, location, job.data)
            pending[ref] = (n, job, actor)
            pool.in_flight[actor] += 1
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            n, job, actor = pending.pop(ref)
            if actor in pool.in_flight:
                pool.in_flight[actor] -= 1
            try:
                status, value = ray.get(ref)
            except RayActorError:
                attempts[job.call_id] = attempts.get(job.call_id, 0) + 1
                pool.replace(actor)
                if attempts[job.call_id] >= MAX_ATTEMPTS:
                    fail(n, job, f"{job.source}: its worker died {MAX_ATTEMPTS} times; giving up")
                else:
                    queue.appendleft((n, job))
                    if progress:
                        progress(f"[{n}/{total}] {job.call_id}: worker lost, retrying")
                continue
            if status == "error":
                fail(n, job, value)
                continue
            store(con, report, job, replace(value, source=job.fingerprint or value.source))
            if progress:
                progress(f"[{n}/{total}] {job.call_id}: stored")
            if on_pool:
                on_pool(pool)
