"""`assistant kb ...` through the real CLI entry point (fake embedder, tmp_path knowledge bases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import ARTICLES, FakeEmbedder

from assistant.cli import main
from assistant.knowledge.articles import write_article


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("assistant.knowledge.search.Embedder", FakeEmbedder)
    kb = tmp_path / "kb"
    kb.mkdir()
    for a in ARTICLES:
        write_article(kb, a)
    return kb


def test_build_prints_counts(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["kb", "build", "--kb-dir", str(kb), "--index-dir", str(tmp_path / "idx")]
    assert main(args) == 0
    assert "articles 3  added 3  changed 0  removed 0" in capsys.readouterr().out
    (kb / "report-pothole.md").unlink()
    assert main(args) == 0
    assert "articles 2  added 0  changed 0  removed 1" in capsys.readouterr().out


def test_search_json_builds_index_automatically(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idx = tmp_path / "idx"
    code = main(
        ["kb", "search", "pay my property tax", "--json", "--kb-dir", str(kb), "--index-dir", str(idx)]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is False and data["hits"][0]["id"] == "pay-property-tax"
    assert set(data["hits"][0]) == {
        "id", "title", "score", "passage", "language", "translation_of", "native_missing"
    }  # fmt: skip
    assert data["language"] == "en" and data["encoder"] == "english"
    assert (idx / "manifest.json").is_file()


def test_search_program_filter_and_k(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--kb-dir", str(kb), "--index-dir", str(tmp_path / "idx"), "--json"]
    assert main(["kb", "search", "pay", "-k", "1", "--program", "city", *base]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert [h["id"] for h in hits] == ["report-pothole"]


def test_queries_file_prints_one_json_line_each(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.txt"
    queries.write_text("renew driving licence\n\nweather forecast sunny\n", encoding="utf-8")
    code = main(
        [
            "kb",
            "search",
            "--queries-file",
            str(queries),
            "--kb-dir",
            str(kb),
            "--index-dir",
            str(tmp_path / "i"),
        ]
    )
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["query"] for r in lines] == ["renew driving licence", "weather forecast sunny"]
    assert lines[0]["hits"][0]["id"] == "renew-licence" and not lines[0]["abstained"]
    assert lines[1]["abstained"] is True
    assert {"query", "abstained", "hits"} <= set(lines[0])


def test_queries_file_not_utf8_is_clear_error(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.txt"
    queries.write_bytes(b"caf\xe9\n")
    assert main(["kb", "search", "--queries-file", str(queries), "--kb-dir", str(kb)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_empty_query_exits_2(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "search", "  ", "--kb-dir", str(kb), "--index-dir", str(tmp_path / "idx")]) == 2
    assert capsys.readouterr().err.startswith("error: empty query")


def test_search_missing_kb_dir_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr("assistant.knowledge.search.Embedder", FakeEmbedder)
    assert main(["kb", "search", "x", "--kb-dir", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_lint_exit_codes(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "lint", "--kb-dir", str(kb)]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out
    (kb / "bad.md").write_text("---\nid: bad\ntitle: Bad\neffective: 2025-02-30\n---\n")
    assert main(["kb", "lint", "--kb-dir", str(kb)]) == 1
    out = capsys.readouterr().out
    assert "bad.md: effective:" in out and "1 error(s)" in out


def test_eval_missing_data_is_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr("assistant.knowledge.search.Embedder", FakeEmbedder)
    assert main(["kb", "eval", "--dataset", "banking77", "--data-dir", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_eval_on_a_tiny_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setattr("assistant.knowledge.search.Embedder", FakeEmbedder)
    rows = ["text,category"] + [f"pay my tax bill {i},pay_tax" for i in range(3)]
    rows += [f"report a pothole street {i},report_pothole" for i in range(3)]
    (tmp_path / "banking77_train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "banking77_test.csv").write_text(
        "text,category\npay tax,pay_tax\npothole street,report_pothole\n"
    )
    assert main(["kb", "eval", "--dataset", "banking77", "--data-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 2 and report["top1"] == 1.0 and report["queries"] == 2


def test_search_says_when_the_callers_language_has_no_approved_version(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idx = tmp_path / "idx"
    query = "¿Cómo puedo pagar el impuesto sobre la propiedad de mi casa este año?"
    code = main(["kb", "search", query, "-k", "1", "--kb-dir", str(kb), "--index-dir", str(idx)])
    out = capsys.readouterr().out
    assert code == 0
    assert "no approved Spanish version: the English one" in out
    data_code = main(["kb", "search", query, "--json", "--kb-dir", str(kb), "--index-dir", str(idx)])
    data = json.loads(capsys.readouterr().out)
    assert data_code == 0 and data["language"] == "es"
    assert all(h["native_missing"] for h in data["hits"])
