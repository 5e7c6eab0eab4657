"""Batch ingest: a folder of recordings, or a JSONL file of already-transcribed calls.

Resumable: each call is stored in its own transaction, and a re-run skips calls already stored
complete, so a batch killed part-way (even with kill -9) finishes on the next run with no duplicate
and no lost call. A bad file or line is recorded in `ingest_errors` and the batch goes on.

Call ids: a recording's file name (without extension) or a JSONL line's `call_id`, unless another
source already holds that id (a `call001.wav` in two folders, a call id repeated in a file with
other content): then the id gets a short hash of its source (`call001-1a2b3c4d`), so no call is
dropped. Each call's source (its resolved path, or `jsonl:<hash of the line's content>`) is
stored with it: the same source again is "already stored", whether on a re-run or repeated in one
batch (reported as a duplicate). Texts are bounded (`max_utterance_chars`, `max_call_chars`); a
call cut to fit is stored with the cut noted in its `error`, and the run prints it.

JSONL, one call per line:
    {"call_id": "c1", "started_at": "2026-11-21T14:03:00Z", "channel": "chat",
     "utterances": [{"speaker": "caller", "text": "...", "start": 0.0, "end": 3.2}, ...]}

Run from the command line with `assistant ingest` or `python pipelines/ingest.py` (`assistant.batch.run`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant import storage
from assistant.calls.processor import CallProcessor, RawUtterance
from assistant.errors import AssistantError, InputError, surrogate_path
from assistant.privacy.gate import safe_id, safe_source
from assistant.quality.after_call import after_call

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".webm", ".opus"}
CHANNELS = {"voice", "chat", "email"}
SPEAKERS = {"agent", "caller", "unknown"}


@dataclass
class IngestReport:
    """Counts for the closing line. `errors` and `notes` hold (source, message) pairs; `notes` are
    calls stored with a remark (text truncated) or skipped as duplicates within the batch."""

    stored: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    notes: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        line = f"ingest: {self.stored} stored, {self.skipped} already stored, {self.failed} failed"
        return line + (f", {self.duplicates} duplicate(s) in this batch" if self.duplicates else "")

    @property
    def exit_code(self) -> int:
        """1 when nothing could be ingested at all, else 0."""
        return 1 if self.failed and not self.stored and not self.skipped else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "skipped": self.skipped,
            "failed": self.failed,
            "duplicates": self.duplicates,
            "errors": [list(e) for e in self.errors],
            "notes": [list(n) for n in self.notes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IngestReport:
        return cls(
            stored=data["stored"],
            skipped=data["skipped"],
            failed=data["failed"],
            errors=[(a, b) for a, b in data.get("errors", [])],
            duplicates=data.get("duplicates", 0),
            notes=[(a, b) for a, b in data.get("notes", [])],
        )


@dataclass(frozen=True)
class Job:
    """One call to ingest: an audio file, or parsed JSONL data. `fingerprint` identifies its
    source (resolved path, or `jsonl:` + a hash of the line's content) and is stored as the
    call's source."""

    call_id: str
    source: str
    path: Path | None = None
    data: dict[str, Any] | None = None
    fingerprint: str = ""


def short_hash(text: str, length: int = 8) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def derived_call_id(base: str, fingerprint: str) -> str:
    """The id a call gets when `base` is taken by another source: `base-<hash of the source>`.
    The one place a call id is derived from its source (privacy rules for ids meet here)."""
    return f"{base}-{short_hash(fingerprint)}"


def same_source(stored: str | None, fingerprint: str) -> bool:
    """Whether a stored call's source is this job's (older versions stored JSONL calls as
    "jsonl" and recordings under the path as given)."""

    if stored is None:
        return False
    if stored in (fingerprint, safe_source(fingerprint)) or (
        stored == "jsonl" and fingerprint.startswith("jsonl:")
    ):
        return True
    if fingerprint.startswith("jsonl:") or stored.startswith(("jsonl", "live", "demo:")):
        return False
    try:
        return Path(stored).resolve() == Path(fingerprint)
    except OSError:
        return False


class CallIds:
    """Gives each job its call id: its own id unless a different source holds it (stored, or
    earlier in this batch), else the derived one. `claim` returns the id and whether the same
    source already holds it (already stored / duplicate)."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.batch: dict[str, tuple[str, str]] = {}  # call id -> (fingerprint, job source) this run

    def _holder(self, call_id: str) -> str | None:

        if call_id in self.batch:
            return self.batch[call_id][0]
        found = self.con.execute(
            "SELECT source FROM calls WHERE call_id = ? AND status = 'complete'", [safe_id(call_id)]
        ).fetchone()
        return None if found is None else str(found[0])

    def claim(self, job: Job) -> tuple[str, str | None]:
        """(call id, None) for a new call; (call id, where) when this source is already held:
        where is the earlier job of this batch, or "" for a call stored before this run."""
        for candidate in (job.call_id, derived_call_id(job.call_id, job.fingerprint)):
            holder = self._holder(candidate)
            if holder is None or same_source(holder, job.fingerprint):
                earlier = self.batch.get(candidate)
                self.batch[candidate] = (job.fingerprint, job.source)
                if holder is None:
                    return candidate, None
                return candidate, earlier[1] if earlier else ""

        raise InputError(f"{job.source}: call ids {job.call_id!r} and its derived id are both taken")


def _parse_time(value: Any, where: str) -> datetime:

    if value is None:
        raise InputError(f"{where}: started_at is required")
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: started_at {value!r} is not an ISO 8601 time") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def parse_jsonl_call(line: str, where: str) -> dict[str, Any]:
    """Validate one JSONL line; InputError names the line and the field."""

    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: a line must be a JSON object")
    bad = surrogate_path(data)
    if bad:
        raise InputError(f"{where}: {bad} contains an invalid character (a lone UTF-16 surrogate)")
    call_id = data.get("call_id")
    if not isinstance(call_id, str) or not call_id.strip():
        raise InputError(f"{where}: call_id is required (a non-empty string)")
    channel = data.get("channel", "voice")
    if channel not in CHANNELS:
        raise InputError(f"{where}: channel must be one of {sorted(CHANNELS)}, not {channel!r}")
    utterances = data.get("utterances")
    if not isinstance(utterances, list) or not utterances:
        raise InputError(f"{where}: utterances must be a non-empty list")
    for n, u in enumerate(utterances):
        if not isinstance(u, dict) or not isinstance(u.get("text"), str):
            raise InputError(f"{where}: utterances[{n}] needs a text")
        if u.get("speaker", "unknown") not in SPEAKERS:
            raise InputError(f"{where}: utterances[{n}].speaker must be agent, caller or unknown")
    fingerprint = "jsonl:" + short_hash(json.dumps(data, sort_keys=True, ensure_ascii=True), 16)
    return {
        **data,
        "channel": channel,
        "started_at": _parse_time(data.get("started_at"), where),
        "_fingerprint": fingerprint,
    }


def jobs(source: Path, report: IngestReport) -> Iterator[Job]:
    """The calls under `source`; unreadable JSONL lines go into the report."""

    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
            yield Job(path.stem, str(path), path=path, fingerprint=str(path.resolve()))
        return
    if not source.is_file():
        raise InputError(f"no such file or folder: {source}")
    if source.suffix.lower() in AUDIO_SUFFIXES:
        yield Job(source.stem, str(source), path=source, fingerprint=str(source.resolve()))
        return
    with source.open(encoding="utf-8", errors="replace") as fh:
        yield from jsonl_jobs(fh, str(source), report)


def jsonl_jobs(lines: Iterable[str], name: str, report: IngestReport) -> Iterator[Job]:
    """One job per valid JSONL line; a bad line is counted and reported as `name:line`."""

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            data = parse_jsonl_call(line, where)
        except InputError as exc:
            report.failed += 1
            report.errors.append((where, str(exc)))
            continue
        yield Job(data["call_id"], where, data=data, fingerprint=data["_fingerprint"])


def ingest(
    source: str | Path,
    db: str | Path | None = None,
    *,
    con: Any = None,
    processor: Any = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Ingest every call under `source` into the database (`con`, e.g. the service's cursor, or
    the file `db` opened here); returns the counts."""

    report = IngestReport()
    own = con is None
    con = storage.open_db(db) if own else con
    processor = processor or CallProcessor()
    try:
        todo = list(jobs(Path(source), report))
        for err_source, message in report.errors:
            storage.record_ingest_error(con, err_source, message)
        total = len(todo)
        ids = CallIds(con)
        for n, job in enumerate(todo, start=1):
            try:
                call_id, held = ids.claim(job)
                if held is not None:
                    note_held(report, job, call_id, held)
                    continue
                if job.path is not None:
                    record = processor.process_file(job.path, call_id=call_id)
                else:
                    assert job.data is not None
                    utterances = [
                        RawUtterance(u.get("speaker", "unknown"), u.get("start"), u.get("end"), u["text"])
                        for u in job.data["utterances"]
                    ]
                    record = processor.process_utterances(
                        call_id,
                        job.data["started_at"],
                        utterances,
                        channel=job.data["channel"],
                        source=job.fingerprint,
                    )
                store(con, report, job, replace(record, source=job.fingerprint))
                if progress:
                    progress(f"[{n}/{total}] {safe_id(call_id)}: stored")
            except AssistantError as exc:
                report.failed += 1
                report.errors.append((job.source, str(exc)))
                storage.record_ingest_error(con, job.source, str(exc))
                if progress:
                    progress(f"[{n}/{total}] {safe_id(job.call_id)}: FAILED {exc}")
    finally:
        if own:
            con.close()
    return report


def note_held(report: IngestReport, job: Job, call_id: str, earlier: str) -> None:
    """Count a job whose source is already held: stored before (skipped) or earlier in this batch."""
    if earlier:
        report.duplicates += 1
        report.notes.append(
            (job.source, f"the same call as {earlier} (call {call_id}); skipped as a duplicate")
        )
    else:
        report.skipped += 1


def store(con: Any, report: IngestReport, job: Job, record: Any) -> None:
    """Save one processed call; a call cut to fit the text limits is noted in the report."""

    storage.save_call(con, record)
    after_call(con, record.call_id, speech=record.speech)  # metrics, scorecards, wrap-up (issue 35)
    report.stored += 1
    if record.error:
        report.notes.append((job.source, f"call {record.call_id} stored; {record.error}"))
