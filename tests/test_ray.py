"""Batch ingest on Ray: same stored calls as the local engine, a killed worker's calls retried,
and clear errors when Ray is missing or the cluster cannot be reached."""

from __future__ import annotations

import json
import re
import sys
import wave
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import REPO

from assistant import storage
from assistant.batch.ingest import IngestReport, ingest
from assistant.batch.ray_engine import CallWorker, RayOptions, ingest_ray, url_jobs
from assistant.batch.run import main

RECORDINGS = 20
NUMBER_WORD = re.compile(r"\b(zero|one|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)


def _slice(src: Path, dest: Path, start: float, seconds: float) -> None:
    with wave.open(str(src)) as r:
        rate = r.getframerate()
        r.setpos(int(start * rate))
        frames = r.readframes(int(seconds * rate))
        params = r.getparams()
    with wave.open(str(dest), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 stereo clips, each one whole turn of an English sample with a little silence around it.

    Clips end between words: a word cut in half makes Whisper fall back to sampling at a higher
    temperature, which gives different text on any two runs, local or not.
    """
    turns = [
        (REPO / "samples" / c["file"], t["start"], t["end"])
        for c in json.loads((REPO / "samples" / "calls.json").read_text())
        if c["language"] == "en"
        for t in c["turns"]
        # Spoken digit strings are left out for the same reason: tiny.en loops on them and resamples.
        if len(NUMBER_WORD.findall(t["text"])) < 3
    ]
    folder = tmp_path_factory.mktemp("recordings")
    for i in range(RECORDINGS):
        src, start, end = turns[i % len(turns)]
        pad = 0.2 + 0.15 * (i // len(turns))
        _slice(src, folder / f"clip-{i:02d}.wav", max(0.0, start - pad), end - start + 2 * pad)
    return folder


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs in this process, shared by the module's tests."""
    ray = pytest.importorskip("ray")
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def tiny_whisper(monkeypatch: pytest.MonkeyPatch) -> None:
    # One thread on both sides: the comparison then tests the engine, not float summation order.
    monkeypatch.setenv("ASSISTANT_WHISPER_MODEL", "tiny.en")
    monkeypatch.setenv("ASSISTANT_THREADS", "1")
    monkeypatch.setenv("ASSISTANT_BEAM_SIZE", "1")


def _texts(db: Path) -> dict[str, list[str]]:
    con = storage.open_db(db)
    try:
        out = {}
        for c in storage.list_calls(con, limit=1000):
            call = storage.get_call(con, c.call_id)
            assert call is not None
            out[c.call_id] = [u.text for u in call.utterances]
        return out
    finally:
        con.close()


@pytest.mark.models
def test_ray_ingest_survives_a_killed_worker_and_matches_local(
    recordings, ray_cluster, tiny_whisper, tmp_path, capsys
):
    ray = ray_cluster
    local = ingest(recordings, tmp_path / "local.duckdb")
    assert (local.stored, local.failed) == (RECORDINGS, 0)

    killed: list[int] = []
    messages: list[str] = []

    def kill_one(pool) -> None:
        if not killed and len([m for m in messages if m.endswith("stored")]) == 5:
            victim = pool.actors[0]
            killed.append(ray.get(victim.pid.remote()))
            ray.kill(victim, no_restart=False)

    db = tmp_path / "ray.duckdb"
    report = ingest_ray(
        recordings, db, options=RayOptions(workers=2), progress=messages.append, on_pool=kill_one
    )
    assert killed, "the test did not kill a worker"
    assert any("worker lost, retrying" in m for m in messages), messages
    assert (report.stored, report.failed, report.skipped) == (RECORDINGS, 0, 0)
    ray_texts = _texts(db)
    assert len(ray_texts) == RECORDINGS
    local_texts = _texts(tmp_path / "local.duckdb")
    assert ray_texts.keys() == local_texts.keys()
    # Each call is the same recording's transcript. Not always to the letter: since batch calls are
    # cut into turns (whole track with word times), 1-2 of 20 clips come back with a word or a turn
    # boundary changed between the two processes (seen in CI; the cause is not found yet, see the
    # closing note of 2026-11-29): an unclear clip of 14 words came back with 5 changed. Most must match
    # exactly, and none may be another recording's or an empty transcript (WER near 1).
    import jiwer

    same = sum(ray_texts[c] == local_texts[c] for c in local_texts)
    worst = max(jiwer.wer(" ".join(local_texts[c]), " ".join(ray_texts[c])) for c in local_texts)
    assert same >= RECORDINGS - 3 and worst <= 0.5, (same, worst, ray_texts, local_texts)
    assert any(t for texts in ray_texts.values() for t in texts)  # real speech was transcribed

    # A re-run through the CLI entry point skips every stored call.
    assert main([str(recordings), "--db", str(db), "--engine", "ray"]) == 0
    assert f"0 stored, {RECORDINGS} already stored, 0 failed" in capsys.readouterr().out


def test_a_bad_file_is_recorded_and_the_batch_goes_on(ray_cluster, tiny_whisper, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "broken.wav").write_bytes(b"not audio at all")
    (folder / "empty.wav").write_bytes(b"")
    lines = [
        '{"call_id": "chat-1", "started_at": "2026-11-21T14:03:00Z", "channel": "chat", '
        '"utterances": [{"speaker": "caller", "text": "Hello, thanks."}]}',
        "{not json",
    ]
    jsonl = tmp_path / "calls.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    db = tmp_path / "db.duckdb"
    report = ingest_ray(folder, db, options=RayOptions(workers=1))
    assert (report.stored, report.failed) == (0, 2)
    assert all("broken.wav" in src or "empty.wav" in src for src, _ in report.errors)
    report = ingest_ray(jsonl, db, options=RayOptions(workers=1))
    assert (report.stored, report.failed) == (1, 1)
    con = storage.open_db(db)
    try:
        assert len(storage.list_ingest_errors(con)) == 3
    finally:
        con.close()


def _one_job(tmp_path: Path) -> Path:
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "call.wav").write_bytes(b"RIFF")
    return folder


def test_without_ray_installed_the_message_names_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main([str(_one_job(tmp_path)), "--engine", "ray"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "pip install 'contact-assistant[ray]'" in err


def test_local_engine_needs_no_ray(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    jsonl = tmp_path / "calls.jsonl"
    jsonl.write_text("{not json\n")
    assert main([str(jsonl), "--engine", "local"]) == 1
    assert "0 stored" in capsys.readouterr().out


@pytest.mark.parametrize("address", ["ray://nowhere:10001", "ray://127.0.0.1:1"])
def test_unreachable_cluster_fails_fast_and_names_the_address(address, tmp_path, capsys):
    pytest.importorskip("ray")
    assert main([str(_one_job(tmp_path)), "--engine", "ray", "--address", address]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Ray cluster at {address}" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--engine", "ray", "--workers", "0"],
        ["--workers", "2"],
        ["--address", "auto"],
        ["--engine", "spark"],
        ["--engine", "ray", "--address", "ray://:10001"],
    ],
)
def test_bad_engine_options_exit_2(argv, tmp_path, capsys):
    pytest.importorskip("ray")
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main([str(_one_job(tmp_path)), *argv]))
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip()


def test_cli_forwards_engine_options(monkeypatch):
    from assistant import cli
    from assistant.batch import run

    seen: list[list[str]] = []
    monkeypatch.setattr(run, "main", lambda argv: seen.append(argv) or 0)
    assert cli.main(["ingest", "d", "--engine", "ray", "--address", "auto", "--workers", "3"]) == 0
    assert seen == [["d", "--engine", "ray", "--address", "auto", "--workers", "3"]]


# -- fsspec URLs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Record:
    call_id: str
    source: str
    audio: bytes


class _FakeProcessor:
    def process_file(self, path, call_id=None, started_at=None):
        return _Record(call_id, str(path), Path(path).read_bytes())


def test_urls_are_listed_and_read_through_fsspec(monkeypatch, tmp_path):
    import tempfile

    import fsspec

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the local copies go

    fs = fsspec.filesystem("memory")
    fs.pipe("/calls/a.wav", b"audio-a")
    fs.pipe("/calls/sub/b.flac", b"audio-b")
    fs.pipe("/calls/notes.txt", b"skip me")
    report = IngestReport()
    found = list(url_jobs("memory://calls", report))
    assert [(j.call_id, j.source) for j in found] == [
        ("a", "memory:///calls/a.wav"),
        ("b", "memory:///calls/sub/b.flac"),
    ]

    worker = CallWorker()
    worker.processor = _FakeProcessor()
    status, record = worker.process("a", "memory:///calls/a.wav", None)
    assert status == "ok"
    assert record == replace(record, call_id="a", source="memory:///calls/a.wav", audio=b"audio-a")

    status, message = worker.process("x", "memory:///calls/missing.wav", None)
    assert status == "error" and "memory:///calls/missing.wav" in message
    assert list(tmp_path.iterdir()) == []  # neither the read copy nor the failed one is left behind
    status, message = worker.process("y", "/no/such/dir/y.wav", None)
    assert status == "error" and "/no/such/dir/y.wav" in message and "shared file system" in message
