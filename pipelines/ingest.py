"""Batch ingest: a folder of recordings, or a JSONL file of already-transcribed calls.

Resumable: each call is stored in its own transaction, and a re-run skips calls already stored
complete, so a batch killed part-way (even with kill -9) finishes on the next run with no duplicate
and no lost call. A bad file or line is recorded in `ingest_errors` and the batch goes on.

JSONL, one call per line:
    {"call_id": "c1", "started_at": "2026-11-21T14:03:00Z", "channel": "chat",
     "utterances": [{"speaker": "caller", "text": "...", "start": 0.0, "end": 3.2}, ...]}

Run: python pipelines/ingest.py DIR|FILE.jsonl [--db PATH]   (same as `assistant ingest`)
     add --engine ray [--address auto|ray://HOST:10001] [--workers N] to run on Ray (docs/scale.md)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".webm", ".opus"}
CHANNELS = {"voice", "chat", "email"}
SPEAKERS = {"agent", "caller", "unknown"}


@dataclass
class IngestReport:
    """Counts for the closing line. `errors` holds (source, message) pairs."""

    stored: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        return f"ingest: {self.stored} stored, {self.skipped} already stored, {self.failed} failed"


@dataclass(frozen=True)
class Job:
    """One call to ingest: an audio file, or parsed JSONL data."""

    call_id: str
    source: str
    path: Path | None = None
    data: dict[str, Any] | None = None


def _parse_time(value: Any, where: str) -> datetime:
    from assistant.errors import InputError

    if value is None:
        raise InputError(f"{where}: started_at is required")
    try:
        ts = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: started_at {value!r} is not an ISO 8601 time") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def parse_jsonl_call(line: str, where: str) -> dict[str, Any]:
    """Validate one JSONL line; InputError names the line and the field."""
    from assistant.errors import InputError

    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: a line must be a JSON object")
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
    return {**data, "channel": channel, "started_at": _parse_time(data.get("started_at"), where)}


def jobs(source: Path, report: IngestReport) -> Iterator[Job]:
    """The calls under `source`; unreadable JSONL lines go into the report."""
    from assistant.errors import InputError

    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
            yield Job(path.stem, str(path), path=path)
        return
    if not source.is_file():
        raise InputError(f"no such file or folder: {source}")
    if source.suffix.lower() in AUDIO_SUFFIXES:
        yield Job(source.stem, str(source), path=source)
        return
    with source.open(encoding="utf-8", errors="replace") as fh:
        yield from jsonl_jobs(fh, str(source), report)


def jsonl_jobs(lines: Iterable[str], name: str, report: IngestReport) -> Iterator[Job]:
    """One job per valid JSONL line; a bad line is counted and reported as `name:line`."""
    from assistant.errors import InputError

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
        yield Job(data["call_id"], where, data=data)


def ingest(
    source: str | Path,
    db: str | Path | None = None,
    *,
    processor: Any = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Ingest every call under `source` into the database; returns the counts."""
    from assistant import storage
    from assistant.calls import CallProcessor, RawUtterance
    from assistant.errors import AssistantError
    from assistant.privacy import safe_id

    report = IngestReport()
    con = storage.open_db(db)
    processor = processor or CallProcessor()
    try:
        todo = list(jobs(Path(source), report))
        for err_source, message in report.errors:
            storage.record_ingest_error(con, err_source, message)
        total = len(todo)
        for n, job in enumerate(todo, start=1):
            if storage.call_exists(con, job.call_id):
                report.skipped += 1
                continue
            try:
                if job.path is not None:
                    record = processor.process_file(job.path, call_id=job.call_id)
                else:
                    assert job.data is not None
                    utterances = [
                        RawUtterance(u.get("speaker", "unknown"), u.get("start"), u.get("end"), u["text"])
                        for u in job.data["utterances"]
                    ]
                    record = processor.process_utterances(
                        job.call_id,
                        job.data["started_at"],
                        utterances,
                        channel=job.data["channel"],
                        source="jsonl",
                    )
                storage.save_call(con, record)
                report.stored += 1
                if progress:
                    progress(f"[{n}/{total}] {safe_id(job.call_id)}: stored")
            except AssistantError as exc:
                report.failed += 1
                report.errors.append((job.source, str(exc)))
                storage.record_ingest_error(con, job.source, str(exc))
                if progress:
                    progress(f"[{n}/{total}] {safe_id(job.call_id)}: FAILED {exc}")
    finally:
        con.close()
    return report


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine, --address, --workers (shared with `assistant ingest`)."""
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (default); ray: Ray actors, this process stores (docs/scale.md)",
    )
    parser.add_argument(
        "--address",
        help="Ray cluster: auto (started here with 'ray start') or ray://HOST:10001 "
        "(default: a private Ray on this machine)",
    )
    parser.add_argument("--workers", type=int, help="Ray actors (default: one per cluster CPU)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ingest recordings or a JSONL file of transcripts.")
    parser.add_argument("source", help="a folder of recordings, one recording, or a .jsonl file")
    parser.add_argument("--db", help="DuckDB file (default: the db setting)")
    add_engine_arguments(parser)
    args = parser.parse_args(argv)
    from assistant.errors import AssistantError
    from assistant.privacy import gate_message

    def progress(msg: str) -> None:
        print(gate_message(msg), file=sys.stderr, flush=True)  # messages may echo the input

    try:
        if args.engine == "ray":
            from assistant.ray_engine import RayOptions, ingest_ray

            options = RayOptions(address=args.address, workers=args.workers)
            report = ingest_ray(args.source, args.db, options=options, progress=progress)
        elif args.address or args.workers is not None:
            parser.error("--address and --workers need --engine ray")
        else:
            report = ingest(args.source, args.db, progress=progress)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for where, message in report.errors:
        line = f"failed: {message}" if message.startswith(where) else f"failed: {where}: {message}"
        print(gate_message(line), file=sys.stderr)
    print(report.line())
    return 1 if report.failed and not report.stored and not report.skipped else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
