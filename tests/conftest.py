"""Shared test set-up: every test runs with its own ASSISTANT_HOME so nothing touches a real one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant import config

REPO = Path(__file__).resolve().parent.parent
# ASSISTANT_EVAL_DIR: the shared eval data when the checkout is not next to it (a git worktree).
EVAL_DIR = Path(os.environ.get("ASSISTANT_EVAL_DIR") or REPO.parent / "shared" / "eval")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Keep each phase's report on the test item (`item.rep_call`), so a fixture can tell in its
    teardown whether the test failed (the browser tests then save what the page showed)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ASSISTANT_HOME per test; the rebuilt Whisper cache is shared across the session."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(_session_model_cache(tmp_path_factory)))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    config.reset()
    yield home
    config.reset()


_MODEL_CACHE: Path | None = None


def _session_model_cache(factory: pytest.TempPathFactory) -> Path:
    global _MODEL_CACHE
    if _MODEL_CACHE is None:
        _MODEL_CACHE = factory.mktemp("model-cache")
    return _MODEL_CACHE


@pytest.fixture(scope="session")
def privacy_scan():  # noqa: ANN201 - the tests/privacy_scan.py module
    """The leak scanner (tests/privacy_scan.py): `scan_duckdb`, `scan_log`, `find_leaks`."""
    import privacy_scan as scanner

    return scanner


@pytest.fixture(scope="session")
def digit_calls() -> list[dict]:
    """The real-voice digit calls: [{"path", "secrets": {"card": ..., "ssn": ...}}] from gold.json."""
    import json

    folder = EVAL_DIR / "real-dev" / "digits"
    gold = folder / "gold.json"
    if not gold.is_file():
        pytest.skip(f"evaluation data not found at {folder} (set ASSISTANT_EVAL_DIR)")
    return [
        {"path": folder / g["file"], "secrets": {"card": g["card"], "ssn": g["ssn"]}}
        for g in json.loads(gold.read_text())
    ]
