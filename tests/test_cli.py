"""The `assistant` command: output contracts and bad input (one-line error, exit code 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from audio_util import tone
from conftest import EVAL_DIR

from assistant.cli import main
from assistant.speech import audio


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=600
    )


def assert_clean_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert pattern in lines[0], lines[0]


def test_import_is_light():
    code = (
        "import sys, assistant, assistant.cli, assistant.config; assistant.cli.build_parser();"
        "heavy = [m for m in ('torch', 'faiss', 'ctranslate2', 'faster_whisper', 'sentence_transformers',"
        " 'argostranslate', 'duckdb', 'whisper') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("transcribe", "models", "config"):
        assert command in out


def test_bad_inputs_give_one_line_errors(tmp_path):
    assert_clean_error(run_cli("transcribe", str(tmp_path / "missing.wav")), "no such file")
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    assert_clean_error(run_cli("transcribe", str(empty)), "empty")
    text = tmp_path / "notes.mp3"
    text.write_text("definitely not audio\n" * 100)
    assert_clean_error(run_cli("transcribe", str(text)), "notes.mp3")
    speech = EVAL_DIR / "jfk.flac"
    assert_clean_error(run_cli("transcribe", str(speech), "--model", "huge-v9"), "not installed locally")
    assert_clean_error(run_cli("transcribe", str(speech), "--engine", "kaldi"), "unknown engine")
    assert_clean_error(run_cli("transcribe", str(speech), "--task", "summarise"), "unknown task")


@pytest.mark.models
def test_transcribe_plain_and_json(tmp_path):
    proc = run_cli("transcribe", str(EVAL_DIR / "jfk.flac"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"language", "language_probability", "duration", "segments"}
    assert data["language"] == "en" and abs(data["duration"] - 11.0) < 0.1
    assert set(data["segments"][0]) == {"start", "end", "speaker", "text"}
    plain = run_cli("transcribe", str(EVAL_DIR / "jfk.flac"))
    assert plain.returncode == 0
    lines = [ln for ln in plain.stdout.splitlines() if not ln.startswith("#")]
    assert lines and lines[0].startswith("[00:00") and "] unknown: " in lines[0]


@pytest.mark.models
def test_audio_without_speech_exits_0_with_no_segments(tmp_path):
    path = tmp_path / "hold.wav"
    audio.write_wav(path, [tone(5.0, amp=0.0)])
    proc = run_cli("transcribe", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["segments"] == []


def test_corrupt_cached_model_is_rebuilt_by_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(tmp_path / "cache"))
    assert run_cli("models", "prepare").returncode == 0
    model = tmp_path / "cache" / "whisper-base" / "model.bin"
    with model.open("r+b") as fh:
        fh.truncate(1000)
    listed = run_cli("models")
    assert listed.returncode == 1 and "NOT READY" in listed.stdout
    assert run_cli("models", "prepare").returncode == 0
    assert run_cli("models").returncode == 0
