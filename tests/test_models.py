"""Offline model resolution: Whisper base rebuilt from its packages, verified, repaired."""

from __future__ import annotations

import os

import pytest

from assistant import config
from assistant.errors import ModelNotAvailable
from assistant.models import files as models


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(tmp_path / "cache"))
    config.reset()
    return tmp_path / "cache"


def test_base_is_rebuilt_verified_and_reused(private_cache):
    path = models.prepare_base()
    assert path == private_cache / "whisper-base"
    assert models._sha256(path / "model.bin") == models.BASE_MODEL_SHA256
    for name in models.BASE_SIDE_FILES:
        assert (path / name).is_file()
    mtime = (path / "model.bin").stat().st_mtime_ns
    assert models.prepare_base() == path
    assert (path / "model.bin").stat().st_mtime_ns == mtime  # not rebuilt when intact
    assert not [p for p in path.iterdir() if p.name.startswith(".model.bin.")]  # no temp left behind


def test_corrupt_or_truncated_base_is_rebuilt(private_cache):
    path = models.prepare_base()
    model = path / "model.bin"
    with model.open("r+b") as fh:  # flip bytes in the middle, keep the size
        fh.seek(1000)
        fh.write(b"\x00\xff" * 16)
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns))
    (path / ".verified").unlink()
    assert models._sha256(models.prepare_base() / "model.bin") == models.BASE_MODEL_SHA256
    with model.open("r+b") as fh:  # truncated: a killed copy
        fh.truncate(1234)
    assert models._sha256(models.prepare_base() / "model.bin") == models.BASE_MODEL_SHA256


def test_status_lists_every_known_model(private_cache):
    before = {s.name: s for s in models.status()}
    assert set(before) == {"base", "tiny.en", "all-MiniLM-L6-v2"}
    assert not before["base"].ready and "prepare" in before["base"].detail
    models.prepare_base()
    after = {s.name: s for s in models.status()}
    assert all(s.ready for s in after.values())


def test_resolution_of_names_paths_and_unknown_models(tmp_path, monkeypatch):
    assert (models.tiny_en_dir() / "model.bin").is_file()
    assert models.resolve_whisper("tiny.en") == str(models.tiny_en_dir())
    assert models.resolve_whisper(str(models.tiny_en_dir())) == str(models.tiny_en_dir())
    with pytest.raises(ModelNotAvailable, match="not installed locally"):
        models.resolve_whisper("large-v3")
    with pytest.raises(ModelNotAvailable, match="no model.bin"):
        models.resolve_whisper(str(tmp_path))
    assert models.resolve_embedding().endswith("model")
    monkeypatch.setenv("ASSISTANT_ALLOW_NETWORK", "1")
    config.reset()
    assert models.resolve_whisper("large-v3") == "large-v3"
